package storetest

import (
	"errors"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/convene/convene/service"
)

// holds returns person's quarter-hours for booking from start, n of them.
func holds(person, booking string, start time.Time, n int) []service.Hold {
	var hs []service.Hold
	for i := range n {
		t := start.Add(time.Duration(i) * 15 * time.Minute)
		hs = append(hs, service.Hold{ID: person + "|" + t.Format("20060102T1504Z"), Person: person, BookingID: booking,
			DiscussionID: "d-" + booking, Start: t, CreatedAt: T0})
	}
	return hs
}

func testHoldsAllOrNothing(t *testing.T, s service.Store) {
	start := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	if err := s.HoldTime(ctx, holds("chair", "b1", start, 4)); err != nil {
		t.Fatal(err)
	}
	// b2 wants the police officer 10:00–11:00 (free) and the chair from
	// 10:45 (taken by b1 until 11:00): all or nothing.
	err := s.HoldTime(ctx, append(holds("police", "b2", start, 4), holds("chair", "b2", start.Add(45*time.Minute), 4)...))
	wantCode(t, "overlapping hold", err, service.ECONFLICT)
	var se *service.Error
	if !errors.As(err, &se) || se.Conflict == nil || se.Conflict.Hold == nil {
		t.Fatalf("the conflict does not name the hold taken: %#v", err)
	}
	if diff := cmp.Diff(holds("chair", "b1", start, 4)[3], *se.Conflict.Hold); diff != "" {
		t.Errorf("the hold named (-want +got):\n%s", diff)
	}
	// Nothing of b2 remains, so the police officer is free for b3.
	if err := s.HoldTime(ctx, holds("police", "b3", start, 4)); err != nil {
		t.Errorf("b2's partial holds were left behind: %v", err)
	}
	if err := s.ReleaseHolds(ctx, "b1", ""); err != nil {
		t.Fatal(err)
	}
	if err := s.HoldTime(ctx, holds("chair", "b4", start, 4)); err != nil {
		t.Errorf("after release: %v", err)
	}
	if err := s.HoldTime(ctx, nil); err != nil {
		t.Errorf("no holds: %v", err)
	}
}

// A reschedule overlapping the discussion's own booked time takes its
// holds over instead of colliding with itself; the old booking's release
// then leaves them with the new one.
func testHoldsTakenOverBySameDiscussion(t *testing.T, s service.Store) {
	start := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	if err := s.HoldTime(ctx, holds("chair", "b1", start, 4)); err != nil {
		t.Fatal(err)
	}
	moved := holds("chair", "b2", start.Add(30*time.Minute), 4)
	for i := range moved {
		moved[i].DiscussionID = "d-b1" // the same discussion, rebooked
	}
	if err := s.HoldTime(ctx, moved); err != nil {
		t.Fatalf("the same discussion's reschedule collided with itself: %v", err)
	}
	if err := s.ReleaseHolds(ctx, "b1", ""); err != nil {
		t.Fatal(err)
	}
	got, err := s.Holds(ctx, []string{"chair"}, start, start.Add(3*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 4 || !got[0].Start.Equal(start.Add(30*time.Minute)) {
		t.Fatalf("after the move the chair's holds are %+v, want 10:30 to 11:30 under b2", got)
	}
	for _, h := range got {
		if h.BookingID != "b2" {
			t.Errorf("hold %s still under %s", h.ID, h.BookingID)
		}
	}
	// Another discussion still collides.
	if err := s.HoldTime(ctx, holds("chair", "b3", start.Add(time.Hour), 1)); service.ErrorCode(err) != service.ECONFLICT {
		t.Errorf("another discussion's overlapping hold: %v", err)
	}
}

// Venues: created, listed by name, updated at the version read.
func testVenues(t *testing.T, s service.Store) {
	for i, name := range []string{"Town Hall, room 2", "MASH office"} {
		v := &service.Venue{ID: "v" + strconv.Itoa(i), Name: name, Active: true, Version: 1, CreatedAt: T0, UpdatedAt: T0}
		if err := s.CreateVenue(ctx, v); err != nil {
			t.Fatal(err)
		}
	}
	vs, err := s.Venues(ctx, false)
	if err != nil || len(vs) != 2 || vs[0].Name != "MASH office" {
		t.Fatalf("venues %+v %v", vs, err)
	}
	v, err := s.Venue(ctx, "v0")
	if err != nil {
		t.Fatal(err)
	}
	v.Active = false
	if err := s.UpdateVenue(ctx, v); err != nil || v.Version != 2 {
		t.Fatalf("update: %v, version %d", err, v.Version)
	}
	stale := *v
	stale.Version = 1
	if err := s.UpdateVenue(ctx, &stale); service.ErrorCode(err) != service.ECONFLICT {
		t.Errorf("stale update: %v", err)
	}
	if vs, _ := s.Venues(ctx, false); len(vs) != 1 {
		t.Errorf("inactive venue listed: %+v", vs)
	}
	if vs, _ := s.Venues(ctx, true); len(vs) != 2 {
		t.Errorf("with inactive: %+v", vs)
	}
	if _, err := s.Venue(ctx, "nope"); service.ErrorCode(err) != service.ENOTFOUND {
		t.Errorf("missing venue: %v", err)
	}
}

func testHoldsListReleasePrune(t *testing.T, s service.Store) {
	day := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	for _, hs := range [][]service.Hold{
		holds("chair", "b1", day, 2),
		holds("police", "b1", day, 2),
		holds("chair", "b2", day.Add(24*time.Hour), 2),
		holds("nurse", "b3", day, 1),
	} {
		if err := s.HoldTime(ctx, hs); err != nil {
			t.Fatal(err)
		}
	}
	listed := func(persons []string, from, to time.Time) []string {
		t.Helper()
		hs, err := s.Holds(ctx, persons, from, to)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, h := range hs {
			out = append(out, h.ID+"/"+h.BookingID)
		}
		return out
	}
	if diff := cmp.Diff([]string{"chair|20261201T0900Z/b1", "chair|20261201T0915Z/b1", "police|20261201T0900Z/b1", "police|20261201T0915Z/b1"},
		listed([]string{"police", "chair"}, day, day.Add(24*time.Hour))); diff != "" {
		t.Errorf("holds on the day (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"chair|20261201T0915Z/b1"}, listed([]string{"chair"}, day.Add(time.Minute), day.Add(30*time.Minute))); diff != "" {
		t.Errorf("from 09:01 to 09:30 (-want +got):\n%s", diff)
	}
	if got := listed(nil, day, day.Add(48*time.Hour)); got != nil {
		t.Errorf("nobody's holds: %v", got)
	}
	if err := s.ReleaseHolds(ctx, "b1", "police"); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"chair|20261201T0900Z/b1", "chair|20261201T0915Z/b1"}, listed([]string{"police", "chair"}, day, day.Add(24*time.Hour))); diff != "" {
		t.Errorf("after releasing the police officer's (-want +got):\n%s", diff)
	}
	if err := s.PruneHolds(ctx, day.Add(12*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"chair|20261202T0900Z/b2", "chair|20261202T0915Z/b2"}, listed([]string{"police", "chair", "nurse"}, day, day.Add(48*time.Hour))); diff != "" {
		t.Errorf("after pruning (-want +got):\n%s", diff)
	}
}

func testIdempotencyKeys(t *testing.T, s service.Store) {
	k := &service.IdempotencyKey{ID: "u1\x00key", DiscussionID: "d1", RequestHash: "h", CreatedAt: T0, ExpiresAt: T0.Add(time.Minute)}
	if existing, err := s.ClaimIdempotencyKey(ctx, k); existing != nil || err != nil {
		t.Fatalf("first claim: %v %v", existing, err)
	}
	existing, err := s.ClaimIdempotencyKey(ctx, &service.IdempotencyKey{ID: "u1\x00key", DiscussionID: "d2", RequestHash: "h2", CreatedAt: T0.Add(time.Second)})
	if err != nil || existing == nil {
		t.Fatalf("second claim: %+v %v, want the first record", existing, err)
	}
	if diff := cmp.Diff(k, existing); diff != "" {
		t.Errorf("the record holding the key (-want +got):\n%s", diff)
	}
	// Releasing a claim made at another time leaves the key held.
	if err := s.ReleaseIdempotencyKey(ctx, "u1\x00key", T0.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	if existing, _ := s.ClaimIdempotencyKey(ctx, &service.IdempotencyKey{ID: "u1\x00key", DiscussionID: "d3", CreatedAt: T0.Add(2 * time.Second)}); existing == nil || existing.DiscussionID != "d1" {
		t.Errorf("after releasing another claim: %+v, want d1's still", existing)
	}
	if err := s.ReleaseIdempotencyKey(ctx, "u1\x00key", T0); err != nil {
		t.Fatal(err)
	}
	if existing, err := s.ClaimIdempotencyKey(ctx, &service.IdempotencyKey{ID: "u1\x00key", DiscussionID: "d4", CreatedAt: T0.Add(3 * time.Second)}); existing != nil || err != nil {
		t.Errorf("claim after release: %+v %v, want it free", existing, err)
	}
	if err := s.ReleaseIdempotencyKey(ctx, "never-claimed", T0); err != nil {
		t.Errorf("releasing a key never claimed: %v", err)
	}
}

func testLeases(t *testing.T, s service.Store) {
	for _, step := range []struct {
		name  string
		owner string
		at    time.Duration
		want  bool
	}{
		{"a takes it", "a", 0, true},
		{"b cannot while a holds it", "b", 30 * time.Second, false},
		{"a renews", "a", 30 * time.Second, true},
		{"b still cannot", "b", 80 * time.Second, false},
		{"b takes it once it lapses", "b", 91 * time.Second, true},
		{"a cannot now", "a", 100 * time.Second, false},
	} {
		ok, err := s.AcquireLease(ctx, "watch", step.owner, T0.Add(step.at), time.Minute)
		if err != nil || ok != step.want {
			t.Errorf("%s: %v %v, want %v", step.name, ok, err, step.want)
		}
	}
	if ok, _ := s.AcquireLease(ctx, "other", "a", T0, time.Minute); !ok {
		t.Error("a lease of another name is not free")
	}
	// Only the holder can give it up; then it is free at once.
	if err := s.ReleaseLease(ctx, "watch", "a"); err != nil {
		t.Fatal(err)
	}
	if ok, _ := s.AcquireLease(ctx, "watch", "a", T0.Add(100*time.Second), time.Minute); ok {
		t.Error("a released b's lease")
	}
	if err := s.ReleaseLease(ctx, "watch", "b"); err != nil {
		t.Fatal(err)
	}
	if ok, err := s.AcquireLease(ctx, "watch", "a", T0.Add(100*time.Second), time.Minute); !ok || err != nil {
		t.Errorf("after b released it: %v %v", ok, err)
	}
}

func enqueue(t *testing.T, s service.Store, ms ...*service.OutboxMessage) {
	t.Helper()
	for _, m := range ms {
		if err := s.EnqueueMessage(ctx, m); err != nil {
			t.Fatalf("enqueue %s: %v", m.ID, err)
		}
	}
}

// testEnqueueBatch: a booking's invitations are enqueued in one call; a
// move done again after a crash enqueues some of them a second time,
// which adds the new ones and changes none of those already there.
func testEnqueueBatch(t *testing.T, s service.Store) {
	first := Message("b1")
	if err := s.EnqueueMessage(ctx, first); err != nil {
		t.Fatal(err)
	}
	again := Message("b1")
	again.NextAttempt, again.To = T0.Add(time.Hour), "someone.else@example.org"
	if err := s.EnqueueMessage(ctx, again, Message("b2"), Message("b3")); err != nil {
		t.Fatalf("a batch with one message already enqueued: %v", err)
	}
	got, err := s.Messages(ctx, []string{"b1", "b2", "b3"})
	if err != nil {
		t.Fatal(err)
	}
	byID := map[string]service.OutboxMessage{}
	for _, m := range got {
		byID[m.ID] = m
	}
	for _, id := range []string{"b1", "b2", "b3"} {
		m, ok := byID[id]
		if !ok {
			t.Errorf("%s is not in the outbox", id)
			continue
		}
		if m.State != service.MessageQueued {
			t.Errorf("%s is %s, want queued", id, m.State)
		}
	}
	if m := byID["b1"]; m.To != first.To || !m.NextAttempt.Equal(first.NextAttempt) {
		t.Errorf("b1 enqueued again became %s at %s, want it unchanged (%s at %s)", m.To, m.NextAttempt, first.To, first.NextAttempt)
	}
	if err := s.EnqueueMessage(ctx); err != nil {
		t.Errorf("an empty batch: %v", err)
	}
}

func testClaimMessageOnce(t *testing.T, s service.Store) {
	var ms []*service.OutboxMessage
	for i := range 5 {
		m := Message(fmt.Sprintf("m%d", i))
		m.NextAttempt = T0.Add(-time.Duration(i) * time.Minute) // m4 is due first
		ms = append(ms, m)
	}
	later := Message("later")
	later.NextAttempt = T0.Add(2 * time.Hour)
	failed := Message("failed")
	failed.State = service.MessageFailed
	enqueue(t, s, append(ms, later, failed)...)
	// Enqueueing again (a move repeated after a crash) adds nothing.
	again := Message("m0")
	again.NextAttempt = T0.Add(-time.Hour)
	enqueue(t, s, again)

	var order []string
	for range 10 {
		m, err := s.ClaimMessage(ctx, "w1", T0, time.Minute)
		if service.ErrorCode(err) == service.ENOTFOUND {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		order = append(order, m.ID)
		if m.State != service.MessageSending || m.Attempts != 1 || m.LeaseOwner != "w1" || !m.LeaseUntil.Equal(T0.Add(time.Minute)) {
			t.Errorf("claimed %s: state %s attempts %d owner %q until %v", m.ID, m.State, m.Attempts, m.LeaseOwner, m.LeaseUntil)
		}
		if string(m.Raw) != string(Message(m.ID).Raw) || m.To != "pc@police.example.org" {
			t.Errorf("claimed %s: the message itself did not come back: %+v", m.ID, m)
		}
		m.State = service.MessageSent
		if err := s.UpdateMessage(ctx, m, "w1"); err != nil {
			t.Fatal(err)
		}
	}
	if diff := cmp.Diff([]string{"m4", "m3", "m2", "m1", "m0"}, order); diff != "" {
		t.Errorf("claims, due first first (-want +got):\n%s", diff)
	}

	// A lease that lapses (a sender that died) is claimable again.
	lost := Message("lost")
	lost.NextAttempt = T0.Add(time.Hour)
	enqueue(t, s, lost)
	now := T0.Add(time.Hour)
	m, err := s.ClaimMessage(ctx, "dead", now, time.Minute)
	if err != nil || m.ID != "lost" {
		t.Fatalf("claim: %v %v", m, err)
	}
	_, err = s.ClaimMessage(ctx, "other", now.Add(30*time.Second), time.Minute)
	wantCode(t, "claim within the lease", err, service.ENOTFOUND)
	m, err = s.ClaimMessage(ctx, "other", now.Add(2*time.Minute), time.Minute)
	if err != nil || m.ID != "lost" || m.Attempts != 2 {
		t.Fatalf("claim after the lease: %+v %v, want lost with 2 attempts", m, err)
	}
	wantCode(t, "update by the old owner", s.UpdateMessage(ctx, m, "dead"), service.ECONFLICT)
	// The attempt number fences a claim: a sender of the same instance
	// whose lease lapsed, and whose message was claimed again, cannot
	// overwrite the later claim.
	fenced := Message("fenced")
	fenced.NextAttempt = T0.Add(time.Hour)
	enqueue(t, s, fenced)
	first, err := s.ClaimMessage(ctx, "same", now, time.Minute)
	if err != nil || first.ID != "fenced" {
		t.Fatalf("first claim: %v %v", first, err)
	}
	second, err := s.ClaimMessage(ctx, "same", now.Add(2*time.Minute), time.Minute)
	if err != nil || second.ID != "fenced" || second.Attempts != first.Attempts+1 {
		t.Fatalf("claim after the lease lapsed: %+v %v", second, err)
	}
	first.State = service.MessageSent
	wantCode(t, "update by the lapsed claim", s.UpdateMessage(ctx, first, "same"), service.ECONFLICT)
	second.State, second.NextAttempt = service.MessageQueued, now.Add(time.Hour)
	if err := s.UpdateMessage(ctx, second, "same"); err != nil {
		t.Fatalf("update by the later claim: %v", err)
	}
	sent := now.Add(2 * time.Minute)
	m.State, m.SentAt, m.Delivery, m.LeaseUntil = service.MessageSent, &sent, "mx.example.org", sent
	if err := s.UpdateMessage(ctx, m, "other"); err != nil {
		t.Fatalf("update by the owner: %v", err)
	}
	wantCode(t, "update after it left the queue", s.UpdateMessage(ctx, m, "other"), service.ECONFLICT)
	wantCode(t, "update of a missing message", s.UpdateMessage(ctx, Message("ghost"), "other"), service.ENOTFOUND)
	got, err := s.Messages(ctx, []string{"lost"})
	if err != nil || len(got) != 1 || got[0].State != service.MessageSent || got[0].Delivery != "mx.example.org" || got[0].SentAt == nil {
		t.Errorf("the sent message: %+v %v", got, err)
	}
}

func testUpdateSupersedeRequeue(t *testing.T, s service.Store) {
	var ms []*service.OutboxMessage
	for i, id := range []string{"fail", "queued", "retry"} {
		m := Message(id)
		m.NextAttempt = T0.Add(time.Duration(i-3) * time.Minute)
		ms = append(ms, m)
	}
	enqueue(t, s, ms...)
	claim := func(now time.Time, want string) *service.OutboxMessage {
		t.Helper()
		m, err := s.ClaimMessage(ctx, "w", now, time.Minute)
		if want == "" {
			wantCode(t, "claim at "+now.Format("15:04"), err, service.ENOTFOUND)
			return nil
		}
		if err != nil || m.ID != want {
			t.Fatalf("claim at %s: %+v %v, want %s", now.Format("15:04"), m, err, want)
		}
		return m
	}
	m := claim(T0, "fail")
	m.State, m.LastError, m.Permanent, m.LeaseUntil = service.MessageFailed, "550 no such user", true, T0
	if err := s.UpdateMessage(ctx, m, "w"); err != nil {
		t.Fatal(err)
	}
	m = claim(T0, "queued")
	m.State, m.NextAttempt, m.LastError, m.LeaseUntil = service.MessageQueued, T0.Add(10*time.Minute), "421 try later", T0
	if err := s.UpdateMessage(ctx, m, "w"); err != nil {
		t.Fatal(err)
	}
	// retry is leased and so not superseded; queued is not leased any
	// more: superseding takes it off the queue.
	claim(T0, "retry")
	if err := s.SupersedeMessage(ctx, "retry", T0); err != nil {
		t.Fatal(err)
	}
	if err := s.SupersedeMessage(ctx, "queued", T0); err != nil {
		t.Fatal(err)
	}
	if err := s.SupersedeMessage(ctx, "ghost", T0); err != nil {
		t.Errorf("superseding a missing message: %v", err)
	}
	claim(T0.Add(30*time.Second), "")
	retry := claim(T0.Add(20*time.Minute), "retry") // its lease lapsed
	stored, err := s.Messages(ctx, []string{"retry", "queued", "fail"})
	if err != nil {
		t.Fatal(err)
	}
	var states []string
	for _, m := range stored {
		states = append(states, m.ID+":"+string(m.State))
	}
	if diff := cmp.Diff([]string{"retry:sending", "queued:superseded", "fail:failed"}, states); diff != "" {
		t.Errorf("states (-want +got):\n%s", diff)
	}
	if stored[2].LastError != "550 no such user" || !stored[2].Permanent {
		t.Errorf("the failure was not recorded: %+v", stored[2])
	}

	wantCode(t, "requeue a message being sent", s.RequeueMessage(ctx, "retry", T0), service.ECONFLICT)
	retry.State, retry.LeaseUntil = service.MessageSent, T0.Add(20*time.Minute)
	if err := s.UpdateMessage(ctx, retry, "w"); err != nil {
		t.Fatal(err)
	}
	wantCode(t, "requeue a superseded message", s.RequeueMessage(ctx, "queued", T0), service.ECONFLICT)
	wantCode(t, "requeue a missing message", s.RequeueMessage(ctx, "ghost", T0), service.ENOTFOUND)
	now := T0.Add(30 * time.Minute)
	if err := s.RequeueMessage(ctx, "fail", now); err != nil {
		t.Fatal(err)
	}
	m = claim(now, "fail")
	if m.Attempts != 1 || m.State != service.MessageSending {
		t.Errorf("requeued and claimed: attempts %d state %s, want 1 sending", m.Attempts, m.State)
	}
	wantCode(t, "requeue while it is being sent", s.RequeueMessage(ctx, "fail", now), service.ECONFLICT)
}

func testMessagesAndStats(t *testing.T, s service.Store) {
	st, err := s.OutboxStats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !st.OldestQueued.IsZero() || st.ByState[service.MessageQueued] != 0 {
		t.Errorf("empty outbox: %+v", st)
	}
	var ms []*service.OutboxMessage
	for i := range 6 {
		m := Message(fmt.Sprintf("m%d", i))
		m.CreatedAt = T0.Add(time.Duration(i) * time.Minute)
		ms = append(ms, m)
	}
	ms[0].State = service.MessageSent
	ms[1].State = service.MessageFailed
	ms[5].State = service.MessageSuperseded
	enqueue(t, s, ms...)
	if _, err := s.ClaimMessage(ctx, "w", T0, time.Minute); err != nil { // m2
		t.Fatal(err)
	}
	st, err = s.OutboxStats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for state, want := range map[service.MessageState]int{
		service.MessageQueued: 2, service.MessageSending: 1, service.MessageSent: 1, service.MessageFailed: 1, service.MessageSuperseded: 1,
	} {
		if got := st.ByState[state]; got != want {
			t.Errorf("%s: %d, want %d", state, got, want)
		}
	}
	if want := T0.Add(2 * time.Minute); !st.OldestQueued.Equal(want) {
		t.Errorf("oldest queued: %v, want %v (m2, being sent, is still on the queue)", st.OldestQueued, want)
	}

	got, err := s.Messages(ctx, []string{"m4", "ghost", "m0"})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].ID != "m4" || got[1].ID != "m0" {
		t.Fatalf("messages: %+v", got)
	}
	want := *ms[4]
	if diff := cmp.Diff(want, got[0], equal); diff != "" {
		t.Errorf("a message as enqueued (-want +got):\n%s", diff)
	}
	if none, err := s.Messages(ctx, nil); len(none) != 0 || err != nil {
		t.Errorf("no ids: %v %v", none, err)
	}
}

func testInbound(t *testing.T, s service.Store) {
	for i, d := range []string{"d1", "d2", "d1", "", "d1"} {
		r := &service.InboundRecord{ID: fmt.Sprintf("i%d", i), At: T0.Add(time.Duration(i) * time.Minute), Channel: "smtp",
			From: "pc@police.example.org", MessageID: fmt.Sprintf("<%d@example.org>", i), UID: "uid-" + d, Method: "REPLY",
			Attendee: "pc@police.example.org", DiscussionID: d, Result: "recorded", Detail: "accepted"}
		if err := s.RecordInbound(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	list := func(d string, n int) []string {
		rs, err := s.InboundRecords(ctx, d, n)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, r := range rs {
			out = append(out, r.ID)
		}
		return out
	}
	if diff := cmp.Diff([]string{"i4", "i2", "i0"}, list("d1", 10)); diff != "" {
		t.Errorf("d1's (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"i4", "i3"}, list("", 2)); diff != "" {
		t.Errorf("everyone's, two (-want +got):\n%s", diff)
	}
	rs, err := s.InboundRecords(ctx, "d2", 10)
	if err != nil || len(rs) != 1 {
		t.Fatalf("d2's: %v %v", rs, err)
	}
	if rs[0].Detail != "accepted" || !rs[0].At.Equal(T0.Add(time.Minute)) || rs[0].UID != "uid-d2" {
		t.Errorf("record round trip: %+v", rs[0])
	}
}
