package web_test

import (
	"context"
	"regexp"
	"strings"
	"testing"

	"github.com/convene/convene/service"
)

// TestPartnerRecordInBrowser: a partner agency's representative opens the
// record's circulation email link in Chromium, confirms the code, reads the
// record, is refused a disagreement without a reason and then gives one.
// Every page passes axe-core (WCAG 2.2 A and AA).
func TestPartnerRecordInBrowser(t *testing.T) {
	w := newStaffWorld(t)
	w.App.Mail.PublicURL = w.URL
	d := w.concludedS47("CR-2026-0816")
	bso := service.WithPrincipal(context.Background(), &staffDemo[0])
	if _, err := w.App.CirculateRecord(bso, d.ID); err != nil {
		t.Fatal(err)
	}
	rec, err := w.App.Record(bso, d.ID)
	if err != nil || len(rec.Signups) == 0 {
		t.Fatalf("the record asks no agency to sign up: %v %v", rec, err)
	}
	// The representative of the first agency asked.
	var who service.Invitee
	for _, inv := range d.Invitees {
		if inv.Agency == rec.Signups[0].Agency && !inv.Removed {
			who = inv
			break
		}
	}
	if who.Email == "" {
		t.Fatalf("nobody invited from %s", rec.Signups[0].Agency)
	}
	mail := w.mailTo(t, who.Email, "/record/", 0)
	if strings.Contains(mail, "CR-2026-0816") || strings.Contains(mail, "bruising") {
		t.Errorf("the circulation email carries case details:\n%s", mail)
	}
	link := regexp.MustCompile(`/record/[A-Za-z0-9._-]+`).FindString(mail)

	c := w.newChrome(t, 375, 800)
	c.open(link)
	c.see("record link", "Confirm it is you")
	if strings.Contains(c.text(), "CR-2026-0816") {
		t.Error("the link's page shows the case before the code")
	}
	c.submit(`form[action$="/code"] button[type="submit"]`)
	c.see("code page", "Enter the code we sent you")
	code := regexp.MustCompile(`sign-in code is (\d{6})`).FindStringSubmatch(w.mailTo(t, who.Email, "sign-in code is", 0))[1]
	c.fill("#code", code)
	c.submit(`form[action$="/confirm"] button[type="submit"]`)
	c.see("record", "Record of Strategy Discussion", "CR-2026-0816", "Start a section 47 enquiry", "agree with this record?")
	c.check("partner-record-phone")

	c.click("#decision-2")
	c.submit(`form[action="/records/` + d.ID + `"] button[type="submit"]`)
	c.see("refused disagreement", "There is a problem", "Say why your agency disagrees with the record")
	c.check("partner-record-error-phone")
	c.fill("#reason", "We hold information that does not support this threshold")
	c.submit(`form[action="/records/` + d.ID + `"] button[type="submit"]`)
	c.see("disagreement recorded", "disagreement is recorded", "We hold information that does not support this threshold")
	c.check("partner-record-dissent-phone")
}
