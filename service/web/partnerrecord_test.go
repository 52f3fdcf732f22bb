package web_test

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/convene/convene/service"
	"github.com/convene/convene/service/policy"
)

var recordLinkRE = regexp.MustCompile(`/record/[A-Za-z0-9._-]+`)

// recordLink waits for the record's circulation email to the address and
// returns the link in it, checking the email carries no case details.
func (s *site) recordLink(t *testing.T, to string, d *service.Discussion) string {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		for i := 1; i <= s.smtp.Count(); i++ {
			m := s.smtp.Message(t, i)
			raw := string(m.Raw)
			if len(m.RcptTos) != 1 || m.RcptTos[0] != to || !strings.Contains(raw, "Record of strategy discussion") {
				continue
			}
			for _, secret := range []string{d.CaseReference, "bruising", "section 47", "Joint visit"} {
				if strings.Contains(raw, secret) {
					t.Errorf("the circulation email to %s carries %q", to, secret)
				}
			}
			link := recordLinkRE.FindString(strings.ReplaceAll(raw, "=\r\n", ""))
			if link == "" {
				t.Fatalf("the circulation email has no record link:\n%s", raw)
			}
			return link
		}
		if time.Now().After(deadline) {
			t.Fatalf("no record circulated to %s within 15s", to)
		}
		time.Sleep(50 * time.Millisecond) // polling the mail server, with a deadline
	}
}

// TestPartnerSignsTheRecordFromItsLink: the health representative, who has
// no council account, opens the link in the record's circulation email,
// confirms the code sent to her, reads the record and disagrees with it,
// with a reason; the page refuses a disagreement without one and keeps
// her choice.
func TestPartnerSignsTheRecordFromItsLink(t *testing.T) {
	t.Parallel()
	s := newSite(t)
	d := s.convene(t)
	chris := service.WithPrincipal(context.Background(), &demoPeople[1])
	if _, err := s.app.StartDiscussion(chris, d.ID, "Everyone who can come is here"); err != nil {
		t.Fatal(err)
	}
	now := s.clock.Now()
	if _, err := s.app.RecordOutcome(chris, d.ID, service.Outcome{Outcome: policy.OutcomeS47Enquiry,
		SignsOfSafety: service.SignsOfSafety{Concerns: "Unexplained bruising", WorkingWell: "Engaged grandparent", NeedToKnow: "Medical opinion", NeedsToBeDone: "Joint visit"},
		Decisions:     []service.Decision{{Decision: "Start a section 47 enquiry", Rationale: "Reasonable cause to suspect significant harm"}},
		Actions:       []service.Action{{Description: "Joint visit", Owner: "Sam Social", Agency: policy.AgencySocialCare, Due: now.Add(48 * time.Hour), Purpose: "See the child alone"}},
		ChildSeen:     &service.ChildSeen{By: "Sam Social", At: now.Add(4 * time.Hour)},
		Review:        &service.Review{Date: now.Add(10 * 24 * time.Hour), Mechanism: "Review strategy discussion"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.app.CirculateRecord(s.bso, d.ID); err != nil {
		t.Fatal(err)
	}
	const nina = "nina@nhs.example.org"
	link := s.recordLink(t, nina, d)

	b := s.browser()
	res, body := b.get(link)
	wantStatus(t, res, body, http.StatusOK)
	if !strings.Contains(body, "Confirm it is you") || strings.Contains(body, d.CaseReference) || strings.Contains(body, "bruising") {
		t.Fatalf("before the code, the link's page shows:\n%s", body)
	}
	res, body = b.post(strings.Replace(link, "/record/", "/invitation/", 1)+"/code", nil)
	loc := wantRedirect(t, res, body, "/invitation/")
	b.get(loc)
	code, _ := s.codeMail(t, nina, 1)
	res, body = b.post(strings.TrimSuffix(loc, "/code")+"/confirm", url.Values{"code": {code}})
	page := wantRedirect(t, res, body, "/records/"+d.ID)

	res, body = b.get(page)
	wantStatus(t, res, body, http.StatusOK)
	for _, want := range []string{"Record of Strategy Discussion, case " + d.CaseReference, "Start a section 47 enquiry",
		"Does Health agree with this record?", "Send your answer"} {
		if !strings.Contains(body, want) {
			t.Errorf("the record page lacks %q", want)
		}
	}
	if strings.Contains(body, "/follow-ons") || strings.Contains(body, "/authorise") {
		t.Error("a partner's record page links to staff pages")
	}

	// Disagreeing needs a reason: refused, naming the field, her choice kept.
	res, body = b.post("/records/"+d.ID, url.Values{"decision": {"dissent"}})
	wantStatus(t, res, body, http.StatusUnprocessableEntity)
	if !strings.Contains(body, `href="#reason"`) || !strings.Contains(body, "Say why your agency disagrees with the record") ||
		!regexp.MustCompile(`value="dissent"\s+checked`).MatchString(body) {
		t.Errorf("the refused answer's page:\n%s", body)
	}
	const why = "Health holds information that does not support an s47 threshold"
	res, body = b.post("/records/"+d.ID, url.Values{"decision": {"dissent"}, "reason": {why}})
	wantRedirect(t, res, body, "/records/"+d.ID+"?done=dissent")
	res, body = b.get("/records/" + d.ID + "?done=dissent")
	if !strings.Contains(body, "Your agency&#39;s disagreement is recorded") || !strings.Contains(body, why) {
		t.Errorf("after disagreeing, the page:\n%s", body)
	}
	rec, err := s.app.Record(s.bso, d.ID)
	if err != nil {
		t.Fatal(err)
	}
	var health *service.Signup
	for i := range rec.Signups {
		if rec.Signups[i].Agency == policy.AgencyHealth {
			health = &rec.Signups[i]
		}
	}
	if health == nil || health.State != service.SignupDissented || health.Reason != why || health.Email != nina {
		t.Errorf("health's sign-up: %+v", health)
	}

	// Her invitation, opened again, leads to the record now it is held.
	res, body = b.get("/invitations/" + d.ID)
	wantStatus(t, res, body, http.StatusOK)
	if !strings.Contains(body, `href="/records/`+d.ID+`"`) {
		t.Error("the invitation of a held discussion does not lead to its record")
	}

	// Her session is bound to this discussion, and to no staff page.
	other := s.convene(t)
	res, body = b.get("/records/" + other.ID)
	wantStatus(t, res, body, http.StatusNotFound)
	res, body = b.get("/discussions/" + d.ID + "/follow-ons")
	wantRedirect(t, res, body, "/sign-in")
}
