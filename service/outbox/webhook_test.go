package outbox_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/convene/convene/calendar"
	"github.com/convene/convene/service"
	"github.com/convene/convene/service/outbox"
	"github.com/convene/convene/service/sqlite"
)

// receiver is a case system's webhook endpoint: it is down (503) for the
// first few requests, then takes each event, checking its signature.
type receiver struct {
	mu       sync.Mutex
	down     int
	tries    int
	accepted []string
	badSig   int
	got      chan struct{}
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.tries++
	if r.tries <= r.down {
		http.Error(w, "down for maintenance", http.StatusServiceUnavailable)
		return
	}
	if err := service.VerifyHook(secret, req.Header.Get(service.HookSignatureHeader), body, time.Now(), 5*time.Minute); err != nil ||
		req.Header.Get("Content-Type") != "application/cloudevents+json" {
		r.badSig++
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	r.accepted = append(r.accepted, string(body))
	w.WriteHeader(http.StatusNoContent)
	select {
	case r.got <- struct{}{}:
	default:
	}
}

var secret = []byte("a-webhook-secret-of-some-length")

func newWorker(t *testing.T, url string, policy calendar.OutboundPolicy) (*service.App, *outbox.Worker) {
	t.Helper()
	store, err := sqlite.Open(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close() })
	app := service.NewApp(store, slog.New(slog.NewTextHandler(io.Discard, nil)))
	hook, err := outbox.NewHook(url, secret, policy)
	if err != nil {
		t.Fatal(err)
	}
	return app, &outbox.Worker{App: app, Owner: "t", Workers: 1, Hook: hook, RetryBase: 20 * time.Millisecond, RetryMax: 50 * time.Millisecond, MaxAttempts: 3}
}

func enqueueHook(t *testing.T, app *service.App, id string) {
	t.Helper()
	now := time.Now().UTC()
	if err := app.Store.EnqueueMessage(context.Background(), &service.OutboxMessage{ID: id, DiscussionID: "d1", Method: service.MethodWebhook,
		To: "case-system", Raw: []byte(`{"specversion":"1.0","id":"` + id + `"}`), State: service.MessageQueued, NextAttempt: now, CreatedAt: now}); err != nil {
		t.Fatal(err)
	}
}

func state(t *testing.T, app *service.App, id string) service.OutboxMessage {
	t.Helper()
	ms, err := app.Store.Messages(context.Background(), []string{id})
	if err != nil || len(ms) != 1 {
		t.Fatalf("message %s: %v", id, err)
	}
	return ms[0]
}

// poll waits for cond, failing at the deadline.
func poll(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		<-tick.C
	}
}

func TestWebhookRetriedUntilTheReceiverIsUp(t *testing.T) {
	t.Parallel()
	rcv := &receiver{down: 2, got: make(chan struct{}, 1)}
	srv := httptest.NewServer(rcv)
	t.Cleanup(srv.Close)
	app, w := newWorker(t, srv.URL+"/hooks/convene", calendar.OutboundPolicy{AllowNetworks: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}})
	enqueueHook(t, app, "d1:event:discussion.booked:b1")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { w.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	app.Wake()
	poll(t, 20*time.Second, "the webhook to be sent", func() bool {
		return state(t, app, "d1:event:discussion.booked:b1").State == service.MessageSent
	})
	rcv.mu.Lock()
	defer rcv.mu.Unlock()
	if rcv.tries != 3 || len(rcv.accepted) != 1 || rcv.badSig != 0 || !strings.Contains(rcv.accepted[0], "discussion.booked") {
		t.Errorf("tries %d, accepted %v, bad signatures %d", rcv.tries, rcv.accepted, rcv.badSig)
	}
	if m := state(t, app, "d1:event:discussion.booked:b1"); m.Attempts != 3 || !strings.Contains(m.Delivery, "204") {
		t.Errorf("recorded %+v", m)
	}
}

func TestWebhookHeldToTheOutboundPolicy(t *testing.T) {
	t.Parallel()
	rcv := &receiver{got: make(chan struct{}, 1)}
	srv := httptest.NewServer(rcv)
	t.Cleanup(srv.Close)
	// Loopback is not allowed by default: the worker never connects.
	app, w := newWorker(t, srv.URL, calendar.OutboundPolicy{})
	enqueueHook(t, app, "d1:event:discussion.started:")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { w.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	app.Wake()
	poll(t, 20*time.Second, "the webhook to fail", func() bool {
		return state(t, app, "d1:event:discussion.started:").State == service.MessageFailed
	})
	if m := state(t, app, "d1:event:discussion.started:"); !strings.Contains(m.LastError, "refused by policy") {
		t.Errorf("last error %q", m.LastError)
	}
	rcv.mu.Lock()
	defer rcv.mu.Unlock()
	if rcv.tries != 0 {
		t.Errorf("the receiver was reached %d times", rcv.tries)
	}
}

func TestNewHookChecksItsConfiguration(t *testing.T) {
	for _, tc := range []struct{ url, secret string }{
		{"ftp://case.example.org/", string(secret)},
		{"https://case.example.org/hooks", "short"},
		{"not a url", string(secret)},
	} {
		if _, err := outbox.NewHook(tc.url, []byte(tc.secret), calendar.OutboundPolicy{}); err == nil {
			t.Errorf("%q with a %d-byte secret accepted", tc.url, len(tc.secret))
		}
	}
}
