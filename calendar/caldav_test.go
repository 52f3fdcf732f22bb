package calendar_test

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/convene/convene/calendar"
	"github.com/convene/convene/calendar/caltest"
)

func utc(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

func busy(start, end string) calendar.Busy {
	return calendar.Busy{Interval: calendar.Interval{Start: utc(start), End: utc(end)}, Type: calendar.BusyBusy}
}

func london(t testing.TB) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation("Europe/London")
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

// fillWorkCalendar stores testdata/caldav in a calendar called "work":
// everything through PUT except broken.ics, which Radicale would refuse and
// is written into its storage directly.
func fillWorkCalendar(t *testing.T, r *caltest.Radicale, user string) *caltest.Calendar {
	t.Helper()
	cal := r.CreateCalendar(t, user, "work")
	files, err := filepath.Glob("testdata/caldav/*.ics")
	if err != nil || len(files) == 0 {
		t.Fatalf("no testdata/caldav fixtures: %v", err)
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		name := filepath.Base(f)
		if name == "broken.ics" {
			cal.WriteRaw(t, name, "broken-1@example.com", data,
				utc("2025-03-25T15:00:00Z"), utc("2025-03-25T16:00:00Z"))
			continue
		}
		cal.Put(t, name, data)
	}
	return cal
}

// wantWork is the busy time of testdata/caldav between March and
// November 2025, in UTC. London is on GMT (UTC) until 30 March and from
// 26 October, on BST (UTC+1) between.
var wantWork = []calendar.Busy{
	busy("2025-03-17T10:00:00Z", "2025-03-17T11:00:00Z"), // standup, GMT
	busy("2025-03-24T10:00:00Z", "2025-03-24T11:00:00Z"), // standup, GMT
	// 25 March 15:00: broken.ics, skipped
	// 26 March: transparent; 27 March: cancelled
	busy("2025-03-27T08:30:00Z", "2025-03-27T08:45:00Z"), // daily handover 08:30 GMT
	busy("2025-03-28T08:30:00Z", "2025-03-28T08:45:00Z"), // daily handover 08:30 GMT
	busy("2025-03-28T09:00:00Z", "2025-03-28T10:00:00Z"), // 09:00 GMT, before the spring change
	// 29, 30 March: handover EXDATE list (the spring change is on the 30th)
	busy("2025-03-31T07:30:00Z", "2025-03-31T07:45:00Z"), // daily handover 08:30 BST
	// 31 March 10:00 BST: standup, EXDATE
	busy("2025-03-31T08:00:00Z", "2025-03-31T09:00:00Z"), // 09:00 BST, after the spring change
	// 1 April: handover, second EXDATE property
	busy("2025-04-01T23:00:00Z", "2025-04-02T23:00:00Z"), // all day 2 April, London
	busy("2025-04-02T07:30:00Z", "2025-04-02T07:45:00Z"), // daily handover 08:30 BST, last (COUNT=7)
	busy("2025-04-03T12:00:00Z", "2025-04-03T13:30:00Z"), // DURATION PT1H30M from 13:00 BST
	// 4 April: Outlook, BUSYSTATUS FREE and TRANSPARENT
	busy("2025-04-08T13:00:00Z", "2025-04-08T14:00:00Z"), // standup of 7 April moved to Tuesday 14:00 BST
	busy("2025-04-14T09:00:00Z", "2025-04-14T10:00:00Z"), // standup, BST, last (UNTIL)
	busy("2025-10-16T14:00:00Z", "2025-10-16T15:00:00Z"), // Outlook, GMT Standard Time 15:00 BST
	busy("2025-10-23T14:00:00Z", "2025-10-23T15:00:00Z"), // Outlook, BST
	busy("2025-10-24T08:00:00Z", "2025-10-24T09:00:00Z"), // 09:00 BST, before the autumn change
	busy("2025-10-27T09:00:00Z", "2025-10-27T10:00:00Z"), // 09:00 GMT, after the autumn change
	busy("2025-10-30T15:00:00Z", "2025-10-30T16:00:00Z"), // Outlook, 15:00 GMT
}

func TestCalDAVRadicale(t *testing.T) {
	r := caltest.StartRadicale(t)
	cal := fillWorkCalendar(t, r, r.User)
	window := calendar.Interval{Start: utc("2025-03-01T00:00:00Z"), End: utc("2025-11-30T00:00:00Z")}
	opts := calendar.BusyOptions{Zone: london(t)}

	for _, tc := range []struct{ name, url string }{
		{"collection URL", cal.URL},
		{"discovery from the server root", r.URL},
		{"discovery from the principal", r.URL + r.User + "/"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := &calendar.CalDAV{URL: tc.url, Credential: calendar.Credential{Username: r.User, Password: r.Password}, Policy: allowLoopback}
			res, err := src.Busy(context.Background(), window, opts)
			if err != nil {
				t.Fatalf("Busy: %v\n%s", err, r.Log())
			}
			if diff := cmp.Diff(wantWork, res.Busy); diff != "" {
				t.Errorf("busy time (-want +got):\n%s", diff)
			}
			if got, want := res.Skipped, 1; got != want {
				t.Errorf("skipped = %d, want %d (broken.ics)", got, want)
			}
			if got, want := res.Objects, 13; got != want {
				t.Errorf("objects = %d, want %d", got, want)
			}
			// Again with the same source, which keeps what it discovered.
			again, err := src.Busy(context.Background(), window, opts)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(res, again); diff != "" {
				t.Errorf("second query differs (-first +second):\n%s", diff)
			}
		})
	}

	t.Run("narrow window", func(t *testing.T) {
		src := &calendar.CalDAV{URL: cal.URL, Credential: calendar.Credential{Username: r.User, Password: r.Password}, Policy: allowLoopback}
		// The week of the spring clock change only; broken.ics lies in it.
		w := calendar.Interval{Start: utc("2025-03-24T00:00:00Z"), End: utc("2025-03-31T23:00:00Z")}
		res, err := src.Busy(context.Background(), w, opts)
		if err != nil {
			t.Fatal(err)
		}
		want := []calendar.Busy{wantWork[1], wantWork[2], wantWork[3], wantWork[4], wantWork[5], wantWork[6]}
		if diff := cmp.Diff(want, res.Busy); diff != "" {
			t.Errorf("busy time (-want +got):\n%s", diff)
		}
		if got, want := res.Skipped, 1; got != want {
			t.Errorf("skipped = %d, want %d", got, want)
		}
	})

	t.Run("slots", func(t *testing.T) {
		// Monday 31 March, the first working day of BST: the 09:00 visit
		// blocks the first hour, the standup at 10:00 is excluded.
		got := calendar.Availability(context.Background(), []calendar.AttendeeSource{{
			ID:      "alice@example.org",
			Source:  &calendar.CalDAV{URL: cal.URL, Credential: calendar.Credential{Username: r.User, Password: r.Password}, Policy: allowLoopback},
			Options: opts,
		}}, window, calendar.AvailabilityOptions{})
		if got, want := got[0].Availability, calendar.Known; got != want {
			t.Fatalf("availability = %q (%v), want %q", got, got, want)
		}
		res, err := calendar.FindSlots(calendar.SlotQuery{
			Attendees: []calendar.Attendee{{ID: "alice@example.org", Essential: true, Busy: got[0].Intervals()}},
			Duration:  time.Hour,
			Earliest:  utc("2025-03-31T07:00:00Z"),
			Deadline:  utc("2025-04-04T17:00:00Z"),
			MaxSlots:  1,
		})
		if err != nil {
			t.Fatal(err)
		}
		if got, want := res.Slots[0].Start, utc("2025-03-31T09:00:00Z"); !got.Equal(want) {
			t.Errorf("first slot starts %v, want %v (10:00 BST)", got, want)
		}
	})
}

// stalledServer accepts connections and never answers.
func stalledServer(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	var conns []net.Conn
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				close(done)
				return
			}
			conns = append(conns, c) // held open, never read or written
		}
	}()
	t.Cleanup(func() {
		l.Close()
		<-done
		for _, c := range conns {
			c.Close()
		}
	})
	return "http://" + l.Addr().String() + "/calendars/carol/"
}

func TestAvailabilityFailuresAreExplicit(t *testing.T) {
	r := caltest.StartRadicale(t)
	fillWorkCalendar(t, r, r.User)
	r.AddUser(t, "bob", "bob-secret")
	bobCal := r.CreateCalendar(t, "bob", "work")
	// Frank's calendar holds nothing but the broken object.
	r.AddUser(t, "frank", "frank-secret")
	frankCal := r.CreateCalendar(t, "frank", "work")
	broken, err := os.ReadFile("testdata/caldav/broken.ics")
	if err != nil {
		t.Fatal(err)
	}
	frankCal.WriteRaw(t, "broken.ics", "broken-1@example.com", broken, utc("2025-04-01T15:00:00Z"), utc("2025-04-01T16:00:00Z"))
	window := calendar.Interval{Start: utc("2025-03-31T00:00:00Z"), End: utc("2025-04-05T00:00:00Z")}
	getenv := func(name string) string {
		return map[string]string{
			"ALICE_CALDAV": r.User + ":" + r.Password,
			"BOB_CALDAV":   "bob:wrong-password",
			"FRANK_CALDAV": "frank:frank-secret",
		}[name]
	}
	src := func(t *testing.T, url, ref string) calendar.Source {
		s, err := calendar.NewSource(calendar.SourceSpec{Type: "caldav", URL: url, CredentialRef: ref}, getenv, calendar.SourceOptions{Policy: allowLoopback})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	attendees := []calendar.AttendeeSource{
		{ID: "alice@example.org", Source: src(t, r.URL, "env:ALICE_CALDAV")},
		{ID: "bob@example.org", Source: src(t, bobCal.URL, "env:BOB_CALDAV")},
		{ID: "carol@example.org", Source: src(t, stalledServer(t), "")},
		{ID: "dan@example.org", Source: src(t, r.URL, "env:DAN_CALDAV")},
		{ID: "erin@example.org"},
		{ID: "frank@example.org", Source: src(t, frankCal.URL, "env:FRANK_CALDAV")},
		{ID: "grace@example.org", Source: src(t, r.URL+r.User+"/no-such-calendar/", "env:ALICE_CALDAV")},
	}
	const budget = 1500 * time.Millisecond
	start := time.Now()
	got := calendar.Availability(context.Background(), attendees, window, calendar.AvailabilityOptions{
		SourceTimeout: time.Hour, // the budget, not the source timeout, must end the stall
		Budget:        budget,
	})
	elapsed := time.Since(start)
	if elapsed > budget+250*time.Millisecond {
		t.Errorf("Availability took %v, budget %v", elapsed, budget)
	}
	type summary struct {
		ID           string
		Availability calendar.AvailabilityStatus
		Reason       calendar.Reason
	}
	var sums []summary
	for _, a := range got {
		sums = append(sums, summary{a.ID, a.Availability, a.Reason})
	}
	want := []summary{
		{"alice@example.org", calendar.Known, ""},
		{"bob@example.org", calendar.Unknown, calendar.ReasonAuthRefused},
		{"carol@example.org", calendar.Unknown, calendar.ReasonTimeout},
		{"dan@example.org", calendar.Unknown, calendar.ReasonNoCredential},
		{"erin@example.org", calendar.Unknown, calendar.ReasonNoCalendar},
		{"frank@example.org", calendar.Unknown, calendar.ReasonUnparseable},
		{"grace@example.org", calendar.Unknown, calendar.ReasonNoCalendar},
	}
	if diff := cmp.Diff(want, sums); diff != "" {
		t.Errorf("availability (-want +got):\n%s", diff)
	}

	// The slot search still ranks: alice is known, the others are not.
	var as []calendar.Attendee
	for i, a := range got {
		as = append(as, calendar.Attendee{ID: a.ID, Essential: i < 3, Availability: a.Availability, Busy: a.Intervals()})
	}
	res, err := calendar.FindSlots(calendar.SlotQuery{
		Attendees: as, Duration: time.Hour,
		Earliest: window.Start, Deadline: window.End, MaxSlots: 3,
	})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := res.Reason, calendar.AttendeesUnknown; got != want {
		t.Errorf("reason = %q, want %q", got, want)
	}
	wantSlot := calendar.Slot{
		Start: utc("2025-03-31T09:00:00Z"), End: utc("2025-03-31T10:00:00Z"),
		Score:    (100 + 6*49) / 7.0,
		Free:     []string{"alice@example.org"},
		Busy:     []string{},
		Unknown:  []string{"bob@example.org", "carol@example.org", "dan@example.org", "erin@example.org", "frank@example.org", "grace@example.org"},
		Blockers: []string{"bob@example.org", "carol@example.org"},
	}
	if len(res.Slots) != 3 {
		t.Fatalf("got %d slots, want 3", len(res.Slots))
	}
	if diff := cmp.Diff(wantSlot, res.Slots[0], cmp.Comparer(time.Time.Equal)); diff != "" {
		t.Errorf("best slot (-want +got):\n%s", diff)
	}
}
