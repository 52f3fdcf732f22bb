package outbox_test

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/convene/convene/calendar"
	"github.com/convene/convene/invites"
	"github.com/convene/convene/invites/smtptest"
	"github.com/convene/convene/service"
	"github.com/convene/convene/service/outbox"
	"github.com/convene/convene/service/sqlite"
)

// TestDigestOncePerDayAcrossInstances: two instances' senders, on one
// store, both find the day's digest due; the chair receives it once.
func TestDigestOncePerDayAcrossInstances(t *testing.T) {
	t.Parallel()
	srv := smtptest.Start(t, smtptest.Options{})
	store, err := sqlite.Open(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close() })
	ctx := context.Background()
	london, _ := time.LoadLocation("Europe/London")
	// It is 07:30 on 2 March; the digest went out at 07:00 for the day
	// before, when a notice reached the chair's inbox.
	now := time.Date(2026, 3, 2, 7, 30, 0, 0, london)
	chair := &service.Person{ID: "p1", Name: "Chris Chair", Email: "chris@council.example.org", Agency: "social_care", Role: "team_manager",
		Seniority: 3, Chair: true, Active: true, TimeZone: "Europe/London", WorkingHours: calendar.DefaultWorkingHours,
		Version: 1, CreatedAt: now, UpdatedAt: now}
	if err := store.CreatePerson(ctx, chair); err != nil {
		t.Fatal(err)
	}
	if err := store.AddNotice(ctx, &service.Notice{ID: "d1:notice:decline:x:" + chair.Email, Recipient: chair.Email, DiscussionID: "d1",
		Kind: service.NoticeDecline, Key: "x", Label: "Strategy discussion — case CR-2026-0001", CreatedAt: now.Add(-12 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	sender := &invites.SMTPSender{Config: invites.SMTPConfig{Addr: srv.Addr, TLS: invites.NoTLS, LocalName: "council.example.org",
		DialTimeout: 2 * time.Second, CommandTimeout: 5 * time.Second, SubmissionTimeout: 10 * time.Second}}
	run := func(owner string) {
		app := service.NewApp(store, slog.New(slog.NewTextHandler(io.Discard, nil)))
		app.Now, app.Zone = func() time.Time { return now }, london
		app.UseMailer(&service.Mailer{Organizer: invites.Person{Name: "Convene", Email: "convene@council.example.org"},
			Composer: &invites.Composer{}, PublicURL: "https://convene.council.example.org",
			Notify: service.NotifyOptions{DigestHour: 7}})
		w := &outbox.Worker{App: app, Sender: sender, Owner: owner, Workers: 1}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { w.Run(ctx); close(done) }()
		t.Cleanup(func() { cancel(); <-done })
	}
	run("instance-a")
	run("instance-b")
	got := srv.Wait(t, 1, 20*time.Second)
	if len(got[0].RcptTos) != 1 || got[0].RcptTos[0] != chair.Email || !strings.Contains(string(got[0].Raw), "daily digest for 2026-03-02") {
		t.Errorf("digest to %v:\n%s", got[0].RcptTos, got[0].Raw)
	}
	ms, err := store.Messages(ctx, []string{"digest:" + chair.Email + ":2026-03-02"})
	if err != nil || len(ms) != 1 || ms[0].Method != service.MethodDigest {
		t.Fatalf("digest in the outbox: %+v %v", ms, err)
	}
	// Nothing more comes (a bound, since this waits for an absence): both
	// instances have looked, and the digest's id is taken.
	deadline := time.After(3 * time.Second)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-deadline:
			return
		case <-tick.C:
			if n := srv.Count(); n != 1 {
				t.Fatalf("%d digests arrived, want 1", n)
			}
		}
	}
}
