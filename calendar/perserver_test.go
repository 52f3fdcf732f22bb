package calendar_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/convene/convene/calendar"
)

// TestAvailabilityPerServer: ten attendees whose feeds are on one server
// are read at most PerServer at a time, and all are read.
func TestAvailabilityPerServer(t *testing.T) {
	var inFlight, most atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := inFlight.Add(1)
		defer inFlight.Add(-1)
		for {
			m := most.Load()
			if n <= m || most.CompareAndSwap(m, n) {
				break
			}
		}
		time.Sleep(50 * time.Millisecond)
		w.Header().Set("Content-Type", "text/calendar")
		_, _ = w.Write([]byte("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nBEGIN:VEVENT\r\nUID:a\r\nDTSTAMP:20261101T000000Z\r\nDTSTART:20261130T100000Z\r\nDTEND:20261130T110000Z\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"))
	}))
	defer srv.Close()
	var attendees []calendar.AttendeeSource
	for i := range 10 {
		src, err := calendar.NewSource(calendar.SourceSpec{Type: "ics", URL: srv.URL + "/feed" + string(rune('a'+i)) + ".ics"}, nil, calendar.SourceOptions{Policy: allowLoopback})
		if err != nil {
			t.Fatal(err)
		}
		attendees = append(attendees, calendar.AttendeeSource{ID: string(rune('a' + i)), Source: src, Options: calendar.BusyOptions{Zone: time.UTC}})
	}
	window := calendar.Interval{Start: time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC), End: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)}
	res := calendar.Availability(context.Background(), attendees, window, calendar.AvailabilityOptions{PerServer: 3})
	for _, a := range res {
		if a.Availability != calendar.Known || len(a.Busy) != 1 {
			t.Errorf("attendee %s: %s %s, %d busy; want known with one busy interval", a.ID, a.Availability, a.Reason, len(a.Busy))
		}
	}
	if got := most.Load(); got > 3 || got < 2 {
		t.Errorf("at most %d requests in flight to the one server, want 2 or 3 (the limit is 3)", got)
	}
}
