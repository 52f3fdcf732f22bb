package admit

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// until waits for cond, failing the test after five seconds.
func until(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting: %s", what)
		}
		time.Sleep(time.Millisecond) // a pause between checks, not a wait for time to pass
	}
}

// gate is a handler whose requests each wait to be let through, and which
// records the order they came in.
type gate struct {
	mu      sync.Mutex
	order   []string
	inside  atomic.Int32
	most    atomic.Int32
	release chan struct{}
}

func newGate() *gate { return &gate{release: make(chan struct{})} }

func (g *gate) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n := g.inside.Add(1)
	for m := g.most.Load(); n > m && !g.most.CompareAndSwap(m, n); m = g.most.Load() {
	}
	g.mu.Lock()
	g.order = append(g.order, r.URL.Query().Get("n"))
	g.mu.Unlock()
	<-g.release
	g.inside.Add(-1)
	_, _ = io.WriteString(w, "done")
}

func (g *gate) entered() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]string(nil), g.order...)
}

func get(t *testing.T, url string, header ...string) (int, http.Header, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	res, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		t.Error(err)
		return 0, nil, ""
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, res.Header, string(b)
}

func TestRequestsBeyondTheLimitWaitTheirTurnInOrder(t *testing.T) {
	t.Parallel()
	door := New(2, 100, time.Minute)
	g := newGate()
	srv := httptest.NewServer(door.Handler(g, nil))
	defer srv.Close()
	var wg sync.WaitGroup
	codes := make([]int, 6)
	for i := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			codes[i], _, _ = get(t, srv.URL+"/?n="+string(rune('a'+i)))
		}()
		// Each arrives after the one before is in or waiting.
		until(t, "request to arrive", func() bool { return len(g.entered())+door.Waiting() == i+1 })
	}
	if got := g.entered(); strings.Join(got, "") != "ab" {
		t.Fatalf("in before any left: %v, want a and b", got)
	}
	if door.Waiting() != 4 || door.Active() != 2 {
		t.Fatalf("waiting %d, active %d; want 4 and 2", door.Waiting(), door.Active())
	}
	// One leaves at a time: each place freed goes to the first waiting.
	for i := range 6 {
		g.release <- struct{}{}
		if i < 4 {
			until(t, "the next to come in", func() bool { return len(g.entered()) == i+3 })
		}
	}
	wg.Wait()
	if got := strings.Join(g.entered(), ""); got != "abcdef" {
		t.Errorf("served in the order %q, want arrival order abcdef", got)
	}
	if g.most.Load() != 2 {
		t.Errorf("%d served at once, want at most 2", g.most.Load())
	}
	for i, c := range codes {
		if c != 200 {
			t.Errorf("request %d: %d, want 200", i, c)
		}
	}
	if door.Active() != 0 || door.Waiting() != 0 || door.Shed() != 0 {
		t.Errorf("after: active %d waiting %d shed %d, want 0", door.Active(), door.Waiting(), door.Shed())
	}
}

func TestTurnedAwayWithRetryAfterWhenTheWaitIsTooLong(t *testing.T) {
	t.Parallel()
	door := New(1, 100, 50*time.Millisecond)
	g := newGate()
	srv := httptest.NewServer(door.Handler(g, nil))
	defer srv.Close()
	held := make(chan int)
	go func() { c, _, _ := get(t, srv.URL+"/?n=a"); held <- c }()
	until(t, "first request in", func() bool { return len(g.entered()) == 1 })

	code, h, body := get(t, srv.URL+"/?n=b")
	if code != http.StatusServiceUnavailable || h.Get("Retry-After") == "" || h.Get("Content-Type") != "application/problem+json" {
		t.Fatalf("second: %d %v %s; want 503 problem+json with Retry-After", code, h, body)
	}
	var p map[string]any
	if err := json.Unmarshal([]byte(body), &p); err != nil || p["code"] != "unavailable" || p["status"] != float64(503) || p["detail"] == "" {
		t.Errorf("problem: %s (%v)", body, err)
	}
	code, h, body = get(t, srv.URL+"/?n=c", "Accept", "text/html,application/xhtml+xml")
	if code != http.StatusServiceUnavailable || !strings.HasPrefix(h.Get("Content-Type"), "text/html") || !strings.Contains(body, "Sorry, the service is busy") {
		t.Errorf("a browser: %d %s %s; want the busy page", code, h.Get("Content-Type"), body)
	}
	close(g.release)
	if c := <-held; c != 200 {
		t.Errorf("the request inside: %d", c)
	}
	if got := g.entered(); len(got) != 1 || door.Shed() != 2 {
		t.Errorf("handler ran for %v, shed %d: the turned-away requests must do nothing", got, door.Shed())
	}
}

func TestAFullQueueTurnsAwayAtOnce(t *testing.T) {
	t.Parallel()
	door := New(1, 1, time.Minute)
	g := newGate()
	mux := http.NewServeMux()
	mux.Handle("/", g)
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "done") })
	srv := httptest.NewServer(door.Handler(mux, func(r *http.Request) bool { return r.URL.Path == "/healthz" }))
	defer srv.Close()
	var wg sync.WaitGroup
	for _, n := range []string{"a", "b"} {
		wg.Add(1)
		go func() { defer wg.Done(); get(t, srv.URL+"/?n="+n) }()
		until(t, n+" in or waiting", func() bool { return len(g.entered())+door.Waiting() == int(n[0]-'a')+1 })
	}
	started := time.Now()
	if code, _, _ := get(t, srv.URL+"/?n=c"); code != 503 {
		t.Errorf("third with the queue full: %d, want 503", code)
	}
	if waited := time.Since(started); waited > 10*time.Second {
		t.Errorf("turned away after %s: it should not wait for the queue", waited)
	}
	// The exempt path is served while the door is full.
	if code, _, body := get(t, srv.URL+"/healthz"); code != 200 || body != "done" {
		close(g.release)
		t.Fatalf("health check while busy: %d %q", code, body)
	}
	close(g.release)
	wg.Wait()
}

// A request waiting on another server through Transport gives its place
// to the next; once the answer comes it takes a place again. Several of a
// request's goroutines may wait at once; no place is lost or doubled.
func TestWaitingOnAnotherServerGivesThePlaceUp(t *testing.T) {
	t.Parallel()
	slow := make(chan struct{})
	var calls atomic.Int32
	remote := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		<-slow
		_, _ = io.WriteString(w, "answer")
	}))
	defer remote.Close()
	var unblock sync.Once
	answer := func() { unblock.Do(func() { close(slow) }) }
	defer answer() // before the remote server closes, which waits for its handlers
	client := &http.Client{Transport: Transport{Base: remote.Client().Transport}}
	door := New(1, 100, time.Minute)
	var most atomic.Int32
	var inside atomic.Int32
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Count only the time holding a place: outside the remote calls.
		enter := func() {
			n := inside.Add(1)
			for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
			}
		}
		enter()
		if r.URL.Query().Get("remote") == "" {
			inside.Add(-1)
			_, _ = io.WriteString(w, "local")
			return
		}
		inside.Add(-1)
		var wg sync.WaitGroup
		answers := make([]string, 3)
		for i := range answers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				req, _ := http.NewRequestWithContext(r.Context(), "GET", remote.URL, nil)
				res, err := client.Do(req)
				if err != nil {
					answers[i] = err.Error()
					return
				}
				b, _ := io.ReadAll(res.Body)
				res.Body.Close()
				answers[i] = string(b)
			}()
		}
		wg.Wait()
		enter()
		inside.Add(-1)
		_, _ = io.WriteString(w, strings.Join(answers, ","))
	})
	srv := httptest.NewServer(door.Handler(handler, nil))
	defer srv.Close()

	remoteDone := make(chan string)
	go func() { _, _, b := get(t, srv.URL+"/?remote=1"); remoteDone <- b }()
	until(t, "three calls to the remote server", func() bool { return calls.Load() == 3 })
	// The place is free while the first request waits on the remote.
	if code, _, body := get(t, srv.URL+"/"); code != 200 || body != "local" {
		t.Fatalf("a request while the other waits on a remote server: %d %q", code, body)
	}
	answer()
	if got := <-remoteDone; got != "answer,answer,answer" {
		t.Errorf("the waiting request: %q", got)
	}
	if most.Load() != 1 {
		t.Errorf("%d served at once, want 1", most.Load())
	}
	until(t, "the place given back", func() bool { return door.Active() == 0 })
	if code, _, body := get(t, srv.URL+"/"); code != 200 || body != "local" {
		t.Errorf("after: %d %q", code, body)
	}
}

// A client sending its body slowly holds no place meanwhile: the body is
// read before the request takes one, and the handler still reads all of
// it, or the error of a body over the limit.
func TestASlowSenderHoldsNoPlace(t *testing.T) {
	t.Parallel()
	door := New(1, 100, time.Minute)
	door.BodyLimit = 16
	srv := httptest.NewServer(door.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 16))
		if err != nil {
			http.Error(w, "too large", http.StatusRequestEntityTooLarge)
			return
		}
		_, _ = io.WriteString(w, "got "+string(b))
	}), nil))
	defer srv.Close()

	pr, pw := io.Pipe()
	defer pw.Close() // before the server closes, which waits for the handler reading it
	slow := make(chan string)
	go func() {
		req, _ := http.NewRequest("POST", srv.URL, pr)
		req.ContentLength = 11
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			slow <- err.Error()
			return
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		slow <- string(b)
	}()
	if _, err := pw.Write([]byte("hello ")); err != nil {
		t.Fatal(err)
	}
	until(t, "the slow request at the door", func() bool { return int64(door.Active())+door.Reading() == 1 })
	if code, _, body := get(t, srv.URL); code != 200 || body != "got " {
		t.Fatalf("a request while another's body is on its way: %d %q", code, body)
	}
	if _, err := pw.Write([]byte("world")); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	if got := <-slow; got != "got hello world" {
		t.Errorf("the slow sender: %q, want its whole body", got)
	}

	res, err := http.Post(srv.URL, "text/plain", strings.NewReader(strings.Repeat("x", 40)))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("a body over the limit: %d, want the handler's 413", res.StatusCode)
	}
}
