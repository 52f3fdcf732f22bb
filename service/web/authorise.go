package web

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/convene/convene/service"
	"github.com/convene/convene/service/policy"
)

// Agreeing the outcome (000 §6): each participant authorises an outcome
// themselves, signed in as who they are, never typed in by someone else.
// The chair's own authorisation is given by recording the outcome; "no
// further action" also needs the police officer in charge, who gives it
// here. The App decides who may (anyone taking part) and which
// authorisations an outcome needs.

type authoriseView struct {
	D        *service.Discussion
	Outcome  string
	Given    []authorisationLine
	Outcomes []option
	Yours    string
}

type authorisationLine struct {
	Name, Agency, Seniority, Outcome, When, How string
}

var authoriseBanners = map[string]string{
	"authorised": "Your authorisation is recorded.",
}

func (s *Server) authorisePage(w http.ResponseWriter, r *http.Request) error {
	return s.showAuthorise(w, r, http.StatusOK, nil, nil)
}

func (s *Server) showAuthorise(w http.ResponseWriter, r *http.Request, status int, form url.Values, errs []FieldError) error {
	ctx := r.Context()
	d, err := s.app.Discussion(ctx, r.PathValue("id"))
	if err != nil {
		return err
	}
	zone := s.cfg.Zone
	v := &authoriseView{D: d}
	chosen := form.Get("outcome")
	if d.Outcome != nil {
		v.Outcome = say(outcomeWords, d.Outcome.Outcome)
		if form == nil {
			chosen = string(d.Outcome.Outcome)
		}
	}
	me := service.PrincipalFrom(ctx)
	for _, a := range d.Authorisations {
		l := authorisationLine{Name: a.Name, Agency: s.agency(a.Agency), Seniority: a.SeniorityLabel,
			Outcome: say(outcomeWords, a.Outcome), When: When(a.At, zone), How: "signed in"}
		if a.Method == service.AuthorisedByLink {
			l.How = "from the link sent to them"
		}
		v.Given = append(v.Given, l)
		if me != nil && me.Email != "" && strings.EqualFold(me.Email, a.Email) {
			v.Yours = l.Outcome + ", " + l.When
		}
	}
	for _, o := range policy.Outcomes {
		v.Outcomes = append(v.Outcomes, option{Value: string(o), Text: say(outcomeWords, o), Selected: chosen == string(o)})
	}
	if errs != nil {
		errs = s.plain(d, errs)
	}
	p := &Page{Title: "Authorise the outcome for case " + d.CaseReference, Back: "/discussions/" + d.ID,
		Banner: authoriseBanners[r.URL.Query().Get("done")], Form: form, Errors: errs, Data: v}
	if me != nil && me.Has(service.RoleBusinessSupport, service.RoleChair) {
		p.Nav = "/today"
	} else {
		p.Back = ""
	}
	return s.render(w, r, status, "authorise.html", p)
}

// authorisePost records the signed-in person's own authorisation.
func (s *Server) authorisePost(w http.ResponseWriter, r *http.Request) error {
	if err := r.ParseForm(); err != nil {
		return err
	}
	id := r.PathValue("id")
	outcome := r.PostForm.Get("outcome")
	var err error
	if outcome == "" {
		err = service.Invalid("choose the outcome", service.FieldError{Field: "outcome", Message: "choose the outcome you authorise"})
	} else {
		_, err = s.app.AuthoriseOutcome(r.Context(), id, policy.Outcome(outcome))
	}
	if err == nil {
		return done(w, r, "/discussions/"+id+"/authorise", "authorised")
	}
	status := http.StatusUnprocessableEntity
	switch service.ErrorCode(err) {
	case service.EINTERNAL, service.ENOTFOUND, service.EUNAUTHORIZED, service.EUNAVAILABLE:
		return err
	case service.EFORBIDDEN:
		status = http.StatusForbidden
	}
	return s.showAuthorise(w, r, status, r.PostForm, fieldErrors(err))
}
