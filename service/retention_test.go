package service_test

import (
	"slices"
	"testing"
	"time"

	"github.com/convene/convene/service"
	"github.com/convene/convene/service/policy"
)

func TestRetainable(t *testing.T) {
	t.Parallel()
	now := time.Date(2027, 12, 1, 9, 0, 0, 0, time.UTC)
	year := policy.Retention{DiscussionsMonths: 12, AuditMonths: 24}
	old := now.AddDate(-1, 0, -1)
	met := service.FollowOn{FollowOn: policy.FollowOn{ID: "ICPC"}, State: service.FollowOnMet}
	done := service.FollowOn{FollowOn: policy.FollowOn{ID: "S47"}, Done: true}
	open := service.FollowOn{FollowOn: policy.FollowOn{ID: "S47"}, State: service.FollowOnOpen}
	missed := service.FollowOn{FollowOn: policy.FollowOn{ID: "CHILD_SEEN"}, State: service.FollowOnMissed}
	circulated := &service.Circulation{Version: 1, At: old}
	for _, c := range []struct {
		name string
		d    service.Discussion
		r    policy.Retention
		want bool
		why  string
	}{
		{"concluded, record circulated, follow-ons met, a year on", service.Discussion{Status: service.StatusConcluded, UpdatedAt: old,
			Circulation: circulated, FollowOns: []service.FollowOn{met, done}}, year, true, ""},
		{"the same a day short of the year", service.Discussion{Status: service.StatusConcluded, UpdatedAt: now.AddDate(-1, 0, 1),
			Circulation: circulated, FollowOns: []service.FollowOn{met}}, year, false, "within its retention period"},
		{"an area keeping six months", service.Discussion{Status: service.StatusConcluded, UpdatedAt: now.AddDate(0, -7, 0),
			Circulation: circulated, FollowOns: []service.FollowOn{met}}, policy.Retention{DiscussionsMonths: 6, AuditMonths: 24}, true, ""},
		{"record never circulated", service.Discussion{Status: service.StatusConcluded, UpdatedAt: old,
			FollowOns: []service.FollowOn{met}}, year, false, "its record was never circulated"},
		{"a follow-on open", service.Discussion{Status: service.StatusConcluded, UpdatedAt: old,
			Circulation: circulated, FollowOns: []service.FollowOn{met, open}}, year, false, "follow-on S47 is not met"},
		{"a follow-on missed", service.Discussion{Status: service.StatusConcluded, UpdatedAt: old,
			Circulation: circulated, FollowOns: []service.FollowOn{missed}}, year, false, "follow-on CHILD_SEEN is not met"},
		{"cancelled a year ago", service.Discussion{Status: service.StatusCancelled, UpdatedAt: old}, year, true, ""},
		{"cancelled with a message still to send", service.Discussion{Status: service.StatusCancelled, UpdatedAt: old,
			Pending: []service.PendingMessage{{ID: "m"}}}, year, false, "messages still to be sent"},
		{"booked long ago and never held", service.Discussion{Status: service.StatusBooked, UpdatedAt: old}, year, false, "still open"},
		{"no retention set: the default year", service.Discussion{Status: service.StatusCancelled, UpdatedAt: now.AddDate(0, -11, 0)},
			policy.Retention{}, false, "within its retention period"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			got, why := service.Retainable(&c.d, c.r, now)
			if got != c.want || why != c.why {
				t.Errorf("Retainable = %v %q, want %v %q", got, why, c.want, c.why)
			}
		})
	}
}

func reload(t *testing.T, e *env, id string) *service.Discussion {
	t.Helper()
	d, err := e.app.Store.Discussion(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// conclude checks everyone in to the booked discussion, starts it and
// records an s47 outcome.
func conclude(t *testing.T, e *env, id string) *service.Discussion {
	t.Helper()
	for _, who := range []string{"chris@council.example.org", "sam@council.example.org", "dana@police.example.org", "nina@nhs.example.org"} {
		if _, err := e.app.RecordAttendance(e.chair, id, service.CheckInRequest{Email: who}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.app.StartDiscussion(e.chair, id, "test: ahead of the booked time"); err != nil {
		t.Fatal(err)
	}
	now := e.app.Now()
	d, err := e.app.RecordOutcome(e.chair, id, service.Outcome{Outcome: policy.OutcomeS47Enquiry,
		SignsOfSafety: service.SignsOfSafety{Concerns: "c", WorkingWell: "w", NeedToKnow: "n", NeedsToBeDone: "d"},
		Decisions:     []service.Decision{{Decision: "s47 enquiry", Rationale: "threshold met"}},
		Actions: []service.Action{{Description: "joint visit", Owner: "Sam Social", Agency: policy.AgencySocialCare,
			Due: now.Add(24 * time.Hour), Purpose: "see the child"}},
		ChildSeen: &service.ChildSeen{By: "Sam Social", At: now.Add(4 * time.Hour)},
		Review:    &service.Review{Date: now.Add(7 * 24 * time.Hour), Mechanism: "review discussion"}})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TestRetentionAYearOn: on both stores, with the clock moved a year and a
// day on, the retention pass purges a concluded discussion whose record
// was circulated and whose follow-ons are met, and a cancelled one, with
// everything kept for them, audited as the system; it keeps one whose
// follow-on is still open. The audit log is kept for its own, longer,
// period. A subject-access search by case reference finds what is left,
// for administrators only, and is audited.
func TestRetentionAYearOn(t *testing.T) {
	t.Parallel()
	for _, st := range stores {
		t.Run(st.name, func(t *testing.T) {
			t.Parallel()
			e, c, done := concludedEnv(t, st.open(t))
			start := c.Now()
			admin := as("ada", "ada@council.example.org", "", service.RoleAdmin)

			// done: circulated, every follow-on met.
			if _, err := e.app.CirculateRecord(e.bso, done.ID); err != nil {
				t.Fatal(err)
			}
			d := reload(t, e, done.ID)
			for _, fo := range d.FollowOns {
				var err error
				switch {
				case fo.State == service.FollowOnMet:
				case fo.ID == service.FollowOnICPC:
					_, err = e.app.RecordConference(e.bso, done.ID, c.Now().Add(48*time.Hour), "booked")
				default:
					_, err = e.app.MeetFollowOn(e.bso, done.ID, fo.ID, c.Now(), "done")
				}
				if err != nil {
					t.Fatalf("meet %s: %v", fo.ID, err)
				}
			}
			done = reload(t, e, done.ID)
			// cancelled: convened and called off.
			cancelled := e.convene(t, false)
			if _, err := e.app.Cancel(e.bso, cancelled.ID, "test: not needed"); err != nil {
				t.Fatal(err)
			}
			// open: concluded and circulated, its follow-ons not met.
			open := e.convene(t, false)
			e.book(t, open.ID, tomorrowAt(e.now, 14))
			conclude(t, e, open.ID)
			if _, err := e.app.CirculateRecord(e.bso, open.ID); err != nil {
				t.Fatal(err)
			}

			// A month on, nothing is purged.
			c.Set(start.AddDate(0, 1, 0))
			rep, err := e.app.RetainOnce(t.Context())
			if err != nil || len(rep.Purged) != 0 {
				t.Fatalf("a month on: purged %v, %v", rep.Purged, err)
			}

			// A year and a day on.
			c.Set(start.AddDate(1, 0, 1))
			rep, err = e.app.RetainOnce(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			slices.Sort(rep.Purged)
			want := []string{done.ID, cancelled.ID}
			slices.Sort(want)
			if !slices.Equal(rep.Purged, want) || rep.Held != 1 || rep.AuditPurged != 0 {
				t.Errorf("a year on: purged %v held %d audit %d; want %v held 1 audit 0", rep.Purged, rep.Held, rep.AuditPurged, want)
			}
			for _, id := range want {
				if _, err := e.app.Store.Discussion(t.Context(), id); service.ErrorCode(err) != service.ENOTFOUND {
					t.Errorf("discussion %s after the purge: %v, want ENOTFOUND", id, err)
				}
			}
			var sent []string
			for _, m := range done.Outbox {
				sent = append(sent, m.ID)
			}
			if ms, err := e.app.Store.Messages(t.Context(), sent); err != nil || len(ms) != 0 || len(sent) == 0 {
				t.Errorf("the purged discussion's %d outbox messages: %d left (%v)", len(sent), len(ms), err)
			}
			if _, err := e.app.Store.Discussion(t.Context(), open.ID); err != nil {
				t.Errorf("the discussion with open follow-ons was not kept: %v", err)
			}
			entries, err := e.app.ListAudit(admin, service.AuditFilter{Actor: "retention", Limit: 50})
			if err != nil {
				t.Fatal(err)
			}
			var purged []string
			for _, en := range entries {
				if en.Action == "discussion.purge" {
					purged = append(purged, en.Resource)
				}
			}
			slices.Sort(purged)
			if w := []string{"discussions/" + want[0], "discussions/" + want[1]}; !slices.Equal(purged, w) {
				t.Errorf("purges audited %v, want %v", purged, w)
			}

			// Subject access: administrators only, audited.
			if _, err := e.app.CaseSearch(e.bso, open.CaseReference); service.ErrorCode(err) != service.EFORBIDDEN {
				t.Errorf("business support searched by case reference: %v", err)
			}
			found, err := e.app.CaseSearch(admin, open.CaseReference)
			if err != nil || len(found) != 1 || found[0].ID != open.ID {
				t.Errorf("case search for the kept discussion: %v %v", found, err)
			}
			if found, err := e.app.CaseSearch(admin, done.CaseReference); err != nil || len(found) != 0 {
				t.Errorf("case search for the purged discussion found %d (%v)", len(found), err)
			}
			if entries, err := e.app.ListAudit(admin, service.AuditFilter{Resource: "cases", Limit: 10}); err != nil || len(entries) != 2 {
				t.Errorf("case searches audited: %d (%v), want 2", len(entries), err)
			}

			// Two years and a month on, the audit entries of the first
			// weeks are past the audit retention (24 months) and go; the
			// purges' own entries (13 months old) stay.
			c.Set(start.AddDate(2, 1, 0))
			rep, err = e.app.RetainOnce(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			if rep.AuditPurged == 0 {
				t.Errorf("no audit entries purged two years on")
			}
			left, err := e.app.Store.Audit(t.Context(), service.AuditFilter{Limit: 500})
			if err != nil {
				t.Fatal(err)
			}
			cutoff := c.Now().AddDate(0, -24, 0)
			var purges int
			for _, en := range left {
				if en.At.Before(cutoff) {
					t.Errorf("audit entry %s of %s outlived its retention", en.Action, en.At)
				}
				if en.Action == "discussion.purge" {
					purges++
				}
			}
			if purges != 2 {
				t.Errorf("%d purge entries kept, want 2", purges)
			}
		})
	}
}
