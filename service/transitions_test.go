package service

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/convene/convene/service/policy"
)

// The transitions of a discussion, on the domain types alone: no store, no
// HTTP. Each case starts from a fresh fixture, so they run in parallel.

var (
	t0       = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC) // a Monday
	bso      = Actor{Subject: "bea", Name: "Bea Support"}
	london   = mustZone("Europe/London")
	deadline = t0.Add(72 * time.Hour)
)

func mustZone(name string) *time.Location {
	z, err := time.LoadLocation(name)
	if err != nil {
		panic(err)
	}
	return z
}

// fixture is a convened discussion: a chair, a social worker, police and
// health, each filling an essential requirement, nothing booked.
func fixture() *Discussion {
	inv := func(id, email string, ag policy.Agency, seniority int, reqs ...string) Invitee {
		return Invitee{PersonID: id, Name: id, Email: email, Agency: ag, Role: "r", Seniority: seniority,
			Essential: true, Requirements: reqs, Reply: policy.ReplyNeedsAction, AddedAt: t0, Rev: 1}
	}
	chair := inv("chris", "chris@council.example", policy.AgencySocialCare, 3, "chair")
	chair.Chair = true
	return &Discussion{
		ID: "d1", CaseReference: "CR-2026-0042", Status: StatusProposed, UID: "d1@convene", Version: 1,
		Deadline: deadline, Duration: time.Hour,
		Timescale: policy.Timescale{BindingRule: policy.RuleRef{ID: "G1", Citation: "002 §6"}},
		Attendance: policy.Attendance{Requirements: []policy.Requirement{
			{ID: "chair", Name: "CSC manager as chair", Agencies: []policy.Agency{policy.AgencySocialCare}, Essential: true, Chair: true, MinSeniority: policy.Seniority{Level: 2}},
			{ID: "police", Name: "police", Agencies: []policy.Agency{policy.AgencyPolice}, Essential: true, MinSeniority: policy.Seniority{Level: 2}},
			{ID: "health", Name: "health", Agencies: []policy.Agency{policy.AgencyHealth}, Essential: true, MinSeniority: policy.Seniority{Level: 1}},
		}},
		Invitees: []Invitee{
			chair,
			func() Invitee {
				i := inv("sam", "sam@council.example", policy.AgencySocialCare, 1)
				i.Essential = false
				return i
			}(),
			inv("dana", "dana@police.example", policy.AgencyPolice, 3, "police"),
			inv("nina", "nina@nhs.example", policy.AgencyHealth, 2, "health"),
		},
		CreatedAt: t0.Add(-time.Hour),
	}
}

// booked is the fixture booked for 10:00 to 11:00 on t0's day.
func booked() *Discussion {
	d := fixture()
	if _, err := d.Book(BookingChoice{BookingID: "b1", Start: t0.Add(time.Hour), End: t0.Add(2 * time.Hour), Zone: london}, bso, t0); err != nil {
		panic(err)
	}
	d.Pending = nil // sent
	return d
}

func code(err error) string { return ErrorCode(err) }

func pendingTo(d *Discussion, method string) []string {
	var out []string
	for _, m := range d.Pending {
		if m.Method == method {
			out = append(out, m.To)
		}
	}
	return out
}

func TestBook(t *testing.T) {
	t.Parallel()
	ten, eleven := t0.Add(time.Hour), t0.Add(2*time.Hour)
	for _, tc := range []struct {
		name     string
		d        func() *Discussion
		choice   BookingChoice
		wantCode string
		check    func(t *testing.T, d *Discussion, eff Effects)
	}{
		{name: "a proposed discussion is booked, everyone invited, the chair and essential invitees held",
			d: fixture, choice: BookingChoice{BookingID: "b1", Start: ten, End: eleven},
			check: func(t *testing.T, d *Discussion, eff Effects) {
				if d.Status != StatusBooked || d.Booking.ID != "b1" || !d.Booking.Start.Equal(ten) {
					t.Errorf("status %s booking %+v", d.Status, d.Booking)
				}
				if got, want := len(pendingTo(d, "REQUEST")), 4; got != want {
					t.Errorf("%d REQUESTs queued, want %d", got, want)
				}
				// The social worker fills no essential requirement: her
				// time is not held.
				want := []HoldRequest{{BookingID: "b1", Persons: []string{"chris", "dana", "nina"}, Start: ten, End: eleven}}
				if diff := cmp.Diff(want, eff.Hold); diff != "" {
					t.Errorf("holds (-want +got):\n%s", diff)
				}
				if len(eff.Release) != 0 || d.Sequence != 0 {
					t.Errorf("a first booking releases nothing and keeps SEQUENCE 0: %+v, %d", eff.Release, d.Sequence)
				}
			}},
		{name: "a start in the past is refused", d: fixture,
			choice: BookingChoice{BookingID: "b1", Start: t0.Add(-time.Hour), End: t0}, wantCode: EINVALID},
		{name: "a time after the deadline needs an override reason", d: fixture,
			choice: BookingChoice{BookingID: "b1", Start: deadline, End: deadline.Add(time.Hour)}, wantCode: EINVALID},
		{name: "with an override reason it is booked and the breach recorded", d: fixture,
			choice: BookingChoice{BookingID: "b1", Start: deadline, End: deadline.Add(time.Hour), OverrideReason: "police unavailable"},
			check: func(t *testing.T, d *Discussion, _ Effects) {
				if d.Breach == nil || !d.Breach.Override || d.Breach.Reason != "police unavailable" {
					t.Errorf("breach %+v", d.Breach)
				}
			}},
		{name: "a booked discussion is moved by a reschedule, not a second booking", d: booked,
			choice: BookingChoice{BookingID: "b2", Start: ten, End: eleven}, wantCode: EPRECONDITION},
		{name: "a reschedule asks everyone again under a new SEQUENCE and gives the old time back once saved",
			d: func() *Discussion {
				d := booked()
				d.Invitees[2].Reply = policy.ReplyAccepted
				return d
			},
			choice: BookingChoice{BookingID: "b2", Start: ten.Add(30 * time.Minute), End: eleven.Add(30 * time.Minute), Reschedule: true},
			check: func(t *testing.T, d *Discussion, eff Effects) {
				if d.Sequence != 1 || d.Invitees[2].Reply != policy.ReplyNeedsAction {
					t.Errorf("sequence %d, police reply %s", d.Sequence, d.Invitees[2].Reply)
				}
				if diff := cmp.Diff([]HoldRelease{{BookingID: "b1"}}, eff.Release); diff != "" {
					t.Errorf("release (-want +got):\n%s", diff)
				}
				if eff.Hold[0].BookingID != "b2" {
					t.Errorf("new holds under %s", eff.Hold[0].BookingID)
				}
			}},
		{name: "a reschedule of a discussion not booked is refused", d: fixture,
			choice: BookingChoice{BookingID: "b2", Start: ten, End: eleven, Reschedule: true}, wantCode: EPRECONDITION},
		{name: "accepting a counter proposal marks it accepted",
			d: func() *Discussion {
				d := booked()
				d.Counters = []Counter{{ID: "k1", From: "dana@police.example", Start: ten, End: eleven, Status: "pending"}}
				return d
			},
			choice: BookingChoice{BookingID: "b2", Start: ten, End: eleven, Reschedule: true, CounterID: "k1"},
			check: func(t *testing.T, d *Discussion, _ Effects) {
				if d.Counters[0].Status != "accepted" {
					t.Errorf("counter %s", d.Counters[0].Status)
				}
			}},
		{name: "a counter that is not pending cannot be accepted",
			d: booked, choice: BookingChoice{BookingID: "b2", Start: ten, End: eleven, Reschedule: true, CounterID: "nope"}, wantCode: EINVALID},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			d := tc.d()
			tc.choice.Zone = london
			eff, err := d.Book(tc.choice, bso, t0)
			if got := code(err); got != tc.wantCode {
				t.Fatalf("code %q, want %q (%v)", got, tc.wantCode, err)
			}
			if tc.check != nil {
				tc.check(t, d, eff)
			}
		})
	}
}

func TestInvitationList(t *testing.T) {
	t.Parallel()
	newcomer := Invitee{PersonID: "eve", Name: "Eve", Email: "Eve@school.example", Agency: policy.AgencyEducation, Role: "dsl", Seniority: 1}
	for _, tc := range []struct {
		name     string
		d        func() *Discussion
		apply    func(d *Discussion) (Effects, error)
		wantCode string
		check    func(t *testing.T, d *Discussion, eff Effects)
	}{
		{name: "adding someone to a proposed discussion sends nothing yet", d: fixture,
			apply: func(d *Discussion) (Effects, error) { return d.AddInvitee(newcomer, bso, t0) },
			check: func(t *testing.T, d *Discussion, eff Effects) {
				if inv := d.invitee("eve@school.example"); inv == nil || inv.Reply != policy.ReplyNeedsAction {
					t.Fatalf("not invited: %+v", d.Invitees)
				}
				if len(d.Pending) != 0 || len(eff.Hold) != 0 {
					t.Errorf("pending %v holds %v", d.Pending, eff.Hold)
				}
			}},
		{name: "adding someone to a booked discussion invites them", d: booked,
			apply: func(d *Discussion) (Effects, error) { return d.AddInvitee(newcomer, bso, t0) },
			check: func(t *testing.T, d *Discussion, _ Effects) {
				if got := pendingTo(d, "REQUEST"); !slices.Equal(got, []string{"eve@school.example"}) {
					t.Errorf("REQUESTs to %v", got)
				}
				if d.Sequence != 0 {
					t.Errorf("SEQUENCE %d: who is invited is not a significant change", d.Sequence)
				}
			}},
		{name: "someone already invited is not added twice", d: booked,
			apply: func(d *Discussion) (Effects, error) {
				return d.AddInvitee(Invitee{Email: "dana@police.example"}, bso, t0)
			},
			wantCode: ECONFLICT},
		{name: "removing someone sends them an uninvite CANCEL and keeps SEQUENCE and answers (RFC 5546 3.2.5)",
			d: func() *Discussion {
				d := booked()
				d.Invitees[3].Reply = policy.ReplyAccepted
				return d
			},
			apply: func(d *Discussion) (Effects, error) { return d.RemoveInvitee("sam@council.example", bso, t0) },
			check: func(t *testing.T, d *Discussion, eff Effects) {
				if d.Sequence != 0 || d.Invitees[3].Reply != policy.ReplyAccepted {
					t.Errorf("sequence %d, nina %s", d.Sequence, d.Invitees[3].Reply)
				}
				i := slices.IndexFunc(d.Pending, func(m PendingMessage) bool { return m.Method == "CANCEL" })
				if i < 0 || d.Pending[i].To != "sam@council.example" || !d.Pending[i].Uninvite {
					t.Errorf("pending %+v", d.Pending)
				}
				if got := pendingTo(d, "REQUEST"); len(got) != 3 || slices.Contains(got, "sam@council.example") {
					t.Errorf("updates to %v", got)
				}
				if diff := cmp.Diff([]HoldRelease{{BookingID: "b1", Person: "sam"}}, eff.Release); diff != "" {
					t.Errorf("release (-want +got):\n%s", diff)
				}
				if d.invitee("sam@council.example") != nil || !d.Invitees[1].Removed {
					t.Errorf("still invited")
				}
			}},
		{name: "removed and added again, the invitee keeps their place", d: booked,
			apply: func(d *Discussion) (Effects, error) {
				if _, err := d.RemoveInvitee("sam@council.example", bso, t0); err != nil {
					return Effects{}, err
				}
				return d.AddInvitee(Invitee{PersonID: "sam", Name: "sam", Email: "sam@council.example", Agency: policy.AgencySocialCare}, bso, t0)
			},
			check: func(t *testing.T, d *Discussion, _ Effects) {
				if len(d.Invitees) != 4 || d.Invitees[1].Removed {
					t.Errorf("invitees %+v", d.Invitees)
				}
				// Each change to the list is told apart, so the second
				// update is not taken for the first.
				ids := map[string]bool{}
				for _, m := range d.Pending {
					if ids[m.ID] {
						t.Errorf("two messages share id %s", m.ID)
					}
					ids[m.ID] = true
				}
			}},
		{name: "the chair cannot be removed", d: booked,
			apply:    func(d *Discussion) (Effects, error) { return d.RemoveInvitee("chris@council.example", bso, t0) },
			wantCode: EPRECONDITION},
		{name: "someone not invited cannot be removed", d: booked,
			apply:    func(d *Discussion) (Effects, error) { return d.RemoveInvitee("nobody@example.org", bso, t0) },
			wantCode: ENOTFOUND},
		{name: "cancelling a booked discussion sends everyone a CANCEL and gives the time back", d: booked,
			apply: func(d *Discussion) (Effects, error) { return d.Cancel("child moved area", bso, t0) },
			check: func(t *testing.T, d *Discussion, eff Effects) {
				if d.Status != StatusCancelled || len(pendingTo(d, "CANCEL")) != 4 || d.Sequence != 1 {
					t.Errorf("status %s cancels %v seq %d", d.Status, pendingTo(d, "CANCEL"), d.Sequence)
				}
				if diff := cmp.Diff([]HoldRelease{{BookingID: "b1"}}, eff.Release); diff != "" {
					t.Errorf("release (-want +got):\n%s", diff)
				}
			}},
		{name: "a cancelled discussion cannot be cancelled again",
			d: func() *Discussion {
				d := booked()
				d.Status = StatusCancelled
				return d
			},
			apply:    func(d *Discussion) (Effects, error) { return d.Cancel("again", bso, t0) },
			wantCode: EPRECONDITION},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			d := tc.d()
			eff, err := tc.apply(d)
			if got := code(err); got != tc.wantCode {
				t.Fatalf("code %q, want %q (%v)", got, tc.wantCode, err)
			}
			if tc.check != nil {
				tc.check(t, d, eff)
			}
		})
	}
}

func TestApplyReply(t *testing.T) {
	t.Parallel()
	dana := "dana@police.example"
	at := t0.Add(10 * time.Minute)
	for _, tc := range []struct {
		name      string
		d         func() *Discussion
		replies   []Reply
		wantCode  string
		wantReply policy.ReplyStatus
		check     func(t *testing.T, d *Discussion, eff Effects)
	}{
		{name: "an accept is recorded", d: booked,
			replies:   []Reply{{Email: dana, Answer: policy.ReplyAccepted, Stamp: at}},
			wantReply: policy.ReplyAccepted},
		{name: "an older answer arriving late does not override a newer one (RFC 5546 2.1.5)", d: booked,
			replies: []Reply{
				{Email: dana, Answer: policy.ReplyDeclined, Stamp: at.Add(10 * time.Minute)},
				{Email: dana, Answer: policy.ReplyAccepted, Stamp: at},
			},
			wantCode: EPRECONDITION, wantReply: policy.ReplyDeclined},
		{name: "a later answer replaces an earlier one", d: booked,
			replies: []Reply{
				{Email: dana, Answer: policy.ReplyAccepted, Stamp: at},
				{Email: dana, Answer: policy.ReplyDeclined, Stamp: at.Add(time.Minute)},
			},
			wantReply: policy.ReplyDeclined},
		{name: "an answer to an earlier SEQUENCE is stale",
			d: func() *Discussion {
				d := booked()
				d.Sequence = 2
				return d
			},
			replies:  []Reply{{Email: dana, Answer: policy.ReplyAccepted, Sequence: 1, Stamp: at}},
			wantCode: EPRECONDITION, wantReply: policy.ReplyNeedsAction},
		{name: "NEEDS-ACTION is not an answer", d: booked,
			replies:  []Reply{{Email: dana, Answer: policy.ReplyNeedsAction}},
			wantCode: EINVALID, wantReply: policy.ReplyNeedsAction},
		{name: "someone not invited cannot answer", d: booked,
			replies:  []Reply{{Email: "mallory@example.org", Answer: policy.ReplyAccepted}},
			wantCode: EPRECONDITION, wantReply: policy.ReplyNeedsAction},
		{name: "a delegation adds the delegate, invites them and holds their diary if it can", d: booked,
			replies: []Reply{{Email: dana, Answer: policy.ReplyDelegated, DelegatedTo: "Sgt.Lee@police.example", DelegateName: "Sgt Lee", Stamp: at,
				Delegate: &Invitee{Name: "Sgt Lee", Email: "sgt.lee@police.example", Agency: policy.AgencyPolice, Seniority: 2, SeniorityLabel: "Sergeant"}}},
			wantReply: policy.ReplyDelegated,
			check: func(t *testing.T, d *Discussion, eff Effects) {
				del := d.invitee("sgt.lee@police.example")
				if del == nil || del.DelegatedFrom != dana || del.Name != "Sgt Lee" || del.Seniority != 2 || !slices.Equal(del.Requirements, []string{"police"}) {
					t.Fatalf("delegate %+v", del)
				}
				if got := pendingTo(d, "REQUEST"); !slices.Equal(got, []string{"sgt.lee@police.example"}) {
					t.Errorf("REQUESTs to %v", got)
				}
				if len(eff.Hold) != 1 || !eff.Hold[0].BestEffort || eff.Hold[0].Persons[0] != "sgt.lee@police.example" {
					t.Errorf("holds %+v", eff.Hold)
				}
			}},
		// Nobody gains access to a case by email alone: these are held for
		// business support, and the place is not given away.
		{name: "a delegation to someone not in the directory is held", d: booked,
			replies:   []Reply{{Email: dana, Answer: policy.ReplyDelegated, DelegatedTo: "outsider@gmail.example", HoldID: "h1", Stamp: at}},
			wantReply: policy.ReplyNeedsAction,
			check: func(t *testing.T, d *Discussion, _ Effects) {
				if len(d.HeldReplies) != 1 || d.HeldReplies[0].Kind != HeldDelegation || d.invitee("outsider@gmail.example") != nil {
					t.Errorf("held %+v", d.HeldReplies)
				}
			}},
		{name: "a delegation to another agency is held", d: booked,
			replies: []Reply{{Email: dana, Answer: policy.ReplyDelegated, DelegatedTo: "nurse@nhs.example", HoldID: "h1", Stamp: at,
				Delegate: &Invitee{Name: "A Nurse", Email: "nurse@nhs.example", Agency: policy.AgencyHealth, Seniority: 3}}},
			wantReply: policy.ReplyNeedsAction,
			check: func(t *testing.T, d *Discussion, _ Effects) {
				if len(d.HeldReplies) != 1 || d.invitee("nurse@nhs.example") != nil {
					t.Errorf("held %+v", d.HeldReplies)
				}
			}},
		{name: "a delegation below the place's minimum seniority is held, and says why", d: booked,
			replies: []Reply{{Email: dana, Answer: policy.ReplyDelegated, DelegatedTo: "pc@police.example", HoldID: "h1", Stamp: at,
				Delegate: &Invitee{Name: "PC Con", Email: "pc@police.example", Agency: policy.AgencyPolice, Seniority: 1, SeniorityLabel: "Constable"}}},
			wantReply: policy.ReplyNeedsAction,
			check: func(t *testing.T, d *Discussion, _ Effects) {
				if len(d.HeldReplies) != 1 || d.HeldReplies[0].Reason != "PC Con is below the minimum for police (needs , has Constable)" {
					t.Errorf("held %+v", d.HeldReplies)
				}
			}},
		{name: "a held delegation business support admit is applied", d: booked,
			replies:   []Reply{{Email: dana, Answer: policy.ReplyDelegated, DelegatedTo: "outsider@gmail.example", HoldID: "h1", Stamp: at}},
			wantReply: policy.ReplyDelegated},
		{name: "a delegation must name the delegate", d: booked,
			replies:  []Reply{{Email: dana, Answer: policy.ReplyDelegated}},
			wantCode: EINVALID, wantReply: policy.ReplyNeedsAction},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			d := tc.d()
			var eff Effects
			var err error
			for _, r := range tc.replies {
				eff, err = d.ApplyReply(r, at)
			}
			if strings.HasPrefix(tc.name, "a held delegation business support admit") {
				eff, err = d.DecideHeldReply("h1", true, nil, bso, at)
				if d.invitee("outsider@gmail.example") == nil {
					t.Error("the admitted delegate is not invited")
				}
			}
			if got := code(err); got != tc.wantCode {
				t.Fatalf("code %q, want %q (%v)", got, tc.wantCode, err)
			}
			if got := d.invitee(dana).Reply; got != tc.wantReply {
				t.Errorf("dana's answer %s, want %s", got, tc.wantReply)
			}
			if tc.check != nil {
				tc.check(t, d, eff)
			}
		})
	}
}

func TestInboundBounds(t *testing.T) {
	t.Parallel()
	dana := "dana@police.example"
	t.Run("a counter is recorded once, and at most maxPendingCounters wait", func(t *testing.T) {
		t.Parallel()
		d := booked()
		p := CounterProposal{ID: "k0", Email: dana, Start: t0.Add(5 * time.Hour), Zone: london}
		if _, err := d.ApplyCounter(p, t0); err != nil {
			t.Fatal(err)
		}
		p.ID = "k0b"
		if _, err := d.ApplyCounter(p, t0); err != nil || len(d.Counters) != 1 {
			t.Fatalf("the same proposal again: %v, %d counters", err, len(d.Counters))
		}
		if !d.Counters[0].End.Equal(p.Start.Add(time.Hour)) {
			t.Errorf("a counter without an end lasts the discussion's duration: %v", d.Counters[0].End)
		}
		for i := 1; i < maxPendingCounters; i++ {
			p.ID, p.Start = "k"+itoa(i), p.Start.Add(time.Hour)
			if _, err := d.ApplyCounter(p, t0); err != nil {
				t.Fatal(err)
			}
		}
		p.ID, p.Start = "over", p.Start.Add(time.Hour)
		if _, err := d.ApplyCounter(p, t0); code(err) != EPRECONDITION {
			t.Errorf("counter over the cap: %v", err)
		}
	})
	t.Run("a REFRESH re-sends the invitation at most refreshesPerDay times a day", func(t *testing.T) {
		t.Parallel()
		d := booked()
		for i := 0; i < refreshesPerDay+2; i++ {
			if _, err := d.ApplyRefresh(dana, t0); err != nil {
				t.Fatal(err)
			}
		}
		if got := len(pendingTo(d, "REQUEST")); got != refreshesPerDay {
			t.Errorf("%d invitations re-sent, want %d", got, refreshesPerDay)
		}
		if _, err := d.ApplyRefresh(dana, t0.Add(24*time.Hour)); err != nil || len(pendingTo(d, "REQUEST")) != refreshesPerDay+1 {
			t.Errorf("the next day: %v, %d", err, len(pendingTo(d, "REQUEST")))
		}
	})
	t.Run("held replies: one per sender, at most maxHeldReplies", func(t *testing.T) {
		t.Parallel()
		d := booked()
		for i := 0; i < maxHeldReplies+5; i++ {
			_, err := d.HoldReply(HeldReply{ID: "h" + itoa(i), From: "x" + itoa(i%(maxHeldReplies+1)) + "@example.org", Reply: policy.ReplyAccepted}, t0)
			if i < maxHeldReplies && err != nil {
				t.Fatal(err)
			}
		}
		if len(d.HeldReplies) != maxHeldReplies {
			t.Errorf("%d held, want %d", len(d.HeldReplies), maxHeldReplies)
		}
	})
	t.Run("the same sender's second answer replaces the one held", func(t *testing.T) {
		t.Parallel()
		d := booked()
		for _, answer := range []policy.ReplyStatus{policy.ReplyAccepted, policy.ReplyDeclined} {
			eff, err := d.HoldReply(HeldReply{ID: "h-" + string(answer), From: "fwd@nhs.example", Reply: answer}, t0)
			if err != nil {
				t.Fatal(err)
			}
			if dup := eff.Detail["duplicate"] == true; dup != (answer == policy.ReplyDeclined) {
				t.Errorf("%s: duplicate = %v", answer, dup)
			}
		}
		if len(d.HeldReplies) != 1 || d.HeldReplies[0].Reply != policy.ReplyDeclined || d.HeldReplies[0].Kind != HeldUninvited {
			t.Errorf("held %+v, want one uninvited reply with the newer answer", d.HeldReplies)
		}
	})
	t.Run("an admitted reply joins the list with its answer; a rejected one does not", func(t *testing.T) {
		t.Parallel()
		d := booked()
		for _, h := range []string{"a", "b"} {
			if _, err := d.HoldReply(HeldReply{ID: h, From: h + "@nhs.example", Reply: policy.ReplyAccepted}, t0); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := d.DecideHeldReply("a", true, nil, bso, t0); err != nil {
			t.Fatal(err)
		}
		if _, err := d.DecideHeldReply("b", false, nil, bso, t0); err != nil {
			t.Fatal(err)
		}
		if inv := d.invitee("a@nhs.example"); inv == nil || inv.Reply != policy.ReplyAccepted {
			t.Errorf("admitted: %+v", inv)
		}
		if d.invitee("b@nhs.example") != nil {
			t.Error("a rejected reply was admitted")
		}
		if _, err := d.DecideHeldReply("a", true, nil, bso, t0); code(err) != EPRECONDITION {
			t.Errorf("deciding twice: %v", err)
		}
	})
	t.Run("declining a counter tells the proposer and keeps the note inside Convene", func(t *testing.T) {
		t.Parallel()
		d := booked()
		d.Counters = []Counter{{ID: "k1", From: dana, Status: "pending"}}
		if _, err := d.DeclineCounter("k1", "the chair is away", bso, t0); err != nil {
			t.Fatal(err)
		}
		if d.Counters[0].Status != "declined" || d.Counters[0].Decision != "the chair is away" {
			t.Errorf("counter %+v", d.Counters[0])
		}
		if i := slices.IndexFunc(d.Pending, func(m PendingMessage) bool { return m.Method == "DECLINECOUNTER" }); i < 0 || d.Pending[i].Comment != "" {
			t.Errorf("pending %+v", d.Pending)
		}
		// Outlook ignores DECLINECOUNTER: the unchanged meeting goes too,
		// as a message of its own, not one of the invitations' ids.
		if i := slices.IndexFunc(d.Pending, func(m PendingMessage) bool { return m.Method == "REQUEST" && m.CounterID == "k1" }); i < 0 ||
			d.Pending[i].To != dana || d.Pending[i].ID == d.ID+":REQUEST:"+itoa(d.Sequence)+":"+dana+":0" {
			t.Errorf("pending %+v, want a REQUEST for the declined counter with an id of its own", d.Pending)
		}
		if _, err := d.DeclineCounter("k1", "", bso, t0); code(err) != EPRECONDITION {
			t.Errorf("declining twice: %v", err)
		}
	})
}

func TestMeeting(t *testing.T) {
	t.Parallel()
	met := QuorumReport{Met: true, Summary: "Quorum met."}
	notMet := QuorumReport{Summary: "Quorum not met: police missing.", Actual: policy.Quorum{Requirements: []policy.RequirementStatus{
		{ID: "police", Name: "police", Essential: true, Status: policy.StateMissing}}}}
	for _, tc := range []struct {
		name     string
		d        func() *Discussion
		apply    func(d *Discussion) (Effects, error)
		wantCode string
		check    func(t *testing.T, d *Discussion, eff Effects)
	}{
		{name: "a check-in of the same person twice is one check-in", d: booked,
			apply: func(d *Discussion) (Effects, error) {
				if _, err := d.CheckIn(CheckIn{Email: "Dana@police.example", Name: "dana", Agency: policy.AgencyPolice}, t0); err != nil {
					return Effects{}, err
				}
				left := t0.Add(time.Hour)
				return d.CheckIn(CheckIn{Email: "dana@police.example", Name: "dana", Agency: policy.AgencyPolice, PresentTo: &left}, t0)
			},
			check: func(t *testing.T, d *Discussion, _ Effects) {
				if len(d.CheckIns) != 1 || d.CheckIns[0].PresentTo == nil || d.CheckIns[0].WalkIn {
					t.Errorf("check-ins %+v", d.CheckIns)
				}
			}},
		{name: "walk-ins are each their own check-in", d: booked,
			apply: func(d *Discussion) (Effects, error) {
				if _, err := d.CheckIn(CheckIn{ID: "w1", Name: "A", WalkIn: true}, t0); err != nil {
					return Effects{}, err
				}
				return d.CheckIn(CheckIn{ID: "w2", Name: "B", WalkIn: true}, t0)
			},
			check: func(t *testing.T, d *Discussion, _ Effects) {
				if len(d.CheckIns) != 2 {
					t.Errorf("check-ins %+v", d.CheckIns)
				}
			}},
		{name: "nobody checks in to a discussion not booked", d: fixture,
			apply:    func(d *Discussion) (Effects, error) { return d.CheckIn(CheckIn{ID: "w1", Name: "A"}, t0) },
			wantCode: EPRECONDITION},
		{name: "the chair starts with quorum met", d: booked,
			apply: func(d *Discussion) (Effects, error) { return d.Start(met, "", 15*time.Minute, bso, t0.Add(time.Hour)) },
			check: func(t *testing.T, d *Discussion, _ Effects) {
				if d.Status != StatusInProgress || d.Started == nil || d.Started.Override != "" {
					t.Errorf("status %s started %+v", d.Status, d.Started)
				}
			}},
		// A start more than the margin before the booked time would set
		// every follow-on deadline counting from the wrong moment.
		{name: "starting an hour early needs an override reason", d: booked,
			apply:    func(d *Discussion) (Effects, error) { return d.Start(met, "", 15*time.Minute, bso, t0) },
			wantCode: EPRECONDITION},
		{name: "within the margin it starts, and held_at is when it did", d: booked,
			apply: func(d *Discussion) (Effects, error) {
				return d.Start(met, "", 15*time.Minute, bso, t0.Add(50*time.Minute))
			},
			check: func(t *testing.T, d *Discussion, _ Effects) {
				if !d.Started.At.Equal(t0.Add(50 * time.Minute)) {
					t.Errorf("started at %v", d.Started.At)
				}
			}},
		{name: "without quorum, starting needs an override reason", d: booked,
			apply: func(d *Discussion) (Effects, error) {
				return d.Start(notMet, "", 15*time.Minute, bso, t0.Add(time.Hour))
			},
			wantCode: EPRECONDITION},
		{name: "with an override reason it starts, and what was missing is recorded", d: booked,
			apply: func(d *Discussion) (Effects, error) {
				return d.Start(notMet, "child at immediate risk", 15*time.Minute, bso, t0.Add(time.Hour))
			},
			check: func(t *testing.T, d *Discussion, _ Effects) {
				if d.Started.Override != "child at immediate risk" || !slices.Equal(d.Started.Missing, []string{"police (missing)"}) {
					t.Errorf("started %+v", d.Started)
				}
			}},
		{name: "concluding records the outcome, the follow-ons, and gives the time back",
			d: func() *Discussion {
				d := booked()
				_, _ = d.Start(met, "", 15*time.Minute, bso, t0.Add(time.Hour))
				return d
			},
			apply: func(d *Discussion) (Effects, error) {
				return d.Conclude(Outcome{Outcome: policy.OutcomeS47Enquiry, RecordedBy: bso},
					[]policy.FollowOn{{ID: "RECORD", Due: t0.Add(24 * time.Hour)}}, "", t0)
			},
			check: func(t *testing.T, d *Discussion, eff Effects) {
				if d.Status != StatusConcluded || d.Outcome.Outcome != policy.OutcomeS47Enquiry || len(d.FollowOns) != 1 {
					t.Errorf("status %s outcome %+v follow-ons %+v", d.Status, d.Outcome, d.FollowOns)
				}
				if diff := cmp.Diff([]HoldRelease{{BookingID: "b1"}}, eff.Release); diff != "" {
					t.Errorf("release (-want +got):\n%s", diff)
				}
			}},
		{name: "a deferred outcome links the reconvened discussion",
			d: func() *Discussion {
				d := booked()
				_, _ = d.Start(met, "", 15*time.Minute, bso, t0.Add(time.Hour))
				return d
			},
			apply: func(d *Discussion) (Effects, error) {
				return d.Conclude(Outcome{Outcome: policy.OutcomeDeferred, RecordedBy: bso}, nil, "d2", t0)
			},
			check: func(t *testing.T, d *Discussion, _ Effects) {
				if d.FollowUpID != "d2" {
					t.Errorf("follow-up %q", d.FollowUpID)
				}
			}},
		{name: "an outcome before the start is refused", d: booked,
			apply: func(d *Discussion) (Effects, error) {
				return d.Conclude(Outcome{Outcome: policy.OutcomeS47Enquiry}, nil, "", t0)
			},
			wantCode: EPRECONDITION},
		{name: "the watch flags risk and a breach, and reminds whoever has not answered once", d: booked,
			apply: func(d *Discussion) (Effects, error) {
				return d.Watch(WatchFindings{AtRisk: true, Breach: "the deadline passed", Remind: []string{"nina@nhs.example"}}, t0)
			},
			check: func(t *testing.T, d *Discussion, _ Effects) {
				if !d.AtRisk || d.Breach == nil || d.invitee("nina@nhs.example").RemindedAt == nil {
					t.Errorf("at risk %v breach %+v", d.AtRisk, d.Breach)
				}
				if i := slices.IndexFunc(d.Pending, func(m PendingMessage) bool { return m.Reminder }); i < 0 || d.Pending[i].To != "nina@nhs.example" {
					t.Errorf("pending %+v", d.Pending)
				}
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			d := tc.d()
			eff, err := tc.apply(d)
			if got := code(err); got != tc.wantCode {
				t.Fatalf("code %q, want %q (%v)", got, tc.wantCode, err)
			}
			if tc.check != nil {
				tc.check(t, d, eff)
			}
		})
	}
}

// TestDiff checks that a transition's patch carries what changed and no
// more: a reply rewrites one invitee, never the head.
func TestDiff(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		apply func(d *Discussion)
		check func(t *testing.T, p *DiscussionPatch)
	}{
		{name: "nothing changed, nothing written", apply: func(*Discussion) {},
			check: func(t *testing.T, p *DiscussionPatch) {
				if !p.Empty() {
					t.Errorf("patch %+v", p)
				}
			}},
		{name: "a reply is one invitee and an event, not the head",
			apply: func(d *Discussion) {
				_, _ = d.ApplyReply(Reply{Email: "nina@nhs.example", Answer: policy.ReplyAccepted, Stamp: t0}, t0)
			},
			check: func(t *testing.T, p *DiscussionPatch) {
				if p.Head != nil || len(p.Invitees) != 1 || p.Invitees[0].Index != 3 || p.Invitees[0].Rev != 1 || p.Invitees[0].Value.Rev != 2 {
					t.Errorf("head %v invitees %+v", p.Head != nil, p.Invitees)
				}
				if len(p.Events) != 1 || p.Version != 1 {
					t.Errorf("events %+v version %d", p.Events, p.Version)
				}
			}},
		{name: "a check-in is an appended element",
			apply: func(d *Discussion) { _, _ = d.CheckIn(CheckIn{Email: "nina@nhs.example", Name: "nina"}, t0) },
			check: func(t *testing.T, p *DiscussionPatch) {
				if len(p.CheckIns) != 1 || !p.CheckIns[0].Append || p.CheckIns[0].Value.Rev != 1 || p.Head != nil {
					t.Errorf("check-ins %+v", p.CheckIns)
				}
			}},
		{name: "a start changes the head",
			apply: func(d *Discussion) {
				_, _ = d.Start(QuorumReport{Met: true}, "", 15*time.Minute, bso, t0.Add(time.Hour))
			},
			check: func(t *testing.T, p *DiscussionPatch) {
				if p.Head == nil || p.Head.Status != StatusInProgress || len(p.Head.Invitees) != 0 {
					t.Errorf("head %+v", p.Head)
				}
			}},
		{name: "queued messages are added",
			apply: func(d *Discussion) { _, _ = d.ApplyRefresh("nina@nhs.example", t0) },
			check: func(t *testing.T, p *DiscussionPatch) {
				if len(p.AddPending) != 1 || p.AddPending[0].To != "nina@nhs.example" {
					t.Errorf("pending %+v", p.AddPending)
				}
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			before := booked()
			after := before.Clone()
			tc.apply(after)
			tc.check(t, Diff(before, after, t0))
		})
	}
}

func TestStaleReplyIsTyped(t *testing.T) {
	t.Parallel()
	d := booked()
	if _, err := d.ApplyReply(Reply{Email: "nina@nhs.example", Answer: policy.ReplyAccepted, Stamp: t0.Add(time.Hour)}, t0); err != nil {
		t.Fatal(err)
	}
	_, err := d.ApplyReply(Reply{Email: "nina@nhs.example", Answer: policy.ReplyDeclined, Stamp: t0}, t0)
	var se *Error
	if !errors.As(err, &se) || se.Conflict == nil || !se.Conflict.Stale {
		t.Fatalf("err %v", err)
	}
}
