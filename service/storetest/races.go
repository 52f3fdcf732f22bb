package storetest

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/convene/convene/service"
	"github.com/convene/convene/service/policy"
)

// race runs fn(i) for i in [0, n) in n goroutines released together, and
// returns their errors.
func race(n int, fn func(i int) error) []error {
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			errs[i] = fn(i)
		}()
	}
	close(start)
	wg.Wait()
	return errs
}

// tally counts the errors by code ("" for success) and fails on any code
// but success and ECONFLICT.
func tally(t *testing.T, errs []error) (won, conflicts int) {
	t.Helper()
	for i, err := range errs {
		switch service.ErrorCode(err) {
		case "":
			won++
		case service.ECONFLICT:
			conflicts++
		default:
			t.Errorf("goroutine %d: %v", i, err)
		}
	}
	return won, conflicts
}

func testRaceHolds(t *testing.T, s service.Store) {
	base := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	// Every booking wants four quarter-hours starting 10:00 to 10:45:
	// all of them want 10:45, so at most one can have its time.
	won, conflicts := tally(t, race(50, func(i int) error {
		return s.HoldTime(ctx, holds("chair", fmt.Sprintf("b%02d", i), base.Add(time.Duration(i%4)*15*time.Minute), 4))
	}))
	if won != 1 || conflicts != 49 {
		t.Errorf("%d bookings held the time and %d conflicted, want 1 and 49", won, conflicts)
	}
	hs, err := s.Holds(ctx, []string{"chair"}, base, base.Add(3*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	bookings := map[string]int{}
	for _, h := range hs {
		bookings[h.BookingID]++
	}
	if len(bookings) != 1 || len(hs) != 4 {
		t.Errorf("holds left: %d of bookings %v, want 4 of one booking", len(hs), bookings)
	}
}

func testRaceInviteePatches(t *testing.T, s service.Store) {
	var invs []service.Invitee
	for i := range 25 {
		invs = append(invs, Invitee(fmt.Sprintf("p%02d@example.org", i), "police"))
	}
	mustCreate(t, s, Discussion("d1", T0.Add(72*time.Hour), invs...))
	d := mustLoad(t, s, "d1")
	won, conflicts := tally(t, race(25, func(i int) error {
		return s.PatchDiscussion(ctx, reply(t, d, invs[i].Email, policy.ReplyAccepted, T0.Add(time.Duration(i)*time.Second)))
	}))
	if won != 25 {
		t.Errorf("%d replies landed and %d conflicted, want all 25 to land", won, conflicts)
	}
	got := mustLoad(t, s, "d1")
	seqs := map[int64]bool{}
	for _, e := range got.Timeline {
		seqs[e.Seq] = true
	}
	if got.Version != 1 || len(got.Timeline) != 26 || len(seqs) != 26 {
		t.Errorf("version %d, %d events with %d distinct seqs; want 1, 26, 26", got.Version, len(got.Timeline), len(seqs))
	}
	for i, inv := range got.Invitees {
		if inv.Reply != policy.ReplyAccepted || inv.Rev != 2 {
			t.Errorf("invitee %d: reply %q rev %d: lost", i, inv.Reply, inv.Rev)
		}
	}
}

func testRaceCheckInAppends(t *testing.T, s service.Store) {
	mustCreate(t, s, Discussion("d1", T0.Add(72*time.Hour), Invitee("chair@example.org", "social_care")))
	d := mustLoad(t, s, "d1")
	won, conflicts := tally(t, race(25, func(i int) error {
		id := fmt.Sprintf("c%02d", i)
		return s.PatchDiscussion(ctx, &service.DiscussionPatch{ID: "d1", Version: d.Version, At: T0,
			CheckIns: appended(0, id, service.CheckIn{ID: id, Name: id, PresentFrom: T0})})
	}))
	if won != 25 {
		t.Errorf("%d check-ins landed and %d conflicted, want all 25 to land", won, conflicts)
	}
	got := mustLoad(t, s, "d1")
	seen := map[string]bool{}
	for _, c := range got.CheckIns {
		seen[c.ID] = true
		if c.Rev != 1 {
			t.Errorf("check-in %s at rev %d", c.ID, c.Rev)
		}
	}
	if len(got.CheckIns) != 25 || len(seen) != 25 {
		t.Errorf("%d check-ins, %d distinct, want 25", len(got.CheckIns), len(seen))
	}
}

func testRaceSameInvitee(t *testing.T, s service.Store) {
	for round := range 10 {
		id := fmt.Sprintf("d%d", round)
		mustCreate(t, s, Discussion(id, T0.Add(72*time.Hour), Invitee("a@example.org", "police"), Invitee("b@example.org", "health")))
		d := mustLoad(t, s, id)
		replies := []policy.ReplyStatus{policy.ReplyAccepted, policy.ReplyDeclined}
		errs := race(2, func(i int) error {
			return s.PatchDiscussion(ctx, reply(t, d, "a@example.org", replies[i], T0))
		})
		if won, conflicts := tally(t, errs); won != 1 || conflicts != 1 {
			t.Fatalf("round %d: %d won and %d conflicted, want 1 and 1", round, won, conflicts)
		}
		got := mustLoad(t, s, id)
		winner := replies[0]
		if errs[0] != nil {
			winner = replies[1]
		}
		if got.Invitees[0].Reply != winner || got.Invitees[0].Rev != 2 || len(got.Timeline) != 2 {
			t.Errorf("round %d: stored %q rev %d with %d events, want the winner's %q at rev 2 with 2", round, got.Invitees[0].Reply, got.Invitees[0].Rev, len(got.Timeline), winner)
		}
	}
}

func testRaceHeadAndElements(t *testing.T, s service.Store) {
	var invs []service.Invitee
	for i := range 10 {
		invs = append(invs, Invitee(fmt.Sprintf("p%d@example.org", i), "police"))
	}
	mustCreate(t, s, Discussion("d1", T0.Add(72*time.Hour), invs...))
	d := mustLoad(t, s, "d1")
	// Goroutine 10 books the discussion (a head change); 0–9 reply.
	errs := race(11, func(i int) error {
		if i == 10 {
			h := d.Clone()
			h.Status = service.StatusBooked
			return s.PatchDiscussion(ctx, &service.DiscussionPatch{ID: "d1", Version: d.Version, Head: h, At: T0})
		}
		return s.PatchDiscussion(ctx, reply(t, d, invs[i].Email, policy.ReplyAccepted, T0))
	})
	tally(t, errs)
	if errs[10] != nil {
		t.Fatalf("the head patch: %v (element patches leave the version alone, so it cannot lose)", errs[10])
	}
	got := mustLoad(t, s, "d1")
	if got.Status != service.StatusBooked || got.Version != 2 {
		t.Errorf("status %s version %d, want booked 2", got.Status, got.Version)
	}
	for i := range 10 {
		if landed := got.Invitees[i].Reply == policy.ReplyAccepted; landed != (errs[i] == nil) {
			t.Errorf("reply %d: error %v but landed %v", i, errs[i], landed)
		}
	}
	// The losers do what the domain does: reload and try again.
	for i := range 10 {
		if errs[i] == nil {
			continue
		}
		fresh := mustLoad(t, s, "d1")
		mustPatch(t, s, reply(t, fresh, invs[i].Email, policy.ReplyAccepted, T0))
	}
	got = mustLoad(t, s, "d1")
	for i, inv := range got.Invitees {
		if inv.Reply != policy.ReplyAccepted {
			t.Errorf("invitee %d's reply was lost", i)
		}
	}
	if got.Status != service.StatusBooked || len(got.Timeline) != 11 {
		t.Errorf("at the end: status %s, %d events; want booked, 11", got.Status, len(got.Timeline))
	}
}

func testRaceIdempotencyKey(t *testing.T, s service.Store) {
	existing := make([]*service.IdempotencyKey, 50)
	errs := race(50, func(i int) error {
		var err error
		existing[i], err = s.ClaimIdempotencyKey(ctx, &service.IdempotencyKey{ID: "u1\x00k", DiscussionID: fmt.Sprintf("d%02d", i), RequestHash: "h", CreatedAt: T0})
		return err
	})
	tally(t, errs)
	var winner string
	for i, e := range existing {
		if e == nil && errs[i] == nil {
			if winner != "" {
				t.Errorf("two claims: %s and d%02d", winner, i)
			}
			winner = fmt.Sprintf("d%02d", i)
		}
	}
	if winner == "" {
		t.Fatal("no claim won")
	}
	for i, e := range existing {
		if e != nil && e.DiscussionID != winner {
			t.Errorf("claim %d saw %s, want the winner %s", i, e.DiscussionID, winner)
		}
	}
}

func testRaceLease(t *testing.T, s service.Store) {
	for round := range 20 {
		name := fmt.Sprintf("lease-%d", round)
		held := make([]bool, 2)
		errs := race(2, func(i int) error {
			var err error
			held[i], err = s.AcquireLease(ctx, name, fmt.Sprintf("owner-%d", i), T0, time.Minute)
			return err
		})
		tally(t, errs)
		if held[0] == held[1] {
			t.Fatalf("round %d: owners hold %v, want exactly one", round, held)
		}
	}
}

func testRaceClaimMessage(t *testing.T, s service.Store) {
	for i := range 20 {
		enqueue(t, s, Message(fmt.Sprintf("m%02d", i)))
	}
	var mu sync.Mutex
	claimed := map[string]int{}
	errs := race(20, func(w int) error {
		owner := fmt.Sprintf("worker-%d", w)
		for {
			m, err := s.ClaimMessage(ctx, owner, T0, time.Minute)
			if service.ErrorCode(err) == service.ENOTFOUND {
				return nil
			} else if err != nil {
				return err
			}
			mu.Lock()
			claimed[m.ID]++
			mu.Unlock()
			m.State = service.MessageSent
			if err := s.UpdateMessage(ctx, m, owner); err != nil {
				return err
			}
		}
	})
	tally(t, errs)
	for id, n := range claimed {
		if n != 1 {
			t.Errorf("%s claimed %d times", id, n)
		}
	}
	if len(claimed) != 20 {
		t.Errorf("%d messages claimed, want 20", len(claimed))
	}
}

func testRacePersonUpdate(t *testing.T, s service.Store) {
	if err := s.CreatePerson(ctx, Person("p1", "a@example.org")); err != nil {
		t.Fatal(err)
	}
	won, conflicts := tally(t, race(2, func(i int) error {
		p := Person("p1", "a@example.org")
		p.Role = fmt.Sprintf("role-%d", i)
		return s.UpdatePerson(ctx, p)
	}))
	if won != 1 || conflicts != 1 {
		t.Fatalf("two updates from version 1: %d succeeded and %d conflicted, want 1 and 1", won, conflicts)
	}
	if got, err := s.Person(ctx, "p1"); err != nil || got.Version != 2 {
		t.Errorf("after one update: %+v %v, want version 2", got, err)
	}
}
