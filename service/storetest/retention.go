package storetest

import (
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/convene/convene/service"
)

// finished returns a discussion concluded or cancelled and last changed at.
func finished(id string, status service.DiscussionStatus, changed time.Time, caseRef string) *service.Discussion {
	d := Discussion(id, changed.Add(-time.Hour), Invitee("pc-"+id+"@police.example.org", "police"))
	d.Status, d.UpdatedAt, d.CaseReference = status, changed, caseRef
	return d
}

// testRetentionCandidates: only concluded and cancelled discussions last
// changed before the bound come back, oldest change first, paged.
func testRetentionCandidates(t *testing.T, s service.Store) {
	year := T0.AddDate(-1, 0, 0)
	mustCreate(t, s,
		finished("c-old", service.StatusConcluded, year.Add(-48*time.Hour), "CR-1"),
		finished("x-old", service.StatusCancelled, year.Add(-72*time.Hour), "CR-2"),
		finished("a-old", service.StatusConcluded, year.Add(-48*time.Hour), "CR-3"),
		finished("c-new", service.StatusConcluded, T0.AddDate(0, -2, 0), "CR-4"),
		finished("p-old", service.StatusProposed, year.Add(-96*time.Hour), "CR-5"),
	)
	var got []string
	var afterUpdated time.Time
	afterID := ""
	for range 5 {
		page, err := s.RetentionCandidates(ctx, year, afterUpdated, afterID, 1)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			break
		}
		if page[0].Timeline != nil {
			t.Errorf("candidate %s carries its timeline", page[0].ID)
		}
		got = append(got, page[0].ID)
		afterUpdated, afterID = page[0].UpdatedAt, page[0].ID
	}
	if want := []string{"x-old", "a-old", "c-old"}; !slices.Equal(got, want) {
		t.Errorf("candidates %v, want %v (finished before the bound, oldest change first, then by id)", got, want)
	}
}

// testPurgeDiscussion: a purge guarded by the version takes the discussion
// and everything kept for it, and leaves other discussions' records alone.
func testPurgeDiscussion(t *testing.T, s service.Store) {
	old := T0.AddDate(-2, 0, 0)
	mustCreate(t, s, finished("gone", service.StatusConcluded, old, "CR-77"), finished("kept", service.StatusConcluded, old, "CR-78"))
	for _, id := range []string{"gone", "kept"} {
		hs := holds("p-"+id, "b-"+id, old, 2)
		for i := range hs {
			hs[i].DiscussionID = id
		}
		if err := s.HoldTime(ctx, hs); err != nil {
			t.Fatal(err)
		}
		m := Message("m-" + id)
		m.DiscussionID = id
		enqueue(t, s, m)
		if err := s.RecordInbound(ctx, &service.InboundRecord{ID: "in-" + id, At: old, Channel: "smtp", DiscussionID: id, Result: "applied"}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.ClaimIdempotencyKey(ctx, &service.IdempotencyKey{ID: "bs1:key-" + id, DiscussionID: id, CreatedAt: old, ExpiresAt: old.Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
		if err := s.AddNotice(ctx, notice("n-"+id, "bs@council.example.org", id, service.NoticeDecline, "k", old)); err != nil {
			t.Fatal(err)
		}
	}
	wantCode(t, "purge at a stale version", s.PurgeDiscussion(ctx, "gone", 7), service.ECONFLICT)
	mustLoad(t, s, "gone")
	if err := s.PurgeDiscussion(ctx, "gone", 1); err != nil {
		t.Fatalf("purge: %v", err)
	}
	_, err := s.Discussion(ctx, "gone")
	wantCode(t, "the purged discussion", err, service.ENOTFOUND)
	wantCode(t, "a second purge", s.PurgeDiscussion(ctx, "gone", 1), service.ENOTFOUND)

	// What was kept for it is gone; the other discussion's is all there.
	for id, want := range map[string]int{"gone": 0, "kept": 1} {
		hs, err := s.Holds(ctx, []string{"p-" + id}, old.Add(-time.Hour), old.Add(time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		if got := min(len(hs), 1); got != want {
			t.Errorf("%s: %d holds left", id, len(hs))
		}
		ms, err := s.Messages(ctx, []string{"m-" + id})
		if err != nil {
			t.Fatal(err)
		}
		if len(ms) != want {
			t.Errorf("%s: %d outbox messages left, want %d", id, len(ms), want)
		}
		in, err := s.InboundRecords(ctx, id, 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(in) != want {
			t.Errorf("%s: %d inbound records left, want %d", id, len(in), want)
		}
		existing, err := s.ClaimIdempotencyKey(ctx, &service.IdempotencyKey{ID: "bs1:key-" + id, DiscussionID: "new", CreatedAt: T0, ExpiresAt: T0.Add(time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		if (existing != nil) != (want == 1) {
			t.Errorf("%s: idempotency key still held: %v, want %v", id, existing != nil, want == 1)
		}
		ns, err := s.Inbox(ctx, service.InboxFilter{Recipients: []string{"bs@council.example.org"}, All: true, Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, x := range ns {
			if x.DiscussionID == id {
				n++
			}
		}
		if n != want {
			t.Errorf("%s: %d notices left, want %d", id, n, want)
		}
	}
	mustLoad(t, s, "kept")
}

// testPurgeAudit: audit entries older than the bound go, newer ones stay,
// and nothing else deletes them.
func testPurgeAudit(t *testing.T, s service.Store) {
	var entries []service.AuditEntry
	for i, at := range []time.Time{T0.AddDate(-3, 0, 0), T0.AddDate(-2, 0, -1), T0.AddDate(-1, 0, 0), T0} {
		e := auditEntry(i, "discussions/d1", "bs1")
		e.At = at
		entries = append(entries, e)
	}
	if err := s.AppendAudit(ctx, entries); err != nil {
		t.Fatal(err)
	}
	n, err := s.PurgeAudit(ctx, T0.AddDate(-2, 0, 0))
	if err != nil {
		t.Fatal(err)
	}
	if n != 2 {
		t.Errorf("purged %d audit entries, want 2", n)
	}
	left, err := s.Audit(ctx, service.AuditFilter{Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, e := range left {
		ids = append(ids, e.ID)
	}
	if want := []string{entries[3].ID, entries[2].ID}; !cmp.Equal(ids, want) {
		t.Errorf("audit entries left %v, want %v", ids, want)
	}
	if n, err := s.PurgeAudit(ctx, T0.AddDate(-2, 0, 0)); err != nil || n != 0 {
		t.Errorf("a second purge: %d, %v; want 0, nil", n, err)
	}
}

// testCaseReferenceSearch: a subject-access search finds every discussion
// of a case reference, whatever its status, and no other.
func testCaseReferenceSearch(t *testing.T, s service.Store) {
	mustCreate(t, s,
		finished("s1", service.StatusConcluded, T0.AddDate(0, -3, 0), "CR-2026-0042"),
		finished("s2", service.StatusCancelled, T0.AddDate(0, -1, 0), "CR-2026-0042"),
		Discussion("s3", T0.Add(48*time.Hour)),
		finished("s4", service.StatusConcluded, T0, "CR-2026-00421"),
	)
	d := Discussion("s5", T0.Add(24*time.Hour))
	d.CaseReference = "CR-2026-0042"
	mustCreate(t, s, d)
	got := list(t, s, service.DiscussionFilter{CaseReference: "CR-2026-0042", Limit: 50})
	slices.Sort(got)
	if want := []string{"s1", "s2", "s5"}; !slices.Equal(got, want) {
		t.Errorf("case reference search found %v, want %v", got, want)
	}
}
