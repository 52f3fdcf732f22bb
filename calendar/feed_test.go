package calendar_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/convene/convene/calendar"
)

// TestICSFeed serves testdata over real HTTPS, as a published calendar is,
// and reads it through webcal:// and a bearer token.
func TestICSFeed(t *testing.T) {
	google, err := os.ReadFile("testdata/ics/google.ics")
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer feed-token" {
			http.Error(w, "no", http.StatusUnauthorized)
			return
		}
		switch r.URL.Path {
		case "/calendar/ical/basic.ics":
			w.Header().Set("Content-Type", "text/calendar; charset=UTF-8")
			w.Write(google)
		case "/login":
			w.Header().Set("Content-Type", "text/html")
			w.Write([]byte("<html><body>Sign in</body></html>"))
		case "/slow.ics":
			<-r.Context().Done()
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "https://")
	window := calendar.Interval{Start: utc("2025-03-24T00:00:00Z"), End: utc("2025-03-25T00:00:00Z")}
	token := calendar.Credential{Token: "feed-token"}

	tests := []struct {
		name   string
		url    string
		cred   calendar.Credential
		reason calendar.Reason
	}{
		{"webcal is fetched over https", "webcal://" + host + "/calendar/ical/basic.ics", token, ""},
		{"https", srv.URL + "/calendar/ical/basic.ics", token, ""},
		{"wrong token", srv.URL + "/calendar/ical/basic.ics", calendar.Credential{Token: "stale"}, calendar.ReasonAuthRefused},
		{"gone", srv.URL + "/calendar/ical/deleted.ics", token, calendar.ReasonNoCalendar},
		{"a sign-in page instead of a calendar", srv.URL + "/login", token, calendar.ReasonUnparseable},
		{"no answer in time", srv.URL + "/slow.ics", token, calendar.ReasonTimeout},
		{"nobody listening", "http://127.0.0.1:1/feed.ics", token, calendar.ReasonUnreachable},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// Only the stalled feed needs a short timeout; the others get
			// room for TLS handshakes on a loaded machine.
			timeout := 10 * time.Second
			if tc.reason == calendar.ReasonTimeout {
				timeout = 300 * time.Millisecond
			}
			got := calendar.Availability(context.Background(), []calendar.AttendeeSource{{
				ID:     "alice@example.org",
				Source: &calendar.ICSFeed{URL: tc.url, Credential: tc.cred, HTTPClient: srv.Client(), Policy: allowLoopback},
			}}, window, calendar.AvailabilityOptions{SourceTimeout: timeout})
			if got, want := got[0].Reason, tc.reason; got != want {
				t.Fatalf("reason = %q (%v), want %q", got, got, want)
			}
			if tc.reason != "" {
				if got, want := got[0].Availability, calendar.Unknown; got != want {
					t.Errorf("availability = %q, want %q", got, want)
				}
				return
			}
			want := []calendar.Busy{busy("2025-03-24T08:30:00Z", "2025-03-24T09:00:00Z")}
			if diff := cmp.Diff(want, got[0].Busy); diff != "" {
				t.Errorf("busy (-want +got):\n%s", diff)
			}
		})
	}
}

func TestNewSource(t *testing.T) {
	for _, spec := range []calendar.SourceSpec{
		{Type: "caldav", URL: "https://dav.example.org/"},
		{Type: "ics", URL: "webcal://p01-calendars.icloud.com/published/2/abc"},
		{Type: "ics", URL: "https://outlook.office365.com/owa/calendar/x/reachcalendar.ics"},
	} {
		if _, err := calendar.NewSource(spec, nil, calendar.SourceOptions{}); err != nil {
			t.Errorf("NewSource(%+v): %v", spec, err)
		}
	}
	for _, spec := range []calendar.SourceSpec{
		{Type: "exchange", URL: "https://dav.example.org/"},
		{Type: "caldav", URL: "webcal://dav.example.org/"},
		{Type: "ics", URL: "ftp://example.org/cal.ics"},
		{Type: "ics", URL: "not a url"},
	} {
		if _, err := calendar.NewSource(spec, nil, calendar.SourceOptions{}); err == nil {
			t.Errorf("NewSource(%+v) succeeded", spec)
		}
	}
}
