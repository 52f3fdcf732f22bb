package sqlite

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/convene/convene/service"
)

// BenchmarkExport exports every discussion of a seeded store (the scale
// benchmarks' data: deadlines over four years) through the App, JSON
// encoded to nowhere, and reports rows, the time per export and the peak
// heap in use while it runs: the export reads a page at a time, so the
// peak should not grow with the number of discussions.
//
//	go test ./service/sqlite/ -run '^$' -bench Export -benchtime 1x
func BenchmarkExport(b *testing.B) {
	for _, n := range []int{10_000, 100_000} {
		b.Run(itoa(n), func(b *testing.B) {
			ss := seed(b, n)
			app := service.NewApp(ss.s, slog.New(slog.NewTextHandler(io.Discard, nil)))
			ctx := service.WithPrincipal(context.Background(), &service.Principal{Subject: "bench", Roles: []service.Role{service.RoleAdmin}})
			f := service.PeriodFilter{From: now.Add(-(4*365 + 30) * 24 * time.Hour), To: now.Add(30 * 24 * time.Hour)}
			runtime.GC()
			var base runtime.MemStats
			runtime.ReadMemStats(&base)
			var peak atomic.Uint64
			stop := make(chan struct{})
			done := make(chan struct{})
			go func() {
				defer close(done)
				tick := time.NewTicker(5 * time.Millisecond)
				defer tick.Stop()
				for {
					select {
					case <-stop:
						return
					case <-tick.C:
						var m runtime.MemStats
						runtime.ReadMemStats(&m)
						if m.HeapInuse > peak.Load() {
							peak.Store(m.HeapInuse)
						}
					}
				}
			}()
			rows := 0
			enc := json.NewEncoder(io.Discard)
			b.ResetTimer()
			for range b.N {
				rows = 0
				if err := app.ExportDiscussions(ctx, f, func(r *service.ExportRow) error { rows++; return enc.Encode(r) }); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			close(stop)
			<-done
			if rows != n {
				b.Fatalf("exported %d of %d", rows, n)
			}
			b.ReportMetric(float64(rows), "rows")
			b.ReportMetric(float64(peak.Load()-min(peak.Load(), base.HeapInuse))/1e6, "peak-heap-MB-above-start")
		})
	}
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}
