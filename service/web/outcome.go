package web

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/convene/convene/service"
	"github.com/convene/convene/service/policy"
)

// The outcome form: the seven outcomes (001), the Signs of Safety headings,
// decisions with their rationale, SMART actions added one by one (each a
// what, who, agency, by when and why: 003 §5), when the child will be seen
// and by whom, the review, and the authorisations given. Actions already
// added ride along in the form, so it works without JavaScript.

type outcomeView struct {
	formKit
	D              *service.Discussion
	Outcomes       []option
	Agencies       []option
	Decisions      []decisionRow
	Actions        []actionView
	Authorisations []string
	Recorded       bool
	Outcome        string
	FollowOns      []followOnView
	Red            bool
}

// decisionRow is the index (from 0) and number (from 1) of a decision.
type decisionRow struct{ I, N int }

type actionView struct {
	Index                                    int
	Description, Owner, Agency, Due, Purpose string
	AgencyCode, Day, Month, Year             string
}

func (s *Server) outcomePage(w http.ResponseWriter, r *http.Request) error {
	form := url.Values{"decisions": {"1"}}
	return s.showOutcome(w, r, http.StatusOK, form, nil)
}

func (s *Server) showOutcome(w http.ResponseWriter, r *http.Request, status int, form url.Values, errs []FieldError) error {
	ctx := r.Context()
	d, err := s.app.Discussion(ctx, r.PathValue("id"))
	if err != nil {
		return err
	}
	zone := s.cfg.Zone
	v := &outcomeView{D: d, Recorded: d.Outcome != nil, Red: d.Case.RAG == policy.RAGRed}
	for _, o := range policy.Outcomes {
		v.Outcomes = append(v.Outcomes, option{Value: string(o), Text: say(outcomeWords, o), Selected: form.Get("outcome") == string(o)})
	}
	for _, a := range policy.Agencies {
		v.Agencies = append(v.Agencies, option{Value: string(a), Text: s.agency(a), Selected: form.Get("new_action.agency") == string(a)})
	}
	n, _ := strconv.Atoi(form.Get("decisions"))
	for i := range max(n, 1) {
		v.Decisions = append(v.Decisions, decisionRow{I: i, N: i + 1})
	}
	acts, _ := s.actions(form)
	for i, a := range acts {
		av := actionView{Index: i, Description: a.Description, Owner: a.Owner, Agency: s.agency(a.Agency), AgencyCode: string(a.Agency),
			Purpose: a.Purpose}
		if !a.Due.IsZero() {
			l := a.Due.In(zone)
			av.Due = Day(a.Due, zone)
			av.Day, av.Month, av.Year = strconv.Itoa(l.Day()), strconv.Itoa(int(l.Month())), strconv.Itoa(l.Year())
		}
		v.Actions = append(v.Actions, av)
	}
	for _, a := range d.Authorisations {
		v.Authorisations = append(v.Authorisations, a.Name+" ("+s.agency(a.Agency)+"), "+Words(string(a.Outcome))+", "+When(a.At, zone))
	}
	if d.Outcome != nil {
		v.Outcome = say(outcomeWords, d.Outcome.Outcome)
		for _, fo := range d.FollowOns {
			v.FollowOns = append(v.FollowOns, followOnView{What: fo.Summary, Due: When(fo.Due, zone) + " " + ZoneName(fo.Due, zone), Citation: fo.Citation, Done: fo.Done})
		}
	}
	title := "Record the outcome"
	if v.Recorded {
		title = "Outcome"
	}
	p := &Page{Title: title + " for case " + d.CaseReference, Nav: "/today", Back: "/discussions/" + d.ID + "/quorum", Banner: banner(r),
		Form: form, Errors: s.plain(d, errs), Data: v}
	v.Page = p
	return s.render(w, r, status, "outcome.html", p)
}

// actions reads the actions added so far (actions[i].…) and, when it is
// filled in, the one being added (new_action.…).
func (s *Server) actions(form url.Values) ([]service.Action, []FieldError) {
	var out []service.Action
	var errs []FieldError
	read := func(prefix string) (service.Action, bool) {
		a := service.Action{Description: strings.TrimSpace(form.Get(prefix + ".description")), Owner: strings.TrimSpace(form.Get(prefix + ".owner")),
			Agency: policy.Agency(form.Get(prefix + ".agency")), Purpose: strings.TrimSpace(form.Get(prefix + ".purpose"))}
		filled := a.Description != "" || a.Owner != "" || a.Purpose != "" || form.Get(prefix+".due-day") != ""
		if t, ok := s.date(form, prefix+".due", 17); ok {
			a.Due = t
		} else if form.Get(prefix+".due-day") != "" {
			errs = append(errs, FieldError{Field: fieldID(prefix + ".due"), Message: "Enter the date the action is due as a real date"})
		}
		return a, filled
	}
	for i := 0; i < 50; i++ {
		prefix := "actions[" + strconv.Itoa(i) + "]"
		if !form.Has(prefix + ".description") {
			break
		}
		a, _ := read(prefix)
		out = append(out, a)
	}
	if a, ok := read("new_action"); ok {
		out = append(out, a)
	}
	return out, errs
}

// outcomePost adds an action or a decision row, or records the outcome.
func (s *Server) outcomePost(w http.ResponseWriter, r *http.Request) error {
	if err := r.ParseForm(); err != nil {
		return err
	}
	ctx, id := r.Context(), r.PathValue("id")
	form := url.Values{}
	for k, v := range r.PostForm {
		form[k] = v
	}
	acts, errs := s.actions(form)
	switch form.Get("add") {
	case "action":
		// Move the new action into the list and clear the fields for the
		// next one.
		for k := range form {
			if strings.HasPrefix(k, "new_action.") || strings.HasPrefix(k, "actions[") {
				delete(form, k)
			}
		}
		for i, a := range acts {
			prefix := "actions[" + strconv.Itoa(i) + "]"
			form.Set(prefix+".description", a.Description)
			form.Set(prefix+".owner", a.Owner)
			form.Set(prefix+".agency", string(a.Agency))
			form.Set(prefix+".purpose", a.Purpose)
			if !a.Due.IsZero() {
				l := a.Due.In(s.cfg.Zone)
				form.Set(prefix+".due-day", strconv.Itoa(l.Day()))
				form.Set(prefix+".due-month", strconv.Itoa(int(l.Month())))
				form.Set(prefix+".due-year", strconv.Itoa(l.Year()))
			}
		}
		return s.showOutcome(w, r, http.StatusOK, form, errs)
	case "decision":
		n, _ := strconv.Atoi(form.Get("decisions"))
		form.Set("decisions", strconv.Itoa(min(max(n, 1)+1, 20)))
		return s.showOutcome(w, r, http.StatusOK, form, nil)
	}
	o := service.Outcome{
		Outcome: policy.Outcome(form.Get("outcome")),
		SignsOfSafety: service.SignsOfSafety{Concerns: form.Get("signs_of_safety.concerns"), WorkingWell: form.Get("signs_of_safety.working_well"),
			NeedToKnow: form.Get("signs_of_safety.need_to_know"), NeedsToBeDone: form.Get("signs_of_safety.needs_to_be_done")},
		Actions: acts, HarmSubstantiated: form.Get("harm_substantiated") == "yes",
		SupportConsidered: strings.TrimSpace(form.Get("support_considered")),
	}
	n, _ := strconv.Atoi(form.Get("decisions"))
	for i := range max(n, 1) {
		p := "decisions[" + strconv.Itoa(i) + "]"
		dec := service.Decision{Decision: strings.TrimSpace(form.Get(p + ".decision")), Rationale: strings.TrimSpace(form.Get(p + ".rationale"))}
		if dec.Decision != "" || dec.Rationale != "" || i == 0 {
			o.Decisions = append(o.Decisions, dec)
		}
	}
	if by := strings.TrimSpace(form.Get("child_seen.by")); by != "" || form.Get("child_seen.at-day") != "" {
		cs := &service.ChildSeen{By: by}
		if t, ok := s.dateTime(form, "child_seen.at"); ok {
			cs.At = t
		} else if form.Get("child_seen.at-day") != "" {
			errs = append(errs, FieldError{Field: fieldID("child_seen.at"), Message: "Enter when the child will be seen as a real date and time"})
		}
		o.ChildSeen = cs
	}
	if mech := strings.TrimSpace(form.Get("review.mechanism")); mech != "" || form.Get("review.date-day") != "" {
		rv := &service.Review{Mechanism: mech}
		if t, ok := s.date(form, "review.date", 10); ok {
			rv.Date = t
		} else if form.Get("review.date-day") != "" {
			errs = append(errs, FieldError{Field: fieldID("review.date"), Message: "Enter the review date as a real date"})
		}
		o.Review = rv
	}
	if o.Outcome == policy.OutcomeDeferred {
		o.Deferral = &service.Deferral{Reason: form.Get("deferral.reason"), InformationNeeded: form.Get("deferral.information_needed"),
			SafetyPlan: form.Get("deferral.safety_plan")}
	}
	if plan := strings.TrimSpace(form.Get("safety_plan.plan")); plan != "" || form.Get("safety_plan.responsible") != "" {
		sp := &service.SafetyPlan{Plan: plan, Responsible: strings.TrimSpace(form.Get("safety_plan.responsible"))}
		if t, ok := s.date(form, "safety_plan.until", 17); ok {
			sp.Until = t
		}
		o.SafetyPlan = sp
	}
	if len(errs) > 0 {
		return s.showOutcome(w, r, http.StatusUnprocessableEntity, form, errs)
	}
	if _, err := s.app.RecordOutcome(ctx, id, o); err != nil {
		if service.ErrorCode(err) == service.EINTERNAL || service.ErrorCode(err) == service.ENOTFOUND {
			return err
		}
		return s.showOutcome(w, r, http.StatusUnprocessableEntity, form, fieldErrors(err))
	}
	return done(w, r, "/discussions/"+id, "outcome")
}
