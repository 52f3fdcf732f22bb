package policy

import "testing"

// BenchmarkTimescale is the deadline computation for one request: validate,
// match every clock rule, count working days, RAG decision and follow-ons.
func BenchmarkTimescale(b *testing.B) {
	p := defaultProfile(b)
	req := TimescaleRequest{
		Region:             sc,
		RAG:                RAGRed,
		Concerns:           concerns(ConcernOrganisedAbuse, ConcernExtraFamilial),
		MultipleChildren:   true,
		ReferralReceivedAt: at("2025-12-23 16:59"),
		EmergencyActionAt:  ptr("2025-12-23 15:00"),
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := p.Timescale(req); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkTimescaleGeneral is the commonest request: no specific rule.
func BenchmarkTimescaleGeneral(b *testing.B) {
	p := defaultProfile(b)
	req := TimescaleRequest{Concerns: concerns(ConcernOther), ReferralReceivedAt: at("2025-06-06 10:00")}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := p.Timescale(req); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRequirementsQuorum derives the requirements of a busy case and
// evaluates a quorum of eight participants against them.
func BenchmarkRequirementsQuorum(b *testing.B) {
	p := defaultProfile(b)
	c := Case{
		TimescaleRequest:        TimescaleRequest{Concerns: concerns(ConcernFabricatedInducedIllness)},
		Child:                   Child{AgeYears: intp(6), InHospital: InHospitalInpatient, SchoolOrNursery: "Hillside Primary"},
		MedicalExamination:      MedicalExamDone,
		ReferringAgency:         AgencyHealth,
		LegalActionContemplated: true,
		InterpreterLanguage:     "Polish",
	}
	ps := present(sw, chair, sergeant, wardNurse, consPaed, named, teacher, hv)
	b.ReportAllocs()
	for b.Loop() {
		att, err := p.Requirements(c)
		if err != nil {
			b.Fatal(err)
		}
		EvaluateQuorum(QuorumActual, att.Requirements, ps, att.KnowsChild.Required)
	}
}

// BenchmarkFollowOns computes the deadlines after an s47 outcome.
func BenchmarkFollowOns(b *testing.B) {
	p := defaultProfile(b)
	req := FollowOnRequest{HeldAt: at("2025-12-15 11:00"), Outcome: OutcomeS47Enquiry, HarmSubstantiated: true}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := p.FollowOns(req); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkParseDefaultProfile is start-up: YAML, validation, compilation
// and the working-day calendar.
func BenchmarkParseDefaultProfile(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DefaultProfile(nil); err != nil {
			b.Fatal(err)
		}
	}
}
