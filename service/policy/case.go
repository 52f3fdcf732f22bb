package policy

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/convene/convene/calendar"
)

// Concern is a kind of child-protection concern a request may carry.
type Concern string

// The concerns the default profile's rules read. A profile's conditions may
// name only these.
const (
	ConcernSeriousPhysicalInjury    Concern = "serious_physical_injury"
	ConcernSeriousNeglect           Concern = "serious_neglect"
	ConcernPenetrativeSexualAbuse   Concern = "penetrative_sexual_abuse"
	ConcernRecentAbuse              Concern = "recent_abuse"
	ConcernOrganisedAbuse           Concern = "organised_abuse"
	ConcernAllegationAgainstStaff   Concern = "allegation_against_staff"
	ConcernExtraFamilial            Concern = "extra_familial"
	ConcernComplexNeglect           Concern = "complex_neglect"
	ConcernChildOnChild             Concern = "child_on_child"
	ConcernCumulativeConcerns       Concern = "cumulative_concerns"
	ConcernUnbornChild              Concern = "unborn_child"
	ConcernFabricatedInducedIllness Concern = "fabricated_induced_illness"
	ConcernOther                    Concern = "other"
)

// Concerns lists every known concern, in the order of the API contract.
var Concerns = []Concern{
	ConcernSeriousPhysicalInjury, ConcernSeriousNeglect, ConcernPenetrativeSexualAbuse,
	ConcernRecentAbuse, ConcernOrganisedAbuse, ConcernAllegationAgainstStaff,
	ConcernExtraFamilial, ConcernComplexNeglect, ConcernChildOnChild,
	ConcernCumulativeConcerns, ConcernUnbornChild, ConcernFabricatedInducedIllness,
	ConcernOther,
}

func (c Concern) index() int { return slices.Index(Concerns, c) }

// RAG is the MASH duty manager's red/amber/green risk rating (seed 001).
type RAG string

// The RAG ratings.
const (
	RAGRed   RAG = "red"
	RAGAmber RAG = "amber"
	RAGGreen RAG = "green"
)

var rags = []RAG{RAGRed, RAGAmber, RAGGreen}

// Agency is an organisation that takes part in strategy discussions. The
// values match the directory's (service.Agency).
type Agency string

// The agencies.
const (
	AgencySocialCare   Agency = "social_care"
	AgencyPolice       Agency = "police"
	AgencyHealth       Agency = "health"
	AgencyEducation    Agency = "education"
	AgencyProbation    Agency = "probation"
	AgencyHousing      Agency = "housing"
	AgencyLegal        Agency = "legal"
	AgencyLADO         Agency = "lado"
	AgencyMidwifery    Agency = "midwifery"
	AgencyFostering    Agency = "fostering"
	AgencyResidential  Agency = "residential"
	AgencyInterpreting Agency = "interpreting"
	AgencyOther        Agency = "other"
)

// Agencies lists every agency.
var Agencies = []Agency{
	AgencySocialCare, AgencyPolice, AgencyHealth, AgencyEducation, AgencyProbation,
	AgencyHousing, AgencyLegal, AgencyLADO, AgencyMidwifery, AgencyFostering,
	AgencyResidential, AgencyInterpreting, AgencyOther,
}

func (a Agency) index() int { return slices.Index(Agencies, a) }

// Outcome is what a strategy discussion decided: one of the seven outcomes
// of seed 001.
type Outcome string

// The outcomes.
const (
	OutcomeS47Enquiry          Outcome = "s47_enquiry"
	OutcomeS17Assessment       Outcome = "s17_assessment"
	OutcomePoliceInvestigation Outcome = "police_investigation"
	OutcomeReferralOtherAgency Outcome = "referral_other_agency"
	OutcomeDisciplinary        Outcome = "disciplinary"
	OutcomeNoFurtherAction     Outcome = "no_further_action"
	OutcomeDeferred            Outcome = "deferred"
)

// Outcomes lists every outcome.
var Outcomes = []Outcome{
	OutcomeS47Enquiry, OutcomeS17Assessment, OutcomePoliceInvestigation,
	OutcomeReferralOtherAgency, OutcomeDisciplinary, OutcomeNoFurtherAction,
	OutcomeDeferred,
}

// Hospital and medical-examination states.
const (
	InHospitalInpatient  = "inpatient"
	InHospitalOutpatient = "outpatient"
	MedicalExamPossible  = "possible"
	MedicalExamDone      = "done"
)

// TimescaleRequest is what the clock needs to know about a case: the body
// of POST /v1/timescales, and the clock part of a convene request.
type TimescaleRequest struct {
	// Profile names the procedure profile; empty means "default".
	Profile string `json:"profile,omitempty"`
	// Region overrides the profile's bank-holiday region.
	Region calendar.Region `json:"region,omitempty"`
	// RAG is the MASH rating, if one was given.
	RAG      RAG       `json:"rag,omitempty"`
	Concerns []Concern `json:"concerns,omitempty"`
	// ForensicEvidence: forensic evidence may need securing or preserving.
	ForensicEvidence bool `json:"forensic_evidence,omitempty"`
	// MultipleChildren: more than one child is the subject of the concerns.
	MultipleChildren bool `json:"multiple_children,omitempty"`

	// ReferralReceivedAt is when the referral (the contact) was received.
	// Required.
	ReferralReceivedAt time.Time `json:"referral_received_at"`
	// ConcernsIdentifiedAt defaults to ReferralReceivedAt.
	ConcernsIdentifiedAt   *time.Time `json:"concerns_identified_at,omitempty"`
	EmergencyActionAt      *time.Time `json:"emergency_action_at,omitempty"`
	InvestigationStartedAt *time.Time `json:"investigation_started_at,omitempty"`
	DeferredAt             *time.Time `json:"deferred_at,omitempty"`
}

// Child describes the child a discussion is about. It carries no name: the
// service never needs one to decide who must attend.
type Child struct {
	AgeYears *int `json:"age_years,omitempty"`
	Unborn   bool `json:"unborn,omitempty"`
	// InHospital is "inpatient", "outpatient" or empty.
	InHospital  string `json:"in_hospital,omitempty"`
	LookedAfter bool   `json:"looked_after,omitempty"`
	// SchoolOrNursery names the child's school or nursery, if known.
	SchoolOrNursery string `json:"school_or_nursery,omitempty"`
}

// UrgentMinimum asks for the exceptional urgent discussion with at minimum
// CSC and the police (003 §2). The reason is required and recorded.
type UrgentMinimum struct {
	Reason string `json:"reason"`
}

// Case is everything a convene request says about the circumstances: the
// clock's fields (embedded, so they appear at the top level in JSON) and
// those that decide who must take part and how the discussion is held.
type Case struct {
	TimescaleRequest
	Child Child `json:"child"`
	// MedicalExamination is "possible", "done" or empty.
	MedicalExamination      string `json:"medical_examination,omitempty"`
	LegalActionContemplated bool   `json:"legal_action_contemplated,omitempty"`
	// PersonWorksWithChildren: the concern involves someone who works with
	// children (an allegation against a person in a position of trust).
	PersonWorksWithChildren bool `json:"person_works_with_children,omitempty"`
	// InterpreterLanguage names the language (or "BSL", or a communication
	// need) when the child or family needs an interpreter.
	InterpreterLanguage string `json:"interpreter_language,omitempty"`
	// SpecialistExpertise names a form of abuse needing specialist advice.
	SpecialistExpertise  string         `json:"specialist_expertise,omitempty"`
	ReferringAgency      Agency         `json:"referring_agency,omitempty"`
	UrgentMinimum        *UrgentMinimum `json:"urgent_minimum,omitempty"`
	AllegedAbuserUnder18 bool           `json:"alleged_abuser_under_18,omitempty"`
}

// validateEnums checks the enumerated fields of a timescale request; it
// does not ask for the timestamps, which only the clock needs.
func (r *TimescaleRequest) validateEnums(fe *[]FieldError) {
	if r.Region != "" && !r.Region.Valid() {
		*fe = append(*fe, FieldError{Field: "region", Message: fmt.Sprintf("unknown region %q (want england-and-wales, scotland or northern-ireland)", r.Region)})
	}
	if r.RAG != "" && !slices.Contains(rags, r.RAG) {
		*fe = append(*fe, FieldError{Field: "rag", Message: fmt.Sprintf("unknown RAG rating %q (want red, amber or green)", r.RAG)})
	}
	for i, c := range r.Concerns {
		if c.index() < 0 {
			*fe = append(*fe, FieldError{Field: fmt.Sprintf("concerns[%d]", i), Message: fmt.Sprintf("unknown concern %q", c)})
		}
	}
}

func (r *TimescaleRequest) validateTimes(fe *[]FieldError) {
	if r.ReferralReceivedAt.IsZero() {
		*fe = append(*fe, FieldError{Field: "referral_received_at", Message: "required"})
	}
	for _, f := range []struct {
		name string
		t    *time.Time
	}{
		{"concerns_identified_at", r.ConcernsIdentifiedAt},
		{"emergency_action_at", r.EmergencyActionAt},
		{"investigation_started_at", r.InvestigationStartedAt},
		{"deferred_at", r.DeferredAt},
	} {
		if f.t != nil && f.t.IsZero() {
			*fe = append(*fe, FieldError{Field: f.name, Message: "must be a time, or left out"})
		}
	}
}

// Validate checks a timescale request: the enumerations and the
// timestamps. The profile name is checked by Registry.Profile.
func (r TimescaleRequest) Validate() error {
	var fe []FieldError
	r.validateEnums(&fe)
	r.validateTimes(&fe)
	return invalid(fe)
}

// validateCircumstances checks the fields beyond the clock's.
func (c *Case) validateCircumstances(fe *[]FieldError) {
	c.TimescaleRequest.validateEnums(fe)
	if c.Child.AgeYears != nil {
		if a := *c.Child.AgeYears; a < 0 || a > 25 {
			*fe = append(*fe, FieldError{Field: "child.age_years", Message: fmt.Sprintf("%d is not a child's age (0 to 25 for care leavers)", a)})
		}
		if c.Child.Unborn {
			*fe = append(*fe, FieldError{Field: "child.unborn", Message: "an unborn child has no age: give child.age_years or child.unborn, not both"})
		}
	}
	if h := c.Child.InHospital; h != "" && h != InHospitalInpatient && h != InHospitalOutpatient {
		*fe = append(*fe, FieldError{Field: "child.in_hospital", Message: fmt.Sprintf("unknown value %q (want inpatient or outpatient)", h)})
	}
	if m := c.MedicalExamination; m != "" && m != MedicalExamPossible && m != MedicalExamDone {
		*fe = append(*fe, FieldError{Field: "medical_examination", Message: fmt.Sprintf("unknown value %q (want possible or done)", m)})
	}
	if a := c.ReferringAgency; a != "" && a.index() < 0 {
		*fe = append(*fe, FieldError{Field: "referring_agency", Message: fmt.Sprintf("unknown agency %q", a)})
	}
	if c.UrgentMinimum != nil && strings.TrimSpace(c.UrgentMinimum.Reason) == "" {
		*fe = append(*fe, FieldError{Field: "urgent_minimum.reason", Message: "required: an urgent discussion without all agencies is exceptional and its reason is recorded (003 §2)"})
	}
}

// Validate checks a whole case: the clock's fields, including the required
// referral time, and the circumstances.
func (c Case) Validate() error {
	var fe []FieldError
	c.validateCircumstances(&fe)
	c.TimescaleRequest.validateTimes(&fe)
	return invalid(fe)
}
