package httpapi_test

// A recipient's server that keeps putting a message off (451) until the
// outbox's attempts run out: the message fails, business support are told
// (the timeline, their inbox), the failure is counted, and they can put
// it back on the queue. The other recipients of the booking are not held
// up by it.

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/convene/convene/service"
)

// noticeItem is an inbox item as the API shows it; only what this test
// reads.
type noticeItem struct {
	ID           string `json:"id"`
	DiscussionID string `json:"discussion_id"`
	Kind         string `json:"kind"`
	Key          string `json:"key"`
	Words        string `json:"words"`
	Link         string `json:"link"`
}

// inboxOf reads the caller's inbox.
func inboxOf(t *testing.T, h *mailHarness, tok string) []noticeItem {
	t.Helper()
	r := h.at(t).do("GET", "/v1/inbox", tok, nil)
	if r.Status != http.StatusOK {
		t.Fatalf("inbox: %d %s", r.Status, r.Body)
	}
	conforms(t, "GET", "/v1/inbox", r)
	var doc struct {
		Items []noticeItem `json:"items"`
	}
	decodeInto(t, r.Body, &doc)
	return doc.Items
}

func TestOutboxGivesUpWhenItsAttemptsRunOut(t *testing.T) {
	t.Parallel()
	srv := startSMTPD(t, 0, "")
	h := newMailHarness(t, smtpSender(srv.addr))
	// The server puts off "later…" mailboxes with 451, every time.
	const deferred = "later.mailbox@police.example.uk"
	pid := h.addPerson(t, map[string]any{"name": "PC Deferred", "email": deferred, "agency": "police", "role": "police_officer", "seniority": 1})
	id := h.convene(t, func(req map[string]any) {
		req["invitees"] = append(req["invitees"].([]map[string]any), map[string]any{"person_id": pid})
	})
	h.book(t, id, meetingStart)

	// Three attempts, retried within milliseconds of each other.
	const attempts = 3
	w := worker(h.app, h.sender, "instance-1")
	w.MaxAttempts, w.RetryBase, w.RetryMax = attempts, 10*time.Millisecond, 20*time.Millisecond
	stop := dispatch(t, w)

	waitFor(t, 60*time.Second, "the deferred message failed and the failure is on the timeline", func() bool {
		for _, e := range h.discussion(t, id).Timeline {
			if e.Kind == "mail_failed" {
				return true
			}
		}
		return false
	})
	// Stopped, so that nothing claims the message once it is re-queued
	// (stop waits for the failure to be recorded on the discussion).
	stop()

	d := h.discussion(t, id)
	failed := d.outboxTo("REQUEST", deferred)
	if len(failed) != 1 {
		t.Fatalf("the outbox holds %d REQUESTs to %s, want 1: %+v", len(failed), deferred, d.Outbox)
	}
	f := failed[0]
	if f.State != "failed" || f.Attempts != attempts || !strings.Contains(f.LastError, "451") {
		t.Errorf("the deferred message is %+v: want failed after %d attempts, with the server's 451 reply", f, attempts)
	}
	var entries []string
	for _, e := range d.Timeline {
		if e.Kind == "mail_failed" {
			entries = append(entries, e.Detail)
		}
	}
	if len(entries) != 1 || !strings.Contains(entries[0], deferred) || !strings.Contains(entries[0], fmt.Sprintf("after %d attempts", attempts)) {
		t.Errorf("mail_failed on the timeline: %q, want one entry naming %s and its %d attempts", entries, deferred, attempts)
	}

	// Every other recipient got their invitation once, at the first
	// attempt: the deferred one held nobody up.
	to := byRecipient(t, srv.received(t))
	for _, e := range invitedEmails {
		if len(to[e]) != 1 {
			t.Errorf("%s received %d messages, want 1", e, len(to[e]))
		}
		if ms := d.outboxTo("REQUEST", e); len(ms) != 1 || ms[0].State != "sent" || ms[0].Attempts != 1 {
			t.Errorf("outbox to %s: %+v, want sent at the first attempt", e, ms)
		}
	}
	if len(to[deferred]) != 0 {
		t.Errorf("the server accepted %d messages to %s, which it puts off", len(to[deferred]), deferred)
	}
	if got, want := w.Failed.Load(), int64(1); got != want {
		t.Errorf("the worker counted %d failures, want %d", got, want)
	}
	if got, want := w.Sent.Load(), int64(len(invitedEmails)); got != want {
		t.Errorf("the worker counted %d sent, want %d", got, want)
	}

	// Business support's inbox says so, for this discussion and message;
	// the chair's does not (business support re-send mail).
	var notices []noticeItem
	for _, n := range inboxOf(t, h, h.support) {
		if n.Kind == string(service.NoticeMailFailed) {
			notices = append(notices, n)
		}
	}
	if len(notices) != 1 {
		t.Fatalf("business support's inbox has %d mail-failed notices, want 1: %+v", len(notices), notices)
	}
	if n := notices[0]; n.DiscussionID != id || n.Key != f.ID || n.Words != service.NoticeMailFailed.Words() || !strings.HasSuffix(n.Link, "/discussions/"+id) {
		t.Errorf("the mail-failed notice is %+v, want it for discussion %s and message %s, linking to it", n, id, f.ID)
	}
	chair := token(t, service.RoleChair, "social_care", func(p *service.Principal) { p.Email = samChair })
	for _, n := range inboxOf(t, h, chair) {
		if n.Kind == string(service.NoticeMailFailed) {
			t.Errorf("the chair's inbox has a mail-failed notice: %+v", n)
		}
	}

	// Business support put it back on the queue: queued, its attempts
	// counted afresh.
	r := h.at(t).do("POST", "/v1/discussions/"+id+"/messages/"+url.PathEscape(f.ID)+"/requeue", h.support, nil)
	if r.Status != http.StatusOK {
		t.Fatalf("requeue: %d %s", r.Status, r.Body)
	}
	conforms(t, "POST", "/v1/discussions/{id}/messages/{message}/requeue", r)
	var again mailMessage
	decodeInto(t, r.Body, &again)
	if again.ID != f.ID || again.State != "queued" || again.Attempts != 0 {
		t.Errorf("the requeue answered %+v, want %s queued with no attempts", again, f.ID)
	}
	stored := latestMessage(t, h.messages(t, id), "REQUEST", deferred)
	if stored.State != service.MessageQueued || stored.Attempts != 0 || stored.NextAttempt.After(h.clock.Now()) {
		t.Errorf("the re-queued message as stored: %s, %d attempts, next at %s; want queued, 0, due now", stored.State, stored.Attempts, stored.NextAttempt)
	}
	if m := h.discussion(t, id).outboxTo("REQUEST", deferred)[0]; m.State != "queued" || m.Attempts != 0 {
		t.Errorf("the discussion's outbox shows the re-queued message as %+v", m)
	}
}
