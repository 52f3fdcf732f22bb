package policy

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

// People as the directory would describe them, labelled from the default
// profile's scales.
var (
	sw        = Participant{PersonID: "p1", Name: "Sam Social", Agency: AgencySocialCare, Role: "social_worker", Seniority: 1, SeniorityLabel: "Social worker", KnowsChild: true}
	chair     = Participant{PersonID: "p2", Name: "Tara Team", Agency: AgencySocialCare, Role: "team_manager", Seniority: 3, SeniorityLabel: "Team or practice manager", Chair: true}
	sergeant  = Participant{PersonID: "p3", Name: "DS Pat Police", Agency: AgencyPolice, Role: "detective", Seniority: 2, SeniorityLabel: "Sergeant"}
	constable = Participant{PersonID: "p4", Name: "PC Con Stable", Agency: AgencyPolice, Role: "police_officer", Seniority: 1, SeniorityLabel: "Constable"}
	inspector = Participant{PersonID: "p5", Name: "DI Ina Spector", Agency: AgencyPolice, Role: "detective", Seniority: 3, SeniorityLabel: "Inspector"}
	named     = Participant{PersonID: "p6", Name: "Nia Named", Agency: AgencyHealth, Role: "safeguarding_nurse", Seniority: 3, SeniorityLabel: "Named or designated professional"}
	hv        = Participant{PersonID: "p7", Name: "Hal Visitor", Agency: AgencyHealth, Role: "health_visitor", Seniority: 1, SeniorityLabel: "Practitioner", KnowsChild: true}
	consPaed  = Participant{PersonID: "p8", Name: "Dr Cora Consultant", Agency: AgencyHealth, Role: "paediatrician", Seniority: 4, SeniorityLabel: "Consultant"}
	wardNurse = Participant{PersonID: "p9", Name: "Wes Ward", Agency: AgencyHealth, Role: "nurse", Seniority: 2, SeniorityLabel: "Senior nurse or practitioner (ward sister, charge nurse)"}
	staffNurs = Participant{PersonID: "p12", Name: "Stu Staff", Agency: AgencyHealth, Role: "nurse", Seniority: 1, SeniorityLabel: "Practitioner"}
	fiiExpert = Participant{PersonID: "p13", Name: "Dr Fay Expert", Agency: AgencyHealth, Role: "paediatrician", Seniority: 4, SeniorityLabel: "Consultant", Expertise: []string{"Fabricated or induced illness"}}
	namedNurs = Participant{PersonID: "p10", Name: "Nell Nurse", Agency: AgencyHealth, Role: "nurse", Seniority: 3, SeniorityLabel: "Named or designated professional"}
	teacher   = Participant{PersonID: "p11", Name: "Dee Lead", Agency: AgencyEducation, Role: "designated_safeguarding_lead", Seniority: 2, SeniorityLabel: "Designated safeguarding lead", KnowsChild: true}
)

func present(ps ...Participant) []Participant {
	out := make([]Participant, len(ps))
	for i, p := range ps {
		p.Present = true
		out[i] = p
	}
	return out
}

func replied(s ReplyStatus, p Participant) Participant {
	p.Status = s
	return p
}

func delegated(p, to Participant) Participant {
	p.Status = ReplyDelegated
	to.Status = ReplyAccepted
	p.Delegate = &to
	return p
}

func statuses(q Quorum) map[string]string {
	out := map[string]string{}
	for _, s := range q.Requirements {
		v := string(s.Status)
		if s.SatisfiedBy != nil {
			v += " by " + s.SatisfiedBy.Name
			if s.SatisfiedBy.DelegateFor != "" {
				v += " for " + s.SatisfiedBy.DelegateFor
			}
		}
		if s.Present != nil {
			v += " (needs " + s.Needed.Label + ", has " + s.Present.Label + ")"
		}
		out[s.ID] = v
	}
	return out
}

func TestQuorum(t *testing.T) {
	p := defaultProfile(t)
	requirements := func(c Case) Attendance {
		att, err := p.Requirements(c)
		if err != nil {
			t.Fatal(err)
		}
		return att
	}
	base := requirements(Case{})
	tests := []struct {
		name         string
		att          Attendance
		mode         QuorumMode
		participants []Participant
		met          bool
		want         map[string]string
		summary      string
	}{
		{"all present", base, QuorumActual, present(sw, chair, sergeant, named), true,
			map[string]string{"csc_social_worker": "satisfied by Sam Social", "csc_chair": "satisfied by Tara Team", "police": "satisfied by DS Pat Police", "health": "satisfied by Nia Named"},
			"Quorum met."},
		{"police missing", base, QuorumActual, present(sw, chair, named), false,
			map[string]string{"csc_social_worker": "satisfied by Sam Social", "csc_chair": "satisfied by Tara Team", "police": "missing", "health": "satisfied by Nia Named"},
			"Quorum not met: police missing."},
		{"health below seniority", base, QuorumActual, present(sw, chair, sergeant, hv), false,
			map[string]string{"csc_social_worker": "satisfied by Sam Social", "csc_chair": "satisfied by Tara Team", "police": "satisfied by DS Pat Police", "health": "below_seniority (needs Named or designated professional, has Practitioner)"},
			"Quorum not met: health below seniority (needs Named or designated professional, has Practitioner)."},
		{"police missing and health below seniority", base, QuorumActual, present(sw, chair, hv), false,
			map[string]string{"csc_social_worker": "satisfied by Sam Social", "csc_chair": "satisfied by Tara Team", "police": "missing", "health": "below_seniority (needs Named or designated professional, has Practitioner)"},
			"Quorum not met: police missing; health below seniority (needs Named or designated professional, has Practitioner)."},
		{"nobody who knows the child", base, QuorumActual, present(chair, sergeant, named, Participant{Name: "Sue Cover", Agency: AgencySocialCare, Seniority: 2, SeniorityLabel: "Senior practitioner"}), false,
			map[string]string{"csc_social_worker": "satisfied by Sue Cover", "csc_chair": "satisfied by Tara Team", "police": "satisfied by DS Pat Police", "health": "satisfied by Nia Named"},
			"Quorum not met: nobody present knows the child."},
		{"the chair fills only the chair's seat", base, QuorumActual, present(chair, sergeant, hv, named), false,
			map[string]string{"csc_social_worker": "missing", "csc_chair": "satisfied by Tara Team", "police": "satisfied by DS Pat Police", "health": "satisfied by Nia Named"},
			"Quorum not met: CSC social worker missing."},
		{"a manager not flagged as chair does not chair", base, QuorumActual, present(sw, func() Participant { c := chair; c.Chair = false; return c }(), sergeant, named), false,
			map[string]string{"csc_social_worker": "satisfied by Sam Social", "csc_chair": "missing", "police": "satisfied by DS Pat Police", "health": "satisfied by Nia Named"},
			"Quorum not met: CSC manager as chair missing."},
		{"urgent minimum with reason: CSC and police suffice", requirements(Case{UrgentMinimum: &UrgentMinimum{Reason: "child at immediate risk tonight"}}), QuorumActual, present(sw, chair, sergeant), true,
			map[string]string{"csc_social_worker": "satisfied by Sam Social", "csc_chair": "satisfied by Tara Team", "police": "satisfied by DS Pat Police", "health": "missing"},
			"Quorum met. Advisory not present: health."},
		{"urgent minimum still needs the police", requirements(Case{UrgentMinimum: &UrgentMinimum{Reason: "child at immediate risk tonight"}}), QuorumActual, present(sw, chair, named), false,
			map[string]string{"csc_social_worker": "satisfied by Sam Social", "csc_chair": "satisfied by Tara Team", "police": "missing", "health": "satisfied by Nia Named"},
			"Quorum not met: police missing."},

		// Forecast from replies.
		{"forecast: delegate above the minimum", base, QuorumForecast,
			[]Participant{replied(ReplyAccepted, sw), replied(ReplyAccepted, chair), delegated(sergeant, inspector), replied(ReplyAccepted, named)}, true,
			map[string]string{"csc_social_worker": "satisfied by Sam Social", "csc_chair": "satisfied by Tara Team", "police": "satisfied by DI Ina Spector for DS Pat Police", "health": "satisfied by Nia Named"},
			"Quorum met. Forecast from replies: 4 attending, 0 tentative, 0 declined, 0 no reply."},
		{"forecast: delegate below the minimum", base, QuorumForecast,
			[]Participant{replied(ReplyAccepted, sw), replied(ReplyAccepted, chair), delegated(sergeant, constable), replied(ReplyAccepted, named)}, false,
			map[string]string{"csc_social_worker": "satisfied by Sam Social", "csc_chair": "satisfied by Tara Team", "police": "below_seniority (needs Sergeant, has Constable)", "health": "satisfied by Nia Named"},
			"Quorum not met: police below seniority (needs Sergeant, has Constable). Forecast from replies: 4 attending, 0 tentative, 0 declined, 0 no reply."},
		{"forecast: tentative, declined and no reply do not count", base, QuorumForecast,
			[]Participant{replied(ReplyAccepted, sw), replied(ReplyAccepted, chair), replied(ReplyTentative, sergeant), replied(ReplyDeclined, named), replied(ReplyNeedsAction, hv)}, false,
			map[string]string{"csc_social_worker": "satisfied by Sam Social", "csc_chair": "satisfied by Tara Team", "police": "missing", "health": "missing"},
			"Quorum not met: police missing; health missing. Forecast from replies: 2 attending, 1 tentative, 1 declined, 1 no reply."},

		// Several health requirements: one person per seat, shared ones
		// by anyone who qualifies.
		{"in-patient with an examination: consultant paediatrician and ward nurse", requirements(Case{Child: Child{InHospital: InHospitalInpatient}, MedicalExamination: MedicalExamDone}), QuorumActual,
			present(sw, chair, sergeant, wardNurse, consPaed), true,
			map[string]string{"csc_social_worker": "satisfied by Sam Social", "csc_chair": "satisfied by Tara Team", "police": "satisfied by DS Pat Police",
				"health": "satisfied by Dr Cora Consultant", "hospital_consultant": "satisfied by Dr Cora Consultant", "ward_nurse": "satisfied by Wes Ward", "paediatrician": "satisfied by Dr Cora Consultant"},
			"Quorum met."},
		{"seats are reassigned to fill the most", requirements(Case{Child: Child{InHospital: InHospitalInpatient}}), QuorumActual,
			// The named nurse is listed first and could take the health
			// seat; the consultant can take health but not the nurse's.
			present(sw, chair, sergeant, namedNurs, func() Participant { c := consPaed; c.Role = "doctor"; return c }()), true,
			map[string]string{"csc_social_worker": "satisfied by Sam Social", "csc_chair": "satisfied by Tara Team", "police": "satisfied by DS Pat Police",
				"health": "satisfied by Dr Cora Consultant", "hospital_consultant": "satisfied by Dr Cora Consultant", "ward_nurse": "satisfied by Nell Nurse"},
			"Quorum met."},
		{"in-patient: the ward nurse alone is not the health representative", requirements(Case{Child: Child{InHospital: InHospitalInpatient}}), QuorumActual,
			present(sw, chair, sergeant, wardNurse, consPaed), true,
			map[string]string{"csc_social_worker": "satisfied by Sam Social", "csc_chair": "satisfied by Tara Team", "police": "satisfied by DS Pat Police",
				"health": "satisfied by Dr Cora Consultant", "hospital_consultant": "satisfied by Dr Cora Consultant", "ward_nurse": "satisfied by Wes Ward"},
			"Quorum met."},
		{"referring agency is shared with its seat", requirements(Case{ReferringAgency: AgencyPolice, Child: Child{AgeYears: intp(8), SchoolOrNursery: "Hillside Primary"}}), QuorumActual,
			present(sw, chair, sergeant, named), true,
			map[string]string{"csc_social_worker": "satisfied by Sam Social", "csc_chair": "satisfied by Tara Team", "police": "satisfied by DS Pat Police",
				"health": "satisfied by Nia Named", "referring_agency": "satisfied by DS Pat Police", "school_or_nursery": "missing"},
			"Quorum met. Advisory not present: the child's school or nursery."},
		// 000 §4, 002 §4: "a senior ward nurse".
		{"in-patient: a staff nurse is not the senior ward nurse", requirements(Case{Child: Child{InHospital: InHospitalInpatient}}), QuorumActual,
			present(sw, chair, sergeant, staffNurs, consPaed), false,
			map[string]string{"csc_social_worker": "satisfied by Sam Social", "csc_chair": "satisfied by Tara Team", "police": "satisfied by DS Pat Police",
				"health": "satisfied by Dr Cora Consultant", "hospital_consultant": "satisfied by Dr Cora Consultant",
				"ward_nurse": "below_seniority (needs Senior nurse or practitioner (ward sister, charge nurse), has Practitioner)"},
			"Quorum not met: a senior ward nurse below seniority (needs Senior nurse or practitioner (ward sister, charge nurse), has Practitioner)."},
		// 000 §4, 002 §4: "a professional with expertise in the particular
		// form of abuse" is met only by someone with that expertise.
		{"specialist: nobody with the expertise, not met by whoever is there", requirements(Case{SpecialistExpertise: "fabricated_or_induced_illness"}), QuorumActual,
			present(sw, chair, sergeant, named), true,
			map[string]string{"csc_social_worker": "satisfied by Sam Social", "csc_chair": "satisfied by Tara Team", "police": "satisfied by DS Pat Police",
				"health": "satisfied by Nia Named", "specialist": "missing"},
			"Quorum met. Advisory not present: a professional with expertise in the form of abuse."},
		{"specialist: the chair never fills it, even with the expertise", requirements(Case{SpecialistExpertise: "fabricated or induced illness"}), QuorumActual,
			present(sw, func() Participant { c := chair; c.Expertise = []string{"fabricated or induced illness"}; return c }(), sergeant, named), true,
			map[string]string{"csc_social_worker": "satisfied by Sam Social", "csc_chair": "satisfied by Tara Team", "police": "satisfied by DS Pat Police",
				"health": "satisfied by Nia Named", "specialist": "missing"},
			"Quorum met. Advisory not present: a professional with expertise in the form of abuse."},
		{"specialist: met by the expert", requirements(Case{SpecialistExpertise: "Fabricated-or-induced illness"}), QuorumActual,
			present(sw, chair, sergeant, named, fiiExpert), true,
			map[string]string{"csc_social_worker": "satisfied by Sam Social", "csc_chair": "satisfied by Tara Team", "police": "satisfied by DS Pat Police",
				"health": "satisfied by Nia Named", "specialist": "satisfied by Dr Fay Expert"},
			"Quorum met."},
		{"forecast: a delegate who has not answered is not counted as coming", base, QuorumForecast,
			[]Participant{replied(ReplyAccepted, sw), replied(ReplyAccepted, chair),
				func() Participant {
					p := delegated(sergeant, inspector)
					p.Delegate.Status = ReplyNeedsAction
					return p
				}(), replied(ReplyAccepted, named)}, false,
			map[string]string{"csc_social_worker": "satisfied by Sam Social", "csc_chair": "satisfied by Tara Team", "police": "missing", "health": "satisfied by Nia Named"},
			"Quorum not met: police missing. Forecast from replies: 3 attending, 0 tentative, 0 declined, 1 no reply."},
		{"advisory school present", requirements(Case{Child: Child{AgeYears: intp(8)}}), QuorumActual,
			present(sw, chair, sergeant, named, teacher), true,
			map[string]string{"csc_social_worker": "satisfied by Sam Social", "csc_chair": "satisfied by Tara Team", "police": "satisfied by DS Pat Police",
				"health": "satisfied by Nia Named", "school_or_nursery": "satisfied by Dee Lead"},
			"Quorum met."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := EvaluateQuorum(tt.mode, tt.att.Requirements, tt.participants, tt.att.KnowsChild.Required)
			if got, want := q.Met, tt.met; got != want {
				t.Errorf("met %v, want %v", got, want)
			}
			if diff := cmp.Diff(tt.want, statuses(q)); diff != "" {
				t.Errorf("statuses (-want +got):\n%s", diff)
			}
			if got, want := q.Summary, tt.summary; got != want {
				t.Errorf("summary\n got %q\nwant %q", got, want)
			}
			if got, want := q.Mode, tt.mode; got != want {
				t.Errorf("mode %s, want %s", got, want)
			}
		})
	}
}

func TestQuorumLists(t *testing.T) {
	p := defaultProfile(t)
	att, err := p.Requirements(Case{})
	if err != nil {
		t.Fatal(err)
	}
	declinedDelegate := delegated(named, hv)
	declinedDelegate.Delegate.Status = ReplyDeclined
	q := EvaluateQuorum(QuorumForecast, att.Requirements, []Participant{
		replied(ReplyAccepted, sw),
		replied(ReplyTentative, chair),
		replied(ReplyDeclined, sergeant),
		declinedDelegate,
		{Name: "No Answer", Agency: AgencyPolice, Seniority: 2},
	}, true)
	names := func(refs []ParticipantRef) []string {
		var out []string
		for _, r := range refs {
			s := r.Name
			if r.DelegateFor != "" {
				s += " for " + r.DelegateFor
			}
			out = append(out, s)
		}
		return out
	}
	if diff := cmp.Diff([]string{"Sam Social"}, names(q.Counted)); diff != "" {
		t.Errorf("counted (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"Tara Team"}, names(q.Tentative)); diff != "" {
		t.Errorf("tentative (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"DS Pat Police", "Hal Visitor for Nia Named"}, names(q.Declined)); diff != "" {
		t.Errorf("declined (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"No Answer"}, names(q.NoReply)); diff != "" {
		t.Errorf("no reply (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(KnowsChildStatus{Required: true, Satisfied: true, By: []ParticipantRef{{PersonID: "p1", Name: "Sam Social", Agency: AgencySocialCare, Role: "social_worker", Seniority: Seniority{1, "Social worker"}}}}, q.KnowsChild); diff != "" {
		t.Errorf("knows child (-want +got):\n%s", diff)
	}

	// Actual mode: check-ins count, replies do not; a delegate who checked
	// in counts for the invitee.
	invitee := sergeant
	invitee.Status = ReplyAccepted
	invitee.Delegate = &Participant{Name: "DI Ina Spector", Agency: AgencyPolice, Seniority: 3, Present: true}
	q = EvaluateQuorum(QuorumActual, att.Requirements, []Participant{
		{Name: "Sam Social", Agency: AgencySocialCare, Seniority: 1, Present: true, KnowsChild: true},
		replied(ReplyAccepted, chair), // accepted but not checked in
		invitee,
	}, true)
	if diff := cmp.Diff([]string{"Sam Social", "DI Ina Spector for DS Pat Police"}, names(q.Counted)); diff != "" {
		t.Errorf("actual counted (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"Tara Team"}, names(q.Absent)); diff != "" {
		t.Errorf("absent (-want +got):\n%s", diff)
	}
	if got, want := q.Summary, "Quorum not met: CSC manager as chair missing; health missing."; got != want {
		t.Errorf("summary %q, want %q", got, want)
	}
	// A walk-in without a seniority label is described by level.
	q = EvaluateQuorum(QuorumActual, att.Requirements, present(sw, chair, sergeant, Participant{Name: "Walk In", Agency: AgencyHealth, Seniority: 1}), true)
	if got, want := q.Summary, "Quorum not met: health below seniority (needs Named or designated professional, has level 1)."; got != want {
		t.Errorf("summary %q, want %q", got, want)
	}
}

// The same inputs give the same result.
func TestQuorumDeterministic(t *testing.T) {
	p := defaultProfile(t)
	att, err := p.Requirements(Case{Child: Child{InHospital: InHospitalInpatient}, MedicalExamination: MedicalExamDone, ReferringAgency: AgencyHealth})
	if err != nil {
		t.Fatal(err)
	}
	ps := present(sw, chair, sergeant, wardNurse, consPaed, namedNurs, hv, named)
	first := EvaluateQuorum(QuorumActual, att.Requirements, ps, true)
	for range 20 {
		if diff := cmp.Diff(first, EvaluateQuorum(QuorumActual, att.Requirements, ps, true)); diff != "" {
			t.Fatalf("different result:\n%s", diff)
		}
	}
}
