package service

import (
	"slices"
	"strings"
	"time"

	"github.com/convene/convene/service/policy"
)

// The outcome of a strategy discussion as the seeds require it recorded:
// one of seven outcomes (001), the information shared under the four Signs
// of Safety headings (001), decisions with their rationale, SMART actions
// (003 §5), who authorised it (000 §6), when the child will be seen and by
// whom (001, 003 §4), the review (003 §5, 004), other children affected
// (001), an Emergency Protection Order decision (000 §6), the support
// considered after "no further action" (000 §6) and any agency's dissent
// (002 §1).

// ChildSeen is when the child will be seen, and by which social worker
// (001, 003 §4).
type ChildSeen struct {
	By string    `json:"by"`
	At time.Time `json:"at"`
}

// Review is the date and mechanism for reviewing the discussion and the
// completion of its actions (003 §5; 004, the Climbié lesson).
type Review struct {
	Date      time.Time `json:"date"`
	Mechanism string    `json:"mechanism"`
}

// OtherChild is another child affected (a sibling, a child in the same
// household or in contact with the alleged abuser), by reference only, and
// whether they were referred to the MASH as a new referral (001).
type OtherChild struct {
	Reference    string `json:"reference"`
	Relationship string `json:"relationship"`
	Referred     bool   `json:"referred"`
	// ReferralReference is the MASH referral's reference, once made.
	ReferralReference string `json:"referral_reference,omitempty"`
}

// EPODecision records a decision about an Emergency Protection Order: it
// needs legal advice and the CSC manager's approval (000 §6).
type EPODecision struct {
	Decision    string `json:"decision"` // apply, not_apply
	LegalAdvice string `json:"legal_advice"`
	// LegalAdviser names who gave the advice.
	LegalAdviser string `json:"legal_adviser"`
	// ApprovedBy is the CSC manager who approved, filled from their own
	// authorisation.
	ApprovedBy string `json:"approved_by,omitempty"`
}

// Dissent is an agency's disagreement with the decision, recorded and
// escalated (002 §1).
type Dissent struct {
	Agency      policy.Agency `json:"agency"`
	By          string        `json:"by"`
	Reason      string        `json:"reason"`
	EscalatedTo string        `json:"escalated_to"`
}

// Authorisation is someone's agreement to an outcome, given by them: signed
// in with their own account, or through a signed single-use link sent to
// their own address.
type Authorisation struct {
	PersonID       string         `json:"person_id,omitempty"`
	Name           string         `json:"name"`
	Email          string         `json:"email"`
	Agency         policy.Agency  `json:"agency"`
	Role           string         `json:"role"`
	Seniority      int            `json:"seniority"`
	SeniorityLabel string         `json:"seniority_label,omitempty"`
	Outcome        policy.Outcome `json:"outcome"`
	At             time.Time      `json:"at"`
	// Method is how they authorised: signed_in or link.
	Method string `json:"method"`
}

// The ways an authorisation is given.
const (
	AuthorisedSignedIn = "signed_in"
	AuthorisedByLink   = "link"
)

// OutcomeVersion is an earlier version of an amended outcome, kept.
type OutcomeVersion struct {
	Outcome Outcome `json:"outcome"`
	// Reason, By and At are those of the amendment that replaced it.
	Reason string    `json:"reason"`
	By     Actor     `json:"by"`
	At     time.Time `json:"at"`
}

// outcomesNeedingActions are the outcomes that start work someone must do:
// their SMART actions are required (003 §5).
var outcomesNeedingActions = []policy.Outcome{policy.OutcomeS47Enquiry, policy.OutcomePoliceInvestigation, policy.OutcomeDeferred}

// Validate checks an outcome as the chair records it, field by field, each
// rule citing its seed.
func (o *Outcome) Validate(now time.Time) error {
	var f Fields
	if !slices.Contains(policy.Outcomes, o.Outcome) {
		f.Add("outcome", "must be one of %v", policy.Outcomes)
	}
	// 001: information shared is recorded under all four headings; where
	// nothing is known, say so.
	for _, h := range []struct{ field, text, what string }{
		{"signs_of_safety.concerns", o.SignsOfSafety.Concerns, "what we are worried about"},
		{"signs_of_safety.working_well", o.SignsOfSafety.WorkingWell, "what is working well"},
		{"signs_of_safety.need_to_know", o.SignsOfSafety.NeedToKnow, "what we still need to know"},
		{"signs_of_safety.needs_to_be_done", o.SignsOfSafety.NeedsToBeDone, "what needs to be done"},
	} {
		if strings.TrimSpace(h.text) == "" {
			f.Add(h.field, `record %s (001), or "nothing known"`, h.what)
		}
	}
	if len(o.Decisions) == 0 {
		f.Add("decisions", "record at least one decision with its rationale")
	}
	for i, dec := range o.Decisions {
		if strings.TrimSpace(dec.Decision) == "" {
			f.Add("decisions["+itoa(i)+"].decision", "is required")
		}
		if strings.TrimSpace(dec.Rationale) == "" {
			f.Add("decisions["+itoa(i)+"].rationale", "is required: record the basis for the decision")
		}
	}
	if slices.Contains(outcomesNeedingActions, o.Outcome) && len(o.Actions) == 0 {
		f.Add("actions", "a %s outcome records its SMART actions: what, who, agency, by when and why (003 §5)", o.Outcome)
	}
	for i, act := range o.Actions {
		field := "actions[" + itoa(i) + "]"
		if strings.TrimSpace(act.Description) == "" {
			f.Add(field+".description", "is required")
		}
		if strings.TrimSpace(act.Owner) == "" {
			f.Add(field+".owner", "is required: every action has a named owner")
		}
		if !ValidAgency(act.Agency) {
			f.Add(field+".agency", "must be one of %v", Agencies)
		}
		if act.Due.IsZero() {
			f.Add(field+".due", "is required: every action has a date")
		} else if act.Due.Before(now.Add(-24 * time.Hour)) {
			f.Add(field+".due", "is in the past")
		}
		if strings.TrimSpace(act.Purpose) == "" {
			f.Add(field+".purpose", "is required: say what the action is for")
		}
	}
	// 001, 003 §4: for an enquiry, when the child will be seen and by whom.
	if o.Outcome == policy.OutcomeS47Enquiry {
		switch {
		case o.ChildSeen == nil:
			f.Add("child_seen", "an s47 enquiry records when the child will be seen and by which social worker (001, 003 §4)")
		default:
			if strings.TrimSpace(o.ChildSeen.By) == "" {
				f.Add("child_seen.by", "name the social worker who will see the child")
			}
			if o.ChildSeen.At.IsZero() {
				f.Add("child_seen.at", "is required")
			}
		}
	}
	// 003 §5, 004: a date and mechanism for review.
	switch {
	case o.Review == nil:
		f.Add("review", "set the date and mechanism for reviewing the discussion and its actions (003 §5, 004)")
	default:
		if o.Review.Date.IsZero() {
			f.Add("review.date", "is required")
		} else if o.Review.Date.Before(now.Add(-24 * time.Hour)) {
			f.Add("review.date", "is in the past")
		}
		if strings.TrimSpace(o.Review.Mechanism) == "" {
			f.Add("review.mechanism", "say how completion will be reviewed (a review meeting, a supervision, the ICPC)")
		}
	}
	// 001: other children affected, by reference only, each referred.
	for i, c := range o.OtherChildren {
		field := "other_children[" + itoa(i) + "]"
		if !caseReference.MatchString(c.Reference) || digits(c.Reference) < 4 {
			f.Add(field+".reference", "give the child's case or referral reference, never a name")
		}
		if strings.TrimSpace(c.Relationship) == "" {
			f.Add(field+".relationship", "is required (sibling, same household, in contact with the alleged abuser)")
		}
	}
	// 000 §6: an EPO decision needs legal advice.
	if e := o.EPO; e != nil {
		if e.Decision != "apply" && e.Decision != "not_apply" {
			f.Add("epo.decision", `must be "apply" or "not_apply"`)
		}
		if strings.TrimSpace(e.LegalAdvice) == "" || strings.TrimSpace(e.LegalAdviser) == "" {
			f.Add("epo.legal_advice", "an Emergency Protection Order decision records the legal advice and who gave it (000 §6)")
		}
	}
	// 000 §6: after "no further action", the support considered.
	if o.Outcome == policy.OutcomeNoFurtherAction && strings.TrimSpace(o.SupportConsidered) == "" {
		f.Add("support_considered", `record the support considered: a child-in-need plan, family support or a family group conference (000 §6), or why none`)
	}
	// 002 §1: an agency's disagreement is recorded and escalated.
	for i, ds := range o.Dissent {
		field := "dissent[" + itoa(i) + "]"
		if !ValidAgency(ds.Agency) {
			f.Add(field+".agency", "must be one of %v", Agencies)
		}
		if strings.TrimSpace(ds.Reason) == "" {
			f.Add(field+".reason", "is required")
		}
		if strings.TrimSpace(ds.EscalatedTo) == "" {
			f.Add(field+".escalated_to", "say to whom the disagreement is escalated (002 §1)")
		}
	}
	if o.Outcome == policy.OutcomeDeferred {
		switch {
		case o.Deferral == nil:
			f.Add("deferral", "a deferred outcome records why, what information is needed, and the safety plan (001)")
		default:
			if strings.TrimSpace(o.Deferral.Reason) == "" {
				f.Add("deferral.reason", "is required")
			}
			if strings.TrimSpace(o.Deferral.InformationNeeded) == "" {
				f.Add("deferral.information_needed", "is required")
			}
			if strings.TrimSpace(o.Deferral.SafetyPlan) == "" {
				f.Add("deferral.safety_plan", "is required: there must be an agreed safety plan (001)")
			}
		}
	}
	// 001: a red rating needs a safety plan with a timeframe and a
	// responsible person.
	return f.Err("the outcome is not valid")
}

func digits(s string) int {
	n := 0
	for _, c := range s {
		if c >= '0' && c <= '9' {
			n++
		}
	}
	return n
}

// checkSafetyPlan applies 001's rule for red-rated cases: a safety plan
// with a timeframe and a responsible person.
func (o *Outcome) checkSafetyPlan(d *Discussion) error {
	if d.Case.RAG != policy.RAGRed || o.Outcome == policy.OutcomeNoFurtherAction {
		return nil
	}
	sp := o.SafetyPlan
	var f Fields
	switch {
	case sp == nil:
		f.Add("safety_plan", "a red-rated case records a safety plan with a timeframe and a responsible person (001)")
	default:
		if strings.TrimSpace(sp.Plan) == "" {
			f.Add("safety_plan.plan", "is required")
		}
		if strings.TrimSpace(sp.Responsible) == "" {
			f.Add("safety_plan.responsible", "name the person responsible (001)")
		}
		if sp.Until.IsZero() {
			f.Add("safety_plan.until", "give the plan's timeframe (001)")
		}
	}
	return f.Err("the outcome is not valid")
}

// SafetyPlan is what keeps the child safe meanwhile: for how long, and who
// is responsible (001).
type SafetyPlan struct {
	Plan        string    `json:"plan"`
	Responsible string    `json:"responsible"`
	Until       time.Time `json:"until"`
}

// RequiredAuthorisations says who must authorise an outcome (000 §6): a
// CSC manager for every outcome (the chair's requirement), and for "no
// further action" also the police officer in charge, at the profile's
// minimum for the police place. Each returns a description of who is
// needed and a test of an authorisation.
func (d *Discussion) requiredAuthorisations(o policy.Outcome, profile *policy.Profile) []authorisationRule {
	var rules []authorisationRule
	if chair, ok := profile.ChairRequirement(); ok {
		rules = append(rules, authorisationRule{
			who: "a CSC manager (" + chair.Name + ", at least " + chair.MinSeniority.Label + ")",
			ok: func(a Authorisation) bool {
				may, _ := profile.MayChair(a.Agency, a.Role, a.Seniority)
				return may
			},
		})
	}
	if o == policy.OutcomeNoFurtherAction || o == "" {
		min, label := 1, "any rank"
		for _, r := range d.Attendance.Requirements {
			if slices.Contains(r.Agencies, policy.AgencyPolice) && !r.Shared {
				min, label = r.MinSeniority.Level, r.MinSeniority.Label
				break
			}
		}
		if o == policy.OutcomeNoFurtherAction {
			rules = append(rules, authorisationRule{
				who: "the police officer in charge (at least " + label + ")",
				ok:  func(a Authorisation) bool { return a.Agency == policy.AgencyPolice && a.Seniority >= min },
			})
		}
	}
	return rules
}

type authorisationRule struct {
	who string
	ok  func(Authorisation) bool
}

// participant returns the current invitee, or checked-in person, with the
// email: someone taking part who may authorise.
func (d *Discussion) participant(email string) (Invitee, bool) {
	if inv := d.invitee(email); inv != nil {
		return *inv, true
	}
	for _, c := range d.CheckIns {
		if c.Email != "" && strings.EqualFold(c.Email, email) {
			return Invitee{PersonID: c.PersonID, Name: c.Name, Email: c.Email, Agency: c.Agency, Role: c.Role,
				Seniority: c.Seniority, SeniorityLabel: c.SeniorityLabel}, true
		}
	}
	return Invitee{}, false
}

// Authorise records a participant's own authorisation of an outcome: given
// by them (signed in, or through a signed single-use link to their
// address), never typed in by someone else. who is their current directory
// entry, for their role and level.
func (d *Discussion) Authorise(who Invitee, outcome policy.Outcome, method string, now time.Time) (Effects, error) {
	if d.Status != StatusInProgress && d.Status != StatusConcluded {
		return Effects{}, Errorf(EPRECONDITION, "an outcome is authorised once the discussion has started; this one is %s", d.Status)
	}
	if !slices.Contains(policy.Outcomes, outcome) {
		return Effects{}, Invalid("the authorisation is not valid", FieldError{Field: "outcome", Message: "must be one of the seven outcomes"})
	}
	if _, ok := d.participant(who.Email); !ok {
		return Effects{}, Errorf(EFORBIDDEN, "only someone taking part in the discussion may authorise its outcome")
	}
	now = now.UTC()
	a := Authorisation{PersonID: who.PersonID, Name: who.Name, Email: strings.ToLower(who.Email), Agency: who.Agency, Role: who.Role,
		Seniority: who.Seniority, SeniorityLabel: who.SeniorityLabel, Outcome: outcome, At: now, Method: method}
	d.Authorisations = slices.DeleteFunc(d.Authorisations, func(o Authorisation) bool { return o.Email == a.Email })
	d.Authorisations = append(d.Authorisations, a)
	d.record(now, Actor{Subject: "authorisation", Name: who.Name, Email: a.Email}, "authorised", who.Name+" ("+string(who.Agency)+") authorised "+string(outcome)+" ("+method+")")
	return Effects{Detail: map[string]any{"outcome": outcome, "method": method}}, nil
}

// authorisers checks the authorisations an outcome needs are given for it,
// and returns them for the record.
func (d *Discussion) authorisers(o policy.Outcome, profile *policy.Profile) ([]Authoriser, error) {
	var out []Authoriser
	var f Fields
	for _, rule := range d.requiredAuthorisations(o, profile) {
		i := slices.IndexFunc(d.Authorisations, func(a Authorisation) bool { return a.Outcome == o && rule.ok(a) })
		if i < 0 {
			f.Add("authorised_by", "%s has not authorised %s: they authorise it themselves, signed in or from the link sent to them (000 §6)", rule.who, o)
			continue
		}
		a := d.Authorisations[i]
		if !slices.ContainsFunc(out, func(x Authoriser) bool { return x.Email == a.Email }) {
			out = append(out, Authoriser{PersonID: a.PersonID, Name: a.Name, Email: a.Email, Agency: a.Agency, Role: a.Role,
				Seniority: a.SeniorityLabel, At: a.At, Method: a.Method})
		}
	}
	if err := f.Err("the outcome is not authorised as the procedure requires"); err != nil {
		return nil, err
	}
	return out, nil
}

// Amend corrects a recorded outcome: the new version replaces it, the
// previous one is kept with the reason, author and time, and the follow-on
// deadlines are recomputed (fos). Sign-up by the agencies starts again.
func (d *Discussion) Amend(o Outcome, reason string, fos []policy.FollowOn, by Actor, now time.Time) (Effects, error) {
	if d.Status != StatusConcluded || d.Outcome == nil {
		return Effects{}, Errorf(EPRECONDITION, "only a recorded outcome can be amended; this discussion is %s", d.Status)
	}
	reason = strings.TrimSpace(reason)
	if reason == "" || len(reason) > 500 {
		return Effects{}, Invalid("the amendment is not valid", FieldError{Field: "reason", Message: "say why the outcome is amended (up to 500 characters)"})
	}
	now = now.UTC()
	prev := *d.Outcome
	d.OutcomeHistory = append(d.OutcomeHistory, OutcomeVersion{Outcome: prev, Reason: reason, By: by, At: now})
	o.Version = prev.Version + 1
	if o.Version < 2 {
		o.Version = 2
	}
	o.RecordedBy, o.RecordedAt = prev.RecordedBy, prev.RecordedAt
	o.AmendedBy, o.AmendedAt = &by, &now
	d.Outcome = &o
	// Deadlines already met stay met.
	met := map[string]FollowOn{}
	for _, fo := range d.FollowOns {
		if fo.Done || fo.MissedAt != nil {
			met[fo.ID] = fo // missed ones too: a miss stays on the record
		}
	}
	d.FollowOns = d.FollowOns[:0]
	for _, fo := range fos {
		if m, ok := met[fo.ID]; ok {
			d.FollowOns = append(d.FollowOns, m)
			continue
		}
		d.FollowOns = append(d.FollowOns, FollowOn{FollowOn: fo})
	}
	d.assignFollowOnOwners()
	d.record(now, by, "outcome_amended", "version "+itoa(o.Version)+": "+reason)
	d.reopenSignup(by, now)
	return Effects{Detail: map[string]any{"version": o.Version, "reason": reason, "outcome": o.Outcome}}, nil
}

// Link is another discussion this one is linked to: a separate discussion
// for another child in the same circumstances (002 §3, 004), or the
// reconvened one.
type Link struct {
	ID            string `json:"id"`
	CaseReference string `json:"case_reference"`
	// Relation is which separate discussion it is, in the profile's words
	// ("the child alleged to have caused the harm").
	Relation string `json:"relation"`
}

// LinkSeparate records a separate discussion convened from this one.
func (d *Discussion) LinkSeparate(l Link, by Actor, now time.Time) (Effects, error) {
	if slices.ContainsFunc(d.Linked, func(o Link) bool { return o.ID == l.ID }) {
		return Effects{}, nil
	}
	d.Linked = append(d.Linked, l)
	d.record(now.UTC(), by, "separate_discussion", l.Relation+": "+l.CaseReference)
	return Effects{Detail: map[string]any{"linked": l.ID, "relation": l.Relation}}, nil
}
