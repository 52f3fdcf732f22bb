package service

import (
	"net/mail"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Agency is an organisation that takes part in strategy discussions.
type Agency string

// Agencies lists every agency the directory knows.
var Agencies = []Agency{
	"social_care", "police", "health", "education", "probation", "housing",
	"legal", "lado", "midwifery", "fostering", "residential", "interpreting", "other",
}

// Valid reports whether a is one of Agencies.
func (a Agency) Valid() bool { return slices.Contains(Agencies, a) }

// Person is an entry in the directory: someone who may be invited, chair, or
// book discussions.
type Person struct {
	ID     string `json:"id"`
	Name   string `json:"name"`
	Email  string `json:"email"`
	Agency Agency `json:"agency"`
	// Role is the person's job, matched against requirements' roles
	// (for example "social_worker", "team_manager", "police_officer").
	Role string `json:"role"`
	// Seniority is the person's level on their agency's ordered scale, as
	// the procedure profile defines it (1 is the most junior).
	Seniority      int             `json:"seniority"`
	SeniorityLabel string          `json:"seniority_label,omitempty"`
	Chair          bool            `json:"chair"`
	WorkingHours   WorkingHours    `json:"working_hours"`
	TimeZone       string          `json:"time_zone"`
	Calendar       *CalendarSource `json:"calendar,omitempty"`
	Active         bool            `json:"active"`
	Version        int64           `json:"version"`
	CreatedAt      time.Time       `json:"created_at"`
	UpdatedAt      time.Time       `json:"updated_at"`
}

// WorkingHours are the days and local hours a person normally works.
type WorkingHours struct {
	Days  []string `json:"days"`  // "mon" … "sun"
	Start string   `json:"start"` // "09:00"
	End   string   `json:"end"`   // "17:00"
}

// DefaultWorkingHours is Monday to Friday, 09:00 to 17:00.
func DefaultWorkingHours() WorkingHours {
	return WorkingHours{Days: []string{"mon", "tue", "wed", "thu", "fri"}, Start: "09:00", End: "17:00"}
}

// CalendarSource says where a person's busy time is read from. The
// credential itself never enters the directory: CredentialRef names where the
// service finds it (an environment variable or a file), and the API never
// returns even the reference.
type CalendarSource struct {
	Type          string `json:"type"` // "caldav" or "ics"
	URL           string `json:"url"`
	CredentialRef string `json:"credential_ref,omitempty"`
}

var (
	hhmm     = regexp.MustCompile(`^([01][0-9]|2[0-3]):[0-5][0-9]$`)
	weekdays = []string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}
	credRef  = regexp.MustCompile(`^(env:[A-Za-z_][A-Za-z0-9_]*|file:/[^\x00]+)$`)
)

// Normalize trims and lower-cases what should be compared case-blind and
// fills defaults.
func (p *Person) Normalize() {
	p.Name = strings.TrimSpace(p.Name)
	p.Email = strings.ToLower(strings.TrimSpace(p.Email))
	p.Role = strings.TrimSpace(p.Role)
	if p.TimeZone == "" {
		p.TimeZone = "Europe/London"
	}
	if len(p.WorkingHours.Days) == 0 && p.WorkingHours.Start == "" && p.WorkingHours.End == "" {
		p.WorkingHours = DefaultWorkingHours()
	}
	for i, d := range p.WorkingHours.Days {
		p.WorkingHours.Days[i] = strings.ToLower(d)
	}
}

// Validate checks a person as written by an administrator.
func (p *Person) Validate() error {
	var f Fields
	if p.Name == "" {
		f.Add("name", "is required")
	} else if len(p.Name) > 200 {
		f.Add("name", "must be at most 200 characters")
	}
	if a, err := mail.ParseAddress(p.Email); err != nil || a.Address != p.Email || a.Name != "" {
		f.Add("email", "must be a plain email address such as name@example.org")
	}
	if !p.Agency.Valid() {
		f.Add("agency", "must be one of %v", Agencies)
	}
	if p.Role == "" {
		f.Add("role", "is required")
	} else if len(p.Role) > 100 {
		f.Add("role", "must be at most 100 characters")
	}
	if p.Seniority < 1 || p.Seniority > 20 {
		f.Add("seniority", "must be a level from 1 to 20")
	}
	p.WorkingHours.validate(&f, "working_hours")
	if _, err := time.LoadLocation(p.TimeZone); err != nil || p.TimeZone == "Local" {
		f.Add("time_zone", "must be an IANA time zone such as Europe/London")
	}
	if c := p.Calendar; c != nil {
		c.validate(&f, "calendar")
	}
	return f.Err("the person is not valid")
}

func (w WorkingHours) validate(f *Fields, field string) {
	if len(w.Days) == 0 {
		f.Add(field+".days", "must list at least one day")
	}
	for i, d := range w.Days {
		if !slices.Contains(weekdays, d) {
			f.Add(field+".days["+strconv.Itoa(i)+"]", "must be one of %v", weekdays)
		}
	}
	if !hhmm.MatchString(w.Start) {
		f.Add(field+".start", "must be a time of day such as 09:00")
	}
	if !hhmm.MatchString(w.End) {
		f.Add(field+".end", "must be a time of day such as 17:00")
	}
	if hhmm.MatchString(w.Start) && hhmm.MatchString(w.End) && w.Start >= w.End {
		f.Add(field+".end", "must be after start")
	}
}

func (c *CalendarSource) validate(f *Fields, field string) {
	switch c.Type {
	case "caldav", "ics":
	default:
		f.Add(field+".type", `must be "caldav" or "ics"`)
	}
	u, err := url.Parse(c.URL)
	okScheme := err == nil && (u.Scheme == "https" || u.Scheme == "http" || (c.Type == "ics" && u.Scheme == "webcal"))
	if !okScheme || u.Host == "" || u.User != nil {
		f.Add(field+".url", "must be an absolute http(s) URL (webcal for ICS feeds) with no credentials in it")
	}
	if c.CredentialRef != "" && !credRef.MatchString(c.CredentialRef) {
		f.Add(field+".credential_ref", `must be "env:NAME" or "file:/path"`)
	}
}

// Weekdays returns the working days as time.Weekday values.
func (w WorkingHours) Weekdays() []time.Weekday {
	var out []time.Weekday
	for _, d := range w.Days {
		if i := slices.Index(weekdays, d); i >= 0 {
			out = append(out, time.Weekday(i))
		}
	}
	return out
}

// PersonFilter selects people from the directory.
type PersonFilter struct {
	Agency Agency
	Chair  *bool
	Email  string
	After  string // the last id of the previous page
	Limit  int
}
