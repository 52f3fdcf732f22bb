package httpapi_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/convene/convene/service"
)

// latencies collects per-request durations from parallel workers.
type latencies struct {
	mu sync.Mutex
	d  []time.Duration
}

func (l *latencies) add(d time.Duration) {
	l.mu.Lock()
	l.d = append(l.d, d)
	l.mu.Unlock()
}

// report adds p50/p99 latency and throughput to the benchmark output.
func (l *latencies) report(b *testing.B, elapsed time.Duration) {
	slices.Sort(l.d)
	if len(l.d) == 0 {
		return
	}
	q := func(p float64) float64 { return float64(l.d[int(p*float64(len(l.d)-1))].Microseconds()) }
	b.ReportMetric(q(0.50), "p50-µs")
	b.ReportMetric(q(0.99), "p99-µs")
	b.ReportMetric(float64(len(l.d))/elapsed.Seconds(), "req/s")
}

// load sends requests made by next from four clients per CPU in parallel,
// each expected to answer want, and reports throughput and latency.
func load(b *testing.B, tok string, want int, next func() *http.Request) {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	var lat latencies
	b.SetParallelism(4)
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req := next()
			req.Header.Set("Authorization", "Bearer "+tok)
			t0 := time.Now()
			res, err := client.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, res.Body)
			res.Body.Close()
			if res.StatusCode != want {
				b.Errorf("status %d, want %d", res.StatusCode, want)
				return
			}
			lat.add(time.Since(t0))
		}
	})
	lat.report(b, time.Since(start))
}

// BenchmarkGetPerson measures GET /v1/people/{id} over loopback against the
// embedded store, with JWT verification and contract validation included.
func BenchmarkGetPerson(b *testing.B) {
	h := newHarness(b)
	tok := token(b, service.RoleBusinessSupport, "social_care")
	r := h.do("POST", "/v1/people", tok, validPerson("bench.get@example.org"))
	if r.Status != 201 {
		b.Fatalf("create: %d %s", r.Status, r.Body)
	}
	var p struct{ ID string }
	_ = json.Unmarshal(r.Body, &p)
	load(b, tok, 200, func() *http.Request {
		req, _ := http.NewRequest("GET", h.url+"/v1/people/"+p.ID, nil)
		return req
	})
}

// BenchmarkCreatePerson measures POST /v1/people: validation, the insert
// with its unique email index, and the audit entry.
func BenchmarkCreatePerson(b *testing.B) {
	h := newHarness(b)
	tok := token(b, service.RoleBusinessSupport, "social_care")
	var n atomic.Int64
	load(b, tok, 201, func() *http.Request {
		body, _ := json.Marshal(validPerson(fmt.Sprintf("bench.%d.%d@example.org", time.Now().UnixNano(), n.Add(1))))
		req, _ := http.NewRequest("POST", h.url+"/v1/people", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		return req
	})
}
