package httpapi_test

// Replies, counter proposals, delegations and refresh requests as mail
// clients send them, posted to POST /v1/imip by the mail gateway, and what
// they do to the discussion they answer; RSVP links; and what business
// support does with held replies and counter proposals.

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/convene/convene/invites"
	"github.com/convene/convene/service"
)

// samDeputyNamed is Ola's colleague as the directory has her: a named
// professional, senior enough to stand in for Ola.
var samDeputyNamed = map[string]any{"name": "Sam Deputy", "email": samDeputy, "agency": "health", "role": "safeguarding_nurse", "seniority": 3}

func TestRepliesFromMailClientsAreRecorded(t *testing.T) {
	t.Parallel()
	at := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	tests := []struct {
		file     string
		method   string
		attendee string // who the reply speaks for
		// directory is who else is in the directory (a delegate).
		directory []map[string]any
		check     func(t *testing.T, h *mailHarness, id string, before, after mailDiscussion)
	}{
		{file: "outlook-desktop-accepted.eml", method: "REPLY", attendee: priya, check: replied(priya, "accepted", "")},
		{file: "exchange-accepted-sent-by.eml", method: "REPLY", attendee: priya, check: replied(priya, "accepted", "")},
		{file: "exchange-owa-declined.eml", method: "REPLY", attendee: ola,
			check: replied(ola, "declined", "In clinic all morning. Our safeguarding lead will contact you.")},
		{file: "outlookcom-tentative.eml", method: "REPLY", attendee: jordan, check: replied(jordan, "tentative", "")},
		{file: "outlook2010-accepted-windows-1252.eml", method: "REPLY", attendee: renee, check: replied(renee, "accepted", "")},
		{file: "gmail-accepted.eml", method: "REPLY", attendee: samChair, check: replied(samChair, "accepted", "")},
		{file: "gmail-declined-note.eml", method: "REPLY", attendee: priya,
			check: replied(priya, "declined", "On a late shift that day, DS Khan will cover")},
		{file: "webmail-attachment-only.eml", method: "REPLY", attendee: ola, check: replied(ola, "accepted", "")},
		{file: "apple-delegated.eml", method: "REPLY", attendee: ola, directory: []map[string]any{samDeputyNamed},
			check: func(t *testing.T, h *mailHarness, id string, before, after mailDiscussion) {
				replied(ola, "delegated", "")(t, h, id, before, after)
				if got := after.attendee(ola).DelegatedTo; got != samDeputy {
					t.Errorf("Ola delegated_to = %q, want %q", got, samDeputy)
				}
				dep := after.attendee(samDeputy)
				if dep == nil {
					t.Fatalf("the delegate is not on the invitation list: %+v", after.Attendees)
				}
				if dep.DelegatedFrom != ola || dep.Reply != "needs_action" {
					t.Errorf("delegate = %+v, want delegated_from %s and no reply yet", *dep, ola)
				}
				// The delegate gets an invitation of their own, which shows
				// whom they stand in for.
				if got := after.outboxTo("REQUEST", samDeputy); len(got) != 1 || got[0].State != "queued" || got[0].Sequence != 0 {
					t.Fatalf("REQUEST to the delegate: %+v, want one queued at SEQUENCE 0", got)
				}
				inv := readInvitation(t, latestMessage(t, h.messages(t, id), "REQUEST", samDeputy).Raw)
				if inv.Method != "REQUEST" || inv.MIMEMethod != "REQUEST" {
					t.Errorf("delegate's invitation: METHOD %q, MIME method %q", inv.Method, inv.MIMEMethod)
				}
				if a := inv.Attendees[samDeputy]; a == nil || !strings.EqualFold(a.Params.Get("DELEGATED-FROM"), "mailto:"+ola) {
					t.Errorf("the delegate's ATTENDEE does not say DELEGATED-FROM %s: %v", ola, a)
				}
				if a := inv.Attendees[ola]; a == nil || a.Params.Get("PARTSTAT") != "DELEGATED" {
					t.Errorf("Ola's ATTENDEE is not PARTSTAT=DELEGATED: %v", a)
				}
			}},
		{file: "outlook-desktop-counter.eml", method: "COUNTER", attendee: priya,
			check: proposed(priya, at("2026-07-14T13:00:00Z"), at("2026-07-14T14:00:00Z"), "I'm in court until 13:00. Could we start at 14:00?")},
		{file: "exchange-counter-custom-zone.eml", method: "COUNTER", attendee: ola,
			check: proposed(ola, at("2026-12-01T15:00:00Z"), at("2026-12-01T16:00:00Z"), "Could we move to the afternoon?")},
		{file: "thunderbird-refresh.eml", method: "REFRESH", attendee: jordan,
			check: func(t *testing.T, h *mailHarness, id string, before, after mailDiscussion) {
				if got, want := len(after.outboxTo("REQUEST", jordan)), len(before.outboxTo("REQUEST", jordan))+1; got != want {
					t.Fatalf("REQUESTs to Jordan: %d, want %d (the refresh re-sends it)", got, want)
				}
				inv := readInvitation(t, latestMessage(t, h.messages(t, id), "REQUEST", jordan).Raw)
				if inv.Method != "REQUEST" || inv.Sequence != after.Sequence {
					t.Errorf("re-sent invitation: METHOD %s SEQUENCE %d, want REQUEST at %d", inv.Method, inv.Sequence, after.Sequence)
				}
				unchangedReplies(t, before, after)
			}},
	}
	for _, tc := range tests {
		t.Run(strings.TrimSuffix(tc.file, ".eml"), func(t *testing.T) {
			t.Parallel()
			h := newMailHarness(t, nil)
			for _, p := range tc.directory {
				h.addPerson(t, p)
			}
			id, uid := h.booked(t)
			before := h.discussion(t, id)
			in := h.imipOK(t, replyFixture(t, tc.file, uid), service.InboundRecorded)
			if in.DiscussionID != id || in.Attendee != tc.attendee || in.Method != tc.method {
				t.Errorf("result = %+v, want %s from %s for %s", in, tc.method, tc.attendee, id)
			}
			after := h.discussion(t, id)
			if len(after.Timeline) <= len(before.Timeline) {
				t.Errorf("timeline %d → %d events: nothing was recorded", len(before.Timeline), len(after.Timeline))
			}
			tc.check(t, h, id, before, after)
			recs, err := h.store.InboundRecords(context.Background(), id, 10)
			if err != nil {
				t.Fatal(err)
			}
			if len(recs) != 1 || recs[0].Result != service.InboundRecorded || recs[0].Attendee != tc.attendee || recs[0].Channel != "http" || recs[0].UID != uid {
				t.Errorf("inbound records = %+v, want one recorded for %s", recs, tc.attendee)
			}
		})
	}
}

// replied checks the attendee's reply and comment, and that nobody else's
// reply changed.
func replied(email, reply, comment string) func(*testing.T, *mailHarness, string, mailDiscussion, mailDiscussion) {
	return func(t *testing.T, _ *mailHarness, _ string, before, after mailDiscussion) {
		t.Helper()
		a := after.attendee(email)
		if a == nil {
			t.Fatalf("%s is not an attendee", email)
		}
		if a.Reply != reply || a.Comment != comment {
			t.Errorf("%s: reply %q comment %q, want %q %q", email, a.Reply, a.Comment, reply, comment)
		}
		for _, b := range before.Attendees {
			if b.Email != email && after.attendee(b.Email).Reply != b.Reply {
				t.Errorf("%s's reply changed too: %q → %q", b.Email, b.Reply, after.attendee(b.Email).Reply)
			}
		}
	}
}

// proposed checks a counter proposal is stored, pending, and changes
// nobody's reply or the booking.
func proposed(from string, start, end time.Time, comment string) func(*testing.T, *mailHarness, string, mailDiscussion, mailDiscussion) {
	return func(t *testing.T, _ *mailHarness, _ string, before, after mailDiscussion) {
		t.Helper()
		if len(after.Counters) != 1 {
			t.Fatalf("counters = %+v, want one", after.Counters)
		}
		c := after.Counters[0]
		if c.From != from || !c.Start.Equal(start) || !c.End.Equal(end) || c.Status != "pending" || c.Comment != comment {
			t.Errorf("counter = %+v, want pending from %s, %s to %s, comment %q", c, from, start, end, comment)
		}
		unchangedReplies(t, before, after)
		if !after.Booking.Start.Equal(before.Booking.Start) || after.Sequence != before.Sequence {
			t.Errorf("a proposal moved the meeting: %s seq %d → %s seq %d", before.Booking.Start, before.Sequence, after.Booking.Start, after.Sequence)
		}
	}
}

func unchangedReplies(t *testing.T, before, after mailDiscussion) {
	t.Helper()
	for e, r := range before.replies() {
		if got := after.replies()[e]; got != r {
			t.Errorf("%s's reply changed: %q → %q", e, r, got)
		}
	}
}

// sameDiscussion fails unless nothing about the discussion changed.
func sameDiscussion(t *testing.T, before, after mailDiscussion) {
	t.Helper()
	if after.Version != before.Version {
		t.Errorf("version %d → %d: the discussion changed", before.Version, after.Version)
	}
	unchangedReplies(t, before, after)
	if len(after.Attendees) != len(before.Attendees) || len(after.Counters) != len(before.Counters) ||
		len(after.HeldReplies) != len(before.HeldReplies) || len(after.Outbox) != len(before.Outbox) ||
		len(after.Timeline) != len(before.Timeline) || after.Sequence != before.Sequence {
		t.Errorf("the discussion changed:\nbefore %+v\nafter  %+v", before, after)
	}
}

// healthForecast reads the health requirement of the forecast quorum: its
// state, and who satisfies it for whom.
func healthForecast(t *testing.T, h *mailHarness, id string) (status, by, delegateFor string) {
	t.Helper()
	r := h.at(t).do("GET", "/v1/discussions/"+id+"/quorum", h.support, nil)
	if r.Status != 200 {
		t.Fatalf("quorum: %d %s", r.Status, r.Body)
	}
	conforms(t, "GET", "/v1/discussions/{id}/quorum", r)
	var q struct {
		Forecast struct {
			Requirements []struct {
				ID          string `json:"id"`
				Status      string `json:"status"`
				SatisfiedBy *struct {
					Name        string `json:"name"`
					DelegateFor string `json:"delegate_for"`
				} `json:"satisfied_by"`
			} `json:"requirements"`
		} `json:"forecast"`
	}
	decodeInto(t, r.Body, &q)
	for _, req := range q.Forecast.Requirements {
		if req.ID == "health" {
			if req.SatisfiedBy != nil {
				return req.Status, req.SatisfiedBy.Name, req.SatisfiedBy.DelegateFor
			}
			return req.Status, "", ""
		}
	}
	t.Fatalf("no health requirement in %s", r.Body)
	return "", "", ""
}

// TestDelegateCountsInQuorumOnlyIfSeniorEnough: Ola, the health place's
// named professional, delegates by email to Sam Deputy. Only a delegate in
// the directory, of the same agency and at the place's minimum, is taken
// on the email's word; any other delegation is held for business support,
// changes nothing until admitted, and even then does not count.
func TestDelegateCountsInQuorumOnlyIfSeniorEnough(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		delegate map[string]any // in the directory, or nil
		why      string         // why the delegation is held; "" if it is not
	}{
		{"named professional in the directory", samDeputyNamed, ""},
		{"practitioner in the directory",
			map[string]any{"name": "Sam Deputy", "email": samDeputy, "agency": "health", "role": "safeguarding_nurse", "seniority": 1},
			"below the minimum for health"},
		{"not in the directory", nil, "not in the directory"},
		{"from another agency",
			map[string]any{"name": "Sam Deputy", "email": samDeputy, "agency": "police", "role": "police_officer", "seniority": 3},
			"is from police, not health"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newMailHarness(t, nil)
			if tc.delegate != nil {
				h.addPerson(t, tc.delegate)
			}
			id, uid := h.booked(t)
			if tc.why == "" {
				h.imipOK(t, replyFixture(t, "apple-delegated.eml", uid), service.InboundRecorded)
				// A delegate who has not answered is not forecast to come.
				if status, _, _ := healthForecast(t, h, id); status == "satisfied" {
					t.Errorf("health satisfied by a delegate who has not answered")
				}
				h.imipOK(t, builtReply(t, h, uid, samDeputy, invites.PartStatAccepted), service.InboundRecorded)
				status, by, forWhom := healthForecast(t, h, id)
				if status != "satisfied" || by != "Sam Deputy" || forWhom == "" {
					t.Errorf("health %s by %q for %q, want satisfied by Sam Deputy standing in for Ola", status, by, forWhom)
				}
				return
			}

			before := h.discussion(t, id)
			h.imipOK(t, replyFixture(t, "apple-delegated.eml", uid), service.InboundHeld)
			held := h.discussion(t, id)
			if len(held.HeldReplies) != 1 {
				t.Fatalf("held replies = %+v, want the delegation", held.HeldReplies)
			}
			hr := held.HeldReplies[0]
			if hr.Kind != "delegation" || hr.From != ola || hr.DelegatedTo != samDeputy || hr.Status != "held" || !strings.Contains(hr.Reason, tc.why) {
				t.Errorf("held reply = %+v, want Ola's delegation to Sam Deputy held because %s", hr, tc.why)
			}
			unchangedReplies(t, before, held)
			if held.attendee(samDeputy) != nil || len(held.outboxTo("REQUEST", samDeputy)) != 0 {
				t.Errorf("a held delegation invited the delegate")
			}
			if status, _, _ := healthForecast(t, h, id); status == "satisfied" {
				t.Errorf("health satisfied by a held delegation")
			}

			// Admitted: the delegation stands, and the delegate is invited,
			// but still cannot fill a place they are not senior enough for.
			r := h.at(t).do("POST", "/v1/discussions/"+id+"/held-replies/"+hr.ID+"/admit", h.support, nil)
			if r.Status != 200 {
				t.Fatalf("admit: %d %s", r.Status, r.Body)
			}
			admitted := h.discussion(t, id)
			if a := admitted.attendee(ola); a == nil || a.Reply != "delegated" || a.DelegatedTo != samDeputy {
				t.Errorf("Ola after admitting = %+v, want delegated to Sam Deputy", a)
			}
			if d := admitted.attendee(samDeputy); d == nil || d.DelegatedFrom != ola || len(admitted.outboxTo("REQUEST", samDeputy)) != 1 {
				t.Errorf("delegate after admitting = %+v, want invited in Ola's place", d)
			}
			h.imipOK(t, builtReply(t, h, uid, samDeputy, invites.PartStatAccepted), service.InboundRecorded)
			if status, by, _ := healthForecast(t, h, id); status == "satisfied" {
				t.Errorf("health satisfied (by %s) by a delegate who does not meet its minimum", by)
			}
		})
	}
}

func TestBadRepliesChangeNothing(t *testing.T) {
	t.Parallel()
	// rejected posts raw, expects a 422 with the result, and checks the
	// discussion is as it was, and the message recorded and audited.
	rejected := func(t *testing.T, h *mailHarness, id string, raw []byte, result string) {
		t.Helper()
		before := h.discussion(t, id)
		// Authenticated or not, as the gateway passes it on: what is wrong
		// with it is not who sent it.
		p := problemOf(t, h.imip(t, authenticated(t, raw)), http.StatusUnprocessableEntity)
		if p["result"] != result {
			t.Errorf("problem result = %v, want %s: %v", p["result"], result, p)
		}
		sameDiscussion(t, before, h.discussion(t, id))
		recs, err := h.store.InboundRecords(context.Background(), "", 50)
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) == 0 || recs[0].Result != result {
			t.Fatalf("newest inbound record = %+v, want %s", recs, result)
		}
		r := h.at(t).do("GET", "/v1/audit?resource=inbound/"+recs[0].ID, h.admin, nil)
		var page struct {
			Items []service.AuditEntry `json:"items"`
		}
		decodeInto(t, r.Body, &page)
		if r.Status != 200 || len(page.Items) != 1 || page.Items[0].Action != "inbound.reject" || page.Items[0].Detail["result"] != result {
			t.Errorf("audit of the rejection: %d %s", r.Status, r.Body)
		}
	}

	t.Run("spoofed", func(t *testing.T) {
		t.Parallel()
		// From is another mailbox than the attendee it answers for.
		h := newMailHarness(t, nil)
		id, uid := h.booked(t)
		rejected(t, h, id, replyFixture(t, "spoofed-from.eml", uid), service.InboundRejectSpoofed)
	})
	t.Run("spoofed, claiming to be sent by", func(t *testing.T) {
		t.Parallel()
		// The forger also names their own mailbox as the attendee's
		// SENT-BY: a parameter of the very message being judged, so it
		// vouches for nothing unless it is the attendee's own organisation.
		h := newMailHarness(t, nil)
		id, uid := h.booked(t)
		raw := replyFixture(t, "spoofed-from.eml", uid, "ATTENDEE;PARTSTAT=ACCEPTED;CN=",
			`ATTENDEE;PARTSTAT=ACCEPTED;SENT-BY="mailto:priya.patel@mailbox.example.com";CN=`)
		rejected(t, h, id, raw, service.InboundRejectSpoofed)
	})
	t.Run("one invitee answering for another", func(t *testing.T) {
		t.Parallel()
		h := newMailHarness(t, nil)
		id, uid := h.booked(t)
		raw := replyFixture(t, "outlook-desktop-accepted.eml", uid, "From: DS Priya Patel <priya.patel@police.example.uk>", "From: Dr Ola Health <"+ola+">")
		rejected(t, h, id, raw, service.InboundRejectSpoofed)
	})
	t.Run("unknown UID", func(t *testing.T) {
		t.Parallel()
		h := newMailHarness(t, nil)
		id, _ := h.booked(t)
		rejected(t, h, id, replyFixture(t, "outlook-desktop-accepted.eml", "0123456789abcdef0123456789abcdef@convene"), service.InboundRejectUnknown)
	})
	t.Run("malformed", func(t *testing.T) {
		t.Parallel()
		h := newMailHarness(t, nil)
		id, uid := h.booked(t)
		files, err := filepath.Glob(filepath.Join("..", "..", "invites", "testdata", "malformed", "*.eml"))
		if err != nil || len(files) == 0 {
			t.Fatalf("no malformed fixtures: %v", err)
		}
		for _, f := range files {
			t.Run(filepath.Base(f), func(t *testing.T) {
				raw, err := os.ReadFile(f)
				if err != nil {
					t.Fatal(err)
				}
				var rw []string
				if strings.Contains(string(raw), fixtureUID) {
					rw = []string{fixtureUID, uid} // so that only the fault stops it
				}
				if filepath.Base(f) == "counter-floating-time.eml" {
					// Malformed to a parser that knows no zone; the
					// service reads a floating time in the area's zone
					// (calendar/ics's one rule), so this proposal is
					// 14:00 London time.
					h.imipOK(t, mailFixture(t, "malformed/"+filepath.Base(f), rw...), service.InboundRecorded)
					cs := h.discussion(t, id).Counters
					if want := time.Date(2026, 7, 14, 13, 0, 0, 0, time.UTC); len(cs) != 1 || !cs[0].Start.Equal(want) {
						t.Errorf("counters %+v, want one from %s (14:00 British Summer Time)", cs, want)
					}
					return
				}
				rejected(t, h, id, mailFixture(t, "malformed/"+filepath.Base(f), rw...), service.InboundRejectMalformed)
			})
		}
	})
	t.Run("a reply that answers nothing", func(t *testing.T) {
		t.Parallel()
		// A REPLY whose PARTSTAT is NEEDS-ACTION says nothing: refused like
		// any unreadable reply, and recorded.
		h := newMailHarness(t, nil)
		id, uid := h.booked(t)
		raw := builtReply(t, h, uid, priya, invites.PartStatNeedsAction)
		rejected(t, h, id, raw, service.InboundRejectMalformed)
	})
	t.Run("stale SEQUENCE", func(t *testing.T) {
		t.Parallel()
		// After a reschedule, a reply to the first invitation is ignored:
		// it answers a time that no longer stands.
		h := newMailHarness(t, nil)
		id, uid := h.booked(t)
		rescheduleDiscussion(t, h, id, "2026-07-14T11:00:00+01:00")
		for _, f := range []string{"outlook-desktop-accepted.eml", "exchange-owa-declined.eml", "outlook-desktop-counter.eml", "apple-delegated.eml"} {
			t.Run(f, func(t *testing.T) {
				before := h.discussion(t, id)
				h.imipOK(t, replyFixture(t, f, uid), service.InboundIgnoredStale)
				sameDiscussion(t, before, h.discussion(t, id))
				recs, err := h.store.InboundRecords(context.Background(), id, 1)
				if err != nil || len(recs) != 1 || recs[0].Result != service.InboundIgnoredStale {
					t.Errorf("newest inbound record = %+v %v, want ignored_stale", recs, err)
				}
			})
		}
	})
	t.Run("cancelled discussion", func(t *testing.T) {
		t.Parallel()
		h := newMailHarness(t, nil)
		id, uid := h.booked(t)
		cancelDiscussion(t, h, id)
		before := h.discussion(t, id)
		p := problemOf(t, h.imip(t, replyFixture(t, "outlook-desktop-accepted.eml", uid)), http.StatusConflict)
		if p["result"] != service.InboundRejectState {
			t.Errorf("problem result = %v, want %s", p["result"], service.InboundRejectState)
		}
		sameDiscussion(t, before, h.discussion(t, id))
	})
	t.Run("not the mail gateway", func(t *testing.T) {
		t.Parallel()
		h := newMailHarness(t, nil)
		id, uid := h.booked(t)
		before := h.discussion(t, id)
		r := h.at(t).do("POST", "/v1/imip", token(t, service.RoleAgencyRep, "police"), replyFixture(t, "outlook-desktop-accepted.eml", uid),
			"Content-Type", "message/rfc822")
		problemOf(t, r, http.StatusForbidden)
		sameDiscussion(t, before, h.discussion(t, id))
	})
}

// builtReply is a REPLY as a minimal client writes it, from the attendee.
func builtReply(t *testing.T, h *mailHarness, uid, from string, stat invites.PartStat) []byte {
	t.Helper()
	d, err := h.store.Discussion(context.Background(), strings.TrimSuffix(uid, "@convene"))
	if err != nil {
		t.Fatal(err)
	}
	b := invites.Builder{ProdID: "-//Test//Client//EN", Now: h.clock.Now}
	m := invites.Meeting{UID: uid, Sequence: d.Sequence, Summary: "Strategy discussion", Start: d.Booking.Start, End: d.Booking.End,
		Organizer: invites.Person{Email: organizerEmail}, Attendees: []invites.Attendee{{Email: from, Name: "Someone"}}}
	ics, err := b.Reply(m, from, stat, "")
	if err != nil {
		t.Fatal(err)
	}
	return []byte("From: <" + from + ">\r\nTo: <" + organizerEmail + ">\r\nSubject: Reply\r\nMessage-ID: <built-" + string(stat) + "@example.org>\r\n" +
		"MIME-Version: 1.0\r\nContent-Type: text/calendar; method=REPLY; charset=UTF-8\r\n\r\n" + string(ics))
}

func rescheduleDiscussion(t *testing.T, h *mailHarness, id, start string) mailDiscussion {
	t.Helper()
	r := h.at(t).do("POST", "/v1/discussions/"+id+"/reschedule", h.support, map[string]any{"start": start, "confirm_unknown": h.everyone(t, id)})
	if r.Status != 200 {
		t.Fatalf("reschedule: %d %s", r.Status, r.Body)
	}
	var d mailDiscussion
	decodeInto(t, r.Body, &d)
	return d
}

func cancelDiscussion(t *testing.T, h *mailHarness, id string) mailDiscussion {
	t.Helper()
	r := h.at(t).do("POST", "/v1/discussions/"+id+"/cancel", h.support, map[string]any{"reason": "The family moved out of the area"})
	if r.Status != 200 {
		t.Fatalf("cancel: %d %s", r.Status, r.Body)
	}
	var d mailDiscussion
	decodeInto(t, r.Body, &d)
	return d
}

func TestRefreshAfterARescheduleSendsTheLatestInvitation(t *testing.T) {
	t.Parallel()
	// A REFRESH is what someone holding an out-of-date copy sends (and
	// Thunderbird's names no SEQUENCE at all), so it is never "stale".
	h := newMailHarness(t, nil)
	id, uid := h.booked(t)
	rescheduleDiscussion(t, h, id, "2026-07-14T11:00:00+01:00")
	before := h.discussion(t, id)
	h.imipOK(t, replyFixture(t, "thunderbird-refresh.eml", uid), service.InboundRecorded)
	after := h.discussion(t, id)
	if got, want := len(after.outboxTo("REQUEST", jordan)), len(before.outboxTo("REQUEST", jordan))+1; got != want {
		t.Fatalf("REQUESTs to Jordan: %d, want %d", got, want)
	}
	inv := readInvitation(t, latestMessage(t, h.messages(t, id), "REQUEST", jordan).Raw)
	if inv.Sequence != 1 || inv.UID != uid {
		t.Errorf("re-sent invitation is UID %s SEQUENCE %d, want %s at 1", inv.UID, inv.Sequence, uid)
	}
	unchangedReplies(t, before, after)
}

func TestHeldReplies(t *testing.T) {
	t.Parallel()
	// Someone the invitation was forwarded to answers from their own
	// mailbox: held for business support, not counted.
	const dana = "dana.forward@police.example.uk"
	const lee = "lee.forward@police.example.uk"
	forwarded := func(t *testing.T, uid, who string) []byte {
		return replyFixture(t, "gmail-accepted.eml", uid, samChair, who)
	}
	h := newMailHarness(t, nil)
	h.addPerson(t, map[string]any{"name": "DI Dana Forward", "email": dana, "agency": "police", "role": "detective", "seniority": 3})
	id, uid := h.booked(t)

	before := h.discussion(t, id)
	for _, who := range []string{dana, lee} {
		in := h.imipOK(t, forwarded(t, uid, who), service.InboundHeld)
		if in.Attendee != who {
			t.Errorf("held reply speaks for %s, want %s", in.Attendee, who)
		}
	}
	// The same one again is a duplicate, not a second hold.
	h.imipOK(t, forwarded(t, uid, dana), service.InboundDuplicate)
	held := h.discussion(t, id)
	if len(held.HeldReplies) != 2 {
		t.Fatalf("held replies = %+v, want two", held.HeldReplies)
	}
	if len(held.Attendees) != len(before.Attendees) {
		t.Errorf("a held reply joined the invitation list")
	}
	unchangedReplies(t, before, held)
	heldID := map[string]string{}
	for _, r := range held.HeldReplies {
		if r.Status != "held" || r.Reply != "accepted" {
			t.Errorf("held reply = %+v, want held, accepted", r)
		}
		heldID[r.From] = r.ID
	}

	// An agency representative cannot admit it.
	r := h.at(t).do("POST", "/v1/discussions/"+id+"/held-replies/"+heldID[dana]+"/admit", token(t, service.RoleAgencyRep, "police"), nil)
	if r.Status != http.StatusForbidden {
		t.Errorf("agency rep admitting: %d, want 403", r.Status)
	}

	// Admitted: Dana joins with her answer and her directory details, and
	// is sent the invitation.
	r = h.at(t).do("POST", "/v1/discussions/"+id+"/held-replies/"+heldID[dana]+"/admit", h.support, nil)
	if r.Status != 200 {
		t.Fatalf("admit: %d %s", r.Status, r.Body)
	}
	admitted := h.discussion(t, id)
	a := admitted.attendee(dana)
	if a == nil || a.Reply != "accepted" || a.Agency != "police" || a.Seniority != 3 {
		t.Fatalf("admitted attendee = %+v, want Dana, accepted, police level 3", a)
	}
	if got := admitted.outboxTo("REQUEST", dana); len(got) != 1 {
		t.Errorf("REQUESTs to Dana: %+v, want one", got)
	}

	// Rejected: Lee does not join and is sent nothing.
	r = h.at(t).do("POST", "/v1/discussions/"+id+"/held-replies/"+heldID[lee]+"/reject", h.support, nil)
	if r.Status != 200 {
		t.Fatalf("reject: %d %s", r.Status, r.Body)
	}
	final := h.discussion(t, id)
	if final.attendee(lee) != nil {
		t.Errorf("a rejected reply joined the invitation list")
	}
	if got := final.outboxTo("REQUEST", lee); len(got) != 0 {
		t.Errorf("a rejected sender was sent %+v", got)
	}
	status := map[string]string{}
	for _, r := range final.HeldReplies {
		status[r.From] = r.Status
	}
	if status[dana] != "admitted" || status[lee] != "rejected" {
		t.Errorf("held replies = %v, want Dana admitted and Lee rejected", status)
	}
	// Deciding twice is refused.
	r = h.at(t).do("POST", "/v1/discussions/"+id+"/held-replies/"+heldID[lee]+"/admit", h.support, nil)
	problemOf(t, r, http.StatusConflict)
	if h.discussion(t, id).attendee(lee) != nil {
		t.Errorf("a rejected reply was admitted after all")
	}
}

func TestCounterProposals(t *testing.T) {
	t.Parallel()
	t.Run("accepted: the meeting moves and everyone is asked again", func(t *testing.T) {
		t.Parallel()
		h := newMailHarness(t, nil)
		id, uid := h.booked(t)
		h.imipOK(t, replyFixture(t, "gmail-accepted.eml", uid), service.InboundRecorded)
		h.imipOK(t, replyFixture(t, "outlook-desktop-accepted.eml", uid), service.InboundRecorded)
		h.imipOK(t, replyFixture(t, "outlook-desktop-counter.eml", uid), service.InboundRecorded)
		before := h.discussion(t, id)
		if before.attendee(samChair).Reply != "accepted" || len(before.Counters) != 1 {
			t.Fatalf("setup: chair %q, counters %+v", before.attendee(samChair).Reply, before.Counters)
		}
		r := h.at(t).do("POST", "/v1/discussions/"+id+"/counters/"+before.Counters[0].ID+"/accept", h.support,
			map[string]any{"confirm_unknown": h.everyone(t, id)})
		if r.Status != 200 {
			t.Fatalf("accept counter: %d %s", r.Status, r.Body)
		}
		after := h.discussion(t, id)
		if after.Sequence != before.Sequence+1 {
			t.Errorf("sequence %d → %d, want +1", before.Sequence, after.Sequence)
		}
		if want := time.Date(2026, 7, 14, 13, 0, 0, 0, time.UTC); !after.Booking.Start.Equal(want) {
			t.Errorf("booking starts %s, want %s (the proposed time)", after.Booking.Start, want)
		}
		if after.Counters[0].Status != "accepted" {
			t.Errorf("counter = %+v, want accepted", after.Counters[0])
		}
		ms := h.messages(t, id)
		for _, a := range after.Attendees {
			if a.Reply != "needs_action" {
				t.Errorf("%s's reply %q survived the move", a.Email, a.Reply)
			}
			got := after.outboxTo("REQUEST", a.Email)
			var updated int
			for _, m := range got {
				switch {
				case m.Sequence == after.Sequence && m.State == "queued":
					updated++
				case m.Sequence < after.Sequence && m.State == "queued":
					t.Errorf("%s: the out-of-date REQUEST is still queued: %+v", a.Email, m)
				}
			}
			if updated != 1 {
				t.Errorf("%s: %d updated REQUESTs queued, want 1: %+v", a.Email, updated, got)
			}
			inv := readInvitation(t, latestMessage(t, ms, "REQUEST", a.Email).Raw)
			start := inv.Event.Props.Get("DTSTART")
			if inv.Method != "REQUEST" || inv.MIMEMethod != "REQUEST" || inv.Sequence != after.Sequence || start == nil || start.Value != "20260714T140000" {
				t.Errorf("%s's update: METHOD %s, MIME %s, SEQUENCE %d, DTSTART %v", a.Email, inv.Method, inv.MIMEMethod, inv.Sequence, start)
			}
		}
		// The old version's answers no longer count.
		h.imipOK(t, replyFixture(t, "gmail-accepted.eml", uid), service.InboundIgnoredStale)
	})

	t.Run("declined: a DECLINECOUNTER to the sender only", func(t *testing.T) {
		t.Parallel()
		h := newMailHarness(t, nil)
		id, uid := h.booked(t)
		h.imipOK(t, replyFixture(t, "outlook-desktop-counter.eml", uid), service.InboundRecorded)
		before := h.discussion(t, id)
		r := h.at(t).do("POST", "/v1/discussions/"+id+"/counters/"+before.Counters[0].ID+"/decline", h.support,
			map[string]any{"comment": "The police officer leading the enquiry can only do the morning."})
		if r.Status != 200 {
			t.Fatalf("decline counter: %d %s", r.Status, r.Body)
		}
		after := h.discussion(t, id)
		if after.Counters[0].Status != "declined" || after.Sequence != before.Sequence || !after.Booking.Start.Equal(before.Booking.Start) {
			t.Errorf("after declining: counter %+v, sequence %d, start %s", after.Counters[0], after.Sequence, after.Booking.Start)
		}
		// The DECLINECOUNTER, and since Outlook ignores that, the unchanged
		// meeting as a REQUEST saying the proposed time was not accepted:
		// both to Priya only.
		if got, want := len(after.Outbox), len(before.Outbox)+2; got != want {
			t.Fatalf("outbox has %d messages, want %d: %+v", got, want, after.Outbox)
		}
		var dc []mailMessage
		for _, m := range after.Outbox {
			if m.Method == "DECLINECOUNTER" {
				dc = append(dc, m)
			}
		}
		if len(dc) != 1 || dc[0].To != priya || dc[0].State != "queued" {
			t.Fatalf("DECLINECOUNTERs = %+v, want one queued to %s", dc, priya)
		}
		if got, want := len(after.outboxTo("REQUEST", priya)), len(before.outboxTo("REQUEST", priya))+1; got != want {
			t.Errorf("REQUESTs to Priya: %d, want %d (the unchanged meeting, for Outlook)", got, want)
		}
		inv := readInvitation(t, latestMessage(t, h.messages(t, id), "DECLINECOUNTER", priya).Raw)
		if inv.Method != "DECLINECOUNTER" || inv.MIMEMethod != "DECLINECOUNTER" || inv.UID != uid {
			t.Errorf("DECLINECOUNTER: METHOD %s, MIME method %s, UID %s", inv.Method, inv.MIMEMethod, inv.UID)
		}
		unchangedReplies(t, before, after)
		// Deciding again is refused and changes nothing.
		r = h.at(t).do("POST", "/v1/discussions/"+id+"/counters/"+before.Counters[0].ID+"/accept", h.support, nil)
		problemOf(t, r, http.StatusConflict)
		sameDiscussion(t, after, h.discussion(t, id))
	})
}

func TestCancelSendsACancelToEveryone(t *testing.T) {
	t.Parallel()
	h := newMailHarness(t, nil)
	h.addPerson(t, samDeputyNamed)
	id, uid := h.booked(t)
	h.imipOK(t, replyFixture(t, "apple-delegated.eml", uid), service.InboundRecorded) // the delegate is told too
	d := cancelDiscussion(t, h, id)
	if d.Status != "cancelled" || d.Sequence != 1 {
		t.Errorf("after cancel: status %s, sequence %d", d.Status, d.Sequence)
	}
	after := h.discussion(t, id)
	ms := h.messages(t, id)
	for _, e := range append(invitedEmails, samDeputy) {
		if got := after.outboxTo("CANCEL", e); len(got) != 1 {
			t.Errorf("CANCELs to %s: %+v, want one", e, got)
			continue
		}
		inv := readInvitation(t, latestMessage(t, ms, "CANCEL", e).Raw)
		status := inv.Event.Props.Get("STATUS")
		if inv.Method != "CANCEL" || inv.MIMEMethod != "CANCEL" || inv.UID != uid || inv.Sequence != 1 || status == nil || status.Value != "CANCELLED" {
			t.Errorf("CANCEL to %s: METHOD %s, MIME method %s, UID %s, SEQUENCE %d, STATUS %v", e, inv.Method, inv.MIMEMethod, inv.UID, inv.Sequence, status)
		}
		if len(inv.Attendees) < len(invitedEmails) {
			t.Errorf("CANCEL to %s names %d attendees: the meeting is cancelled for everyone", e, len(inv.Attendees))
		}
	}
	// Invitations not yet sent are not sent after the cancellation.
	for _, m := range after.Outbox {
		if m.Method == "REQUEST" && m.State == "queued" {
			t.Errorf("REQUEST to %s still queued after the cancellation", m.To)
		}
	}
}

func TestRSVPLinks(t *testing.T) {
	t.Parallel()
	h := newMailHarness(t, nil)
	id, _ := h.booked(t)
	links := rsvpLinks(t, readInvitation(t, latestMessage(t, h.messages(t, id), "REQUEST", priya).Raw).Text)
	path := func(link string) string {
		if !strings.HasPrefix(link, h.url+"/v1/rsvp/") {
			t.Fatalf("link %s does not point at this service (%s)", link, h.url)
		}
		return strings.TrimPrefix(link, h.url)
	}

	// Opening a link (as a mail scanner does) changes nothing.
	before := h.discussion(t, id)
	r := h.at(t).do("GET", path(links["Decline"]), "", nil)
	if r.Status != 200 || !strings.Contains(string(r.Body), "Confirm: declined") || !strings.Contains(string(r.Body), "CR-2026-0042") {
		t.Fatalf("GET link: %d %s", r.Status, r.Body)
	}
	sameDiscussion(t, before, h.discussion(t, id))

	// Confirming records the answer for that attendee only.
	r = h.at(t).do("POST", path(links["Decline"]), "", nil)
	if r.Status != 200 || !strings.Contains(string(r.Body), "Thank you") {
		t.Fatalf("POST link: %d %s", r.Status, r.Body)
	}
	answered := h.discussion(t, id)
	for _, a := range answered.Attendees {
		want := "needs_action"
		if a.Email == priya {
			want = "declined"
		}
		if a.Reply != want {
			t.Errorf("%s: reply %q, want %q", a.Email, a.Reply, want)
		}
	}

	// A tampered token is refused.
	tok := strings.TrimPrefix(path(links["Accept"]), "/v1/rsvp/")
	sig := tok[strings.LastIndexByte(tok, '.')+1:]
	flipped := strings.Map(func(r rune) rune {
		if r == 'A' {
			return 'B'
		}
		return 'A'
	}, sig[:1])
	tampered := tok[:len(tok)-len(sig)] + flipped + sig[1:]
	for name, p := range map[string]string{"signature": "/v1/rsvp/" + tampered, "garbage": "/v1/rsvp/not-a-token"} {
		for _, method := range []string{"GET", "POST"} {
			if r := h.at(t).do(method, p, "", nil); r.Status != http.StatusUnauthorized {
				t.Errorf("%s %s token: %d, want 401", method, name, r.Status)
			}
		}
	}
	sameDiscussion(t, answered, h.discussion(t, id))

	// After a reschedule the first invitation's links are stale: refused,
	// and the page says to use the latest email.
	rescheduleDiscussion(t, h, id, "2026-07-14T11:00:00+01:00")
	moved := h.discussion(t, id)
	r = h.at(t).do("GET", path(links["Accept"]), "", nil)
	if r.Status != 200 || !strings.Contains(string(r.Body), "has changed since this link was sent") {
		t.Errorf("GET stale link: %d %s", r.Status, r.Body)
	}
	r = h.at(t).do("POST", path(links["Accept"]), "", nil)
	if r.Status != http.StatusConflict {
		t.Errorf("POST stale link: %d, want 409: %s", r.Status, r.Body)
	}
	if got := h.discussion(t, id).attendee(priya).Reply; got != "needs_action" {
		t.Errorf("a stale link recorded %q", got)
	}
	sameDiscussion(t, moved, h.discussion(t, id))

	// The updated invitation's links work, until they expire.
	fresh := rsvpLinks(t, readInvitation(t, latestMessage(t, h.messages(t, id), "REQUEST", priya).Raw).Text)
	h.clock.Advance(h.mailer.RSVPTTL + time.Hour)
	for _, method := range []string{"GET", "POST"} {
		if r := h.at(t).do(method, path(fresh["Accept"]), "", nil); r.Status != http.StatusUnauthorized {
			t.Errorf("%s expired link: %d, want 401", method, r.Status)
		}
	}
	if got := h.discussion(t, id).attendee(priya).Reply; got != "needs_action" {
		t.Errorf("an expired link recorded %q", got)
	}
}

func TestRemovingAnAttendee(t *testing.T) {
	t.Parallel()
	// The removed attendee is told they are no longer needed (a CANCEL
	// naming only them, as invites.Invitation.Uninvite writes it);
	// everyone else gets the updated invitation without them, at the same
	// SEQUENCE, and keeps their answer: the time has not changed.
	h := newMailHarness(t, nil)
	id, uid := h.booked(t)
	h.imipOK(t, replyFixture(t, "outlook-desktop-accepted.eml", uid), service.InboundRecorded)
	before := h.discussion(t, id)
	r := h.at(t).do("DELETE", "/v1/discussions/"+id+"/attendees/"+jordan, h.support, nil)
	if r.Status != 200 {
		t.Fatalf("remove: %d %s", r.Status, r.Body)
	}
	after := h.discussion(t, id)
	if after.attendee(jordan) != nil {
		t.Errorf("Jordan is still on the invitation list")
	}
	// Who is invited is not a significant change (RFC 5545 §3.8.7.4):
	// the SEQUENCE stays, and so do the answers.
	if after.Sequence != before.Sequence {
		t.Errorf("sequence %d → %d: removing an attendee does not move the meeting", before.Sequence, after.Sequence)
	}
	if got := after.attendee(priya).Reply; got != "accepted" {
		t.Errorf("Priya's answer became %q; the time has not changed", got)
	}
	ms := h.messages(t, id)
	cancels := after.outboxTo("CANCEL", jordan)
	if len(cancels) != 1 {
		t.Fatalf("CANCELs to Jordan: %+v, want one", cancels)
	}
	c := readInvitation(t, latestMessage(t, ms, "CANCEL", jordan).Raw)
	if c.Method != "CANCEL" || c.MIMEMethod != "CANCEL" || c.Sequence != after.Sequence || len(c.Attendees) != 1 || c.Attendees[jordan] == nil {
		t.Errorf("Jordan's CANCEL: METHOD %s, MIME %s, SEQUENCE %d, attendees %v; want a CANCEL at %d naming only Jordan",
			c.Method, c.MIMEMethod, c.Sequence, c.Attendees, after.Sequence)
	}
	for _, m := range after.outboxTo("REQUEST", jordan) {
		if m.State == "queued" {
			t.Errorf("Jordan's invitation is still queued after the removal: %+v", m)
		}
	}
	for _, a := range after.Attendees {
		if got := len(after.outboxTo("CANCEL", a.Email)); got != 0 {
			t.Errorf("%s was sent a CANCEL", a.Email)
		}
		inv := readInvitation(t, latestMessage(t, ms, "REQUEST", a.Email).Raw)
		if inv.Sequence != after.Sequence || inv.Attendees[jordan] != nil {
			t.Errorf("%s's latest invitation: SEQUENCE %d, still naming Jordan: %v", a.Email, inv.Sequence, inv.Attendees[jordan] != nil)
		}
	}
}

func TestUnauthenticatedRepliesAreHeld(t *testing.T) {
	t.Parallel()
	// Anyone can write From: priya.patel@police.example.uk. Without the
	// gateway's word that DMARC passed (or a DKIM signature Convene
	// verifies), the answer is held for business support and changes
	// nothing until admitted.
	h := newMailHarness(t, nil)
	id, uid := h.booked(t)
	before := h.discussion(t, id)
	raw := replyFixture(t, "gmail-declined-note.eml", uid)
	for _, tc := range []struct {
		name string
		raw  []byte
	}{
		{"no Authentication-Results", raw},
		{"an untrusted gateway's", withHeader(raw, "Authentication-Results: mx.elsewhere.example; dmarc=pass header.from=police.example.uk")},
		{"the gateway's, failed", withHeader(raw, "Authentication-Results: "+gatewayID+"; dmarc=fail header.from=police.example.uk")},
		// Added by the sender below the gateway's own: a forgery.
		{"a forged one under the gateway's", withHeader(withHeader(raw, "Authentication-Results: "+gatewayID+"; dmarc=pass header.from=police.example.uk"),
			"Authentication-Results: "+gatewayID+"; dmarc=none header.from=police.example.uk")},
	} {
		r := h.imip(t, tc.raw)
		if r.Status != http.StatusOK {
			t.Fatalf("%s: %d %s", tc.name, r.Status, r.Body)
		}
		conforms(t, "POST", "/v1/imip", r)
		if got := r.JSON(t)["result"]; got != service.InboundHeld {
			t.Errorf("%s: result %v, want held", tc.name, got)
		}
	}
	held := h.discussion(t, id)
	unchangedReplies(t, before, held)
	if len(held.HeldReplies) != 1 {
		t.Fatalf("held replies %+v, want one (the latest answer replaces the one held)", held.HeldReplies)
	}
	hr := held.HeldReplies[0]
	if hr.Kind != "unauthenticated" || hr.From != priya || hr.Reply != "declined" || hr.Status != "held" || !strings.Contains(hr.Reason, "not authenticated") {
		t.Errorf("held reply %+v, want Priya's decline, held as unauthenticated with the reason", hr)
	}
	// Agency representatives see no held replies.
	var asRep struct {
		HeldReplies []mailHeld `json:"held_replies"`
	}
	decodeInto(t, h.do("GET", "/v1/discussions/"+id, token(t, service.RoleAgencyRep, "police", func(p *service.Principal) { p.Email = priya }), nil).Body, &asRep)
	if len(asRep.HeldReplies) != 0 {
		t.Errorf("an agency representative sees held replies: %+v", asRep.HeldReplies)
	}

	// Business support checks with Priya and admits it: now it counts.
	r := h.do("POST", "/v1/discussions/"+id+"/held-replies/"+hr.ID+"/admit", h.support, nil)
	if r.Status != http.StatusOK {
		t.Fatalf("admit: %d %s", r.Status, r.Body)
	}
	conforms(t, "POST", "/v1/discussions/{id}/held-replies/{held}/admit", r)
	if got := h.discussion(t, id).attendee(priya).Reply; got != "declined" {
		t.Errorf("Priya's reply after admitting: %q, want declined", got)
	}
}

func TestSentByCountsOnlyForANamedAssistant(t *testing.T) {
	t.Parallel()
	// Alex answers for Priya (SENT-BY). That counts only while Priya's
	// directory entry names him as her assistant.
	h := newMailHarness(t, nil)
	id, uid := h.booked(t)
	priyaEntry := func(assistants []string, version int) {
		t.Helper()
		r := h.do("PUT", "/v1/people/"+h.people[priya], h.support, map[string]any{"name": "DS Priya Patel", "email": priya,
			"agency": "police", "role": "detective", "seniority": 2, "assistants": assistants, "version": version})
		if r.Status != http.StatusOK {
			t.Fatalf("update Priya: %d %s", r.Status, r.Body)
		}
		conforms(t, "PUT", "/v1/people/{id}", r)
	}
	priyaEntry([]string{}, 1)
	before := h.discussion(t, id)
	p := problemOf(t, h.imip(t, authenticated(t, replyFixture(t, "exchange-accepted-sent-by.eml", uid))), http.StatusUnprocessableEntity)
	if p["result"] != service.InboundRejectSpoofed {
		t.Errorf("result %v, want %s", p["result"], service.InboundRejectSpoofed)
	}
	sameDiscussion(t, before, h.discussion(t, id))

	priyaEntry([]string{alexAssistant}, 2)
	h.imipOK(t, replyFixture(t, "exchange-accepted-sent-by.eml", uid), service.InboundRecorded)
	if got := h.discussion(t, id).attendee(priya).Reply; got != "accepted" {
		t.Errorf("Priya's reply = %q, want accepted", got)
	}
}
