package web_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/convene/convene/invites"
	"github.com/convene/convene/invites/smtptest"
	"github.com/convene/convene/service"
	"github.com/convene/convene/service/policy"
)

// caseRefs numbers the test discussions: each case reference once.
var caseRefs atomic.Int64

// convene convenes a discussion with the chair, the social worker, the
// police inspector and the nurse, booked tomorrow at ten.
func (s *site) convene(t *testing.T) *service.Discussion { return s.conveneAt(t, 10) }

// conveneAt is convene booked tomorrow at the hour.
func (s *site) conveneAt(t *testing.T, hour int) *service.Discussion {
	t.Helper()
	n := int(caseRefs.Add(1))
	d, _, err := s.app.Convene(s.bso, service.ConveneRequest{
		CaseReference: fmt.Sprintf("CR-2026-%04d", 7000+n), Case: policy.Case{TimescaleRequest: policy.TimescaleRequest{
			RAG: policy.RAGAmber, Concerns: []policy.Concern{"other"}, ReferralReceivedAt: s.clock.Now()}},
		ChairID: s.people["chris"].ID, Invitees: []service.InviteeRequest{
			{PersonID: s.people["sam"].ID, KnowsChild: true}, {PersonID: s.people["dana"].ID}, {PersonID: s.people["nina"].ID}},
	})
	if err != nil {
		t.Fatalf("convene: %v", err)
	}
	day := s.clock.Now().In(london).AddDate(0, 0, 1)
	d, err = s.app.Book(s.bso, d.ID, service.BookRequest{Start: time.Date(day.Year(), day.Month(), day.Day(), hour, 0, 0, 0, london),
		OverrideReason: "test: any time", OnlineURL: "https://teams.microsoft.com/l/meetup-join/test",
		ConfirmUnknown: []string{"chris@council.example.org", "sam@council.example.org", "dana@police.example.org", "nina@nhs.example.org"}})
	if err != nil {
		t.Fatalf("book: %v", err)
	}
	return d
}

// link is the invitation link (the Accept one) sent to the attendee.
func (s *site) link(t *testing.T, d *service.Discussion, email string, stat invites.PartStat) string {
	t.Helper()
	now := s.clock.Now()
	tok, err := invites.SignRSVP([]byte(rsvpKey), invites.RSVP{UID: d.UID, Attendee: email, Allowed: []invites.PartStat{stat},
		Sequence: d.Sequence, IssuedAt: now, ExpiresAt: now.Add(14 * 24 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	return "/v1/rsvp/" + tok
}

var codeRE = regexp.MustCompile(`sign-in code is (\d{6})`)

// codeMail waits for the nth sign-in code mailed to the address.
func (s *site) codeMail(t *testing.T, to string, n int) (code string, raw string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		seen := 0
		for i := 1; i <= s.smtp.Count(); i++ {
			m := s.smtp.Message(t, i)
			if len(m.RcptTos) == 1 && m.RcptTos[0] == to && strings.Contains(string(m.Raw), "Your Convene sign-in code") {
				if seen++; seen == n {
					sub := codeRE.FindStringSubmatch(string(m.Raw))
					if sub == nil {
						t.Fatalf("the code email has no code:\n%s", m.Raw)
					}
					return sub[1], string(m.Raw)
				}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no sign-in code %d for %s within 15s", n, to)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

var _ = smtptest.Received{}

// partnerSignIn opens the link, asks for a code and confirms it, and
// returns the invitation page's path.
func (b *browser) partnerSignIn(t *testing.T, link, email string) string {
	t.Helper()
	res, body := b.get(link)
	wantStatus(t, res, body, http.StatusOK)
	res, body = b.post(strings.Replace(link, "/v1/rsvp/", "/invitation/", 1)+"/code", nil)
	loc := wantRedirect(t, res, body, "/invitation/")
	b.get(loc)
	code, _ := b.s.codeMail(t, email, 1)
	res, body = b.post(strings.TrimSuffix(loc, "/code")+"/confirm", url.Values{"code": {code}})
	page := wantRedirect(t, res, body, "/invitations/")
	b.get(page)
	return page
}

func TestPartnerConfirmsACodeBeforeSeeingTheCase(t *testing.T) {
	t.Parallel()
	s := newSite(t)
	d := s.convene(t)
	other := s.conveneAt(t, 14)
	link := s.link(t, d, "dana@police.example.org", invites.PartStatAccepted)
	tokenPath := strings.Replace(link, "/v1/rsvp/", "/invitation/", 1)

	b := s.browser()
	res, body := b.get(link)
	wantStatus(t, res, body, http.StatusOK)
	for _, leak := range []string{d.CaseReference, "Hillside", "Dana", "police.example.org"} {
		if leak == "police.example.org" {
			continue // the masked address shows the domain
		}
		if strings.Contains(body, leak) {
			t.Errorf("before the code, the page shows %q", leak)
		}
	}
	if !strings.Contains(body, "d••••@police.example.org") {
		t.Errorf("the page does not say where the code goes:\n%s", body)
	}
	// The link page sends nothing.
	for _, m := range s.smtp.Received(t) {
		if strings.Contains(string(m.Raw), "sign-in code") {
			t.Fatal("opening the link sent a code")
		}
	}
	res, body = b.get(tokenPath + "/code")
	wantRedirect(t, res, body, tokenPath) // no code asked for yet

	res, body = b.post(tokenPath+"/code", nil)
	wantRedirect(t, res, body, tokenPath+"/code")
	code, raw := s.codeMail(t, "dana@police.example.org", 1)
	for _, leak := range []string{d.CaseReference, d.ID, "Strategy discussion", "police officer"} {
		if strings.Contains(raw, leak) {
			t.Errorf("the code email carries %q", leak)
		}
	}
	// Only the code's hash is kept.
	sess := b.cookie("__Host-convene")
	if sess == nil {
		t.Fatal("no session while waiting for the code")
	}
	_, body = b.get(tokenPath + "/code")
	if !strings.Contains(body, "Enter the code we sent you") {
		t.Fatalf("the code page:\n%s", body)
	}
	// A wrong code is refused, counted, and what was typed is kept.
	wrong := fmt.Sprintf("%06d", (mustAtoi(t, code)+1)%1_000_000)
	res, body = b.post(tokenPath+"/confirm", url.Values{"code": {wrong}})
	wantStatus(t, res, body, http.StatusUnprocessableEntity)
	for _, want := range []string{`href="#code"`, "The code is not right. You can try 4 more times", `value="` + wrong + `"`} {
		if !strings.Contains(body, want) {
			t.Errorf("the refused code page lacks %q", want)
		}
	}
	// Not yet confirmed: no case content.
	res, body = b.get("/invitations/" + d.ID)
	wantRedirect(t, res, body, "/sign-in")
	if strings.Contains(body, d.CaseReference) {
		t.Fatal("the invitation shows before the code is confirmed")
	}
	res, body = b.post(tokenPath+"/confirm", url.Values{"code": {" " + code[:3] + " " + code[3:] + " "}})
	loc := wantRedirect(t, res, body, "/invitations/"+d.ID)
	if b.cookie("__Host-convene").Value == sess.Value {
		t.Error("the confirmed session kept the waiting session's id")
	}
	res, body = b.get(loc)
	wantStatus(t, res, body, http.StatusOK)
	for _, want := range []string{d.CaseReference, "UK time (G", "Join the online meeting", "Why you are invited", "Not answered yet"} {
		if !strings.Contains(body, want) {
			t.Errorf("the invitation lacks %q:\n%s", want, body)
		}
	}
	if regexp.MustCompile(`\d{4}-\d\d-\d\dT\d\d:\d\d`).MatchString(body) {
		t.Error("the invitation shows an RFC 3339 time")
	}
	// Bound to this discussion: another is not found, staff pages send
	// them to sign in.
	res, body = b.get("/invitations/" + other.ID)
	wantStatus(t, res, body, http.StatusNotFound)
	if !b.signedIn() {
		t.Error("the partner's session does not show who is signed in")
	}
	// The code works once: the waiting session is gone.
	replay := s.browser()
	u, _ := url.Parse(s.url)
	replay.jar.SetCookies(u, []*http.Cookie{{Name: "__Host-convene", Value: sess.Value, Path: "/", Secure: true}})
	replay.get(tokenPath)
	res, body = replay.post(tokenPath+"/confirm", url.Values{"code": {code}})
	if res.StatusCode == http.StatusSeeOther && strings.HasPrefix(res.Header.Get("Location"), "/invitations/") {
		t.Fatal("the code signed in a second time")
	}
	// Every step is in the audit log.
	admin := service.WithPrincipal(context.Background(), &service.Principal{Subject: "ada", Roles: []service.Role{service.RoleAdmin}})
	entries, err := s.app.ListAudit(admin, service.AuditFilter{Resource: "discussions/" + d.ID, Limit: 200})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, e := range entries {
		seen[e.Action] = true
	}
	for _, want := range []string{"discussion.invitation.link", "discussion.sign_in_code.sent", "discussion.read", "session.sign_in"} {
		if !seen[want] {
			t.Errorf("no %s in the audit log (have %v)", want, seen)
		}
	}
}

func mustAtoi(t *testing.T, s string) int {
	t.Helper()
	var n int
	if _, err := fmt.Sscan(s, &n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestPartnerCodeLimits(t *testing.T) {
	t.Parallel()
	s := newSite(t)
	d := s.convene(t)
	tokenPath := strings.Replace(s.link(t, d, "dana@police.example.org", invites.PartStatDeclined), "/v1/rsvp/", "/invitation/", 1)

	t.Run("five wrong codes lock the code", func(t *testing.T) {
		b := s.browser()
		b.get(tokenPath)
		res, body := b.post(tokenPath+"/code", nil)
		b.get(wantRedirect(t, res, body, tokenPath+"/code"))
		code, _ := s.codeMail(t, "dana@police.example.org", 1)
		wrong := fmt.Sprintf("%06d", (mustAtoi(t, code)+7)%1_000_000)
		for i := 0; i < 5; i++ {
			res, body := b.post(tokenPath+"/confirm", url.Values{"code": {wrong}})
			wantStatus(t, res, body, http.StatusUnprocessableEntity)
		}
		res, body = b.post(tokenPath+"/confirm", url.Values{"code": {code}})
		wantStatus(t, res, body, http.StatusTooManyRequests)
		if !strings.Contains(body, "too many times") {
			t.Errorf("the locked page does not say why:\n%s", body)
		}
		// A second code within the minute is refused.
		res, body = b.post(tokenPath+"/code", nil)
		wantStatus(t, res, body, http.StatusTooManyRequests)
		if !strings.Contains(body, "less than a minute ago") {
			t.Errorf("the refused resend does not say why:\n%s", body)
		}
		// After a minute a new code may be sent, and it works.
		s.clock.advance(61 * time.Second)
		res, body = b.post(tokenPath+"/code", nil)
		wantRedirect(t, res, body, tokenPath+"/code")
		code, _ = s.codeMail(t, "dana@police.example.org", 2)
		res, body = b.post(tokenPath+"/confirm", url.Values{"code": {code}})
		wantRedirect(t, res, body, "/invitations/"+d.ID)
	})
	t.Run("a code expires after ten minutes", func(t *testing.T) {
		s.clock.advance(61 * time.Second)
		b := s.browser()
		b.get(tokenPath)
		res, body := b.post(tokenPath+"/code", nil)
		b.get(wantRedirect(t, res, body, tokenPath+"/code"))
		code, _ := s.codeMail(t, "dana@police.example.org", 3)
		s.clock.advance(10*time.Minute + time.Second)
		res, body = b.post(tokenPath+"/confirm", url.Values{"code": {code}})
		wantStatus(t, res, body, http.StatusUnprocessableEntity)
		if !strings.Contains(body, "The code has expired") {
			t.Errorf("the expired code's page does not say so:\n%s", body)
		}
	})
	t.Run("a forged or tampered link shows nothing", func(t *testing.T) {
		b := s.browser()
		res, body := b.get(tokenPath[:len(tokenPath)-3] + "xyz")
		if res.StatusCode != http.StatusNotFound || strings.Contains(body, "Email me a code") || !strings.Contains(body, "This link cannot be used") {
			t.Fatalf("a tampered link was taken: %d\n%s", res.StatusCode, body)
		}
		res, _ = b.post(tokenPath[:len(tokenPath)-3]+"xyz/code", url.Values{"csrf_token": {b.last}})
		if res.StatusCode == http.StatusSeeOther {
			t.Fatal("a tampered link sent a code")
		}
	})
	t.Run("a cancelled discussion's link says it is withdrawn", func(t *testing.T) {
		other := s.conveneAt(t, 15)
		link := strings.Replace(s.link(t, other, "dana@police.example.org", invites.PartStatAccepted), "/v1/rsvp/", "/invitation/", 1)
		if _, err := s.app.Cancel(s.bso, other.ID, "test: no longer needed"); err != nil {
			t.Fatal(err)
		}
		res, body := s.browser().get(link)
		if res.StatusCode != http.StatusNotFound || !strings.Contains(body, "This invitation was withdrawn.") {
			t.Fatalf("a withdrawn invitation's link: %d\n%s", res.StatusCode, body)
		}
	})
}

// Attempts at a code sent at once are counted one by one (the session's
// version guards each count): however many arrive together, at most five
// codes are ever compared.
func TestPartnerCodeAttemptsAtOnce(t *testing.T) {
	t.Parallel()
	s := newSite(t)
	d := s.convene(t)
	tokenPath := strings.Replace(s.link(t, d, "dana@police.example.org", invites.PartStatAccepted), "/v1/rsvp/", "/invitation/", 1)
	b := s.browser()
	b.get(tokenPath)
	res, body := b.post(tokenPath+"/code", nil)
	b.get(wantRedirect(t, res, body, tokenPath+"/code"))
	code, _ := s.codeMail(t, "dana@police.example.org", 1)
	token := b.last
	n := mustAtoi(t, code)
	var wg sync.WaitGroup
	var compared atomic.Int64
	for i := range 20 {
		wg.Add(1)
		wrong := fmt.Sprintf("%06d", (n+1+i)%1_000_000)
		go func() {
			defer wg.Done()
			// The browser's client, not b.do, which keeps the last page's
			// token: twenty posts at once share nothing else.
			req, _ := http.NewRequest(http.MethodPost, s.url+tokenPath+"/confirm",
				strings.NewReader(url.Values{"code": {wrong}, "csrf_token": {token}}.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("Sec-Fetch-Site", "same-origin")
			res, err := b.c.Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			defer res.Body.Close()
			raw, _ := io.ReadAll(res.Body)
			if strings.Contains(string(raw), "The code is not right") {
				compared.Add(1)
			}
		}()
	}
	wg.Wait()
	if n := compared.Load(); n < 1 || n > 5 {
		t.Fatalf("%d wrong codes were compared, want 1 to 5", n)
	}
	// Whatever is left of the five, the right code works only while some
	// are left.
	for range 5 {
		res, body = b.post(tokenPath+"/confirm", url.Values{"code": {fmt.Sprintf("%06d", (n+500)%1_000_000)}, "csrf_token": {token}})
	}
	res, body = b.post(tokenPath+"/confirm", url.Values{"code": {code}, "csrf_token": {token}})
	wantStatus(t, res, body, http.StatusTooManyRequests)
}
