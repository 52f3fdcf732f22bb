package policy

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"gopkg.in/yaml.v3"
)

func TestCheckFileDefault(t *testing.T) {
	if err := CheckFile("profiles/default.yaml"); err != nil {
		t.Fatalf("the shipped default does not validate: %v", err)
	}
	p := defaultProfile(t)
	if got, want := p.ID()+" "+string(p.Region())+" "+p.Location().String(), "default england-and-wales Europe/London"; got != want {
		t.Errorf("profile %s, want %s", got, want)
	}
	var ids []string
	for _, r := range p.clock {
		ids = append(ids, r.id)
	}
	if diff := cmp.Diff([]string{"S1", "S2", "S3", "U1", "U2", "U3", "C1", "C2", "G1", "D1"}, ids); diff != "" {
		t.Errorf("the default's clock rules (-want +got):\n%s", diff)
	}
}

// TestCheckFileBroken: broken profiles in testdata are refused with a
// message naming the rule and the field.
func TestCheckFileBroken(t *testing.T) {
	tests := []struct {
		file, want string
	}{
		{"testdata/broken-unit.yaml", `profile testdata/broken-unit.yaml: rule "U2": unit: unknown unit "fortnight" (want same_calendar_day, working_days or elapsed_hours)`},
		{"testdata/broken-unknown-field.yaml", `profile testdata/broken-unknown-field.yaml: rule "G1": unknown field "withn" (line 90)`},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			err := CheckFile(tt.file)
			if err == nil {
				t.Fatal("no error")
			}
			var perr *ProfileError
			if !errors.As(err, &perr) {
				t.Fatalf("error %T %v, want *ProfileError", err, err)
			}
			if got, want := err.Error(), tt.want; !strings.HasPrefix(got, want) {
				t.Errorf("error\n got %s\nwant %s", got, want)
			}
		})
	}
	if err := CheckFile("testdata/no-such-profile.yaml"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}

// TestProfileValidation edits the default profile one mistake at a time.
func TestProfileValidation(t *testing.T) {
	base := string(DefaultProfileYAML())
	tests := []struct {
		name, old, new string
		want           []string
	}{
		{"bad id", "id: default\n", "id: Default Area\n", []string{`id: "Default Area": want lower-case letters, digits, '.', '_' or '-'`}},
		{"no version", "version: 1\n", "", []string{"version: required, a whole number from 1"}},
		{"version not a number", "version: 1\n", "version: one\n", []string{"version: cannot unmarshal !!str `one` into int (line 29)"}},
		{"unknown region", "region: england-and-wales\n", "region: wales\n", []string{`region: unknown region "wales" (want england-and-wales, scotland or northern-ireland)`}},
		{"unknown time zone", "time_zone: Europe/London\n", "time_zone: Europe/Londn\n", []string{`time_zone: unknown time zone "Europe/Londn"`}},
		{"bad close of business", `close_of_business: "17:00"`, `close_of_business: "5pm"`, []string{`close_of_business: "5pm": want HH:MM, such as 17:00`}},
		{"unknown top-level field", "version: 1\n", "version: 1\ncolour: blue\n", []string{`unknown field "colour" (line 30)`}},
		{"no general rule", "    general: true\n", "", []string{"clock: no general rule without conditions (general: true, no when), so some requests would have no deadline"}},
		{"general rule from an optional time", "    general: true\n    unit: working_days\n    within: 3\n    from: concerns_identified_at\n", "    general: true\n    unit: working_days\n    within: 3\n    from: deferred_at\n",
			[]string{`rule "G1": from: a general rule must count from a time every request has (referral_received_at, concerns_identified_at or contact), not deferred_at`}},
		{"no citation", "    from: referral_received_at\n    citation: 000 §5, 002 §6\n\n  - id: S2", "    from: referral_received_at\n\n  - id: S2", []string{`rule "S1": citation: required`}},
		{"duplicate id", "  - id: S3\n", "  - id: S2\n", []string{`rule "S2": id: duplicate id "S2"`}},
		{"unknown concern", "[organised_abuse, allegation_against_staff]\n    unit", "[organised_abuse, allegation_against_staf]\n    unit", []string{`rule "C1": when.any_concern[1]: unknown concern "allegation_against_staf"`}},
		{"nested unknown concern", "        - any_concern: [extra_familial]\n        - multiple_children: true\n    unit", "        - any_concern: [extra_familial]\n        - any_concern: [gangs]\n    unit",
			[]string{`rule "C2": when.all[1].any_concern[0]: unknown concern "gangs"`}},
		{"clock rule on a circumstance", "      present: emergency_action_at\n", "      child_looked_after: true\n", []string{`rule "U1": when: child_looked_after is not available to clock rules (a timescale request does not carry it)`}},
		{"unknown condition key", "      present: emergency_action_at\n", "      present_at: emergency_action_at\n", []string{`rule "U1": unknown field "present_at" (line 66)`}},
		{"unknown present field", "      present: emergency_action_at\n", "      present: emergency_at\n", []string{`rule "U1": when.present[0]: unknown field "emergency_at"`}},
		{"unknown trigger", "    from: deferred_at\n", "    from: deferral\n",
			[]string{`rule "D1": from: unknown trigger "deferral" (want referral_received_at, concerns_identified_at, emergency_action_at, investigation_started_at, deferred_at, contact)`}},
		{"no within", "    within: 72\n    from: deferred_at\n", "    from: deferred_at\n", []string{`rule "D1": within: required with unit elapsed_hours, a whole number from 1`}},
		{"within with same day", "    unit: same_calendar_day\n    from: referral_received_at\n    citation: \"004\"", "    unit: same_calendar_day\n    within: 1\n    from: referral_received_at\n    citation: \"004\"",
			[]string{`rule "S3": within: not used with unit same_calendar_day`}},
		{"second red window", "    rag: amber\n", "    rag: red\n", []string{`decision "RAG-A": rag: a second window for red`}},
		{"unknown outcome", "    outcomes: [deferred]\n", "    outcomes: [adjourned]\n", []string{`follow-on "RECONVENE": outcomes[0]: unknown outcome "adjourned"`}},
		{"unknown seniority level", "    min_seniority: sergeant\n", "    min_seniority: seargent\n", []string{`requirement "police": min_seniority: unknown level "seargent" for agency police`}},
		{"unknown role", "    roles: [nurse]\n", "    roles: [matron]\n", []string{`requirement "ward_nurse": roles[0]: unknown role "matron" for health`}},
		{"level name for two agencies", "    agencies: [residential, fostering]\n    min_seniority: 1\n", "    agencies: [residential, fostering]\n    min_seniority: registered_manager\n",
			[]string{`requirement "looked_after": min_seniority: a level name needs exactly one agency; give a level number`}},
		{"essential left out", "    agencies: [legal]\n    min_seniority: solicitor\n    essential: false\n", "    agencies: [legal]\n    min_seniority: solicitor\n",
			[]string{`requirement "legal_adviser": essential: required (true: needed for quorum; false: advisory)`}},
		{"two ways to name the agency", "    agency_from: referring_agency\n", "    agency_from: referring_agency\n    agencies: [police]\n",
			[]string{`requirement "referring_agency": agencies: give exactly one of agencies, agency_from or any_agency`}},
		{"attendance on an outcome fact", "      legal_action_contemplated: true\n", "      harm_substantiated: true\n",
			[]string{`requirement "legal_adviser": when: harm_substantiated is not available to attendance rules (it is known only after the discussion)`}},
		{"bad age range", "child_age: {min: 2, max: 17}", "child_age: {min: 17, max: 2}", []string{`requirement "school_or_nursery": when.any[1].child_age: min 17 is above max 2`}},
		{"renamed agency", "  interpreting:\n    label:", "  interpreters:\n    label:",
			[]string{`agencies: unknown agency "interpreters"`, `agencies: "interpreting" missing: every agency needs a seniority scale`}},
		{"no chair", "    chair: true\n", "", []string{`attendance: no chair requirement (chair: true); a strategy discussion is chaired by a CSC manager`}},
		{"urgent minimum agency", "  essential_agencies: [social_care, police]\n", "  essential_agencies: [social_care, constabulary]\n", []string{`urgent_minimum.essential_agencies[1]: unknown agency "constabulary"`}},
		{"separate discussion without names", "        - the alleged abuser (under 18), to consider their needs\n", "\n", []string{`separate discussion "abuser_under_18": discussions: name at least one discussion to convene`}},
		{"format rule unknown key", "      when: {any_concern: [complex_neglect]}\n", "      when: {any_concerns: [complex_neglect]}\n", []string{`format rule "complex_neglect": unknown field "any_concerns" (line 486)`}},
		{"duplicate key", "    from: deferred_at\n", "    from: deferral\n    summary: again\n", []string{`rule "D1": mapping key "summary" already defined at line 119 (line 125)`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if n := strings.Count(base, tt.old); n != 1 {
				t.Fatalf("%q occurs %d times in the default", tt.old, n)
			}
			_, err := ParseProfile([]byte(strings.Replace(base, tt.old, tt.new, 1)), "test.yaml", nil)
			var perr *ProfileError
			if !errors.As(err, &perr) {
				t.Fatalf("error %v, want *ProfileError", err)
			}
			if perr.Source != "test.yaml" {
				t.Errorf("source %q", perr.Source)
			}
			if diff := cmp.Diff(tt.want, perr.Problems); diff != "" {
				t.Errorf("problems (-want +got):\n%s", diff)
			}
		})
	}
	for _, doc := range []string{"", "# only a comment\n"} {
		_, err := ParseProfile([]byte(doc), "empty.yaml", nil)
		if err == nil || !strings.Contains(err.Error(), "empty document") {
			t.Errorf("%q: error %v, want an empty document", doc, err)
		}
	}
	if _, err := ParseProfile([]byte("id: [unclosed\n"), "syntax.yaml", nil); err == nil || !strings.Contains(err.Error(), "syntax.yaml") {
		t.Errorf("syntax error: %v", err)
	}
}

// A condition of every kind, evaluated against cases.
func TestConditions(t *testing.T) {
	tests := []struct {
		yaml string
		c    Case
		want bool
	}{
		{"{}", Case{}, true},
		{"any_concern: [serious_neglect, other]", Case{TimescaleRequest: TimescaleRequest{Concerns: concerns(ConcernOther)}}, true},
		{"any_concern: [serious_neglect]", Case{TimescaleRequest: TimescaleRequest{Concerns: concerns(ConcernOther)}}, false},
		{"all_concerns: [serious_neglect, other]", Case{TimescaleRequest: TimescaleRequest{Concerns: concerns(ConcernOther)}}, false},
		{"all_concerns: [serious_neglect, other]", Case{TimescaleRequest: TimescaleRequest{Concerns: concerns(ConcernOther, ConcernSeriousNeglect)}}, true},
		{"rag: [red, amber]", Case{TimescaleRequest: TimescaleRequest{RAG: RAGAmber}}, true},
		{"rag: red", Case{}, false},
		{"forensic_evidence: false", Case{TimescaleRequest: TimescaleRequest{ForensicEvidence: true}}, false},
		{"forensic_evidence: false", Case{}, true},
		{"not: {multiple_children: true}", Case{TimescaleRequest: TimescaleRequest{MultipleChildren: true}}, false},
		{"any: [{child_unborn: true}, {child_age: {max: 0}}]", Case{Child: Child{AgeYears: intp(0)}}, true},
		{"any: [{child_unborn: true}, {child_age: {max: 0}}]", Case{Child: Child{AgeYears: intp(1)}}, false},
		{"child_age: {min: 2}", Case{}, false},
		{"child_in_hospital: outpatient", Case{Child: Child{InHospital: InHospitalInpatient}}, false},
		{"medical_examination: [possible, done]", Case{MedicalExamination: MedicalExamDone}, true},
		{"referring_agency: [police, health]", Case{ReferringAgency: AgencyHealth}, true},
		{"referring_agency: [police, health]", Case{ReferringAgency: AgencyEducation}, false},
		{"present: [referring_agency, interpreter_language]", Case{ReferringAgency: AgencyEducation}, false},
		{"present: [referring_agency, interpreter_language]", Case{ReferringAgency: AgencyEducation, InterpreterLanguage: "Polish"}, true},
		{"present: child.school_or_nursery", Case{Child: Child{SchoolOrNursery: "  "}}, false},
		{"urgent_minimum: true", Case{UrgentMinimum: &UrgentMinimum{Reason: "x"}}, true},
		{"{alleged_abuser_under_18: true, person_works_with_children: true}", Case{AllegedAbuserUnder18: true}, false},
		{"all: [{child_looked_after: true}, {legal_action_contemplated: true}]", Case{Child: Child{LookedAfter: true}, LegalActionContemplated: true}, true},
	}
	for _, tt := range tests {
		var d Condition
		if err := yaml.Unmarshal([]byte(tt.yaml), &d); err != nil {
			t.Fatalf("%s: %v", tt.yaml, err)
		}
		var problems []string
		c := d.compile("when", func(f string, a ...any) { problems = append(problems, f) })
		if len(problems) > 0 {
			t.Fatalf("%s: %v", tt.yaml, problems)
		}
		if got := c.holds(caseFacts(&tt.c)); got != tt.want {
			t.Errorf("%s on %+v: %v, want %v", tt.yaml, tt.c, got, tt.want)
		}
	}
}

// The facts must fit one word, one bit per concern and agency.
func TestFactLayout(t *testing.T) {
	if got, want := len(Concerns), factRAG0-factConcern0; got != want {
		t.Errorf("%d concerns, %d bits", got, want)
	}
	if got, want := len(rags), factForensic-factRAG0; got != want {
		t.Errorf("%d RAG ratings, %d bits", got, want)
	}
	if got, want := len(Agencies), factCount-factReferrer0; got != want {
		t.Errorf("%d agencies, %d bits", got, want)
	}
	if factCount > 64 {
		t.Errorf("%d facts do not fit a uint64", factCount)
	}
	if !slices.Equal(Agencies, agencyNames[:]) {
		t.Error("Agencies and agencyNames differ")
	}
}

func TestRegistryDirectory(t *testing.T) {
	reg, err := NewRegistry(nil, "testdata/profiles")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := reg.IDs(), []string{"default", "highland"}; !slices.Equal(got, want) {
		t.Errorf("IDs %v, want %v", got, want)
	}
	// The Scottish profile: its own region and close of business.
	ts, err := reg.Timescale(TimescaleRequest{Profile: "highland", ReferralReceivedAt: at("2025-08-01 10:00")})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := ts.Deadline, at("2025-08-07 16:30"); !got.Equal(want) {
		t.Errorf("highland deadline %s, want %s", got, want)
	}
	if got, want := ts.ProfileVersion, 3; got != want {
		t.Errorf("version %d, want %d", got, want)
	}
	p, err := reg.Profile("highland")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := p.SeniorityLabel(AgencyPolice, 3), "Inspector"; got != want {
		t.Errorf("police level 3 %q, want %q", got, want)
	}
	if got, ok := p.SeniorityLevelOf(AgencyHealth, "consultant"); !ok || got != 3 {
		t.Errorf("health consultant level %d %v", got, ok)
	}
	if got, want := p.SeniorityLabel(AgencyPolice, 9), "level 9"; got != want {
		t.Errorf("police level 9 %q, want %q", got, want)
	}

	// A directory with a broken profile stops start-up, naming the file,
	// the rule and the field.
	dir := t.TempDir()
	broken, err := os.ReadFile("testdata/broken-unit.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "area.yaml"), broken, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = NewRegistry(nil, dir)
	if err == nil || !strings.Contains(err.Error(), `area.yaml: rule "U2": unit: unknown unit "fortnight"`) {
		t.Errorf("broken directory: %v", err)
	}
	// Two files with the same id.
	dir = t.TempDir()
	hl, err := os.ReadFile("testdata/profiles/highland.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"a.yaml", "b.yml"} {
		if err := os.WriteFile(filepath.Join(dir, name), hl, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := NewRegistry(nil, dir); err == nil || !strings.Contains(err.Error(), `id "highland" already used`) {
		t.Errorf("duplicate ids: %v", err)
	}
	if _, err := NewRegistry(nil, filepath.Join(dir, "missing")); err == nil {
		t.Error("missing directory: no error")
	}
}

// Invitations carry a case reference, never a name (DOMAIN.md, data
// protection): the profile's rule refuses what could be one.
func TestCheckCaseReference(t *testing.T) {
	p := defaultProfile(t)
	for _, tc := range []struct {
		ref string
		ok  bool
	}{
		{"CR-2026-0042", true},
		{"MASH/12345", true},
		{"20260042", true},
		{"Jayden-Smith", false},
		{"Smith-2026", false},
		{"CR-12", false},
		{"CASES-2026-0042", false},
		{"CR 2026 0042", false},
		{"CR-2026-0042-Jay", false},
	} {
		t.Run(tc.ref, func(t *testing.T) {
			err := p.CheckCaseReference(tc.ref)
			if got := err == nil; got != tc.ok {
				t.Fatalf("accepted %v (%v), want %v", got, err, tc.ok)
			}
		})
	}
}
