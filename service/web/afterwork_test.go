package web_test

import (
	"context"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/convene/convene/service"
	"github.com/convene/convene/service/policy"
)

// After the discussion, in the pages: the follow-ons as work (owner, due,
// where each is, marked met by the right person, the ICPC by its date),
// each participant's own authorisation of the outcome, and a failed
// message sent again. Each asks the App; the pages decide nothing.

// signInAnyone signs in as a demo person, wherever they land (an agency
// representative lands on their invitations, not on Today).
func (w *staffWorld) signInAnyone(subject string) *staffClient {
	w.t.Helper()
	jar, _ := cookiejar.New(nil)
	sc := &staffClient{w: w, c: &http.Client{Transport: w.srv.Client().Transport, Jar: jar}}
	sc.get("/sign-in", http.StatusOK)
	sc.post("/sign-in/demo", url.Values{"person": {subject}}, http.StatusOK)
	return sc
}

// started convenes and books a discussion, and the chair starts it (early,
// so with a reason).
func (w *staffWorld) started(ref string) *service.Discussion {
	w.t.Helper()
	d := w.convened(ref, 14)
	chris := service.WithPrincipal(context.Background(), &staffDemo[1])
	d, err := w.App.StartDiscussion(chris, d.ID, "Everyone who can come is here")
	if err != nil {
		w.t.Fatalf("starting: %v", err)
	}
	return d
}

// concludedS47 is a discussion whose chair has recorded a section 47
// enquiry, so the ICPC, the enquiry and the record follow.
func (w *staffWorld) concludedS47(ref string) *service.Discussion {
	w.t.Helper()
	return w.concludeS47(w.started(ref))
}

// concludeS47 records a section 47 enquiry on a started discussion.
func (w *staffWorld) concludeS47(d *service.Discussion) *service.Discussion {
	w.t.Helper()
	chris := service.WithPrincipal(context.Background(), &staffDemo[1])
	now := time.Now()
	d, err := w.App.RecordOutcome(chris, d.ID, service.Outcome{Outcome: policy.OutcomeS47Enquiry,
		SignsOfSafety: service.SignsOfSafety{Concerns: "Unexplained bruising", WorkingWell: "Engaged grandparent", NeedToKnow: "Medical opinion", NeedsToBeDone: "Joint visit"},
		Decisions:     []service.Decision{{Decision: "Start a section 47 enquiry", Rationale: "Reasonable cause to suspect significant harm"}},
		Actions:       []service.Action{{Description: "Joint visit", Owner: "Sam Social", Agency: policy.AgencySocialCare, Due: now.Add(48 * time.Hour), Purpose: "See the child alone"}},
		ChildSeen:     &service.ChildSeen{By: "Sam Social", At: now.Add(4 * time.Hour)},
		Review:        &service.Review{Date: now.Add(10 * 24 * time.Hour), Mechanism: "Review strategy discussion"}})
	if err != nil {
		w.t.Fatalf("recording the outcome: %v", err)
	}
	return d
}

// dateParts sets a GOV.UK date and time input's parts.
func dateParts(f url.Values, name string, t time.Time) {
	t = t.In(ukZone)
	for _, part := range [][2]string{{"day", "2"}, {"month", "1"}, {"year", "2006"}, {"hour", "15"}, {"minute", "04"}} {
		f.Set(name+"-"+part[0], t.Format(part[1]))
	}
}

// TestFollowOnsMarkedMet: business support see each follow-on with its
// owner, due time in words and state; marking one met with a time still to
// come is refused naming the field, keeping the note typed; then it is met
// and says when and by whom. The ICPC is met by its conference date, asked
// for by name when left out. A police officer may not close social care's
// work, and is told so.
func TestFollowOnsMarkedMet(t *testing.T) {
	w := newStaffWorld(t)
	d := w.concludedS47("CR-2026-0501")
	path := "/discussions/" + d.ID + "/follow-ons"
	var open string
	for _, fo := range d.FollowOns {
		if fo.ID != service.FollowOnRecord && fo.ID != service.FollowOnICPC {
			open = fo.ID
			break
		}
	}
	if open == "" {
		t.Fatalf("no follow-on to mark met among %+v", d.FollowOns)
	}
	var due, icpcSummary string
	for _, fo := range d.FollowOns {
		if fo.ID == open {
			due = sayWhen(fo.Due)
		}
		if fo.ID == service.FollowOnICPC {
			icpcSummary = fo.Summary
		}
	}
	if icpcSummary == "" {
		t.Fatalf("a section 47 enquiry has no ICPC follow-on: %+v", d.FollowOns)
	}

	bea := w.signIn("bea")
	page := bea.get("/discussions/"+d.ID, http.StatusOK)
	if !strings.Contains(page, `href="`+path+`"`) {
		t.Errorf("the discussion does not link to its follow-ons: %s", visibleText(page))
	}
	page = bea.get(path, http.StatusOK)
	readable(t, "follow-ons", page)
	text := visibleText(page)
	for _, want := range []string{"Owner Chris Chair, Children", "Due by " + due, "Where it is Open", "Owner Sam Social, Children", "This is met when the record is circulated"} {
		if !strings.Contains(text, want) {
			t.Errorf("follow-ons: no %q in %s", want, text)
		}
	}

	// Dana (police) may not mark social care's work met: told so, on the
	// page, with nothing typed lost.
	dana := w.signInAnyone("dana")
	dana.get(path, http.StatusOK)
	danaPage := dana.post(path+"/"+open+"/met", url.Values{open + ".note": {"Done by police"}}, http.StatusForbidden)
	if !strings.Contains(visibleText(danaPage), "Only business support, the chair or the owning agency") || !strings.Contains(danaPage, "Done by police</textarea>") {
		t.Errorf("police marking social care's follow-on: %s", visibleText(danaPage))
	}

	// Done tomorrow? Refused, naming the field; the note is kept.
	f := formValues(page, path+"/"+open+"/met")
	f.Set(open+".note", "Strategy visit completed with police")
	dateParts(f, open+".at", time.Now().Add(24*time.Hour))
	page = bea.post(path+"/"+open+"/met", f, http.StatusUnprocessableEntity)
	if !strings.Contains(page, `href="#`+open+`-at"`) || !strings.Contains(visibleText(page), "The time it was done is in the future") {
		t.Errorf("met in the future: want the error summary linking the time: %s", visibleText(page))
	}
	if !strings.Contains(page, "Strategy visit completed with police</textarea>") {
		t.Errorf("the note typed was lost: %s", visibleText(page))
	}
	// Not a real date: refused before the App is asked. (A browser sends
	// the textarea as shown; formValues reads only inputs.)
	f = formValues(page, path+"/"+open+"/met")
	f.Set(open+".note", "Strategy visit completed with police")
	f.Set(open+".at-month", "13")
	page = bea.post(path+"/"+open+"/met", f, http.StatusUnprocessableEntity)
	if !strings.Contains(page, `href="#`+open+`-at"`) || !strings.Contains(visibleText(page), "as a real date and time") {
		t.Errorf("a 13th month: %s", visibleText(page))
	}
	// Done just now.
	if !strings.Contains(page, "Strategy visit completed with police</textarea>") {
		t.Errorf("the note typed was lost the second time: %s", visibleText(page))
	}
	f = formValues(page, path+"/"+open+"/met")
	f.Set(open+".note", "Strategy visit completed with police")
	for _, p := range []string{"day", "month", "year", "hour", "minute"} {
		f.Del(open + ".at-" + p)
	}
	page = bea.post(path+"/"+open+"/met", f, http.StatusOK)
	text = visibleText(page)
	if !strings.Contains(text, "The follow-on is marked met") || !strings.Contains(text, "by Bea Support. Note: “Strategy visit completed with police”") {
		t.Errorf("after marking %s met: %s", open, text)
	}
	readable(t, "follow-ons after", page)
	if got := w.discussion(d.ID); !got.FollowOns[indexOf(got.FollowOns, open)].Done {
		t.Errorf("%s is not met in the store", open)
	}

	// The ICPC: the date is asked for by name; then recorded.
	page = bea.post(path+"/conference", url.Values{"conference.note": {"Room 4, Civic Centre"}}, http.StatusUnprocessableEntity)
	if !strings.Contains(page, `href="#conference-date"`) || !strings.Contains(page, "Room 4, Civic Centre</textarea>") {
		t.Errorf("a conference without a date: %s", visibleText(page))
	}
	conf := time.Now().In(ukZone).AddDate(0, 0, 5)
	conf = time.Date(conf.Year(), conf.Month(), conf.Day(), 10, 0, 0, 0, ukZone)
	f = url.Values{"conference.note": {"Room 4, Civic Centre"}}
	dateParts(f, "conference.date", conf)
	page = bea.post(path+"/conference", f, http.StatusOK)
	text = visibleText(page)
	if !strings.Contains(text, "The conference date is recorded") || !strings.Contains(text, "Met "+sayWhen(conf)+" by Bea Support") {
		t.Errorf("after recording the conference: %s", text)
	}

	// The record page links to the follow-ons too.
	chris := w.signIn("chris")
	if page = chris.get("/discussions/"+d.ID+"/record", http.StatusOK); !strings.Contains(page, `href="`+path+`"`) {
		t.Errorf("the record does not link to the follow-ons")
	}
}

func indexOf(fos []service.FollowOn, id string) int {
	for i, fo := range fos {
		if fo.ID == id {
			return i
		}
	}
	return -1
}

// TestOutcomeAuthorisedByThePolice: "no further action" needs the police
// officer in charge as well as the chair (000 §6). The chair's recording is
// refused until Dana, signed in as herself, authorises it on the page; then
// the outcome is recorded and the record names both.
func TestOutcomeAuthorisedByThePolice(t *testing.T) {
	w := newStaffWorld(t)
	d := w.started("CR-2026-0601")
	path := "/discussions/" + d.ID + "/authorise"
	chris := service.WithPrincipal(context.Background(), &staffDemo[1])
	nfa := service.Outcome{Outcome: policy.OutcomeNoFurtherAction,
		SignsOfSafety:     service.SignsOfSafety{Concerns: "Nothing known", WorkingWell: "Engaged parents", NeedToKnow: "Nothing", NeedsToBeDone: "Nothing"},
		Decisions:         []service.Decision{{Decision: "No further action", Rationale: "The bruise was explained by the school's accident log"}},
		Review:            &service.Review{Date: time.Now().Add(7 * 24 * time.Hour), Mechanism: "Supervision"},
		SupportConsidered: "Early help offered through the school"}
	if _, err := w.App.RecordOutcome(chris, d.ID, nfa); err == nil || !strings.Contains(err.Error(), "not authorised") {
		t.Fatalf("no further action without the police's authorisation: %v", err)
	}

	dana := w.signInAnyone("dana")
	page := dana.get(path, http.StatusOK)
	readable(t, "authorise", page)
	if !strings.Contains(visibleText(page), "Nobody has authorised an outcome yet") {
		t.Errorf("authorise page before anyone has: %s", visibleText(page))
	}
	page = dana.post(path, url.Values{}, http.StatusUnprocessableEntity)
	if !strings.Contains(page, `href="#outcome"`) || !strings.Contains(visibleText(page), "Choose the outcome you authorise") {
		t.Errorf("authorising nothing: %s", visibleText(page))
	}
	page = dana.post(path, url.Values{"outcome": {"no_further_action"}}, http.StatusOK)
	text := visibleText(page)
	for _, want := range []string{"Your authorisation is recorded", "Dana Inspector Police, Inspector No further action", "You have authorised: No further action"} {
		if !strings.Contains(text, want) {
			t.Errorf("after authorising: no %q in %s", want, text)
		}
	}
	readable(t, "authorised", page)

	// Someone not taking part cannot: Ada (an administrator) is not shown
	// the discussion at all.
	ada := w.signInAnyone("ada")
	ada.get(path, http.StatusNotFound)

	if _, err := w.App.RecordOutcome(chris, d.ID, nfa); err != nil {
		t.Fatalf("no further action, authorised by the police: %v", err)
	}
	c := w.signIn("chris")
	page = c.get("/discussions/"+d.ID+"/record", http.StatusOK)
	if text := visibleText(page); !strings.Contains(text, "Authorised by Chris Chair, Dana Inspector") || !strings.Contains(page, `href="`+path+`"`) {
		t.Errorf("the record's authorisations: %s", text)
	}
}

// TestFailedMessageSentAgain: an invitation the mail server refuses for
// good shows as failed on the discussion, which leads to the messages;
// business support send it again and are told it is back on the queue; an
// agency representative cannot.
func TestFailedMessageSentAgain(t *testing.T) {
	w := newStaffWorld(t)
	d := w.convened("CR-2026-0701", 14)
	admin := service.WithPrincipal(context.Background(), &staffDemo[2])
	// The test SMTP server refuses (550) any mailbox starting "reject".
	rita, err := w.App.CreatePerson(admin, service.Person{Name: "Rita Reject", Email: "reject.rita@school.example.org", Agency: policy.AgencyEducation, Role: "teacher", Seniority: 1})
	if err != nil {
		t.Fatal(err)
	}
	bea := w.signIn("bea")
	path := "/discussions/" + d.ID
	bea.post(path+"/attendees", url.Values{"person_id": {rita.ID}}, http.StatusOK)
	failed := w.failedMessage(d.ID, "reject.rita@school.example.org")

	page := bea.get(path, http.StatusOK)
	if !strings.Contains(visibleText(page), "A message failed.") || !strings.Contains(page, `href="`+path+`/messages"`) {
		t.Errorf("the discussion does not lead to the failed message: %s", visibleText(page))
	}
	page = bea.get(path+"/messages", http.StatusOK)
	readable(t, "messages", page)
	text := visibleText(page)
	if !strings.Contains(text, "Invitation Rita Reject (reject.rita@school.example.org) Failed") || !strings.Contains(text, "550") {
		t.Errorf("messages: %s", text)
	}
	action := path + "/messages/" + failed + "/resend"
	if !strings.Contains(page, `action="`+action+`"`) {
		t.Fatalf("no send-again form for the failed message: %s", text)
	}
	// An agency representative may not.
	dana := w.signInAnyone("dana")
	dana.get("/invitations", http.StatusOK)
	dana.post(action, url.Values{}, http.StatusForbidden)

	page = bea.post(action, url.Values{}, http.StatusOK)
	if !strings.Contains(visibleText(page), "The message is back on the send queue") {
		t.Errorf("after sending again: %s", visibleText(page))
	}
	// The mail server refuses it again (the cause is not put right): it
	// is tried again, and fails again, with a fresh attempt.
	w.failedMessage(d.ID, "reject.rita@school.example.org")
	// Sending a message that has not failed is refused in words.
	var sent string
	msgs, _ := w.App.DiscussionMessages(service.WithPrincipal(context.Background(), &staffDemo[0]), w.discussion(d.ID))
	for _, m := range msgs {
		if m.State == service.MessageSent {
			sent = m.ID
		}
	}
	if sent == "" {
		t.Fatalf("no invitation was sent: %+v", msgs)
	}
	page = bea.post(path+"/messages/"+sent+"/resend", url.Values{}, http.StatusUnprocessableEntity)
	if !strings.Contains(visibleText(page), "Only a message that failed can be re-sent") {
		t.Errorf("sending a sent message again: %s", visibleText(page))
	}
}

// failedMessage waits (with a deadline) for the invitation to to have
// failed, and returns its id.
func (w *staffWorld) failedMessage(id, to string) string {
	w.t.Helper()
	ctx := service.WithPrincipal(context.Background(), &staffDemo[0])
	deadline := time.Now().Add(30 * time.Second)
	for {
		msgs, err := w.App.DiscussionMessages(ctx, w.discussion(id))
		if err != nil {
			w.t.Fatal(err)
		}
		for _, m := range msgs {
			if m.To == to && m.State == service.MessageFailed && m.Attempts > 0 {
				return m.ID
			}
		}
		if time.Now().After(deadline) {
			w.t.Fatalf("no failed message to %s: %+v", to, msgs)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestAfterTheMeetingInBrowser: in Chromium, business support mark a
// follow-on met (refused first, naming the field) and send a failed
// invitation again; the police officer, on a phone, authorises the
// outcome. Each page passes axe-core's WCAG 2.2 A and AA rules.
func TestAfterTheMeetingInBrowser(t *testing.T) {
	w := newStaffWorld(t)
	d := w.convened("CR-2026-0801", 14)
	admin := service.WithPrincipal(context.Background(), &staffDemo[2])
	rita, err := w.App.CreatePerson(admin, service.Person{Name: "Rita Reject", Email: "reject.rita@school.example.org", Agency: policy.AgencyEducation, Role: "teacher", Seniority: 1})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.App.AddAttendee(service.WithPrincipal(context.Background(), &staffDemo[0]), d.ID, service.InviteeRequest{PersonID: rita.ID}); err != nil {
		t.Fatal(err)
	}
	w.failedMessage(d.ID, "reject.rita@school.example.org")
	chris := service.WithPrincipal(context.Background(), &staffDemo[1])
	if _, err := w.App.StartDiscussion(chris, d.ID, "Everyone who can come is here"); err != nil {
		t.Fatal(err)
	}
	d = w.concludeS47(w.discussion(d.ID))
	path := "/discussions/" + d.ID

	bea := w.newChrome(t, 1280, 900)
	bea.signIn("bea")
	bea.open(path)
	bea.submit(`a[href="` + path + `/follow-ons"]`)
	bea.do(chromedp.WaitReady(chromedp.CSS("#follow-on-S47")))
	bea.see("follow-ons", "Section 47 enquiry completed", "Owner Sam Social", "Initial child protection conference", "Where it is Open")
	bea.check("follow-ons")
	tomorrow := time.Now().In(ukZone).Add(24 * time.Hour)
	bea.fill("#S47-at", tomorrow.Format("2"))
	bea.fill("#S47-at-month", tomorrow.Format("1"))
	bea.fill("#S47-at-year", tomorrow.Format("2006"))
	bea.fill("#S47-at-hour", "09")
	bea.fill("#S47-at-minute", "30")
	bea.fill("#S47-note", "Enquiry concluded; outcome letter sent")
	bea.submit(`form[action="` + path + `/follow-ons/S47/met"] button`)
	bea.see("met in the future", "There is a problem", "The time it was done is in the future")
	bea.check("follow-ons-error")
	for _, part := range []string{"", "-month", "-year", "-hour", "-minute"} {
		bea.fill("#S47-at"+part, "")
	}
	bea.submit(`form[action="` + path + `/follow-ons/S47/met"] button`)
	bea.see("met", "The follow-on is marked met", "by Bea Support. Note: “Enquiry concluded; outcome letter sent”")

	bea.open(path)
	bea.see("discussion", "A message failed.")
	bea.submit(`a[href="` + path + `/messages"]`)
	bea.do(chromedp.WaitReady(chromedp.CSS(`form[action$="/resend"]`)))
	bea.see("messages", "Rita Reject (reject.rita@school.example.org) Failed")
	bea.check("messages")
	bea.submit(`form[action$="/resend"] button`)
	bea.see("sent again", "The message is back on the send queue")

	dana := w.newChrome(t, 375, 812)
	dana.signIn("dana")
	dana.open(path + "/authorise")
	dana.see("authorise", "Which outcome do you authorise?", "Chris Chair")
	dana.check("authorise-phone")
	dana.click(`input[name="outcome"][value="s47_enquiry"]`)
	dana.submit(`form[action="` + path + `/authorise"] button`)
	dana.see("authorised", "Your authorisation is recorded", "You have authorised: Section 47 enquiry")
	dana.check("authorised-phone")
	if got := bea.checks + dana.checks; got != 5 {
		t.Errorf("axe ran on %d pages, want 5", got)
	}
}

// TestConferenceAfterItsDeadline: a conference booked after the ICPC's
// deadline is recorded, and the follow-on shows as missed, saying when
// the conference is.
func TestConferenceAfterItsDeadline(t *testing.T) {
	w := newStaffWorld(t)
	d := w.concludedS47("CR-2026-0901")
	due := d.FollowOns[indexOf(d.FollowOns, service.FollowOnICPC)].Due
	late := due.In(ukZone).AddDate(0, 0, 3)
	late = time.Date(late.Year(), late.Month(), late.Day(), 10, 0, 0, 0, ukZone)
	bea := w.signIn("bea")
	path := "/discussions/" + d.ID + "/follow-ons"
	f := url.Values{"conference.note": {"First date the chair is free"}}
	dateParts(f, "conference.date", late)
	page := bea.post(path+"/conference", f, http.StatusOK)
	text := visibleText(page)
	want := "Where it is Missed: the conference is on " + sayWhen(late) + ", after its deadline. Note: “First date the chair is free”"
	if !strings.Contains(text, "The conference date is recorded") || !strings.Contains(text, want) {
		t.Errorf("a late conference: want %q in %s", want, text)
	}
	if !strings.Contains(page, `govuk-tag--red">Missed</strong>`) {
		t.Errorf("a late conference is not tagged missed: %s", text)
	}
	readable(t, "late conference", page)
	// Missed is not closed: the form is still offered, for a corrected
	// date.
	if !strings.Contains(page, `action="`+path+`/conference"`) {
		t.Errorf("a missed ICPC offers no form: %s", text)
	}
}
