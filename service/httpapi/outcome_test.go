package httpapi_test

// The outcome as the procedures require it: authorised by the people
// themselves (000 §6), amendable with both versions kept, and separate
// discussions for other children linked to this one (002 §3, 004).

import (
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/convene/convene/service"
)

// started convenes the core team, books, checks everyone in at the booked
// time and has the chair start.
func started(t *testing.T) *meeting {
	t.Helper()
	m := convene(t, coreTeam, nil)
	m.book()
	m.at(0)
	for _, k := range []string{"chair", "social_worker", "sergeant", "named_nurse"} {
		m.checkIn(k)
	}
	r := m.h.do("POST", "/v1/discussions/"+m.d.ID+"/start", m.chair, nil)
	if r.Status != http.StatusOK {
		t.Fatalf("start: %d %s", r.Status, r.Body)
	}
	return m
}

// outcomeBody is a valid outcome of the kind, as the chair records it:
// every Signs of Safety heading, a decision with its rationale, the
// review, and what the kind needs besides.
func outcomeBody(m *meeting, kind string) map[string]any {
	now := m.h.clock.Now()
	o := map[string]any{
		"outcome": kind,
		"signs_of_safety": map[string]any{
			"concerns":         "Bruising reported by the school; explanation consistent with a fall",
			"working_well":     "Parents engaged and brought the child to the GP the same day",
			"need_to_know":     "Nothing known beyond the GP's notes",
			"needs_to_be_done": "Family support offered",
		},
		"decisions": []map[string]any{{"decision": "Threshold for s47 not met", "rationale": "Injury consistent with the account given; no previous concerns"}},
		"review":    map[string]any{"date": now.Add(14 * 24 * time.Hour), "mechanism": "Team manager's review in supervision"},
	}
	if kind == "no_further_action" {
		o["support_considered"] = "Early help: a family support worker for six weeks"
	}
	return o
}

// outcomeDoc is the outcome part of a discussion as a client reads it.
type outcomeDoc struct {
	Status  string `json:"status"`
	Outcome *struct {
		Outcome      string `json:"outcome"`
		Version      int    `json:"version"`
		AuthorisedBy []struct {
			Name, Email, Agency, Method string
		} `json:"authorised_by"`
		Decisions []struct{ Decision, Rationale string } `json:"decisions"`
	} `json:"outcome"`
	OutcomeHistory []struct {
		Outcome struct {
			Outcome   string                                 `json:"outcome"`
			Version   int                                    `json:"version"`
			Decisions []struct{ Decision, Rationale string } `json:"decisions"`
		} `json:"outcome"`
		Reason string `json:"reason"`
		By     struct {
			Email string `json:"email"`
		} `json:"by"`
	} `json:"outcome_history"`
	Authorisations []struct {
		Name, Email, Agency, Outcome, Method string
	} `json:"authorisations"`
	FollowOns []struct{ ID string } `json:"follow_ons"`
}

func TestNoFurtherActionNeedsThePoliceOfficersOwnAuthorisation(t *testing.T) {
	t.Parallel()
	m := started(t)
	path := "/v1/discussions/" + m.d.ID
	sergeant := token(t, service.RoleAgencyRep, "police", as("sergeant"))

	// Nobody types in who authorised it.
	body := outcomeBody(m, "no_further_action")
	body["authorised_by"] = []map[string]any{{"name": "DS Dana Reid", "agency": "police", "role": "police_officer"}}
	p := problemOf(t, m.h.do("POST", path+"/outcome", m.chair, body), http.StatusUnprocessableEntity)
	if !slices.Contains(fieldsOf(p), "authorised_by") {
		t.Errorf("fields %v, want authorised_by refused as no field of the request", fieldsOf(p))
	}

	// The chair records "no further action" before the police officer in
	// charge has agreed: refused, naming who has not.
	r := m.h.do("POST", path+"/outcome", m.chair, outcomeBody(m, "no_further_action"))
	conforms(t, "POST", "/v1/discussions/{id}/outcome", r)
	p = problemOf(t, r, http.StatusUnprocessableEntity)
	if !slices.Contains(fieldsOf(p), "authorised_by") || !strings.Contains(string(r.Body), "police officer in charge") {
		t.Errorf("refusal %s, want authorised_by naming the police officer in charge", r.Body)
	}
	var d outcomeDoc
	decodeInto(t, m.h.do("GET", path, m.bso, nil).Body, &d)
	if d.Status != "in_progress" || d.Outcome != nil {
		t.Fatalf("after the refusal: %s, outcome %+v", d.Status, d.Outcome)
	}

	// Only someone taking part authorises, and only for themselves.
	for _, tc := range []struct {
		name, tok string
		body      map[string]any
		status    int
	}{
		{"for someone else", sergeant, map[string]any{"outcome": "no_further_action", "name": "DI Ken Lowe"}, http.StatusUnprocessableEntity},
		{"business support, not taking part", m.bso, map[string]any{"outcome": "no_further_action"}, http.StatusForbidden},
		{"a police officer not invited", token(t, service.RoleAgencyRep, "police", as("inspector")), map[string]any{"outcome": "no_further_action"}, http.StatusNotFound},
		{"not an outcome", sergeant, map[string]any{"outcome": "case_closed"}, http.StatusUnprocessableEntity},
	} {
		r := m.h.do("POST", path+"/authorisations", tc.tok, tc.body)
		conforms(t, "POST", "/v1/discussions/{id}/authorisations", r)
		problemOf(t, r, tc.status)
	}

	// DS Reid, signed in as herself, authorises it.
	r = m.h.do("POST", path+"/authorisations", sergeant, map[string]any{"outcome": "no_further_action"})
	if r.Status != http.StatusOK {
		t.Fatalf("the sergeant's authorisation: %d %s", r.Status, r.Body)
	}
	conforms(t, "POST", "/v1/discussions/{id}/authorisations", r)
	decodeInto(t, r.Body, &d)
	if len(d.Authorisations) != 1 || d.Authorisations[0].Email != member("sergeant").email || d.Authorisations[0].Agency != "police" ||
		d.Authorisations[0].Outcome != "no_further_action" || d.Authorisations[0].Method != "signed_in" {
		t.Errorf("authorisations = %+v, want DS Reid's own, signed in", d.Authorisations)
	}

	// Now the chair records it, authorising it as the CSC manager.
	r = m.h.do("POST", path+"/outcome", m.chair, outcomeBody(m, "no_further_action"))
	if r.Status != http.StatusOK {
		t.Fatalf("outcome: %d %s", r.Status, r.Body)
	}
	conforms(t, "POST", "/v1/discussions/{id}/outcome", r)
	decodeInto(t, r.Body, &d)
	if d.Status != "concluded" || d.Outcome == nil || d.Outcome.Outcome != "no_further_action" || d.Outcome.Version != 1 {
		t.Fatalf("after recording: %s, outcome %+v", d.Status, d.Outcome)
	}
	var by []string
	for _, a := range d.Outcome.AuthorisedBy {
		by = append(by, a.Name+" ("+a.Agency+", "+a.Method+")")
	}
	slices.Sort(by)
	if want := []string{"DS Dana Reid (police, signed_in)", "Priya Shah (social_care, signed_in)"}; !slices.Equal(by, want) {
		t.Errorf("authorised by %v, want %v", by, want)
	}
	if len(d.FollowOns) == 0 {
		t.Errorf("no follow-on deadlines after the outcome")
	}
	entries := auditEntries(t, m.h, m.d.ID)
	if !slices.ContainsFunc(entries, func(e service.AuditEntry) bool {
		return e.Action == "discussion.authorise" && e.Actor.Email == member("sergeant").email
	}) {
		t.Errorf("the sergeant's authorisation is not in the audit log")
	}
}

func TestAnAmendedOutcomeKeepsBothVersions(t *testing.T) {
	t.Parallel()
	m := started(t)
	path := "/v1/discussions/" + m.d.ID
	first := outcomeBody(m, "s17_assessment")
	if r := m.h.do("POST", path+"/outcome", m.chair, first); r.Status != http.StatusOK {
		t.Fatalf("outcome: %d %s", r.Status, r.Body)
	}

	second := outcomeBody(m, "s17_assessment")
	second["decisions"] = []map[string]any{{"decision": "Child in need assessment, with the school's view",
		"rationale": "The school has since reported two further incidents"}}
	amendment := map[string]any{"outcome": second, "reason": "Information from the school received after the meeting"}
	for _, tc := range []struct {
		name, tok string
		body      map[string]any
		status    int
		field     string
	}{
		{"by business support", m.bso, amendment, http.StatusForbidden, ""},
		{"without a reason", m.chair, map[string]any{"outcome": second}, http.StatusUnprocessableEntity, "reason"},
		{"an invalid outcome", m.chair, map[string]any{"outcome": map[string]any{"outcome": "s17_assessment", "decisions": []any{}},
			"reason": "x"}, http.StatusUnprocessableEntity, "signs_of_safety"},
	} {
		r := m.h.do("POST", path+"/outcome/amendments", tc.tok, tc.body)
		conforms(t, "POST", "/v1/discussions/{id}/outcome/amendments", r)
		p := problemOf(t, r, tc.status)
		if tc.field != "" && !slices.ContainsFunc(fieldsOf(p), func(f string) bool { return strings.Contains(f, tc.field) }) {
			t.Errorf("%s: fields %v, want %s", tc.name, fieldsOf(p), tc.field)
		}
	}

	r := m.h.do("POST", path+"/outcome/amendments", m.chair, amendment)
	if r.Status != http.StatusOK {
		t.Fatalf("amend: %d %s", r.Status, r.Body)
	}
	conforms(t, "POST", "/v1/discussions/{id}/outcome/amendments", r)

	// Both versions are readable, by everyone who may read the discussion.
	for name, tok := range map[string]string{"business support": m.bso, "the police": token(t, service.RoleAgencyRep, "police", as("sergeant"))} {
		r := m.h.do("GET", path, tok, nil)
		conforms(t, "GET", "/v1/discussions/{id}", r)
		var d outcomeDoc
		decodeInto(t, r.Body, &d)
		if d.Outcome == nil || d.Outcome.Version != 2 || d.Outcome.Decisions[0].Decision != "Child in need assessment, with the school's view" {
			t.Errorf("%s: outcome %+v, want version 2 with the new decision", name, d.Outcome)
		}
		if len(d.OutcomeHistory) != 1 {
			t.Fatalf("%s: outcome history %+v, want the first version", name, d.OutcomeHistory)
		}
		h := d.OutcomeHistory[0]
		if h.Outcome.Version != 1 || h.Outcome.Decisions[0].Decision != "Threshold for s47 not met" ||
			h.Reason != "Information from the school received after the meeting" || h.By.Email != member("chair").email {
			t.Errorf("%s: earlier version %+v, want version 1 as recorded, with the amendment's reason and author", name, h)
		}
	}
}

func TestSeparateDiscussions(t *testing.T) {
	t.Parallel()
	// One child is alleged to have harmed another, and is under 18:
	// each child gets their own discussion (002 §3), and the alleged
	// abuser one for their own needs (004).
	m := convene(t, coreTeam, map[string]any{"child": map[string]any{"age_years": 13}, "concerns": []string{"child_on_child"},
		"alleged_abuser_under_18": true})
	var relations []string
	for _, s := range m.d.Format.SeparateDiscussions {
		relations = append(relations, s.Discussion)
	}
	if len(relations) == 0 {
		t.Fatalf("no separate discussions in %+v", m.d.Format)
	}
	relation := relations[1]
	path := "/v1/discussions/" + m.d.ID + "/separate"

	for _, tc := range []struct {
		name   string
		tok    string
		body   map[string]any
		status int
		field  string
	}{
		{"an agency representative", token(t, service.RoleAgencyRep, "police", as("sergeant")),
			map[string]any{"case_reference": "CR-2026-0199", "relation": relation}, http.StatusForbidden, ""},
		{"the same case reference", m.bso, map[string]any{"case_reference": "CR-2026-0101", "relation": relation}, http.StatusUnprocessableEntity, "case_reference"},
		{"a name for a case reference", m.bso, map[string]any{"case_reference": "Smith-family", "relation": relation}, http.StatusUnprocessableEntity, "case_reference"},
		{"a relation the procedure does not name", m.bso, map[string]any{"case_reference": "CR-2026-0199", "relation": "the cousin"}, http.StatusUnprocessableEntity, "relation"},
	} {
		r := m.h.do("POST", path, tc.tok, tc.body, "Idempotency-Key", "sep-"+tc.name)
		conforms(t, "POST", "/v1/discussions/{id}/separate", r)
		p := problemOf(t, r, tc.status)
		if tc.field != "" && !slices.Contains(fieldsOf(p), tc.field) {
			t.Errorf("%s: fields %v, want %s", tc.name, fieldsOf(p), tc.field)
		}
	}

	body := map[string]any{"case_reference": "CR-2026-0199", "relation": relation}
	r := m.h.do("POST", path, m.bso, body, "Idempotency-Key", "separate-1")
	if r.Status != http.StatusCreated {
		t.Fatalf("separate: %d %s", r.Status, r.Body)
	}
	conforms(t, "POST", "/v1/discussions/{id}/separate", r)
	var sep struct {
		ID            string `json:"id"`
		CaseReference string `json:"case_reference"`
		Deadline      time.Time
		Linked        []struct{ ID, CaseReference, Relation string } `json:"linked"`
	}
	decodeInto(t, r.Body, &sep)
	if got, want := r.Header.Get("Location"), "/v1/discussions/"+sep.ID; got != want || sep.ID == m.d.ID {
		t.Errorf("Location %q, id %s; want %q, a new discussion", got, sep.ID, want)
	}
	if sep.CaseReference != "CR-2026-0199" || len(sep.Linked) != 1 || sep.Linked[0].ID != m.d.ID {
		t.Errorf("separate discussion %+v, want its own case reference, linked back to %s", sep, m.d.ID)
	}
	var parent struct {
		Linked []struct {
			ID            string `json:"id"`
			CaseReference string `json:"case_reference"`
			Relation      string `json:"relation"`
		} `json:"linked"`
	}
	decodeInto(t, m.h.do("GET", "/v1/discussions/"+m.d.ID, m.bso, nil).Body, &parent)
	if len(parent.Linked) != 1 || parent.Linked[0].ID != sep.ID || parent.Linked[0].Relation != relation {
		t.Errorf("the first discussion's links %+v, want the separate one as %q", parent.Linked, relation)
	}

	// A retry with the same key gives the same discussion, not another.
	r = m.h.do("POST", path, m.bso, body, "Idempotency-Key", "separate-1")
	var again struct{ ID string }
	decodeInto(t, r.Body, &again)
	if r.Status != http.StatusCreated || again.ID != sep.ID {
		t.Errorf("retry: %d, id %s; want the same discussion %s", r.Status, again.ID, sep.ID)
	}
	decodeInto(t, m.h.do("GET", "/v1/discussions/"+m.d.ID, m.bso, nil).Body, &parent)
	if len(parent.Linked) != 1 {
		t.Errorf("after a retry the first discussion links %d, want 1", len(parent.Linked))
	}
}
