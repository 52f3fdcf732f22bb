package service

import (
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"strings"
	"time"

	"github.com/convene/convene/service/policy"
)

// Effects is what a transition of a discussion needs done beyond the change
// to the discussion itself (whose messages to send and timeline entries are
// recorded on it, in Pending and Timeline, and saved with it).
type Effects struct {
	// Hold is time to hold before the change is saved: if it cannot be
	// held, the change is not made.
	Hold []HoldRequest
	// Release is time to give back once the change is saved.
	Release []HoldRelease
	// Detail is what the audit entry records of the change.
	Detail map[string]any
}

// HoldRequest asks for people's time to be held for a booking.
type HoldRequest struct {
	BookingID  string
	Persons    []string
	Start, End time.Time
	// BestEffort: a clash is recorded on the timeline rather than refusing
	// the change (a delegate's diary).
	BestEffort bool
}

// HoldRelease gives back a booking's holds, of one person if Person is set.
type HoldRelease struct {
	BookingID string
	Person    string
}

// Caps on what inbound mail can add to a discussion, so that nobody can
// grow it without bound by sending mail.
const (
	maxPendingCounters = 20
	maxHeldReplies     = 50
	maxCommentBytes    = 500
)

// BookingChoice is a time chosen for a discussion, with what was learnt of
// calendars when it was checked.
type BookingChoice struct {
	// BookingID names the new booking's holds; the caller chooses it so a
	// retried transition holds the same time under the same id.
	BookingID  string
	Start, End time.Time
	Location   string
	OnlineURL  string
	// OverrideReason allows an end after the statutory deadline.
	OverrideReason string
	// CounterID, on a reschedule, is the counter proposal it accepts.
	CounterID string
	// Unknown lists attendees whose calendars could not be read.
	Unknown    []string
	Reschedule bool
	// Zone is the area's, for the timeline's wording.
	Zone *time.Location
}

// Book fixes the discussion's time (or moves it, for a reschedule): the
// invitations are queued, the time of the chair and essential invitees is to
// be held, and a reschedule's old holds released once saved. An end after the
// deadline needs an override reason, and is recorded as a breach.
func (d *Discussion) Book(c BookingChoice, by Actor, now time.Time) (Effects, error) {
	now = now.UTC()
	switch {
	case c.Reschedule && d.Status != StatusBooked:
		return Effects{}, Errorf(EPRECONDITION, "only a booked discussion can be rescheduled; this one is %s", d.Status)
	case !c.Reschedule && d.Status != StatusProposed:
		return Effects{}, Errorf(EPRECONDITION, "this discussion is %s; use reschedule to move a booked one", d.Status)
	case c.Start.Before(now.Add(-time.Minute)):
		return Effects{}, Invalid("the booking is not valid", FieldError{Field: "start", Message: "is in the past"})
	case c.End.After(d.Deadline) && strings.TrimSpace(c.OverrideReason) == "":
		return Effects{}, Invalid("this time is after the statutory deadline", FieldError{Field: "start",
			Message: "ends after the deadline " + d.Deadline.In(zoneOr(c.Zone)).Format(time.RFC3339) +
				" (" + d.Timescale.BindingRule.ID + ", " + d.Timescale.BindingRule.Citation + "); give override_reason to book it anyway"})
	}
	if c.CounterID != "" && !slices.ContainsFunc(d.Counters, func(k Counter) bool { return k.ID == c.CounterID && k.Status == "pending" }) {
		return Effects{}, Invalid("the booking is not valid", FieldError{Field: "counter_id", Message: "no pending counter proposal with this id"})
	}
	var eff Effects
	if c.Reschedule {
		eff.Release = append(eff.Release, HoldRelease{BookingID: d.Booking.ID})
		if c.Location == "" && c.OnlineURL == "" {
			c.Location, c.OnlineURL = d.Booking.Location, d.Booking.OnlineURL
		}
		// A new time is a significant change (RFC 5545 §3.8.7.4): a new
		// revision, and every answer asked for again.
		d.Sequence++
		for i := range d.Invitees {
			if inv := &d.Invitees[i]; inv.Reply != policy.ReplyDelegated {
				inv.Reply, inv.RepliedAt, inv.RemindedAt, inv.ReplyStamp = policy.ReplyNeedsAction, nil, nil, nil
			}
		}
	}
	d.Status = StatusBooked
	d.Booking = &Booking{ID: c.BookingID, Start: c.Start.UTC(), End: c.End.UTC(), Location: c.Location, OnlineURL: c.OnlineURL,
		BookedBy: by, BookedAt: now, Unknown: c.Unknown}
	d.AtRisk = false
	eff.Detail = map[string]any{"start": c.Start.UTC(), "end": c.End.UTC(), "sequence": d.Sequence}
	if c.End.After(d.Deadline) {
		d.Breach = &Breach{At: now, Reason: strings.TrimSpace(c.OverrideReason), Override: true, By: by}
		eff.Detail["override_reason"] = d.Breach.Reason
		d.record(now, by, "deadline_override", "booked after the deadline: "+d.Breach.Reason)
	} else if d.Breach != nil && d.Breach.Override {
		d.Breach = nil // moved back within the deadline
	}
	if c.CounterID != "" {
		for i := range d.Counters {
			if k := &d.Counters[i]; k.ID == c.CounterID {
				k.Status, k.DecidedBy, k.DecidedAt = "accepted", &by, &now
				eff.Detail["counter_id"] = k.ID
				d.Resolved(NoticeCounter, k.ID, now)
			}
		}
	}
	when := c.Start.In(zoneOr(c.Zone)).Format("Mon 2 Jan 2006 15:04")
	if c.Reschedule {
		d.record(now, by, "rescheduled", "moved to "+when)
	} else {
		d.record(now, by, "booked", when)
	}
	if len(c.Unknown) > 0 {
		d.record(now, by, "availability_unknown", "calendars not read at booking: "+strings.Join(c.Unknown, ", "))
		d.Notify(NoticeUnknownCalendars, c.BookingID, now)
	}
	d.Resolved(NoticeAtRisk, "", now)
	d.Publish(HookBooked, c.BookingID, now)
	for _, inv := range d.current() {
		d.queue("REQUEST", inv.Email, 0)
	}
	eff.Hold = []HoldRequest{{BookingID: c.BookingID, Persons: holdPersons(d), Start: d.Booking.Start, End: d.Booking.End}}
	return eff, nil
}

// Cancel calls the discussion off: a CANCEL to everyone invited if it was
// booked, and the booked time released.
func (d *Discussion) Cancel(reason string, by Actor, now time.Time) (Effects, error) {
	if !d.live() {
		return Effects{}, Errorf(EPRECONDITION, "this discussion is %s and cannot be cancelled", d.Status)
	}
	var eff Effects
	if d.Booking != nil {
		eff.Release = append(eff.Release, HoldRelease{BookingID: d.Booking.ID})
		d.Sequence++
		for _, inv := range d.current() {
			d.queue("CANCEL", inv.Email, 0, func(m *PendingMessage) { m.Comment = "This discussion has been cancelled." })
		}
	}
	d.Status = StatusCancelled
	d.record(now.UTC(), by, "cancelled", reason)
	eff.Detail = map[string]any{"reason": reason}
	return eff, nil
}

// AddInvitee adds someone to the invitation list. If the discussion is
// booked they are sent the invitation, and an essential newcomer's time is
// held.
func (d *Discussion) AddInvitee(inv Invitee, by Actor, now time.Time) (Effects, error) {
	if !d.live() {
		return Effects{}, Errorf(EPRECONDITION, "this discussion is %s", d.Status)
	}
	inv.Email = strings.ToLower(inv.Email)
	if d.invitee(inv.Email) != nil {
		return Effects{}, Errorf(ECONFLICT, "%s is already invited", inv.Name)
	}
	inv.Reply, inv.AddedAt = policy.ReplyNeedsAction, now.UTC()
	d.putInvitee(inv)
	d.refill()
	d.Roster++
	var eff Effects
	if b := d.Booking; b != nil {
		if added := d.invitee(inv.Email); added.Essential {
			eff.Hold = append(eff.Hold, HoldRequest{BookingID: b.ID, Persons: []string{holdKey(*added)}, Start: b.Start, End: b.End})
		}
		d.queue("REQUEST", inv.Email, d.Roster)
	}
	d.record(now.UTC(), by, "attendee_added", inv.Name+" ("+string(inv.Agency)+")")
	eff.Detail = map[string]any{"person_id": inv.PersonID}
	return eff, nil
}

// putInvitee adds inv to the list, or puts them back in the place they had
// before they were removed (an invitee's address names one element for
// good).
func (d *Discussion) putInvitee(inv Invitee) {
	for i := range d.Invitees {
		if old := &d.Invitees[i]; old.Email == inv.Email {
			inv.Rev = old.Rev
			*old = inv
			return
		}
	}
	d.Invitees = append(d.Invitees, inv)
}

// RemoveInvitee withdraws someone's invitation. If booked, they are sent a
// CANCEL that removes the meeting from their calendar only (RFC 5546
// §3.2.5), the others an updated invitation without them, and their time is
// released. Changing who is invited is not a significant change (RFC 5545
// §3.8.7.4): SEQUENCE stays, and so do everyone's answers.
func (d *Discussion) RemoveInvitee(email string, by Actor, now time.Time) (Effects, error) {
	if !d.live() {
		return Effects{}, Errorf(EPRECONDITION, "this discussion is %s", d.Status)
	}
	inv := d.invitee(email)
	if inv == nil {
		return Effects{}, Errorf(ENOTFOUND, "%s is not invited", email)
	}
	if inv.Chair {
		return Effects{}, Errorf(EPRECONDITION, "the chair cannot be removed; cancel or convene again with another chair")
	}
	inv.Removed = true
	var eff Effects
	d.Roster++
	if d.Booking != nil {
		eff.Release = append(eff.Release, HoldRelease{BookingID: d.Booking.ID, Person: holdKey(*inv)})
		d.queue("CANCEL", inv.Email, d.Roster, func(m *PendingMessage) { m.Uninvite = true })
		for _, other := range d.current() {
			d.queue("REQUEST", other.Email, d.Roster)
		}
	}
	name := inv.Name
	d.refill()
	d.record(now.UTC(), by, "attendee_removed", name)
	eff.Detail = map[string]any{"email": strings.ToLower(email)}
	return eff, nil
}

// DeclineCounter refuses an attendee's proposed time: they are told, and
// the booking stands. The comment stays inside Convene.
func (d *Discussion) DeclineCounter(counterID, comment string, by Actor, now time.Time) (Effects, error) {
	now = now.UTC()
	for i := range d.Counters {
		c := &d.Counters[i]
		if c.ID != counterID {
			continue
		}
		if c.Status != "pending" {
			return Effects{}, Errorf(EPRECONDITION, "this proposal was already %s", c.Status)
		}
		c.Status, c.DecidedBy, c.DecidedAt, c.Decision = "declined", &by, &now, truncate(comment, maxCommentBytes)
		d.Resolved(NoticeCounter, c.ID, now)
		if d.invitee(c.From) != nil && d.Booking != nil {
			// The DECLINECOUNTER, and since Outlook ignores that, the
			// unchanged meeting as a REQUEST saying the proposal was not
			// accepted: two messages, so two pending messages (numbered
			// apart from the invitations of the same sequence).
			answers := func(m *PendingMessage) { m.CounterID = c.ID }
			d.queue("DECLINECOUNTER", c.From, i, answers)
			d.queue("REQUEST", c.From, 2000+i, answers)
		}
		d.record(now, by, "counter_declined", c.From)
		return Effects{Detail: map[string]any{"counter_id": c.ID}}, nil
	}
	return Effects{}, Errorf(ENOTFOUND, "no counter proposal %s", counterID)
}

// Reply is an invitee's answer, from an email reply or an RSVP link.
type Reply struct {
	Email  string
	Answer policy.ReplyStatus
	// Sequence and Stamp (the reply's DTSTAMP) order answers: an older one
	// arriving late never overrides a newer one (RFC 5546 §2.1.5).
	Sequence int
	Stamp    time.Time
	Comment  string
	// DelegatedTo is the delegate's address; Delegate their directory
	// entry, if they have one, and DelegateName the name the reply gives.
	DelegatedTo  string
	DelegateName string
	Delegate     *Invitee
	// HoldID names the held reply if this one is held.
	HoldID string
	// Admitted marks a reply business support admitted: a delegation it
	// names is applied even if it would otherwise be held.
	Admitted bool
	// By is who the timeline names.
	By Actor
}

// staleReply says why an answer is not recorded: it is older than the one
// that is.
const staleReply = "answers an earlier version of the invitation, or is older than the answer recorded"

// ApplyReply records an invitee's answer. A delegation adds the delegate,
// who gets their own invitation and whose diary is held if they can be.
func (d *Discussion) ApplyReply(r Reply, now time.Time) (Effects, error) {
	now = now.UTC()
	inv := d.invitee(r.Email)
	if inv == nil {
		return Effects{}, Errorf(EPRECONDITION, "%s is no longer invited", r.Email)
	}
	if r.Answer == "" || r.Answer == policy.ReplyNeedsAction {
		return Effects{}, Invalid("the reply's PARTSTAT is not an answer", FieldError{Field: "partstat", Message: string(r.Answer)})
	}
	if r.Answer == policy.ReplyDelegated && r.DelegatedTo == "" {
		return Effects{}, Invalid("a delegation must name the delegate (DELEGATED-TO)")
	}
	if r.Sequence < d.Sequence || !newerReply(inv, r) {
		return Effects{}, &Error{Code: EPRECONDITION, Message: staleReply, Conflict: &Conflict{Stale: true}}
	}
	if r.Answer == policy.ReplyDelegated && !r.Admitted {
		if why := d.delegationProblem(inv, r); why != "" {
			eff, err := d.HoldReply(HeldReply{ID: r.HoldID, Kind: HeldDelegation, Reason: why, From: inv.Email, Name: inv.Name,
				Reply: r.Answer, DelegatedTo: strings.ToLower(r.DelegatedTo), DelegateName: r.DelegateName,
				Sequence: r.Sequence, Stamp: stampOrNil(r.Stamp)}, now)
			if err == nil && delegateBelow(d, inv, r) {
				d.noticeAs(NoticeHeldReply, NoticeDelegateBelow, r.HoldID)
			}
			return eff, err
		}
	}
	stamp := r.Stamp
	if stamp.IsZero() {
		stamp = now
	}
	stamp = stamp.UTC()
	inv.Reply, inv.RepliedAt, inv.ReplySequence, inv.ReplyStamp = r.Answer, &now, r.Sequence, &stamp
	inv.Comment = truncate(r.Comment, maxCommentBytes)
	eff := Effects{Detail: map[string]any{"attendee": inv.Email, "reply": r.Answer}}
	if r.Answer == policy.ReplyDeclined {
		d.Notify(NoticeDecline, inv.Email+":"+itoa(r.Sequence), now)
	}
	if r.Answer != policy.ReplyDelegated {
		d.record(now, r.By, "reply", inv.Name+" "+string(r.Answer))
		return eff, nil
	}
	to := strings.ToLower(r.DelegatedTo)
	inv.DelegatedTo = to
	eff.Detail["delegated_to"] = to
	d.record(now, r.By, "delegated", inv.Name+" delegated to "+to)
	if d.invitee(to) != nil {
		return eff, nil
	}
	delegate := Invitee{Email: to, Name: to, Agency: inv.Agency, Role: inv.Role}
	if n := strings.TrimSpace(r.DelegateName); n != "" {
		delegate.Name = truncate(n, 200)
	}
	// A delegate in the directory brings their own agency, role and
	// seniority; one who is not has no known seniority until business
	// support adds them.
	if r.Delegate != nil {
		delegate = *r.Delegate
	}
	delegate.Requirements, delegate.Essential, delegate.DelegatedFrom = inv.Requirements, inv.Essential, inv.Email
	delegate.Reply, delegate.AddedAt, delegate.Chair = policy.ReplyNeedsAction, now, false
	d.putInvitee(delegate)
	if b := d.Booking; b != nil {
		d.queue("REQUEST", to, 0)
		eff.Hold = append(eff.Hold, HoldRequest{BookingID: b.ID, Persons: []string{holdKey(delegate)}, Start: b.Start, End: b.End, BestEffort: true})
	}
	return eff, nil
}

// delegationProblem says why a delegation may not be applied without
// business support admitting it (nobody gains access to a case by email
// alone): the delegate is not in the directory, is from another agency
// than the delegator, or is below the minimum seniority of a place the
// delegator fills. "" if none.
func (d *Discussion) delegationProblem(inv *Invitee, r Reply) string {
	del := r.Delegate
	switch {
	case del == nil:
		return strings.ToLower(r.DelegatedTo) + " is not in the directory"
	case del.Agency != inv.Agency:
		return del.Name + " is from " + string(del.Agency) + ", not " + string(inv.Agency)
	}
	for _, id := range inv.Requirements {
		for _, req := range d.Attendance.Requirements {
			if req.ID == id && del.Seniority < req.MinSeniority.Level {
				return del.Name + " is below the minimum for " + req.Name + " (needs " + req.MinSeniority.Label + ", has " + del.SeniorityLabel + ")"
			}
		}
	}
	return ""
}

func stampOrNil(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	t = t.UTC()
	return &t
}

// newerReply reports whether r is newer than the answer inv has: a higher
// SEQUENCE, or the same one with a later DTSTAMP (RFC 5546 §2.1.5).
func newerReply(inv *Invitee, r Reply) bool {
	if inv.ReplyStamp == nil || inv.Reply == policy.ReplyNeedsAction {
		return true
	}
	if r.Sequence != inv.ReplySequence {
		return r.Sequence > inv.ReplySequence
	}
	return r.Stamp.IsZero() || !r.Stamp.Before(*inv.ReplyStamp)
}

// CounterProposal is an invitee's proposal of another time (iTIP COUNTER).
type CounterProposal struct {
	ID         string
	Email      string
	Start, End time.Time
	Comment    string
	Sequence   int
	Zone       *time.Location
}

// ApplyCounter records a proposal of another time, once; at most
// maxPendingCounters are pending at a time.
func (d *Discussion) ApplyCounter(p CounterProposal, now time.Time) (Effects, error) {
	inv := d.invitee(p.Email)
	if inv == nil {
		return Effects{}, Errorf(EPRECONDITION, "%s is no longer invited", p.Email)
	}
	if p.Start.IsZero() {
		return Effects{}, Invalid("the counter proposal names no time")
	}
	if p.End.IsZero() || !p.End.After(p.Start) {
		p.End = p.Start.Add(d.Duration)
	}
	pending := 0
	for _, c := range d.Counters {
		if c.Status != "pending" {
			continue
		}
		pending++
		if c.From == inv.Email && c.Start.Equal(p.Start) && c.End.Equal(p.End) {
			return Effects{Detail: map[string]any{"counter": false}}, nil
		}
	}
	if pending >= maxPendingCounters {
		return Effects{}, Errorf(EPRECONDITION, "this discussion has %d proposals waiting for a decision; no more are taken", pending)
	}
	now = now.UTC()
	d.Counters = append(d.Counters, Counter{ID: p.ID, From: inv.Email, Start: p.Start.UTC(), End: p.End.UTC(),
		Comment: truncate(p.Comment, maxCommentBytes), Sequence: p.Sequence, ReceivedAt: now, Status: "pending"})
	d.Notify(NoticeCounter, p.ID, now)
	d.record(now, Actor{Subject: "mail", Name: inv.Name, Email: inv.Email}, "counter_proposed",
		inv.Name+" proposes "+p.Start.In(zoneOr(p.Zone)).Format("Mon 2 Jan 15:04"))
	return Effects{Detail: map[string]any{"counter": true}}, nil
}

// refreshesPerDay bounds how often one attendee's REFRESH re-sends the
// invitation.
const refreshesPerDay = 3

// ApplyRefresh re-sends the latest invitation to an invitee who asked for
// it (iTIP REFRESH), at most refreshesPerDay times a day each.
func (d *Discussion) ApplyRefresh(email string, now time.Time) (Effects, error) {
	inv := d.invitee(email)
	if inv == nil {
		return Effects{}, Errorf(EPRECONDITION, "%s is no longer invited", email)
	}
	now = now.UTC()
	by := Actor{Subject: "mail", Name: inv.Name, Email: inv.Email}
	if inv.RefreshDay != now.Format(time.DateOnly) {
		inv.RefreshDay, inv.Refreshes = now.Format(time.DateOnly), 0
	}
	if inv.Refreshes >= refreshesPerDay {
		return Effects{Detail: map[string]any{"refresh": false}}, nil
	}
	inv.Refreshes++
	inv.RefreshTotal++
	if d.Booking != nil {
		d.queue("REQUEST", inv.Email, 1000+inv.RefreshTotal)
	}
	d.record(now, by, "refresh", inv.Name+" asked for the latest invitation")
	return Effects{Detail: map[string]any{"refresh": true}}, nil
}

// HoldReply holds a reply from someone not on the invitation list (a
// forwarded invitation) for business support to admit or reject.
func (d *Discussion) HoldReply(h HeldReply, now time.Time) (Effects, error) {
	// The kind first: the same sender's held reply of the same kind is
	// replaced, not held twice.
	if h.Kind == "" {
		h.Kind = HeldUninvited
	}
	held := 0
	for i, o := range d.HeldReplies {
		if o.Status != "held" {
			continue
		}
		held++
		if o.From == h.From && o.Kind == h.Kind {
			// The newest answer replaces the one waiting.
			o := &d.HeldReplies[i]
			o.Reply, o.DelegatedTo, o.DelegateName, o.Reason, o.Sequence, o.Stamp, o.ReceivedAt = h.Reply, h.DelegatedTo, h.DelegateName, h.Reason, h.Sequence, h.Stamp, now.UTC()
			return Effects{Detail: map[string]any{"duplicate": true, "held": h.Kind}}, nil
		}
	}
	if held >= maxHeldReplies {
		return Effects{}, Errorf(EPRECONDITION, "this discussion has %d replies held already; no more are taken", held)
	}
	if h.Reason == "" && h.Kind == HeldUninvited {
		h.Reason = h.From + " is not invited"
	}
	h.ReceivedAt, h.Status = now.UTC(), "held"
	d.HeldReplies = append(d.HeldReplies, h)
	d.Notify(NoticeHeldReply, h.ID, now)
	d.record(now.UTC(), Actor{Subject: "mail", Email: h.From}, "reply_held", h.Kind+": "+h.Reason)
	return Effects{Detail: map[string]any{"from": h.From, "held": h.Kind}}, nil
}

// DecideHeldReply admits a held reply or rejects it. An uninvited sender
// joins the invitation list with their answer (person is their directory
// entry, if any); an invitee's held answer is applied (person is then the
// delegate's directory entry, for a delegation).
func (d *Discussion) DecideHeldReply(heldID string, admit bool, person *Invitee, by Actor, now time.Time) (Effects, error) {
	i := slices.IndexFunc(d.HeldReplies, func(h HeldReply) bool { return h.ID == heldID })
	if i < 0 {
		return Effects{}, Errorf(ENOTFOUND, "no held reply %s", heldID)
	}
	h := &d.HeldReplies[i]
	if h.Status != "held" {
		return Effects{}, Errorf(EPRECONDITION, "this reply was already %s", h.Status)
	}
	now = now.UTC()
	h.DecidedBy = &by
	d.Resolved(NoticeHeldReply, h.ID, now)
	d.Resolved(NoticeDelegateBelow, h.ID, now)
	if !admit {
		h.Status = "rejected"
		d.record(now, by, "reply_rejected", h.From)
		return Effects{Detail: map[string]any{"from": h.From, "admitted": false}}, nil
	}
	h.Status = "admitted"
	var eff Effects
	if h.Kind == HeldDelegation || h.Kind == HeldUnauthenticated {
		// An invitee's own answer, applied now as business support vouch
		// for it.
		stamp := now
		if h.Stamp != nil {
			stamp = *h.Stamp
		}
		var err error
		eff, err = d.ApplyReply(Reply{Email: h.From, Answer: h.Reply, Sequence: h.Sequence, Stamp: stamp, DelegatedTo: h.DelegatedTo,
			DelegateName: h.DelegateName, Delegate: person, Admitted: true, By: by}, now)
		if err != nil {
			return Effects{}, err
		}
		d.record(now, by, "reply_admitted", h.Kind+": "+h.From)
		if eff.Detail == nil {
			eff.Detail = map[string]any{}
		}
		eff.Detail["from"], eff.Detail["admitted"] = h.From, true
		return eff, nil
	}
	inv := Invitee{Email: h.From, Name: h.Name, Agency: policy.AgencyOther}
	if person != nil {
		inv = *person
	}
	if inv.Name == "" {
		inv.Name = h.From
	}
	inv.Reply, inv.RepliedAt, inv.AddedAt = h.Reply, &h.ReceivedAt, now
	if d.invitee(inv.Email) == nil {
		d.putInvitee(inv)
		d.refill()
		if b := d.Booking; b != nil {
			d.queue("REQUEST", inv.Email, 0)
			if added := d.invitee(inv.Email); added.Essential {
				eff.Hold = append(eff.Hold, HoldRequest{BookingID: b.ID, Persons: []string{holdKey(*added)}, Start: b.Start, End: b.End, BestEffort: true})
			}
		}
	}
	d.record(now, by, "reply_admitted", h.From)
	eff.Detail = map[string]any{"from": h.From, "admitted": true}
	return eff, nil
}

// checkInID is the id of a person's check-in: one per person and
// discussion, so two people ticking the same attendee in at once make one
// check-in, not two.
func checkInID(email string) string {
	sum := sha256.Sum256([]byte(strings.ToLower(email)))
	return "ci-" + hex.EncodeToString(sum[:8])
}

// CheckIn records someone present (or, with PresentTo, leaving). A second
// check-in of the same person updates the first.
func (d *Discussion) CheckIn(c CheckIn, now time.Time) (Effects, error) {
	if d.Status != StatusBooked && d.Status != StatusInProgress {
		return Effects{}, Errorf(EPRECONDITION, "attendance is recorded for a booked or started discussion; this one is %s", d.Status)
	}
	now = now.UTC()
	if c.PresentFrom.IsZero() {
		c.PresentFrom = now
	}
	c.PresentFrom = c.PresentFrom.UTC()
	c.RecordedAt = now
	if c.Email != "" {
		c.Email = strings.ToLower(c.Email)
		c.ID = checkInID(c.Email)
		c.WalkIn = d.invitee(c.Email) == nil
		if i := slices.IndexFunc(d.CheckIns, func(o CheckIn) bool { return o.ID == c.ID }); i >= 0 {
			c.Rev = d.CheckIns[i].Rev
			d.CheckIns[i] = c
			d.record(now, c.RecordedBy, "check_in_updated", c.Name)
			return Effects{Detail: map[string]any{"check_in": c.ID}}, nil
		}
	}
	d.CheckIns = append(d.CheckIns, c)
	d.record(now, c.RecordedBy, "checked_in", c.Name+" ("+string(c.Agency)+")")
	return Effects{Detail: map[string]any{"check_in": c.ID, "walk_in": c.WalkIn}}, nil
}

// Start starts the discussion: only with the actual quorum q met, or with
// an override whose reason and missing requirements are recorded; and not
// more than margin before the booked time without an override reason (the
// follow-on deadlines count from when it actually starts).
func (d *Discussion) Start(q QuorumReport, override string, margin time.Duration, by Actor, now time.Time) (Effects, error) {
	if d.Status != StatusBooked {
		return Effects{}, Errorf(EPRECONDITION, "only a booked discussion can be started; this one is %s", d.Status)
	}
	now = now.UTC()
	early := d.Booking != nil && now.Before(d.Booking.Start.Add(-margin))
	if early && override == "" {
		return Effects{}, Errorf(EPRECONDITION, "this discussion is booked for %s; starting more than %s early needs override_reason",
			d.Booking.Start.Format(time.RFC3339), margin)
	}
	var missing []string
	for _, r := range q.Actual.Requirements {
		if r.Essential && r.Status != policy.StateSatisfied {
			missing = append(missing, r.Name+" ("+string(r.Status)+")")
		}
	}
	if q.Actual.KnowsChild.Required && !q.Actual.KnowsChild.Satisfied {
		missing = append(missing, "someone who knows the child")
	}
	if !q.Met && override == "" {
		return Effects{}, &Error{Code: EPRECONDITION, Message: q.Summary + " Start with override_reason to proceed without quorum."}
	}
	d.Status = StatusInProgress
	d.Started = &Start{At: now, By: by}
	d.Publish(HookStarted, "", now)
	detail := map[string]any{"quorum_met": q.Met}
	if early {
		d.Started.Override = override
		detail["early"], detail["override_reason"] = true, override
		d.record(now, by, "started_early", override)
	}
	if !q.Met {
		d.Started.Override, d.Started.Missing = override, missing
		detail["override_reason"], detail["missing"] = override, missing
		d.record(now, by, "started_without_quorum", override+" — missing: "+strings.Join(missing, "; "))
	} else {
		d.record(now, by, "started", q.Summary)
	}
	return Effects{Detail: detail}, nil
}

// Conclude records the outcome and the follow-on deadlines fos, and gives
// back whatever of the booked time is still to come. followUpID names the
// discussion convened to reconvene a deferred one.
func (d *Discussion) Conclude(o Outcome, fos []policy.FollowOn, followUpID string, now time.Time) (Effects, error) {
	if d.Status != StatusInProgress {
		return Effects{}, Errorf(EPRECONDITION, "the outcome is recorded after the discussion starts; this one is %s", d.Status)
	}
	if o.Outcome == policy.OutcomeDeferred && followUpID == "" {
		return Effects{}, Errorf(EINTERNAL, "a deferred outcome needs its follow-up discussion")
	}
	now = now.UTC()
	d.FollowOns = d.FollowOns[:0]
	for _, fo := range fos {
		d.FollowOns = append(d.FollowOns, FollowOn{FollowOn: fo})
	}
	o.RecordedAt = now
	d.Outcome = &o
	d.Status = StatusConcluded
	d.assignFollowOnOwners()
	var eff Effects
	if d.Booking != nil {
		eff.Release = append(eff.Release, HoldRelease{BookingID: d.Booking.ID})
	}
	d.record(now, o.RecordedBy, "outcome", string(o.Outcome))
	d.Publish(HookConcluded, "", now)
	eff.Detail = map[string]any{"outcome": o.Outcome, "follow_ons": len(d.FollowOns)}
	if followUpID != "" {
		d.FollowUpID = followUpID
		eff.Detail["follow_up"] = followUpID
		d.record(now, o.RecordedBy, "follow_up_convened", "reconvened as a linked discussion")
	}
	return eff, nil
}

// WatchFindings is what the deadline watch found due on a discussion.
type WatchFindings struct {
	AtRisk bool
	Left   time.Duration
	Breach string
	Remind []string
	// FollowOns are the findings on a concluded discussion's follow-ons
	// and record (followon.go).
	FollowOns FollowOnFindings
}

// Watch applies the deadline watch's findings: the at-risk flag, a breach,
// and reminders re-sending the invitation to whoever has not answered.
func (d *Discussion) Watch(w WatchFindings, now time.Time) (Effects, error) {
	system := Actor{Subject: "deadline-watch", Name: "Deadline watch"}
	now = now.UTC()
	detail := map[string]any{}
	if w.AtRisk {
		d.AtRisk = true
		detail["at_risk"] = true
		d.record(now, system, "at_risk", "not booked and "+w.Left.Round(time.Minute).String()+" left to the deadline")
		d.Notify(NoticeAtRisk, "", now)
	}
	if w.Breach != "" {
		d.Breach = &Breach{At: now, Reason: w.Breach, By: system}
		detail["breach"] = w.Breach
		d.record(now, system, "breached", w.Breach)
		d.Notify(NoticeBreached, "", now)
	}
	for _, email := range w.Remind {
		inv := d.invitee(email)
		if inv == nil {
			continue
		}
		inv.RemindedAt = &now
		d.queue("REQUEST", email, 1, func(m *PendingMessage) { m.Reminder = true })
		d.record(now, system, "reminder", "invitation re-sent to "+inv.Name)
	}
	if len(w.Remind) > 0 {
		detail["reminded"] = w.Remind
	}
	d.applyFollowOnFindings(w.FollowOns, now, detail)
	return Effects{Detail: detail}, nil
}

func zoneOr(z *time.Location) *time.Location {
	if z == nil {
		return time.UTC
	}
	return z
}

// SetNote sets business support's internal note: shown behind sign-in,
// never mailed.
func (d *Discussion) SetNote(note string, by Actor, now time.Time) (Effects, error) {
	note = strings.TrimSpace(note)
	if len(note) > 4000 {
		return Effects{}, Invalid("the note is not valid", FieldError{Field: "note", Message: "must be at most 4,000 characters"})
	}
	d.Note = note
	d.record(now.UTC(), by, "note_updated", "")
	return Effects{Detail: map[string]any{"length": len(note)}}, nil
}
