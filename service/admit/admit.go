// Package admit holds requests at the door when the machine is busy: at
// most a fixed number do their work at once, the rest wait in arrival
// order, and a request that waits too long, or arrives to too long a
// queue, is answered 503 with Retry-After rather than held.
//
// Without it every request in flight shares the processors: under a burst
// each takes as long as all of them together, and a costly one (a list, a
// booking) takes many times its own time. With the door, a request's time
// is its wait in the queue plus its own work beside a few others, so the
// slowest answers come far sooner for the same throughput. (Measured in
// BENCHMARKS.md: 20 clients of mixed traffic at 100,000 discussions, p99
// from about 105 ms to about 70 ms.)
//
// A request that waits on another server (a calendar, the identity
// provider) gives its place up while it waits, through Transport, so a slow
// calendar server cannot fill the service's places with requests doing
// nothing.
package admit

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Limiter is the door.
type Limiter struct {
	// BodyLimit, when set, is how much of a request's body is read before
	// it takes its place (the most the service accepts): a client sending
	// slowly then holds no place while it sends.
	BodyLimit int64

	limit   int
	maxWait time.Duration
	maxLine int

	mu     sync.Mutex
	active int
	line   []chan struct{} // the waiting, first come first

	shed    atomic.Int64
	reading atomic.Int64
}

// New returns a door that lets active requests in at once, keeps at most
// queue waiting, and sheds a request that has waited maxWait.
func New(active, queue int, maxWait time.Duration) *Limiter {
	return &Limiter{limit: max(active, 1), maxWait: maxWait, maxLine: queue}
}

// Waiting is how many requests are waiting now.
func (l *Limiter) Waiting() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.line)
}

// Active is how many requests hold a place now.
func (l *Limiter) Active() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.active
}

// Reading is how many requests' bodies are being read before they take a
// place.
func (l *Limiter) Reading() int64 { return l.reading.Load() }

// Shed is how many requests have been turned away.
func (l *Limiter) Shed() int64 { return l.shed.Load() }

type slotKey struct{}

// slot is a request's place. held says whether the request has it now: it
// gives it up while any of its goroutines waits on another server (aside
// counts them), and done marks the request finished, so a wait that ends
// after it does not take a place back for good.
type slot struct {
	l     *Limiter
	mu    sync.Mutex
	held  bool
	aside int
	done  bool
}

// acquire waits for a place, in arrival order, until the request ends or
// the wait is over. A request arriving (limited) is turned away at once
// when the line is full; one already under way is not.
func (l *Limiter) acquire(ctx context.Context, wait time.Duration, limited bool) bool {
	l.mu.Lock()
	if l.active < l.limit && len(l.line) == 0 {
		l.active++
		l.mu.Unlock()
		return true
	}
	if limited && len(l.line) >= l.maxLine {
		l.mu.Unlock()
		return false
	}
	turn := make(chan struct{})
	l.line = append(l.line, turn)
	l.mu.Unlock()
	var timeout <-chan time.Time
	if wait > 0 {
		t := time.NewTimer(wait)
		defer t.Stop()
		timeout = t.C
	}
	select {
	case <-turn:
		return true
	case <-ctx.Done():
	case <-timeout:
	}
	l.mu.Lock()
	if i := slices.Index(l.line, turn); i >= 0 {
		l.line = slices.Delete(l.line, i, i+1)
		l.mu.Unlock()
		return false
	}
	l.mu.Unlock()
	// Its turn came as it gave up: pass the place on.
	l.release()
	return false
}

// release hands the place to the first in line, or frees it.
func (l *Limiter) release() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.line) > 0 {
		close(l.line[0])
		l.line = l.line[1:]
		return
	}
	l.active--
}

// Handler admits requests to next; exempt ones (health checks, metrics)
// go straight in. A request turned away gets 503 with Retry-After: a
// problem document, or a short page for a browser.
func (l *Limiter) Handler(next http.Handler, exempt func(*http.Request) bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if exempt != nil && exempt(r) {
			next.ServeHTTP(w, r)
			return
		}
		if l.BodyLimit > 0 && r.Body != nil && r.Body != http.NoBody {
			// The body as far as the service takes it; the handler reads
			// it as if from the connection, the rest (and any error)
			// after it.
			l.reading.Add(1)
			buf, _ := io.ReadAll(io.LimitReader(r.Body, l.BodyLimit+1))
			l.reading.Add(-1)
			r.Body = body{Reader: io.MultiReader(bytes.NewReader(buf), r.Body), Closer: r.Body}
		}
		if !l.acquire(r.Context(), l.maxWait, true) {
			l.shed.Add(1)
			busy(w, r)
			return
		}
		s := &slot{l: l, held: true}
		defer func() {
			s.mu.Lock()
			held := s.held
			s.held, s.done = false, true
			s.mu.Unlock()
			if held {
				l.release()
			}
		}()
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), slotKey{}, s)))
	})
}

type body struct {
	io.Reader
	io.Closer
}

// Aside gives up the request's place (if ctx is a request's that holds
// one) while it waits on something outside the service, and returns the
// function that takes a place again once no goroutine of the request is
// waiting outside: it waits its turn without limit, as the request is
// already under way.
func Aside(ctx context.Context) (back func()) {
	s, _ := ctx.Value(slotKey{}).(*slot)
	if s == nil {
		return func() {}
	}
	s.mu.Lock()
	s.aside++
	give := s.held
	s.held = false
	s.mu.Unlock()
	if give {
		s.l.release()
	}
	var once sync.Once
	return func() { once.Do(s.back) }
}

func (s *slot) back() {
	s.mu.Lock()
	s.aside--
	need := s.aside == 0 && !s.held && !s.done
	s.mu.Unlock()
	if !need {
		return
	}
	s.l.acquire(context.Background(), 0, false)
	s.mu.Lock()
	keep := !s.held && s.aside == 0 && !s.done
	s.held = s.held || keep
	s.mu.Unlock()
	if !keep {
		// Another wait began meanwhile, or the request ended.
		s.l.release()
	}
}

// Transport gives the request's place up while it waits for another
// server's answer (to the response's headers).
type Transport struct {
	Base http.RoundTripper
}

// RoundTrip sends req through Base with the request's place set aside.
func (t Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	base := t.Base
	if base == nil {
		base = http.DefaultTransport
	}
	back := Aside(req.Context())
	defer back()
	return base.RoundTrip(req)
}

func busy(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Retry-After", "1")
	w.Header().Set("Cache-Control", "no-store")
	if accepts(r, "text/html") {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte(`<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Sorry, the service is busy – Convene</title></head>` +
			`<body><h1>Sorry, the service is busy</h1><p>Wait a moment, then try again. Nothing you entered has been saved.</p></body></html>`))
		return
	}
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(http.StatusServiceUnavailable)
	_, _ = w.Write([]byte(`{"type":"https://convene.example/problems/unavailable","title":"Service Unavailable","status":503,` +
		`"code":"unavailable","detail":"the service is busy: nothing was done; try again in a moment"}`))
}

func accepts(r *http.Request, mediaType string) bool {
	for _, v := range r.Header.Values("Accept") {
		if strings.Contains(strings.ToLower(v), mediaType) {
			return true
		}
	}
	return false
}
