package web_test

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/convene/convene/invites"
	"github.com/convene/convene/service"
	"github.com/convene/convene/service/policy"
)

// invitee reads an invitee as stored.
func (s *site) invitee(t *testing.T, id, email string) service.Invitee {
	t.Helper()
	d, err := s.store.Discussion(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	for _, inv := range d.Invitees {
		if inv.Email == email {
			return inv
		}
	}
	t.Fatalf("%s is not invited", email)
	return service.Invitee{}
}

func TestInvitationAnswers(t *testing.T) {
	t.Parallel()
	s := newSite(t)
	d := s.convene(t)
	link := s.link(t, d, "dana@police.example.org", invites.PartStatDeclined)
	b := s.browser()

	// Opening the link changes nothing, signed in or not (mail scanners
	// open every link).
	b.get(link)
	page := b.partnerSignIn(t, link, "dana@police.example.org")
	res, body := b.get(link)
	wantRedirect(t, res, body, "/invitations/"+d.ID+"?answer=declined")
	res, body = b.get(page)
	wantStatus(t, res, body, http.StatusOK)
	if !strings.Contains(body, `value="declined" checked`) {
		t.Error("the link's answer is not chosen on the page")
	}
	if got := s.invitee(t, d.ID, "dana@police.example.org").Reply; got != policy.ReplyNeedsAction {
		t.Fatalf("opening the link answered %q", got)
	}
	path := "/invitations/" + d.ID

	t.Run("nothing chosen", func(t *testing.T) {
		res, body := b.post(path, url.Values{"decline-reason": {"typed before choosing"}})
		wantStatus(t, res, body, http.StatusUnprocessableEntity)
		for _, want := range []string{`href="#answer"`, "Select your answer.", "typed before choosing"} {
			if !strings.Contains(body, want) {
				t.Errorf("the refused answer lacks %q", want)
			}
		}
	})
	t.Run("a proposed time that is not a date keeps what was typed", func(t *testing.T) {
		res, body := b.post(path, url.Values{"answer": {"counter"}, "proposed-day": {"31"}, "proposed-month": {"2"},
			"proposed-year": {"2027"}, "proposed-time": {"14:30"}, "counter-comment": {"Tuesday suits the team"}})
		wantStatus(t, res, body, http.StatusUnprocessableEntity)
		for _, want := range []string{`href="#proposed-day"`, "Enter a real date.", `value="31"`, "Tuesday suits the team", `value="counter" checked`} {
			if !strings.Contains(body, want) {
				t.Errorf("the refused proposal lacks %q", want)
			}
		}
	})
	t.Run("accept", func(t *testing.T) {
		b.get(path)
		res, body := b.post(path, url.Values{"answer": {"accepted"}})
		loc := wantRedirect(t, res, body, path+"?done=answer")
		if got := s.invitee(t, d.ID, "dana@police.example.org").Reply; got != policy.ReplyAccepted {
			t.Fatalf("reply %q, want accepted", got)
		}
		_, body = b.get(loc)
		if !strings.Contains(body, "Your answer is recorded") || !strings.Contains(body, ">Accepted</strong>") {
			t.Errorf("the page after accepting:\n%s", body)
		}
	})
	t.Run("tentative", func(t *testing.T) {
		res, body := b.post(path, url.Values{"answer": {"tentative"}})
		wantRedirect(t, res, body, path)
		if got := s.invitee(t, d.ID, "dana@police.example.org").Reply; got != policy.ReplyTentative {
			t.Fatalf("reply %q, want tentative", got)
		}
	})
	t.Run("decline with a reason kept inside Convene", func(t *testing.T) {
		res, body := b.post(path, url.Values{"answer": {"declined"}, "decline-reason": {"On leave that week"}})
		wantRedirect(t, res, body, path)
		inv := s.invitee(t, d.ID, "dana@police.example.org")
		if inv.Reply != policy.ReplyDeclined || inv.Comment != "On leave that week" {
			t.Fatalf("reply %q comment %q", inv.Reply, inv.Comment)
		}
		_, body = b.get(path)
		if !strings.Contains(body, "Your reason: On leave that week") {
			t.Error("the page does not show the reason")
		}
	})
	t.Run("propose a new time", func(t *testing.T) {
		day := s.clock.Now().In(london).AddDate(0, 0, 2)
		res, body := b.post(path, url.Values{"answer": {"counter"}, "proposed-day": {itoa(day.Day())}, "proposed-month": {itoa(int(day.Month()))},
			"proposed-year": {itoa(day.Year())}, "proposed-time": {"14:30"}})
		wantRedirect(t, res, body, path+"?done=counter")
		st, err := s.store.Discussion(context.Background(), d.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(st.Counters) != 1 || st.Counters[0].Status != "pending" || st.Counters[0].Start.In(london).Hour() != 14 || st.Counters[0].Start.In(london).Minute() != 30 {
			t.Fatalf("counters %+v", st.Counters)
		}
		_, body = b.get(path)
		if !strings.Contains(body, ", 14:30 UK time (") || !strings.Contains(body, "waiting for a decision") {
			t.Errorf("the page does not show the proposal in UK time:\n%s", body)
		}
	})
	t.Run("delegate below the seniority needed: warned, then held for business support", func(t *testing.T) {
		res, body := b.post(path, url.Values{"answer": {"delegated"}, "delegate-to": {"pat@police.example.org"}})
		wantStatus(t, res, body, http.StatusOK)
		if !strings.Contains(body, "Pat Constable is below the minimum") || !strings.Contains(body, "Delegate anyway") ||
			!strings.Contains(body, `value="pat@police.example.org"`) {
			t.Fatalf("no warning before delegating below the seniority needed:\n%s", body)
		}
		if got := s.invitee(t, d.ID, "dana@police.example.org").Reply; got != policy.ReplyDeclined {
			t.Fatalf("the warning changed the answer to %q", got)
		}
		res, body = b.post(path, url.Values{"answer": {"delegated"}, "delegate-to": {"pat@police.example.org"}, "confirm-delegation": {"yes"}})
		wantRedirect(t, res, body, path+"?done=held")
		st, err := s.store.Discussion(context.Background(), d.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(st.HeldReplies) != 1 || st.HeldReplies[0].DelegatedTo != "pat@police.example.org" {
			t.Fatalf("held replies %+v", st.HeldReplies)
		}
	})
	t.Run("delegate to a colleague who meets it", func(t *testing.T) {
		res, body := b.post(path, url.Values{"answer": {"delegated"}, "delegate-to": {"sid@police.example.org"}, "delegate-name": {"Sid"}})
		wantRedirect(t, res, body, path+"?done=answer")
		if got := s.invitee(t, d.ID, "dana@police.example.org"); got.Reply != policy.ReplyDelegated || got.DelegatedTo != "sid@police.example.org" {
			t.Fatalf("dana: %+v", got)
		}
		if got := s.invitee(t, d.ID, "sid@police.example.org"); got.DelegatedFrom != "dana@police.example.org" {
			t.Fatalf("sid: %+v", got)
		}
	})
	t.Run("a decline's reason is never mailed", func(t *testing.T) {
		s.app.Wake()
		for _, m := range s.smtp.Received(t) {
			if strings.Contains(string(m.Raw), "On leave that week") {
				t.Fatalf("an email to %v carries the reason", m.RcptTos)
			}
		}
	})
}

func TestInvitationNeedsTheInviteeOwnSession(t *testing.T) {
	t.Parallel()
	s := newSite(t)
	d := s.convene(t)
	// Nobody signed in: sent to sign in, nothing shown.
	b := s.browser()
	res, body := b.get("/invitations/" + d.ID)
	wantRedirect(t, res, body, "/sign-in")
	// Nina's session cannot answer for Dana or see another's page: her
	// answer is hers.
	nina := s.browser()
	nina.partnerSignIn(t, s.link(t, d, "nina@nhs.example.org", invites.PartStatAccepted), "nina@nhs.example.org")
	res, body = nina.post("/invitations/"+d.ID, url.Values{"answer": {"accepted"}})
	wantRedirect(t, res, body, "/invitations/"+d.ID)
	if got := s.invitee(t, d.ID, "nina@nhs.example.org").Reply; got != policy.ReplyAccepted {
		t.Fatalf("nina: %q", got)
	}
	if got := s.invitee(t, d.ID, "dana@police.example.org").Reply; got != policy.ReplyNeedsAction {
		t.Fatalf("nina's answer changed dana's: %q", got)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

// An agency representative with an account (here the demo sign-in) starts
// on their invitations, and answers from the same page partners use.
func TestAgencyRepStartsOnTheirInvitations(t *testing.T) {
	t.Parallel()
	s := newSite(t)
	d := s.convene(t)
	notHers, _, err := s.app.Convene(s.bso, service.ConveneRequest{CaseReference: "CR-2026-7999", Case: d.Case,
		ChairID: s.people["chris"].ID, Invitees: []service.InviteeRequest{{PersonID: s.people["sam"].ID, KnowsChild: true}}})
	if err != nil {
		t.Fatal(err)
	}
	b := s.browser()
	b.get("/sign-in")
	res, body := b.post("/sign-in/demo", url.Values{"person": {"demo-police"}})
	wantRedirect(t, res, body, "/invitations")
	res, body = b.get("/invitations")
	wantStatus(t, res, body, http.StatusOK)
	if !strings.Contains(body, `href="/invitations/`+d.ID+`"`) || !strings.Contains(body, d.CaseReference) || !strings.Contains(body, "Not answered yet") {
		t.Fatalf("the invitations page:\n%s", body)
	}
	if strings.Contains(body, notHers.CaseReference) {
		t.Error("the list shows a discussion she is not invited to")
	}
	b.get("/invitations/" + d.ID)
	res, body = b.post("/invitations/"+d.ID, url.Values{"answer": {"tentative"}})
	wantRedirect(t, res, body, "/invitations/"+d.ID)
	if got := s.invitee(t, d.ID, "dana@police.example.org").Reply; got != policy.ReplyTentative {
		t.Fatalf("reply %q", got)
	}
	// Staff pages are not hers.
	res, body = b.get("/invitations/" + notHers.ID)
	wantStatus(t, res, body, http.StatusNotFound)
}
