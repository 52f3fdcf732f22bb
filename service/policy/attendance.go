package policy

import (
	"slices"
	"strings"
)

// Seniority is a level on an agency's scale with its label.
type Seniority struct {
	Level int    `json:"level"`
	Label string `json:"label"`
}

// Requirement is someone who must (essential) or should (advisory) take
// part in the discussion, and why.
type Requirement struct {
	ID string `json:"id"`
	// Name is how a chair would say it: "police", "CSC manager as chair".
	Name string `json:"name"`
	// Agencies the participant may come from; empty means any agency.
	Agencies []Agency `json:"agencies,omitempty"`
	// Roles the participant must hold; empty means any role.
	Roles        []string  `json:"roles,omitempty"`
	MinSeniority Seniority `json:"min_seniority"`
	// Essential requirements decide quorum; advisory ones are reported.
	Essential bool `json:"essential"`
	// Chair: only the participant flagged as chair satisfies it.
	Chair bool `json:"chair,omitempty"`
	// Shared: a participant who fills another requirement may satisfy this
	// one too (the referring agency's own representative, a consultant who
	// is also the examining paediatrician).
	Shared bool `json:"shared,omitempty"`
	// Detail is the case's specifics, such as the school's name or the
	// interpreter's language.
	Detail string `json:"detail,omitempty"`
	// Expertise, when set, is the area of expertise the participant must
	// have (the specialist in the form of abuse, 000 §4, 002 §4): only
	// someone whose directory entry lists it meets the requirement, never
	// the chair and never whoever happens to be there.
	Expertise string `json:"expertise,omitempty"`
	Reason    string `json:"reason"`
	Citation  string `json:"citation"`
	// Note explains a change the case made, such as an urgent discussion
	// turning an essential requirement advisory.
	Note string `json:"note,omitempty"`
}

// KnowsChildRule is the quorum condition that someone present knows the
// child (004: the Climbié lesson).
type KnowsChildRule struct {
	Required bool   `json:"required"`
	Reason   string `json:"reason,omitempty"`
	Citation string `json:"citation,omitempty"`
}

// UrgentMinimumApplied records that the exceptional urgent minimum was
// asked for, with the reason given.
type UrgentMinimumApplied struct {
	Reason            string   `json:"reason"`
	Summary           string   `json:"summary"`
	Citation          string   `json:"citation"`
	EssentialAgencies []Agency `json:"essential_agencies"`
}

// Attendance is who must take part in a discussion: the requirements, the
// knows-the-child condition, and the urgent minimum if it applies.
type Attendance struct {
	Requirements  []Requirement         `json:"requirements"`
	KnowsChild    KnowsChildRule        `json:"knows_child"`
	UrgentMinimum *UrgentMinimumApplied `json:"urgent_minimum,omitempty"`
}

// Requirements derives who must take part from a case's circumstances, in
// profile order. Under the urgent minimum (003 §2) only requirements whose
// agencies are all among the profile's urgent essential agencies (CSC and
// police) stay essential; the others become advisory with a note.
func (p *Profile) Requirements(c Case) (Attendance, error) {
	var fe []FieldError
	c.validateCircumstances(&fe)
	if err := invalid(fe); err != nil {
		return Attendance{}, err
	}
	f := caseFacts(&c)
	att := Attendance{KnowsChild: p.knowsChild, Requirements: make([]Requirement, 0, len(p.attendance))}
	if c.UrgentMinimum != nil {
		att.UrgentMinimum = &UrgentMinimumApplied{
			Reason: strings.TrimSpace(c.UrgentMinimum.Reason), Summary: p.urgent.summary,
			Citation: p.urgent.citation, EssentialAgencies: p.urgent.essentialAgencies,
		}
	}
	for i := range p.attendance {
		r := &p.attendance[i]
		if !r.when.holds(f) {
			continue
		}
		req := Requirement{
			ID: r.id, Name: r.name, Agencies: r.agencies, Roles: r.roles,
			Essential: r.essential, Chair: r.chair, Shared: r.shared,
			Reason: r.reason, Citation: r.citation,
		}
		if r.agencyFromReferer {
			req.Agencies = []Agency{c.ReferringAgency}
			req.Name = strings.ReplaceAll(req.Name, "{agency}", p.AgencyLabel(c.ReferringAgency))
		}
		req.MinSeniority = Seniority{Level: r.minLevel, Label: p.minLabel(req.Agencies, r.minLevel)}
		switch r.detailFrom {
		case "child.school_or_nursery":
			req.Detail = strings.TrimSpace(c.Child.SchoolOrNursery)
		case "interpreter_language":
			req.Detail = strings.TrimSpace(c.InterpreterLanguage)
		case "specialist_expertise":
			req.Detail = strings.TrimSpace(c.SpecialistExpertise)
			req.Expertise = req.Detail
		}
		if att.UrgentMinimum != nil && req.Essential && !p.urgentEssential(req.Agencies) {
			req.Essential = false
			req.Note = "advisory under the urgent minimum (" + p.urgent.citation + "): " + att.UrgentMinimum.Reason
		}
		att.Requirements = append(att.Requirements, req)
	}
	return att, nil
}

// UrgentMinimumAllowed says whether the exceptional urgent minimum (CSC
// and police only, 003 §2) may be invoked for a case whose timescale is ts:
// only at a RAG rating or under a binding rule the profile allows (by
// default red, or a same-day or one-working-day rule). A refusal is an
// EINVALID error naming urgent_minimum.
func (p *Profile) UrgentMinimumAllowed(c Case, ts Timescale) error {
	if c.UrgentMinimum == nil {
		return nil
	}
	if slices.Contains(p.urgent.allowedRAG, c.RAG) || slices.Contains(p.urgent.allowedRules, ts.BindingRule.ID) {
		return nil
	}
	var allowed []string
	for _, r := range p.urgent.allowedRAG {
		allowed = append(allowed, "a "+string(r)+" rating")
	}
	if len(p.urgent.allowedRules) > 0 {
		allowed = append(allowed, "rule "+strings.Join(p.urgent.allowedRules, ", "))
	}
	return invalid([]FieldError{{Field: "urgent_minimum", Message: "the urgent minimum is for exceptional, urgent discussions (" + p.urgent.citation +
		"): it needs " + strings.Join(allowed, " or ") + "; this one is bound by " + ts.BindingRule.ID}})
}

// ChairRequirement is the requirement the chair fills: the agencies, roles
// and minimum level allowed to chair.
func (p *Profile) ChairRequirement() (Requirement, bool) {
	for i := range p.attendance {
		if r := &p.attendance[i]; r.chair {
			req := Requirement{ID: r.id, Name: r.name, Agencies: r.agencies, Roles: r.roles, Essential: r.essential, Chair: true,
				Reason: r.reason, Citation: r.citation}
			req.MinSeniority = Seniority{Level: r.minLevel, Label: p.minLabel(req.Agencies, r.minLevel)}
			return req, true
		}
	}
	return Requirement{}, false
}

// MayChair says whether someone of this agency, role and level may chair a
// strategy discussion under the profile's chair requirement (a CSC team,
// practice or first-line manager by default: 000 §3, 001, 002 §4, 004),
// and if not, why not in words an administrator can act on.
func (p *Profile) MayChair(agency Agency, role string, level int) (bool, string) {
	r, ok := p.ChairRequirement()
	if !ok {
		return false, "the procedure profile names no chair requirement"
	}
	if len(r.Agencies) > 0 && !slices.Contains(r.Agencies, agency) {
		names := make([]string, len(r.Agencies))
		for i, a := range r.Agencies {
			names[i] = p.AgencyLabel(a)
		}
		return false, "only " + strings.Join(names, " or ") + " may chair (" + r.Citation + ")"
	}
	if len(r.Roles) > 0 && !slices.ContainsFunc(r.Roles, func(x string) bool { return strings.EqualFold(x, role) }) {
		return false, "only the roles " + strings.Join(r.Roles, ", ") + " may chair (" + r.Citation + ")"
	}
	if level < r.MinSeniority.Level {
		return false, "a chair must be at least " + r.MinSeniority.Label + " (" + r.Citation + ")"
	}
	return true, ""
}

func (p *Profile) urgentEssential(agencies []Agency) bool {
	if len(agencies) == 0 {
		return false
	}
	for _, a := range agencies {
		if !slices.Contains(p.urgent.essentialAgencies, a) {
			return false
		}
	}
	return true
}

// minLabel labels a minimum level: the agency's own name for it when the
// requirement has one agency, otherwise "any level" or "level N".
func (p *Profile) minLabel(agencies []Agency, level int) string {
	if len(agencies) == 1 {
		return p.SeniorityLabel(agencies[0], level)
	}
	if level <= 1 {
		return "any level"
	}
	return p.SeniorityLabel("", level)
}

// Format is how a discussion must be held.
type Format string

// The formats.
const (
	// FormatMeeting: a meeting (in person or virtual), chaired by a CSC
	// manager.
	FormatMeeting Format = "meeting"
	// FormatDiscussion: a phone or video conference is acceptable.
	FormatDiscussion Format = "discussion"
)

// FormatRule is a rule about the format, with its citation.
type FormatRule struct {
	ID       string `json:"id"`
	Summary  string `json:"summary"`
	Citation string `json:"citation"`
}

// SeparateDiscussion is a further discussion to convene for the same
// circumstances, such as one for each child where one child is alleged to
// have harmed another (002 §3).
type SeparateDiscussion struct {
	ID         string `json:"id"`
	Discussion string `json:"discussion"`
	Reason     string `json:"reason"`
	Citation   string `json:"citation"`
}

// FormatDecision says whether the discussion must be a meeting, by which
// rule, and what else to convene or note.
type FormatDecision struct {
	Format Format `json:"format"`
	// Rule is the deciding rule: the first meeting rule that applies, or
	// the default.
	Rule FormatRule `json:"rule"`
	// Rules lists every meeting rule that applies.
	Rules               []FormatRule         `json:"rules,omitempty"`
	SeparateDiscussions []SeparateDiscussion `json:"separate_discussions,omitempty"`
	Notes               []FormatRule         `json:"notes,omitempty"`
}

// Separate lists the separate discussions the decision asks for, in the
// profile's words ("the child alleged to have caused the harm").
func (d FormatDecision) Separate() []string {
	out := make([]string, 0, len(d.SeparateDiscussions))
	for _, s := range d.SeparateDiscussions {
		out = append(out, s.Discussion)
	}
	return out
}

// Format decides whether a case's discussion must be a meeting or may be a
// phone or video conference (002 §3, 004), and which separate discussions
// and notes its circumstances call for.
func (p *Profile) Format(c Case) (FormatDecision, error) {
	var fe []FieldError
	c.validateCircumstances(&fe)
	if err := invalid(fe); err != nil {
		return FormatDecision{}, err
	}
	f := caseFacts(&c)
	d := FormatDecision{Format: FormatDiscussion, Rule: p.format.def}
	for i := range p.format.meeting {
		if r := &p.format.meeting[i]; r.when.holds(f) {
			d.Rules = append(d.Rules, r.FormatRule)
		}
	}
	if len(d.Rules) > 0 {
		d.Format, d.Rule = FormatMeeting, d.Rules[0]
	}
	for i := range p.format.separate {
		r := &p.format.separate[i]
		if !r.when.holds(f) {
			continue
		}
		for _, name := range r.discussions {
			d.SeparateDiscussions = append(d.SeparateDiscussions, SeparateDiscussion{ID: r.id, Discussion: name, Reason: r.reason, Citation: r.citation})
		}
	}
	for i := range p.format.notes {
		if r := &p.format.notes[i]; r.when.holds(f) {
			d.Notes = append(d.Notes, r.FormatRule)
		}
	}
	return d, nil
}
