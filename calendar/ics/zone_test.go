package ics

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-ical"
)

func TestLoadZone(t *testing.T) {
	tests := []struct{ name, want string }{
		{"Europe/London", "Europe/London"},
		{"GMT Standard Time", "Europe/London"},
		{"gmt standard time", "Europe/London"},
		{`"W. Europe Standard Time"`, "Europe/Berlin"},
		{"Romance Standard Time", "Europe/Paris"},
		{"Eastern Standard Time", "America/New_York"},
		{"India Standard Time", "Asia/Calcutta"},
		{"UTC", "UTC"},
		{"/mozilla.org/20050126_1/Europe/London", "Europe/London"},
		{"/citadel.org/20190914_1/America/Argentina/Buenos_Aires", "America/Argentina/Buenos_Aires"},
	}
	for _, tc := range tests {
		loc, err := LoadZone(tc.name)
		if err != nil {
			t.Errorf("LoadZone(%q): %v", tc.name, err)
			continue
		}
		if got := loc.String(); got != tc.want {
			t.Errorf("LoadZone(%q) = %s, want %s", tc.name, got, tc.want)
		}
	}
	for _, name := range []string{"", "Local", "Customized Time Zone", "../../etc/passwd", "Mars/Olympus_Mons"} {
		if loc, err := LoadZone(name); err == nil {
			t.Errorf("LoadZone(%q) = %v, want an error", name, loc)
		}
	}
}

// vtimezone decodes the components of text, in a VCALENDAR.
func vtimezone(t *testing.T, text string) []*ical.Component {
	t.Helper()
	cal, err := Decode([]byte("BEGIN:VCALENDAR\r\n"+strings.ReplaceAll(text, "\n", "\r\n")+"END:VCALENDAR\r\n"), Options{Strict: true})
	if err != nil {
		t.Fatal(err)
	}
	return cal.Children
}

// TestLocationFromVTimezone builds zones from VTIMEZONE definitions alone
// and checks them against the IANA zones they describe, hour by hour
// around every transition from 2000 to 2045 (after 2037 Go follows the
// POSIX rule written into the zone).
func TestLocationFromVTimezone(t *testing.T) {
	tests := []struct {
		name, iana, vtz string
	}{
		{"Outlook's GMT Standard Time", "Europe/London", `BEGIN:VTIMEZONE
TZID:GMT Standard Time
BEGIN:STANDARD
DTSTART:16011028T020000
RRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=10
TZOFFSETFROM:+0100
TZOFFSETTO:-0000
END:STANDARD
BEGIN:DAYLIGHT
DTSTART:16010325T010000
RRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=3
TZOFFSETFROM:-0000
TZOFFSETTO:+0100
END:DAYLIGHT
END:VTIMEZONE
`},
		{"US Eastern since 2007, with a historical rule that ended", "America/New_York", `BEGIN:VTIMEZONE
TZID:Customized Time Zone
BEGIN:DAYLIGHT
DTSTART:19870405T020000
RRULE:FREQ=YEARLY;BYDAY=1SU;BYMONTH=4;UNTIL=20060402T070000Z
TZOFFSETFROM:-0500
TZOFFSETTO:-0400
TZNAME:EDT
END:DAYLIGHT
BEGIN:STANDARD
DTSTART:19671029T020000
RRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=10;UNTIL=20061029T060000Z
TZOFFSETFROM:-0400
TZOFFSETTO:-0500
TZNAME:EST
END:STANDARD
BEGIN:DAYLIGHT
DTSTART:20070311T020000
RRULE:FREQ=YEARLY;BYDAY=2SU;BYMONTH=3
TZOFFSETFROM:-0500
TZOFFSETTO:-0400
TZNAME:EDT
END:DAYLIGHT
BEGIN:STANDARD
DTSTART:20071104T020000
RRULE:FREQ=YEARLY;BYDAY=1SU;BYMONTH=11
TZOFFSETFROM:-0400
TZOFFSETTO:-0500
TZNAME:EST
END:STANDARD
END:VTIMEZONE
`},
		{"no daylight saving, fractional offset", "Asia/Kolkata", `BEGIN:VTIMEZONE
TZID:Somewhere in India
BEGIN:STANDARD
DTSTART:19450101T000000
TZOFFSETFROM:+0530
TZOFFSETTO:+0530
TZNAME:IST
END:STANDARD
END:VTIMEZONE
`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			want, err := time.LoadLocation(tc.iana)
			if err != nil {
				t.Fatal(err)
			}
			got, err := locationFromVTimezone("x", vtimezone(t, tc.vtz)[0], NewBudget(context.Background(), DefaultBudget))
			if err != nil {
				t.Fatal(err)
			}
			start := time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
			end := time.Date(2045, 12, 31, 0, 0, 0, 0, time.UTC)
			for at := start; at.Before(end); at = at.Add(30 * time.Minute) {
				_, g := at.In(got).Zone()
				_, w := at.In(want).Zone()
				if g != w {
					t.Fatalf("at %v: offset %d, want %d (%s)", at, g, w, tc.iana)
				}
				// Zone transitions are rare: jump ahead when the next
				// few weeks cannot hold one.
				if a, b := at.In(want).ZoneBounds(); !b.IsZero() && b.Sub(at) > 48*time.Hour && a.Before(at) {
					at = b.Add(-24 * time.Hour)
				}
			}
			// Wall times resolve the same way on both sides of a change.
			for _, wall := range []time.Time{
				time.Date(2025, 3, 30, 0, 30, 0, 0, time.UTC),
				time.Date(2025, 3, 30, 2, 30, 0, 0, time.UTC),
				time.Date(2025, 10, 26, 0, 30, 0, 0, time.UTC),
				time.Date(2025, 10, 26, 2, 30, 0, 0, time.UTC),
				time.Date(2041, 7, 1, 12, 0, 0, 0, time.UTC),
			} {
				y, m, d := wall.Date()
				g := time.Date(y, m, d, wall.Hour(), wall.Minute(), 0, 0, got)
				w := time.Date(y, m, d, wall.Hour(), wall.Minute(), 0, 0, want)
				if !g.Equal(w) {
					t.Errorf("wall %s: %v, want %v", wall.Format("2006-01-02 15:04"), g.UTC(), w.UTC())
				}
			}
		})
	}
}

// TestZonesLocation: how a TZID is resolved, in order: a known name, the
// stream's VTIMEZONE by its X-LIC-LOCATION, the VTIMEZONE's own rules.
func TestZonesLocation(t *testing.T) {
	t.Parallel()
	defs := vtimezone(t, `BEGIN:VTIMEZONE
TZID:Europe/Paris
BEGIN:STANDARD
DTSTART:19700101T000000
TZOFFSETFROM:+0000
TZOFFSETTO:+0000
END:STANDARD
END:VTIMEZONE
BEGIN:VTIMEZONE
TZID:Custom with a location
X-LIC-LOCATION:America/New_York
BEGIN:STANDARD
DTSTART:19700101T000000
TZOFFSETFROM:+0000
TZOFFSETTO:+0000
END:STANDARD
END:VTIMEZONE
BEGIN:VTIMEZONE
TZID:Only rules
BEGIN:STANDARD
DTSTART:19700101T000000
TZOFFSETFROM:+0300
TZOFFSETTO:+0300
END:STANDARD
END:VTIMEZONE
BEGIN:VTIMEZONE
TZID:No observance
END:VTIMEZONE
`)
	z := NewZones(nil, nil)
	for _, c := range defs {
		z.Define(c)
	}
	at := time.Date(2025, 7, 1, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		tzid   string
		offset int // seconds east of UTC at noon UTC, 1 July 2025
	}{
		{"Europe/Paris", 2 * 3600}, // the known name, not the stream's wrong definition
		{"Custom with a location", -4 * 3600},
		{"Only rules", 3 * 3600},
		{" Only rules ", 3 * 3600},
	} {
		loc, err := z.Location(tc.tzid)
		if err != nil {
			t.Errorf("%q: %v", tc.tzid, err)
			continue
		}
		if _, off := at.In(loc).Zone(); off != tc.offset {
			t.Errorf("%q: offset %d, want %d", tc.tzid, off, tc.offset)
		}
	}
	if _, err := z.Location("Mars/Olympus_Mons"); !errors.Is(err, ErrUnknownZone) {
		t.Errorf("unknown: %v, want %v", err, ErrUnknownZone)
	}
	if _, err := z.Location("No observance"); err == nil || errors.Is(err, ErrUnknownZone) {
		t.Errorf("a definition without observances: %v", err)
	}
	// A definition's rules are expanded within the budget given.
	spent := NewZones(nil, NewBudget(context.Background(), 10))
	spent.Define(vtimezone(t, customVTimezone)[0])
	if _, err := spent.Location("Customized Time Zone"); !errors.Is(err, ErrTooComplex) {
		t.Errorf("within a spent budget: %v, want %v", err, ErrTooComplex)
	}
}

const customVTimezone = `BEGIN:VTIMEZONE
TZID:Customized Time Zone
BEGIN:STANDARD
DTSTART:16011028T020000
RRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=10
TZOFFSETFROM:+0100
TZOFFSETTO:-0000
END:STANDARD
BEGIN:DAYLIGHT
DTSTART:16010325T010000
RRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=3
TZOFFSETFROM:-0000
TZOFFSETTO:+0100
END:DAYLIGHT
END:VTIMEZONE
`
