package service

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/convene/convene/service/policy"
)

// Record is the Record of Strategy Discussion (000 §7, 001, 003 §5, 004):
// what was decided, by whom, who was there, the actions and the deadlines
// that follow, built from the discussion and its outcome. It is the
// content both the web page and the PDF for the case file show; it is
// case data, read behind sign-in and audited, never mailed.
type Record struct {
	DiscussionID  string `json:"discussion_id"`
	CaseReference string `json:"case_reference"`
	// Area is the procedure the area follows (its profile's name).
	Area string `json:"area"`
	// Version is the outcome's version: each amendment is a new record.
	Version     int       `json:"version"`
	GeneratedAt time.Time `json:"generated_at"`
	TimeZone    string    `json:"time_zone"`

	Start    time.Time     `json:"start"`
	End      time.Time     `json:"end"`
	Duration time.Duration `json:"duration"`
	Format   policy.Format `json:"format"`
	Chair    string        `json:"chair"`
	RAG      policy.RAG    `json:"rag,omitempty"`

	Attendance []RecordAttendee `json:"attendance"`
	Quorum     RecordQuorum     `json:"quorum"`

	Outcome           policy.Outcome `json:"outcome"`
	SignsOfSafety     SignsOfSafety  `json:"signs_of_safety"`
	Decisions         []Decision     `json:"decisions"`
	AuthorisedBy      []Authoriser   `json:"authorised_by"`
	Actions           []Action       `json:"actions"`
	ChildSeen         *ChildSeen     `json:"child_seen,omitempty"`
	Deferral          *Deferral      `json:"deferral,omitempty"`
	SafetyPlan        *SafetyPlan    `json:"safety_plan,omitempty"`
	EPO               *EPODecision   `json:"epo,omitempty"`
	SupportConsidered string         `json:"support_considered,omitempty"`
	FollowOns         []FollowOn     `json:"follow_ons"`
	FollowOnBreach    *Breach        `json:"follow_on_breach,omitempty"`
	Review            *Review        `json:"review,omitempty"`
	OtherChildren     []OtherChild   `json:"other_children,omitempty"`
	// Dissent is what the chair recorded in the meeting (002 §1); Signups
	// each agency's answer to the version circulated.
	Dissent     []Dissent    `json:"dissent,omitempty"`
	Circulation *Circulation `json:"circulation,omitempty"`
	Signups     []Signup     `json:"signups"`
	Amendments  []Amendment  `json:"amendments,omitempty"`
}

// RecordAttendee is one line of the attendance: who, for which agency, in
// what role and at what seniority, present or sending apologies, and
// whether they know the child (004).
type RecordAttendee struct {
	Name       string        `json:"name"`
	Agency     policy.Agency `json:"agency"`
	Role       string        `json:"role"`
	Seniority  string        `json:"seniority,omitempty"`
	Present    bool          `json:"present"`
	Apologies  bool          `json:"apologies,omitempty"`
	KnowsChild bool          `json:"knows_child,omitempty"`
	Chair      bool          `json:"chair,omitempty"`
}

// RecordQuorum is the quorum as it stood when the chair started: met, or
// overridden with the reason and what was missing.
type RecordQuorum struct {
	Met      bool     `json:"met"`
	Override string   `json:"override_reason,omitempty"`
	Missing  []string `json:"missing,omitempty"`
}

// Amendment is an earlier version's replacement: when, by whom, why.
type Amendment struct {
	Version int       `json:"version"`
	Reason  string    `json:"reason"`
	By      string    `json:"by"`
	At      time.Time `json:"at"`
}

// BuildRecord builds the record of d, for the area named, at now. The
// discussion must have its outcome.
func BuildRecord(d *Discussion, area string, loc *time.Location, now time.Time) (*Record, error) {
	if d.Outcome == nil || d.Started == nil {
		return nil, Errorf(EPRECONDITION, "there is no record before the outcome is recorded; this discussion is %s", d.Status)
	}
	o := d.Outcome
	r := &Record{
		DiscussionID: d.ID, CaseReference: d.CaseReference, Area: area, Version: o.Version, GeneratedAt: now.UTC(),
		TimeZone: zoneOr(loc).String(), Start: d.Started.At, End: o.RecordedAt, Format: d.Format.Format, RAG: d.Case.RAG,
		Outcome: o.Outcome, SignsOfSafety: o.SignsOfSafety, Decisions: o.Decisions, AuthorisedBy: o.AuthorisedBy,
		Actions: o.Actions, ChildSeen: o.ChildSeen, Deferral: o.Deferral, SafetyPlan: o.SafetyPlan, EPO: o.EPO,
		SupportConsidered: o.SupportConsidered, FollowOns: d.FollowOns, Review: o.Review, OtherChildren: o.OtherChildren,
		Dissent: o.Dissent, Circulation: d.Circulation, Signups: d.Signups, FollowOnBreach: d.FollowOnBreach,
		Quorum: RecordQuorum{Met: len(d.Started.Missing) == 0, Override: d.Started.Override, Missing: d.Started.Missing},
	}
	if r.End.Before(r.Start) {
		r.End = r.Start
	}
	r.Duration = r.End.Sub(r.Start)
	if c := d.chair(); c != nil {
		r.Chair = c.Name
	}
	r.Attendance = d.attendance()
	for _, h := range d.OutcomeHistory {
		r.Amendments = append(r.Amendments, Amendment{Version: h.Outcome.Version + 1, Reason: h.Reason, By: h.By.Name, At: h.At})
	}
	if r.Signups == nil {
		r.Signups = []Signup{}
	}
	if r.FollowOns == nil {
		r.FollowOns = []FollowOn{}
	}
	return r, nil
}

// attendance lists the invitees, present if checked in and otherwise
// sending apologies, then the walk-ins.
func (d *Discussion) attendance() []RecordAttendee {
	var out []RecordAttendee
	present := func(email string) (CheckIn, bool) {
		i := slices.IndexFunc(d.CheckIns, func(c CheckIn) bool { return c.Email != "" && strings.EqualFold(c.Email, email) })
		if i < 0 {
			return CheckIn{}, false
		}
		return d.CheckIns[i], true
	}
	for _, inv := range d.current() {
		if inv.Reply == policy.ReplyDelegated {
			continue // the delegate is listed in their place
		}
		c, ok := present(inv.Email)
		a := RecordAttendee{Name: inv.Name, Agency: inv.Agency, Role: inv.Role, Seniority: inv.SeniorityLabel,
			Present: ok, Apologies: !ok, KnowsChild: inv.KnowsChild || c.KnowsChild, Chair: inv.Chair}
		out = append(out, a)
	}
	for _, c := range d.CheckIns {
		if c.Email != "" && d.invitee(c.Email) != nil {
			continue
		}
		out = append(out, RecordAttendee{Name: c.Name, Agency: c.Agency, Role: c.Role, Seniority: c.SeniorityLabel, Present: true, KnowsChild: c.KnowsChild})
	}
	return out
}

// canSeeRecord reports whether p may read d's record or sign it: whoever
// may see the discussion, and anyone who took part (a walk-in who was
// never invited is a participant too).
func canSeeRecord(p *Principal, d *Discussion) bool {
	if canSee(p, d) {
		return true
	}
	_, ok := d.participant(p.Email)
	return ok && p.Email != "" && p.Has(RoleChair, RoleAgencyRep)
}

// recordChange is transition for changes made from the record: allowed to
// those who may see the record.
func (a *App) recordChange(ctx context.Context, id, action string, fn func(d *Discussion, p *Principal) (Effects, error)) (*Discussion, error) {
	return a.transition(ctx, id, action, canSeeRecord, fn)
}

// Record returns the Record of Strategy Discussion to someone who may see
// it. The read is audited.
func (a *App) Record(ctx context.Context, id string) (*Record, error) {
	p, err := require(ctx)
	if err != nil {
		return nil, err
	}
	d, err := a.Store.Discussion(ctx, id)
	if ErrorCode(err) == ENOTFOUND {
		return nil, notFound(id)
	} else if err != nil {
		return nil, err
	}
	if !canSeeRecord(p, d) {
		return nil, a.denied(ctx, "discussion.record.read", id)
	}
	r, err := a.RecordFor(d)
	if err != nil {
		return nil, err
	}
	if err := a.audit(ctx, "discussion.record.read", "discussions/"+id, map[string]any{"version": r.Version}); err != nil {
		return nil, err
	}
	return r, nil
}

// RecordFor builds the record of a discussion the caller has just changed
// (the change was audited, and the caller may see it): what the record's
// actions answer with.
func (a *App) RecordFor(d *Discussion) (*Record, error) {
	area := d.Timescale.Profile
	if profile, err := a.profile(d.Timescale.Profile); err == nil {
		area = profile.Name()
	}
	return BuildRecord(d, area, a.zone(), a.Now())
}
