package web

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"path"
	"strings"
	"time"

	"github.com/convene/convene/service"
)

//go:embed templates/*.html
var templateFiles embed.FS

// Page is what every template gets. Handlers fill Title and Data (and
// Errors and Form when a form is refused); render fills the rest.
type Page struct {
	// Title is the page's h1 and, with the service name, its <title>.
	Title string
	// Principal is who is signed in, or nil.
	Principal *service.Principal
	// Partner is set for a partner's session (signed in by a one-time
	// code for one discussion): the header offers no staff navigation.
	Partner bool
	// CSRF is the token every form carries ({{template "csrf" .}}).
	CSRF string
	// Errors are shown in the error summary at the top of the page and
	// beside their fields; Form is what was submitted, so nothing typed is
	// lost when a form is refused.
	Errors []FieldError
	Form   url.Values
	// Banner is a notification banner's message (a success, after a
	// change: "Your answer is recorded").
	Banner string
	// Back is the back link's target, if any.
	Back string
	// Nav is the path of the current section, for the header.
	Nav string
	// Data is the page's own content.
	Data any
}

// FieldError is a message for the error summary, linked to the field (the
// input's id) it is about.
type FieldError struct {
	Field   string
	Message string
}

// Error returns the message for a field, or "", for the inline error.
func (p *Page) Error(field string) string {
	for _, e := range p.Errors {
		if e.Field == field {
			return e.Message
		}
	}
	return ""
}

// Value returns the submitted value of a field, or "".
func (p *Page) Value(field string) string { return p.Form.Get(field) }

// Values returns the submitted values of a field (checkboxes).
func (p *Page) Values(field string) []string { return p.Form[field] }

// Checked reports whether value was submitted for field.
func (p *Page) Checked(field, value string) bool {
	for _, v := range p.Form[field] {
		if v == value {
			return true
		}
	}
	return false
}

// pages holds one template set per page: the shared layout and partials
// (files named layout*.html or _*.html) with the page's own file, which
// defines "content".
type pages struct {
	sets map[string]*template.Template
}

func loadPages(zone *time.Location) (*pages, error) {
	funcs := templateFuncs(zone)
	names, err := fs.Glob(templateFiles, "templates/*.html")
	if err != nil {
		return nil, err
	}
	var shared, own []string
	for _, n := range names {
		b := path.Base(n)
		if strings.HasPrefix(b, "layout") || strings.HasPrefix(b, "_") {
			shared = append(shared, n)
		} else {
			own = append(own, n)
		}
	}
	base, err := template.New("layout.html").Funcs(funcs).ParseFS(templateFiles, shared...)
	if err != nil {
		return nil, fmt.Errorf("web templates: %w", err)
	}
	p := &pages{sets: map[string]*template.Template{}}
	for _, n := range own {
		t, err := template.Must(base.Clone()).ParseFS(templateFiles, n)
		if err != nil {
			return nil, fmt.Errorf("web templates: %w", err)
		}
		p.sets[path.Base(n)] = t
	}
	return p, nil
}

// render writes the page (a file in templates/, such as "today.html") in
// the layout. The page is rendered into a buffer first, so a template
// error is a clean 500, never half a page.
func (s *Server) render(w http.ResponseWriter, r *http.Request, status int, name string, p *Page) error {
	t := s.pages.sets[name]
	if t == nil {
		return fmt.Errorf("web: no template %q", name)
	}
	if sess := sessionFrom(r.Context()); sess != nil {
		if sess.Confirmed {
			p.Principal = &sess.Principal
			p.Partner = sess.Partner
		}
		p.CSRF = sess.CSRF
	} else if p.CSRF == "" {
		p.CSRF = s.anonCSRF(w, r)
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout.html", p); err != nil {
		return fmt.Errorf("web: render %s: %w", name, err)
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, err := buf.WriteTo(w)
	return err
}

// refuse re-renders a form with its errors and what was typed (422).
func (s *Server) refuse(w http.ResponseWriter, r *http.Request, name string, p *Page, err error) error {
	p.Errors = append(p.Errors, fieldErrors(err)...)
	if p.Form == nil {
		p.Form = r.PostForm
	}
	return s.render(w, r, http.StatusUnprocessableEntity, name, p)
}

// fieldErrors turns a domain error into the error summary's entries; the
// fields the domain names (JSON names such as "referral_received_at" or
// "invitees[0].email") are the form's field ids with dots and brackets
// made dashes.
func fieldErrors(err error) []FieldError {
	var out []FieldError
	var se *service.Error
	if errors.As(err, &se) {
		for _, f := range se.Fields {
			out = append(out, FieldError{Field: fieldID(f.Field), Message: sentence(f.Message)})
		}
	}
	if len(out) == 0 {
		out = append(out, FieldError{Message: sentence(service.ErrorMessage(err))})
	}
	return out
}

// fieldID makes a domain field name an HTML id: "a.b[0]" → "a-b-0".
func fieldID(f string) string {
	r := strings.NewReplacer(".", "-", "[", "-", "]", "", "_", "-")
	return r.Replace(f)
}

// sentence capitalises a message and ends it with a full stop.
func sentence(s string) string {
	s = strings.TrimSpace(s)
	if s == "" {
		return s
	}
	s = strings.ToUpper(s[:1]) + s[1:]
	if !strings.HasSuffix(s, ".") && !strings.HasSuffix(s, "?") {
		s += "."
	}
	return s
}

// templateFuncs are the helpers every template has: dates and times as
// people say them, in UK time with the zone named, and codes in words.
func templateFuncs(zone *time.Location) template.FuncMap {
	return template.FuncMap{
		"when":      func(t time.Time) string { return When(t, zone) },
		"whenRange": func(a, b time.Time) string { return WhenRange(a, b, zone) },
		"day":       func(t time.Time) string { return Day(t, zone) },
		"clock":     func(t time.Time) string { return Clock(t, zone) },
		"zoneName":  func(t time.Time) string { return ZoneName(t, zone) },
		"timeLeft":  TimeLeft,
		"words":     Words,
		"isoDate":   func(t time.Time) string { return t.In(zone).Format("2006-01-02") },
		"fieldID":   fieldID,
		"fieldErr":  func(p *Page, field string) FieldError { return FieldError{Field: field, Message: p.Error(field)} },
		"deref": func(t *time.Time) time.Time {
			if t == nil {
				return time.Time{}
			}
			return *t
		},
	}
}

// When is a time as people say it: "Tuesday 1 December, 10:00", with the
// year when it is not this year's.
func When(t time.Time, zone *time.Location) string {
	if t.IsZero() {
		return ""
	}
	return Day(t, zone) + ", " + Clock(t, zone)
}

// Day is a date as people say it: "Tuesday 1 December" (and the year when
// it is not this year's).
func Day(t time.Time, zone *time.Location) string {
	if t.IsZero() {
		return ""
	}
	t = t.In(zone)
	if t.Year() != time.Now().In(zone).Year() {
		return t.Format("Monday 2 January 2006")
	}
	return t.Format("Monday 2 January")
}

// Clock is a time of day, 24-hour: "10:00".
func Clock(t time.Time, zone *time.Location) string { return t.In(zone).Format("15:04") }

// ZoneName names the zone: "UK time (GMT)" or "UK time (BST)" for
// Europe/London, else the zone's abbreviation.
func ZoneName(t time.Time, zone *time.Location) string {
	abbr, _ := t.In(zone).Zone()
	if zone.String() == "Europe/London" {
		return "UK time (" + abbr + ")"
	}
	return abbr
}

// WhenRange is a meeting's time: "Tuesday 1 December, 10:00 to 11:00 UK
// time (GMT)".
func WhenRange(a, b time.Time, zone *time.Location) string {
	if a.IsZero() {
		return ""
	}
	s := When(a, zone)
	if !b.IsZero() {
		if Day(a, zone) == Day(b, zone) {
			s += " to " + Clock(b, zone)
		} else {
			s += " to " + When(b, zone)
		}
	}
	return s + " " + ZoneName(a, zone)
}

// TimeLeft says how long until a time, in words: "2 hours 5 minutes",
// "3 days", or "overdue by 20 minutes".
func TimeLeft(until, now time.Time) string {
	d := until.Sub(now)
	prefix := ""
	if d < 0 {
		prefix, d = "overdue by ", -d
	}
	plural := func(n int, unit string) string {
		if n == 1 {
			return "1 " + unit
		}
		return fmt.Sprintf("%d %ss", n, unit)
	}
	switch {
	case d >= 48*time.Hour:
		return prefix + plural(int(d/(24*time.Hour)), "day")
	case d >= time.Hour:
		h, m := int(d/time.Hour), int(d%time.Hour/time.Minute)
		if m == 0 {
			return prefix + plural(h, "hour")
		}
		return prefix + plural(h, "hour") + " " + plural(m, "minute")
	default:
		return prefix + plural(int(d/time.Minute), "minute")
	}
}

// Words says an enum code in words: "in_progress" → "In progress".
// Codes with a better phrase are in phrases.
func Words(code any) string {
	s := fmt.Sprint(code)
	if p, ok := phrases[s]; ok {
		return p
	}
	s = strings.ReplaceAll(s, "_", " ")
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// phrases are codes whose words are not just the code spaced out.
var phrases = map[string]string{
	"needs_action":                 "Not answered yet",
	"agency_rep":                   "Agency representative",
	"accepted":                     "Accepted",
	"declined":                     "Declined",
	"tentative":                    "Tentatively accepted",
	"delegated":                    "Delegated",
	"social_care":                  "Children's social care",
	"lado":                         "Local authority designated officer (LADO)",
	"designated_safeguarding_lead": "Designated safeguarding lead",
	"rag":                          "RAG rating",
	"red":                          "Red",
	"amber":                        "Amber",
	"green":                        "Green",
}
