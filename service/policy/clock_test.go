package policy

import (
	"errors"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/convene/convene/calendar"
)

var london = func() *time.Location {
	loc, err := time.LoadLocation("Europe/London")
	if err != nil {
		panic(err)
	}
	return loc
}()

// at parses a London wall-clock time, "2006-01-02 15:04" or with seconds.
func at(s string) time.Time {
	layout := "2006-01-02 15:04"
	if len(s) == len("2006-01-02 15:04:05") {
		layout = "2006-01-02 15:04:05"
	}
	t, err := time.ParseInLocation(layout, s, london)
	if err != nil {
		panic(err)
	}
	return t
}

func ptr(s string) *time.Time { t := at(s); return &t }

func defaultProfile(t testing.TB) *Profile {
	t.Helper()
	p, err := DefaultProfile(nil)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

const (
	ew = calendar.RegionEnglandAndWales
	sc = calendar.RegionScotland
	ni = calendar.RegionNorthernIreland
)

func concerns(cs ...Concern) []Concern { return cs }

// TestClockRules covers every clock rule of the default profile at ordinary
// times and at the edges. Each expected deadline was worked out by hand from
// a printed calendar and the government's bank holidays: 2025 has Good
// Friday 18 April, Easter Monday 21 April (not Scotland), early May 5 May,
// summer 4 August in Scotland and 25 August elsewhere, St Patrick's Day
// Monday 17 March (Northern Ireland), the Boyne holiday Monday 14 July
// (Northern Ireland), Christmas Thursday 25 and Boxing Day Friday 26
// December; 2026 has 1 January a Thursday, 2 January (Scotland) a Friday,
// Good Friday 3 April and Easter Monday 6 April. British Summer Time runs
// from 30 March to 26 October 2025 and from 29 March to 25 October 2026.
func TestClockRules(t *testing.T) {
	p := defaultProfile(t)
	tests := []struct {
		name    string
		req     TimescaleRequest
		binding string
		want    string // the binding deadline, London wall clock
	}{
		// S1: serious physical injury or neglect, same calendar day.
		{"S1 ordinary", TimescaleRequest{Concerns: concerns(ConcernSeriousPhysicalInjury), ReferralReceivedAt: at("2025-06-02 10:00")}, "S1", "2025-06-02 23:59:59"},
		{"S1 neglect 16:59", TimescaleRequest{Concerns: concerns(ConcernSeriousNeglect), ReferralReceivedAt: at("2025-06-02 16:59")}, "S1", "2025-06-02 23:59:59"},
		{"S1 17:01", TimescaleRequest{Concerns: concerns(ConcernSeriousNeglect), ReferralReceivedAt: at("2025-06-02 17:01")}, "S1", "2025-06-02 23:59:59"},
		{"S1 Friday evening", TimescaleRequest{Concerns: concerns(ConcernSeriousPhysicalInjury), ReferralReceivedAt: at("2025-06-06 21:00")}, "S1", "2025-06-06 23:59:59"},
		{"S1 Saturday", TimescaleRequest{Concerns: concerns(ConcernSeriousPhysicalInjury), ReferralReceivedAt: at("2025-06-07 11:00")}, "S1", "2025-06-07 23:59:59"},
		{"S1 bank holiday", TimescaleRequest{Concerns: concerns(ConcernSeriousPhysicalInjury), ReferralReceivedAt: at("2025-05-05 11:00")}, "S1", "2025-05-05 23:59:59"},
		{"S1 Christmas Day", TimescaleRequest{Concerns: concerns(ConcernSeriousNeglect), ReferralReceivedAt: at("2025-12-25 09:00")}, "S1", "2025-12-25 23:59:59"},
		{"S1 spring clock-change day", TimescaleRequest{Concerns: concerns(ConcernSeriousNeglect), ReferralReceivedAt: at("2025-03-30 00:30")}, "S1", "2025-03-30 23:59:59"},
		{"S1 after midnight London, before midnight UTC", TimescaleRequest{Concerns: concerns(ConcernSeriousNeglect), ReferralReceivedAt: time.Date(2025, 6, 2, 23, 30, 0, 0, time.UTC)}, "S1", "2025-06-03 23:59:59"},
		{"S1 in the day's last second", TimescaleRequest{Concerns: concerns(ConcernSeriousNeglect), ReferralReceivedAt: at("2025-06-02 23:59:59").Add(500 * time.Millisecond)}, "S1", ""},

		// S2: penetrative sexual abuse with forensic evidence, same day;
		// without forensic evidence only the general rule applies.
		{"S2", TimescaleRequest{Concerns: concerns(ConcernPenetrativeSexualAbuse), ForensicEvidence: true, ReferralReceivedAt: at("2025-12-24 16:30")}, "S2", "2025-12-24 23:59:59"},
		{"S2 without forensic evidence is G1", TimescaleRequest{Concerns: concerns(ConcernPenetrativeSexualAbuse), ReferralReceivedAt: at("2025-12-24 16:30")}, "G1", "2025-12-31 17:00"},

		// S3: recent abuse with forensic evidence (Northern Ireland wording).
		{"S3 Northern Ireland", TimescaleRequest{Region: ni, Concerns: concerns(ConcernRecentAbuse), ForensicEvidence: true, ReferralReceivedAt: at("2025-07-12 10:00")}, "S3", "2025-07-12 23:59:59"},
		{"S3 without forensic evidence is G1", TimescaleRequest{Region: ni, Concerns: concerns(ConcernRecentAbuse), ReferralReceivedAt: at("2025-07-11 10:00")}, "G1", "2025-07-17 17:00"},

		// U1: emergency action, 1 working day from the action.
		{"U1 16:59", TimescaleRequest{ReferralReceivedAt: at("2025-06-02 09:00"), EmergencyActionAt: ptr("2025-06-02 16:59")}, "U1", "2025-06-03 17:00"},
		{"U1 17:01", TimescaleRequest{ReferralReceivedAt: at("2025-06-02 09:00"), EmergencyActionAt: ptr("2025-06-02 17:01")}, "U1", "2025-06-03 17:00"},
		{"U1 Friday night", TimescaleRequest{ReferralReceivedAt: at("2025-06-06 09:00"), EmergencyActionAt: ptr("2025-06-06 22:00")}, "U1", "2025-06-09 17:00"},
		{"U1 Saturday", TimescaleRequest{ReferralReceivedAt: at("2025-06-07 09:00"), EmergencyActionAt: ptr("2025-06-07 14:00")}, "U1", "2025-06-09 17:00"},
		{"U1 on a bank holiday", TimescaleRequest{ReferralReceivedAt: at("2025-05-05 09:00"), EmergencyActionAt: ptr("2025-05-05 11:00")}, "U1", "2025-05-06 17:00"},
		{"U1 before the English summer holiday: England", TimescaleRequest{ReferralReceivedAt: at("2025-08-22 09:00"), EmergencyActionAt: ptr("2025-08-22 11:00")}, "U1", "2025-08-26 17:00"},
		{"U1 before the English summer holiday: Scotland", TimescaleRequest{Region: sc, ReferralReceivedAt: at("2025-08-22 09:00"), EmergencyActionAt: ptr("2025-08-22 11:00")}, "U1", "2025-08-25 17:00"},
		{"U1 Christmas Eve", TimescaleRequest{ReferralReceivedAt: at("2025-12-24 09:00"), EmergencyActionAt: ptr("2025-12-24 15:00")}, "U1", "2025-12-29 17:00"},
		{"U1 New Year's Eve: England", TimescaleRequest{ReferralReceivedAt: at("2025-12-31 09:00"), EmergencyActionAt: ptr("2025-12-31 15:00")}, "U1", "2026-01-02 17:00"},
		{"U1 New Year's Eve: Scotland", TimescaleRequest{Region: sc, ReferralReceivedAt: at("2025-12-31 09:00"), EmergencyActionAt: ptr("2025-12-31 15:00")}, "U1", "2026-01-05 17:00"},
		{"U1 Maundy Thursday: England", TimescaleRequest{ReferralReceivedAt: at("2026-04-02 09:00"), EmergencyActionAt: ptr("2026-04-02 15:00")}, "U1", "2026-04-07 17:00"},
		{"U1 Maundy Thursday: Scotland", TimescaleRequest{Region: sc, ReferralReceivedAt: at("2026-04-02 09:00"), EmergencyActionAt: ptr("2026-04-02 15:00")}, "U1", "2026-04-06 17:00"},
		{"U1 across the spring clock change stays 17:00", TimescaleRequest{ReferralReceivedAt: at("2026-03-27 09:00"), EmergencyActionAt: ptr("2026-03-27 12:00")}, "U1", "2026-03-30 17:00"},
		{"U1 across the autumn clock change stays 17:00", TimescaleRequest{ReferralReceivedAt: at("2026-10-23 09:00"), EmergencyActionAt: ptr("2026-10-23 12:00")}, "U1", "2026-10-26 17:00"},
		{"U1 before the referral binds", TimescaleRequest{RAG: RAGRed, ReferralReceivedAt: at("2025-06-03 10:00"), EmergencyActionAt: ptr("2025-06-02 10:00")}, "U1", "2025-06-03 17:00"},

		// U2: RAG red, 1 working day from contact.
		{"U2 17:01", TimescaleRequest{RAG: RAGRed, ReferralReceivedAt: at("2025-06-05 17:01")}, "U2", "2025-06-06 17:00"},
		{"U2 Friday", TimescaleRequest{RAG: RAGRed, ReferralReceivedAt: at("2025-06-06 16:59")}, "U2", "2025-06-09 17:00"},
		{"U2 Saturday", TimescaleRequest{RAG: RAGRed, ReferralReceivedAt: at("2025-06-07 16:59")}, "U2", "2025-06-09 17:00"},
		{"U2 before the Boyne holiday: Northern Ireland", TimescaleRequest{Region: ni, RAG: RAGRed, ReferralReceivedAt: at("2025-07-11 10:00")}, "U2", "2025-07-15 17:00"},
		{"U2 before the Boyne holiday: England", TimescaleRequest{RAG: RAGRed, ReferralReceivedAt: at("2025-07-11 10:00")}, "U2", "2025-07-14 17:00"},
		{"U2 amber is G1", TimescaleRequest{RAG: RAGAmber, ReferralReceivedAt: at("2025-07-11 10:00")}, "G1", "2025-07-16 17:00"},
		{"S1 beats U2", TimescaleRequest{RAG: RAGRed, Concerns: concerns(ConcernSeriousNeglect), ReferralReceivedAt: at("2025-06-06 10:00")}, "S1", "2025-06-06 23:59:59"},

		// U3: investigation started without a discussion, 24 elapsed hours.
		{"U3 ordinary", TimescaleRequest{ReferralReceivedAt: at("2025-06-02 09:00"), InvestigationStartedAt: ptr("2025-06-02 10:00")}, "U3", "2025-06-03 10:00"},
		{"U3 Christmas Day", TimescaleRequest{ReferralReceivedAt: at("2025-12-25 08:00"), InvestigationStartedAt: ptr("2025-12-25 09:00")}, "U3", "2025-12-26 09:00"},
		{"U3 across the spring change: an hour later on the clock", TimescaleRequest{ReferralReceivedAt: at("2025-03-29 09:00"), InvestigationStartedAt: ptr("2025-03-29 12:00")}, "U3", "2025-03-30 13:00"},
		{"U3 across the autumn change: an hour earlier on the clock", TimescaleRequest{ReferralReceivedAt: at("2025-10-25 09:00"), InvestigationStartedAt: ptr("2025-10-25 12:00")}, "U3", "2025-10-26 11:00"},
		{"U3 beats D1", TimescaleRequest{ReferralReceivedAt: at("2025-06-02 09:00"), InvestigationStartedAt: ptr("2025-06-02 10:00"), DeferredAt: ptr("2025-06-02 10:00")}, "U3", "2025-06-03 10:00"},

		// C1: complex concerns, 5 working days from concerns identified.
		{"C1 organised abuse", TimescaleRequest{Concerns: concerns(ConcernOrganisedAbuse), ReferralReceivedAt: at("2025-06-02 10:00")}, "C1", "2025-06-09 17:00"},
		{"C1 over the early May holiday", TimescaleRequest{Concerns: concerns(ConcernAllegationAgainstStaff), ReferralReceivedAt: at("2025-05-02 17:01")}, "C1", "2025-05-12 17:00"},
		{"C1 from concerns identified", TimescaleRequest{Concerns: concerns(ConcernOrganisedAbuse), ReferralReceivedAt: at("2025-06-02 10:00"), ConcernsIdentifiedAt: ptr("2025-06-04 10:00")}, "C1", "2025-06-11 17:00"},
		{"C1 over Christmas: England", TimescaleRequest{Concerns: concerns(ConcernOrganisedAbuse), ReferralReceivedAt: at("2025-12-23 10:00")}, "C1", "2026-01-02 17:00"},
		{"C1 over Christmas: Scotland", TimescaleRequest{Region: sc, Concerns: concerns(ConcernOrganisedAbuse), ReferralReceivedAt: at("2025-12-23 10:00")}, "C1", "2026-01-05 17:00"},
		{"C1 is not overridden by the shorter general rule", TimescaleRequest{Concerns: concerns(ConcernAllegationAgainstStaff, ConcernOther), ReferralReceivedAt: at("2025-06-02 10:00")}, "C1", "2025-06-09 17:00"},
		{"U1 beats C1", TimescaleRequest{Concerns: concerns(ConcernOrganisedAbuse), ReferralReceivedAt: at("2025-06-02 10:00"), EmergencyActionAt: ptr("2025-06-02 12:00")}, "U1", "2025-06-03 17:00"},

		// C2: extra-familial risk to more than one child.
		{"C2", TimescaleRequest{Concerns: concerns(ConcernExtraFamilial), MultipleChildren: true, ReferralReceivedAt: at("2025-06-06 16:59")}, "C2", "2025-06-13 17:00"},
		{"C2 across Easter: England", TimescaleRequest{Concerns: concerns(ConcernExtraFamilial), MultipleChildren: true, ReferralReceivedAt: at("2025-04-17 10:00")}, "C2", "2025-04-28 17:00"},
		{"C2 across Easter: Scotland", TimescaleRequest{Region: sc, Concerns: concerns(ConcernExtraFamilial), MultipleChildren: true, ReferralReceivedAt: at("2025-04-17 10:00")}, "C2", "2025-04-25 17:00"},
		{"extra-familial, one child, is G1", TimescaleRequest{Concerns: concerns(ConcernExtraFamilial), ReferralReceivedAt: at("2025-06-06 16:59")}, "G1", "2025-06-11 17:00"},
		{"C1 and C2 tie: the first in the profile binds", TimescaleRequest{Concerns: concerns(ConcernExtraFamilial, ConcernOrganisedAbuse), MultipleChildren: true, ReferralReceivedAt: at("2025-06-02 10:00")}, "C1", "2025-06-09 17:00"},

		// G1: otherwise, 3 working days from concerns identified.
		{"G1 16:59", TimescaleRequest{Concerns: concerns(ConcernOther), ReferralReceivedAt: at("2025-06-02 16:59")}, "G1", "2025-06-05 17:00"},
		{"G1 17:01", TimescaleRequest{Concerns: concerns(ConcernOther), ReferralReceivedAt: at("2025-06-02 17:01")}, "G1", "2025-06-05 17:00"},
		{"G1 no concerns", TimescaleRequest{ReferralReceivedAt: at("2025-06-02 10:00")}, "G1", "2025-06-05 17:00"},
		{"G1 Friday", TimescaleRequest{ReferralReceivedAt: at("2025-06-06 10:00")}, "G1", "2025-06-11 17:00"},
		{"G1 Saturday", TimescaleRequest{ReferralReceivedAt: at("2025-06-07 10:00")}, "G1", "2025-06-11 17:00"},
		{"G1 bank holiday", TimescaleRequest{ReferralReceivedAt: at("2025-05-05 10:00")}, "G1", "2025-05-08 17:00"},
		{"G1 before the Scottish summer holiday: England", TimescaleRequest{ReferralReceivedAt: at("2025-08-01 10:00")}, "G1", "2025-08-06 17:00"},
		{"G1 before the Scottish summer holiday: Scotland", TimescaleRequest{Region: sc, ReferralReceivedAt: at("2025-08-01 10:00")}, "G1", "2025-08-07 17:00"},
		{"G1 before St Patrick's Day: Northern Ireland", TimescaleRequest{Region: ni, ReferralReceivedAt: at("2025-03-14 10:00")}, "G1", "2025-03-20 17:00"},
		{"G1 before St Patrick's Day: England", TimescaleRequest{ReferralReceivedAt: at("2025-03-14 10:00")}, "G1", "2025-03-19 17:00"},
		{"G1 Christmas Eve", TimescaleRequest{ReferralReceivedAt: at("2025-12-24 16:00")}, "G1", "2025-12-31 17:00"},
		{"G1 across New Year: England", TimescaleRequest{ReferralReceivedAt: at("2025-12-30 10:00")}, "G1", "2026-01-05 17:00"},
		{"G1 across New Year: Scotland", TimescaleRequest{Region: sc, ReferralReceivedAt: at("2025-12-30 10:00")}, "G1", "2026-01-06 17:00"},
		{"G1 across Easter: England", TimescaleRequest{ReferralReceivedAt: at("2025-04-17 10:00")}, "G1", "2025-04-24 17:00"},
		{"G1 across Easter: Scotland", TimescaleRequest{Region: sc, ReferralReceivedAt: at("2025-04-17 10:00")}, "G1", "2025-04-23 17:00"},
		{"G1 across the spring clock change stays 17:00", TimescaleRequest{ReferralReceivedAt: at("2025-03-27 10:00")}, "G1", "2025-04-01 17:00"},
		{"G1 across the autumn clock change stays 17:00", TimescaleRequest{ReferralReceivedAt: at("2025-10-23 10:00")}, "G1", "2025-10-28 17:00"},
		{"G1 from concerns identified", TimescaleRequest{ReferralReceivedAt: at("2025-06-02 10:00"), ConcernsIdentifiedAt: ptr("2025-06-04 10:00")}, "G1", "2025-06-09 17:00"},
		{"G1 beyond the snapshot (2028 by rule)", TimescaleRequest{ReferralReceivedAt: at("2027-12-30 10:00")}, "G1", "2028-01-05 17:00"},

		// D1: deferred, reconvene within 72 elapsed hours.
		{"D1 ordinary", TimescaleRequest{ReferralReceivedAt: at("2025-06-02 09:00"), DeferredAt: ptr("2025-06-02 15:00")}, "D1", "2025-06-05 15:00"},
		{"D1 over Christmas ignores holidays", TimescaleRequest{ReferralReceivedAt: at("2025-12-24 09:00"), DeferredAt: ptr("2025-12-24 10:00")}, "D1", "2025-12-27 10:00"},
		{"D1 across the last Sunday of March: 13:00 on the clock", TimescaleRequest{ReferralReceivedAt: at("2025-03-28 09:00"), DeferredAt: ptr("2025-03-28 12:00")}, "D1", "2025-03-31 13:00"},
		{"D1 across the last Sunday of October: 11:00 on the clock", TimescaleRequest{ReferralReceivedAt: at("2025-10-24 09:00"), DeferredAt: ptr("2025-10-24 12:00")}, "D1", "2025-10-27 11:00"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts, err := p.Timescale(tt.req)
			if err != nil {
				t.Fatal(err)
			}
			if got, want := ts.BindingRule.ID, tt.binding; got != want {
				t.Errorf("binding rule %s, want %s (rules %v)", got, want, ruleIDs(ts))
			}
			want := tt.req.ReferralReceivedAt.In(london) // the last-second case
			if tt.want != "" {
				want = at(tt.want)
			}
			if !ts.Deadline.Equal(want) {
				t.Errorf("deadline %s, want %s", ts.Deadline, want)
			}
			if got, want := ts.Deadline.Location().String(), "Europe/London"; got != want {
				t.Errorf("deadline in %s, want %s", got, want)
			}
			// The binding rule is among the rules, marked, with the same
			// deadline and its citation.
			var bound []RuleDeadline
			for _, r := range ts.Rules {
				if r.Binding {
					bound = append(bound, r)
				}
				if r.Deadline.Before(ts.Deadline) {
					t.Errorf("rule %s's deadline %s is before the binding one", r.ID, r.Deadline)
				}
				if r.Citation == "" {
					t.Errorf("rule %s has no citation", r.ID)
				}
			}
			if len(bound) != 1 || bound[0].ID != ts.BindingRule.ID || !bound[0].Deadline.Equal(ts.Deadline) || bound[0].Citation != ts.BindingRule.Citation {
				t.Errorf("binding rule not marked once among the rules: %+v", bound)
			}
		})
	}
}

func ruleIDs(ts Timescale) []string {
	var ids []string
	for _, r := range ts.Rules {
		ids = append(ids, r.ID)
	}
	return ids
}

// TestTimescaleWhole checks a whole answer: every rule that applies with
// its own deadline, the RAG decision, and the follow-ons.
func TestTimescaleWhole(t *testing.T) {
	p := defaultProfile(t)
	ts, err := p.Timescale(TimescaleRequest{
		Region:             sc,
		RAG:                RAGRed,
		Concerns:           concerns(ConcernSeriousPhysicalInjury, ConcernOrganisedAbuse),
		ReferralReceivedAt: at("2025-11-28 16:30"),
		EmergencyActionAt:  ptr("2025-11-28 14:00"),
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []RuleDeadline{
		{ID: "S1", Summary: "Serious risk of harm (serious physical injury or serious neglect)", Citation: "000 §5, 002 §6", Unit: UnitSameCalendarDay, Period: "same calendar day", Trigger: TriggerReferralReceived, TriggerAt: at("2025-11-28 16:30"), Deadline: at("2025-11-28 23:59:59"), Binding: true},
		// Monday 1 December 2025 is St Andrew's Day (substitute) in Scotland.
		{ID: "U1", Summary: "Emergency or immediate protective action taken by any agency", Citation: "000 §5, 002 §6", Unit: UnitWorkingDays, Within: 1, Period: "1 working day", Trigger: TriggerEmergencyAction, TriggerAt: at("2025-11-28 14:00"), Deadline: at("2025-12-02 17:00")},
		{ID: "U2", Summary: "Immediate safeguarding concerns (RAG red)", Citation: "003 §3, 001", Unit: UnitWorkingDays, Within: 1, Period: "1 working day", Trigger: TriggerContact, TriggerAt: at("2025-11-28 16:30"), Deadline: at("2025-12-02 17:00")},
		{ID: "C1", Summary: "Complex concerns (organised abuse, allegation against staff or a person in a position of trust)", Citation: "002 §6", Unit: UnitWorkingDays, Within: 5, Period: "5 working days", Trigger: TriggerConcernsIdentified, TriggerAt: at("2025-11-28 16:30"), Deadline: at("2025-12-08 17:00")},
	}
	if diff := cmp.Diff(want, ts.Rules); diff != "" {
		t.Errorf("rules (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(RuleRef{ID: "S1", Summary: want[0].Summary, Citation: "000 §5, 002 §6"}, ts.BindingRule); diff != "" {
		t.Errorf("binding rule (-want +got):\n%s", diff)
	}
	wantDecision := &DecisionDue{ID: "RAG-R", Summary: "MASH enquiry completed to inform the decision (red)", Citation: "001", RAG: RAGRed, Period: "4 hours", Due: at("2025-11-28 20:30")}
	if diff := cmp.Diff(wantDecision, ts.DecisionDue); diff != "" {
		t.Errorf("decision due (-want +got):\n%s", diff)
	}
	if got, want := ts.Region, sc; got != want {
		t.Errorf("region %s, want %s", got, want)
	}
	var followIDs []string
	for _, f := range ts.FollowOn {
		followIDs = append(followIDs, f.ID+" "+f.Period+" "+f.Citation)
	}
	if diff := cmp.Diff([]string{
		"RECORD 1 working day 000 §7, 004",
		"ICPC 15 working days 000 §2, 002 §6",
		"S47 5 working days 003 §4",
		"LADO 1 working day 003 §4, 001",
		"SEEN 24 hours 001",
		"RECONVENE 72 hours 001",
	}, followIDs); diff != "" {
		t.Errorf("follow-ons (-want +got):\n%s", diff)
	}
	if got, want := ts.FollowOn[1].Outcomes, []Outcome{OutcomeS47Enquiry}; !slices.Equal(got, want) {
		t.Errorf("ICPC outcomes %v, want %v", got, want)
	}
}

func TestDecisionDue(t *testing.T) {
	p := defaultProfile(t)
	tests := []struct {
		rag      RAG
		referral string
		want     string
	}{
		{RAGRed, "2025-06-05 17:01", "2025-06-05 21:01"},
		{RAGAmber, "2025-06-06 10:00", "2025-06-07 10:00"},
		{RAGGreen, "2025-06-06 10:00", "2025-06-09 10:00"},
		// Elapsed hours: across the spring change the wall clock moves on.
		{RAGRed, "2025-03-29 23:30", "2025-03-30 04:30"},
		{RAGGreen, "2025-03-28 12:00", "2025-03-31 13:00"},
		{RAGAmber, "2025-10-25 12:00", "2025-10-26 11:00"},
	}
	for _, tt := range tests {
		ts, err := p.Timescale(TimescaleRequest{RAG: tt.rag, ReferralReceivedAt: at(tt.referral)})
		if err != nil {
			t.Fatal(err)
		}
		if ts.DecisionDue == nil {
			t.Fatalf("%s %s: no decision due", tt.rag, tt.referral)
		}
		if got, want := ts.DecisionDue.Due, at(tt.want); !got.Equal(want) {
			t.Errorf("%s %s: decision due %s, want %s", tt.rag, tt.referral, got, want)
		}
		if got, want := ts.DecisionDue.Citation, "001"; got != want {
			t.Errorf("citation %q, want %q", got, want)
		}
	}
	ts, err := p.Timescale(TimescaleRequest{ReferralReceivedAt: at("2025-06-05 10:00")})
	if err != nil {
		t.Fatal(err)
	}
	if ts.DecisionDue != nil {
		t.Errorf("no RAG, decision due %+v", ts.DecisionDue)
	}
}

// The deadline's JSON carries the area's offset.
func TestTimescaleJSONOffset(t *testing.T) {
	p := defaultProfile(t)
	ts, err := p.Timescale(TimescaleRequest{ReferralReceivedAt: time.Date(2025, 6, 2, 9, 0, 0, 0, time.UTC)})
	if err != nil {
		t.Fatal(err)
	}
	b, err := ts.Deadline.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(b), `"2025-06-05T17:00:00+01:00"`; got != want {
		t.Errorf("deadline JSON %s, want %s", got, want)
	}
}

func TestTimescaleErrors(t *testing.T) {
	p := defaultProfile(t)
	tests := []struct {
		name string
		req  TimescaleRequest
		want []FieldError
	}{
		{"no referral", TimescaleRequest{}, []FieldError{{Field: "referral_received_at", Message: "required"}}},
		{"unknown concern", TimescaleRequest{ReferralReceivedAt: at("2025-06-02 10:00"), Concerns: []Concern{"serious_neglect", "other", "bullying"}},
			[]FieldError{{Field: "concerns[2]", Message: `unknown concern "bullying"`}}},
		{"unknown region and RAG", TimescaleRequest{ReferralReceivedAt: at("2025-06-02 10:00"), Region: "wales", RAG: "purple"},
			[]FieldError{
				{Field: "region", Message: `unknown region "wales" (want england-and-wales, scotland or northern-ireland)`},
				{Field: "rag", Message: `unknown RAG rating "purple" (want red, amber or green)`},
			}},
		{"zero optional time", TimescaleRequest{ReferralReceivedAt: at("2025-06-02 10:00"), DeferredAt: &time.Time{}},
			[]FieldError{{Field: "deferred_at", Message: "must be a time, or left out"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := p.Timescale(tt.req)
			var perr *Error
			if !errors.As(err, &perr) {
				t.Fatalf("error %v, want *Error", err)
			}
			if diff := cmp.Diff(tt.want, perr.Fields); diff != "" {
				t.Errorf("fields (-want +got):\n%s", diff)
			}
		})
	}
}

func TestFollowOns(t *testing.T) {
	p := defaultProfile(t)
	tests := []struct {
		name string
		req  FollowOnRequest
		want []string // id and due, London wall clock
	}{
		{"s47, harm substantiated", FollowOnRequest{HeldAt: at("2025-06-06 15:00"), Outcome: OutcomeS47Enquiry, HarmSubstantiated: true},
			[]string{"RECORD 2025-06-09 17:00", "ICPC 2025-06-27 17:00", "S47 2025-06-13 17:00", "SEEN 2025-06-07 15:00"}},
		{"s47, not substantiated", FollowOnRequest{HeldAt: at("2025-06-06 15:00"), Outcome: OutcomeS47Enquiry},
			[]string{"RECORD 2025-06-09 17:00", "ICPC 2025-06-27 17:00", "S47 2025-06-13 17:00"}},
		{"ICPC over Christmas: England", FollowOnRequest{HeldAt: at("2025-12-15 11:00"), Outcome: OutcomeS47Enquiry},
			[]string{"RECORD 2025-12-16 17:00", "ICPC 2026-01-08 17:00", "S47 2025-12-22 17:00"}},
		{"ICPC over Christmas: Scotland", FollowOnRequest{HeldAt: at("2025-12-15 11:00"), Outcome: OutcomeS47Enquiry, Case: Case{TimescaleRequest: TimescaleRequest{Region: sc}}},
			[]string{"RECORD 2025-12-16 17:00", "ICPC 2026-01-09 17:00", "S47 2025-12-22 17:00"}},
		{"deferred", FollowOnRequest{HeldAt: at("2025-03-28 12:00"), Outcome: OutcomeDeferred},
			[]string{"RECORD 2025-03-31 17:00", "RECONVENE 2025-03-31 13:00"}},
		{"LADO where someone works with children", FollowOnRequest{HeldAt: at("2025-08-22 10:00"), Outcome: OutcomeNoFurtherAction, Case: Case{PersonWorksWithChildren: true}},
			[]string{"RECORD 2025-08-26 17:00", "LADO 2025-08-26 17:00"}},
		{"LADO for an allegation against staff", FollowOnRequest{HeldAt: at("2025-08-22 10:00"), Outcome: OutcomeDisciplinary, Case: Case{TimescaleRequest: TimescaleRequest{Region: sc, Concerns: concerns(ConcernAllegationAgainstStaff)}}},
			[]string{"RECORD 2025-08-25 17:00", "LADO 2025-08-25 17:00"}},
		{"no further action", FollowOnRequest{HeldAt: at("2025-08-22 10:00"), Outcome: OutcomeNoFurtherAction},
			[]string{"RECORD 2025-08-26 17:00"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs, err := p.FollowOns(tt.req)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, f := range fs {
				got = append(got, f.ID+" "+f.Due.In(london).Format("2006-01-02 15:04"))
				if f.Citation == "" || f.Period == "" {
					t.Errorf("%s: citation %q, period %q", f.ID, f.Citation, f.Period)
				}
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("follow-ons (-want +got):\n%s", diff)
			}
		})
	}
	_, err := p.FollowOns(FollowOnRequest{Outcome: "adjourned", Case: Case{Child: Child{InHospital: "ward"}}})
	var perr *Error
	if !errors.As(err, &perr) {
		t.Fatalf("error %v, want *Error", err)
	}
	if diff := cmp.Diff([]FieldError{
		{Field: "held_at", Message: "required"},
		{Field: "outcome", Message: `unknown outcome "adjourned"`},
		{Field: "case.child.in_hospital", Message: `unknown value "ward" (want inpatient or outpatient)`},
	}, perr.Fields); diff != "" {
		t.Errorf("fields (-want +got):\n%s", diff)
	}
}

// randomRequest builds a request around a random time from 2019 to 2035.
func randomRequest(r *rand.Rand) TimescaleRequest {
	start := time.Date(2019, 1, 1, 0, 0, 0, 0, time.UTC).Unix()
	end := time.Date(2035, 1, 1, 0, 0, 0, 0, time.UTC).Unix()
	ref := time.Unix(start+r.Int64N(end-start), r.Int64N(1e9)).UTC()
	near := func() *time.Time {
		if r.IntN(3) > 0 {
			return nil
		}
		t := ref.Add(time.Duration(r.Int64N(int64(96*time.Hour))) - 48*time.Hour)
		return &t
	}
	req := TimescaleRequest{
		Region:                 calendar.Regions()[r.IntN(3)],
		ForensicEvidence:       r.IntN(2) == 0,
		MultipleChildren:       r.IntN(2) == 0,
		ReferralReceivedAt:     ref,
		ConcernsIdentifiedAt:   near(),
		EmergencyActionAt:      near(),
		InvestigationStartedAt: near(),
		DeferredAt:             near(),
	}
	if n := r.IntN(4); n > 0 {
		req.RAG = rags[n-1]
	}
	for _, c := range Concerns {
		if r.IntN(6) == 0 {
			req.Concerns = append(req.Concerns, c)
		}
	}
	return req
}

// Properties of the clock over random requests (seeded): no deadline
// before its trigger; the binding one is the earliest; the same input gives
// the same output.
func TestTimescaleProperties(t *testing.T) {
	p := defaultProfile(t)
	r := rand.New(rand.NewPCG(3, 4))
	for i := range 5000 {
		req := randomRequest(r)
		ts, err := p.Timescale(req)
		if err != nil {
			t.Fatalf("#%d: %v", i, err)
		}
		for _, rule := range ts.Rules {
			if rule.Deadline.Before(rule.TriggerAt) {
				t.Fatalf("#%d %+v: rule %s deadline %s before its trigger %s", i, req, rule.ID, rule.Deadline, rule.TriggerAt)
			}
			if rule.Deadline.Before(ts.Deadline) {
				t.Fatalf("#%d: rule %s earlier than the binding deadline", i, rule.ID)
			}
			if rule.General && len(ts.Rules) > 1 {
				t.Fatalf("#%d: the general rule applied beside specific ones: %v", i, ruleIDs(ts))
			}
		}
		again, err := p.Timescale(req)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(ts, again) {
			t.Fatalf("#%d: same input, different output:\n%s", i, cmp.Diff(ts, again))
		}
	}
}

// Adding a holiday never makes a working-day deadline earlier.
func TestTimescaleExtraHolidayNeverEarlier(t *testing.T) {
	base := defaultProfile(t)
	r := rand.New(rand.NewPCG(5, 6))
	for i := range 200 {
		req := randomRequest(r)
		// A holiday within a few days of the referral, in every region.
		day := req.ReferralReceivedAt.In(london).AddDate(0, 0, r.IntN(8))
		cal, err := calendar.NewWorkingDays(calendar.WorkingDaysOptions{Extra: []calendar.BankHoliday{{Date: time.Date(day.Year(), day.Month(), day.Day(), 0, 0, 0, 0, time.UTC), Title: "extra"}}})
		if err != nil {
			t.Fatal(err)
		}
		withHoliday := base.WithCalendar(cal)
		before, err := base.Timescale(req)
		if err != nil {
			t.Fatal(err)
		}
		after, err := withHoliday.Timescale(req)
		if err != nil {
			t.Fatal(err)
		}
		if after.Deadline.Before(before.Deadline) {
			t.Fatalf("#%d: holiday on %s made the deadline earlier: %s, was %s", i, day.Format(time.DateOnly), after.Deadline, before.Deadline)
		}
		for j := range before.Rules {
			if after.Rules[j].Deadline.Before(before.Rules[j].Deadline) {
				t.Fatalf("#%d: holiday on %s made rule %s earlier", i, day.Format(time.DateOnly), before.Rules[j].ID)
			}
		}
	}
}

func TestRegistry(t *testing.T) {
	reg, err := NewRegistry(nil, "")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := reg.IDs(), []string{"default"}; !slices.Equal(got, want) {
		t.Errorf("IDs %v, want %v", got, want)
	}
	ts, err := reg.Timescale(TimescaleRequest{ReferralReceivedAt: at("2025-06-02 10:00")})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := ts.Profile, "default"; got != want {
		t.Errorf("profile %q, want %q", got, want)
	}
	_, err = reg.Timescale(TimescaleRequest{Profile: "kent", Concerns: []Concern{"x"}})
	var perr *Error
	if !errors.As(err, &perr) {
		t.Fatalf("error %v, want *Error", err)
	}
	if diff := cmp.Diff([]FieldError{
		{Field: "profile", Message: `unknown profile "kent" (known: default)`},
		{Field: "concerns[0]", Message: `unknown concern "x"`},
		{Field: "referral_received_at", Message: "required"},
	}, perr.Fields); diff != "" {
		t.Errorf("fields (-want +got):\n%s", diff)
	}
	if !strings.Contains(err.Error(), `profile: unknown profile "kent"`) {
		t.Errorf("error text %q", err)
	}
}
