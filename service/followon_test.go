package service

import (
	"strings"
	"testing"
	"time"

	"github.com/convene/convene/service/policy"
)

// Owners: every default follow-on is social care's; the chair answers for
// it, except that seeing the child and the s47 enquiry are the social
// worker's named in the outcome (001, 003 §4).
func TestFollowOnOwners(t *testing.T) {
	t.Parallel()
	d := concluded(t)
	d.Outcome.ChildSeen.By = "sam"
	d.FollowOns[1].Owner = nil
	d.assignFollowOnOwners()
	for _, tc := range []struct{ id, name, email string }{
		{"RECORD", "chris", "chris@council.example"},
		{"ICPC", "chris", "chris@council.example"},
		{"S47", "sam", "sam@council.example"},
	} {
		fo := d.followOn(tc.id)
		if fo.Owner == nil || fo.Owner.Agency != policy.AgencySocialCare || fo.Owner.Name != tc.name || fo.Owner.Email != tc.email || fo.state() != FollowOnOpen {
			t.Errorf("%s: owner %+v state %s, want %s <%s>, open", tc.id, fo.Owner, fo.state(), tc.name, tc.email)
		}
	}
}

func TestMayMeetFollowOn(t *testing.T) {
	t.Parallel()
	d := concluded(t)
	fo := d.followOn("S47")
	for _, tc := range []struct {
		name string
		p    *Principal
		may  bool
	}{
		{"business support", principal("bea@council.example", policy.AgencySocialCare, RoleBusinessSupport), true},
		{"the chair", principal("chris@council.example", policy.AgencySocialCare, RoleChair), true},
		{"the owning agency's participant", principal("sam@council.example", policy.AgencySocialCare, RoleAgencyRep), true},
		{"another agency's participant", principal("dana@police.example", policy.AgencyPolice, RoleAgencyRep), false},
		{"a chair of another discussion", principal("other@council.example", policy.AgencySocialCare, RoleChair), false},
	} {
		if got := d.mayMeetFollowOn(tc.p, fo); got != tc.may {
			t.Errorf("%s: may %v, want %v", tc.name, got, tc.may)
		}
	}
}

func TestMeetFollowOn(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 6, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name string
		id   string
		at   time.Time
		note string
		code string
		late bool
	}{
		{"met in time, with a note", "S47", now.Add(-time.Hour), "enquiry completed; ICPC requested", "", false},
		{"met now when no time is given", "S47", time.Time{}, "", "", false},
		{"met after its due time: met late, and missed", "S47", time.Date(2026, 3, 10, 9, 0, 0, 0, time.UTC), "", "", true},
		{"not in the future", "S47", now.Add(time.Hour), "", EINVALID, false},
		{"not before the discussion", "S47", t0, "", EINVALID, false},
		{"a note is bounded", "S47", now, strings.Repeat("x", 1001), EINVALID, false},
		{"RECORD is met by circulating", "RECORD", now, "", EPRECONDITION, false},
		{"ICPC is met by the conference date", "ICPC", now, "", EPRECONDITION, false},
		{"an unknown follow-on", "NOPE", now, "", ENOTFOUND, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			d := concluded(t)
			when := now
			if tc.late {
				when = tc.at.Add(time.Hour)
			}
			_, err := d.MeetFollowOn(tc.id, tc.at, tc.note, bso, when)
			if code(err) != tc.code {
				t.Fatalf("err %v, want %q", err, tc.code)
			}
			if tc.code != "" {
				return
			}
			fo := d.followOn(tc.id)
			want := tc.at
			if want.IsZero() {
				want = when
			}
			if fo.state() != FollowOnMet || !fo.Done || !fo.MetAt.Equal(want) || fo.MetBy.Subject != bso.Subject || fo.Note != tc.note {
				t.Errorf("follow-on %+v", fo)
			}
			if got := fo.MissedAt != nil && d.FollowOnBreach != nil; got != tc.late {
				t.Errorf("missed %v (breach %+v), want %v", got, d.FollowOnBreach, tc.late)
			}
			if _, err := d.MeetFollowOn(tc.id, tc.at, "", bso, when); code(err) != EPRECONDITION {
				t.Errorf("met twice: %v", err)
			}
		})
	}
}

// 000 §2, 002 §6: the ICPC within 15 working days; recording its date
// meets the follow-on, or, for a date after the deadline, flags it missed
// at once.
func TestRecordConference(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 6, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name  string
		date  time.Time
		code  string
		state FollowOnState
	}{
		{"within the deadline", time.Date(2026, 3, 19, 10, 0, 0, 0, time.UTC), "", FollowOnMet},
		{"after the deadline", time.Date(2026, 3, 24, 10, 0, 0, 0, time.UTC), "", FollowOnMissed},
		{"before the discussion", t0.Add(-24 * time.Hour), EINVALID, ""},
		{"no date", time.Time{}, EINVALID, ""},
		{"too far ahead", now.AddDate(0, 4, 0), EINVALID, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			d := concluded(t)
			_, err := d.RecordConference(tc.date, "", bso, now)
			if code(err) != tc.code {
				t.Fatalf("err %v, want %q", err, tc.code)
			}
			if tc.code != "" {
				return
			}
			fo := d.followOn(FollowOnICPC)
			if fo.state() != tc.state || !fo.ConferenceDate.Equal(tc.date) {
				t.Errorf("ICPC %+v, want %s on %s", fo, tc.state, tc.date)
			}
			if flagged := d.FollowOnBreach != nil; flagged != (tc.state == FollowOnMissed) {
				t.Errorf("breach flag %+v", d.FollowOnBreach)
			}
		})
	}
	t.Run("no enquiry, no conference", func(t *testing.T) {
		t.Parallel()
		d := concluded(t)
		d.FollowOns = d.FollowOns[:1]
		if _, err := d.RecordConference(now, "", bso, now); code(err) != EPRECONDITION {
			t.Fatalf("err %v", err)
		}
	})
}

// The watch: a follow-on due within the lead is reminded once; one past
// its due time is missed, once, and the discussion flagged.
func TestFollowOnFindings(t *testing.T) {
	t.Parallel()
	d := concluded(t)
	recordDue := d.followOn("RECORD").Due
	f := d.followOnFindings(recordDue.Add(-2*time.Hour), 24*time.Hour, time.Time{})
	if len(f.DueSoon) != 1 || f.DueSoon[0] != "RECORD" || len(f.Missed) != 0 {
		t.Fatalf("findings a day before: %+v", f)
	}
	d.applyFollowOnFindings(f, recordDue.Add(-2*time.Hour), map[string]any{})
	if f := d.followOnFindings(recordDue.Add(-time.Hour), 24*time.Hour, time.Time{}); !f.empty() {
		t.Errorf("reminded twice: %+v", f)
	}
	after := recordDue.Add(time.Minute)
	f = d.followOnFindings(after, 24*time.Hour, time.Time{})
	if len(f.Missed) != 1 || f.Missed[0] != "RECORD" {
		t.Fatalf("findings after the due time: %+v", f)
	}
	d.applyFollowOnFindings(f, after, map[string]any{})
	fo := d.followOn("RECORD")
	if fo.state() != FollowOnMissed || !fo.MissedAt.Equal(after) || d.FollowOnBreach == nil || !strings.Contains(d.FollowOnBreach.Reason, "RECORD") {
		t.Errorf("after the watch: %+v, breach %+v", fo, d.FollowOnBreach)
	}
	if f := d.followOnFindings(after.Add(time.Hour), 24*time.Hour, time.Time{}); len(f.Missed) != 0 {
		t.Errorf("missed twice: %+v", f)
	}
	// Circulated late, it is met, and the miss stays on the record.
	if _, err := d.Circulate(bso, after.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if fo := d.followOn("RECORD"); fo.state() != FollowOnMet || fo.MissedAt == nil || d.FollowOnBreach == nil {
		t.Errorf("circulated late: %+v", fo)
	}
}
