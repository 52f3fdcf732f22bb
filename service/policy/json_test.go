package policy

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// A convene request's JSON decodes into a Case directly: the clock's fields
// at the top level, the child's under "child".
func TestCaseJSON(t *testing.T) {
	const body = `{
		"profile": "default",
		"region": "scotland",
		"rag": "red",
		"concerns": ["serious_neglect", "extra_familial"],
		"forensic_evidence": true,
		"multiple_children": true,
		"referral_received_at": "2025-06-02T10:00:00+01:00",
		"emergency_action_at": "2025-06-02T09:00:00Z",
		"child": {"age_years": 7, "in_hospital": "inpatient", "looked_after": true, "school_or_nursery": "Hillside Primary"},
		"medical_examination": "possible",
		"legal_action_contemplated": true,
		"person_works_with_children": true,
		"interpreter_language": "Polish",
		"specialist_expertise": "child sexual exploitation",
		"referring_agency": "education",
		"urgent_minimum": {"reason": "child at risk tonight"},
		"alleged_abuser_under_18": true
	}`
	dec := json.NewDecoder(strings.NewReader(body))
	dec.DisallowUnknownFields()
	var c Case
	if err := dec.Decode(&c); err != nil {
		t.Fatal(err)
	}
	emergency := time.Date(2025, 6, 2, 9, 0, 0, 0, time.UTC)
	want := Case{
		TimescaleRequest: TimescaleRequest{
			Profile: "default", Region: sc, RAG: RAGRed,
			Concerns:         concerns(ConcernSeriousNeglect, ConcernExtraFamilial),
			ForensicEvidence: true, MultipleChildren: true,
			ReferralReceivedAt: time.Date(2025, 6, 2, 10, 0, 0, 0, time.FixedZone("", 3600)),
			EmergencyActionAt:  &emergency,
		},
		Child:                   Child{AgeYears: intp(7), InHospital: InHospitalInpatient, LookedAfter: true, SchoolOrNursery: "Hillside Primary"},
		MedicalExamination:      MedicalExamPossible,
		LegalActionContemplated: true,
		PersonWorksWithChildren: true,
		InterpreterLanguage:     "Polish",
		SpecialistExpertise:     "child sexual exploitation",
		ReferringAgency:         AgencyEducation,
		UrgentMinimum:           &UrgentMinimum{Reason: "child at risk tonight"},
		AllegedAbuserUnder18:    true,
	}
	if diff := cmp.Diff(want, c, cmp.Comparer(func(a, b time.Time) bool { return a.Equal(b) })); diff != "" {
		t.Errorf("decoded case (-want +got):\n%s", diff)
	}
	if err := c.Validate(); err != nil {
		t.Errorf("Validate: %v", err)
	}
}

// The timescale answer's JSON names, as the API contract has them.
func TestTimescaleJSONShape(t *testing.T) {
	p := defaultProfile(t)
	ts, err := p.Timescale(TimescaleRequest{RAG: RAGAmber, ReferralReceivedAt: at("2025-06-02 10:00")})
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(ts)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	var keys []string
	for k := range m {
		keys = append(keys, k)
	}
	for _, k := range []string{"profile", "profile_version", "region", "time_zone", "deadline", "binding_rule", "rules", "decision_due", "follow_on"} {
		if _, ok := m[k]; !ok {
			t.Errorf("no %q in %s", k, b)
		}
	}
	if got, want := m["deadline"], "2025-06-05T17:00:00+01:00"; got != want {
		t.Errorf("deadline %v, want %v", got, want)
	}
	rule := m["rules"].([]any)[0].(map[string]any)
	for _, k := range []string{"id", "summary", "citation", "unit", "within", "period", "trigger", "trigger_at", "deadline", "binding"} {
		if _, ok := rule[k]; !ok {
			t.Errorf("no %q in rule %v", k, rule)
		}
	}
	if got, want := m["binding_rule"], map[string]any{"id": "G1", "summary": "Child protection concerns identified (general rule)", "citation": "002 §6, 003 §3"}; !cmp.Equal(got, want) {
		t.Errorf("binding_rule %v, want %v", got, want)
	}
}
