package httpapi_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/convene/convene/service"
	"github.com/convene/convene/service/policy"
)

var watch = service.Watch{Interval: time.Minute, AtRiskFraction: 0.5, ReminderAfter: 4 * time.Hour}

// listed returns the ids the discussions list gives business support for
// a query.
func (m *mailHarness) listed(t *testing.T, query string) []string {
	t.Helper()
	r := m.at(t).do("GET", "/v1/discussions?"+query, m.support, nil)
	if r.Status != 200 {
		t.Fatalf("list ?%s: %d %s", query, r.Status, r.Body)
	}
	var page struct{ Items []struct{ ID string } }
	decodeInto(t, r.Body, &page)
	var ids []string
	for _, it := range page.Items {
		ids = append(ids, it.ID)
	}
	return ids
}

// TestDeadlineWatchAtRiskAndBreached: a discussion convened on Friday
// morning under the general rule (deadline Wednesday 17:00) and never
// booked is flagged at risk once half its time has gone, and breached once
// the deadline passes; the list filters and the gauges show both.
func TestDeadlineWatchAtRiskAndBreached(t *testing.T) {
	t.Parallel()
	m := newMailHarness(t, nil)
	id := m.convene(t)
	ctx := context.Background()
	if err := m.app.WatchOnce(ctx, watch); err != nil {
		t.Fatal(err)
	}
	if got := m.listed(t, "at_risk=true"); len(got) != 0 {
		t.Errorf("at risk straight after convening: %v", got)
	}

	m.clock.Advance(70 * time.Hour) // Monday 07:00: more than half of the 128 hours gone
	if err := m.app.WatchOnce(ctx, watch); err != nil {
		t.Fatal(err)
	}
	if got := m.listed(t, "at_risk=true"); len(got) != 1 || got[0] != id {
		t.Errorf("at risk on Monday morning: %v, want [%s]", got, id)
	}
	if got, want := m.app.Stats.AtRisk.Load(), int64(1); got != want {
		t.Errorf("at-risk gauge = %d, want %d", got, want)
	}
	if got := m.listed(t, "breached=true"); len(got) != 0 {
		t.Errorf("breached before the deadline: %v", got)
	}

	m.clock.Advance(59 * time.Hour) // Wednesday 18:00, an hour past the deadline
	if err := m.app.WatchOnce(ctx, watch); err != nil {
		t.Fatal(err)
	}
	if got := m.listed(t, "breached=true"); len(got) != 1 || got[0] != id {
		t.Errorf("breached after the deadline: %v, want [%s]", got, id)
	}
	d, _ := m.store.Discussion(ctx, id)
	if d.Breach == nil || !strings.Contains(d.Breach.Reason, "without a booking") {
		t.Errorf("breach = %+v, want the deadline passed without a booking", d.Breach)
	}
	if got, want := m.app.Stats.Breached.Load(), int64(1); got != want {
		t.Errorf("breached gauge = %d, want %d", got, want)
	}
}

// TestDeadlineWatchRemindsOnce: invitees who have not answered four hours
// after the invitation are sent it again, once; those who answered are
// not.
func TestDeadlineWatchRemindsOnce(t *testing.T) {
	t.Parallel()
	m := newMailHarness(t, nil)
	id, uid := m.booked(t)
	ctx := context.Background()
	// One invitee answers straight away.
	m.imipOK(t, replyFixture(t, "outlook-desktop-accepted.eml", uid), "recorded")
	before := len(m.messages(t, id))

	m.clock.Advance(3 * time.Hour)
	if err := m.app.WatchOnce(ctx, watch); err != nil {
		t.Fatal(err)
	}
	if got := len(m.messages(t, id)); got != before {
		t.Fatalf("reminders after three hours: %d messages, want %d", got, before)
	}
	m.clock.Advance(2 * time.Hour)
	if err := m.app.WatchOnce(ctx, watch); err != nil {
		t.Fatal(err)
	}
	d, _ := m.store.Discussion(ctx, id)
	var silent []string
	for _, inv := range d.Invitees {
		if !inv.Removed && inv.Reply == policy.ReplyNeedsAction {
			silent = append(silent, inv.Email)
		}
	}
	var reminded []string
	for _, msg := range m.messages(t, id)[before:] {
		if msg.Method != "REQUEST" || msg.Sequence != d.Sequence {
			t.Errorf("reminder %s: %s sequence %d, want the current REQUEST (sequence %d)", msg.ID, msg.Method, msg.Sequence, d.Sequence)
		}
		reminded = append(reminded, msg.To)
	}
	if strings.Join(reminded, ",") != strings.Join(silent, ",") || len(silent) == 0 {
		t.Errorf("reminded %v, want exactly those who have not answered: %v", reminded, silent)
	}
	if got, want := m.app.Stats.AwaitingReply.Load(), int64(len(silent)); got != want {
		t.Errorf("awaiting-reply gauge = %d, want %d", got, want)
	}
	after := len(m.messages(t, id))
	m.clock.Advance(5 * time.Hour)
	if err := m.app.WatchOnce(ctx, watch); err != nil {
		t.Fatal(err)
	}
	if got := len(m.messages(t, id)); got != after {
		t.Errorf("a second pass sent %d more reminders, want none", got-after)
	}
}

// TestDeadlineWatchOverdueFollowOns: follow-on deadlines past due and not
// done are counted for the gauge.
func TestDeadlineWatchOverdueFollowOns(t *testing.T) {
	t.Parallel()
	m := newMailHarness(t, nil)
	ctx := context.Background()
	id := m.convene(t)
	// The discussion as the outcome leaves it, written through the store
	// (the outcome flow itself is tested end to end).
	d, err := m.store.Discussion(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	now := m.clock.Now()
	before := d.Clone()
	d.Status = service.StatusConcluded
	d.FollowOns = []service.FollowOn{
		{FollowOn: policy.FollowOn{ID: "RECORD", Due: now.Add(24 * time.Hour)}},
		{FollowOn: policy.FollowOn{ID: "ICPC", Due: now.Add(15 * 24 * time.Hour)}},
		{FollowOn: policy.FollowOn{ID: "S47", Due: now.Add(48 * time.Hour)}, Done: true},
	}
	if err := m.store.PatchDiscussion(ctx, service.Diff(before, d, now)); err != nil {
		t.Fatal(err)
	}
	m.clock.Advance(72 * time.Hour)
	if err := m.app.WatchOnce(ctx, watch); err != nil {
		t.Fatal(err)
	}
	if got, want := m.app.Stats.OverdueFollowOns.Load(), int64(1); got != want {
		t.Errorf("overdue follow-ons = %d, want %d (the record; the conference is not due, the enquiry is done)", got, want)
	}
}
