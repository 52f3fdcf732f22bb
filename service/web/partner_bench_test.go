package web_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/convene/convene/invites"
)

// The sign-in page and the partner's pages' render time with 100,000
// discussions stored (the bar: under 100 ms), on BenchmarkPages'
// seed, over loopback HTTPS with a real session:
//
//	go test ./service/web -run '^$' -bench PartnerPages -benchtime 200x -timeout 30m
func BenchmarkPartnerPages(b *testing.B) {
	for _, n := range webBenchSizes() {
		b.Run(fmt.Sprintf("n=%d", n), func(b *testing.B) {
			w, seed := newBenchWorld(b, n)
			d, err := w.App.Store.Discussion(context.Background(), seed.Booked)
			if err != nil {
				b.Fatal(err)
			}
			now := time.Now()
			tok, err := invites.SignRSVP([]byte("rsvp-test-key-0123456789abcdef-0123456789"), invites.RSVP{UID: d.UID,
				Attendee: "dana.inspector@police.example.org", Allowed: []invites.PartStat{invites.PartStatAccepted},
				Sequence: d.Sequence, IssuedAt: now, ExpiresAt: now.Add(time.Hour)})
			if err != nil {
				b.Fatal(err)
			}
			// Each person's own client: srv.Client() is one shared client.
			client := func() *http.Client {
				jar, _ := cookiejar.New(nil)
				return &http.Client{Transport: w.srv.Client().Transport, Jar: jar}
			}
			partner := &staffClient{w: w, c: client()}
			partner.get("/v1/rsvp/"+tok, http.StatusOK)
			partner.post("/invitation/"+tok+"/code", url.Values{}, http.StatusOK) // to the code page
			anon := &staffClient{w: w, c: client()}
			// An agency rep with a council account: she starts on her
			// invitations.
			dana := &staffClient{w: w, c: client()}
			dana.get("/sign-in", http.StatusOK)
			dana.post("/sign-in/demo", url.Values{"person": {"dana"}}, http.StatusOK)
			if dana.at != "/invitations?" {
				b.Fatalf("dana landed on %s", dana.at)
			}
			pages := []struct {
				name string
				as   *staffClient
				path string
			}{
				{"sign-in", anon, "/sign-in"},
				{"invitations", dana, "/invitations"},
				{"code", partner, "/invitation/" + tok + "/code"},
				{"invitation", dana, "/invitations/" + seed.Booked},
			}
			for _, p := range pages {
				b.Run(p.name, func(b *testing.B) {
					p.as.w.t = b
					durs := make([]time.Duration, 0, b.N)
					b.ResetTimer()
					for range b.N {
						t := time.Now()
						p.as.get(p.path, http.StatusOK)
						durs = append(durs, time.Since(t))
					}
					b.StopTimer()
					slices.Sort(durs)
					b.ReportMetric(float64(durs[len(durs)*99/100].Microseconds())/1000, "p99-ms")
					b.ReportMetric(float64(durs[len(durs)/2].Microseconds())/1000, "p50-ms")
				})
			}
		})
	}
}
