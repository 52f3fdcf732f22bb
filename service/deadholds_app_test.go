package service_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/convene/convene/calendar"
	"github.com/convene/convene/service"
	"github.com/convene/convene/service/errs"
)

// A booking that crashed after taking its holds and before it was saved
// leaves holds that no discussion shows. Once older than staleHold they
// are debris: not busy time to the slot finder, and all of them go when
// someone books over any of them. Younger, they may be a booking still
// being saved, and they hold. On both stores; none of these cases has
// concurrent writers, so all run on FerretDB too.

// staleHold is service/booking.go's: how old a hold whose discussion does
// not show its booking must be before it is taken for debris.
const staleHold = 2 * time.Minute

// crashingStore is a real store that, while crashing is set, fails the
// writes a booking makes once it holds the time: saving the discussion, and
// giving the holds back when that fails. What it leaves is what a process
// that died between taking the holds and saving leaves.
type crashingStore struct {
	service.Store
	crashing atomic.Bool
}

var errDied = errors.New("the process died")

func (s *crashingStore) PatchDiscussion(ctx context.Context, p *service.DiscussionPatch) error {
	if s.crashing.Load() {
		return errDied
	}
	return s.Store.PatchDiscussion(ctx, p)
}

func (s *crashingStore) ReleaseHolds(ctx context.Context, bookingID, person string) error {
	if s.crashing.Load() {
		return errDied
	}
	return s.Store.ReleaseHolds(ctx, bookingID, person)
}

// crashed is an env where a booking of one discussion died after taking
// its holds, and a second discussion, of the same people but one, waits to
// be booked.
type crashed struct {
	*env
	clock      *clock
	at         time.Time // when the dead booking took its holds
	start, end time.Time // the time it held
	holds      []service.Hold
	dead       *service.Discussion
	other      *service.Discussion
	keys       []string // the four people's hold keys (directory ids)
}

// crash builds the env: everyone publishes a calendar feed with nothing in
// the days the test looks at, so their availability is known and held time
// is all that could make them busy; the clock stands still where the test
// puts it.
func crash(t *testing.T, store service.Store, feed string) *crashed {
	t.Helper()
	cs := &crashingStore{Store: store}
	e := newEnv(t, cs)
	e.app.SourceOptions = calendar.SourceOptions{Policy: calendar.OutboundPolicy{
		AllowNetworks: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}}}
	admin := service.WithPrincipal(context.Background(), &service.Principal{Subject: "ada", Roles: []service.Role{service.RoleAdmin}})
	cr := &crashed{env: e, clock: &clock{now: e.now}}
	e.app.Now = cr.clock.Now
	for _, k := range []string{"chris", "sam", "dana", "nina"} {
		p := *e.people[k]
		p.Calendar = &service.CalendarSource{Type: "ics", URL: feed + "/" + k + ".ics"}
		updated, err := e.app.UpdatePerson(admin, p.ID, p)
		if err != nil {
			t.Fatalf("give %s a calendar: %v", k, err)
		}
		e.people[k] = updated
		cr.keys = append(cr.keys, updated.ID)
	}
	cr.dead, cr.other = e.convene(t, false), e.convene(t, false)

	// 10:00 on the next working day, inside everyone's hours and before
	// the deadline (three working days from the referral, today).
	day := e.now.In(london)
	for {
		day = day.AddDate(0, 0, 1)
		if e.app.Calendar.IsWorkingDay(e.app.Region, day) {
			break
		}
	}
	cr.start = time.Date(day.Year(), day.Month(), day.Day(), 10, 0, 0, 0, london)
	cr.end = cr.start.Add(cr.dead.Duration)
	cr.at = cr.start.Add(-18 * time.Minute)
	cr.clock.Set(cr.at)

	cs.crashing.Store(true)
	_, err := e.app.Book(e.bso, cr.dead.ID, service.BookRequest{Start: cr.start, OverrideReason: "test: any time"})
	cs.crashing.Store(false)
	if !errors.Is(err, errDied) {
		t.Fatalf("the booking that should die on saving: %v", err)
	}
	cr.holds = cr.held(t)
	persons, starts := map[string]bool{}, map[int64]bool{}
	for _, h := range cr.holds {
		persons[h.Person], starts[h.Start.Unix()] = true, true
		if h.DiscussionID != cr.dead.ID || h.BookingID != cr.holds[0].BookingID {
			t.Fatalf("a hold not of the dead booking: %+v", h)
		}
	}
	if len(persons) < 2 || len(starts) < 2 {
		t.Fatalf("the dead booking holds %d people for %d quarter-hours, want several of each: %+v", len(persons), len(starts), cr.holds)
	}
	// The second discussion is without one of the people the dead booking
	// holds (not the chair), so booking it collides with only some of the
	// dead booking's holds.
	var gone string
	for _, k := range []string{"sam", "dana", "nina"} {
		if persons[e.people[k].ID] {
			gone = e.people[k].Email
		}
	}
	if gone == "" {
		t.Fatalf("the dead booking holds nobody but the chair: %+v", cr.holds)
	}
	if cr.other, err = e.app.RemoveAttendee(e.bso, cr.other.ID, gone); err != nil {
		t.Fatal(err)
	}
	if d, err := e.app.Discussion(e.bso, cr.dead.ID); err != nil {
		t.Fatal(err)
	} else if d.Status != service.StatusProposed || d.Booking != nil {
		t.Fatalf("the dead booking's discussion is %s with booking %+v; want it not to show the booking", d.Status, d.Booking)
	}
	return cr
}

// held are the four people's holds from an hour before the dead booking to
// three hours after its start.
func (cr *crashed) held(t *testing.T) []service.Hold {
	t.Helper()
	holds, err := cr.app.Store.Holds(context.Background(), cr.keys, cr.start.Add(-time.Hour), cr.start.Add(3*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	return holds
}

// firstFree is the earliest slot from the dead booking's start on where
// all four, each essential, are free: the slot finder over their
// calendars and Convene's holds.
func (cr *crashed) firstFree(t *testing.T) calendar.Slot {
	t.Helper()
	var who []service.AvailabilityAttendee
	for _, id := range cr.keys {
		who = append(who, service.AvailabilityAttendee{PersonID: id, Essential: true})
	}
	av, err := cr.app.CheckAvailability(cr.bso, service.AvailabilityRequest{Attendees: who, Duration: cr.end.Sub(cr.start),
		Earliest: cr.start, Deadline: cr.start.Add(3 * time.Hour), MaxSlots: 1})
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range av.Attendees {
		if a.Availability == calendar.Unknown {
			// The feeds must be read: these cases are of held time
			// among calendars known to be free.
			t.Fatalf("%s's calendar was not read: %s", a.Email, a.Reason)
		}
	}
	if len(av.Slots) == 0 || av.Reason != "" {
		t.Fatalf("no slot with everyone free: %s %+v", av.Reason, av.Slots)
	}
	return av.Slots[0]
}

// onlyHolds checks that every hold in the window is the booked
// discussion's current booking's, one per person and quarter-hour, and
// that none of the dead booking's is left.
func (cr *crashed) onlyHolds(t *testing.T, booked *service.Discussion) {
	t.Helper()
	seen := map[string]int{}
	for _, h := range cr.held(t) {
		if h.BookingID == cr.holds[0].BookingID {
			t.Errorf("the dead booking's hold of %s at %s is still there", h.Person, h.Start.In(london).Format("15:04"))
		} else if h.DiscussionID != booked.ID || h.BookingID != booked.Booking.ID {
			t.Errorf("a hold of %s at %s for discussion %s booking %s", h.Person, h.Start.In(london).Format("15:04"), h.DiscussionID, h.BookingID)
		}
		seen[h.Person+" "+h.Start.UTC().Format(time.RFC3339)]++
	}
	for k, n := range seen {
		if n > 1 {
			t.Errorf("%s held %d times", k, n)
		}
	}
	chair := cr.people["chris"].ID
	got := slices.DeleteFunc(cr.held(t), func(h service.Hold) bool { return h.Person != chair })
	if want := int(booked.Booking.End.Sub(booked.Booking.Start) / (15 * time.Minute)); len(got) != want {
		t.Errorf("the chair has %d holds, want the %d quarter-hours of the new booking", len(got), want)
	}
}

func TestDeadHolds(t *testing.T) {
	t.Parallel()
	// The calendars everyone publishes, served over loopback as Outlook or
	// Google would serve a feed: nothing in them after 2020.
	feed := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/calendar; charset=utf-8")
		_, _ = io.WriteString(w, "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Convene test//EN\r\n"+
			"BEGIN:VEVENT\r\nUID:long-ago@test\r\nDTSTAMP:20200101T000000Z\r\nDTSTART:20200106T090000Z\r\nDTEND:20200106T100000Z\r\n"+
			"SUMMARY:Busy\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n")
	}))
	t.Cleanup(feed.Close)

	cases := []struct {
		name string
		run  func(t *testing.T, cr *crashed)
	}{
		{"the slot finder does not count a dead booking's holds as busy", func(t *testing.T, cr *crashed) {
			cr.clock.Set(cr.at.Add(staleHold + time.Minute))
			if got := cr.firstFree(t); !got.Start.Equal(cr.start) {
				t.Errorf("the first slot with everyone free starts %s, want %s: the dead booking's time counted as busy",
					got.Start.In(london).Format(time.DateTime), cr.start.Format(time.DateTime))
			}
		}},
		{"booking the earliest slot takes a dead booking's time", func(t *testing.T, cr *crashed) {
			// A quarter of an hour before the dead booking's start: its
			// start is the earliest a booking can take.
			cr.clock.Set(cr.start.Add(-15 * time.Minute))
			if cr.clock.Now().Sub(cr.at) < staleHold {
				t.Fatal("the test's clock leaves the dead holds young")
			}
			d, err := cr.app.Book(cr.bso, cr.other.ID, service.BookRequest{Earliest: true, OverrideReason: "test: any time"})
			if err != nil {
				t.Fatalf("book the earliest: %v", err)
			}
			if !d.Booking.Start.Equal(cr.start) {
				t.Errorf("booked at %s, want %s: the dead booking's time counted as busy",
					d.Booking.Start.In(london).Format(time.DateTime), cr.start.Format(time.DateTime))
			}
			cr.onlyHolds(t, d)
		}},
		{"booking over a dead booking releases all its holds at once", func(t *testing.T, cr *crashed) {
			cr.clock.Set(cr.at.Add(staleHold + time.Minute))
			// Half an hour in, and without one of the people: the new
			// booking collides with some of the dead one's holds, not all,
			// and none of them may be left.
			d, err := cr.app.Book(cr.bso, cr.other.ID, service.BookRequest{Start: cr.start.Add(30 * time.Minute), OverrideReason: "test: any time"})
			if err != nil {
				t.Fatalf("book over the dead booking: %v", err)
			}
			if d.Status != service.StatusBooked {
				t.Errorf("status %s after booking", d.Status)
			}
			cr.onlyHolds(t, d)
		}},
		{"a hold younger than staleHold is busy and refuses a booking over it", func(t *testing.T, cr *crashed) {
			cr.clock.Set(cr.at.Add(staleHold / 2))
			if got := cr.firstFree(t); got.Start.Before(cr.end) {
				t.Errorf("the first slot with everyone free starts %s, inside the time held by a booking still being saved (until %s)",
					got.Start.In(london).Format(time.DateTime), cr.end.Format(time.DateTime))
			}
			_, err := cr.app.Book(cr.bso, cr.other.ID, service.BookRequest{Start: cr.start.Add(30 * time.Minute), OverrideReason: "test: any time"})
			if !errs.Match(&errs.Error{Code: errs.ECONFLICT, Message: "already booked"}, err) {
				t.Errorf("booking over a booking still being saved: %v, want a conflict saying who is already booked", err)
			}
			if got := cr.held(t); len(got) != len(cr.holds) {
				t.Errorf("%d holds after the refused booking, want the %d of the booking being saved", len(got), len(cr.holds))
			}
			if d, err := cr.app.Discussion(cr.bso, cr.other.ID); err != nil {
				t.Error(err)
			} else if d.Status != service.StatusProposed {
				t.Errorf("the refused discussion is %s, want it still proposed", d.Status)
			}
		}},
	}
	for _, st := range stores {
		t.Run(st.name, func(t *testing.T) {
			t.Parallel()
			for _, c := range cases {
				t.Run(c.name, func(t *testing.T) {
					t.Parallel()
					c.run(t, crash(t, st.open(t), feed.URL))
				})
			}
		})
	}
}
