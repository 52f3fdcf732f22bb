package calendar_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"path"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/convene/convene/calendar"
	"github.com/convene/convene/calendar/caltest"
)

// recordingProxy is a reverse proxy in front of a real server that keeps
// each request's method, Depth, path and body, to see at the server side
// what a client asked for.
type recordingProxy struct {
	mu   sync.Mutex
	reqs []recorded
}

type recorded struct{ method, depth, path, body string }

func (p *recordingProxy) start(t *testing.T, target string) *httptest.Server {
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	rp := httputil.NewSingleHostReverseProxy(u)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		p.mu.Lock()
		p.reqs = append(p.reqs, recorded{r.Method, r.Header.Get("Depth"), r.URL.Path, string(body)})
		p.mu.Unlock()
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv
}

var hrefElem = regexp.MustCompile(`<D:href>([^<]*)</D:href>`)

// TestCalDAVFallbackStaysInTheWindow: when a query's answer cannot be
// decoded (an object whose bytes are not allowed in XML), the objects are
// read again by href in multiget batches, and only those the window
// needs: none of the calendar's other objects is asked for, and the
// collection is never listed.
func TestCalDAVFallbackStaysInTheWindow(t *testing.T) {
	t.Parallel()
	r := caltest.StartRadicale(t)
	cal := fillWorkCalendar(t, r, r.User)
	ctrl := "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Broken exporter//EN\r\nBEGIN:VEVENT\r\nUID:ctrl-1@example.com\r\n" +
		"DTSTAMP:20250301T000000Z\r\nDTSTART:20250326T110000Z\r\nDTEND:20250326T120000Z\r\nSUMMARY:a control character \x01 here\r\n" +
		"END:VEVENT\r\nEND:VCALENDAR\r\n"
	cal.WriteRaw(t, "ctrl.ics", "ctrl-1@example.com", []byte(ctrl), utc("2025-03-26T11:00:00Z"), utc("2025-03-26T12:00:00Z"))
	var rec recordingProxy
	srv := rec.start(t, r.URL)
	window := calendar.Interval{Start: utc("2025-03-24T00:00:00Z"), End: utc("2025-03-31T23:00:00Z")}
	src := &calendar.CalDAV{URL: srv.URL + "/" + r.User + "/work/", Policy: allowLoopback,
		Credential: calendar.Credential{Username: r.User, Password: r.Password}}
	res, err := src.Busy(context.Background(), window, calendar.BusyOptions{Zone: london(t)})
	if err != nil {
		t.Fatalf("Busy: %v\n%s", err, r.Log())
	}
	var want []calendar.Busy
	for _, b := range wantWork {
		if b.Overlaps(window) {
			want = append(want, b)
		}
	}
	if diff := cmp.Diff(want, res.Busy); diff != "" {
		t.Errorf("busy (-want +got):\n%s", diff)
	}
	if got, want := res.Skipped, 2; got != want {
		t.Errorf("skipped %d, want %d (broken.ics and ctrl.ics)", got, want)
	}
	// Single objects outside the window, which no request may name.
	outside := map[string]bool{"all-day.ics": true, "duration.ics": true, "outlook-free.ics": true,
		"clock-autumn-before.ics": true, "clock-autumn-after.ics": true}
	multigets, fetched := 0, map[string]bool{}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	for _, q := range rec.reqs {
		if q.method == "PROPFIND" && q.depth == "1" && path.Clean(q.path) == "/"+r.User+"/work" {
			t.Errorf("the collection was listed (PROPFIND Depth 1 %s)", q.path)
		}
		if q.method == "GET" {
			t.Errorf("GET %s", q.path)
		}
		if strings.Contains(q.body, "calendar-multiget") {
			multigets++
			for _, m := range hrefElem.FindAllStringSubmatch(q.body, -1) {
				fetched[path.Base(m[1])] = true
				if outside[path.Base(m[1])] {
					t.Errorf("multiget asked for %s, outside the window", m[1])
				}
			}
		}
	}
	if multigets == 0 || !fetched["ctrl.ics"] || !fetched["weekly-standup.ics"] {
		t.Errorf("%d multigets for %v: the fallback did not run as expected", multigets, fetched)
	}
}

// TestLimits: answers, object counts and recurrence beyond the limits make
// the attendee unknown with an explicit reason, quickly, whatever the
// server sends.
func TestLimits(t *testing.T) {
	t.Parallel()
	r := caltest.StartRadicale(t)
	cal := fillWorkCalendar(t, r, r.User)
	cred := calendar.Credential{Username: r.User, Password: r.Password}

	// A feed that never ends: one event after another until the client
	// hangs up (at most 1 GiB, so that the test cannot run away).
	endless := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/calendar")
		io.WriteString(w, "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//endless//EN\r\n")
		for i := 0; i < 1<<22; i++ {
			if _, err := fmt.Fprintf(w, "BEGIN:VEVENT\r\nUID:e%d\r\nDTSTAMP:20250301T000000Z\r\nDTSTART:20250324T100000Z\r\nDTEND:20250324T110000Z\r\nSUMMARY:%0150d\r\nEND:VEVENT\r\n", i, i); err != nil {
				return
			}
		}
	}))
	t.Cleanup(endless.Close)

	// 16 KB of events that recur every second since 1970: the expander
	// the package used before spent 200,000 iterations on each before
	// giving up silently, tens of seconds for the feed.
	var costly strings.Builder
	costly.WriteString("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//costly//EN\r\n")
	for i := 0; costly.Len() < 16<<10; i++ {
		fmt.Fprintf(&costly, "BEGIN:VEVENT\r\nUID:s%d\r\nDTSTAMP:20250301T000000Z\r\nDTSTART:19700101T0000%02dZ\r\nDURATION:PT1S\r\nRRULE:FREQ=SECONDLY;INTERVAL=%d\r\nEND:VEVENT\r\n", i, i%60, 1+i%3)
	}
	costly.WriteString("END:VCALENDAR\r\n")
	feeds := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/calendar")
		io.WriteString(w, costly.String())
	}))
	t.Cleanup(feeds.Close)

	window := calendar.Interval{Start: utc("2025-03-01T00:00:00Z"), End: utc("2025-11-30T00:00:00Z")}
	for _, tc := range []struct {
		name   string
		src    calendar.Source
		reason calendar.Reason
	}{
		{"CalDAV answer over MaxBytes", &calendar.CalDAV{URL: cal.URL, Credential: cred, Policy: allowLoopback, Limits: calendar.Limits{MaxBytes: 2 << 10}}, calendar.ReasonTooLarge},
		{"CalDAV objects over MaxObjects", &calendar.CalDAV{URL: cal.URL, Credential: cred, Policy: allowLoopback, Limits: calendar.Limits{MaxObjects: 3}}, calendar.ReasonTooLarge},
		{"CalDAV within the limits", &calendar.CalDAV{URL: cal.URL, Credential: cred, Policy: allowLoopback}, ""},
		{"a feed that never ends", &calendar.ICSFeed{URL: endless.URL + "/feed.ics", Policy: allowLoopback}, calendar.ReasonTooLarge},
		{"a feed over MaxObjects", &calendar.ICSFeed{URL: endless.URL + "/feed.ics", Policy: allowLoopback, Limits: calendar.Limits{MaxObjects: 100}}, calendar.ReasonTooLarge},
		{"16 KB of per-second recurrence", &calendar.ICSFeed{URL: feeds.URL + "/costly.ics", Policy: allowLoopback}, calendar.ReasonTooComplex},
		{"per-second recurrence in a small budget", &calendar.ICSFeed{URL: feeds.URL + "/costly.ics", Policy: allowLoopback, Limits: calendar.Limits{MaxInstances: 1000}}, calendar.ReasonTooComplex},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			start := time.Now()
			got := calendar.Availability(context.Background(), []calendar.AttendeeSource{{ID: "a", Source: tc.src,
				Options: calendar.BusyOptions{Zone: london(t)}}}, window, calendar.AvailabilityOptions{})
			if got[0].Reason != tc.reason {
				t.Fatalf("reason %q (%v), want %q", got[0].Reason, got[0].Err, tc.reason)
			}
			if tc.reason != "" && got[0].Availability != calendar.Unknown {
				t.Errorf("availability %q, want unknown", got[0].Availability)
			}
			if d := time.Since(start); d > 15*time.Second { // a backstop, generous for -race on two cores
				t.Errorf("took %v", d)
			}
		})
	}
}

// TestRulesThatNeverMatch: one line of RRULE that matches nothing kept
// the expander the package used before (teambition/rrule-go) looping for
// ever; now such an event simply takes no time.
func TestRulesThatNeverMatch(t *testing.T) {
	t.Parallel()
	window := calendar.Interval{Start: utc("2025-03-01T00:00:00Z"), End: utc("2025-11-30T00:00:00Z")}
	for _, rule := range []string{
		"FREQ=SECONDLY;INTERVAL=86400;BYSECOND=1",
		"FREQ=HOURLY;INTERVAL=24;BYHOUR=1",
		"FREQ=MINUTELY;INTERVAL=1440;BYMINUTE=7",
		"FREQ=DAILY;BYMONTH=2;BYMONTHDAY=31",
	} {
		t.Run(rule, func(t *testing.T) {
			t.Parallel()
			feed := "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//x//EN\r\nBEGIN:VEVENT\r\nUID:l\r\nDTSTAMP:20250301T000000Z\r\n" +
				"DTSTART:20250301T000000Z\r\nDURATION:PT1S\r\nRRULE:" + rule + "\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
			res, err := calendar.BusyFromICS(strings.NewReader(feed), window, calendar.BusyOptions{})
			if err != nil {
				t.Fatal(err)
			}
			// Only DTSTART itself, which is the first instance whatever the rule.
			if len(res.Busy) != 1 || res.Skipped != 0 {
				t.Errorf("busy %v, skipped %d; want DTSTART alone", res.Busy, res.Skipped)
			}
		})
	}
}
