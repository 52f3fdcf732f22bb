package sqlite

import (
	"context"
	"strings"
	"testing"
	"time"
)

// TestClaimWalksTheSendQueue: a claim reads the send queue's partial index
// in due order and stops at the first message due, however many are
// queued; it neither takes the index on state nor sorts the queue. (With
// no statistics on the outbox SQLite chose both, and each claim read every
// queued message.)
func TestClaimWalksTheSendQueue(t *testing.T) {
	t.Parallel()
	s := openForPlans(t)
	now := time.Now()
	all := strings.Join(queryPlan(t, s, claimQuery, ts(now), "w", ts(now.Add(time.Minute))), "; ")
	if !strings.Contains(all, "USING INDEX outbox_queue") || strings.Contains(all, "outbox_state") || strings.Contains(all, "TEMP B-TREE") {
		t.Errorf("claim plan: %s\nwant the outbox_queue index, in order", all)
	}
}

// openForPlans opens a new store whose query plans a test reads.
func openForPlans(t *testing.T) *Store {
	t.Helper()
	s, err := Open(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// queryPlan is SQLite's plan for q, a line for each step.
func queryPlan(t *testing.T, s *Store, q string, args ...any) []string {
	t.Helper()
	rows, err := s.r.QueryContext(context.Background(), "EXPLAIN QUERY PLAN "+q, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, detail)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return plan
}
