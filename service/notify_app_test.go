package service_test

import (
	"context"
	"fmt"
	"io"
	"mime/quotedprintable"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/convene/convene/invites"
	"github.com/convene/convene/invites/smtptest"
	"github.com/convene/convene/service"
	"github.com/convene/convene/service/outbox"
	"github.com/convene/convene/service/storetest"
)

// decodeQP returns a plain email's headers and decoded body.
func decodeQP(t *testing.T, raw []byte) string {
	t.Helper()
	head, body, _ := strings.Cut(string(raw), "\r\n\r\n")
	b, err := io.ReadAll(quotedprintable.NewReader(strings.NewReader(body)))
	if err != nil {
		t.Fatalf("quoted-printable: %v", err)
	}
	return head + "\r\n\r\n" + string(b)
}

// inbox lists the kinds in the caller's open inbox, newest first.
func inboxKinds(t *testing.T, e *env, ctx context.Context, id string) []string {
	t.Helper()
	ns, err := e.app.Inbox(ctx, service.InboxFilter{Limit: 200})
	if err != nil {
		t.Fatalf("inbox: %v", err)
	}
	out := []string{}
	for _, n := range ns {
		if n.DiscussionID == id {
			out = append(out, string(n.Kind))
		}
	}
	slices.Sort(out)
	return out
}

// outboxOf lists the outbox messages of the discussion with the method.
func outboxOf(t *testing.T, e *env, d *service.Discussion, ids []string, method string) []service.OutboxMessage {
	t.Helper()
	ms, err := e.app.Store.Messages(context.Background(), ids)
	if err != nil {
		t.Fatal(err)
	}
	var out []service.OutboxMessage
	for _, m := range ms {
		if m.Method == method && m.DiscussionID == d.ID {
			out = append(out, m)
		}
	}
	return out
}

// TestNotifyUseCases: notices reach the inbox of business support and the
// chair once each, clear when dealt with, survive a crash between a change
// and its move, and are emailed by each person's preference; webhook
// events are queued once each. On both stores.
func TestNotifyUseCases(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		run  func(t *testing.T, e *env)
	}{
		{"a booking with unknown calendars is in both inboxes once, and the events are queued", func(t *testing.T, e *env) {
			d := e.convene(t, true)
			if got := inboxKinds(t, e, e.bso, d.ID); !slices.Equal(got, []string{"unknown_calendars"}) {
				t.Errorf("business support's inbox %v", got)
			}
			if got := inboxKinds(t, e, e.chair, d.ID); !slices.Equal(got, []string{"unknown_calendars"}) {
				t.Errorf("the chair's inbox %v", got)
			}
			hooks := outboxOf(t, e, d, []string{d.ID + ":event:discussion.convened:", d.ID + ":event:discussion.booked:" + d.Booking.ID}, service.MethodWebhook)
			if len(hooks) != 2 {
				t.Fatalf("webhooks queued %d, want convened and booked", len(hooks))
			}
			for _, h := range hooks {
				if strings.Contains(string(h.Raw), "Chris") || !strings.Contains(string(h.Raw), `"specversion":"1.0"`) || !strings.Contains(string(h.Raw), d.CaseReference) {
					t.Errorf("webhook body %s", h.Raw)
				}
			}
			stored, _ := e.app.Store.Discussion(context.Background(), d.ID)
			if stored.RaisedDue || slices.ContainsFunc(stored.Raised, func(r service.Raised) bool { return !r.Moved }) {
				t.Errorf("raised left unmoved: %+v", stored.Raised)
			}
			// A sweep (as after a restart) adds nothing.
			e.app.SweepRaised(context.Background())
			if got := inboxKinds(t, e, e.bso, d.ID); len(got) != 1 {
				t.Errorf("after a sweep %v", got)
			}
		}},
		{"a decline is in both inboxes; a dismissal clears only the dismisser's", func(t *testing.T, e *env) {
			d := e.convene(t, true)
			gw := service.WithPrincipal(context.Background(), &service.Principal{Subject: "mx", Roles: []service.Role{service.RoleMailGateway}})
			e.app.InboundAuth = invites.AuthConfig{TrustedAuthServIDs: []string{"mx.test.example"}}
			if res, err := e.app.IngestMessage(gw, reply(e, d, "dana@police.example.org", "DECLINED"), "http", ""); err != nil || res.Result != service.InboundRecorded {
				t.Fatalf("reply: %v %+v", err, res)
			}
			if got := inboxKinds(t, e, e.chair, d.ID); !slices.Equal(got, []string{"decline", "unknown_calendars"}) {
				t.Errorf("the chair's inbox %v", got)
			}
			ns, _ := e.app.Inbox(e.bso, service.InboxFilter{})
			var decline string
			for _, n := range ns {
				if n.DiscussionID == d.ID && n.Kind == service.NoticeDecline {
					decline = n.ID
				}
			}
			if err := e.app.DismissNotice(e.chair, decline); service.ErrorCode(err) != service.ENOTFOUND {
				t.Errorf("the chair dismissing business support's item: %v", err)
			}
			if err := e.app.DismissNotice(e.bso, decline); err != nil {
				t.Fatal(err)
			}
			if got := inboxKinds(t, e, e.bso, d.ID); !slices.Equal(got, []string{"unknown_calendars"}) {
				t.Errorf("business support's inbox after dismissal %v", got)
			}
			if got := inboxKinds(t, e, e.chair, d.ID); !slices.Equal(got, []string{"decline", "unknown_calendars"}) {
				t.Errorf("the chair's inbox after business support's dismissal %v", got)
			}
			if _, err := e.app.Inbox(e.police, service.InboxFilter{}); service.ErrorCode(err) != service.EFORBIDDEN {
				t.Errorf("an agency representative's inbox: %v", err)
			}
		}},
		{"a held reply clears from both inboxes when it is decided", func(t *testing.T, e *env) {
			d := e.convene(t, true)
			gw := service.WithPrincipal(context.Background(), &service.Principal{Subject: "mx", Roles: []service.Role{service.RoleMailGateway}})
			forged := []byte(strings.Replace(string(reply(e, d, "nina@nhs.example.org", "DECLINED")), "mx.test.example", "mx.attacker.example", 1))
			if res, err := e.app.IngestMessage(gw, forged, "http", ""); err != nil || res.Result != service.InboundHeld {
				t.Fatalf("held: %v %+v", err, res)
			}
			if got := inboxKinds(t, e, e.bso, d.ID); !slices.Equal(got, []string{"held_reply", "unknown_calendars"}) {
				t.Errorf("inbox %v", got)
			}
			got, _ := e.app.Discussion(e.bso, d.ID)
			if _, err := e.app.DecideHeldReply(e.bso, d.ID, got.HeldReplies[0].ID, false); err != nil {
				t.Fatal(err)
			}
			for _, ctx := range []context.Context{e.bso, e.chair} {
				if got := inboxKinds(t, e, ctx, d.ID); !slices.Equal(got, []string{"unknown_calendars"}) {
					t.Errorf("inbox after the decision %v", got)
				}
			}
		}},
		{"a notice saved but not moved (a crash) is moved by the sweep, once", func(t *testing.T, e *env) {
			d := e.convene(t, false)
			loaded, err := e.app.Store.Discussion(context.Background(), d.ID)
			if err != nil {
				t.Fatal(err)
			}
			after := loaded.Clone()
			after.Notify(service.NoticeAtRisk, "", time.Now())
			if err := e.app.Store.PatchDiscussion(context.Background(), service.Diff(loaded, after, time.Now())); err != nil {
				t.Fatal(err)
			}
			if got := inboxKinds(t, e, e.bso, d.ID); len(got) != 0 {
				t.Fatalf("moved before the sweep: %v", got)
			}
			e.app.SweepRaised(context.Background())
			e.app.SweepRaised(context.Background())
			if got := inboxKinds(t, e, e.bso, d.ID); !slices.Equal(got, []string{"at_risk"}) {
				t.Errorf("after the sweeps %v", got)
			}
			if got := inboxKinds(t, e, e.chair, d.ID); !slices.Equal(got, []string{"at_risk"}) {
				t.Errorf("the chair's after the sweeps %v", got)
			}
		}},
		{"preferences: immediate emails, or one digest a day, with no case details", func(t *testing.T, e *env) {
			srv := smtptest.Start(t, smtptest.Options{})
			e.app.Mail.PublicURL = "https://convene.council.example.org"
			if _, err := e.app.SetNotificationPreference(e.bso, service.DeliveryDigest); err != nil {
				t.Fatal(err)
			}
			if _, err := e.app.SetNotificationPreference(e.bso, "sometimes"); service.ErrorCode(err) != service.EINVALID {
				t.Errorf("a preference that is not one: %v", err)
			}
			if p, err := e.app.NotificationPreference(e.chair); err != nil || p.Delivery != service.DeliveryDigest {
				t.Errorf("the chair's default: %+v %v", p, err)
			}
			if _, err := e.app.SetNotificationPreference(e.chair, service.DeliveryImmediate); err != nil {
				t.Fatal(err)
			}
			e.app.Mail.Notify.Hooks = false
			// The digest goes out the hour after now, covering now; the
			// clock is moved on to it later, while the sender runs.
			now := time.Now().In(london)
			e.app.Mail.Notify.DigestHour = (now.Hour() + 1) % 24
			due := time.Date(now.Year(), now.Month(), now.Day(), now.Hour()+1, 1, 0, 0, london)
			var clock atomic.Pointer[time.Time]
			e.app.Now = func() time.Time {
				if c := clock.Load(); c != nil {
					return *c
				}
				return time.Now()
			}
			d := e.convene(t, true) // raises unknown_calendars
			ctx, cancel := context.WithCancel(context.Background())
			// One sender: on FerretDB two senders can claim one message (see
			// storetest.Caps.Atomic), and this counts messages.
			w := &outbox.Worker{App: e.app, Owner: "test", Workers: 1, Sender: &invites.SMTPSender{Config: invites.SMTPConfig{Addr: srv.Addr, TLS: invites.NoTLS,
				LocalName: "council.example.org", DialTimeout: 2 * time.Second, CommandTimeout: 5 * time.Second, SubmissionTimeout: 10 * time.Second}}}
			done := make(chan struct{})
			go func() { w.Run(ctx); close(done) }()
			t.Cleanup(func() { cancel(); <-done })
			// Four invitations and the chair's immediate notice.
			msgs := srv.Wait(t, 5, 20*time.Second)
			var notices []smtptest.Received
			for _, m := range msgs {
				if strings.Contains(string(m.Raw), "Auto-Submitted: auto-generated") {
					notices = append(notices, m)
				}
			}
			if len(notices) != 1 || !slices.Equal(notices[0].RcptTos, []string{"chris@council.example.org"}) {
				for _, m := range msgs {
					t.Logf("to %v: %.300s", m.RcptTos, m.Raw)
				}
				t.Fatalf("immediate notices %+v", notices)
			}
			body := decodeQP(t, notices[0].Raw)
			if !strings.Contains(body, "https://convene.council.example.org/discussions/"+d.ID) || strings.Contains(body, "Sam Social") ||
				strings.Contains(body, "Dana") || strings.Contains(body, "Nina") {
				t.Errorf("notice email:\n%s", body)
			}
			clock.Store(&due)
			n, err := e.app.SendDigests(context.Background())
			if err != nil || n != 1 {
				t.Fatalf("digests queued %d %v, want 1", n, err)
			}
			if n, err := e.app.SendDigests(context.Background()); err != nil || n != 0 {
				t.Errorf("second run queued %d %v, want none", n, err)
			}
			e.app.Wake()
			msgs = srv.Wait(t, 6, 20*time.Second)
			digest := decodeQP(t, msgs[5].Raw)
			if !slices.Equal(msgs[5].RcptTos, []string{"bea@council.example.org"}) || !strings.Contains(digest, "could not be read when the discussion was booked: 1") ||
				!strings.Contains(digest, "/discussions/"+d.ID) || strings.Contains(digest, "Chris Chair") {
				t.Errorf("digest to %v:\n%s", msgs[5].RcptTos, digest)
			}
		}},
		{"the export and the figures page through every discussion of the period, by deadline", func(t *testing.T, e *env) {
			base := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
			for i := range 230 {
				if err := e.app.Store.CreateDiscussion(context.Background(), storetest.Discussion(fmt.Sprintf("x%04d", i), base.Add(time.Duration(i)*time.Hour))); err != nil {
					t.Fatal(err)
				}
			}
			period := service.PeriodFilter{From: base, To: base.Add(229 * time.Hour)} // the last one is outside
			var got []string
			if err := e.app.ExportDiscussions(e.bso, period, func(r *service.ExportRow) error { got = append(got, r.ID); return nil }); err != nil {
				t.Fatal(err)
			}
			if len(got) != 229 || got[0] != "x0000" || got[228] != "x0228" || !slices.IsSorted(got) {
				t.Errorf("exported %d: %v … %v", len(got), got[:3], got[len(got)-3:])
			}
			figs, err := e.app.ManagementFigures(e.bso, period)
			if err != nil || len(figs.Timeliness) != 1 || figs.Timeliness[0].Discussions != 229 || figs.Timeliness[0].Overdue != 229 {
				t.Errorf("figures %+v %v", figs, err)
			}
			if err := e.app.ExportDiscussions(e.chair, period, func(*service.ExportRow) error { return nil }); service.ErrorCode(err) != service.EFORBIDDEN {
				t.Errorf("a chair's export: %v", err)
			}
		}},
		{"a chair who has not chosen gets the daily digest, once", func(t *testing.T, e *env) {
			d := e.convene(t, true)
			now := time.Now().In(london)
			e.app.Mail.Notify.DigestHour = (now.Hour() + 1) % 24
			due := time.Date(now.Year(), now.Month(), now.Day(), now.Hour()+1, 1, 0, 0, london)
			e.app.Now = func() time.Time { return due }
			for i, want := range []int{1, 0} {
				if n, err := e.app.SendDigests(context.Background()); err != nil || n != want {
					t.Errorf("run %d queued %d %v, want %d", i, n, err, want)
				}
			}
			id := "digest:chris@council.example.org:" + due.Format(time.DateOnly)
			ms, err := e.app.Store.Messages(context.Background(), []string{id})
			if err != nil || len(ms) != 1 || ms[0].Method != service.MethodDigest || !strings.Contains(decodeQP(t, ms[0].Raw), "/discussions/"+d.ID) {
				t.Fatalf("digest %s: %v %+v", id, err, ms)
			}
		}},
	}
	for _, st := range stores {
		t.Run(st.name, func(t *testing.T) {
			t.Parallel()
			for _, c := range cases {
				t.Run(c.name, func(t *testing.T) {
					t.Parallel()
					e := newEnv(t, st.open(t))
					e.app.Mail.Notify.Hooks = true
					c.run(t, e)
				})
			}
		})
	}
}
