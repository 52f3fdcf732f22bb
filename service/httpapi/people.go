package httpapi

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/convene/convene/calendar"
	"github.com/convene/convene/service"
)

// personInput is the body of POST and PUT /v1/people.
type personInput struct {
	Name         string                  `json:"name"`
	Email        string                  `json:"email"`
	Agency       service.Agency          `json:"agency"`
	Role         string                  `json:"role"`
	Seniority    int                     `json:"seniority"`
	Chair        bool                    `json:"chair"`
	Expertise    []string                `json:"expertise"`
	Assistants   []string                `json:"assistants"`
	WorkingHours json.RawMessage         `json:"working_hours"`
	TimeZone     string                  `json:"time_zone"`
	Calendar     *service.CalendarSource `json:"calendar"`
	Active       *bool                   `json:"active"`
	Version      int64                   `json:"version"`
}

func (in *personInput) person() (service.Person, error) {
	p := service.Person{
		Name: in.Name, Email: in.Email, Agency: in.Agency, Role: in.Role, Seniority: in.Seniority,
		Chair: in.Chair, Expertise: in.Expertise, Assistants: in.Assistants, TimeZone: in.TimeZone, Calendar: in.Calendar,
		Active: true, Version: in.Version,
	}
	if len(in.WorkingHours) > 0 {
		wh, err := workingHours(in.WorkingHours, "working_hours")
		if err != nil {
			return p, err
		}
		p.WorkingHours = wh
	}
	if in.Active != nil {
		p.Active = *in.Active
	}
	return p, nil
}

// workingHours reads working hours, naming the field when they are wrong
// (end before start, an unknown day).
func workingHours(raw json.RawMessage, field string) (calendar.WorkingHours, error) {
	var wh calendar.WorkingHours
	if err := json.Unmarshal(raw, &wh); err != nil {
		return wh, service.Invalid("the request is not valid",
			service.FieldError{Field: field, Message: strings.TrimPrefix(err.Error(), "calendar: ")})
	}
	return wh, nil
}

// personView is a person as the API shows it: never the credential
// reference, only whether one is configured.
type personView struct {
	ID             string                `json:"id"`
	Name           string                `json:"name"`
	Email          string                `json:"email"`
	Agency         service.Agency        `json:"agency"`
	Role           string                `json:"role"`
	Seniority      int                   `json:"seniority"`
	SeniorityLabel string                `json:"seniority_label,omitempty"`
	Chair          bool                  `json:"chair"`
	Expertise      []string              `json:"expertise"`
	Assistants     []string              `json:"assistants"`
	WorkingHours   calendar.WorkingHours `json:"working_hours"`
	TimeZone       string                `json:"time_zone"`
	Calendar       *calendarView         `json:"calendar,omitempty"`
	Active         bool                  `json:"active"`
	Version        int64                 `json:"version"`
	CreatedAt      time.Time             `json:"created_at"`
	UpdatedAt      time.Time             `json:"updated_at"`
}

type calendarView struct {
	Type                 string `json:"type"`
	URL                  string `json:"url"`
	CredentialConfigured bool   `json:"credential_configured"`
}

func viewPerson(p *service.Person) personView {
	v := personView{
		ID: p.ID, Name: p.Name, Email: p.Email, Agency: p.Agency, Role: p.Role,
		Seniority: p.Seniority, SeniorityLabel: p.SeniorityLabel, Chair: p.Chair,
		Expertise: orEmpty(p.Expertise), Assistants: orEmpty(p.Assistants), WorkingHours: p.WorkingHours, TimeZone: p.TimeZone, Active: p.Active,
		Version: p.Version, CreatedAt: p.CreatedAt, UpdatedAt: p.UpdatedAt,
	}
	if c := p.Calendar; c != nil {
		v.Calendar = &calendarView{Type: c.Type, URL: c.URL, CredentialConfigured: c.CredentialRef != ""}
	}
	return v
}

func etag(version int64) string { return `"` + strconv.FormatInt(version, 10) + `"` }

func (s *Server) listPeople(c echo.Context) error {
	f := service.PersonFilter{
		Agency: service.Agency(c.QueryParam("agency")),
		Email:  c.QueryParam("email"),
		After:  c.QueryParam("after"),
		Limit:  queryInt(c, "limit"),
	}
	if v := c.QueryParam("chair"); v != "" {
		b := v == "true"
		f.Chair = &b
	}
	people, err := s.app.People(c.Request().Context(), f)
	if err != nil {
		return err
	}
	page := struct {
		Items []personView `json:"items"`
		Next  string       `json:"next,omitempty"`
	}{Items: make([]personView, len(people))}
	for i := range people {
		page.Items[i] = viewPerson(&people[i])
	}
	if n := len(people); n > 0 && n == effectiveLimit(f.Limit) {
		page.Next = people[n-1].ID
	}
	return c.JSON(http.StatusOK, page)
}

func (s *Server) createPerson(c echo.Context) error {
	var in personInput
	if err := decode(c, &in); err != nil {
		return err
	}
	person, err := in.person()
	if err != nil {
		return err
	}
	p, err := s.app.CreatePerson(c.Request().Context(), person)
	if err != nil {
		return err
	}
	c.Response().Header().Set("Location", "/v1/people/"+p.ID)
	c.Response().Header().Set("ETag", etag(p.Version))
	return c.JSON(http.StatusCreated, viewPerson(p))
}

func (s *Server) getPerson(c echo.Context) error {
	p, err := s.app.Person(c.Request().Context(), c.Param("id"))
	if err != nil {
		return err
	}
	c.Response().Header().Set("ETag", etag(p.Version))
	return c.JSON(http.StatusOK, viewPerson(p))
}

func (s *Server) updatePerson(c echo.Context) error {
	var in personInput
	if err := decode(c, &in); err != nil {
		return err
	}
	person, err := in.person()
	if err != nil {
		return err
	}
	p, err := s.app.UpdatePerson(c.Request().Context(), c.Param("id"), person)
	if err != nil {
		return err
	}
	c.Response().Header().Set("ETag", etag(p.Version))
	return c.JSON(http.StatusOK, viewPerson(p))
}

func (s *Server) listAudit(c echo.Context) error {
	f := service.AuditFilter{Resource: c.QueryParam("resource"), Actor: c.QueryParam("actor"),
		Before: c.QueryParam("before"), Limit: queryInt(c, "limit")}
	entries, err := s.app.ListAudit(c.Request().Context(), f)
	if err != nil {
		return err
	}
	page := struct {
		Items []service.AuditEntry `json:"items"`
		Next  string               `json:"next,omitempty"`
	}{Items: entries}
	if n := len(entries); n > 0 && n == effectiveLimit(f.Limit) {
		page.Next = entries[n-1].ID
	}
	return c.JSON(http.StatusOK, page)
}

// queryInt reads an integer query parameter the contract has already
// checked; absent is 0.
func queryInt(c echo.Context, name string) int {
	n, _ := strconv.Atoi(c.QueryParam(name))
	return n
}

// effectiveLimit mirrors the domain's page size, to know when to offer a
// next page.
func effectiveLimit(n int) int { return service.PageLimit(n) }
