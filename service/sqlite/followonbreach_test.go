package sqlite

import (
	"context"
	"strings"
	"testing"

	"github.com/convene/convene/service"
)

// TestFollowOnBreachListIsIndexed: the list of discussions with a missed
// follow-on (business support's follow_on_breach=true) walks the partial
// index of those discussions in deadline order, alone or with a status,
// rather than scanning every discussion.
func TestFollowOnBreachListIsIndexed(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, err := Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	yes := true
	for _, f := range []service.DiscussionFilter{
		{FollowOnBreach: &yes, Limit: 25},
		{FollowOnBreach: &yes, Status: []service.DiscussionStatus{service.StatusConcluded}, Limit: 25},
		{FollowOnBreach: &yes, Status: []service.DiscussionStatus{service.StatusConcluded, service.StatusBooked}, Limit: 25},
	} {
		q, args := listQuery(f)
		rows, err := s.r.QueryContext(ctx, "EXPLAIN QUERY PLAN "+q, args...)
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
		if !strings.Contains(all, "discussions_follow_on_breach") || strings.Contains(all, "TEMP B-TREE") {
			t.Errorf("%s\nplan: %s\nwant the discussions_follow_on_breach index, in order", q, all)
		}
	}
}
