package mongodb_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/convene/convene/calendar"
	"github.com/convene/convene/service"
	"github.com/convene/convene/service/policy"
)

func newDiscussion(id string, deadline time.Time, invitees ...service.Invitee) *service.Discussion {
	age := 7
	return &service.Discussion{
		ID: id, CaseReference: "CR-" + id, Status: service.StatusProposed, UID: "uid-" + id,
		Case: policy.Case{
			TimescaleRequest: policy.TimescaleRequest{RAG: policy.RAG("red"), Concerns: []policy.Concern{"serious_physical_injury"},
				ReferralReceivedAt: deadline.Add(-24 * time.Hour)},
			Child: policy.Child{AgeYears: &age, InHospital: "inpatient"},
		},
		Deadline:  deadline,
		Timescale: policy.Timescale{Profile: "default", Deadline: deadline, BindingRule: policy.RuleRef{ID: "S1", Citation: "000 §5"}},
		Attendance: policy.Attendance{Requirements: []policy.Requirement{{ID: "police", Name: "police", Agencies: []policy.Agency{"police"},
			MinSeniority: policy.Seniority{Level: 2, Label: "Sergeant"}, Essential: true}}},
		Duration:      time.Hour,
		Invitees:      invitees,
		ProposedSlots: []calendar.Slot{{Start: deadline.Add(-2 * time.Hour), End: deadline.Add(-time.Hour), Score: 100, Free: []string{"a@example.org"}}},
		Version:       1,
		CreatedAt:     deadline.Add(-24 * time.Hour),
	}
}

func TestDiscussionRoundTripAndFilters(t *testing.T) {
	s := openStore(t)
	ctx := context.Background()
	base := time.Date(2026, 12, 1, 17, 0, 0, 0, time.UTC)
	d1 := newDiscussion("d1", base.Add(48*time.Hour), service.Invitee{Email: "pc@police.example.org", Agency: "police", Reply: "needs_action"},
		service.Invitee{Email: "chair@council.example.org", Agency: "social_care", Chair: true, Reply: "accepted"})
	d2 := newDiscussion("d2", base, service.Invitee{Email: "nurse@nhs.example.org", Agency: "health", Reply: "accepted"})
	d2.Breach = &service.Breach{Reason: "booked late", Override: true}
	d3 := newDiscussion("d3", base.Add(24*time.Hour), service.Invitee{Email: "pc@police.example.org", Agency: "police", Removed: true})
	for _, d := range []*service.Discussion{d1, d2, d3} {
		if err := s.CreateDiscussion(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.Discussion(ctx, "d1")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(d1, got); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
	ids := func(f service.DiscussionFilter) []string {
		t.Helper()
		f.Limit = 10
		ds, err := s.Discussions(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, d := range ds {
			out = append(out, d.ID)
		}
		return out
	}
	yes, no := true, false
	for _, tt := range []struct {
		name string
		f    service.DiscussionFilter
		want []string
	}{
		{"all, by deadline", service.DiscussionFilter{}, []string{"d2", "d3", "d1"}},
		{"visible to the police officer (not where removed)", service.DiscussionFilter{VisibleTo: "pc@police.example.org"}, []string{"d1"}},
		{"chaired by", service.DiscussionFilter{ChairEmail: "chair@council.example.org"}, []string{"d1"}},
		{"agency health", service.DiscussionFilter{Agency: "health"}, []string{"d2"}},
		{"breached", service.DiscussionFilter{Breached: &yes}, []string{"d2"}},
		{"not breached", service.DiscussionFilter{Breached: &no}, []string{"d3", "d1"}},
		{"due before", service.DiscussionFilter{DueBefore: base.Add(25 * time.Hour)}, []string{"d2", "d3"}},
		{"after a cursor", service.DiscussionFilter{AfterDeadline: base, AfterID: "d2"}, []string{"d3", "d1"}},
		{"status", service.DiscussionFilter{Status: []service.DiscussionStatus{service.StatusBooked}}, nil},
	} {
		if diff := cmp.Diff(tt.want, ids(tt.f)); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tt.name, diff)
		}
	}
	// A stale replace loses.
	stale := *got
	got.Status = service.StatusBooked
	if err := s.UpdateDiscussion(ctx, got); err != nil {
		t.Fatal(err)
	}
	stale.Status = service.StatusCancelled
	if code := service.ErrorCode(s.UpdateDiscussion(ctx, &stale)); code != service.ECONFLICT {
		t.Errorf("stale update: code %q, want conflict", code)
	}
}

func TestHoldTimeAllOrNothing(t *testing.T) {
	s := openStore(t)
	ctx := context.Background()
	start := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	mk := func(person, booking string, from time.Time, n int) []service.Hold {
		var hs []service.Hold
		for i := range n {
			t := from.Add(time.Duration(i) * 15 * time.Minute)
			hs = append(hs, service.Hold{ID: person + "|" + t.Format("20060102T1504Z"), Person: person, BookingID: booking, DiscussionID: "d-" + booking, Start: t})
		}
		return hs
	}
	if err := s.HoldTime(ctx, mk("chair", "b1", start, 4)); err != nil {
		t.Fatal(err)
	}
	// b2 wants the police officer 10:00–11:00 (free) and the chair from
	// 10:45 (taken by b1 until 11:00): all or nothing.
	err := s.HoldTime(ctx, append(mk("police", "b2", start, 4), mk("chair", "b2", start.Add(45*time.Minute), 4)...))
	if service.ErrorCode(err) != service.ECONFLICT {
		t.Fatalf("overlapping hold: %v, want ECONFLICT", err)
	}
	var se *service.Error
	if !asError(err, &se) || se.Detail["hold"].(service.Hold).BookingID != "b1" {
		t.Errorf("conflict detail = %+v, want b1's hold", se)
	}
	// Nothing of b2 remains, so the police officer is free for b3.
	if err := s.HoldTime(ctx, mk("police", "b3", start, 4)); err != nil {
		t.Errorf("b2's partial holds were left behind: %v", err)
	}
	if err := s.ReleaseHolds(ctx, "b1", ""); err != nil {
		t.Fatal(err)
	}
	if err := s.HoldTime(ctx, mk("chair", "b4", start, 4)); err != nil {
		t.Errorf("after release: %v", err)
	}
}

func TestClaimMessageOnce(t *testing.T) {
	s := openStore(t)
	ctx := context.Background()
	now := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	for i := range 20 {
		m := &service.OutboxMessage{ID: fmt.Sprintf("m%02d", i), DiscussionID: "d1", Method: "REQUEST", To: "x@example.org",
			State: service.MessageQueued, NextAttempt: now.Add(-time.Minute), CreatedAt: now}
		if err := s.EnqueueMessage(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	// Enqueueing again (a move repeated after a crash) adds nothing: the
	// claims below still find each message once.
	if err := s.EnqueueMessage(ctx, &service.OutboxMessage{ID: "m00", State: service.MessageQueued, NextAttempt: now.Add(-time.Minute)}); err != nil {
		t.Errorf("enqueue again: %v", err)
	}
	var claimed sync.Map
	var dup atomic.Int32
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			owner := fmt.Sprintf("worker-%d", w)
			for {
				m, err := s.ClaimMessage(ctx, owner, now, time.Minute)
				if service.ErrorCode(err) == service.ENOTFOUND {
					return
				} else if err != nil {
					t.Error(err)
					return
				}
				if _, loaded := claimed.LoadOrStore(m.ID, owner); loaded {
					dup.Add(1)
				}
				m.State = service.MessageSent
				if err := s.UpdateMessage(ctx, m, owner); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	n := 0
	claimed.Range(func(any, any) bool { n++; return true })
	if n != 20 || dup.Load() != 0 {
		t.Errorf("claimed %d distinct messages with %d claimed twice, want 20 and 0", n, dup.Load())
	}
	// A lease that lapses (a sender that died) is claimable again.
	lost := &service.OutboxMessage{ID: "lost", State: service.MessageQueued, NextAttempt: now, CreatedAt: now}
	_ = s.EnqueueMessage(ctx, lost)
	m, err := s.ClaimMessage(ctx, "dead", now, time.Minute)
	if err != nil || m.ID != "lost" {
		t.Fatalf("claim: %v %v", m, err)
	}
	if _, err := s.ClaimMessage(ctx, "other", now.Add(30*time.Second), time.Minute); service.ErrorCode(err) != service.ENOTFOUND {
		t.Errorf("claim within the lease: %v, want none due", err)
	}
	m, err = s.ClaimMessage(ctx, "other", now.Add(2*time.Minute), time.Minute)
	if err != nil || m.ID != "lost" || m.Attempts != 2 {
		t.Errorf("claim after the lease: %+v %v, want lost with 2 attempts", m, err)
	}
	if code := service.ErrorCode(s.UpdateMessage(ctx, m, "dead")); code != service.ECONFLICT {
		t.Errorf("update by the old owner: %q, want conflict", code)
	}
}

func TestLeaseAndIdempotency(t *testing.T) {
	s := openStore(t)
	ctx := context.Background()
	now := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	if ok, err := s.AcquireLease(ctx, "watch", "a", now, time.Minute); !ok || err != nil {
		t.Fatalf("first acquire: %v %v", ok, err)
	}
	if ok, _ := s.AcquireLease(ctx, "watch", "b", now.Add(30*time.Second), time.Minute); ok {
		t.Error("b acquired a lease a holds")
	}
	if ok, _ := s.AcquireLease(ctx, "watch", "a", now.Add(30*time.Second), time.Minute); !ok {
		t.Error("a could not renew")
	}
	if ok, _ := s.AcquireLease(ctx, "watch", "b", now.Add(2*time.Minute), time.Minute); !ok {
		t.Error("b could not take a lapsed lease")
	}
	k := &service.IdempotencyKey{ID: "u1\x00key", DiscussionID: "d1", RequestHash: "h"}
	if existing, err := s.ClaimIdempotencyKey(ctx, k); existing != nil || err != nil {
		t.Fatalf("first claim: %v %v", existing, err)
	}
	existing, err := s.ClaimIdempotencyKey(ctx, &service.IdempotencyKey{ID: "u1\x00key", DiscussionID: "d2"})
	if err != nil || existing == nil || existing.DiscussionID != "d1" {
		t.Errorf("second claim: %+v %v, want the first record", existing, err)
	}
}
