// Package outbox sends the durable outbox of iMIP messages (RFC 6047) that
// changes to discussions leave in the store: several workers claim one
// message at a time under a lease (so several instances never send the same
// message in normal operation), send it over SMTP or to a directory, record
// the result, and retry failures with exponential backoff and jitter. A
// message whose retries run out, or that a server refuses for good, is
// recorded on its discussion's timeline and counted, and business support
// can re-queue it.
package outbox

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/convene/convene/invites"
	"github.com/convene/convene/service"
)

// Worker sends the outbox.
type Worker struct {
	App    *service.App
	Sender invites.Sender
	Log    *slog.Logger
	// Owner names this instance in leases.
	Owner string
	// Workers send side by side, so one slow recipient's server does not
	// hold up every other message.
	Workers int
	// Lease is how long a sender holds a message; a send is cut off before
	// its lease ends, so no other sender starts on it while it is in
	// flight. RetryBase is the first retry's delay, doubling to RetryMax;
	// MaxAttempts ends retries.
	Lease       time.Duration
	RetryBase   time.Duration
	RetryMax    time.Duration
	MaxAttempts int

	// Hook delivers webhooks to the case system; nil leaves them queued
	// (they are only queued when a receiver is configured).
	Hook *Hook

	// Sent and Failed count messages delivered and given up on.
	Sent, Failed atomic.Int64

	// failing counts failures still being recorded on their discussions;
	// digested is the last day whose digests were queued (Run's goroutine
	// alone reads and writes it).
	failing  sync.WaitGroup
	digested string
}

func (w *Worker) defaults() {
	if w.Workers <= 0 {
		w.Workers = 4
	}
	if w.Lease <= 0 {
		w.Lease = 2 * time.Minute
	}
	if w.RetryBase <= 0 {
		w.RetryBase = 30 * time.Second
	}
	if w.RetryMax <= 0 {
		w.RetryMax = 30 * time.Minute
	}
	if w.MaxAttempts <= 0 {
		w.MaxAttempts = 12
	}
	if w.Log == nil {
		w.Log = slog.Default()
	}
}

// Run sends until ctx ends. It also sweeps discussions for messages that
// were decided on but not moved to the outbox (a crash between the two).
func (w *Worker) Run(ctx context.Context) {
	w.defaults()
	w.App.SweepPending(ctx)
	w.App.SweepRaised(ctx)
	w.digests(ctx)
	var wg sync.WaitGroup
	kick := make(chan struct{}, w.Workers)
	for range w.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			poll := time.NewTicker(2 * time.Second)
			defer poll.Stop()
			for {
				for ctx.Err() == nil && w.sendOne(ctx) {
				}
				select {
				case <-ctx.Done():
					return
				case <-kick:
				case <-poll.C:
				}
			}
		}()
	}
	// Changes move their messages to the outbox themselves; the sweep only
	// recovers from a crash between the two, so it need not run often.
	sweep := time.NewTicker(5 * time.Minute)
	defer sweep.Stop()
	// The daily digests are looked for each minute: queueing one is
	// idempotent (its id is the person and the day), so an instance that
	// restarts, or two instances, queue each once.
	digest := time.NewTicker(time.Minute)
	defer digest.Stop()
	for {
		select {
		case <-ctx.Done():
			wg.Wait()
			w.failing.Wait()
			return
		case <-digest.C:
			w.digests(ctx)
		case <-w.App.Woken():
			for range w.Workers {
				select {
				case kick <- struct{}{}:
				default:
				}
			}
		case <-sweep.C:
			w.App.SweepPending(ctx)
			w.App.SweepRaised(ctx)
		}
	}
}

// sendOne claims and sends the next message due, reporting whether there
// was one.
func (w *Worker) sendOne(ctx context.Context) bool {
	now := w.App.Now().UTC()
	m, err := w.App.Store.ClaimMessage(ctx, w.Owner, now, w.Lease)
	if service.ErrorCode(err) == service.ENOTFOUND {
		return false
	} else if err != nil {
		if ctx.Err() == nil {
			w.Log.WarnContext(ctx, "outbox claim", "err", err)
		}
		return false
	}
	record := func() {
		if err := w.App.Store.UpdateMessage(context.WithoutCancel(ctx), m, w.Owner); err != nil {
			w.Log.ErrorContext(ctx, "outbox result not recorded", "message", m.ID, "err", err)
		}
	}
	// A message that says nothing a later one does not is not sent; nor is
	// one whose result was recorded before its queue entry was removed.
	if m.State != service.MessageSending {
		m.LeaseUntil = now
		record()
		return true
	}
	if w.App.Superseded(ctx, m) {
		m.State, m.LeaseUntil = service.MessageSuperseded, now
		record()
		return true
	}
	// The send finishes even if the service is shutting down (a message
	// cut off mid-transfer would be sent again), but never outlives the
	// lease.
	sendCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), w.Lease*3/4)
	var where string
	if m.Method == service.MethodWebhook {
		where, err = w.Hook.deliver(sendCtx, m)
	} else {
		where, err = w.Sender.Send(sendCtx, &invites.Message{ID: m.MessageID, From: m.EnvelopeFrom, To: []string{m.To}, Raw: m.Raw})
	}
	cancel()
	now = w.App.Now().UTC()
	m.LeaseUntil = now
	if err == nil {
		m.State, m.SentAt, m.Delivery, m.LastError = service.MessageSent, &now, where, ""
		w.Sent.Add(1)
		w.Log.InfoContext(ctx, "invitation sent", "discussion", m.DiscussionID, "method", m.Method, "to", m.To, "delivery", where)
		record()
		return true
	}
	var se *invites.SendError
	m.LastError = err.Error()
	m.Permanent = errors.As(err, &se) && se.Permanent
	if m.Permanent || m.Attempts >= w.MaxAttempts {
		m.State = service.MessageFailed
		w.Failed.Add(1)
		w.Log.ErrorContext(ctx, "invitation not delivered", "discussion", m.DiscussionID, "to", m.To, "attempts", m.Attempts, "err", err)
		record()
		// Recorded on the discussion (its timeline, business support's
		// inbox) beside the sending, which goes on at once.
		w.failing.Add(1)
		go func() {
			defer w.failing.Done()
			w.App.MessageFailed(context.WithoutCancel(ctx), m)
		}()
		return true
	}
	m.State, m.NextAttempt = service.MessageQueued, now.Add(w.backoff(m.Attempts))
	w.Log.WarnContext(ctx, "delivery will be retried", "discussion", m.DiscussionID, "method", m.Method, "to", m.To, "attempts", m.Attempts, "at", m.NextAttempt, "err", err)
	record()
	return true
}

// backoff is the delay before attempt n+1: doubling from RetryBase up to
// RetryMax, with jitter so that a recovering server is not hit all at once.
func (w *Worker) backoff(attempts int) time.Duration {
	d := w.RetryBase << min(max(attempts-1, 0), 20)
	if d > w.RetryMax || d <= 0 {
		d = w.RetryMax
	}
	return d/2 + rand.N(d/2+1)
}
