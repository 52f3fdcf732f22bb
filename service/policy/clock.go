package policy

import (
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/convene/convene/calendar"
)

// RuleRef identifies the rule that decided something, with its citation
// into the seeds.
type RuleRef struct {
	ID       string `json:"id"`
	Summary  string `json:"summary"`
	Citation string `json:"citation"`
}

// RuleDeadline is one clock rule that applies to a request, with its own
// deadline.
type RuleDeadline struct {
	ID       string `json:"id"`
	Summary  string `json:"summary"`
	Citation string `json:"citation"`
	// General is set for the rule that applies when no specific one does.
	General bool `json:"general,omitempty"`
	Unit    Unit `json:"unit"`
	// Within is the number of working days or hours (none for the same
	// calendar day).
	Within int `json:"within,omitempty"`
	// Period says the limit in words: "same calendar day", "1 working day",
	// "72 hours".
	Period    string    `json:"period"`
	Trigger   Trigger   `json:"trigger"`
	TriggerAt time.Time `json:"trigger_at"`
	Deadline  time.Time `json:"deadline"`
	// Binding marks the rule whose deadline is the request's deadline.
	Binding bool `json:"binding"`
}

// DecisionDue is when the MASH decision is due from the RAG rating (seed
// 001).
type DecisionDue struct {
	ID       string    `json:"id"`
	Summary  string    `json:"summary"`
	Citation string    `json:"citation"`
	RAG      RAG       `json:"rag"`
	Period   string    `json:"period"`
	Due      time.Time `json:"due"`
}

// FollowOnRule is a deadline that will fall due once the discussion is
// held, as a rule and duration (no date yet).
type FollowOnRule struct {
	ID       string  `json:"id"`
	Summary  string  `json:"summary"`
	Citation string  `json:"citation"`
	Unit     Unit    `json:"unit"`
	Within   int     `json:"within,omitempty"`
	Period   string  `json:"period"`
	From     Trigger `json:"from"`
	// Outcomes lists the outcomes it follows; every outcome when the rule
	// is not limited.
	Outcomes []Outcome `json:"outcomes"`
	// Conditional is set when the rule also depends on circumstances (such
	// as harm being substantiated) that FollowOns checks.
	Conditional bool `json:"conditional,omitempty"`
}

// Timescale is the answer to "by when must the discussion be held": the
// binding deadline and rule, every rule that applies, when the MASH decision
// is due, and what follows the discussion.
type Timescale struct {
	Profile        string          `json:"profile"`
	ProfileVersion int             `json:"profile_version"`
	Region         calendar.Region `json:"region"`
	TimeZone       string          `json:"time_zone"`
	// Deadline is in the area's time zone, so JSON shows its offset.
	Deadline    time.Time      `json:"deadline"`
	BindingRule RuleRef        `json:"binding_rule"`
	Rules       []RuleDeadline `json:"rules"`
	DecisionDue *DecisionDue   `json:"decision_due,omitempty"`
	FollowOn    []FollowOnRule `json:"follow_on"`
}

// Timescale computes by when the discussion must be held. Every rule whose
// condition holds and whose trigger time is given applies; the binding rule
// is the one with the earliest deadline among the specific rules (the first
// in profile order on a tie), and the general rule applies only when no
// specific rule does. The request's profile name is not consulted (see
// Registry.Timescale); its region, if given, overrides the profile's.
//
// This is the one computation of the statutory clock: the timescale preview
// and the convene flow both call it.
func (p *Profile) Timescale(req TimescaleRequest) (Timescale, error) {
	if err := req.Validate(); err != nil {
		return Timescale{}, err
	}
	region := p.region
	if req.Region != "" {
		region = req.Region
	}
	ts := Timescale{
		Profile:        p.id,
		ProfileVersion: p.version,
		Region:         region,
		TimeZone:       p.loc.String(),
		Rules:          make([]RuleDeadline, 0, 4),
		FollowOn:       slices.Clone(p.followOnPreview),
	}
	f := requestFacts(&req)
	for _, general := range []bool{false, true} {
		for i := range p.clock {
			r := &p.clock[i]
			if r.general != general || !r.when.holds(f) {
				continue
			}
			at, ok := triggerTime(&req, r.from)
			if !ok {
				continue
			}
			ts.Rules = append(ts.Rules, RuleDeadline{
				ID: r.id, Summary: r.summary, Citation: r.citation, General: r.general,
				Unit: r.unit, Within: r.within, Period: r.period,
				Trigger: r.from, TriggerAt: at.In(p.loc), Deadline: p.deadline(region, r.timeLimit, at),
			})
		}
		if len(ts.Rules) > 0 {
			break
		}
	}
	if len(ts.Rules) == 0 {
		// Validation guarantees an unconditional general rule counting from
		// a time every request has.
		return Timescale{}, fmt.Errorf("policy: profile %s: no clock rule applies", p.id)
	}
	b := 0
	for i := range ts.Rules {
		if ts.Rules[i].Deadline.Before(ts.Rules[b].Deadline) {
			b = i
		}
	}
	ts.Rules[b].Binding = true
	ts.Deadline = ts.Rules[b].Deadline
	ts.BindingRule = RuleRef{ID: ts.Rules[b].ID, Summary: ts.Rules[b].Summary, Citation: ts.Rules[b].Citation}

	if req.RAG != "" {
		for i := range p.decision {
			d := &p.decision[i]
			if d.rag != req.RAG {
				continue
			}
			at, _ := triggerTime(&req, d.from)
			ts.DecisionDue = &DecisionDue{
				ID: d.id, Summary: d.summary, Citation: d.citation, RAG: d.rag,
				Period: d.period, Due: p.deadline(region, d.timeLimit, at),
			}
		}
	}
	return ts, nil
}

func (p *Profile) buildFollowOnPreview() []FollowOnRule {
	out := make([]FollowOnRule, len(p.followOn))
	for i := range p.followOn {
		r := &p.followOn[i]
		outcomes := r.outcomes
		if len(outcomes) == 0 {
			outcomes = Outcomes
		}
		out[i] = FollowOnRule{
			ID: r.id, Summary: r.summary, Citation: r.citation, Unit: r.unit, Within: r.within,
			Period: r.period, From: r.from, Outcomes: outcomes,
			Conditional: r.when.used() != 0,
		}
	}
	return out
}

// triggerTime returns the request's time for a trigger.
func triggerTime(r *TimescaleRequest, t Trigger) (time.Time, bool) {
	var p *time.Time
	switch t {
	case TriggerReferralReceived, TriggerContact:
		return r.ReferralReceivedAt, true
	case TriggerConcernsIdentified:
		if r.ConcernsIdentifiedAt == nil {
			return r.ReferralReceivedAt, true
		}
		p = r.ConcernsIdentifiedAt
	case TriggerEmergencyAction:
		p = r.EmergencyActionAt
	case TriggerInvestigationStarted:
		p = r.InvestigationStartedAt
	case TriggerDeferred:
		p = r.DeferredAt
	}
	if p == nil {
		return time.Time{}, false
	}
	return *p, true
}

// deadline applies a time limit to a trigger time, in the area's zone.
func (p *Profile) deadline(region calendar.Region, l timeLimit, at time.Time) time.Time {
	switch l.unit {
	case UnitSameCalendarDay:
		lt := at.In(p.loc)
		y, m, d := lt.Date()
		end := time.Date(y, m, d, 23, 59, 59, 0, p.loc)
		if end.Before(lt) {
			// A trigger in the day's last second: the deadline is not
			// before it.
			return lt
		}
		return end
	case UnitWorkingDays:
		return p.cal.AddWorkingDays(region, at, l.within, p.cob)
	default: // UnitElapsedHours
		return at.Add(time.Duration(l.within) * time.Hour).In(p.loc)
	}
}

// period says a time limit in words.
func period(u Unit, n int) string {
	switch u {
	case UnitSameCalendarDay:
		return "same calendar day"
	case UnitWorkingDays:
		if n == 1 {
			return "1 working day"
		}
		return strconv.Itoa(n) + " working days"
	default:
		if n == 1 {
			return "1 hour"
		}
		return strconv.Itoa(n) + " hours"
	}
}

// FollowOnRequest asks which deadlines follow a discussion that was held.
type FollowOnRequest struct {
	HeldAt  time.Time `json:"held_at"`
	Outcome Outcome   `json:"outcome"`
	// HarmSubstantiated: the enquiry found significant harm substantiated
	// (seed 001: the child must then be seen within 24 hours).
	HarmSubstantiated bool `json:"harm_substantiated,omitempty"`
	// Case is the convene request's circumstances, for rules that depend
	// on them (a LADO referral where someone works with children) and for
	// the region.
	Case Case `json:"case"`
}

// FollowOn is a deadline that follows a held discussion.
type FollowOn struct {
	ID       string    `json:"id"`
	Summary  string    `json:"summary"`
	Citation string    `json:"citation"`
	Period   string    `json:"period"`
	Due      time.Time `json:"due"`
}

// FollowOns returns the deadlines that follow a discussion held at
// req.HeldAt with req.Outcome, in profile order, each due in the area's
// time zone. Which follow an outcome is the profile's data.
func (p *Profile) FollowOns(req FollowOnRequest) ([]FollowOn, error) {
	var fe []FieldError
	if req.HeldAt.IsZero() {
		fe = append(fe, FieldError{Field: "held_at", Message: "required"})
	}
	if !slices.Contains(Outcomes, req.Outcome) {
		fe = append(fe, FieldError{Field: "outcome", Message: fmt.Sprintf("unknown outcome %q", req.Outcome)})
	}
	var cfe []FieldError
	req.Case.validateCircumstances(&cfe)
	for _, e := range cfe {
		fe = append(fe, FieldError{Field: "case." + e.Field, Message: e.Message})
	}
	if err := invalid(fe); err != nil {
		return nil, err
	}
	region := p.region
	if req.Case.Region != "" {
		region = req.Case.Region
	}
	f := caseFacts(&req.Case)
	if req.HarmSubstantiated {
		f.bits |= bit(factHarmSubstantiated)
	}
	var out []FollowOn
	for i := range p.followOn {
		r := &p.followOn[i]
		if len(r.outcomes) > 0 && !slices.Contains(r.outcomes, req.Outcome) || !r.when.holds(f) {
			continue
		}
		out = append(out, FollowOn{
			ID: r.id, Summary: r.summary, Citation: r.citation,
			Period: r.period, Due: p.deadline(region, r.timeLimit, req.HeldAt),
		})
	}
	return out, nil
}
