package sqlite

import (
	"strings"
	"testing"
	"time"

	"github.com/convene/convene/service"
)

// TestOnePersonsListIsIndexed: one person's discussions (VisibleTo: an
// agency representative's invitations, a chair's Today) come off their
// memberships in deadline order, with the date filters and the cursor
// bounding the range on the membership's deadline; with statuses, one
// range per status of members_email_status, so the open ones are found
// without walking the person's concluded years.
func TestOnePersonsListIsIndexed(t *testing.T) {
	t.Parallel()
	s := openForPlans(t)
	open := []service.DiscussionStatus{service.StatusProposed, service.StatusBooked, service.StatusInProgress}
	now := time.Now()
	for _, c := range []struct {
		f     service.DiscussionFilter
		index string
		want  []string // each range bound
	}{
		{service.DiscussionFilter{VisibleTo: "dana@police.example.org", Status: open, Limit: 25}, "members_email_status", []string{"email=? AND status=?"}},
		{service.DiscussionFilter{VisibleTo: "dana@police.example.org", Status: open[1:2], Limit: 25}, "members_email_status", []string{"email=? AND status=?"}},
		{service.DiscussionFilter{VisibleTo: "dana@police.example.org", Status: open, DeadlineFrom: now, Limit: 25}, "members_email_status",
			[]string{"email=? AND status=? AND deadline>?"}},
		{service.DiscussionFilter{VisibleTo: "dana@police.example.org", Status: open, DueBefore: now, Limit: 25}, "members_email_status",
			[]string{"email=? AND status=? AND deadline<?"}},
		{service.DiscussionFilter{VisibleTo: "dana@police.example.org", Status: open, AfterDeadline: now, AfterID: "x", Limit: 25}, "members_email_status",
			[]string{"email=? AND status=? AND (deadline,discussion_id)>(?,?)"}},
		{service.DiscussionFilter{VisibleTo: "dana@police.example.org", Limit: 25}, "members_email", []string{"email=?"}},
		{service.DiscussionFilter{VisibleTo: "dana@police.example.org", DeadlineFrom: now, DueBefore: now.Add(time.Hour), Limit: 25}, "members_email",
			[]string{"email=? AND deadline>? AND deadline<?"}},
	} {
		q, args := listQuery(c.f)
		plan := queryPlan(t, s, q, args...)
		all := strings.Join(plan, "; ")
		ranges := 0
		for _, p := range plan {
			if strings.Contains(p, "SEARCH m USING") {
				ranges++
				if !strings.Contains(p, "INDEX "+c.index+" (") || !strings.Contains(p, "("+c.want[0]+")") {
					t.Errorf("%s\nplan: %s\nwant %s (%s)", q, all, c.index, c.want[0])
				}
			}
		}
		// The merge of several statuses' ranges sorts at most a page of
		// each; one range is read in order.
		arms := max(1, len(c.f.Status))
		if ranges != arms || strings.Contains(all, "TEMP B-TREE") && len(c.f.Status) < 2 {
			t.Errorf("%s\nplan: %s\nwant %d index ranges in order", q, all, arms)
		}
	}
}
