package service

import (
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/convene/convene/calendar"
	"github.com/convene/convene/invites"
	"github.com/convene/convene/service/policy"
)

// Agency is an organisation that takes part in strategy discussions: the
// procedure profile's agencies, so the directory and the rules agree.
type Agency = policy.Agency

// Agencies lists every agency the directory knows.
var Agencies = policy.Agencies

// ValidAgency reports whether a is one of Agencies.
func ValidAgency(a Agency) bool { return slices.Contains(Agencies, a) }

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
	Seniority      int    `json:"seniority"`
	SeniorityLabel string `json:"seniority_label,omitempty"`
	Chair          bool   `json:"chair"`
	// Expertise lists areas of expertise (a form of abuse, such as
	// "fabricated or induced illness"): the specialist requirement is met
	// only by someone who has the one it names.
	Expertise []string `json:"expertise,omitempty"`
	// Assistants are the addresses that may answer invitations for this
	// person (iCalendar SENT-BY): nobody else's SENT-BY counts.
	Assistants   []string              `json:"assistants,omitempty"`
	WorkingHours calendar.WorkingHours `json:"working_hours"`
	TimeZone     string                `json:"time_zone"`
	Calendar     *CalendarSource       `json:"calendar,omitempty"`
	Active       bool                  `json:"active"`
	Version      int64                 `json:"version"`
	CreatedAt    time.Time             `json:"created_at"`
	UpdatedAt    time.Time             `json:"updated_at"`
}

// CalendarSource says where a person's busy time is read from. The
// credential itself never enters the directory: CredentialRef names where the
// service finds it (an environment variable or a file), and the API never
// returns even the reference.
type CalendarSource struct {
	Type          string `json:"type"` // "caldav" or "ics"
	URL           string `json:"url"`
	CredentialRef string `json:"credential_ref,omitempty"`
	// CredentialOrigin is the origin (scheme://host:port) of the URL the
	// credential was configured with: the credential is only ever sent
	// there, so changing the URL later cannot send it elsewhere.
	CredentialOrigin string `json:"credential_origin,omitempty"`
}

// bindCredential ties the credential reference to the URL's origin, as
// configured now by an administrator.
func (c *CalendarSource) bindCredential() {
	if c.CredentialRef == "" {
		c.CredentialOrigin = ""
		return
	}
	if u, err := url.Parse(c.URL); err == nil && u.Host != "" {
		c.CredentialOrigin = u.Scheme + "://" + u.Host
	}
}

// credentialEnv is the prefix every env: credential reference must have,
// so that a reference can never name another of the service's own secrets.
const credentialEnv = "CONVENE_CRED_"

var credEnvName = regexp.MustCompile(`^` + credentialEnv + `[A-Z0-9_]+$`)

// Normalize trims and lower-cases what should be compared case-blind and
// fills defaults.
func (p *Person) Normalize() {
	p.Name = strings.TrimSpace(p.Name)
	p.Email = strings.ToLower(strings.TrimSpace(p.Email))
	p.Role = strings.TrimSpace(p.Role)
	for i := range p.Assistants {
		p.Assistants[i] = strings.ToLower(strings.TrimSpace(p.Assistants[i]))
	}
	for i := range p.Expertise {
		p.Expertise[i] = strings.TrimSpace(p.Expertise[i])
	}
	if p.TimeZone == "" {
		p.TimeZone = "Europe/London"
	}
	if len(p.WorkingHours.Days) == 0 && p.WorkingHours.Start == 0 && p.WorkingHours.End == 0 {
		p.WorkingHours = calendar.DefaultWorkingHours
		p.WorkingHours.Days = slices.Clone(p.WorkingHours.Days)
	}
}

// Validate checks a person as written by an administrator. credentialsDir
// is where file: credential references must point.
func (p *Person) Validate(credentialsDir string) error {
	var f Fields
	if p.Name == "" {
		f.Add("name", "is required")
	} else if len(p.Name) > 200 {
		f.Add("name", "must be at most 200 characters")
	}
	if a, err := invites.ValidAddress(p.Email); err != nil || a != p.Email {
		f.Add("email", "must be a plain email address such as name@example.org")
	}
	if len(p.Assistants) > 10 {
		f.Add("assistants", "at most 10")
	}
	for i, as := range p.Assistants {
		if a, err := invites.ValidAddress(as); err != nil || a != as {
			f.Add("assistants["+itoa(i)+"]", "must be a plain email address such as name@example.org")
		} else if as == p.Email {
			f.Add("assistants["+itoa(i)+"]", "is the person's own address")
		}
	}
	if len(p.Expertise) > 20 {
		f.Add("expertise", "at most 20 areas")
	}
	for i, e := range p.Expertise {
		if e == "" || len(e) > 100 {
			f.Add("expertise["+itoa(i)+"]", "must be 1 to 100 characters")
		}
	}
	if !ValidAgency(p.Agency) {
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
	validateWorkingHours(p.WorkingHours, &f, "working_hours")
	if _, err := time.LoadLocation(p.TimeZone); err != nil || p.TimeZone == "Local" {
		f.Add("time_zone", "must be an IANA time zone such as Europe/London")
	}
	if c := p.Calendar; c != nil {
		c.validate(&f, "calendar", credentialsDir)
		c.bindCredential()
	}
	return f.Err("the person is not valid")
}

func validateWorkingHours(w calendar.WorkingHours, f *Fields, field string) {
	if len(w.Days) == 0 {
		f.Add(field+".days", "must list at least one day")
	}
	if w.End <= w.Start {
		f.Add(field+".end", "must be after start")
	}
}

func (c *CalendarSource) validate(f *Fields, field, credentialsDir string) {
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
	if c.CredentialRef != "" {
		if err := CheckCredentialRef(c.CredentialRef, credentialsDir); err != nil {
			f.Add(field+".credential_ref", "%s", err.Error())
		}
	}
}

// CheckCredentialRef says whether a credential reference is one the service
// will resolve: "env:CONVENE_CRED_NAME", or "file:/path" inside dir (with
// no dir, file references are refused). Confining references matters: a
// reference naming any variable or file would let whoever writes a calendar
// source send the service's own secrets to a server of their choosing.
func CheckCredentialRef(ref, dir string) error {
	kind, name, _ := strings.Cut(ref, ":")
	switch kind {
	case "env":
		if !credEnvName.MatchString(name) {
			return fmt.Errorf("must name an environment variable starting %s (upper case)", credentialEnv)
		}
		return nil
	case "file":
		if !filepath.IsAbs(name) || filepath.Clean(name) != name {
			return errors.New("must be an absolute, clean path")
		}
		if dir == "" || !strings.HasPrefix(name, filepath.Clean(dir)+string(filepath.Separator)) {
			// The directory itself is not named: an error message must not
			// tell a client where the service keeps its secrets.
			return errors.New("must be a file in the service's credentials directory")
		}
		return nil
	}
	return fmt.Errorf(`must be "env:%sNAME" or "file:/path"`, credentialEnv)
}

// PersonFilter selects people from the directory.
type PersonFilter struct {
	Agency Agency
	Chair  *bool
	Email  string
	After  string // the last id of the previous page
	Limit  int
}
