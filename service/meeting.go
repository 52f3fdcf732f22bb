package service

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"strings"
	"time"

	"github.com/convene/convene/service/policy"
)

// QuorumReport is what a chair checks before starting: the forecast from
// invitation replies and the actual quorum from check-ins.
type QuorumReport struct {
	Forecast policy.Quorum `json:"forecast"`
	Actual   policy.Quorum `json:"actual"`
	// Met is the actual quorum: what starting depends on.
	Met     bool   `json:"met"`
	Summary string `json:"summary"`
	// UrgentMinimum is set when the exceptional CSC-and-police minimum
	// applies, with its reason.
	UrgentMinimum *policy.UrgentMinimumApplied `json:"urgent_minimum,omitempty"`
}

// Quorum evaluates the discussion's quorum both ways. The read is audited.
func (a *App) Quorum(ctx context.Context, id string) (*QuorumReport, error) {
	d, _, err := a.read(ctx, id, "discussion.quorum.read")
	if err != nil {
		return nil, err
	}
	r := a.quorum(a.withDirectory(ctx, d), a.Now())
	return &r, nil
}

// withDirectory returns d with its delegates and walk-ins as the directory
// has them now: a delegate business support added to the directory after
// the delegation arrived counts at their real level, and expertise is
// current. d itself is not changed.
func (a *App) withDirectory(ctx context.Context, d *Discussion) *Discussion {
	c := *d
	c.Invitees = slices.Clone(d.Invitees)
	c.CheckIns = slices.Clone(d.CheckIns)
	profile, err := a.profile(d.Timescale.Profile)
	if err != nil {
		return d
	}
	for i := range c.Invitees {
		inv := &c.Invitees[i]
		if inv.Removed || inv.DelegatedFrom == "" && inv.PersonID != "" {
			continue
		}
		if p, err := a.Store.PersonByEmail(ctx, inv.Email); err == nil && p.Active {
			inv.PersonID, inv.Name, inv.Agency, inv.Role, inv.Seniority, inv.Expertise = p.ID, p.Name, p.Agency, p.Role, p.Seniority, p.Expertise
			inv.SeniorityLabel = profile.SeniorityLabel(p.Agency, p.Seniority)
		}
	}
	for i := range c.CheckIns {
		ci := &c.CheckIns[i]
		if ci.Email == "" {
			continue
		}
		if p, err := a.Store.PersonByEmail(ctx, ci.Email); err == nil && p.Active {
			ci.PersonID, ci.Agency, ci.Role, ci.Seniority, ci.Expertise = p.ID, p.Agency, p.Role, p.Seniority, p.Expertise
			ci.SeniorityLabel = profile.SeniorityLabel(p.Agency, p.Seniority)
		}
	}
	return &c
}

func (a *App) quorum(d *Discussion, now time.Time) QuorumReport {
	reqs, knows := d.Attendance.Requirements, d.Attendance.KnowsChild.Required
	r := QuorumReport{
		Forecast:      policy.EvaluateQuorum(policy.QuorumForecast, reqs, forecastParticipants(d), knows),
		Actual:        policy.EvaluateQuorum(policy.QuorumActual, reqs, actualParticipants(d, now), knows),
		UrgentMinimum: d.Attendance.UrgentMinimum,
	}
	r.Met, r.Summary = r.Actual.Met, r.Actual.Summary
	return r
}

// forecastParticipants are the invitees with their replies; a delegate
// appears as the delegator's Delegate, not on their own.
func forecastParticipants(d *Discussion) []policy.Participant {
	var out []policy.Participant
	for _, inv := range d.current() {
		if inv.DelegatedFrom != "" {
			continue
		}
		p := participantOf(inv)
		if inv.Reply == policy.ReplyDelegated {
			if del := d.invitee(inv.DelegatedTo); del != nil {
				dp := participantOf(*del)
				p.Delegate = &dp
			}
		}
		out = append(out, p)
	}
	return out
}

// actualParticipants are the invitees marked present from check-ins at
// now, their delegates likewise, and walk-ins.
func actualParticipants(d *Discussion, now time.Time) []policy.Participant {
	present := map[string]CheckIn{}
	var walkIns []CheckIn
	for _, c := range d.CheckIns {
		if c.PresentFrom.After(now) || c.PresentTo != nil && !c.PresentTo.After(now) {
			continue
		}
		if c.Email != "" && d.invitee(c.Email) != nil {
			present[c.Email] = c
		} else {
			walkIns = append(walkIns, c)
		}
	}
	mark := func(inv Invitee) policy.Participant {
		p := participantOf(inv)
		if c, ok := present[inv.Email]; ok {
			p.Present, p.KnowsChild = true, c.KnowsChild || inv.KnowsChild
		}
		return p
	}
	var out []policy.Participant
	for _, inv := range d.current() {
		if inv.DelegatedFrom != "" {
			continue
		}
		p := mark(inv)
		if inv.DelegatedTo != "" {
			if del := d.invitee(inv.DelegatedTo); del != nil {
				dp := mark(*del)
				p.Delegate = &dp
			}
		}
		out = append(out, p)
	}
	for _, c := range walkIns {
		out = append(out, policy.Participant{PersonID: c.PersonID, Name: c.Name, Email: c.Email, Agency: c.Agency, Role: c.Role,
			Seniority: c.Seniority, SeniorityLabel: c.SeniorityLabel, KnowsChild: c.KnowsChild, Present: true, Expertise: c.Expertise})
	}
	return out
}

// CheckInRequest records someone present: an invitee or directory person
// (PersonID or Email), or a walk-in described in full.
type CheckInRequest struct {
	PersonID    string
	Email       string
	WalkIn      *WalkIn
	KnowsChild  *bool
	PresentFrom time.Time
	PresentTo   *time.Time
}

// WalkIn is someone present who is not in the directory.
type WalkIn struct {
	Name      string
	Agency    policy.Agency
	Role      string
	Seniority int
}

// RecordAttendance checks someone in (or out, with PresentTo). The chair
// and business support record attendance.
func (a *App) RecordAttendance(ctx context.Context, id string, in CheckInRequest) (*Discussion, error) {
	var f Fields
	switch n := btoi(in.PersonID != "") + btoi(in.Email != "") + btoi(in.WalkIn != nil); {
	case n != 1:
		f.Add("person_id", "give exactly one of person_id, email or walk_in")
	case in.WalkIn != nil:
		w := in.WalkIn
		if strings.TrimSpace(w.Name) == "" || len(w.Name) > 200 {
			f.Add("walk_in.name", "is required (at most 200 characters)")
		}
		if !ValidAgency(w.Agency) {
			f.Add("walk_in.agency", "must be one of %v", Agencies)
		}
		if strings.TrimSpace(w.Role) == "" || len(w.Role) > 100 {
			f.Add("walk_in.role", "is required (at most 100 characters)")
		}
		if w.Seniority < 1 || w.Seniority > 20 {
			f.Add("walk_in.seniority", "must be a level from 1 to 20")
		}
	}
	if in.PresentTo != nil && !in.PresentFrom.IsZero() && !in.PresentTo.After(in.PresentFrom) {
		f.Add("present_to", "must be after present_from")
	}
	if err := f.Err("the check-in is not valid"); err != nil {
		return nil, err
	}
	var person *Person
	if in.PersonID != "" {
		p, err := a.Store.Person(ctx, in.PersonID)
		if ErrorCode(err) == ENOTFOUND {
			return nil, Invalid("the check-in is not valid", FieldError{Field: "person_id", Message: "no such person in the directory"})
		} else if err != nil {
			return nil, err
		}
		person = p
	}
	return a.change(ctx, id, "discussion.attendance", func(d *Discussion, p *Principal) (Effects, error) {
		if !canManage(p, d) {
			return Effects{}, Errorf(EFORBIDDEN, "only the chair or business support may record attendance")
		}
		profile, err := a.profile(d.Timescale.Profile)
		if err != nil {
			return Effects{}, err
		}
		c := CheckIn{ID: a.NewID(), PresentFrom: in.PresentFrom, PresentTo: in.PresentTo, RecordedBy: p.Actor()}
		switch {
		case in.WalkIn != nil:
			w := in.WalkIn
			c.Name, c.Agency, c.Role, c.Seniority, c.WalkIn = strings.TrimSpace(w.Name), w.Agency, strings.TrimSpace(w.Role), w.Seniority, true
		case person != nil:
			c.PersonID, c.Name, c.Email, c.Agency, c.Role, c.Seniority, c.Expertise = person.ID, person.Name, person.Email, person.Agency, person.Role, person.Seniority, person.Expertise
		default:
			inv := d.invitee(in.Email)
			if inv == nil {
				return Effects{}, Invalid("the check-in is not valid", FieldError{Field: "email", Message: "is not invited; check in a walk-in instead"})
			}
			c.PersonID, c.Name, c.Email, c.Agency, c.Role, c.Seniority = inv.PersonID, inv.Name, inv.Email, inv.Agency, inv.Role, inv.Seniority
		}
		if inv := d.invitee(c.Email); inv != nil && c.Email != "" {
			c.KnowsChild = inv.KnowsChild
		}
		if in.KnowsChild != nil {
			c.KnowsChild = *in.KnowsChild
		}
		c.SeniorityLabel = profile.SeniorityLabel(c.Agency, c.Seniority)
		return d.CheckIn(c, a.Now())
	})
}

// StartDiscussion lets the chair start: only with the actual quorum met,
// or with an override whose reason and missing requirements are recorded
// and audited.
func (a *App) StartDiscussion(ctx context.Context, id, override string) (*Discussion, error) {
	override = strings.TrimSpace(override)
	if len(override) > 500 {
		return nil, Invalid("the start is not valid", FieldError{Field: "override_reason", Message: "must be at most 500 characters"})
	}
	return a.change(ctx, id, "discussion.start", func(d *Discussion, p *Principal) (Effects, error) {
		if !isChairOf(p, d) {
			return Effects{}, Errorf(EFORBIDDEN, "only the discussion's chair may start it")
		}
		now := a.Now()
		return d.Start(a.quorum(a.withDirectory(ctx, d), now), override, a.startMargin(), p.Actor(), now)
	})
}

// RecordOutcome records the outcome, as the chair gives it, once the
// authorisations the procedure needs are given (the chair's own, signed in,
// counts as the CSC manager's); computes the follow-on deadlines from the
// profile; and, for a deferred outcome, convenes the follow-up discussion
// (001: within 72 hours).
func (a *App) RecordOutcome(ctx context.Context, id string, in Outcome) (*Discussion, error) {
	if err := in.Validate(a.Now()); err != nil {
		return nil, err
	}
	var followUp *Discussion
	return a.change(ctx, id, "discussion.outcome", func(d *Discussion, p *Principal) (Effects, error) {
		if !isChairOf(p, d) {
			return Effects{}, Errorf(EFORBIDDEN, "only the discussion's chair may record its outcome")
		}
		if d.Status != StatusInProgress {
			return Effects{}, Errorf(EPRECONDITION, "the outcome is recorded after the discussion starts; this one is %s", d.Status)
		}
		if err := in.checkSafetyPlan(d); err != nil {
			return Effects{}, err
		}
		profile, err := a.profile(d.Timescale.Profile)
		if err != nil {
			return Effects{}, err
		}
		now := a.Now().UTC()
		// The chair, signed in and recording it, authorises it as the CSC
		// manager.
		if chair, err := a.currentSelf(ctx, d, p); err == nil {
			if _, err := d.Authorise(chair, in.Outcome, AuthorisedSignedIn, now); err != nil {
				return Effects{}, err
			}
		}
		o := in
		if o.AuthorisedBy, err = d.authorisers(o.Outcome, profile); err != nil {
			return Effects{}, err
		}
		if o.EPO != nil {
			o.EPO.ApprovedBy = o.AuthorisedBy[0].Name
		}
		fos, err := profile.FollowOns(policy.FollowOnRequest{HeldAt: d.Started.At, Outcome: o.Outcome, HarmSubstantiated: o.HarmSubstantiated, Case: d.Case})
		if err != nil {
			return Effects{}, policyError(err, "")
		}
		var followUpID string
		if o.Outcome == policy.OutcomeDeferred {
			if followUp == nil {
				if followUp, err = a.followUp(ctx, d, now); err != nil {
					return Effects{}, err
				}
			}
			followUpID = followUp.ID
		}
		o.RecordedBy, o.Version = p.Actor(), 1
		return d.Conclude(o, fos, followUpID, now)
	})
}

// currentSelf is the principal as a participant of d, with their level from
// their directory entry as it is now.
func (a *App) currentSelf(ctx context.Context, d *Discussion, p *Principal) (Invitee, error) {
	inv, ok := d.participant(p.Email)
	if !ok {
		return Invitee{}, Errorf(EFORBIDDEN, "only someone taking part in the discussion may authorise its outcome")
	}
	if fresh, err := a.directoryInvitee(ctx, d, p.Email); err == nil && fresh != nil {
		inv.PersonID, inv.Agency, inv.Role, inv.Seniority, inv.SeniorityLabel = fresh.PersonID, fresh.Agency, fresh.Role, fresh.Seniority, fresh.SeniorityLabel
	}
	return inv, nil
}

// AuthoriseOutcome records the signed-in caller's own authorisation of an
// outcome of a discussion they take part in (000 §6: "no further action"
// needs the police officer in charge as well as the CSC manager).
func (a *App) AuthoriseOutcome(ctx context.Context, id string, outcome policy.Outcome) (*Discussion, error) {
	return a.change(ctx, id, "discussion.authorise", func(d *Discussion, p *Principal) (Effects, error) {
		self, err := a.currentSelf(ctx, d, p)
		if err != nil {
			return Effects{}, err
		}
		return d.Authorise(self, outcome, AuthorisedSignedIn, a.Now())
	})
}

// AmendOutcome corrects a recorded outcome: the chair only, with a reason;
// both versions stay readable and the follow-ons are recomputed.
func (a *App) AmendOutcome(ctx context.Context, id string, in Outcome, reason string) (*Discussion, error) {
	if err := in.Validate(a.Now()); err != nil {
		return nil, err
	}
	return a.change(ctx, id, "discussion.outcome.amend", func(d *Discussion, p *Principal) (Effects, error) {
		if !isChairOf(p, d) {
			return Effects{}, Errorf(EFORBIDDEN, "only the discussion's chair may amend its outcome")
		}
		if d.Outcome == nil || d.Started == nil {
			return Effects{}, Errorf(EPRECONDITION, "only a recorded outcome can be amended; this discussion is %s", d.Status)
		}
		if err := in.checkSafetyPlan(d); err != nil {
			return Effects{}, err
		}
		profile, err := a.profile(d.Timescale.Profile)
		if err != nil {
			return Effects{}, err
		}
		now := a.Now().UTC()
		if in.Outcome != d.Outcome.Outcome {
			// A different outcome needs its own authorisations.
			if self, err := a.currentSelf(ctx, d, p); err == nil {
				if _, err := d.Authorise(self, in.Outcome, AuthorisedSignedIn, now); err != nil {
					return Effects{}, err
				}
			}
			if in.AuthorisedBy, err = d.authorisers(in.Outcome, profile); err != nil {
				return Effects{}, err
			}
		} else {
			in.AuthorisedBy = d.Outcome.AuthorisedBy
		}
		fos, err := profile.FollowOns(policy.FollowOnRequest{HeldAt: d.Started.At, Outcome: in.Outcome, HarmSubstantiated: in.HarmSubstantiated, Case: d.Case})
		if err != nil {
			return Effects{}, policyError(err, "")
		}
		return d.Amend(in, reason, fos, p.Actor(), now)
	})
}

// ConveneSeparate convenes a separate discussion linked to this one, for
// another child in the same circumstances (002 §3: each child alleged to
// have harmed or been harmed by another; 004: an alleged abuser under 18),
// with its own case reference and its own statutory clock.
func (a *App) ConveneSeparate(ctx context.Context, id, caseRef, relation, idempotencyKey string) (*Discussion, error) {
	parent, p, err := a.read(ctx, id, "discussion.read")
	if err != nil {
		return nil, err
	}
	if !p.Has(RoleBusinessSupport) && !isChairOf(p, parent) {
		return nil, Errorf(EFORBIDDEN, "only business support or the chair convene separate discussions")
	}
	var f Fields
	profile, err := a.profile(parent.Timescale.Profile)
	if err != nil {
		return nil, err
	}
	if err := profile.CheckCaseReference(caseRef); err != nil {
		policyFields(err, "", &f)
	} else if caseRef == parent.CaseReference {
		f.Add("case_reference", "a separate discussion has the other child's own case reference")
	}
	if !slices.Contains(parent.Format.Separate(), relation) {
		f.Add("relation", "must be one of the separate discussions the procedure asks for here: %v", parent.Format.Separate())
	}
	if err := f.Err("the separate discussion is not valid"); err != nil {
		return nil, err
	}
	req := ConveneRequest{CaseReference: caseRef, Case: parent.Case, Duration: parent.Duration, FormatPreference: parent.FormatPreference,
		Agenda: parent.Agenda, ChooseInvitees: true, ConfirmDuplicate: true, IdempotencyKey: idempotencyKey, RequestHash: id + "|" + caseRef + "|" + relation}
	if chair := parent.chair(); chair != nil {
		req.ChairID = chair.PersonID
	}
	d, _, err := a.Convene(ctx, req)
	if err != nil {
		return nil, err
	}
	link := Link{ID: d.ID, CaseReference: d.CaseReference, Relation: relation}
	if _, err := a.change(ctx, parent.ID, "discussion.separate", func(pd *Discussion, p *Principal) (Effects, error) {
		return pd.LinkSeparate(link, p.Actor(), a.Now())
	}); err != nil {
		return nil, err
	}
	back := Link{ID: parent.ID, CaseReference: parent.CaseReference, Relation: "convened alongside"}
	return a.change(ctx, d.ID, "discussion.separate", func(sd *Discussion, p *Principal) (Effects, error) {
		return sd.LinkSeparate(back, p.Actor(), a.Now())
	})
}

// followUp convenes the reconvened discussion after a deferral: the same
// circumstances with the deferral as its trigger (rule D1), the same chair
// and invitees. Its id derives from the parent's, so a retried outcome
// finds the follow-up it already created.
func (a *App) followUp(ctx context.Context, parent *Discussion, now time.Time) (*Discussion, error) {
	sum := sha256.Sum256([]byte(parent.ID + ":follow-up"))
	id := hex.EncodeToString(sum[:16])
	if existing, err := a.Store.Discussion(ctx, id); err == nil {
		return existing, nil
	}
	profile, err := a.profile(parent.Timescale.Profile)
	if err != nil {
		return nil, err
	}
	c := parent.Case
	c.DeferredAt = &now
	// Attendance at the reconvened discussion is as at the first (002 §4):
	// the exceptional urgent minimum is never inherited.
	c.UrgentMinimum = nil
	req := ConveneRequest{CaseReference: parent.CaseReference, Case: c, Duration: parent.Duration,
		FormatPreference: parent.FormatPreference, Agenda: parent.Agenda, reconvene: true}
	for _, inv := range parent.current() {
		switch {
		case inv.Chair:
			req.ChairID = inv.PersonID
		case inv.PersonID != "" && inv.DelegatedFrom == "":
			req.Invitees = append(req.Invitees, InviteeRequest{PersonID: inv.PersonID, KnowsChild: inv.KnowsChild})
		}
	}
	d, err := a.newDiscussion(ctx, id, profile, req)
	if err != nil {
		return nil, err
	}
	d.ParentID = parent.ID
	if err := a.Store.CreateDiscussion(ctx, d); err != nil && ErrorCode(err) != ECONFLICT {
		return nil, err
	}
	if err := a.audit(ctx, "discussion.create", "discussions/"+d.ID, map[string]any{"parent": parent.ID, "deadline": d.Deadline}); err != nil {
		return nil, err
	}
	return d, nil
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}
