package httpapi_test

// The Record of Strategy Discussion through HTTP (issue 14): read as JSON
// and PDF by those who may, circulated by business support, signed up to
// or dissented from by each partner agency, and follow-ons met by the
// right people.

import (
	"bytes"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/convene/convene/service"
)

// recordDoc is the record as a client reads it.
type recordDoc struct {
	CaseReference string `json:"case_reference"`
	Version       int    `json:"version"`
	Attendance    []struct {
		Name    string `json:"name"`
		Present bool   `json:"present"`
	} `json:"attendance"`
	FollowOns      []followOnDoc            `json:"follow_ons"`
	FollowOnBreach *struct{ Reason string } `json:"follow_on_breach"`
	Circulation    *struct {
		Version int      `json:"version"`
		To      []string `json:"to"`
	} `json:"circulation"`
	Signups []struct {
		Agency, State, By, Reason, Method string
	} `json:"signups"`
}

type followOnDoc struct {
	ID             string     `json:"id"`
	State          string     `json:"state"`
	Due            time.Time  `json:"due"`
	MetAt          *time.Time `json:"met_at"`
	Note           string     `json:"note"`
	ConferenceDate *time.Time `json:"conference_date"`
	Owner          struct{ Agency, Name string }
}

func (r recordDoc) followOn(id string) int {
	return slices.IndexFunc(r.FollowOns, func(f followOnDoc) bool { return f.ID == id })
}

func TestTheRecordOverHTTP(t *testing.T) {
	t.Parallel()
	m := started(t)
	path := "/v1/discussions/" + m.d.ID
	sergeant := token(t, service.RoleAgencyRep, "police", as("sergeant"))
	nurse := token(t, service.RoleAgencyRep, "health", as("named_nurse"))
	socialWorker := token(t, service.RoleAgencyRep, "social_care", as("social_worker"))
	outsider := token(t, service.RoleAgencyRep, "police", as("inspector"))

	problemOf(t, m.h.do("GET", path+"/record", m.bso, nil), http.StatusConflict)

	now := m.h.clock.Now()
	body := outcomeBody(m, "s47_enquiry")
	body["actions"] = []map[string]any{{"description": "Joint visit", "owner": "Tom Okafor", "agency": "social_care",
		"due": now.Add(24 * time.Hour), "purpose": "See the child alone"}}
	body["child_seen"] = map[string]any{"by": "Tom Okafor", "at": now.Add(4 * time.Hour)}
	if r := m.h.do("POST", path+"/outcome", m.chair, body); r.Status != http.StatusOK {
		t.Fatalf("outcome: %d %s", r.Status, r.Body)
	}

	// Read as JSON by a participant, and as a PDF both ways.
	r := m.h.do("GET", path+"/record", sergeant, nil)
	if r.Status != http.StatusOK {
		t.Fatalf("record: %d %s", r.Status, r.Body)
	}
	conforms(t, "GET", "/v1/discussions/{id}/record", r)
	var rec recordDoc
	decodeInto(t, r.Body, &rec)
	if rec.CaseReference != "CR-2026-0101" || rec.Version != 1 || len(rec.Attendance) != 4 || rec.followOn("RECORD") < 0 {
		t.Errorf("record %+v", rec)
	}
	if i := rec.followOn("S47"); i < 0 || rec.FollowOns[i].Owner.Name != "Tom Okafor" || rec.FollowOns[i].State != "open" {
		t.Errorf("S47 follow-on: %+v", rec.FollowOns)
	}
	for _, get := range []struct{ path, accept string }{{path + "/record", "application/pdf"}, {path + "/record.pdf", ""}} {
		r := m.h.do("GET", get.path, m.bso, nil, "Accept", get.accept)
		if r.Status != http.StatusOK || r.Header.Get("Content-Type") != "application/pdf" || !bytes.HasPrefix(r.Body, []byte("%PDF-")) {
			t.Errorf("GET %s (Accept %q): %d %s %.20q", get.path, get.accept, r.Status, r.Header.Get("Content-Type"), r.Body)
		}
	}
	problemOf(t, m.h.do("GET", path+"/record", outsider, nil), http.StatusNotFound)
	problemOf(t, m.h.do("GET", path+"/record.pdf", outsider, nil), http.StatusNotFound)

	// Circulated by business support, not by an agency.
	problemOf(t, m.h.do("POST", path+"/record/circulate", sergeant, nil), http.StatusForbidden)
	r = m.h.do("POST", path+"/record/circulate", m.bso, nil)
	if r.Status != http.StatusOK {
		t.Fatalf("circulate: %d %s", r.Status, r.Body)
	}
	conforms(t, "POST", "/v1/discussions/{id}/record/circulate", r)
	decodeInto(t, r.Body, &rec)
	if i := rec.followOn("RECORD"); rec.Circulation == nil || len(rec.Circulation.To) != 4 || rec.FollowOns[i].State != "met" ||
		rec.FollowOns[i].MetAt == nil || m.h.clock.Now().Sub(*rec.FollowOns[i].MetAt) > time.Minute {
		t.Errorf("after circulation: %+v", rec)
	}
	problemOf(t, m.h.do("POST", path+"/record/circulate", m.bso, nil), http.StatusConflict)

	// Police agree; health dissent, with a reason.
	for _, bad := range []struct {
		tok  string
		body map[string]any
		code int
	}{
		{nurse, map[string]any{"decision": "dissent"}, http.StatusUnprocessableEntity},
		{nurse, map[string]any{"decision": "agree", "signature": "HP"}, http.StatusUnprocessableEntity},
		{nurse, map[string]any{"decision": "agree", "agency": "police"}, http.StatusForbidden},
		{socialWorker, map[string]any{"decision": "agree"}, http.StatusForbidden},
		{outsider, map[string]any{"decision": "agree"}, http.StatusNotFound},
	} {
		problemOf(t, m.h.do("POST", path+"/record/signatures", bad.tok, bad.body), bad.code)
	}
	if r := m.h.do("POST", path+"/record/signatures", sergeant, map[string]any{"decision": "agree"}); r.Status != http.StatusOK {
		t.Fatalf("police agree: %d %s", r.Status, r.Body)
	}
	r = m.h.do("POST", path+"/record/signatures", nurse, map[string]any{"decision": "dissent", "reason": "Health's information does not meet the threshold"})
	if r.Status != http.StatusOK {
		t.Fatalf("health dissent: %d %s", r.Status, r.Body)
	}
	conforms(t, "POST", "/v1/discussions/{id}/record/signatures", r)
	decodeInto(t, r.Body, &rec)
	var states []string
	for _, s := range rec.Signups {
		states = append(states, s.Agency+":"+s.State+":"+s.Method)
	}
	if want := []string{"police:agreed:signed_in", "health:dissented:signed_in"}; !slices.Equal(states, want) {
		t.Errorf("sign-ups %v, want %v", states, want)
	}

	// Follow-ons: the owning agency's participant marks S47 met; another
	// agency may not; the ICPC is met by its date, and a date after its
	// deadline flags the discussion.
	problemOf(t, m.h.do("POST", path+"/follow-ons/S47/met", sergeant, map[string]any{"note": "done"}), http.StatusForbidden)
	r = m.h.do("POST", path+"/follow-ons/S47/met", socialWorker, map[string]any{"note": "Enquiry completed; ICPC requested"})
	if r.Status != http.StatusOK {
		t.Fatalf("S47 met: %d %s", r.Status, r.Body)
	}
	conforms(t, "POST", "/v1/discussions/{id}/follow-ons/{followon}/met", r)
	decodeInto(t, r.Body, &rec)
	if i := rec.followOn("S47"); rec.FollowOns[i].State != "met" || rec.FollowOns[i].Note != "Enquiry completed; ICPC requested" {
		t.Errorf("S47 %+v", rec.FollowOns[i])
	}
	problemOf(t, m.h.do("POST", path+"/follow-ons/RECORD/met", m.bso, nil), http.StatusConflict)
	problemOf(t, m.h.do("POST", path+"/follow-ons/ICPC/met", m.chair, map[string]any{"note": "held"}), http.StatusUnprocessableEntity)
	problemOf(t, m.h.do("POST", path+"/follow-ons/S47/met", m.chair, map[string]any{"conference_date": now}), http.StatusUnprocessableEntity)
	problemOf(t, m.h.do("POST", path+"/follow-ons/NOPE/met", m.chair, nil), http.StatusNotFound)
	icpcDue := rec.FollowOns[rec.followOn("ICPC")].Due
	r = m.h.do("POST", path+"/follow-ons/ICPC/met", m.chair, map[string]any{"conference_date": icpcDue.Add(72 * time.Hour)})
	if r.Status != http.StatusOK {
		t.Fatalf("ICPC: %d %s", r.Status, r.Body)
	}
	decodeInto(t, r.Body, &rec)
	if i := rec.followOn("ICPC"); rec.FollowOns[i].State != "missed" || rec.FollowOns[i].ConferenceDate == nil ||
		rec.FollowOnBreach == nil || !strings.Contains(rec.FollowOnBreach.Reason, "ICPC") {
		t.Errorf("a late conference: %+v, breach %+v", rec.FollowOns[i], rec.FollowOnBreach)
	}

	// The discussion shows its circulation, sign-ups and the follow-on
	// breach, and business support finds it by the breach in the list.
	r = m.h.do("GET", path, m.bso, nil)
	if r.Status != http.StatusOK {
		t.Fatalf("discussion: %d %s", r.Status, r.Body)
	}
	conforms(t, "GET", "/v1/discussions/{id}", r)
	var disc recordDoc
	decodeInto(t, r.Body, &disc)
	states = nil
	for _, s := range disc.Signups {
		states = append(states, s.Agency+":"+s.State)
	}
	if disc.Circulation == nil || disc.Circulation.Version != 1 || len(disc.Circulation.To) != 4 ||
		!slices.Equal(states, []string{"police:agreed", "health:dissented"}) ||
		disc.FollowOnBreach == nil || !strings.Contains(disc.FollowOnBreach.Reason, "ICPC") {
		t.Errorf("the discussion's circulation %+v, sign-ups %v, follow-on breach %+v", disc.Circulation, states, disc.FollowOnBreach)
	}
	for _, tt := range []struct {
		query string
		want  bool
	}{{"?follow_on_breach=true", true}, {"?follow_on_breach=false", false}, {"?follow_on_breach=true&status=concluded,cancelled", true}} {
		r := m.h.do("GET", "/v1/discussions"+tt.query, m.bso, nil)
		if r.Status != http.StatusOK {
			t.Fatalf("list %s: %d %s", tt.query, r.Status, r.Body)
		}
		conforms(t, "GET", "/v1/discussions", r)
		var page struct {
			Items []struct {
				ID             string `json:"id"`
				FollowOnBreach bool   `json:"follow_on_breach"`
			} `json:"items"`
		}
		decodeInto(t, r.Body, &page)
		i := slices.IndexFunc(page.Items, func(it struct {
			ID             string `json:"id"`
			FollowOnBreach bool   `json:"follow_on_breach"`
		}) bool {
			return it.ID == m.d.ID
		})
		if (i >= 0) != tt.want || (i >= 0 && !page.Items[i].FollowOnBreach) {
			t.Errorf("list %s: the discussion listed %v, want %v (%s)", tt.query, i >= 0, tt.want, r.Body)
		}
	}

	var actions []string
	for _, e := range auditEntries(t, m.h, m.d.ID) {
		actions = append(actions, e.Action)
	}
	for _, want := range []string{"discussion.record.read", "discussion.record.read.denied", "discussion.record.circulate",
		"discussion.record.sign", "discussion.follow_on.met", "discussion.follow_on.conference"} {
		if !slices.Contains(actions, want) {
			t.Errorf("no %s in the audit log %v", want, actions)
		}
	}
}
