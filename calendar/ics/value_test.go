package ics

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-ical"
	"github.com/google/go-cmp/cmp"
)

func mustZone(t testing.TB, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

// customZone is a VTIMEZONE only its definition names: UK rules under an
// invented TZID, as Exchange writes "Customized Time Zone".
const customZone = `BEGIN:VCALENDAR
BEGIN:VTIMEZONE
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
END:VCALENDAR
`

// TestFloatingTimeRule is the one rule for DATE and DATE-TIME values, read
// with the zone a caller supplies (the attendee's or the area's) and
// without one.
func TestFloatingTimeRule(t *testing.T) {
	t.Parallel()
	london, newYork := mustZone(t, "Europe/London"), mustZone(t, "America/New_York")
	cal, err := Decode([]byte(strings.ReplaceAll(customZone, "\n", "\r\n")), Options{Strict: true})
	if err != nil {
		t.Fatal(err)
	}
	at := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	tests := []struct {
		name     string
		line     string
		zone     *time.Location // what the caller supplies
		guess    bool           // GuessUnknown
		want     time.Time
		wantDate bool
		err      error // ErrFloating, ErrUnknownZone, or errBad for a bad value
	}{
		{name: "UTC whatever the zone", line: "DTSTART:20250324T090000Z", zone: newYork, want: at("2025-03-24T09:00:00Z")},
		{name: "UTC with no zone", line: "DTSTART:20250324T090000Z", want: at("2025-03-24T09:00:00Z")},
		{name: "UTC, lower-case z", line: "DTSTART:20250324T090000z", want: at("2025-03-24T09:00:00Z")},
		{name: "UTC wins over TZID", line: "DTSTART;TZID=America/New_York:20250324T090000Z", want: at("2025-03-24T09:00:00Z")},
		{name: "TZID, GMT", line: "DTSTART;TZID=Europe/London:20250324T090000", zone: newYork, want: at("2025-03-24T09:00:00Z")},
		{name: "TZID, BST", line: "DTSTART;TZID=Europe/London:20250331T090000", want: at("2025-03-31T08:00:00Z")},
		{name: "TZID quoted", line: `DTSTART;TZID="Europe/London":20250331T090000`, want: at("2025-03-31T08:00:00Z")},
		{name: "Windows TZID", line: "DTSTART;TZID=GMT Standard Time:20250331T090000", want: at("2025-03-31T08:00:00Z")},
		{name: "Outlook display name", line: `DTSTART;TZID="(UTC+01:00) Brussels, Copenhagen, Madrid, Paris":20250331T090000`, want: at("2025-03-31T07:00:00Z")},
		{name: "vendor prefix", line: "DTSTART;TZID=/mozilla.org/20050126_1/Europe/London:20250331T090000", want: at("2025-03-31T08:00:00Z")},
		{name: "TZID only a VTIMEZONE defines, summer", line: "DTSTART;TZID=Customized Time Zone:20250714T100000", want: at("2025-07-14T09:00:00Z")},
		{name: "TZID only a VTIMEZONE defines, winter", line: "DTSTART;TZID=Customized Time Zone:20251201T100000", want: at("2025-12-01T10:00:00Z")},
		{name: "floating in the attendee's zone", line: "DTSTART:20250325T100000", zone: london, want: at("2025-03-25T10:00:00Z")},
		{name: "floating in another attendee's zone", line: "DTSTART:20250325T100000", zone: newYork, want: at("2025-03-25T14:00:00Z")},
		{name: "floating across the change", line: "DTSTART:20250331T100000", zone: london, want: at("2025-03-31T09:00:00Z")},
		{name: "floating with no zone is never UTC", line: "DTSTART:20250325T100000", err: ErrFloating},
		{name: "DATE is the caller's day", line: "DTSTART;VALUE=DATE:20250402", zone: london, want: at("2025-04-01T23:00:00Z"), wantDate: true},
		{name: "DATE by its length", line: "DTSTART:20250402", zone: newYork, want: at("2025-04-02T04:00:00Z"), wantDate: true},
		{name: "DATE ignores a TZID", line: "DTSTART;TZID=Asia/Tokyo;VALUE=DATE:20250402", zone: london, want: at("2025-04-01T23:00:00Z"), wantDate: true},
		{name: "DATE with no zone", line: "DTSTART;VALUE=DATE:20250402", err: ErrFloating},
		{name: "unknown TZID", line: "DTSTART;TZID=Mars/Olympus_Mons:20250325T100000", zone: london, err: ErrUnknownZone},
		{name: "unknown TZID, guessed", line: "DTSTART;TZID=Mars/Olympus_Mons:20250325T100000", zone: newYork, guess: true, want: at("2025-03-25T14:00:00Z")},
		{name: "unknown TZID, guessed with no zone", line: "DTSTART;TZID=Mars/Olympus_Mons:20250325T100000", guess: true, err: ErrFloating},
		{name: "bad date-time", line: "DTSTART:20251325T100000", zone: london, err: errBad},
		{name: "bad date", line: "DTSTART;VALUE=DATE:2025-04-02", zone: london, err: errBad},
		{name: "bad UTC", line: "DTSTART:2025032T100000Z", err: errBad},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			prop, err := parseLine(tc.line, DefaultMaxParams)
			if err != nil {
				t.Fatal(err)
			}
			z := NewZones(tc.zone, nil)
			z.GuessUnknown = tc.guess
			z.DefineAll(cal.Component)
			got, err := z.Time(prop)
			switch {
			case tc.err == errBad:
				if err == nil || errors.Is(err, ErrFloating) || errors.Is(err, ErrUnknownZone) {
					t.Errorf("got %v, %v; want a bad value", got, err)
				}
				return
			case tc.err != nil:
				if !errors.Is(err, tc.err) {
					t.Errorf("got %v, %v; want %v", got, err, tc.err)
				}
				return
			case err != nil:
				t.Fatal(err)
			}
			if !got.Equal(tc.want) || got.IsDate != tc.wantDate {
				t.Errorf("got %v (date %v), want %v (date %v)", got.UTC(), got.IsDate, tc.want, tc.wantDate)
			}
		})
	}
}

var errBad = errors.New("a bad value")

func TestList(t *testing.T) {
	t.Parallel()
	london := mustZone(t, "Europe/London")
	tests := []struct {
		line string
		want []Period
	}{
		{"EXDATE;TZID=Europe/London:20250325T083000,20250327T083000", []Period{
			{Start: Time{Time: time.Date(2025, 3, 25, 8, 30, 0, 0, london)}},
			{Start: Time{Time: time.Date(2025, 3, 27, 8, 30, 0, 0, london)}},
		}},
		{"RDATE;VALUE=DATE:20250402,20250403", []Period{
			{Start: Time{Time: time.Date(2025, 4, 2, 0, 0, 0, 0, london), IsDate: true}},
			{Start: Time{Time: time.Date(2025, 4, 3, 0, 0, 0, 0, london), IsDate: true}},
		}},
		{"RDATE;VALUE=PERIOD:20250324T090000Z/20250324T100000Z,20250325T090000Z/PT30M", []Period{
			{Start: Time{Time: time.Date(2025, 3, 24, 9, 0, 0, 0, time.UTC)}, Length: Duration{Exact: time.Hour}, HasLength: true},
			{Start: Time{Time: time.Date(2025, 3, 25, 9, 0, 0, 0, time.UTC)}, Length: Duration{Exact: 30 * time.Minute}, HasLength: true},
		}},
		{"FREEBUSY;FBTYPE=BUSY:20250324T090000Z/P1D", []Period{
			{Start: Time{Time: time.Date(2025, 3, 24, 9, 0, 0, 0, time.UTC)}, Length: Duration{Days: 1}, HasLength: true},
		}},
		{"EXDATE:", nil},
	}
	for _, tc := range tests {
		t.Run(tc.line, func(t *testing.T) {
			prop, err := parseLine(tc.line, DefaultMaxParams)
			if err != nil {
				t.Fatal(err)
			}
			got, err := NewZones(london, nil).List(prop)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got, cmp.Comparer(time.Time.Equal)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
	for _, bad := range []string{"RDATE;VALUE=PERIOD:20250324T090000Z", "RDATE:20250324T090000Z/PXD", "EXDATE:2025"} {
		prop, _ := parseLine(bad, DefaultMaxParams)
		if got, err := NewZones(london, nil).List(prop); err == nil {
			t.Errorf("%s: read as %v", bad, got)
		}
	}
}

func TestParseDuration(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want Duration
	}{
		{"PT1H", Duration{Exact: time.Hour}},
		{"PT1H30M", Duration{Exact: 90 * time.Minute}},
		{"P1D", Duration{Days: 1}},
		{"P1W", Duration{Days: 7}},
		{"P1DT2H", Duration{Days: 1, Exact: 2 * time.Hour}},
		{"-PT15M", Duration{Exact: -15 * time.Minute}},
		{"+PT10S", Duration{Exact: 10 * time.Second}},
		{" PT5M ", Duration{Exact: 5 * time.Minute}},
	}
	for _, tc := range tests {
		got, err := ParseDuration(tc.in)
		if err != nil {
			t.Errorf("ParseDuration(%q): %v", tc.in, err)
			continue
		}
		if got != tc.want {
			t.Errorf("ParseDuration(%q) = %+v, want %+v", tc.in, got, tc.want)
		}
	}
	for _, bad := range []string{"", "P", "PT", "1H", "PT1D", "P1H", "PXD", "P1", "PT999999999H", "PT9999999999S"} {
		if d, err := ParseDuration(bad); err == nil {
			t.Errorf("ParseDuration(%q) = %+v", bad, d)
		}
	}
	// A day is a day on the wall clock, across the clock change.
	london := mustZone(t, "Europe/London")
	start := time.Date(2025, 3, 29, 9, 0, 0, 0, london)
	if got, want := (Duration{Days: 1}).AddTo(start), time.Date(2025, 3, 30, 9, 0, 0, 0, london); !got.Equal(want) {
		t.Errorf("P1D after %v = %v, want %v", start, got, want)
	}
	if got, want := (Duration{Exact: 24 * time.Hour}).AddTo(start), time.Date(2025, 3, 30, 10, 0, 0, 0, london); !got.Equal(want) {
		t.Errorf("PT24H after %v = %v, want %v", start, got, want)
	}
}

func TestEmail(t *testing.T) {
	t.Parallel()
	tests := []struct {
		line, want string
	}{
		{"ATTENDEE:mailto:priya.patel@police.example.uk", "priya.patel@police.example.uk"},
		{"ATTENDEE:MAILTO:Priya.Patel@Police.Example.UK", "Priya.Patel@Police.Example.UK"},
		{"ATTENDEE:mailto:priya%2Bcal@police.example.uk", "priya+cal@police.example.uk"},
		{"ATTENDEE:mailto:<priya@police.example.uk>", "priya@police.example.uk"},
		{"ATTENDEE:mailto:priya@police.example.uk?subject=x", "priya@police.example.uk"},
		{"ATTENDEE:priya@police.example.uk", "priya@police.example.uk"},
		{"ATTENDEE;EMAIL=ola@nhs.example.net:urn:uuid:0b3f", "ola@nhs.example.net"},
		{"ATTENDEE:urn:uuid:0b3f", ""},
		{"ATTENDEE:mailto:two@at@signs", ""},
		{"ATTENDEE:mailto:", ""},
		{"ATTENDEE:mailto:a b@example.org", ""},
	}
	for _, tc := range tests {
		prop, err := parseLine(tc.line, DefaultMaxParams)
		if err != nil {
			t.Fatal(err)
		}
		if got := Email(prop); got != tc.want {
			t.Errorf("Email(%s) = %q, want %q", tc.line, got, tc.want)
		}
	}
}

func TestFormat(t *testing.T) {
	t.Parallel()
	london := mustZone(t, "Europe/London")
	at := time.Date(2026, 7, 14, 10, 0, 0, 0, london)
	if got, want := FormatUTC(at), "20260714T090000Z"; got != want {
		t.Errorf("FormatUTC = %s, want %s", got, want)
	}
	if got, want := FormatLocal(at), "20260714T100000"; got != want {
		t.Errorf("FormatLocal = %s, want %s", got, want)
	}
	// What is written reads back as the same instant.
	z := NewZones(nil, nil)
	for _, p := range []*ical.Prop{
		{Name: "DTSTART", Params: ical.Params{"TZID": {"Europe/London"}}, Value: FormatLocal(at)},
		{Name: "DTSTART", Params: ical.Params{}, Value: FormatUTC(at)},
	} {
		got, err := z.Time(p)
		if err != nil || !got.Equal(at) {
			t.Errorf("%s read back as %v, %v; want %v", p.Value, got, err, at)
		}
	}
}
