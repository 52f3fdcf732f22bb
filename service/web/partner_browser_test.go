package web_test

import (
	"bytes"
	"context"
	"io"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/emersion/go-message"

	"github.com/convene/convene/service"
	"github.com/convene/convene/service/policy"
)

var rsvpLinkRE = regexp.MustCompile(`/v1/rsvp/[A-Za-z0-9_.-]+`)

// mailTo waits for a message to the address whose text says want, and
// returns its decoded text parts.
func (w *staffWorld) mailTo(t *testing.T, to, want string, skip int) string {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		seen := 0
		for i := 1; i <= w.Mail.Count(); i++ {
			m := w.Mail.Message(t, i)
			if len(m.RcptTos) != 1 || m.RcptTos[0] != to {
				continue
			}
			text := decodedText(t, m.Raw)
			if strings.Contains(text, want) {
				if seen++; seen > skip {
					return text
				}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no message to %s saying %q within 20s", to, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// decodedText is every text part of a message, transfer encodings undone.
func decodedText(t *testing.T, raw []byte) string {
	t.Helper()
	e, err := message.Read(bytes.NewReader(raw))
	if err != nil && e == nil {
		t.Fatalf("reading a message: %v", err)
	}
	var b strings.Builder
	_ = e.Walk(func(_ []int, part *message.Entity, err error) error {
		if err != nil {
			return nil
		}
		if mt, _, _ := part.Header.ContentType(); strings.HasPrefix(mt, "text/") {
			body, _ := io.ReadAll(part.Body)
			b.Write(body)
			b.WriteString("\n")
		}
		return nil
	})
	return b.String()
}

// TestPartnerInBrowser: a police officer opens the link in the invitation
// Convene emailed her, asks for a code, types it from the second email,
// reads the invitation, and delegates to a colleague below the seniority
// needed, so is warned and then told business support must confirm; then
// the sign-in page, her invitations as an account holder, and a link that
// cannot be used. Every page passes axe-core's WCAG 2.2 A and AA rules and
// is saved as a screenshot.
func TestPartnerInBrowser(t *testing.T) {
	w := newStaffWorld(t)
	w.App.Mail.PublicURL = w.URL
	bso := service.WithPrincipal(context.Background(), &staffDemo[0])
	d, _, err := w.App.Convene(bso, service.ConveneRequest{CaseReference: "CR-2026-0815", ChairID: w.People["Chris"].ID,
		Case: partnerCase(), Invitees: []service.InviteeRequest{{PersonID: w.People["Sam"].ID, KnowsChild: true},
			{PersonID: w.People["Dana"].ID}, {PersonID: w.People["Nina"].ID}}})
	if err != nil {
		t.Fatal(err)
	}
	start := w.firstWorkingDay(11)
	if _, err := w.App.Book(bso, d.ID, service.BookRequest{Start: start, VenueID: w.Venue, OverrideReason: "test: the first working day"}); err != nil {
		t.Fatal(err)
	}
	dana := w.People["Dana"]
	invitation := w.mailTo(t, dana.Email, "/v1/rsvp/", 0)
	link := rsvpLinkRE.FindString(invitation)
	if strings.Contains(invitation, "Your Convene sign-in code") {
		t.Fatal("the invitation carries a code")
	}

	c := w.newChrome(t, 1024, 900)
	// Every page is watched for what its Content-Security-Policy blocks:
	// nothing may be (GOV.UK Frontend starts from a file, no inline script
	// or style).
	if _, err := chromedp.Call(c.ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{
		Source: `window.__csp = []; document.addEventListener("securitypolicyviolation", e => window.__csp.push(e.violatedDirective + " " + e.blockedURI))`,
	}); err != nil {
		t.Fatal(err)
	}
	check := func(name string) {
		t.Helper()
		c.check(name)
		blocked, err := chromedp.Run(c.ctx, chromedp.Evaluate[[]string](`window.__csp || []`))
		if err != nil {
			t.Fatal(err)
		}
		if len(blocked) > 0 {
			t.Errorf("%s: the CSP blocked %v", name, blocked)
		}
		supported, err := chromedp.Run(c.ctx, chromedp.Evaluate[bool](`document.body.classList.contains("govuk-frontend-supported")`))
		if err != nil || !supported {
			t.Errorf("%s: GOV.UK Frontend did not start (govuk-frontend-supported not set): %v", name, err)
		}
	}
	c.open(link)
	c.see("partner link", "Confirm it is you", "d••••@police.example.org")
	if strings.Contains(c.text(), "CR-2026-0815") {
		t.Error("the link's page shows the case before the code")
	}
	check("partner-1-link")
	c.submit(`form[action$="/code"] button[type="submit"]`)
	c.see("code page", "Enter the code we sent you")
	check("partner-2-code")

	// A wrong code first: the error summary names the field.
	code := regexp.MustCompile(`sign-in code is (\d{6})`).FindStringSubmatch(w.mailTo(t, dana.Email, "sign-in code is", 0))[1]
	wrong := "000000"
	if code == wrong {
		wrong = "111111"
	}
	c.fill("#code", wrong)
	c.submit(`form[action$="/confirm"] button[type="submit"]`)
	c.see("wrong code", "There is a problem", "The code is not right")
	check("partner-3-wrong-code")
	c.fill("#code", code)
	c.submit(`form[action$="/confirm"] button[type="submit"]`)
	c.see("invitation", "Strategy discussion invitation", "CR-2026-0815", sayWhen(start), "UK time", "MASH meeting room 2",
		"Why you are invited", "Not answered yet")
	check("partner-4-invitation")

	// Delegate to a constable: below the seniority needed, so warned.
	c.click("#answer-delegated")
	c.fill("#delegate-to", w.People["Pat"].Email)
	c.fill("#delegate-name", "Pat Constable")
	c.submit(`form[action="/invitations/` + d.ID + `"] button[type="submit"]`)
	c.see("delegation warning", "Pat Constable is below the minimum", "Delegate anyway")
	check("partner-5-delegation-warning")
	c.submit(`form[action="/invitations/` + d.ID + `"] button[type="submit"]`)
	c.see("delegated", "Your delegation is waiting for business support to confirm it")
	check("partner-6-delegated")

	held := w.discussion(d.ID).HeldReplies
	if len(held) != 1 || held[0].From != dana.Email || held[0].DelegatedTo != w.People["Pat"].Email {
		t.Fatalf("held replies %+v", held)
	}

	// Signed out, the sign-in page (and its error); an agency rep with an
	// account starts on her invitations; a link that cannot be used says
	// so.
	c.submit(`form[action="/sign-out"] button[type="submit"]`)
	c.see("signed out", "You have signed out.", "Dana Inspector")
	check("sign-in")
	c.submit(`form[action="/sign-in/demo"] button[type="submit"]`)
	c.see("sign-in refused", "There is a problem", "Select who you are signing in as.")
	check("sign-in-error")
	c.click(`input[name="person"][value="dana"]`)
	c.submit(`form[action="/sign-in/demo"] button[type="submit"]`)
	c.see("invitations", "Your invitations", "CR-2026-0815", "Not answered yet")
	check("invitations")
	c.open("/invitation/not-a-link")
	c.see("bad link", "This link cannot be used")
	check("link-cannot-be-used")
}

// partnerCase is an amber referral received now.
func partnerCase() policy.Case {
	return policy.Case{TimescaleRequest: policy.TimescaleRequest{RAG: policy.RAGAmber, Concerns: []policy.Concern{"other"},
		ReferralReceivedAt: time.Now()}}
}
