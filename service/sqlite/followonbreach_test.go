package sqlite

import (
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
	s := openForPlans(t)
	yes := true
	for _, f := range []service.DiscussionFilter{
		{FollowOnBreach: &yes, Limit: 25},
		{FollowOnBreach: &yes, Status: []service.DiscussionStatus{service.StatusConcluded}, Limit: 25},
		{FollowOnBreach: &yes, Status: []service.DiscussionStatus{service.StatusConcluded, service.StatusBooked}, Limit: 25},
	} {
		q, args := listQuery(f)
		all := strings.Join(queryPlan(t, s, q, args...), "; ")
		if !strings.Contains(all, "discussions_follow_on_breach") || strings.Contains(all, "TEMP B-TREE") {
			t.Errorf("%s\nplan: %s\nwant the discussions_follow_on_breach index, in order", q, all)
		}
	}
}
