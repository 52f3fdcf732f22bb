package policy

import (
	"fmt"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

// Facts: each is one bit of what a request says, so that a condition is a
// few mask tests, whatever rule it belongs to.
const (
	factConcern0         = 0  // one bit per entry of Concerns
	factRAG0             = 13 // one bit per RAG rating
	factForensic         = 16
	factMultipleChildren = 17
)

const (
	factPresentConcernsIdentified = iota + 18
	factPresentEmergency
	factPresentInvestigation
	factPresentDeferred
	factChildAgeKnown
	factChildUnborn
	factInpatient
	factOutpatient
	factLookedAfter
	factSchoolNamed
	factMedExamPossible
	factMedExamDone
	factLegalAction
	factWorksWithChildren
	factInterpreter
	factSpecialist
	factReferrerKnown
	factUrgentMinimum
	factAbuserUnder18
	factHarmSubstantiated
	factReferrer0 // one bit per entry of Agencies
)

const factCount = factReferrer0 + 13

// facts is what a condition is evaluated against.
type facts struct {
	bits uint64
	age  int
}

func bit(f int) uint64 { return 1 << uint(f) }

// clockFacts are the facts a timescale request can carry; clock and
// decision rules may use only these.
const clockFacts = (1<<(factRAG0+3) - 1) | 1<<factForensic | 1<<factMultipleChildren |
	1<<factPresentConcernsIdentified | 1<<factPresentEmergency | 1<<factPresentInvestigation | 1<<factPresentDeferred

// requestFacts extracts the clock's facts.
func requestFacts(r *TimescaleRequest) facts {
	var b uint64
	for _, c := range r.Concerns {
		if i := c.index(); i >= 0 {
			b |= bit(factConcern0 + i)
		}
	}
	if i := slices.Index(rags, r.RAG); i >= 0 {
		b |= bit(factRAG0 + i)
	}
	set := func(ok bool, f int) {
		if ok {
			b |= bit(f)
		}
	}
	set(r.ForensicEvidence, factForensic)
	set(r.MultipleChildren, factMultipleChildren)
	set(true, factPresentConcernsIdentified) // defaults to the referral
	set(r.EmergencyActionAt != nil, factPresentEmergency)
	set(r.InvestigationStartedAt != nil, factPresentInvestigation)
	set(r.DeferredAt != nil, factPresentDeferred)
	return facts{bits: b}
}

// caseFacts extracts every fact of a case.
func caseFacts(c *Case) facts {
	f := requestFacts(&c.TimescaleRequest)
	set := func(ok bool, n int) {
		if ok {
			f.bits |= bit(n)
		}
	}
	if c.Child.AgeYears != nil {
		set(true, factChildAgeKnown)
		f.age = *c.Child.AgeYears
	}
	set(c.Child.Unborn, factChildUnborn)
	set(c.Child.InHospital == InHospitalInpatient, factInpatient)
	set(c.Child.InHospital == InHospitalOutpatient, factOutpatient)
	set(c.Child.LookedAfter, factLookedAfter)
	set(strings.TrimSpace(c.Child.SchoolOrNursery) != "", factSchoolNamed)
	set(c.MedicalExamination == MedicalExamPossible, factMedExamPossible)
	set(c.MedicalExamination == MedicalExamDone, factMedExamDone)
	set(c.LegalActionContemplated, factLegalAction)
	set(c.PersonWorksWithChildren, factWorksWithChildren)
	set(strings.TrimSpace(c.InterpreterLanguage) != "", factInterpreter)
	set(strings.TrimSpace(c.SpecialistExpertise) != "", factSpecialist)
	set(c.ReferringAgency != "", factReferrerKnown)
	if i := c.ReferringAgency.index(); i >= 0 {
		set(true, factReferrer0+i)
	}
	set(c.UrgentMinimum != nil, factUrgentMinimum)
	set(c.AllegedAbuserUnder18, factAbuserUnder18)
	return f
}

// presentFields are the fields a `present:` condition may name.
var presentFields = map[string]int{
	"concerns_identified_at":   factPresentConcernsIdentified,
	"emergency_action_at":      factPresentEmergency,
	"investigation_started_at": factPresentInvestigation,
	"deferred_at":              factPresentDeferred,
	"child.age_years":          factChildAgeKnown,
	"child.school_or_nursery":  factSchoolNamed,
	"interpreter_language":     factInterpreter,
	"specialist_expertise":     factSpecialist,
	"referring_agency":         factReferrerKnown,
	"urgent_minimum":           factUrgentMinimum,
}

// stringList is a YAML scalar or sequence of scalars.
type stringList []string

func (l *stringList) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		*l = stringList{n.Value}
		return nil
	}
	var s []string
	if err := n.Decode(&s); err != nil {
		return err
	}
	*l = s
	return nil
}

// ageRange is an inclusive range of ages in years.
type ageRange struct {
	Min *int `yaml:"min"`
	Max *int `yaml:"max"`
}

// Condition is the declarative test a profile attaches to a rule: every key
// given must hold (they are ANDed). An absent or empty condition always
// holds.
//
//	all: [Condition, ...]        every one holds
//	any: [Condition, ...]        at least one holds
//	not: Condition               it does not hold
//	any_concern: [concern, ...]  at least one of the concerns is present
//	all_concerns: [concern, ...] all of them are
//	rag: red | [red, amber]      the RAG rating is one of these
//	forensic_evidence: bool
//	multiple_children: bool
//	present: field | [field, ...] each field is given (emergency_action_at,
//	                             investigation_started_at, deferred_at,
//	                             concerns_identified_at, child.age_years,
//	                             child.school_or_nursery, interpreter_language,
//	                             specialist_expertise, referring_agency,
//	                             urgent_minimum)
//
// and, for attendance, format and follow-on rules only (a timescale request
// does not carry them):
//
//	child_age: {min: 2, max: 17} the child's age is known and in range
//	child_unborn, child_looked_after, legal_action_contemplated,
//	person_works_with_children, alleged_abuser_under_18,
//	urgent_minimum, harm_substantiated: bool
//	child_in_hospital: inpatient | [inpatient, outpatient]
//	medical_examination: possible | [possible, done]
//	referring_agency: agency | [agency, ...]
type Condition struct {
	All         []Condition `yaml:"all"`
	Any         []Condition `yaml:"any"`
	Not         *Condition  `yaml:"not"`
	AnyConcern  stringList  `yaml:"any_concern"`
	AllConcerns stringList  `yaml:"all_concerns"`
	RAG         stringList  `yaml:"rag"`
	Present     stringList  `yaml:"present"`

	ForensicEvidence        *bool `yaml:"forensic_evidence"`
	MultipleChildren        *bool `yaml:"multiple_children"`
	ChildUnborn             *bool `yaml:"child_unborn"`
	ChildLookedAfter        *bool `yaml:"child_looked_after"`
	LegalActionContemplated *bool `yaml:"legal_action_contemplated"`
	PersonWorksWithChildren *bool `yaml:"person_works_with_children"`
	AllegedAbuserUnder18    *bool `yaml:"alleged_abuser_under_18"`
	UrgentMinimum           *bool `yaml:"urgent_minimum"`
	HarmSubstantiated       *bool `yaml:"harm_substantiated"`

	ChildAge           *ageRange  `yaml:"child_age"`
	ChildInHospital    stringList `yaml:"child_in_hospital"`
	MedicalExamination stringList `yaml:"medical_examination"`
	ReferringAgency    stringList `yaml:"referring_agency"`
}

// condition is a compiled Condition.
type condition struct {
	all, none uint64   // facts that must all be set; facts that must all be clear
	anyOf     []uint64 // for each, at least one of the facts is set
	age       *[2]int
	subAll    []condition
	subAny    []condition
	not       *condition
}

func (c *condition) holds(f facts) bool {
	if f.bits&c.all != c.all || f.bits&c.none != 0 {
		return false
	}
	for _, m := range c.anyOf {
		if f.bits&m == 0 {
			return false
		}
	}
	if c.age != nil && (f.bits&bit(factChildAgeKnown) == 0 || f.age < c.age[0] || f.age > c.age[1]) {
		return false
	}
	for i := range c.subAll {
		if !c.subAll[i].holds(f) {
			return false
		}
	}
	if len(c.subAny) > 0 {
		ok := false
		for i := range c.subAny {
			if c.subAny[i].holds(f) {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	return c.not == nil || !c.not.holds(f)
}

// used returns every fact the condition reads.
func (c *condition) used() uint64 {
	u := c.all | c.none
	for _, m := range c.anyOf {
		u |= m
	}
	if c.age != nil {
		u |= bit(factChildAgeKnown)
	}
	for i := range c.subAll {
		u |= c.subAll[i].used()
	}
	for i := range c.subAny {
		u |= c.subAny[i].used()
	}
	if c.not != nil {
		u |= c.not.used()
	}
	return u
}

// compile checks a Condition and compiles it; problems are reported with
// path, the condition's position ("when", "when.any[1]").
func (d *Condition) compile(path string, problem func(string, ...any)) condition {
	var c condition
	if d == nil {
		return c
	}
	for i := range d.All {
		c.subAll = append(c.subAll, d.All[i].compile(fmt.Sprintf("%s.all[%d]", path, i), problem))
	}
	for i := range d.Any {
		c.subAny = append(c.subAny, d.Any[i].compile(fmt.Sprintf("%s.any[%d]", path, i), problem))
	}
	if d.Any != nil && len(d.Any) == 0 {
		problem("%s.any: empty list never holds", path)
	}
	if d.Not != nil {
		n := d.Not.compile(path+".not", problem)
		c.not = &n
	}
	oneOf := func(key string, vals stringList, known func(string) (int, bool), what string) uint64 {
		var m uint64
		for i, v := range vals {
			f, ok := known(v)
			if !ok {
				problem("%s.%s[%d]: unknown %s %q", path, key, i, what, v)
				continue
			}
			m |= bit(f)
		}
		if vals != nil && len(vals) == 0 {
			problem("%s.%s: empty list never holds", path, key)
		}
		return m
	}
	concern := func(v string) (int, bool) {
		i := Concern(v).index()
		return factConcern0 + i, i >= 0
	}
	if m := oneOf("any_concern", d.AnyConcern, concern, "concern"); m != 0 {
		c.anyOf = append(c.anyOf, m)
	}
	c.all |= oneOf("all_concerns", d.AllConcerns, concern, "concern")
	if m := oneOf("rag", d.RAG, func(v string) (int, bool) {
		i := slices.Index(rags, RAG(v))
		return factRAG0 + i, i >= 0
	}, "RAG rating"); m != 0 {
		c.anyOf = append(c.anyOf, m)
	}
	c.all |= oneOf("present", d.Present, func(v string) (int, bool) {
		f, ok := presentFields[v]
		return f, ok
	}, "field")
	if m := oneOf("child_in_hospital", d.ChildInHospital, func(v string) (int, bool) {
		switch v {
		case InHospitalInpatient:
			return factInpatient, true
		case InHospitalOutpatient:
			return factOutpatient, true
		}
		return 0, false
	}, "hospital state (want inpatient or outpatient)"); m != 0 {
		c.anyOf = append(c.anyOf, m)
	}
	if m := oneOf("medical_examination", d.MedicalExamination, func(v string) (int, bool) {
		switch v {
		case MedicalExamPossible:
			return factMedExamPossible, true
		case MedicalExamDone:
			return factMedExamDone, true
		}
		return 0, false
	}, "examination state (want possible or done)"); m != 0 {
		c.anyOf = append(c.anyOf, m)
	}
	if m := oneOf("referring_agency", d.ReferringAgency, func(v string) (int, bool) {
		i := Agency(v).index()
		return factReferrer0 + i, i >= 0
	}, "agency"); m != 0 {
		c.anyOf = append(c.anyOf, m)
	}
	for _, b := range []struct {
		v    *bool
		fact int
	}{
		{d.ForensicEvidence, factForensic},
		{d.MultipleChildren, factMultipleChildren},
		{d.ChildUnborn, factChildUnborn},
		{d.ChildLookedAfter, factLookedAfter},
		{d.LegalActionContemplated, factLegalAction},
		{d.PersonWorksWithChildren, factWorksWithChildren},
		{d.AllegedAbuserUnder18, factAbuserUnder18},
		{d.UrgentMinimum, factUrgentMinimum},
		{d.HarmSubstantiated, factHarmSubstantiated},
	} {
		switch {
		case b.v == nil:
		case *b.v:
			c.all |= bit(b.fact)
		default:
			c.none |= bit(b.fact)
		}
	}
	if d.ChildAge != nil {
		lo, hi := 0, 1<<30
		if d.ChildAge.Min != nil {
			lo = *d.ChildAge.Min
		}
		if d.ChildAge.Max != nil {
			hi = *d.ChildAge.Max
		}
		if d.ChildAge.Min == nil && d.ChildAge.Max == nil {
			problem("%s.child_age: give min, max or both", path)
		} else if lo > hi {
			problem("%s.child_age: min %d is above max %d", path, lo, hi)
		}
		c.age = &[2]int{lo, hi}
	}
	return c
}

// factNames names the facts for messages about where a condition may not
// look.
func factName(f int) string {
	switch {
	case f >= factReferrer0:
		return "referring_agency"
	case f == factChildAgeKnown:
		return "child_age"
	}
	for k, v := range presentFields {
		if v == f {
			return "present: " + k
		}
	}
	return map[int]string{
		factChildUnborn: "child_unborn", factInpatient: "child_in_hospital", factOutpatient: "child_in_hospital",
		factLookedAfter: "child_looked_after", factMedExamPossible: "medical_examination", factMedExamDone: "medical_examination",
		factLegalAction: "legal_action_contemplated", factWorksWithChildren: "person_works_with_children",
		factAbuserUnder18: "alleged_abuser_under_18", factHarmSubstantiated: "harm_substantiated",
	}[f]
}

// checkOnly reports the first fact c uses outside allowed.
func (c *condition) checkOnly(allowed uint64, path, why string, problem func(string, ...any)) {
	if extra := c.used() &^ allowed; extra != 0 {
		for f := 0; f < factCount; f++ {
			if extra&bit(f) != 0 {
				problem("%s: %s is not available to %s", path, factName(f), why)
				return
			}
		}
	}
}
