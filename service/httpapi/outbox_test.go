package httpapi_test

// The durable outbox delivering to a real SMTP server (Debian's
// python3-aiosmtpd, started by the test): once per message, with retries
// while the server is down, a failure recorded with the server's reply,
// and nothing lost or sent twice when instances run side by side or one
// stops part-way.

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/convene/convene/invites"
	"github.com/convene/convene/service"
	"github.com/convene/convene/service/outbox"
)

// testLease is how long an outbox worker holds a message in these tests;
// retries come quickly, and never run out.
const testLease = 30 * time.Second

// worker is an outbox worker for app, sending through sender as the
// instance owner.
func worker(app *service.App, sender invites.Sender, owner string) *outbox.Worker {
	return &outbox.Worker{App: app, Sender: sender, Owner: owner, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Lease: testLease, RetryBase: 100 * time.Millisecond, RetryMax: 400 * time.Millisecond, MaxAttempts: 100}
}

// dispatch runs the outbox worker of the harness's own App as instance-1.
func (m *mailHarness) dispatch(t *testing.T) (stop func()) {
	t.Helper()
	return dispatch(t, worker(m.app, m.sender, "instance-1"))
}

// dispatch runs w until the returned stop is called (or the test ends);
// stop waits for it to return.
func dispatch(t *testing.T, w *outbox.Worker) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	return dispatchUntil(t, ctx, cancel, w)
}

// dispatchUntil is dispatch until ctx ends; cancel ends it.
func dispatchUntil(t *testing.T, ctx context.Context, cancel context.CancelFunc, w *outbox.Worker) (stop func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		w.Run(ctx)
	}()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case <-done:
			case <-time.After(30 * time.Second):
				t.Errorf("the %s outbox worker did not stop within 30s", w.Owner)
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

// states counts the discussions' outbox messages by state.
func states(t *testing.T, h *mailHarness, ids ...string) map[service.MessageState]int {
	t.Helper()
	out := map[service.MessageState]int{}
	for _, id := range ids {
		for _, m := range h.messages(t, id) {
			out[m.State]++
		}
	}
	return out
}

// allSent waits until every message of the discussions is sent (or
// superseded by a later one before it went).
func allSent(t *testing.T, h *mailHarness, ids ...string) {
	t.Helper()
	waitFor(t, 60*time.Second, "every message sent", func() bool {
		s := states(t, h, ids...)
		return s[service.MessageSent] > 0 && s[service.MessageSent]+s[service.MessageSuperseded] == len(h.messagesOf(t, ids...))
	})
}

func (m *mailHarness) messagesOf(t *testing.T, ids ...string) []service.OutboxMessage {
	t.Helper()
	var out []service.OutboxMessage
	for _, id := range ids {
		out = append(out, m.messages(t, id)...)
	}
	return out
}

// byRecipient indexes what the server received by recipient, failing on
// any message sent to more than one or without a Message-ID.
func byRecipient(t *testing.T, got []smtpMessage) map[string][]smtpMessage {
	t.Helper()
	out := map[string][]smtpMessage{}
	for _, m := range got {
		if len(m.RcptTos) != 1 {
			t.Errorf("a message went to %v; each goes to one recipient", m.RcptTos)
			continue
		}
		out[strings.ToLower(m.RcptTos[0])] = append(out[strings.ToLower(m.RcptTos[0])], m)
	}
	return out
}

// noDuplicates fails if the server received any Message-ID twice.
func noDuplicates(t *testing.T, got []smtpMessage) {
	t.Helper()
	seen := map[string]int{}
	for _, m := range got {
		e := readEmail(t, m.Raw)
		id := e.Header.Get("Message-Id")
		if id == "" {
			t.Errorf("a delivered message has no Message-ID")
		}
		seen[id]++
	}
	for id, n := range seen {
		if n > 1 {
			t.Errorf("%s was delivered %d times", id, n)
		}
	}
}

func TestOutboxDeliversEachInvitationOnce(t *testing.T) {
	t.Parallel()
	srv := startSMTPD(t, 0, "")
	h := newMailHarness(t, smtpSender(srv.addr))
	id, uid := h.booked(t)
	h.dispatch(t)
	allSent(t, h, id)

	got := srv.received(t)
	if len(got) != len(invitedEmails) {
		t.Errorf("the server received %d messages, want %d", len(got), len(invitedEmails))
	}
	noDuplicates(t, got)
	to := byRecipient(t, got)
	for _, e := range invitedEmails {
		if len(to[e]) != 1 {
			t.Errorf("%s received %d messages, want 1", e, len(to[e]))
			continue
		}
		m := to[e][0]
		if m.MailFrom != organizerEmail {
			t.Errorf("MAIL FROM %s, want %s", m.MailFrom, organizerEmail)
		}
		inv := readInvitation(t, m.Raw)
		if inv.Method != "REQUEST" || inv.MIMEMethod != inv.Method {
			t.Errorf("%s: METHOD %q, MIME method %q: they must be equal, and REQUEST", e, inv.Method, inv.MIMEMethod)
		}
		if inv.UID != uid || inv.Sequence != 0 {
			t.Errorf("%s: UID %s SEQUENCE %d, want %s at 0", e, inv.UID, inv.Sequence, uid)
		}
		a := inv.Attendees[e]
		if a == nil || a.Params.Get("PARTSTAT") != "NEEDS-ACTION" || a.Params.Get("RSVP") != "TRUE" {
			t.Errorf("%s: their ATTENDEE is %v, want PARTSTAT=NEEDS-ACTION;RSVP=TRUE", e, a)
		}
		if len(inv.Attendees) != len(invitedEmails) {
			t.Errorf("%s: the invitation lists %d attendees, want %d", e, len(inv.Attendees), len(invitedEmails))
		}
		if org := inv.Event.Props.Get("ORGANIZER"); org == nil || !strings.EqualFold(org.Value, "mailto:"+organizerEmail) {
			t.Errorf("%s: ORGANIZER %v", e, org)
		}
	}
	// Business support sees each recipient's message as sent.
	d := h.discussion(t, id)
	for _, e := range invitedEmails {
		ms := d.outboxTo("REQUEST", e)
		if len(ms) != 1 || ms[0].State != "sent" || ms[0].Attempts != 1 || ms[0].LastError != "" {
			t.Errorf("outbox to %s: %+v, want sent at the first attempt", e, ms)
		}
	}

	// Replies, a cancellation: the CANCELs go out the same way, once each.
	h.imipOK(t, replyFixture(t, "outlook-desktop-accepted.eml", uid), service.InboundRecorded)
	cancelDiscussion(t, h, id)
	allSent(t, h, id)
	got = srv.received(t)
	noDuplicates(t, got)
	cancels := 0
	for _, m := range got {
		if inv := readInvitation(t, m.Raw); inv.Method == "CANCEL" {
			cancels++
			if inv.MIMEMethod != "CANCEL" || inv.Sequence != 1 {
				t.Errorf("CANCEL to %v: MIME method %q, SEQUENCE %d", m.RcptTos, inv.MIMEMethod, inv.Sequence)
			}
		}
	}
	if cancels != len(invitedEmails) {
		t.Errorf("%d CANCELs delivered, want %d", cancels, len(invitedEmails))
	}
}

func TestOutboxRetriesWhileTheServerIsDown(t *testing.T) {
	t.Parallel()
	port := freeSMTPPort(t) // nothing listens here yet
	h := newMailHarness(t, smtpSender(net.JoinHostPort("127.0.0.1", strconv.Itoa(port))))
	id, _ := h.booked(t)
	h.dispatch(t)

	// Every message is tried, fails, and waits for another attempt.
	waitFor(t, 30*time.Second, "every message tried at least twice", func() bool {
		for _, m := range h.discussion(t, id).Outbox {
			if m.Attempts < 2 {
				return false
			}
		}
		return true
	})
	for _, m := range h.discussion(t, id).Outbox {
		// "sending" while the next attempt is under way.
		if (m.State != "queued" && m.State != "sending") || !strings.Contains(m.LastError, "temporary") || !strings.Contains(m.LastError, "connection refused") {
			t.Errorf("while the server is down, %s's message is %+v: want queued, with the error", m.To, m)
		}
	}

	// The server comes up: each message is delivered, once.
	srv := startSMTPD(t, port, "")
	allSent(t, h, id)
	got := srv.received(t)
	noDuplicates(t, got)
	to := byRecipient(t, got)
	for _, e := range invitedEmails {
		if len(to[e]) != 1 {
			t.Errorf("%s received %d messages, want 1", e, len(to[e]))
		}
	}
	for _, m := range h.discussion(t, id).Outbox {
		if m.State != "sent" || m.LastError != "" {
			t.Errorf("after the server came up, %s's message is %+v", m.To, m)
		}
	}
}

func TestOutboxRecordsTheServersRefusal(t *testing.T) {
	t.Parallel()
	srv := startSMTPD(t, 0, "")
	h := newMailHarness(t, smtpSender(srv.addr))
	// The server refuses "reject…" mailboxes with 550 and puts off
	// "later…" ones with 451.
	const refused, deferred = "rejected.mailbox@police.example.uk", "later.mailbox@police.example.uk"
	extra := []string{
		h.addPerson(t, map[string]any{"name": "PC Refused", "email": refused, "agency": "police", "role": "police_officer", "seniority": 1}),
		h.addPerson(t, map[string]any{"name": "PC Deferred", "email": deferred, "agency": "police", "role": "police_officer", "seniority": 1}),
	}
	id := h.convene(t, func(req map[string]any) {
		inv := req["invitees"].([]map[string]any)
		for _, pid := range extra {
			inv = append(inv, map[string]any{"person_id": pid})
		}
		req["invitees"] = inv
	})
	h.book(t, id, meetingStart)
	h.dispatch(t)

	waitFor(t, 30*time.Second, "the others sent, the refused one failed, the deferred one retried", func() bool {
		d := h.discussion(t, id)
		for _, m := range d.Outbox {
			switch m.To {
			case refused:
				if m.State != "failed" {
					return false
				}
			case deferred:
				if m.Attempts < 2 {
					return false
				}
			default:
				if m.State != "sent" {
					return false
				}
			}
		}
		return true
	})
	d := h.discussion(t, id)
	f := d.outboxTo("REQUEST", refused)[0]
	if f.Attempts != 1 || !strings.Contains(f.LastError, "550") || !strings.Contains(f.LastError, "5.1.1") || !strings.Contains(f.LastError, "No such user here") {
		t.Errorf("refused message: %+v, want failed at once with the server's 550 5.1.1 reply", f)
	}
	l := d.outboxTo("REQUEST", deferred)[0]
	if (l.State != "queued" && l.State != "sending") || !strings.Contains(l.LastError, "451") {
		t.Errorf("deferred message: %+v, want queued for a retry with the server's 451 reply", l)
	}
	to := byRecipient(t, srv.received(t))
	for _, e := range invitedEmails {
		if len(to[e]) != 1 {
			t.Errorf("%s received %d messages, want 1", e, len(to[e]))
		}
	}
	if len(to[refused])+len(to[deferred]) != 0 {
		t.Errorf("the server accepted mail it refused: %v", to)
	}

	// The failure is on the discussion's timeline for business support.
	failures := func() int {
		n := 0
		for _, e := range h.discussion(t, id).Timeline {
			if e.Kind == "mail_failed" && strings.Contains(e.Detail, refused) {
				n++
			}
		}
		return n
	}
	if failures() != 1 {
		t.Errorf("the failure is not on the timeline: %+v", h.discussion(t, id).Timeline)
	}
	// Once the cause is fixed, they send it again: only a failed message,
	// and only those who run the discussion.
	requeue := func(tok, messageID string) response {
		return h.do("POST", "/v1/discussions/"+id+"/messages/"+url.PathEscape(messageID)+"/requeue", tok, nil)
	}
	sent := d.outboxTo("REQUEST", samChair)[0]
	for _, tc := range []struct {
		name, tok, message string
		status             int
	}{
		{"by an agency representative", token(t, service.RoleAgencyRep, "police", func(p *service.Principal) { p.Email = priya }), f.ID, http.StatusForbidden},
		{"a message that was sent", h.support, sent.ID, http.StatusConflict},
		{"a message of another discussion", h.support, strings.Replace(f.ID, id, strings.Repeat("0", 32), 1), http.StatusNotFound},
	} {
		r := requeue(tc.tok, tc.message)
		conforms(t, "POST", "/v1/discussions/{id}/messages/{message}/requeue", r)
		problemOf(t, r, tc.status)
	}
	r := requeue(h.support, f.ID)
	if r.Status != http.StatusOK {
		t.Fatalf("requeue: %d %s", r.Status, r.Body)
	}
	conforms(t, "POST", "/v1/discussions/{id}/messages/{message}/requeue", r)
	var again mailMessage
	decodeInto(t, r.Body, &again)
	if again.ID != f.ID || again.State != "queued" || again.Attempts != 0 {
		t.Errorf("re-queued message %+v, want queued with its attempts reset", again)
	}
	// Here the mailbox still does not exist: tried once more, and failed
	// again.
	waitFor(t, 30*time.Second, "the re-queued message tried again", func() bool { return failures() == 2 })
	if m := h.discussion(t, id).outboxTo("REQUEST", refused)[0]; m.State != "failed" || m.Attempts != 1 {
		t.Errorf("after the second try: %+v, want failed at its first attempt", m)
	}
}

// slowSender sends through next, pausing first so that instances running
// side by side interleave, and counts what it sent; after is called with
// the count after each send.
type slowSender struct {
	next  invites.Sender
	pause time.Duration
	sent  atomic.Int64
	after func(n int64)
}

func (s *slowSender) Send(ctx context.Context, m *invites.Message) (string, error) {
	time.Sleep(s.pause)
	where, err := s.next.Send(ctx, m)
	if err == nil {
		n := s.sent.Add(1)
		if s.after != nil {
			s.after(n)
		}
	}
	return where, err
}

// instance is another service instance on the same store, sending
// through sender: its own App, mailer and outbox worker, as another
// process would have.
func (m *mailHarness) instance(t *testing.T, sender invites.Sender, owner string) *outbox.Worker {
	t.Helper()
	app := service.NewApp(m.store, slog.New(slog.NewTextHandler(io.Discard, nil)))
	app.Now = m.clock.Now
	app.Profiles, app.Calendar, app.Region, app.Zone = m.app.Profiles, m.app.Calendar, m.app.Region, m.app.Zone
	app.UseMailer(newTestMailer(m.clock, m.url))
	return worker(app, sender, owner)
}

// bookMany books n discussions of the case an hour apart (business
// support confirming each time that they want another discussion of the
// same case), and returns their ids and how many messages they queued.
func bookMany(t *testing.T, h *mailHarness, n int) (ids []string, messages int) {
	t.Helper()
	for i := range n {
		id := h.convene(t, func(req map[string]any) { req["confirm_duplicate"] = true })
		h.book(t, id, fmt.Sprintf("2026-07-14T%02d:00:00+01:00", 9+i))
		ids = append(ids, id)
		messages += len(h.messages(t, id))
	}
	return ids, messages
}

func TestTwoInstancesSendEachMessageOnce(t *testing.T) {
	t.Parallel()
	srv := startSMTPD(t, 0, "")
	h := newMailHarness(t, smtpSender(srv.addr))
	ids, total := bookMany(t, h, 5)

	a := &slowSender{next: smtpSender(srv.addr), pause: 20 * time.Millisecond}
	b := &slowSender{next: smtpSender(srv.addr), pause: 20 * time.Millisecond}
	dispatch(t, h.instance(t, a, "instance-a"))
	dispatch(t, h.instance(t, b, "instance-b"))
	allSent(t, h, ids...)

	got := srv.received(t)
	if len(got) != total {
		t.Errorf("the server received %d messages, want %d", len(got), total)
	}
	noDuplicates(t, got)
	if a.sent.Load()+b.sent.Load() != int64(total) || a.sent.Load() == 0 || b.sent.Load() == 0 {
		t.Errorf("instance a sent %d and b %d of %d: want both to share the work, each message once", a.sent.Load(), b.sent.Load(), total)
	}
	for _, id := range ids {
		for _, m := range h.discussion(t, id).Outbox {
			if m.State != "sent" || m.Attempts != 1 {
				t.Errorf("%s: %+v, want sent at the first attempt", id, m)
			}
		}
	}
}

func TestRestartInTheMiddleOfSending(t *testing.T) {
	t.Parallel()
	t.Run("stopped part-way, then started again", func(t *testing.T) {
		t.Parallel()
		srv := startSMTPD(t, 0, "")
		h := newMailHarness(t, smtpSender(srv.addr))
		ids, total := bookMany(t, h, 3)

		// The first instance is shut down (its context cancelled, as on
		// SIGTERM) as its fifth delivery completes.
		ctx, shutdown := context.WithCancel(context.Background())
		first := &slowSender{next: smtpSender(srv.addr), pause: 10 * time.Millisecond}
		first.after = func(n int64) {
			if n == 5 {
				shutdown()
			}
		}
		stop := dispatchUntil(t, ctx, shutdown, h.instance(t, first, "before-restart"))
		waitFor(t, 30*time.Second, "the first instance stopped", func() bool { return ctx.Err() != nil })
		stop()
		s := states(t, h, ids...)
		if s[service.MessageSending] != 0 || s[service.MessageSent] != int(first.sent.Load()) || s[service.MessageSent] >= total {
			t.Fatalf("after the shutdown: %v, %d delivered: want nothing left mid-send, some sent, some not", s, first.sent.Load())
		}

		second := &slowSender{next: smtpSender(srv.addr)}
		dispatch(t, h.instance(t, second, "after-restart"))
		allSent(t, h, ids...)
		got := srv.received(t)
		noDuplicates(t, got)
		if len(got) != total || first.sent.Load()+second.sent.Load() != int64(total) {
			t.Errorf("received %d (%d before the restart, %d after), want %d in all", len(got), first.sent.Load(), second.sent.Load(), total)
		}
	})

	t.Run("crashed holding a message", func(t *testing.T) {
		t.Parallel()
		// An instance claims a message and dies before sending it: nobody
		// sends it while its lease lasts, and then another instance does,
		// once.
		srv := startSMTPD(t, 0, "")
		h := newMailHarness(t, smtpSender(srv.addr))
		id, _ := h.booked(t)
		claimed, err := h.store.ClaimMessage(context.Background(), "crashed", h.clock.Now(), testLease)
		if err != nil {
			t.Fatal(err)
		}
		dispatch(t, h.instance(t, smtpSender(srv.addr), "survivor"))
		waitFor(t, 30*time.Second, "the other messages sent", func() bool {
			return states(t, h, id)[service.MessageSent] == len(invitedEmails)-1
		})
		// Nothing is left for anyone to claim while the lease holds: the
		// survivor cannot have taken the crashed instance's message.
		if m, err := h.store.ClaimMessage(context.Background(), "probe", h.clock.Now(), testLease); service.ErrorCode(err) != service.ENOTFOUND {
			t.Fatalf("a message was claimable while the crashed instance's lease held: %+v, %v", m, err)
		}
		if n := len(byRecipient(t, srv.received(t))[claimed.To]); n != 0 {
			t.Fatalf("the crashed instance's message was sent %d times while its lease held", n)
		}
		h.clock.Advance(testLease)
		allSent(t, h, id)
		got := srv.received(t)
		noDuplicates(t, got)
		if n := len(byRecipient(t, got)[claimed.To]); n != 1 || len(got) != len(invitedEmails) {
			t.Errorf("%s received %d messages after the lease ended, %d in all; want 1 and %d", claimed.To, n, len(got), len(invitedEmails))
		}
	})
}

func TestInvitationsCarryNoCaseDetails(t *testing.T) {
	t.Parallel()
	// The convene request names the child's school, the interpreter's
	// language and the form of abuse, so that the right people are
	// invited. None of it may reach an email: invitations are read by
	// assistants and on lock screens.
	srv := startSMTPD(t, 0, "")
	h := newMailHarness(t, smtpSender(srv.addr))
	h.addPerson(t, samDeputyNamed)
	h.dispatch(t)
	id, uid := h.booked(t)
	allSent(t, h, id)
	h.imipOK(t, replyFixture(t, "outlook-desktop-counter.eml", uid), service.InboundRecorded)
	counter := h.discussion(t, id).Counters[0].ID
	if r := h.at(t).do("POST", "/v1/discussions/"+id+"/counters/"+counter+"/decline", h.support, nil); r.Status != 200 {
		t.Fatalf("decline counter: %d %s", r.Status, r.Body)
	}
	allSent(t, h, id)
	h.imipOK(t, replyFixture(t, "apple-delegated.eml", uid), service.InboundRecorded)
	allSent(t, h, id)
	rescheduleDiscussion(t, h, id, "2026-07-14T11:00:00+01:00")
	allSent(t, h, id)
	cancelDiscussion(t, h, id)
	allSent(t, h, id)

	got := srv.received(t)
	methods := map[string]int{}
	for _, m := range got {
		e := readEmail(t, m.Raw)
		texts := []string{string(m.Raw), e.Subject}
		for _, p := range e.Parts {
			texts = append(texts, string(p.Body))
		}
		for _, s := range []string{schoolName, interpreting, specialism, "Oakfield", "genital"} {
			for _, text := range texts {
				if strings.Contains(strings.ToLower(text), strings.ToLower(s)) {
					t.Errorf("the message to %v contains %q", m.RcptTos, s)
					break
				}
			}
		}
		inv := readInvitation(t, m.Raw)
		methods[inv.Method]++
		if !strings.Contains(e.Subject, "CR-2026-0042") {
			t.Errorf("subject %q does not name the case reference", e.Subject)
		}
		desc := inv.Event.Props.Get("DESCRIPTION")
		if inv.Method == "REQUEST" && (desc == nil || !strings.Contains(desc.Value, "Share information")) {
			t.Errorf("the %s to %v carries no agenda: %v", inv.Method, m.RcptTos, desc)
		}
	}
	if methods["REQUEST"] == 0 || methods["CANCEL"] == 0 || methods["DECLINECOUNTER"] != 1 {
		t.Errorf("delivered %v, want REQUESTs, CANCELs and one DECLINECOUNTER", methods)
	}
}

func TestCaseDetailsTypedIntoAnInvitationAreRefusedUpFront(t *testing.T) {
	t.Parallel()
	// Business support may type the school's name into an agenda heading,
	// the location or a join link. Whatever goes into an invitation is
	// allow-listed, so the request is refused there and then: agenda
	// headings come from the profile's list, the location from the
	// directory of venues (there is no free-text location at all), and a
	// join link must not carry the case's words.
	h := newMailHarness(t, nil)
	r := h.at(t).do("POST", "/v1/discussions", h.support, func() map[string]any {
		req := h.conveneRequest()
		req["agenda"] = []string{"Share information", "Concerns raised by " + schoolName}
		return req
	}())
	if p := problemOf(t, r, 422); strings.Join(fieldsOf(p), ",") != "agenda[1]" {
		t.Errorf("fields = %v, want agenda[1]", fieldsOf(p))
	}

	id := h.convene(t)
	before := h.discussion(t, id)
	for field, body := range map[string]map[string]any{
		"location":   {"start": meetingStart, "location": "The library, " + strings.ToUpper(schoolName)},
		"online_url": {"start": meetingStart, "venue_id": h.venue, "online_url": "https://" + meetingHost + "/" + interpreting + "-interpreting"},
	} {
		r := h.at(t).do("POST", "/v1/discussions/"+id+"/book", h.support, body)
		if p := problemOf(t, r, 422); strings.Join(fieldsOf(p), ",") != field {
			t.Errorf("booking with the case's words in %s: fields %v", field, fieldsOf(p))
		}
	}
	after := h.discussion(t, id)
	sameDiscussion(t, before, after)
	if after.Status != "proposed" || len(after.Outbox) != 0 {
		t.Errorf("after refused bookings: status %s, outbox %+v", after.Status, after.Outbox)
	}
}
