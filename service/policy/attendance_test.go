package policy

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func intp(n int) *int { return &n }

// reqSummary is what a table test pins about one requirement.
type reqSummary struct {
	ID        string
	Agencies  []Agency
	Min       string
	Essential bool
	Detail    string
	Citation  string
}

func summarise(att Attendance) []reqSummary {
	var out []reqSummary
	for _, r := range att.Requirements {
		out = append(out, reqSummary{r.ID, r.Agencies, r.MinSeniority.Label, r.Essential, r.Detail, r.Citation})
	}
	return out
}

// The requirements every discussion has, DOMAIN.md's "always" rows.
var always = []reqSummary{
	{"csc_social_worker", []Agency{AgencySocialCare}, "Social worker", true, "", "000 §3, 001, 002 §4, 004"},
	{"csc_chair", []Agency{AgencySocialCare}, "Team or practice manager", true, "", "000 §3, 001, 002 §4, 004"},
	{"police", []Agency{AgencyPolice}, "Sergeant", true, "", "000 §4, 001, 002 §4, 003 §2"},
	{"health", []Agency{AgencyHealth}, "Named or designated professional", true, "", "001, 002 §4, 003 §2"},
}

func plus(extra ...reqSummary) []reqSummary {
	return append(append([]reqSummary(nil), always...), extra...)
}

// TestRequirements covers every row of DOMAIN.md's attendance table, each
// with its citation.
func TestRequirements(t *testing.T) {
	p := defaultProfile(t)
	tests := []struct {
		name string
		c    Case
		want []reqSummary
	}{
		{"always: CSC social worker and chair, police, health", Case{}, always},
		{"the referring agency, where known", Case{ReferringAgency: AgencyHousing},
			plus(reqSummary{"referring_agency", []Agency{AgencyHousing}, "Housing officer", true, "", "000 §4, 002 §4, 003 §2"})},
		{"a child of school age", Case{Child: Child{AgeYears: intp(9), SchoolOrNursery: "Hillside Primary"}},
			plus(reqSummary{"school_or_nursery", []Agency{AgencyEducation}, "Designated safeguarding lead", false, "Hillside Primary", "002 §4, 003 §2"})},
		{"a child of nursery age, school not named", Case{Child: Child{AgeYears: intp(3)}},
			plus(reqSummary{"school_or_nursery", []Agency{AgencyEducation}, "Designated safeguarding lead", false, "", "002 §4, 003 §2"})},
		{"a baby", Case{Child: Child{AgeYears: intp(1)}}, always},
		{"an out-patient", Case{Child: Child{InHospital: InHospitalOutpatient}},
			plus(reqSummary{"hospital_consultant", []Agency{AgencyHealth}, "Consultant", true, "", "000 §4, 002 §4"})},
		{"an in-patient", Case{Child: Child{InHospital: InHospitalInpatient}},
			plus(
				reqSummary{"hospital_consultant", []Agency{AgencyHealth}, "Consultant", true, "", "000 §4, 002 §4"},
				reqSummary{"ward_nurse", []Agency{AgencyHealth}, "Senior nurse or practitioner (ward sister, charge nurse)", true, "", "000 §4, 002 §4"},
			)},
		{"a medical examination possible", Case{MedicalExamination: MedicalExamPossible},
			plus(reqSummary{"paediatrician", []Agency{AgencyHealth}, "Named or designated professional", true, "", "000 §4, 002 §4"})},
		{"a medical examination done", Case{MedicalExamination: MedicalExamDone},
			plus(reqSummary{"paediatrician", []Agency{AgencyHealth}, "Named or designated professional", true, "", "000 §4, 002 §4"})},
		{"significant medical issues (fabricated or induced illness)", Case{TimescaleRequest: TimescaleRequest{Concerns: concerns(ConcernFabricatedInducedIllness)}},
			plus(reqSummary{"paediatrician", []Agency{AgencyHealth}, "Named or designated professional", true, "", "000 §4, 002 §4"})},
		{"an unborn child", Case{Child: Child{Unborn: true}},
			plus(reqSummary{"midwifery", []Agency{AgencyMidwifery}, "Midwife", true, "", "000 §4"})},
		{"an unborn-child concern", Case{TimescaleRequest: TimescaleRequest{Concerns: concerns(ConcernUnbornChild)}},
			plus(reqSummary{"midwifery", []Agency{AgencyMidwifery}, "Midwife", true, "", "000 §4"})},
		{"a looked-after child", Case{Child: Child{LookedAfter: true}},
			plus(reqSummary{"looked_after", []Agency{AgencyResidential, AgencyFostering}, "any level", true, "", "001"})},
		{"someone who works with children", Case{PersonWorksWithChildren: true},
			plus(reqSummary{"lado", []Agency{AgencyLADO}, "Designated officer", true, "", "001, 003 §4"})},
		{"an allegation against staff", Case{TimescaleRequest: TimescaleRequest{Concerns: concerns(ConcernAllegationAgainstStaff)}},
			plus(reqSummary{"lado", []Agency{AgencyLADO}, "Designated officer", true, "", "001, 003 §4"})},
		{"legal action contemplated", Case{LegalActionContemplated: true},
			plus(reqSummary{"legal_adviser", []Agency{AgencyLegal}, "Solicitor", false, "", "000 §4"})},
		{"a particular form of abuse", Case{SpecialistExpertise: "child sexual exploitation"},
			plus(reqSummary{"specialist", nil, "any level", false, "child sexual exploitation", "000 §4, 002 §4"})},
		{"language or communication needs", Case{InterpreterLanguage: "Tigrinya"},
			plus(reqSummary{"interpreter", []Agency{AgencyInterpreting}, "Interpreter or communicator", false, "Tigrinya", "000 §6, 002 §2, 004"})},
		{"urgent minimum: only CSC and police stay essential", Case{UrgentMinimum: &UrgentMinimum{Reason: "child to be discharged tonight"}, MedicalExamination: MedicalExamDone},
			[]reqSummary{
				always[0], always[1], always[2],
				{"health", []Agency{AgencyHealth}, "Named or designated professional", false, "", "001, 002 §4, 003 §2"},
				{"paediatrician", []Agency{AgencyHealth}, "Named or designated professional", false, "", "000 §4, 002 §4"},
			}},
		{"urgent minimum: a police referrer stays essential", Case{UrgentMinimum: &UrgentMinimum{Reason: "out of hours"}, ReferringAgency: AgencyPolice},
			[]reqSummary{
				always[0], always[1], always[2],
				{"health", []Agency{AgencyHealth}, "Named or designated professional", false, "", "001, 002 §4, 003 §2"},
				{"referring_agency", []Agency{AgencyPolice}, "Constable", true, "", "000 §4, 002 §4, 003 §2"},
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			att, err := p.Requirements(tt.c)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, summarise(att)); diff != "" {
				t.Errorf("requirements (-want +got):\n%s", diff)
			}
			// Always: someone who knows the child (004, the Climbié lesson).
			if diff := cmp.Diff(KnowsChildRule{Required: true, Reason: "At least one participant knows the child (the Climbié lesson)", Citation: "004"}, att.KnowsChild); diff != "" {
				t.Errorf("knows child (-want +got):\n%s", diff)
			}
			for _, r := range att.Requirements {
				if r.Reason == "" || r.Name == "" {
					t.Errorf("%s: name %q, reason %q", r.ID, r.Name, r.Reason)
				}
			}
		})
	}
}

func TestRequirementsDetails(t *testing.T) {
	p := defaultProfile(t)
	att, err := p.Requirements(Case{ReferringAgency: AgencyEducation, UrgentMinimum: &UrgentMinimum{Reason: " police need a decision before the interview "}})
	if err != nil {
		t.Fatal(err)
	}
	want := &UrgentMinimumApplied{
		Reason:            "police need a decision before the interview",
		Summary:           "An urgent discussion that cannot wait for all agencies needs at minimum CSC and the police; exceptional, with the reason recorded",
		Citation:          "003 §2",
		EssentialAgencies: []Agency{AgencySocialCare, AgencyPolice},
	}
	if diff := cmp.Diff(want, att.UrgentMinimum); diff != "" {
		t.Errorf("urgent minimum (-want +got):\n%s", diff)
	}
	byID := map[string]Requirement{}
	for _, r := range att.Requirements {
		byID[r.ID] = r
	}
	if got, want := byID["referring_agency"].Name, "the referring agency (Education)"; got != want {
		t.Errorf("referring agency named %q, want %q", got, want)
	}
	if got, want := byID["health"].Note, "advisory under the urgent minimum (003 §2): police need a decision before the interview"; got != want {
		t.Errorf("health note %q, want %q", got, want)
	}
	if !byID["csc_chair"].Chair || byID["police"].Chair {
		t.Error("only the chair requirement is the chair's")
	}
	if !byID["referring_agency"].Shared {
		t.Error("the referring agency requirement is shared")
	}
}

func TestRequirementsErrors(t *testing.T) {
	p := defaultProfile(t)
	_, err := p.Requirements(Case{
		TimescaleRequest:   TimescaleRequest{Concerns: []Concern{"other", "grooming"}},
		Child:              Child{AgeYears: intp(7), Unborn: true, InHospital: "ward"},
		MedicalExamination: "maybe",
		ReferringAgency:    "nhs",
		UrgentMinimum:      &UrgentMinimum{Reason: "  "},
	})
	var perr *Error
	if !errors.As(err, &perr) {
		t.Fatalf("error %v, want *Error", err)
	}
	var fields []string
	for _, f := range perr.Fields {
		fields = append(fields, f.Field)
	}
	if diff := cmp.Diff([]string{"concerns[1]", "child.unborn", "child.in_hospital", "medical_examination", "referring_agency", "urgent_minimum.reason"}, fields); diff != "" {
		t.Errorf("fields (-want +got):\n%s", diff)
	}
	if _, err := p.Requirements(Case{Child: Child{AgeYears: intp(-1)}}); err == nil {
		t.Error("negative age: no error")
	}
	if err := (Case{}).Validate(); err == nil {
		t.Error("Case.Validate without a referral time: no error")
	}
}

// TestFormat covers DOMAIN.md's "Meeting or phone call" rules and the
// separate discussions, each with its citation.
func TestFormat(t *testing.T) {
	p := defaultProfile(t)
	tests := []struct {
		name     string
		c        Case
		format   Format
		rule     FormatRule
		separate []SeparateDiscussion
		notes    []string
	}{
		{"phone or video by default", Case{TimescaleRequest: TimescaleRequest{Concerns: concerns(ConcernSeriousPhysicalInjury)}}, FormatDiscussion,
			FormatRule{"phone_or_video", "A phone or video conference is acceptable; a meeting is held where possible", "000 §3, 003 §1, 004"}, nil, nil},
		{"complex neglect", Case{TimescaleRequest: TimescaleRequest{Concerns: concerns(ConcernComplexNeglect)}}, FormatMeeting,
			FormatRule{"complex_neglect", "Complex neglect or maltreatment", "002 §3"}, nil, nil},
		{"child on child", Case{TimescaleRequest: TimescaleRequest{Concerns: concerns(ConcernChildOnChild)}}, FormatMeeting,
			FormatRule{"child_on_child", "One child is alleged to have harmed another", "002 §3"},
			[]SeparateDiscussion{
				{"child_on_child", "the child alleged to have been harmed", "Where a child is alleged to have harmed another child, each child has their own strategy discussion", "002 §3"},
				{"child_on_child", "the child alleged to have caused the harm", "Where a child is alleged to have harmed another child, each child has their own strategy discussion", "002 §3"},
			}, nil},
		{"extra-familial risk", Case{TimescaleRequest: TimescaleRequest{Concerns: concerns(ConcernExtraFamilial), MultipleChildren: true}}, FormatMeeting,
			FormatRule{"extra_familial", "Extra-familial risk", "002 §3"}, nil, []string{"other_children 001"}},
		{"cumulative concerns", Case{TimescaleRequest: TimescaleRequest{Concerns: concerns(ConcernCumulativeConcerns)}}, FormatMeeting,
			FormatRule{"cumulative_concerns", "Ongoing, cumulative concerns about the child's welfare", "002 §3"}, nil, nil},
		{"unborn child", Case{Child: Child{Unborn: true}}, FormatMeeting,
			FormatRule{"unborn_child", "Risk of future harm to an unborn child", "002 §3"}, nil, nil},
		{"complex referral", Case{TimescaleRequest: TimescaleRequest{Concerns: concerns(ConcernOrganisedAbuse)}}, FormatMeeting,
			FormatRule{"complex_referral", "A complex referral (organised abuse, an allegation against staff, fabricated or induced illness)", "004"}, nil, nil},
		{"alleged abuser under 18", Case{AllegedAbuserUnder18: true}, FormatDiscussion,
			FormatRule{"phone_or_video", "A phone or video conference is acceptable; a meeting is held where possible", "000 §3, 003 §1, 004"},
			[]SeparateDiscussion{{"abuser_under_18", "the alleged abuser (under 18), to consider their needs", "Where the alleged abuser is under 18, a separate strategy discussion considers their needs", "004"}}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := p.Format(tt.c)
			if err != nil {
				t.Fatal(err)
			}
			if got, want := d.Format, tt.format; got != want {
				t.Errorf("format %s, want %s", got, want)
			}
			if diff := cmp.Diff(tt.rule, d.Rule); diff != "" {
				t.Errorf("rule (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.separate, d.SeparateDiscussions); diff != "" {
				t.Errorf("separate discussions (-want +got):\n%s", diff)
			}
			var notes []string
			for _, n := range d.Notes {
				notes = append(notes, n.ID+" "+n.Citation)
			}
			if diff := cmp.Diff(tt.notes, notes); diff != "" {
				t.Errorf("notes (-want +got):\n%s", diff)
			}
		})
	}
	// Several meeting rules: all are listed, the first decides.
	d, err := p.Format(Case{TimescaleRequest: TimescaleRequest{Concerns: concerns(ConcernFabricatedInducedIllness, ConcernComplexNeglect)}})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, r := range d.Rules {
		ids = append(ids, r.ID)
	}
	if diff := cmp.Diff([]string{"complex_neglect", "complex_referral"}, ids); diff != "" {
		t.Errorf("rules (-want +got):\n%s", diff)
	}
	if _, err := p.Format(Case{Child: Child{InHospital: "icu"}}); err == nil {
		t.Error("bad in_hospital: no error")
	}
}

// 003 §2: the CSC-and-police minimum is for exceptional, urgent
// discussions only.
func TestUrgentMinimumAllowed(t *testing.T) {
	p := defaultProfile(t)
	urgent := &UrgentMinimum{Reason: "child at immediate risk tonight"}
	for _, tc := range []struct {
		name  string
		c     Case
		rule  string
		allow bool
	}{
		{"not asked for", Case{}, "G1", true},
		{"a red rating", Case{TimescaleRequest: TimescaleRequest{RAG: RAGRed}, UrgentMinimum: urgent}, "U2", true},
		{"a same-day rule binds", Case{TimescaleRequest: TimescaleRequest{RAG: RAGAmber}, UrgentMinimum: urgent}, "S1", true},
		{"a one-working-day rule binds", Case{UrgentMinimum: urgent}, "U1", true},
		{"amber under the general rule", Case{TimescaleRequest: TimescaleRequest{RAG: RAGAmber}, UrgentMinimum: urgent}, "G1", false},
		{"green under a complex-concerns rule", Case{TimescaleRequest: TimescaleRequest{RAG: RAGGreen}, UrgentMinimum: urgent}, "C1", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := p.UrgentMinimumAllowed(tc.c, Timescale{BindingRule: RuleRef{ID: tc.rule}})
			if got := err == nil; got != tc.allow {
				t.Fatalf("allowed %v, want %v (%v)", got, tc.allow, err)
			}
			var e *Error
			if err != nil && (!errors.As(err, &e) || len(e.Fields) != 1 || e.Fields[0].Field != "urgent_minimum") {
				t.Errorf("error %v does not name urgent_minimum", err)
			}
		})
	}
}

// 000 §3, 001, 002 §4, 004: a CSC team, practice or first-line manager
// chairs.
func TestMayChair(t *testing.T) {
	p := defaultProfile(t)
	for _, tc := range []struct {
		name   string
		agency Agency
		role   string
		level  int
		may    bool
	}{
		{"a team manager", AgencySocialCare, "team_manager", 3, true},
		{"a service manager", AgencySocialCare, "service_manager", 4, true},
		{"a social worker", AgencySocialCare, "social_worker", 1, false},
		{"a senior practitioner", AgencySocialCare, "senior_practitioner", 2, false},
		{"a police inspector", AgencyPolice, "detective", 3, false},
		{"a consultant", AgencyHealth, "paediatrician", 4, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			may, why := p.MayChair(tc.agency, tc.role, tc.level)
			if may != tc.may {
				t.Fatalf("may chair %v (%s), want %v", may, why, tc.may)
			}
			if !may && why == "" {
				t.Error("a refusal says why")
			}
		})
	}
}
