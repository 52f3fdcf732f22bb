package calendar_test

import (
	"strings"
	"testing"
	"time"

	"github.com/convene/convene/calendar"
)

// TestIgnoreUID: the meeting being booked sits in an attendee's calendar
// once its invitation arrives; re-checking that attendee for the same
// meeting must not find them busy with it, while other events still count.
func TestIgnoreUID(t *testing.T) {
	ics := "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\n" +
		"BEGIN:VEVENT\r\nUID:ours@convene\r\nDTSTAMP:20261101T000000Z\r\nDTSTART:20261130T100000Z\r\nDTEND:20261130T110000Z\r\nEND:VEVENT\r\n" +
		"BEGIN:VEVENT\r\nUID:other\r\nDTSTAMP:20261101T000000Z\r\nDTSTART:20261130T140000Z\r\nDTEND:20261130T150000Z\r\nEND:VEVENT\r\n" +
		"END:VCALENDAR\r\n"
	window := calendar.Interval{Start: time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC), End: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)}
	for _, tt := range []struct {
		ignore string
		want   []string
	}{
		{"", []string{"10:00", "14:00"}},
		{"ours@convene", []string{"14:00"}},
	} {
		res, err := calendar.BusyFromICS(strings.NewReader(ics), window, calendar.BusyOptions{Zone: time.UTC, IgnoreUID: tt.ignore})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, b := range res.Busy {
			got = append(got, b.Start.Format("15:04"))
		}
		if strings.Join(got, ",") != strings.Join(tt.want, ",") {
			t.Errorf("ignoring %q: busy from %v, want %v", tt.ignore, got, tt.want)
		}
	}
}
