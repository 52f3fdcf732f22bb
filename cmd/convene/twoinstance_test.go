package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/mail"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/convene/convene/invites/smtptest"
	"github.com/convene/convene/service"
	"github.com/convene/convene/service/mongodb"
	"github.com/convene/convene/service/outbox"
	"github.com/convene/convene/service/policy"
	"github.com/convene/convene/service/sqlite"
)

// TestTwoInstancesSendEveryMessageOnce runs the background work of two
// Convene instances (each its own App, outbox worker with four senders,
// deadline watch and retention worker, under its own lease owner) side by
// side over one shared store, with a real SMTP server. Discussions are
// booked through both; the watch chases every invitee who has not replied.
// Half way through, instance A stops, as in a rolling restart, and B goes
// on alone. Every message in the outbox arrives exactly once, and every
// invitee is reminded exactly once.
//
// The shared store here is the embedded one (one process, so one store
// object, as two processes cannot share its directory); the same leases
// and guarded claims are what the MongoDB store runs, and the store
// conformance suite's race cases check them on both engines.
func TestTwoInstancesSendEveryMessageOnce(t *testing.T) {
	t.Parallel()
	engines := []struct {
		name string
		open func(t *testing.T, dataDir string) service.Store
	}{{"sqlite", func(t *testing.T, dataDir string) service.Store {
		s, err := sqlite.Open(context.Background(), dataDir)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Close() })
		return s
	}}}
	if uri := os.Getenv("MONGODB_URI"); uri != "" {
		// The scale-out engine, when a real MongoDB is at hand (FerretDB
		// is no stand-in for this: it does not re-check a claim's filter).
		engines = append(engines, struct {
			name string
			open func(t *testing.T, dataDir string) service.Store
		}{"mongodb", func(t *testing.T, _ string) service.Store {
			s, err := mongodb.Open(context.Background(), uri, fmt.Sprintf("twoinstance_%d", time.Now().UnixNano()))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = s.Close(context.Background()) })
			return s
		}})
	} else {
		t.Log("MONGODB_URI is not set: the two instances run on the embedded store only")
	}
	for _, e := range engines {
		t.Run(e.name, func(t *testing.T) { twoInstances(t, e.open) })
	}
}

func twoInstances(t *testing.T, open func(t *testing.T, dataDir string) service.Store) {
	smtp := smtptest.Start(t, smtptest.Options{})
	env := testEnv(t, "CONVENE_SMTP_ADDR", smtp.Addr, "CONVENE_SMTP_TLS", "none",
		"CONVENE_OUTBOX_LEASE", "10s", "CONVENE_OUTBOX_RETRY_BASE", "1s")
	getenv := func(k string) string { return env[k] }
	cfg, err := loadConfig(getenv)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	store := open(t, cfg.DataDir)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))

	type instance struct {
		app  *service.App
		stop context.CancelFunc
		done sync.WaitGroup
	}
	start := func(name string) *instance {
		app, err := newApp(ctx, cfg, store, getenv, log)
		if err != nil {
			t.Fatal(err)
		}
		sender, err := newSender(cfg, log)
		if err != nil {
			t.Fatal(err)
		}
		in := &instance{app: app}
		wctx, stop := context.WithCancel(ctx)
		in.stop = stop
		owner := "instance-" + name
		w := &outbox.Worker{App: app, Sender: sender, Log: log, Owner: owner, Workers: 4, Lease: cfg.OutboxLease, RetryBase: cfg.OutboxRetryBase}
		r := &service.RetentionWorker{App: app, Owner: owner, Interval: 200 * time.Millisecond}
		in.done.Add(3)
		go func() { defer in.done.Done(); w.Run(wctx) }()
		go func() {
			defer in.done.Done()
			// Invitees not answering within 2s are chased, once.
			app.RunWatch(wctx, owner, service.Watch{Interval: 200 * time.Millisecond, AtRiskFraction: 0.5, ReminderAfter: 2 * time.Second})
		}()
		go func() { defer in.done.Done(); r.Run(wctx) }()
		return in
	}
	a, b := start("a"), start("b")
	defer func() { a.stop(); b.stop(); a.done.Wait(); b.done.Wait() }()

	admin := service.WithPrincipal(ctx, &service.Principal{Subject: "ada", Name: "Ada Admin", Roles: []service.Role{service.RoleAdmin}})
	bso := service.WithPrincipal(ctx, &service.Principal{Subject: "bea", Name: "Bea Support", Email: "bea@council.example.org",
		Roles: []service.Role{service.RoleBusinessSupport}, Agency: policy.AgencySocialCare})
	const n = 8
	var ids []string
	day := time.Now().In(london).AddDate(0, 0, 2)
	for i := range n {
		// Each discussion its own people, so that bookings never collide.
		var people []string
		var emails []string
		for _, p := range []service.Person{
			{Name: "Chris Chair", Email: fmt.Sprintf("chair%d@council.example.org", i), Agency: policy.AgencySocialCare, Role: "team_manager", Seniority: 3, Chair: true},
			{Name: "Sam Social", Email: fmt.Sprintf("sw%d@council.example.org", i), Agency: policy.AgencySocialCare, Role: "social_worker", Seniority: 1},
			{Name: "Dana Inspector", Email: fmt.Sprintf("dana%d@police.example.org", i), Agency: policy.AgencyPolice, Role: "police_officer", Seniority: 3},
			{Name: "Nina Nurse", Email: fmt.Sprintf("nina%d@nhs.example.org", i), Agency: policy.AgencyHealth, Role: "safeguarding_nurse", Seniority: 3},
		} {
			created, err := a.app.CreatePerson(admin, p)
			if err != nil {
				t.Fatal(err)
			}
			people, emails = append(people, created.ID), append(emails, p.Email)
		}
		via := []*instance{a, b}[i%2].app
		d, _, err := via.Convene(bso, service.ConveneRequest{
			CaseReference: fmt.Sprintf("CR-2026-6%03d", i), Case: policy.Case{TimescaleRequest: policy.TimescaleRequest{
				RAG: policy.RAGAmber, Concerns: []policy.Concern{"other"}, ReferralReceivedAt: time.Now()}},
			ChairID: people[0], Invitees: []service.InviteeRequest{{PersonID: people[1], KnowsChild: true}, {PersonID: people[2]}, {PersonID: people[3]}},
		})
		if err != nil {
			t.Fatalf("convene %d: %v", i, err)
		}
		startAt := time.Date(day.Year(), day.Month(), day.Day(), 10, 0, 0, 0, london)
		if _, err := via.Book(bso, d.ID, service.BookRequest{Start: startAt, OverrideReason: "test: any time", ConfirmUnknown: emails}); err != nil {
			t.Fatalf("book %d: %v", i, err)
		}
		ids = append(ids, d.ID)
		if i == n/2 {
			// A rolling restart: A stops while messages and reminders are
			// in flight; B carries on.
			a.stop()
			a.done.Wait()
		}
	}

	// Quiescence: every invitee reminded, nothing still pending on a
	// discussion, queued or being sent, and as many messages received as
	// the outbox sent.
	deadline := time.Now().Add(90 * time.Second)
	var sent int
	for {
		// The discussions first, then the outbox: a reminder moved to the
		// outbox before its discussion is read is then in the counts.
		reminded, invitees, pending := 0, 0, 0
		for _, id := range ids {
			d, err := store.Discussion(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			pending += len(d.Pending)
			for _, inv := range d.Invitees {
				if !inv.Removed {
					invitees++
					if inv.RemindedAt != nil {
						reminded++
					}
				}
			}
		}
		st, err := store.OutboxStats(ctx)
		if err != nil {
			t.Fatal(err)
		}
		sent = st.ByState[service.MessageSent]
		if st.ByState[service.MessageQueued]+st.ByState[service.MessageSending] == 0 && pending == 0 && reminded == invitees && smtp.Count() >= sent && sent > 0 {
			if st.ByState[service.MessageFailed] > 0 {
				t.Errorf("%d messages failed", st.ByState[service.MessageFailed])
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not done in 90s: outbox %v, %d of %d invitees reminded, %d messages received", st.ByState, reminded, invitees, smtp.Count())
		}
		time.Sleep(50 * time.Millisecond) // polling, with a deadline
	}
	// Anything sent twice would be in flight by now: stop B and let its
	// senders finish before counting.
	b.stop()
	b.done.Wait()
	got := smtp.Received(t)
	if len(got) != sent {
		t.Errorf("%d messages received, the outbox sent %d", len(got), sent)
	}
	byID := map[string]int{}
	perRecipient := map[string]int{}
	for _, m := range got {
		msg, err := mail.ReadMessage(bytes.NewReader(m.Raw))
		if err != nil {
			t.Fatal(err)
		}
		id := msg.Header.Get("Message-Id")
		byID[id]++
		if byID[id] == 2 {
			t.Errorf("message %s sent twice", id)
		}
		for _, r := range m.RcptTos {
			perRecipient[r]++
		}
	}
	// Each invitee: the invitation, and the one reminder the watch sent
	// when they had not answered; nothing else happened to them.
	if len(perRecipient) != 4*n {
		t.Errorf("%d recipients, want %d", len(perRecipient), 4*n)
	}
	for r, k := range perRecipient {
		if k != 2 {
			t.Errorf("%s got %d messages, want 2 (the invitation and one reminder)", r, k)
		}
	}
	t.Logf("%d discussions booked through two instances, %d messages sent, each once; %d recipients invited and reminded once each", n, sent, len(perRecipient))
}
