package calendar_test

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/convene/convene/calendar"
)

func typed(b calendar.Busy, typ calendar.BusyType) calendar.Busy {
	b.Type = typ
	return b
}

// TestBusyFromICS reads the feeds in testdata/ics, shaped as Outlook,
// Google and iCloud publish them.
func TestBusyFromICS(t *testing.T) {
	window := calendar.Interval{Start: utc("2025-03-01T00:00:00Z"), End: utc("2025-05-01T00:00:00Z")}
	newYork, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name             string
		file             string
		opts             calendar.BusyOptions
		want             []calendar.Busy
		objects, skipped int
	}{
		{
			name: "outlook: Windows TZIDs, a zone only its VTIMEZONE defines, busy status",
			file: "outlook.ics",
			want: []calendar.Busy{
				busy("2025-03-06T14:00:00Z", "2025-03-06T15:00:00Z"),                                // 09:00 in "Customized Time Zone", UTC-5
				busy("2025-03-13T13:00:00Z", "2025-03-13T14:00:00Z"),                                // 09:00 there after its 9 March change, UTC-4
				busy("2025-03-27T09:00:00Z", "2025-03-27T10:00:00Z"),                                // 10:00 W. Europe Standard Time (CET)
				typed(busy("2025-04-03T08:00:00Z", "2025-04-03T08:30:00Z"), calendar.BusyTentative), // 10:00 Romance (CEST)
				// 28 March lunch: BUSYSTATUS FREE
				typed(busy("2025-04-06T23:00:00Z", "2025-04-08T23:00:00Z"), calendar.BusyUnavailable), // OOF, 7-8 April in London
			},
			objects: 5,
		},
		{
			name: "google: comma-separated EXDATE, RDATE, declined, transparent all-day, DURATION",
			file: "google.ics",
			opts: calendar.BusyOptions{Email: "Alice@Example.org"},
			want: []calendar.Busy{
				busy("2025-03-24T08:30:00Z", "2025-03-24T09:00:00Z"),
				// 25 March: EXDATE; 14:00 budget meeting: declined
				busy("2025-03-26T08:30:00Z", "2025-03-26T09:00:00Z"),
				// 27 March: EXDATE
				typed(busy("2025-03-27T16:00:00Z", "2025-03-27T17:00:00Z"), calendar.BusyTentative),
				busy("2025-03-28T08:30:00Z", "2025-03-28T09:00:00Z"),
				busy("2025-03-28T13:00:00Z", "2025-03-28T13:45:00Z"),
				busy("2025-03-31T07:30:00Z", "2025-03-31T08:00:00Z"), // RDATE, 08:30 BST
			},
			objects: 5,
		},
		{
			name: "google without the attendee's address: the declined meeting counts",
			file: "google.ics",
			want: []calendar.Busy{
				busy("2025-03-24T08:30:00Z", "2025-03-24T09:00:00Z"),
				busy("2025-03-25T14:00:00Z", "2025-03-25T15:00:00Z"),
				busy("2025-03-26T08:30:00Z", "2025-03-26T09:00:00Z"),
				typed(busy("2025-03-27T16:00:00Z", "2025-03-27T17:00:00Z"), calendar.BusyTentative),
				busy("2025-03-28T08:30:00Z", "2025-03-28T09:00:00Z"),
				busy("2025-03-28T13:00:00Z", "2025-03-28T13:45:00Z"),
				busy("2025-03-31T07:30:00Z", "2025-03-31T08:00:00Z"),
			},
			objects: 5,
		},
		{
			name: "apple: floating time and all-day in the attendee's zone, EXDATE lines",
			file: "apple.ics",
			opts: calendar.BusyOptions{Zone: london(t)},
			want: []calendar.Busy{
				busy("2025-03-24T17:00:00Z", "2025-03-24T18:00:00Z"),
				busy("2025-03-25T10:00:00Z", "2025-03-25T11:00:00Z"), // floating 10:00, London GMT
				busy("2025-03-27T00:00:00Z", "2025-03-28T00:00:00Z"),
				busy("2025-04-02T16:00:00Z", "2025-04-02T17:00:00Z"), // 17:00 BST
			},
			objects: 3,
		},
		{
			name: "apple read for someone in New York",
			file: "apple.ics",
			opts: calendar.BusyOptions{Zone: newYork},
			want: []calendar.Busy{
				busy("2025-03-24T17:00:00Z", "2025-03-24T18:00:00Z"),
				busy("2025-03-25T14:00:00Z", "2025-03-25T15:00:00Z"), // floating 10:00 EDT
				busy("2025-03-27T04:00:00Z", "2025-03-28T04:00:00Z"), // the all-day event is their day
				busy("2025-04-02T16:00:00Z", "2025-04-02T17:00:00Z"),
			},
			objects: 3,
		},
		{
			name: "VFREEBUSY periods and FBTYPE",
			file: "freebusy.ics",
			want: []calendar.Busy{
				busy("2025-03-24T09:00:00Z", "2025-03-24T10:00:00Z"),
				busy("2025-03-24T14:00:00Z", "2025-03-24T14:30:00Z"),
				typed(busy("2025-03-25T09:00:00Z", "2025-03-25T09:30:00Z"), calendar.BusyTentative),
				typed(busy("2025-03-26T00:00:00Z", "2025-03-27T00:00:00Z"), calendar.BusyUnavailable),
				busy("2025-03-28T11:00:00Z", "2025-03-28T12:00:00Z"),
			},
			objects: 1,
		},
		{
			name:    "broken components are skipped and counted, the rest read",
			file:    "broken-feed.ics",
			want:    []calendar.Busy{busy("2025-03-24T13:00:00Z", "2025-03-24T14:00:00Z")},
			objects: 4,
			skipped: 3, // unterminated quote, missing END, unknown FREQ
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, err := os.Open("testdata/ics/" + tc.file)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			opts := tc.opts
			if opts.Zone == nil {
				opts.Zone = london(t)
			}
			res, err := calendar.BusyFromICS(f, window, opts)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, res.Busy); diff != "" {
				t.Errorf("busy (-want +got):\n%s", diff)
			}
			if got, want := res.Objects, tc.objects; got != want {
				t.Errorf("objects = %d, want %d", got, want)
			}
			if got, want := res.Skipped, tc.skipped; got != want {
				t.Errorf("skipped = %d, want %d", got, want)
			}
		})
	}
}

func TestBusyFromICSNotICalendar(t *testing.T) {
	_, err := calendar.BusyFromICS(strings.NewReader("<html>Sign in</html>"), calendar.Interval{}, calendar.BusyOptions{})
	if err == nil {
		t.Fatal("an HTML page read as iCalendar")
	}
}

// TestExpansionWindow checks that a long-running series is expanded only
// within the window and that an override moves an instance in or out.
func TestExpansionWindow(t *testing.T) {
	const ics = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:x\r\n" +
		"BEGIN:VEVENT\r\nUID:daily\r\nDTSTAMP:20200101T000000Z\r\n" +
		"DTSTART;TZID=Europe/London:20200106T090000\r\nDTEND;TZID=Europe/London:20200106T093000\r\n" +
		"RRULE:FREQ=DAILY;BYDAY=MO,TU,WE,TH,FR\r\nEND:VEVENT\r\n" +
		// Moved out of the window: Tuesday's instance goes to the next week.
		"BEGIN:VEVENT\r\nUID:daily\r\nDTSTAMP:20200101T000000Z\r\nRECURRENCE-ID;TZID=Europe/London:20251021T090000\r\n" +
		"DTSTART;TZID=Europe/London:20251028T120000\r\nDTEND;TZID=Europe/London:20251028T123000\r\nEND:VEVENT\r\n" +
		// Cancelled: Thursday's instance.
		"BEGIN:VEVENT\r\nUID:daily\r\nDTSTAMP:20200101T000000Z\r\nRECURRENCE-ID;TZID=Europe/London:20251023T090000\r\n" +
		"DTSTART;TZID=Europe/London:20251023T090000\r\nDTEND;TZID=Europe/London:20251023T093000\r\nSTATUS:CANCELLED\r\nEND:VEVENT\r\n" +
		// Moved into the window from far away, with no DTEND: the series' length.
		"BEGIN:VEVENT\r\nUID:daily\r\nDTSTAMP:20200101T000000Z\r\nRECURRENCE-ID;TZID=Europe/London:20200107T090000\r\n" +
		"DTSTART;TZID=Europe/London:20251025T100000\r\nEND:VEVENT\r\n" +
		"END:VCALENDAR\r\n"
	window := calendar.Interval{Start: utc("2025-10-20T00:00:00Z"), End: utc("2025-10-27T00:00:00Z")}
	res, err := calendar.BusyFromICS(strings.NewReader(ics), window, calendar.BusyOptions{Zone: london(t)})
	if err != nil {
		t.Fatal(err)
	}
	want := []calendar.Busy{
		busy("2025-10-20T08:00:00Z", "2025-10-20T08:30:00Z"),
		busy("2025-10-22T08:00:00Z", "2025-10-22T08:30:00Z"),
		busy("2025-10-24T08:00:00Z", "2025-10-24T08:30:00Z"),
		busy("2025-10-25T09:00:00Z", "2025-10-25T09:30:00Z"), // Saturday, moved in
	}
	if diff := cmp.Diff(want, res.Busy); diff != "" {
		t.Errorf("busy (-want +got):\n%s", diff)
	}
}

// TestUntilDate: a DATE UNTIL on a DATE-TIME series includes its day.
func TestUntilDate(t *testing.T) {
	const ics = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:x\r\nBEGIN:VEVENT\r\nUID:u\r\nDTSTAMP:20250101T000000Z\r\n" +
		"DTSTART;TZID=America/New_York:20250324T090000\r\nDTEND;TZID=America/New_York:20250324T100000\r\n" +
		"RRULE:FREQ=DAILY;UNTIL=20250326\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
	window := calendar.Interval{Start: utc("2025-03-01T00:00:00Z"), End: utc("2025-04-01T00:00:00Z")}
	res, err := calendar.BusyFromICS(strings.NewReader(ics), window, calendar.BusyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(res.Busy), 3; got != want {
		t.Errorf("%d instances, want %d: %v", got, want, res.Busy)
	}
}

// TestBusyStatus checks how each event's properties decide whether and how
// it blocks time.
func TestBusyStatus(t *testing.T) {
	tests := []struct {
		name  string
		props string
		want  calendar.BusyType // "" for not busy
	}{
		{"plain", "", calendar.BusyBusy},
		{"opaque", "TRANSP:OPAQUE\r\n", calendar.BusyBusy},
		{"transparent", "TRANSP:TRANSPARENT\r\n", ""},
		{"cancelled", "STATUS:CANCELLED\r\n", ""},
		{"tentative", "STATUS:TENTATIVE\r\n", calendar.BusyTentative},
		{"confirmed", "STATUS:CONFIRMED\r\n", calendar.BusyBusy},
		{"Outlook free, though opaque", "TRANSP:OPAQUE\r\nX-MICROSOFT-CDO-BUSYSTATUS:FREE\r\n", ""},
		{"Outlook working elsewhere", "X-MICROSOFT-CDO-BUSYSTATUS:WORKINGELSEWHERE\r\n", ""},
		{"Outlook tentative", "X-MICROSOFT-CDO-BUSYSTATUS:TENTATIVE\r\n", calendar.BusyTentative},
		{"Outlook out of office", "X-MICROSOFT-CDO-BUSYSTATUS:OOF\r\n", calendar.BusyUnavailable},
		{"declined by the attendee", "ATTENDEE;PARTSTAT=DECLINED:mailto:alice@example.org\r\n", ""},
		{"not yet answered", "ATTENDEE;PARTSTAT=NEEDS-ACTION:mailto:alice@example.org\r\n", calendar.BusyTentative},
		{"declined by someone else", "ATTENDEE;PARTSTAT=DECLINED:mailto:bob@example.org\r\n", calendar.BusyBusy},
	}
	window := calendar.Interval{Start: utc("2025-03-24T00:00:00Z"), End: utc("2025-03-25T00:00:00Z")}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ics := "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:x\r\nBEGIN:VEVENT\r\nUID:e\r\nDTSTAMP:20250101T000000Z\r\n" +
				"DTSTART:20250324T100000Z\r\nDTEND:20250324T110000Z\r\n" + tc.props + "END:VEVENT\r\nEND:VCALENDAR\r\n"
			res, err := calendar.BusyFromICS(strings.NewReader(ics), window, calendar.BusyOptions{Email: "alice@example.org"})
			if err != nil {
				t.Fatal(err)
			}
			var want []calendar.Busy
			if tc.want != "" {
				want = []calendar.Busy{typed(busy("2025-03-24T10:00:00Z", "2025-03-24T11:00:00Z"), tc.want)}
			}
			if diff := cmp.Diff(want, res.Busy); diff != "" {
				t.Errorf("busy (-want +got):\n%s", diff)
			}
		})
	}
}

// TestFloatingNeedsAZone: floating times and all-day events are read in
// the attendee's zone; with none they are skipped and counted, never read
// as UTC.
func TestFloatingNeedsAZone(t *testing.T) {
	t.Parallel()
	const feed = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:x\r\n" +
		"BEGIN:VEVENT\r\nUID:utc\r\nDTSTAMP:20250101T000000Z\r\nDTSTART:20250324T100000Z\r\nDTEND:20250324T110000Z\r\nEND:VEVENT\r\n" +
		"BEGIN:VEVENT\r\nUID:floating\r\nDTSTAMP:20250101T000000Z\r\nDTSTART:20250331T100000\r\nDTEND:20250331T110000\r\nEND:VEVENT\r\n" +
		"BEGIN:VEVENT\r\nUID:all-day\r\nDTSTAMP:20250101T000000Z\r\nDTSTART;VALUE=DATE:20250402\r\nEND:VEVENT\r\n" +
		"END:VCALENDAR\r\n"
	window := calendar.Interval{Start: utc("2025-03-24T00:00:00Z"), End: utc("2025-04-05T00:00:00Z")}
	tests := []struct {
		name    string
		zone    *time.Location
		want    []calendar.Busy
		skipped int
	}{
		{"in the attendee's zone", london(t), []calendar.Busy{
			busy("2025-03-24T10:00:00Z", "2025-03-24T11:00:00Z"),
			busy("2025-03-31T09:00:00Z", "2025-03-31T10:00:00Z"), // 10:00 BST
			busy("2025-04-01T23:00:00Z", "2025-04-02T23:00:00Z"),
		}, 0},
		{"no zone", nil, []calendar.Busy{busy("2025-03-24T10:00:00Z", "2025-03-24T11:00:00Z")}, 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res, err := calendar.BusyFromICS(strings.NewReader(feed), window, calendar.BusyOptions{Zone: tc.zone})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, res.Busy); diff != "" {
				t.Errorf("busy (-want +got):\n%s", diff)
			}
			if got, want := res.Skipped, tc.skipped; got != want {
				t.Errorf("skipped = %d, want %d", got, want)
			}
		})
	}
}
