package storetest

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/convene/convene/service"
	"github.com/convene/convene/service/policy"
)

func testDiscussionRoundTrip(t *testing.T, s service.Store) {
	deadline := T0.Add(72 * time.Hour)
	chair := Invitee("chair@council.example.org", "social_care")
	chair.Chair, chair.Rev = true, 7 // the store sets Rev 1
	d := Discussion("d1", deadline, Invitee("pc@police.example.org", "police"), chair)
	d.Status = service.StatusBooked
	d.Booking = &service.Booking{ID: "b1", Start: deadline.Add(-3 * time.Hour), End: deadline.Add(-2 * time.Hour),
		BookedBy: service.Actor{Subject: "bs1"}, BookedAt: T0}
	d.Breach = &service.Breach{At: T0, Reason: "booked late", Override: true, By: service.Actor{Subject: "bs1"}}
	d.CheckIns = []service.CheckIn{{ID: "c1", Name: "PC Patel", Agency: "police", PresentFrom: T0, RecordedAt: T0}}
	d.Counters = []service.Counter{{ID: "n1", From: "pc@police.example.org", Start: T0, End: T0.Add(time.Hour), ReceivedAt: T0, Status: "pending"}}
	d.HeldReplies = []service.HeldReply{{ID: "h1", From: "fwd@example.org", Reply: policy.ReplyAccepted, ReceivedAt: T0, Status: "held"}}
	d.Pending = []service.PendingMessage{{ID: "d1:REQUEST:0:pc@police.example.org:0", Method: "REQUEST", To: "pc@police.example.org", Comment: "hello"}}
	d.Outbox = []service.MessageRef{{ID: "d1:REQUEST:0:chair@council.example.org:0", Method: "REQUEST", To: "chair@council.example.org"}}
	d.Timeline = append(d.Timeline, service.Event{At: T0, Actor: service.Actor{Subject: "bs1"}, Kind: "booked", Detail: "for Thursday"})
	d.Version = 9 // the store sets Version 1
	mustCreate(t, s, d)
	if d.Version != 1 || d.Invitees[1].Rev != 1 || d.Timeline[1].Seq != 2 {
		t.Errorf("create did not set version 1, rev 1 and seqs: version %d, rev %d, seq %d", d.Version, d.Invitees[1].Rev, d.Timeline[1].Seq)
	}
	got := mustLoad(t, s, "d1")
	if diff := cmp.Diff(d, got, equal); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
	dupID := Discussion("d1", deadline)
	dupID.UID = "another-uid"
	wantCode(t, "a second discussion with the id", s.CreateDiscussion(ctx, dupID), service.ECONFLICT)
	dupUID := Discussion("d2", deadline)
	dupUID.UID = d.UID
	wantCode(t, "a second discussion with the UID", s.CreateDiscussion(ctx, dupUID), service.ECONFLICT)
	_, err := s.Discussion(ctx, "d2")
	wantCode(t, "the refused discussion", err, service.ENOTFOUND)
	// A discussion with nothing in its lists.
	bare := Discussion("d3", deadline)
	bare.Timeline = nil
	mustCreate(t, s, bare)
	if diff := cmp.Diff(bare, mustLoad(t, s, "d3"), equal); diff != "" {
		t.Errorf("bare round trip (-want +got):\n%s", diff)
	}
}

// filterFixture stores four discussions that the filter checks tell apart.
func filterFixture(t *testing.T, s service.Store) time.Time {
	base := time.Date(2026, 12, 1, 17, 0, 0, 0, time.UTC)
	chair := Invitee("chair@council.example.org", "social_care")
	chair.Chair = true
	d1 := Discussion("d1", base.Add(48*time.Hour), Invitee("pc@police.example.org", "police"), chair)
	d2 := Discussion("d2", base, Invitee("nurse@nhs.example.org", "health"))
	d2.Status = service.StatusBooked
	d2.Breach = &service.Breach{Reason: "booked late", Override: true}
	removed := Invitee("pc@police.example.org", "police")
	removed.Removed = true
	d3 := Discussion("d3", base.Add(24*time.Hour), removed, Invitee("teacher@school.example.org", "education"))
	d3.Status, d3.AtRisk, d3.CaseReference = service.StatusConcluded, true, "CR-shared"
	d3.FollowOnBreach = &service.Breach{At: base, Reason: "ICPC: the conference was not held by its deadline"}
	d4 := Discussion("d4", base.Add(72*time.Hour), Invitee("pc@police.example.org", "police"))
	d4.Status, d4.CaseReference = service.StatusCancelled, "CR-shared"
	mustCreate(t, s, d1, d2, d3, d4)
	return base
}

func testDiscussionFilters(t *testing.T, s service.Store) {
	base := filterFixture(t, s)
	yes, no := true, false
	for _, tt := range []struct {
		name string
		f    service.DiscussionFilter
		want []string
	}{
		{"all, by deadline", service.DiscussionFilter{}, []string{"d2", "d3", "d1", "d4"}},
		{"visible to (not where removed)", service.DiscussionFilter{VisibleTo: "pc@police.example.org"}, []string{"d1", "d4"}},
		{"visible to, proposed", service.DiscussionFilter{VisibleTo: "pc@police.example.org", Status: []service.DiscussionStatus{service.StatusProposed}}, []string{"d1"}},
		{"visible to, after a cursor", service.DiscussionFilter{VisibleTo: "pc@police.example.org", AfterDeadline: base.Add(48 * time.Hour), AfterID: "d1"}, []string{"d4"}},
		{"visible to nobody", service.DiscussionFilter{VisibleTo: "stranger@example.org"}, nil},
		{"visible to, statuses", service.DiscussionFilter{VisibleTo: "pc@police.example.org",
			Status: []service.DiscussionStatus{service.StatusCancelled, service.StatusProposed, service.StatusBooked}}, []string{"d1", "d4"}},
		{"visible to, statuses, limit", service.DiscussionFilter{VisibleTo: "pc@police.example.org",
			Status: []service.DiscussionStatus{service.StatusCancelled, service.StatusProposed}, Limit: 1}, []string{"d1"}},
		{"visible to, statuses after a cursor", service.DiscussionFilter{VisibleTo: "pc@police.example.org",
			Status: []service.DiscussionStatus{service.StatusCancelled, service.StatusProposed}, AfterDeadline: base.Add(48 * time.Hour), AfterID: "d1"}, []string{"d4"}},
		{"visible to, statuses, deadline from", service.DiscussionFilter{VisibleTo: "pc@police.example.org",
			Status: []service.DiscussionStatus{service.StatusCancelled, service.StatusProposed}, DeadlineFrom: base.Add(49 * time.Hour)}, []string{"d4"}},
		{"visible to, due before", service.DiscussionFilter{VisibleTo: "pc@police.example.org", DueBefore: base.Add(49 * time.Hour)}, []string{"d1"}},
		{"chaired by", service.DiscussionFilter{ChairEmail: "chair@council.example.org"}, []string{"d1"}},
		{"agency health", service.DiscussionFilter{Agency: "health"}, []string{"d2"}},
		{"agency police (not where removed)", service.DiscussionFilter{Agency: "police"}, []string{"d1", "d4"}},
		{"breached", service.DiscussionFilter{Breached: &yes}, []string{"d2"}},
		{"not breached", service.DiscussionFilter{Breached: &no}, []string{"d3", "d1", "d4"}},
		{"at risk", service.DiscussionFilter{AtRisk: &yes}, []string{"d3"}},
		{"not at risk", service.DiscussionFilter{AtRisk: &no}, []string{"d2", "d1", "d4"}},
		{"follow-on breached", service.DiscussionFilter{FollowOnBreach: &yes}, []string{"d3"}},
		{"follow-on not breached", service.DiscussionFilter{FollowOnBreach: &no}, []string{"d2", "d1", "d4"}},
		{"follow-on breached, statuses", service.DiscussionFilter{FollowOnBreach: &yes,
			Status: []service.DiscussionStatus{service.StatusConcluded, service.StatusCancelled}}, []string{"d3"}},
		{"follow-on breached, visible to", service.DiscussionFilter{FollowOnBreach: &yes, VisibleTo: "teacher@school.example.org"}, []string{"d3"}},
		{"follow-on breached, not visible to", service.DiscussionFilter{FollowOnBreach: &yes, VisibleTo: "pc@police.example.org"}, nil},
		{"due before", service.DiscussionFilter{DueBefore: base.Add(25 * time.Hour)}, []string{"d2", "d3"}},
		{"after a cursor", service.DiscussionFilter{AfterDeadline: base, AfterID: "d2"}, []string{"d3", "d1", "d4"}},
		{"status", service.DiscussionFilter{Status: []service.DiscussionStatus{service.StatusBooked}}, []string{"d2"}},
		{"no such status", service.DiscussionFilter{Status: []service.DiscussionStatus{service.StatusInProgress}}, nil},
		{"statuses", service.DiscussionFilter{Status: []service.DiscussionStatus{service.StatusCancelled, service.StatusProposed, service.StatusConcluded}}, []string{"d3", "d1", "d4"}},
		{"statuses after a cursor", service.DiscussionFilter{Status: []service.DiscussionStatus{service.StatusCancelled, service.StatusProposed, service.StatusConcluded},
			AfterDeadline: base.Add(24 * time.Hour), AfterID: "d3"}, []string{"d1", "d4"}},
		{"statuses, limit", service.DiscussionFilter{Status: []service.DiscussionStatus{service.StatusCancelled, service.StatusBooked, service.StatusConcluded}, Limit: 2}, []string{"d2", "d3"}},
		{"case reference", service.DiscussionFilter{CaseReference: "CR-shared"}, []string{"d3", "d4"}},
		{"case reference and status", service.DiscussionFilter{CaseReference: "CR-shared", Status: []service.DiscussionStatus{service.StatusCancelled}}, []string{"d4"}},
		{"limit", service.DiscussionFilter{Limit: 2}, []string{"d2", "d3"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := tt.f
			if f.Limit == 0 {
				f.Limit = 10
			}
			ds, err := s.Discussions(ctx, f)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, ids(ds)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
	// A follow-on missed later (a head patch) flags the discussion in
	// the list; clearing it unflags it.
	d1 := mustLoad(t, s, "d1")
	h := d1.Clone()
	h.FollowOnBreach = &service.Breach{At: base, Reason: "S47: the enquiry was not completed by its deadline"}
	mustPatch(t, s, &service.DiscussionPatch{ID: "d1", Version: d1.Version, Head: h, At: base})
	flagged, err := s.Discussions(ctx, service.DiscussionFilter{FollowOnBreach: &yes, Limit: 10})
	if err != nil || !slices.Equal(ids(flagged), []string{"d3", "d1"}) {
		t.Errorf("follow-on breached after a patch: %v %v, want [d3 d1]", ids(flagged), err)
	}
	d1 = mustLoad(t, s, "d1")
	if d1.FollowOnBreach == nil || d1.FollowOnBreach.Reason == "" {
		t.Errorf("the flag did not round-trip: %+v", d1.FollowOnBreach)
	}
	h = d1.Clone()
	h.FollowOnBreach = nil
	mustPatch(t, s, &service.DiscussionPatch{ID: "d1", Version: d1.Version, Head: h, At: base})
	if flagged, err = s.Discussions(ctx, service.DiscussionFilter{FollowOnBreach: &yes, Limit: 10}); err != nil || !slices.Equal(ids(flagged), []string{"d3"}) {
		t.Errorf("follow-on breached after clearing: %v %v, want [d3]", ids(flagged), err)
	}

	// A listed discussion is whole, as loaded on its own.
	ds, err := s.Discussions(ctx, service.DiscussionFilter{CaseReference: "CR-d1", Limit: 10})
	if err != nil || len(ds) != 1 {
		t.Fatalf("list d1: %v %v", ids(ds), err)
	}
	if diff := cmp.Diff(mustLoad(t, s, "d1"), &ds[0], equal); diff != "" {
		t.Errorf("listed against loaded (-want +got):\n%s", diff)
	}
}

func testDiscussionPaging(t *testing.T, s service.Store) {
	base := time.Date(2027, 1, 4, 12, 0, 0, 0, time.UTC)
	var all []*service.Discussion
	for i := range 30 {
		// Deadlines in threes, so pages break between equal deadlines.
		d := Discussion(fmt.Sprintf("d%02d", 29-i), base.Add(time.Duration(i/3)*time.Hour), Invitee("any@example.org", "police"))
		d.Status = service.DiscussionStatuses[i%len(service.DiscussionStatuses)]
		if i%4 == 0 {
			d.Invitees = append(d.Invitees, Invitee("some@example.org", "health"))
		}
		all = append(all, d)
	}
	mustCreate(t, s, all...)
	slices.SortFunc(all, func(a, b *service.Discussion) int {
		if c := a.Deadline.Compare(b.Deadline); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	for _, tt := range []struct {
		name string
		f    service.DiscussionFilter
		keep func(*service.Discussion) bool
	}{
		{"all", service.DiscussionFilter{}, func(*service.Discussion) bool { return true }},
		{"two statuses", service.DiscussionFilter{Status: []service.DiscussionStatus{service.StatusBooked, service.StatusConcluded}},
			func(d *service.Discussion) bool {
				return d.Status == service.StatusBooked || d.Status == service.StatusConcluded
			}},
		{"visible to", service.DiscussionFilter{VisibleTo: "some@example.org"}, func(d *service.Discussion) bool { return len(d.Invitees) == 2 }},
		{"agency", service.DiscussionFilter{Agency: "health"}, func(d *service.Discussion) bool { return len(d.Invitees) == 2 }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var want, got []string
			for _, d := range all {
				if tt.keep(d) {
					want = append(want, d.ID)
				}
			}
			f := tt.f
			f.Limit = 4
			for range 20 {
				page, err := s.Discussions(ctx, f)
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, ids(page)...)
				if len(page) < f.Limit {
					break
				}
				last := page[len(page)-1]
				f.AfterDeadline, f.AfterID = last.Deadline, last.ID
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("pages of 4 (-want +got):\n%s", diff)
			}
		})
	}
}

func list(t *testing.T, s service.Store, f service.DiscussionFilter) []string {
	t.Helper()
	f.Limit = 10
	ds, err := s.Discussions(ctx, f)
	if err != nil {
		t.Fatal(err)
	}
	return ids(ds)
}

func testMembersFollowRemoved(t *testing.T, s service.Store) {
	chair := Invitee("chair@council.example.org", "social_care")
	chair.Chair = true
	mustCreate(t, s, Discussion("d1", T0.Add(72*time.Hour), Invitee("pc@police.example.org", "police"), chair))
	check := func(when string, f service.DiscussionFilter, want ...string) {
		t.Helper()
		if diff := cmp.Diff(want, list(t, s, f)); diff != "" {
			t.Errorf("%s, %+v (-want +got):\n%s", when, f, diff)
		}
	}
	check("at first", service.DiscussionFilter{VisibleTo: "pc@police.example.org"}, "d1")
	check("at first", service.DiscussionFilter{Agency: "police"}, "d1")
	check("at first", service.DiscussionFilter{ChairEmail: "chair@council.example.org"}, "d1")

	before := mustLoad(t, s, "d1")
	after := before.Clone()
	after.Invitees[0].Removed = true
	mustPatch(t, s, service.Diff(before, after, T0))
	check("removed", service.DiscussionFilter{VisibleTo: "pc@police.example.org"})
	check("removed", service.DiscussionFilter{Agency: "police"})
	check("removed", service.DiscussionFilter{VisibleTo: "chair@council.example.org"}, "d1")

	// A new chair joins and the old one steps down, in one change.
	before = mustLoad(t, s, "d1")
	after = before.Clone()
	after.Invitees[1].Chair = false
	newChair := Invitee("head@council.example.org", "education")
	newChair.Chair = true
	after.Invitees = append(after.Invitees, newChair)
	mustPatch(t, s, service.Diff(before, after, T0))
	check("chair changed", service.DiscussionFilter{ChairEmail: "chair@council.example.org"})
	check("chair changed", service.DiscussionFilter{ChairEmail: "head@council.example.org"}, "d1")
	check("chair changed", service.DiscussionFilter{VisibleTo: "head@council.example.org"}, "d1")
	check("chair changed", service.DiscussionFilter{Agency: "education"}, "d1")

	// Back again, and a deadline change carries the members along.
	before = mustLoad(t, s, "d1")
	after = before.Clone()
	after.Invitees[0].Removed = false
	after.Deadline = T0.Add(24 * time.Hour)
	mustPatch(t, s, service.Diff(before, after, T0))
	check("restored", service.DiscussionFilter{VisibleTo: "pc@police.example.org"}, "d1")
	check("restored", service.DiscussionFilter{VisibleTo: "pc@police.example.org", DueBefore: T0.Add(25 * time.Hour)}, "d1")
	check("restored", service.DiscussionFilter{VisibleTo: "pc@police.example.org", AfterDeadline: T0.Add(24 * time.Hour), AfterID: "d1"})
	check("restored", service.DiscussionFilter{Agency: "police"}, "d1")

	// A status change carries the members along (one person's list of a
	// status).
	open := []service.DiscussionStatus{service.StatusProposed, service.StatusBooked}
	check("restored", service.DiscussionFilter{VisibleTo: "pc@police.example.org", Status: open}, "d1")
	before = mustLoad(t, s, "d1")
	after = before.Clone()
	after.Status = service.StatusCancelled
	mustPatch(t, s, service.Diff(before, after, T0))
	check("cancelled", service.DiscussionFilter{VisibleTo: "pc@police.example.org", Status: open})
	check("cancelled", service.DiscussionFilter{VisibleTo: "pc@police.example.org", Status: []service.DiscussionStatus{service.StatusCancelled}}, "d1")
	// A member who joins later is listed by the discussion's status.
	before = mustLoad(t, s, "d1")
	after = before.Clone()
	after.Invitees = append(after.Invitees, Invitee("late@nhs.example.org", "health"))
	mustPatch(t, s, service.Diff(before, after, T0))
	check("joined late", service.DiscussionFilter{VisibleTo: "late@nhs.example.org", Status: []service.DiscussionStatus{service.StatusCancelled}}, "d1")
	check("joined late", service.DiscussionFilter{VisibleTo: "late@nhs.example.org", Status: open})
}

func elem[T any](i int, key string, rev int64, v T) []service.Element[T] {
	return []service.Element[T]{{Index: i, Key: key, Rev: rev, Value: v}}
}

func appended[T any](i int, key string, v T) []service.Element[T] {
	return []service.Element[T]{{Index: i, Key: key, Append: true, Value: v}}
}

func testPatchGuards(t *testing.T, s service.Store) {
	pc, sw := "pc@police.example.org", "sw@council.example.org"
	for _, tt := range []struct {
		name string
		// first, when set, is applied before the patch under test, both
		// made from the discussion as loaded at the start.
		first func(d *service.Discussion) *service.DiscussionPatch
		patch func(d *service.Discussion) *service.DiscussionPatch
		code  string
	}{
		{"stale version", func(d *service.Discussion) *service.DiscussionPatch {
			h := d.Clone()
			h.Status = service.StatusCancelled
			return &service.DiscussionPatch{ID: d.ID, Version: d.Version, Head: h, At: T0}
		}, func(d *service.Discussion) *service.DiscussionPatch {
			return reply(t, d, pc, policy.ReplyAccepted, T0)
		}, service.ECONFLICT},
		{"stale head", func(d *service.Discussion) *service.DiscussionPatch {
			h := d.Clone()
			h.Status = service.StatusCancelled
			return &service.DiscussionPatch{ID: d.ID, Version: d.Version, Head: h, At: T0}
		}, func(d *service.Discussion) *service.DiscussionPatch {
			h := d.Clone()
			h.AtRisk = true
			return &service.DiscussionPatch{ID: d.ID, Version: d.Version, Head: h, At: T0}
		}, service.ECONFLICT},
		{"stale rev", func(d *service.Discussion) *service.DiscussionPatch {
			return reply(t, d, pc, policy.ReplyAccepted, T0)
		}, func(d *service.Discussion) *service.DiscussionPatch {
			return reply(t, d, pc, policy.ReplyDeclined, T0)
		}, service.ECONFLICT},
		{"wrong key", nil, func(d *service.Discussion) *service.DiscussionPatch {
			v := d.Invitees[0]
			v.Comment = "x"
			return &service.DiscussionPatch{ID: d.ID, Version: d.Version, Invitees: elem(0, sw, 1, v), At: T0}
		}, service.ECONFLICT},
		{"no element at the index", nil, func(d *service.Discussion) *service.DiscussionPatch {
			v := Invitee("ghost@example.org", "police")
			return &service.DiscussionPatch{ID: d.ID, Version: d.Version, Invitees: elem(7, "ghost@example.org", 1, v), At: T0}
		}, service.ECONFLICT},
		{"append a key in the list", nil, func(d *service.Discussion) *service.DiscussionPatch {
			return &service.DiscussionPatch{ID: d.ID, Version: d.Version, Invitees: appended(2, sw, Invitee(sw, "social_care")), At: T0}
		}, service.ECONFLICT},
		{"append the key of a removed invitee", func(d *service.Discussion) *service.DiscussionPatch {
			v := d.Invitees[0]
			v.Removed = true
			return &service.DiscussionPatch{ID: d.ID, Version: d.Version, Invitees: elem(0, pc, 1, v), At: T0}
		}, func(d *service.Discussion) *service.DiscussionPatch {
			return &service.DiscussionPatch{ID: d.ID, Version: d.Version, Invitees: appended(2, pc, Invitee(pc, "police")), At: T0}
		}, service.ECONFLICT},
		{"append one key twice", nil, func(d *service.Discussion) *service.DiscussionPatch {
			c := service.CheckIn{ID: "c1", Name: "PC", PresentFrom: T0}
			return &service.DiscussionPatch{ID: d.ID, Version: d.Version, CheckIns: append(appended(0, "c1", c), appended(1, "c1", c)...), At: T0}
		}, service.ECONFLICT},
		{"append a check-in already appended", func(d *service.Discussion) *service.DiscussionPatch {
			return &service.DiscussionPatch{ID: d.ID, Version: d.Version, CheckIns: appended(0, "c1", service.CheckIn{ID: "c1", PresentFrom: T0}), At: T0}
		}, func(d *service.Discussion) *service.DiscussionPatch {
			return &service.DiscussionPatch{ID: d.ID, Version: d.Version, CheckIns: appended(0, "c1", service.CheckIn{ID: "c1", PresentFrom: T0}), At: T0}
		}, service.ECONFLICT},
		{"pending added twice", func(d *service.Discussion) *service.DiscussionPatch {
			return &service.DiscussionPatch{ID: d.ID, Version: d.Version, AddPending: []service.PendingMessage{{ID: "m1", Method: "REQUEST", To: pc}}, At: T0}
		}, func(d *service.Discussion) *service.DiscussionPatch {
			return &service.DiscussionPatch{ID: d.ID, Version: d.Version, AddPending: []service.PendingMessage{{ID: "m1", Method: "REQUEST", To: pc}}, At: T0}
		}, service.ECONFLICT},
		{"moving a message not pending", nil, func(d *service.Discussion) *service.DiscussionPatch {
			return &service.DiscussionPatch{ID: d.ID, Version: d.Version, MovedPending: []service.MessageRef{{ID: "m9", Method: "REQUEST", To: pc}}, At: T0}
		}, service.ECONFLICT},
		{"all or nothing", nil, func(d *service.Discussion) *service.DiscussionPatch {
			// Head, a good reply, an event, a pending message, a check-in:
			// and one stale invitee, so none of it may land.
			p := reply(t, d, pc, policy.ReplyAccepted, T0)
			p.Head = d.Clone()
			p.Head.Status = service.StatusBooked
			p.AddPending = []service.PendingMessage{{ID: "m1", Method: "REQUEST", To: pc}}
			p.CheckIns = appended(0, "c1", service.CheckIn{ID: "c1", PresentFrom: T0})
			v := d.Invitees[1]
			v.Comment = "stale"
			p.Invitees = append(p.Invitees, elem(1, sw, 5, v)...)
			return p
		}, service.ECONFLICT},
		{"no such discussion", nil, func(d *service.Discussion) *service.DiscussionPatch {
			p := reply(t, d, pc, policy.ReplyAccepted, T0)
			p.ID = "missing"
			return p
		}, service.ENOTFOUND},
	} {
		t.Run(tt.name, func(t *testing.T) {
			id := strings.ReplaceAll(tt.name, " ", "-")
			mustCreate(t, s, Discussion(id, T0.Add(72*time.Hour), Invitee(pc, "police"), Invitee(sw, "social_care")))
			d := mustLoad(t, s, id)
			if tt.first != nil {
				mustPatch(t, s, tt.first(d))
			}
			before := mustLoad(t, s, id)
			wantCode(t, "the patch", s.PatchDiscussion(ctx, tt.patch(d)), tt.code)
			if diff := cmp.Diff(before, mustLoad(t, s, id), equal); diff != "" {
				t.Errorf("a refused patch changed the discussion (-before +after):\n%s", diff)
			}
		})
	}
}

func testPatchVersionAndRevs(t *testing.T, s service.Store) {
	pc, sw := "pc@police.example.org", "sw@council.example.org"
	mustCreate(t, s, Discussion("d1", T0.Add(72*time.Hour), Invitee(pc, "police"), Invitee(sw, "social_care")))
	d := mustLoad(t, s, "d1")

	at := T0.Add(time.Minute)
	mustPatch(t, s, reply(t, d, pc, policy.ReplyAccepted, at))
	got := mustLoad(t, s, "d1")
	if got.Version != 1 || got.Invitees[0].Rev != 2 || got.Invitees[1].Rev != 1 || !got.UpdatedAt.Equal(at) {
		t.Errorf("after a reply: version %d, revs %d %d, updated %v; want 1, 2 1, %v", got.Version, got.Invitees[0].Rev, got.Invitees[1].Rev, got.UpdatedAt, at)
	}
	if got.Invitees[0].Reply != policy.ReplyAccepted {
		t.Errorf("reply = %q", got.Invitees[0].Reply)
	}

	at = at.Add(time.Minute)
	h := got.Clone()
	h.Status, h.AtRisk = service.StatusBooked, true
	mustPatch(t, s, &service.DiscussionPatch{ID: "d1", Version: got.Version, Head: h, At: at})
	got = mustLoad(t, s, "d1")
	if got.Version != 2 || got.Status != service.StatusBooked || !got.AtRisk || got.Invitees[0].Rev != 2 || !got.UpdatedAt.Equal(at) {
		t.Errorf("after a head patch: version %d status %s at risk %v rev %d updated %v", got.Version, got.Status, got.AtRisk, got.Invitees[0].Rev, got.UpdatedAt)
	}
	if got.Invitees[0].Reply != policy.ReplyAccepted || len(got.Invitees) != 2 {
		t.Errorf("a head patch touched the invitees: %+v", got.Invitees)
	}

	mustPatch(t, s, &service.DiscussionPatch{ID: "d1", Version: got.Version, Events: []service.Event{{At: at, Kind: "note"}}, At: at})
	if got = mustLoad(t, s, "d1"); got.Version != 2 || len(got.Timeline) != 3 {
		t.Errorf("after an events-only patch: version %d, %d events; want 2, 3", got.Version, len(got.Timeline))
	}
}

func testPatchAppendsAtEnd(t *testing.T, s service.Store) {
	mustCreate(t, s, Discussion("d1", T0.Add(72*time.Hour), Invitee("a@example.org", "police"), Invitee("b@example.org", "health")))
	d := mustLoad(t, s, "d1")
	// Two appends made from the same load, each at the index it had in
	// memory (0 and 2): both land, at the end, in order.
	mustPatch(t, s, &service.DiscussionPatch{ID: "d1", Version: d.Version, Invitees: appended(0, "c@example.org", Invitee("c@example.org", "education")), At: T0})
	mustPatch(t, s, &service.DiscussionPatch{ID: "d1", Version: d.Version, Invitees: appended(2, "d@example.org", Invitee("d@example.org", "police")), At: T0})
	for i := range 3 {
		id := fmt.Sprintf("c%d", i)
		mustPatch(t, s, &service.DiscussionPatch{ID: "d1", Version: d.Version, CheckIns: appended(0, id, service.CheckIn{ID: id, PresentFrom: T0}), At: T0})
	}
	got := mustLoad(t, s, "d1")
	var emails, checkIns []string
	for _, inv := range got.Invitees {
		emails = append(emails, fmt.Sprintf("%s@%d", inv.Email, inv.Rev))
	}
	for _, c := range got.CheckIns {
		checkIns = append(checkIns, fmt.Sprintf("%s@%d", c.ID, c.Rev))
	}
	if diff := cmp.Diff([]string{"a@example.org@1", "b@example.org@1", "c@example.org@1", "d@example.org@1"}, emails); diff != "" {
		t.Errorf("invitees (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"c0@1", "c1@1", "c2@1"}, checkIns); diff != "" {
		t.Errorf("check-ins (-want +got):\n%s", diff)
	}
	// The appended ones are elements like any other: index 3 is d.
	v := got.Invitees[3]
	v.Reply = policy.ReplyAccepted
	mustPatch(t, s, &service.DiscussionPatch{ID: "d1", Version: got.Version, Invitees: elem(3, "d@example.org", 1, v), At: T0})
	if got = mustLoad(t, s, "d1"); got.Invitees[3].Reply != policy.ReplyAccepted || got.Invitees[3].Rev != 2 {
		t.Errorf("update of an appended invitee: %+v", got.Invitees[3])
	}
	if list(t, s, service.DiscussionFilter{VisibleTo: "d@example.org"}) == nil {
		t.Errorf("an appended invitee does not see the discussion")
	}
}

// testPatchUpdateAndAppendOneList is a delegation: one invitee changes and
// their delegate is appended to the same list in one patch, while another
// patch made from the same load appended someone else first.
func testPatchUpdateAndAppendOneList(t *testing.T, s service.Store) {
	mustCreate(t, s, Discussion("d1", T0.Add(72*time.Hour), Invitee("a@example.org", "police"), Invitee("b@example.org", "health")))
	d := mustLoad(t, s, "d1")
	mustPatch(t, s, &service.DiscussionPatch{ID: "d1", Version: d.Version, Invitees: appended(2, "x@example.org", Invitee("x@example.org", "police")), At: T0})

	after := d.Clone()
	after.Invitees[0].Reply, after.Invitees[0].DelegatedTo = policy.ReplyDelegated, "del@example.org"
	delegate := Invitee("del@example.org", "police")
	delegate.DelegatedFrom = "a@example.org"
	after.Invitees = append(after.Invitees, delegate)
	p := service.Diff(d, after, T0)
	if len(p.Invitees) != 2 || p.Invitees[0].Append || !p.Invitees[1].Append {
		t.Fatalf("Diff made %+v, want an update and an append", p.Invitees)
	}
	mustPatch(t, s, p)
	got := mustLoad(t, s, "d1")
	var emails []string
	for _, inv := range got.Invitees {
		emails = append(emails, fmt.Sprintf("%s@%d", inv.Email, inv.Rev))
	}
	if diff := cmp.Diff([]string{"a@example.org@2", "b@example.org@1", "x@example.org@1", "del@example.org@1"}, emails); diff != "" {
		t.Errorf("invitees (-want +got):\n%s", diff)
	}
	if got.Invitees[0].DelegatedTo != "del@example.org" || got.Invitees[3].DelegatedFrom != "a@example.org" {
		t.Errorf("delegation not stored: %+v", got.Invitees)
	}
	if diff := cmp.Diff([]string{"d1"}, list(t, s, service.DiscussionFilter{VisibleTo: "del@example.org"})); diff != "" {
		t.Errorf("the delegate's list (-want +got):\n%s", diff)
	}
	// The same again from the old load: a's revision has moved on.
	wantCode(t, "the delegation again", s.PatchDiscussion(ctx, service.Diff(d, after, T0)), service.ECONFLICT)
}

// testPatchFromDiff applies a transition of every kind as the domain
// computes it and reads back exactly the changed discussion.
func testPatchFromDiff(t *testing.T, s service.Store) {
	pc, sw := "pc@police.example.org", "sw@council.example.org"
	mustCreate(t, s, Discussion("d1", T0.Add(72*time.Hour), Invitee(pc, "police"), Invitee(sw, "social_care")))
	before := mustLoad(t, s, "d1")
	after := before.Clone()
	at := T0.Add(time.Hour)
	after.Status = service.StatusBooked
	after.Booking = &service.Booking{ID: "b1", Start: T0.Add(48 * time.Hour), End: T0.Add(49 * time.Hour), BookedBy: service.Actor{Subject: "bs1"}, BookedAt: at}
	after.Sequence = 1
	after.Invitees[1].Reply, after.Invitees[1].RepliedAt = policy.ReplyTentative, &at
	after.Invitees = append(after.Invitees, Invitee("nurse@nhs.example.org", "health"))
	after.CheckIns = append(after.CheckIns, service.CheckIn{ID: "c1", Name: "PC", PresentFrom: at, RecordedAt: at})
	after.Counters = append(after.Counters, service.Counter{ID: "n1", From: sw, Start: at, End: at.Add(time.Hour), ReceivedAt: at, Status: "pending"})
	after.HeldReplies = append(after.HeldReplies, service.HeldReply{ID: "h1", From: "fwd@example.org", Reply: policy.ReplyAccepted, ReceivedAt: at, Status: "held"})
	after.Timeline = append(after.Timeline, service.Event{At: at, Kind: "booked"}, service.Event{At: at, Kind: "reply", Detail: sw})
	after.Pending = append(after.Pending, service.PendingMessage{ID: "d1:REQUEST:1:" + pc + ":0", Method: "REQUEST", To: pc, Sequence: 1})
	p := service.Diff(before, after, at)
	if p.Head == nil || len(p.Invitees) != 2 || len(p.Events) != 2 || len(p.AddPending) != 1 {
		t.Fatalf("Diff: %+v", p)
	}
	mustPatch(t, s, p)
	want := after
	want.Version, want.UpdatedAt = before.Version+1, at
	for i := range want.Timeline {
		want.Timeline[i].Seq = int64(i + 1)
	}
	if diff := cmp.Diff(want, mustLoad(t, s, "d1"), equal); diff != "" {
		t.Errorf("after the patch (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"d1"}, list(t, s, service.DiscussionFilter{Status: []service.DiscussionStatus{service.StatusBooked}})); diff != "" {
		t.Errorf("by the new status (-want +got):\n%s", diff)
	}
}

func testEventsAndTimelineWindow(t *testing.T, s service.Store) {
	mustCreate(t, s, Discussion("d1", T0.Add(72*time.Hour), Invitee("a@example.org", "police")))
	n := service.TimelineWindow + 5
	var evs []service.Event
	for i := range n - 1 {
		evs = append(evs, service.Event{At: T0.Add(time.Duration(i) * time.Second), Kind: fmt.Sprintf("e%d", i+2)})
	}
	// In two patches, the second one made from the same load.
	d := mustLoad(t, s, "d1")
	mustPatch(t, s, &service.DiscussionPatch{ID: "d1", Version: d.Version, Events: evs[:10], At: T0})
	mustPatch(t, s, &service.DiscussionPatch{ID: "d1", Version: d.Version, Events: evs[10:], At: T0})

	seqs := func(evs []service.Event) (first, last int64, ok bool) {
		if len(evs) == 0 {
			return 0, 0, true
		}
		for i, e := range evs {
			if e.Kind != fmt.Sprintf("e%d", e.Seq) && e.Seq != 1 {
				t.Errorf("event %d: seq %d kind %s", i, e.Seq, e.Kind)
				return 0, 0, false
			}
			if i > 0 && e.Seq != evs[i-1].Seq+1 && e.Seq != evs[i-1].Seq-1 {
				t.Errorf("event %d: seq %d after %d", i, e.Seq, evs[i-1].Seq)
				return 0, 0, false
			}
		}
		return evs[0].Seq, evs[len(evs)-1].Seq, true
	}
	got := mustLoad(t, s, "d1")
	if first, last, ok := seqs(got.Timeline); !ok || len(got.Timeline) != service.TimelineWindow || first != int64(n-service.TimelineWindow+1) || last != int64(n) {
		t.Errorf("loaded timeline: %d events, seq %d…%d; want %d, %d…%d", len(got.Timeline), first, last, service.TimelineWindow, n-service.TimelineWindow+1, n)
	}
	ds, err := s.Discussions(ctx, service.DiscussionFilter{Limit: 1})
	if err != nil || len(ds) != 1 || len(ds[0].Timeline) != service.TimelineWindow || ds[0].Timeline[0].Seq != int64(n-service.TimelineWindow+1) {
		t.Errorf("listed timeline: %v", err)
	}
	for _, tt := range []struct {
		name        string
		before      int64
		limit       int
		first, last int64
	}{
		{"newest", 0, 10, int64(n), int64(n - 9)},
		{"before 7", 7, 100, 6, 1},
		{"before 2", 2, 10, 1, 1},
		{"before 1", 1, 10, 0, 0},
		{"the window's predecessors", int64(n - service.TimelineWindow + 1), 50, int64(n - service.TimelineWindow), 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			evs, err := s.Timeline(ctx, "d1", tt.before, tt.limit)
			if err != nil {
				t.Fatal(err)
			}
			if first, last, ok := seqs(evs); !ok || first != tt.first || last != tt.last {
				t.Errorf("seq %d…%d (%d events), want %d…%d", first, last, len(evs), tt.first, tt.last)
			}
		})
	}
	_, err = s.Timeline(ctx, "missing", 0, 10)
	wantCode(t, "timeline of a missing discussion", err, service.ENOTFOUND)
}

func testMovedPending(t *testing.T, s service.Store) {
	ref := func(id string) service.MessageRef {
		return service.MessageRef{ID: id, Method: "REQUEST", To: "a@example.org"}
	}
	pm := func(id string) service.PendingMessage {
		return service.PendingMessage{ID: id, Method: "REQUEST", To: "a@example.org", Comment: "c-" + id}
	}
	d := Discussion("d1", T0.Add(72*time.Hour), Invitee("a@example.org", "police"))
	d.Pending = []service.PendingMessage{pm("m1")}
	mustCreate(t, s, d, Discussion("d2", T0.Add(96*time.Hour)))
	pending := func(want ...string) {
		t.Helper()
		ds, err := s.DiscussionsWithPending(ctx, 10)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, ids(ds)); diff != "" {
			t.Errorf("discussions with pending messages (-want +got):\n%s", diff)
		}
	}
	pending("d1")
	mustPatch(t, s, &service.DiscussionPatch{ID: "d1", Version: 1, AddPending: []service.PendingMessage{pm("m2"), pm("m3")}, At: T0})
	mustPatch(t, s, &service.DiscussionPatch{ID: "d1", Version: 1, MovedPending: []service.MessageRef{ref("m2")}, At: T0})
	got := mustLoad(t, s, "d1")
	if diff := cmp.Diff([]service.PendingMessage{pm("m1"), pm("m3")}, got.Pending, equal); diff != "" {
		t.Errorf("pending after moving m2 (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]service.MessageRef{ref("m2")}, got.Outbox, equal); diff != "" {
		t.Errorf("outbox after moving m2 (-want +got):\n%s", diff)
	}
	wantCode(t, "moving m2 again", s.PatchDiscussion(ctx, &service.DiscussionPatch{ID: "d1", Version: 1, MovedPending: []service.MessageRef{ref("m2")}, At: T0}), service.ECONFLICT)
	// Several moved at once, as a booking's invitations are.
	mustPatch(t, s, &service.DiscussionPatch{ID: "d1", Version: 1, AddPending: []service.PendingMessage{pm("m5"), pm("m6")}, At: T0})
	mustPatch(t, s, &service.DiscussionPatch{ID: "d1", Version: 1, MovedPending: []service.MessageRef{ref("m5"), ref("m6")}, At: T0})
	got = mustLoad(t, s, "d1")
	if diff := cmp.Diff([]service.PendingMessage{pm("m1"), pm("m3")}, got.Pending, equal); diff != "" {
		t.Errorf("pending after moving m5 and m6 (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]service.MessageRef{ref("m2"), ref("m5"), ref("m6")}, got.Outbox, equal); diff != "" {
		t.Errorf("outbox after moving m5 and m6 (-want +got):\n%s", diff)
	}
	// Adding and moving in one patch.
	mustPatch(t, s, &service.DiscussionPatch{ID: "d1", Version: 1, AddPending: []service.PendingMessage{pm("m4")}, MovedPending: []service.MessageRef{ref("m3"), ref("m1")}, At: T0})
	got = mustLoad(t, s, "d1")
	if diff := cmp.Diff([]service.PendingMessage{pm("m4")}, got.Pending, equal); diff != "" {
		t.Errorf("pending after add and move (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]service.MessageRef{ref("m2"), ref("m5"), ref("m6"), ref("m3"), ref("m1")}, got.Outbox, equal); diff != "" {
		t.Errorf("outbox after add and move (-want +got):\n%s", diff)
	}
	pending("d1")
	mustPatch(t, s, &service.DiscussionPatch{ID: "d1", Version: 1, MovedPending: []service.MessageRef{ref("m4")}, At: T0})
	pending()
	if got = mustLoad(t, s, "d1"); got.Version != 1 || len(got.Pending) != 0 || len(got.Outbox) != 6 {
		t.Errorf("at the end: version %d, %d pending, %d in the outbox", got.Version, len(got.Pending), len(got.Outbox))
	}
	// The outbox index read alone, as the outbox worker reads it, is the
	// discussion's.
	refs, err := s.DiscussionOutbox(ctx, "d1")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(got.Outbox, refs, equal); diff != "" {
		t.Errorf("the outbox index alone (-whole discussion's +alone):\n%s", diff)
	}
	if refs, err := s.DiscussionOutbox(ctx, "d2"); err != nil || len(refs) != 0 {
		t.Errorf("the outbox index of a discussion with none: %v %v", refs, err)
	}
	_, err = s.DiscussionOutbox(ctx, "ghost")
	wantCode(t, "the outbox index of a missing discussion", err, service.ENOTFOUND)
}

// A summary list leaves the timeline out and keeps the rest.
func testSummaryList(t *testing.T, s service.Store) {
	d := Discussion("d1", T0.Add(72*time.Hour), Invitee("a@example.org", "police"))
	mustCreate(t, s, d)
	full, err := s.Discussions(ctx, service.DiscussionFilter{Limit: 10})
	if err != nil || len(full) != 1 || len(full[0].Timeline) == 0 {
		t.Fatalf("full list: %v %+v", err, full)
	}
	sum, err := s.Discussions(ctx, service.DiscussionFilter{Limit: 10, Summary: true})
	if err != nil || len(sum) != 1 {
		t.Fatalf("summary list: %v %d", err, len(sum))
	}
	if len(sum[0].Timeline) != 0 || len(sum[0].Invitees) != 1 || sum[0].CaseReference != d.CaseReference {
		t.Errorf("summary: %d events, %d invitees, case %q", len(sum[0].Timeline), len(sum[0].Invitees), sum[0].CaseReference)
	}
	// By id, several at once; ids not found are left out.
	mustCreate(t, s, Discussion("d2", T0.Add(96*time.Hour)), Discussion("d3", T0.Add(24*time.Hour)))
	got, err := s.Discussions(ctx, service.DiscussionFilter{IDs: []string{"d3", "nope", "d1"}, Summary: true})
	if err != nil || len(got) != 2 {
		t.Fatalf("by ids: %v %d", err, len(got))
	}
	if ids := []string{got[0].ID, got[1].ID}; !(ids[0] == "d1" && ids[1] == "d3" || ids[0] == "d3" && ids[1] == "d1") {
		t.Errorf("by ids: %v", ids)
	}
}
