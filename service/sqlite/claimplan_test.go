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
	ctx := context.Background()
	s, err := Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	now := time.Now()
	rows, err := s.r.QueryContext(ctx, "EXPLAIN QUERY PLAN "+claimQuery, ts(now), "w", ts(now.Add(time.Minute)))
	if err != nil {
		t.Fatal(err)
	}
	var plan []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, detail)
	}
	if err := rows.Close(); err != nil {
		t.Fatal(err)
	}
	all := strings.Join(plan, "; ")
	if !strings.Contains(all, "USING INDEX outbox_queue") || strings.Contains(all, "outbox_state") || strings.Contains(all, "TEMP B-TREE") {
		t.Errorf("claim plan: %s\nwant the outbox_queue index, in order", all)
	}
}
