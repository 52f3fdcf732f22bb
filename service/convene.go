package service

import (
	"context"
	"errors"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/convene/convene/calendar"
	"github.com/convene/convene/service/policy"
)

// ConveneRequest is what business support asks for: a case reference (never
// a name), the circumstances, the chair and invitees (or let the service
// choose them from the directory), and how long.
type ConveneRequest struct {
	CaseReference string
	Case          policy.Case
	// ChairID is the chair's directory id; empty lets the service choose a
	// CSC manager who chairs.
	ChairID  string
	Invitees []InviteeRequest
	// ChooseInvitees fills requirements nobody named can meet from the
	// directory.
	ChooseInvitees   bool
	Duration         time.Duration
	FormatPreference policy.Format
	Agenda           []string
	// Earliest is the first time slots may start; zero means now.
	Earliest time.Time
	// ConfirmDuplicate convenes even though the case reference has an
	// open discussion (a separate discussion for the same case).
	ConfirmDuplicate bool
	// IdempotencyKey, when set, makes retries return the first result.
	// RequestHash identifies the request's content for it.
	IdempotencyKey string
	RequestHash    string

	// reconvene marks the follow-up to a deferred discussion: the rule
	// counting from the deferral (D1) binds, not the original triggers,
	// whose deadlines have passed by design.
	reconvene bool
}

// InviteeRequest names someone from the directory to invite.
type InviteeRequest struct {
	PersonID   string
	KnowsChild bool
}

// notForInvitations says why text bound for an invitation is refused.
const notForInvitations = "must not name the child's school or nursery, the interpreter's language, the form of abuse or the reason for urgency: invitations are read by assistants and on lock screens"

var caseReference = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9/_.-]{2,39}$`)

const (
	defaultDuration = time.Hour
	// convenePoll is how long a retry with the same idempotency key waits
	// for the first request to finish.
	convenePoll = 20 * time.Second
)

// Convene creates a strategy discussion: it fixes the statutory deadline,
// works out who must take part and how, picks the invitees, and proposes
// the earliest slots where the essential people are free in their real
// calendars. It books nothing. The bool reports whether this call created
// the discussion (false: an earlier request with the same idempotency key
// did).
func (a *App) Convene(ctx context.Context, req ConveneRequest) (*Discussion, bool, error) {
	pr, err := require(ctx, RoleBusinessSupport, RoleChair)
	if err != nil {
		return nil, false, err
	}
	var f Fields
	req.CaseReference = strings.TrimSpace(req.CaseReference)
	profile, err := a.profile(req.Case.Profile)
	if err != nil {
		return nil, false, err
	}
	policyFields(profile.CheckCaseReference(req.CaseReference), "", &f)
	if req.Duration == 0 {
		req.Duration = defaultDuration
	}
	if req.Duration < minDuration || req.Duration > maxDuration {
		f.Add("duration_minutes", "must be from %d to %d minutes", int(minDuration.Minutes()), int(maxDuration.Minutes()))
	}
	if req.FormatPreference != "" && req.FormatPreference != policy.FormatMeeting && req.FormatPreference != policy.FormatDiscussion {
		f.Add("format_preference", `must be "meeting" or "discussion"`)
	}
	if len(req.Invitees) > maxAttendees {
		f.Add("invitees", "at most %d invitees", maxAttendees)
	}
	// The agenda goes into every invitation: headings come from the
	// profile's list, never free text that could carry the case.
	allowed := profile.Agenda()
	for i, h := range req.Agenda {
		if !slices.Contains(allowed, h) {
			f.Add("agenda["+itoa(i)+"]", "must be one of the procedure profile's agenda headings: invitations carry only those")
		}
	}
	if len(req.Agenda) > 20 {
		f.Add("agenda", "at most 20 headings")
	}
	policyFields(req.Case.Validate(), "", &f)
	if err := f.Err("the convene request is not valid"); err != nil {
		return nil, false, err
	}
	id := a.NewID()
	var claim *IdempotencyKey
	if req.IdempotencyKey != "" {
		now := a.Now().UTC()
		claim = &IdempotencyKey{ID: pr.Subject + "\x00" + req.IdempotencyKey, DiscussionID: id, RequestHash: req.RequestHash,
			CreatedAt: now, ExpiresAt: now.Add(convenePoll)}
		d, err := a.claimKey(ctx, claim, req.RequestHash)
		if err != nil || d != nil {
			return d, false, err
		}
	}
	// A request that fails gives its key back, so the client's retry is
	// served at once rather than waiting for the key to lapse.
	releaseKey := func() {
		if claim == nil {
			return
		}
		if err := a.Store.ReleaseIdempotencyKey(context.WithoutCancel(ctx), claim.ID, claim.CreatedAt); err != nil {
			a.Log.WarnContext(ctx, "idempotency key not released", "err", err)
		}
	}
	if !req.ConfirmDuplicate && !req.reconvene {
		// The same case convened twice by accident makes two open
		// discussions that each send invitations: say so, and link the
		// first, unless business support confirms it is wanted. Checked
		// after the key is claimed, so a retry gets its own discussion
		// back rather than a conflict with it, and a new key does not
		// skip the check.
		if err := a.checkOpenCase(ctx, req.CaseReference); err != nil {
			releaseKey()
			return nil, false, err
		}
	}

	d, err := a.newDiscussion(ctx, id, profile, req)
	if err != nil {
		releaseKey()
		return nil, false, err
	}
	d.Publish(HookConvened, "", d.CreatedAt)
	if err := a.Store.CreateDiscussion(ctx, d); err != nil {
		releaseKey()
		return nil, false, err
	}
	if err := a.audit(ctx, "discussion.create", "discussions/"+d.ID, map[string]any{
		"case_reference": d.CaseReference, "deadline": d.Deadline, "binding_rule": d.Timescale.BindingRule.ID,
		"urgent_minimum": urgentReason(d),
	}); err != nil {
		return nil, false, err
	}
	a.flushRaised(ctx, d)
	return d, true, nil
}

// claimKey claims an Idempotency-Key for a new discussion. When an
// earlier request holds it, it returns what that request created, waiting
// while it is still running; a claim whose request crashed lapses at its
// ExpiresAt, and the key is then claimed afresh.
func (a *App) claimKey(ctx context.Context, claim *IdempotencyKey, hash string) (*Discussion, error) {
	giveUp := time.Now().Add(convenePoll) // real time: how long this request waits
	for wait := 50 * time.Millisecond; ; wait = min(wait*2, time.Second) {
		existing, err := a.Store.ClaimIdempotencyKey(ctx, claim)
		if err != nil || existing == nil {
			return nil, err
		}
		if existing.RequestHash != hash {
			return nil, Invalid("this Idempotency-Key was used for a different request",
				FieldError{Field: "Idempotency-Key", Message: "reuse a key only to retry the same request"})
		}
		d, err := a.Store.Discussion(ctx, existing.DiscussionID)
		if err == nil {
			if err := a.audit(ctx, "discussion.read", "discussions/"+d.ID, map[string]any{"idempotent_retry": true}); err != nil {
				return nil, err
			}
			return d, nil
		} else if ErrorCode(err) != ENOTFOUND {
			return nil, err
		}
		now := a.Now().UTC()
		if !existing.ExpiresAt.After(now) {
			// The first request died without creating anything.
			if err := a.Store.ReleaseIdempotencyKey(ctx, existing.ID, existing.CreatedAt); err != nil {
				return nil, err
			}
			claim.CreatedAt, claim.ExpiresAt = now, now.Add(convenePoll)
			continue
		}
		if time.Now().Add(wait).After(giveUp) {
			return nil, Errorf(ECONFLICT, "a request with this Idempotency-Key is still being processed; retry shortly")
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(wait):
		}
	}
}

// newDiscussion applies the procedure profile to a convene request.
func (a *App) newDiscussion(ctx context.Context, id string, profile *policy.Profile, req ConveneRequest) (*Discussion, error) {
	ts, err := profile.Timescale(req.Case.TimescaleRequest)
	if err != nil {
		return nil, policyError(err, "")
	}
	if req.reconvene {
		rebind(&ts, policy.TriggerDeferred)
	}
	if err := profile.UrgentMinimumAllowed(req.Case, ts); err != nil {
		return nil, policyError(err, "")
	}
	att, err := profile.Requirements(req.Case)
	if err != nil {
		return nil, policyError(err, "")
	}
	format, err := profile.Format(req.Case)
	if err != nil {
		return nil, policyError(err, "")
	}
	if req.FormatPreference == policy.FormatMeeting && format.Format == policy.FormatDiscussion {
		format.Format = policy.FormatMeeting
	}
	now := a.Now().UTC()
	actor := PrincipalFrom(ctx).Actor()
	d := &Discussion{
		ID: id, CaseReference: req.CaseReference, Status: StatusProposed, Case: req.Case,
		Timescale: ts, Deadline: ts.Deadline.UTC(), Attendance: att, Format: format, FormatPreference: req.FormatPreference,
		Duration: req.Duration, Agenda: req.Agenda, UID: uidOf(id), Version: 1,
		CreatedBy: actor, CreatedAt: now, UpdatedAt: now,
	}
	if len(d.Agenda) == 0 {
		d.Agenda = profile.Agenda()
	}
	if err := a.chooseInvitees(ctx, d, profile, req); err != nil {
		return nil, err
	}
	if u := att.UrgentMinimum; u != nil {
		d.record(now, actor, "urgent_minimum", "CSC and police minimum invoked ("+u.Citation+"): "+u.Reason)
	}
	d.record(now, actor, "convened", "deadline "+ts.Deadline.Format(time.RFC3339)+" under rule "+ts.BindingRule.ID+" ("+ts.BindingRule.Citation+")")

	earliest := req.Earliest
	if earliest.IsZero() || earliest.Before(now) {
		earliest = now
	}
	earliest = earliest.Truncate(15 * time.Minute).Add(15 * time.Minute)
	window := slotWindow{Discussion: d.ID, Duration: d.Duration, Earliest: earliest, Deadline: d.Deadline, Region: ts.Region}
	if d.Deadline.Sub(earliest) < d.Duration {
		// Too late already: say so, and still offer the next slots so the
		// discussion can be held as soon as possible, with the breach on
		// the record.
		d.Breach = &Breach{At: now, Reason: "the deadline (" + ts.Deadline.Format(time.RFC3339) + ") leaves no time for the discussion", By: actor}
		window.Deadline = earliest.Add(3 * 24 * time.Hour)
	}
	avail, err := a.findSlots(ctx, a.attendees(ctx, d), window)
	if err != nil {
		return nil, err
	}
	d.ProposedSlots, d.SlotReason = avail.Slots, avail.Reason
	return d, nil
}

func urgentReason(d *Discussion) string {
	if u := d.Attendance.UrgentMinimum; u != nil {
		return u.Reason
	}
	return ""
}

// checkOpenCase refuses a second open discussion of a case reference with a
// conflict that links the first.
func (a *App) checkOpenCase(ctx context.Context, ref string) error {
	open, err := a.Store.Discussions(ctx, DiscussionFilter{CaseReference: ref,
		Status: []DiscussionStatus{StatusProposed, StatusBooked, StatusInProgress}, Limit: 1})
	if err != nil {
		return err
	}
	if len(open) == 0 {
		return nil
	}
	return &Error{Code: ECONFLICT, Link: "/v1/discussions/" + open[0].ID,
		Message: "case " + ref + " already has an open discussion (" + string(open[0].Status) + "); give confirm_duplicate to convene another",
		Fields:  []FieldError{{Field: "case_reference", Message: "has an open discussion: /v1/discussions/" + open[0].ID}}}
}

// uidSuffix ends every meeting UID Convene writes: the UID is the
// discussion's id and this suffix, so a reply finds its discussion by _id.
const uidSuffix = "@convene"

func uidOf(id string) string { return id + uidSuffix }

// discussionByUID finds the discussion an invitation's UID names; any UID
// Convene did not write is ENOTFOUND.
func (a *App) discussionByUID(ctx context.Context, uid string) (*Discussion, error) {
	id, ok := strings.CutSuffix(uid, uidSuffix)
	if !ok || id == "" {
		return nil, Errorf(ENOTFOUND, "no discussion has this UID")
	}
	d, err := a.Store.Discussion(ctx, id)
	if err != nil {
		return nil, err
	}
	if d.UID != uid {
		return nil, Errorf(ENOTFOUND, "no discussion has this UID")
	}
	return d, nil
}

// rebind makes the rule counting from trigger the binding one.
func rebind(ts *policy.Timescale, trigger policy.Trigger) {
	i := slices.IndexFunc(ts.Rules, func(r policy.RuleDeadline) bool { return r.Trigger == trigger })
	if i < 0 {
		return
	}
	for j := range ts.Rules {
		ts.Rules[j].Binding = j == i
	}
	r := ts.Rules[i]
	ts.Deadline = r.Deadline
	ts.BindingRule = policy.RuleRef{ID: r.ID, Summary: r.Summary, Citation: r.Citation}
}

// chooseInvitees turns the named chair and invitees into the invitation
// list, and (if asked) fills each requirement nobody named can meet with
// someone from the directory: the least senior active person who meets it,
// so that the most senior staff are not pulled into every discussion. The
// quorum evaluation is the judge of who meets what, so there is one
// definition of "meets a requirement".
func (a *App) chooseInvitees(ctx context.Context, d *Discussion, profile *policy.Profile, req ConveneRequest) error {
	var f Fields
	now := a.Now().UTC()
	add := func(p *Person, chair, knowsChild bool) {
		inv := inviteeOf(p, profile)
		inv.Chair, inv.KnowsChild, inv.Reply, inv.AddedAt = chair, knowsChild, policy.ReplyNeedsAction, now
		d.Invitees = append(d.Invitees, inv)
	}
	// The chair: a CSC manager the procedure allows to chair (000 §3, 001,
	// 002 §4, 004), named or chosen.
	var chair *Person
	var why string
	if req.ChairID != "" {
		p, err := a.Store.Person(ctx, req.ChairID)
		switch {
		case ErrorCode(err) == ENOTFOUND:
			f.Add("chair_id", "no such person in the directory")
		case err != nil:
			return err
		case !p.Chair || !p.Active:
			f.Add("chair_id", "%s is not an active chair in the directory", p.Name)
		default:
			if ok, reason := profile.MayChair(p.Agency, p.Role, p.Seniority); !ok {
				f.Add("chair_id", "%s cannot chair: %s", p.Name, reason)
			} else {
				chair, why = p, "named by "+PrincipalFrom(ctx).Actor().Name
			}
		}
	} else {
		var err error
		if chair, why, err = a.chooseChair(ctx, profile); err != nil {
			return err
		}
		if chair == nil {
			f.Add("chair_id", "%s", why)
		}
	}
	if chair != nil {
		d.record(now, PrincipalFrom(ctx).Actor(), "chair_chosen", chair.Name+" ("+profile.SeniorityLabel(chair.Agency, chair.Seniority)+"): "+why)
	}
	if chair != nil {
		add(chair, true, false)
	}
	// The named invitees.
	for i, in := range req.Invitees {
		field := "invitees[" + itoa(i) + "].person_id"
		p, err := a.Store.Person(ctx, in.PersonID)
		switch {
		case ErrorCode(err) == ENOTFOUND:
			f.Add(field, "no such person in the directory")
			continue
		case err != nil:
			return err
		case !p.Active:
			f.Add(field, "%s is not active in the directory", p.Name)
			continue
		case d.invitee(p.Email) != nil:
			if chair != nil && p.ID == chair.ID {
				d.invitee(p.Email).KnowsChild = in.KnowsChild
				continue
			}
			f.Add(field, "%s is already invited", p.Name)
			continue
		}
		add(p, false, in.KnowsChild)
	}
	if err := f.Err("the convene request is not valid"); err != nil {
		return err
	}

	reqs := d.Attendance.Requirements
	if req.ChooseInvitees {
		for _, essential := range []bool{true, false} {
			for _, r := range reqs {
				if r.Essential != essential || len(r.Agencies) == 0 || r.Chair {
					continue
				}
				if quorumOf(d, reqs, policy.QuorumActual).status(r.ID) == policy.StateSatisfied {
					continue
				}
				candidate, err := a.candidate(ctx, d, r)
				if err != nil {
					return err
				}
				if candidate != nil {
					add(candidate, false, false)
				}
			}
		}
	}
	// Who fills which requirement, and so who is essential.
	d.refill()
	return nil
}

// chooseChair picks the chair for a discussion: of the active people
// flagged as chairs who meet the profile's chair requirement, the least
// senior (so that heads of service are not pulled into every discussion),
// never anyone below the requirement. It says why it chose them, or why
// nobody could be chosen.
func (a *App) chooseChair(ctx context.Context, profile *policy.Profile) (*Person, string, error) {
	r, ok := profile.ChairRequirement()
	if !ok {
		return nil, "the procedure profile names no chair requirement", nil
	}
	var chair *Person
	for _, ag := range r.Agencies {
		after := ""
		for {
			page, err := a.Store.People(ctx, PersonFilter{Agency: ag, Chair: ptr(true), After: after, Limit: 200})
			if err != nil {
				return nil, "", err
			}
			for i := range page {
				p := &page[i]
				if ok, _ := profile.MayChair(p.Agency, p.Role, p.Seniority); p.Active && ok && (chair == nil || p.Seniority < chair.Seniority) {
					chair = p
				}
			}
			if len(page) < 200 {
				break
			}
			after = page[len(page)-1].ID
		}
	}
	if chair == nil {
		return nil, "no active chair in the directory meets the chair requirement (" + r.Name + ", at least " + r.MinSeniority.Label + "): add one or name the chair", nil
	}
	return chair, "the least senior active chair who meets " + r.Name + " (at least " + r.MinSeniority.Label + ", " + r.Citation + ")", nil
}

// candidate finds the directory person to invite for a requirement: active,
// not already invited, meeting it (by the quorum's own test), and the least
// senior such person.
func (a *App) candidate(ctx context.Context, d *Discussion, r policy.Requirement) (*Person, error) {
	var best *Person
	for _, ag := range r.Agencies {
		people, err := a.Store.People(ctx, PersonFilter{Agency: ag, Limit: 200})
		if err != nil {
			return nil, err
		}
		for i := range people {
			p := &people[i]
			if !p.Active || d.invitee(p.Email) != nil {
				continue
			}
			trial := policy.EvaluateQuorum(policy.QuorumActual, []policy.Requirement{r},
				[]policy.Participant{{PersonID: p.ID, Name: p.Name, Agency: p.Agency, Role: p.Role, Seniority: p.Seniority, Chair: r.Chair, Present: true, Expertise: p.Expertise}}, false)
			if !trial.Met {
				continue
			}
			if best == nil || p.Seniority < best.Seniority || p.Seniority == best.Seniority && p.Name < best.Name {
				best = p
			}
		}
	}
	return best, nil
}

func (d *Discussion) inviteeByPersonID(id string) *Invitee {
	if id == "" {
		return nil
	}
	for i := range d.Invitees {
		if inv := &d.Invitees[i]; !inv.Removed && inv.PersonID == id {
			return inv
		}
	}
	return nil
}

// attendees are the current invitees as the slot finder sees them, with
// their calendars, working hours and zones from the directory.
func (a *App) attendees(ctx context.Context, d *Discussion) []attendee {
	var out []attendee
	for _, inv := range d.current() {
		if inv.Reply == policy.ReplyDeclined || inv.Reply == policy.ReplyDelegated {
			continue
		}
		at := attendee{PersonID: inv.PersonID, Email: inv.Email, Name: inv.Name, Essential: inv.Essential,
			WorkingHours: calendar.DefaultWorkingHours, Zone: a.zone()}
		if inv.PersonID != "" {
			if p, err := a.Store.Person(ctx, inv.PersonID); err == nil {
				at.Calendar, at.WorkingHours = p.Calendar, p.WorkingHours
				if loc, err := time.LoadLocation(p.TimeZone); err == nil {
					at.Zone = loc
				}
			}
		}
		out = append(out, at)
	}
	return out
}

// profile returns the named procedure profile ("" is the default), or a
// field error on "profile".
func (a *App) profile(name string) (*policy.Profile, error) {
	if a.Profiles == nil {
		return nil, Internal(errNoProfiles, "profiles")
	}
	p, err := a.Profiles.Profile(name)
	if err != nil {
		return nil, policyError(err, "")
	}
	return p, nil
}

var errNoProfiles = Errorf(EINTERNAL, "no procedure profiles loaded")

// policyError turns the policy package's field errors into ours, with the
// field names prefixed.
func policyError(err error, prefix string) error {
	var f Fields
	policyFields(err, prefix, &f)
	if len(f) > 0 {
		return f.Err("the request is not valid")
	}
	if err != nil {
		return Internal(err, "policy")
	}
	return nil
}

func policyFields(err error, prefix string, f *Fields) {
	var pe *policy.Error
	if !errors.As(err, &pe) {
		return
	}
	for _, fe := range pe.Fields {
		f.Add(prefix+fe.Field, "%s", fe.Message)
	}
}

func ptr[T any](v T) *T { return &v }

// quorumResult wraps a quorum for lookups by requirement.
type quorumResult struct{ q policy.Quorum }

func (q quorumResult) status(id string) policy.RequirementState {
	for _, s := range q.q.Requirements {
		if s.ID == id {
			return s.Status
		}
	}
	return policy.StateMissing
}

// quorumOf evaluates the discussion's invitation list as if everyone came
// (actual mode with every invitee present): who would fill what.
func quorumOf(d *Discussion, reqs []policy.Requirement, mode policy.QuorumMode) quorumResult {
	var ps []policy.Participant
	for _, inv := range d.current() {
		p := participantOf(inv)
		p.Present = true
		ps = append(ps, p)
	}
	return quorumResult{policy.EvaluateQuorum(mode, reqs, ps, false)}
}

// participantOf is an invitee as the quorum sees them.
func participantOf(inv Invitee) policy.Participant {
	return policy.Participant{
		PersonID: inv.PersonID, Name: inv.Name, Email: inv.Email, Agency: inv.Agency, Role: inv.Role,
		Seniority: inv.Seniority, SeniorityLabel: inv.SeniorityLabel, KnowsChild: inv.KnowsChild,
		Chair: inv.Chair, Status: inv.Reply, Expertise: inv.Expertise,
	}
}
