package service

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/convene/convene/service/policy"
)

// TestFiguresByHand: the management figures of a hand-made set of
// discussions, worked out by hand in the comments and the table below.
func TestFiguresByHand(t *testing.T) {
	t.Parallel()
	at := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	ptr := func(s string) *time.Time { v := at(s); return &v }
	reqs := []policy.Requirement{
		{ID: "chair", Essential: true, Chair: true, Agencies: []policy.Agency{policy.AgencySocialCare}, MinSeniority: policy.Seniority{Level: 2}},
		{ID: "police", Essential: true, Agencies: []policy.Agency{policy.AgencyPolice}, MinSeniority: policy.Seniority{Level: 2}},
		{ID: "health", Essential: true, Agencies: []policy.Agency{policy.AgencyHealth}, MinSeniority: policy.Seniority{Level: 1}},
		{ID: "education", Essential: true, Agencies: []policy.Agency{policy.AgencyEducation}, MinSeniority: policy.Seniority{Level: 2}},
		{ID: "advisory", Essential: false, Agencies: []policy.Agency{policy.AgencyHousing}},
	}
	type present struct {
		agency    policy.Agency
		seniority int
	}
	mk := func(id string, rag policy.RAG, deadline string, started string, status DiscussionStatus, who []present, fos ...FollowOn) *Discussion {
		d := &Discussion{ID: id, Status: status, Deadline: at(deadline), Attendance: policy.Attendance{Requirements: reqs}, FollowOns: fos}
		d.Case.RAG = rag
		if started != "" {
			d.Started = &Start{At: at(started)}
		}
		d.CheckIns = append(d.CheckIns, CheckIn{Agency: policy.AgencySocialCare, Seniority: 3})
		for _, p := range who {
			d.CheckIns = append(d.CheckIns, CheckIn{Agency: p.agency, Seniority: p.seniority})
		}
		return d
	}
	police, health, education := policy.AgencyPolice, policy.AgencyHealth, policy.AgencyEducation
	fo := func(id, due string, state FollowOnState, metAt string) FollowOn {
		f := FollowOn{FollowOn: policy.FollowOn{ID: id, Due: at(due)}, State: state}
		if metAt != "" {
			f.MetAt = ptr(metAt)
		}
		return f
	}
	legacyDone := FollowOn{FollowOn: policy.FollowOn{ID: "RECORD", Due: at("2026-03-11T17:00:00Z")}, Done: true, DoneAt: ptr("2026-03-11T09:00:00Z")}
	north := mk("d10", "", "2026-03-12T17:00:00Z", "2026-03-12T10:00:00Z", StatusConcluded, []present{{police, 3}})
	north.Timescale.Profile = "north"
	ds := []*Discussion{
		// Amber, March: within (d1); 30 min, 26 h and 4 h late (d2, d3,
		// d4); not held and overdue (d5); cancelled (d6).
		mk("d1", policy.RAGAmber, "2026-03-02T17:00:00Z", "2026-03-02T16:00:00Z", StatusConcluded,
			[]present{{police, 3}, {health, 1}, {education, 2}},
			fo("RECORD", "2026-03-03T17:00:00Z", FollowOnMet, "2026-03-03T10:00:00Z"),
			fo("S47", "2026-03-09T17:00:00Z", FollowOnMet, "2026-03-10T09:00:00Z")),
		mk("d2", policy.RAGAmber, "2026-03-03T17:00:00Z", "2026-03-03T17:30:00Z", StatusConcluded,
			[]present{{police, 1}, {health, 2}},
			fo("RECORD", "2026-03-04T17:30:00Z", FollowOnMissed, ""),
			fo("S47", "2026-04-20T17:00:00Z", FollowOnOpen, "")),
		mk("d3", policy.RAGAmber, "2026-03-04T17:00:00Z", "2026-03-05T19:00:00Z", StatusConcluded,
			[]present{{police, 2}, {education, 1}}),
		mk("d4", policy.RAGAmber, "2026-03-05T17:00:00Z", "2026-03-05T21:00:00Z", StatusInProgress,
			[]present{{health, 1}, {education, 3}}),
		mk("d5", policy.RAGAmber, "2026-03-06T17:00:00Z", "", StatusProposed, nil),
		mk("d6", policy.RAGAmber, "2026-03-09T17:00:00Z", "", StatusCancelled, nil),
		// Red, March: within (d7); 96 h and 10 min late (d8, d11).
		mk("d7", policy.RAGRed, "2026-03-10T12:00:00Z", "2026-03-10T11:00:00Z", StatusConcluded,
			[]present{{police, 2}, {health, 1}, {education, 2}},
			legacyDone, fo("S47", "2026-03-17T17:00:00Z", FollowOnOpen, "")),
		mk("d8", policy.RAGRed, "2026-03-11T12:00:00Z", "2026-03-15T12:00:00Z", StatusConcluded,
			[]present{{police, 1}, {police, 2}}),
		mk("d11", policy.RAGRed, "2026-03-16T12:00:00Z", "2026-03-16T12:10:00Z", StatusConcluded, nil),
		// Another area, no rating: within.
		north,
		// Green, April: not yet due.
		mk("d9", policy.RAGGreen, "2026-04-20T17:00:00Z", "", StatusBooked, nil),
	}
	f := newFigures(mustZone("Europe/London"), at("2026-04-10T12:00:00Z"))
	for _, d := range ds {
		f.add(d)
	}
	got := f.result(at("2026-03-01T00:00:00Z"), at("2026-05-01T00:00:00Z"))
	want := &Figures{From: at("2026-03-01T00:00:00Z"), To: at("2026-05-01T00:00:00Z"), AsOf: at("2026-04-10T12:00:00Z"),
		Timeliness: []TimelinessFigure{
			// Late 30, 240, 1560 minutes: median 240, max 1560; one in
			// each of the first three bands.
			{Period: "2026-03", Area: "default", RAG: "amber", Discussions: 6, HeldWithin: 1, HeldLate: 3, Overdue: 1, Cancelled: 1,
				MedianLateMinutes: 240, MaxLateMinutes: 1560, LateUpTo1h: 1, LateUpTo24h: 1, LateUpTo72h: 1},
			// Late 10 and 5,760 minutes: the median is their mean, 2,885.
			{Period: "2026-03", Area: "default", RAG: "red", Discussions: 3, HeldWithin: 1, HeldLate: 2,
				MedianLateMinutes: 2885, MaxLateMinutes: 5760, LateUpTo1h: 1, LateOver72h: 1},
			{Period: "2026-03", Area: "north", RAG: "none", Discussions: 1, HeldWithin: 1},
			{Period: "2026-04", Area: "default", RAG: "green", Discussions: 1, Pending: 1},
		},
		Attendance: []AttendanceFigure{
			// Held in March, default: d1 d2 d3 d4 d7 d8 d11.
			// Education at seniority 2: d1 d4 d7; below: d3; absent: d2 d8 d11.
			{Period: "2026-03", Area: "default", Agency: "education", Required: 7, PresentAtSeniority: 3, PresentBelow: 1, Absent: 3},
			// Health at 1: d1 d2 d4 d7; absent: d3 d8 d11.
			{Period: "2026-03", Area: "default", Agency: "health", Required: 7, PresentAtSeniority: 4, Absent: 3},
			// Police at 2: d1 d3 d7 d8 (one of its two officers); below: d2; absent: d4 d11.
			{Period: "2026-03", Area: "default", Agency: "police", Required: 7, PresentAtSeniority: 4, PresentBelow: 1, Absent: 2},
			{Period: "2026-03", Area: "north", Agency: "education", Required: 1, Absent: 1},
			{Period: "2026-03", Area: "north", Agency: "health", Required: 1, Absent: 1},
			{Period: "2026-03", Area: "north", Agency: "police", Required: 1, PresentAtSeniority: 1},
		},
		FollowOns: []FollowOnFigure{
			// On time: d1, d7 (done before states existed); missed: d2.
			{Period: "2026-03", Area: "default", FollowOn: "RECORD", Total: 3, MetOnTime: 2, Missed: 1},
			// Late: d1; open, not due: d2; past due, unmarked: d7.
			{Period: "2026-03", Area: "default", FollowOn: "S47", Total: 3, MetLate: 1, Overdue: 1, Open: 1},
		},
	}
	if diff := cmp.Diff(want, got, cmpopts.IgnoreUnexported(TimelinessFigure{})); diff != "" {
		t.Errorf("figures (-want +got):\n%s", diff)
	}
}

// TestExportRow: what a discussion exports as, with nothing but ids,
// states, times and agencies.
func TestExportRow(t *testing.T) {
	t.Parallel()
	d := booked()
	d.Case.RAG = policy.RAGRed
	d.Case.Child.SchoolOrNursery = "Hillside Primary"
	d.Started = &Start{At: deadline.Add(90 * time.Minute)}
	d.CheckIns = []CheckIn{{Name: "Dana", Agency: policy.AgencyPolice, Seniority: 3}, {Name: "Nina", Agency: policy.AgencyHealth}}
	d.Outcome = &Outcome{Outcome: policy.OutcomeS47Enquiry, RecordedAt: deadline.Add(2 * time.Hour)}
	d.Status = StatusConcluded
	d.FollowOns = []FollowOn{{FollowOn: policy.FollowOn{ID: "RECORD", Due: deadline.Add(24 * time.Hour)}, State: FollowOnMet, MetAt: &t0}}
	r := exportRow(d, deadline.Add(48*time.Hour))
	rec := r.Record()
	if len(rec) != len(ExportColumns) {
		t.Fatalf("%d fields, %d columns", len(rec), len(ExportColumns))
	}
	if r.WithinTimescale || r.LateMinutes != 90 || r.Outcome != "s47_enquiry" || r.FollowOnsMet != 1 || r.RAG != "red" ||
		!cmp.Equal(r.AgenciesPresent, []string{"health", "police"}) {
		t.Errorf("row %+v", r)
	}
	for _, f := range rec {
		for _, bad := range []string{"Hillside", "Dana", "Nina", "chris"} {
			if strings.Contains(strings.ToLower(f), strings.ToLower(bad)) {
				t.Errorf("exported %q", f)
			}
		}
	}
}
