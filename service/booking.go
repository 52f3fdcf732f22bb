package service

import (
	"context"
	"errors"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/convene/convene/calendar"
	"github.com/convene/convene/invites"
	"github.com/convene/convene/service/policy"
)

// BookRequest fixes a discussion's time: a chosen start, or the earliest
// slot where every essential attendee is free.
type BookRequest struct {
	Start    time.Time
	Earliest bool
	// Location is a room or address; OnlineURL the link to join.
	Location  string
	OnlineURL string
	// OverrideReason allows a time after the statutory deadline; the
	// breach is recorded and audited.
	OverrideReason string
	// CounterID, on a reschedule, accepts that counter proposal.
	CounterID string
}

// staleHold is how old a hold must be before a hold whose discussion does
// not show the booking is taken for the debris of a crashed booking rather
// than one in flight.
const staleHold = 2 * time.Minute

// Book fixes the discussion's time and sends the invitations. Availability
// is checked again now (rules are enforced on booking, not only on
// display), a time after the deadline needs an override reason, and the
// chair's and attendees' time is held against other bookings: of two
// officers booking the same person into overlapping times, exactly one
// succeeds and the other is told which discussion holds the time.
func (a *App) Book(ctx context.Context, id string, req BookRequest) (*Discussion, error) {
	return a.book(ctx, id, req, false)
}

// Reschedule moves a booked discussion: an updated REQUEST with SEQUENCE+1
// to everyone, and every reply reset.
func (a *App) Reschedule(ctx context.Context, id string, req BookRequest) (*Discussion, error) {
	return a.book(ctx, id, req, true)
}

func (a *App) book(ctx context.Context, id string, req BookRequest, reschedule bool) (*Discussion, error) {
	p, err := require(ctx)
	if err != nil {
		return nil, err
	}
	d, err := a.Store.Discussion(ctx, id)
	if ErrorCode(err) == ENOTFOUND || err == nil && !canSee(p, d) {
		return nil, notFound(id)
	} else if err != nil {
		return nil, err
	}
	if !canManage(p, d) {
		return nil, Errorf(EFORBIDDEN, "only business support or the discussion's chair may book it")
	}
	if err := checkBookable(d, reschedule); err != nil {
		return nil, err
	}
	var f Fields
	if len(req.Location) > 300 {
		f.Add("location", "must be at most 300 characters")
	}
	if req.OnlineURL != "" {
		if u, err := url.Parse(req.OnlineURL); err != nil || u.Scheme != "https" || u.Host == "" {
			f.Add("online_url", "must be an https URL")
		}
	}
	// Both go into every invitation: refuse the case's own words now
	// rather than have every invitation fail to be written.
	if invites.CheckContent(d.sensitive(), req.Location) != nil {
		f.Add("location", "%s", notForInvitations)
	}
	if invites.CheckContent(d.sensitive(), req.OnlineURL) != nil {
		f.Add("online_url", "%s", notForInvitations)
	}
	if req.Earliest == !req.Start.IsZero() {
		f.Add("start", `give a start time, or "earliest": true`)
	}
	if req.CounterID != "" && !slices.ContainsFunc(d.Counters, func(c Counter) bool { return c.ID == req.CounterID && c.Status == "pending" }) {
		f.Add("counter_id", "no pending counter proposal with this id")
	}
	if err := f.Err("the booking is not valid"); err != nil {
		return nil, err
	}
	if reschedule && req.Location == "" && req.OnlineURL == "" && d.Booking != nil {
		req.Location, req.OnlineURL = d.Booking.Location, d.Booking.OnlineURL
	}

	now := a.Now()
	start := req.Start
	if req.Earliest {
		if start, err = a.earliestFree(ctx, d, now); err != nil {
			return nil, err
		}
	}
	end := start.Add(d.Duration)
	switch {
	case start.Before(now.Add(-time.Minute)):
		return nil, Invalid("the booking is not valid", FieldError{Field: "start", Message: "is in the past"})
	case end.After(d.Deadline) && strings.TrimSpace(req.OverrideReason) == "":
		return nil, &Error{Code: EINVALID, Message: "this time is after the statutory deadline",
			Fields: []FieldError{{Field: "start", Message: "ends after the deadline " + d.Deadline.In(a.zone()).Format(time.RFC3339) +
				" (" + d.Timescale.BindingRule.ID + ", " + d.Timescale.BindingRule.Citation + "); give override_reason to book it anyway"}}}
	}
	check, err := a.checkSlot(ctx, d, start, end)
	if err != nil {
		return nil, err
	}
	if len(check.busy) > 0 {
		return nil, &Error{Code: ECONFLICT, Message: "essential attendees are busy then: " + strings.Join(check.busy, ", "),
			Detail: map[string]any{"busy": check.busy}}
	}

	// Hold everyone's time. A reschedule gives up the old holds first, so
	// that a move by a quarter of an hour does not collide with itself,
	// and takes them back if the new time cannot be held.
	var old *Booking
	if reschedule {
		old = d.Booking
		if err := a.Store.ReleaseHolds(ctx, old.ID, ""); err != nil {
			return nil, err
		}
	}
	bookingID := a.NewID()
	if err := a.hold(ctx, d, bookingID, holdPersons(d), start, end); err != nil {
		if old != nil {
			if err := a.hold(ctx, d, old.ID, holdPersons(d), old.Start, old.End); err != nil {
				a.Log.ErrorContext(ctx, "old holds not restored after a failed reschedule", "discussion", d.ID, "err", err)
			}
		}
		return nil, err
	}

	action := "discussion.book"
	if reschedule {
		action = "discussion.reschedule"
	}
	saved, err := a.change(ctx, id, action, func(d *Discussion, p *Principal) (map[string]any, error) {
		if err := checkBookable(d, reschedule); err != nil {
			return nil, err
		}
		now := a.Now().UTC()
		actor := p.Actor()
		if reschedule {
			d.Sequence++
			for i := range d.Invitees {
				if inv := &d.Invitees[i]; inv.Reply != policy.ReplyDelegated {
					inv.Reply, inv.RepliedAt, inv.RemindedAt = policy.ReplyNeedsAction, nil, nil
				}
			}
		}
		d.Status = StatusBooked
		d.Booking = &Booking{ID: bookingID, Start: start.UTC(), End: end.UTC(), Location: req.Location, OnlineURL: req.OnlineURL,
			BookedBy: actor, BookedAt: now, Unknown: check.unknown}
		d.AtRisk = false
		detail := map[string]any{"start": start.UTC(), "end": end.UTC(), "sequence": d.Sequence}
		if end.After(d.Deadline) {
			d.Breach = &Breach{At: now, Reason: strings.TrimSpace(req.OverrideReason), Override: true, By: actor}
			detail["override_reason"] = d.Breach.Reason
			d.record(now, actor, "deadline_override", "booked after the deadline: "+d.Breach.Reason)
		} else if d.Breach != nil && d.Breach.Override {
			d.Breach = nil // moved back within the deadline
		}
		if req.CounterID != "" {
			for i := range d.Counters {
				if c := &d.Counters[i]; c.ID == req.CounterID {
					c.Status, c.DecidedBy, c.DecidedAt = "accepted", &actor, &now
					detail["counter_id"] = c.ID
				}
			}
		}
		when := start.In(a.zone()).Format("Mon 2 Jan 2006 15:04")
		if reschedule {
			d.record(now, actor, "rescheduled", "moved to "+when)
		} else {
			d.record(now, actor, "booked", when)
		}
		if len(check.unknown) > 0 {
			d.record(now, actor, "availability_unknown", "calendars not read at booking: "+strings.Join(check.unknown, ", "))
		}
		for _, inv := range d.current() {
			d.queue("REQUEST", inv.Email, 0)
		}
		return detail, nil
	})
	if err != nil {
		if rerr := a.Store.ReleaseHolds(context.WithoutCancel(ctx), bookingID, ""); rerr != nil {
			a.Log.ErrorContext(ctx, "holds not released after a failed booking", "booking", bookingID, "err", rerr)
		}
		return nil, err
	}
	return saved, nil
}

// checkBookable says whether d is in a state to be booked (or rescheduled).
func checkBookable(d *Discussion, reschedule bool) error {
	switch {
	case reschedule && d.Status != StatusBooked:
		return Errorf(EPRECONDITION, "only a booked discussion can be rescheduled; this one is %s", d.Status)
	case !reschedule && d.Status != StatusProposed:
		return Errorf(EPRECONDITION, "this discussion is %s; use reschedule to move a booked one", d.Status)
	}
	return nil
}

// earliestFree finds the earliest time before the deadline when every
// essential attendee is free, from their calendars as they are now.
func (a *App) earliestFree(ctx context.Context, d *Discussion, now time.Time) (time.Time, error) {
	earliest := now.Truncate(15 * time.Minute).Add(15 * time.Minute)
	if d.Deadline.Sub(earliest) < d.Duration {
		return time.Time{}, Errorf(ECONFLICT, "there is no time left before the deadline; choose a start and give override_reason")
	}
	avail, err := a.findSlots(ctx, a.attendees(ctx, d), slotWindow{Discussion: d.ID, Duration: d.Duration, Earliest: earliest,
		Deadline: d.Deadline, Region: d.Timescale.Region, MaxSlots: 3})
	if err != nil {
		return time.Time{}, err
	}
	// The earliest slot with every essential attendee known to be free;
	// failing that, the earliest where none is known to be busy (their
	// calendars could not be read, which the booking records).
	for _, sl := range avail.Slots {
		if !slices.ContainsFunc(sl.Busy, func(email string) bool { return slices.Contains(sl.Blockers, email) }) {
			return sl.Start, nil
		}
	}
	detail := map[string]any{"reason": avail.Reason}
	if len(avail.Slots) > 0 {
		detail["blockers"] = avail.Slots[0].Blockers
	}
	return time.Time{}, &Error{Code: ECONFLICT, Message: "no slot before the deadline has every essential attendee free (" + string(avail.Reason) + ")", Detail: detail}
}

// slotCheck is what a booking-time check of calendars found.
type slotCheck struct {
	busy, unknown []string
}

// checkSlot reads the attendees' calendars again for [start, end): the
// essential attendees who are busy, and everyone whose calendar could not be
// read. The discussion's own event, which attendees' calendar clients add
// when the invitation arrives, does not count as busy.
func (a *App) checkSlot(ctx context.Context, d *Discussion, start, end time.Time) (slotCheck, error) {
	ats := a.attendees(ctx, d)
	sources := make([]calendar.AttendeeSource, len(ats))
	for i, at := range ats {
		sources[i] = calendar.AttendeeSource{ID: at.Email, Source: a.source(at.Calendar),
			Options: calendar.BusyOptions{Zone: at.Zone, Email: at.Email, IgnoreUID: d.UID}}
	}
	slot := calendar.Interval{Start: start, End: end}
	var out slotCheck
	for i, b := range calendar.Availability(ctx, sources, slot, a.AvailabilityOptions) {
		if b.Availability == calendar.Unknown {
			out.unknown = append(out.unknown, ats[i].Email)
			continue
		}
		if ats[i].Essential && slices.ContainsFunc(b.Intervals(), slot.Overlaps) {
			out.busy = append(out.busy, ats[i].Email)
		}
	}
	return out, nil
}

// holdPersons are the keys whose time a booking holds: the chair and every
// essential invitee who has not declined, by directory id or email. An
// advisory attendee's other booking must not stop a statutory discussion,
// so their time is not held (their clash shows in their calendar instead).
func holdPersons(d *Discussion) []string {
	var out []string
	for _, inv := range d.current() {
		if !inv.Essential && !inv.Chair || inv.Reply == policy.ReplyDeclined || inv.Reply == policy.ReplyDelegated {
			continue
		}
		out = append(out, holdKey(inv))
	}
	return out
}

func holdKey(inv Invitee) string {
	if inv.PersonID != "" {
		return inv.PersonID
	}
	return inv.Email
}

// hold takes the quarter-hours of [start, end) for each person, all or
// none. A hold left by a booking that crashed before it was saved is
// cleared; a live one is a conflict naming its discussion.
func (a *App) hold(ctx context.Context, d *Discussion, bookingID string, persons []string, start, end time.Time) error {
	now := a.Now().UTC()
	var holds []Hold
	for _, p := range persons {
		holds = append(holds, holdsFor(p, d.ID, bookingID, start, end, now)...)
	}
	for attempt := 0; ; attempt++ {
		err := a.Store.HoldTime(ctx, holds)
		var se *Error
		if err == nil || !errors.As(err, &se) || se.Code != ECONFLICT || attempt >= 4 {
			return err
		}
		if se.Conflict == nil || se.Conflict.Hold == nil {
			continue // released meanwhile
		}
		taken := *se.Conflict.Hold
		if a.holdIsStale(ctx, taken, now) {
			// A dead booking's holds go together, not one collision at a
			// time.
			if err := a.Store.ReleaseHolds(ctx, taken.BookingID, ""); err != nil {
				return err
			}
			continue
		}
		who := taken.Person
		for _, inv := range d.Invitees {
			if holdKey(inv) == taken.Person {
				who = inv.Name
			}
		}
		return &Error{Code: ECONFLICT,
			Message: who + " is already booked at " + taken.Start.In(a.zone()).Format("15:04 on 2 Jan") + " for another discussion",
			Detail:  map[string]any{"conflicting_discussion": taken.DiscussionID}}
	}
}

// holdIsStale reports whether a hold belongs to no live booking: its
// discussion does not show the booking (or is over), and it is old enough
// not to be a booking still being saved.
func (a *App) holdIsStale(ctx context.Context, h Hold, now time.Time) bool {
	if now.Sub(h.CreatedAt) < staleHold {
		return false
	}
	other, err := a.Store.Discussion(ctx, h.DiscussionID)
	if ErrorCode(err) == ENOTFOUND {
		return true
	} else if err != nil {
		return false
	}
	live := other.Booking != nil && other.Booking.ID == h.BookingID &&
		(other.Status == StatusBooked || other.Status == StatusInProgress)
	return !live
}

// Cancel calls the discussion off: a CANCEL to everyone invited, and their
// time released.
func (a *App) Cancel(ctx context.Context, id, reason string) (*Discussion, error) {
	reason = strings.TrimSpace(reason)
	if reason == "" || len(reason) > 500 {
		return nil, Invalid("the cancellation is not valid", FieldError{Field: "reason", Message: "give a reason of up to 500 characters"})
	}
	var booking string
	d, err := a.change(ctx, id, "discussion.cancel", func(d *Discussion, p *Principal) (map[string]any, error) {
		if !canManage(p, d) {
			return nil, Errorf(EFORBIDDEN, "only business support or the discussion's chair may cancel it")
		}
		if !d.live() {
			return nil, Errorf(EPRECONDITION, "this discussion is %s and cannot be cancelled", d.Status)
		}
		now := a.Now().UTC()
		if d.Booking != nil {
			booking = d.Booking.ID
			d.Sequence++
			for _, inv := range d.current() {
				d.queue("CANCEL", inv.Email, 0, func(m *PendingMessage) { m.Comment = "This discussion has been cancelled." })
			}
		}
		d.Status = StatusCancelled
		d.record(now, p.Actor(), "cancelled", reason)
		return map[string]any{"reason": reason}, nil
	})
	if err != nil {
		return nil, err
	}
	if booking != "" {
		if err := a.Store.ReleaseHolds(ctx, booking, ""); err != nil {
			a.Log.ErrorContext(ctx, "holds not released after cancel", "discussion", id, "err", err)
		}
	}
	return d, nil
}

// AddAttendee invites someone else from the directory; if the discussion
// is booked they are sent the invitation and their time is held.
func (a *App) AddAttendee(ctx context.Context, id string, in InviteeRequest) (*Discussion, error) {
	if _, err := require(ctx); err != nil {
		return nil, err
	}
	person, err := a.Store.Person(ctx, in.PersonID)
	if ErrorCode(err) == ENOTFOUND {
		return nil, Invalid("the attendee is not valid", FieldError{Field: "person_id", Message: "no such person in the directory"})
	} else if err != nil {
		return nil, err
	}
	if !person.Active {
		return nil, Invalid("the attendee is not valid", FieldError{Field: "person_id", Message: person.Name + " is not active in the directory"})
	}
	profile, err := a.profile("")
	if err != nil {
		return nil, err
	}
	var held []string // bookings this call holds the person's time for
	d, err := a.change(ctx, id, "discussion.attendee.add", func(d *Discussion, p *Principal) (map[string]any, error) {
		if !canManage(p, d) {
			return nil, Errorf(EFORBIDDEN, "only business support or the discussion's chair may change who is invited")
		}
		if !d.live() {
			return nil, Errorf(EPRECONDITION, "this discussion is %s", d.Status)
		}
		if d.invitee(person.Email) != nil {
			return nil, Errorf(ECONFLICT, "%s is already invited", person.Name)
		}
		if pf, err := a.profile(d.Timescale.Profile); err == nil {
			profile = pf
		}
		now := a.Now().UTC()
		d.Invitees = append(d.Invitees, Invitee{
			PersonID: person.ID, Name: person.Name, Email: person.Email, Agency: person.Agency, Role: person.Role,
			Seniority: person.Seniority, SeniorityLabel: profile.SeniorityLabel(person.Agency, person.Seniority),
			KnowsChild: in.KnowsChild, Reply: policy.ReplyNeedsAction, AddedAt: now,
		})
		d.refill()
		if b := d.Booking; b != nil {
			// An essential newcomer's time is held before saving (once per
			// booking, should the change be re-applied on a newer version).
			if d.invitee(person.Email).Essential && !slices.Contains(held, b.ID) {
				if err := a.hold(ctx, d, b.ID, []string{person.ID}, b.Start, b.End); err != nil {
					return nil, err
				}
				held = append(held, b.ID)
			}
			d.queue("REQUEST", person.Email, 0)
		}
		d.record(now, p.Actor(), "attendee_added", person.Name+" ("+string(person.Agency)+")")
		return map[string]any{"person_id": person.ID}, nil
	})
	// Holds taken for a booking the saved discussion does not have (or
	// for a change that was not saved) belong to nothing: release them.
	for _, b := range held {
		if err != nil || d.Booking == nil || d.Booking.ID != b {
			if rerr := a.Store.ReleaseHolds(context.WithoutCancel(ctx), b, person.ID); rerr != nil {
				a.Log.ErrorContext(ctx, "holds not released", "booking", b, "err", rerr)
			}
		}
	}
	return d, err
}

// RemoveAttendee withdraws someone's invitation: they are sent a CANCEL
// that removes the meeting from their calendar only, the others an updated
// invitation without them, and their time is released.
func (a *App) RemoveAttendee(ctx context.Context, id, email string) (*Discussion, error) {
	email = strings.ToLower(strings.TrimSpace(email))
	var released, key string
	d, err := a.change(ctx, id, "discussion.attendee.remove", func(d *Discussion, p *Principal) (map[string]any, error) {
		if !canManage(p, d) {
			return nil, Errorf(EFORBIDDEN, "only business support or the discussion's chair may change who is invited")
		}
		if !d.live() {
			return nil, Errorf(EPRECONDITION, "this discussion is %s", d.Status)
		}
		inv := d.invitee(email)
		if inv == nil {
			return nil, Errorf(ENOTFOUND, "%s is not invited", email)
		}
		if inv.Chair {
			return nil, Errorf(EPRECONDITION, "the chair cannot be removed; cancel or convene again with another chair")
		}
		now := a.Now().UTC()
		inv.Removed = true
		key = holdKey(*inv)
		if d.Booking != nil {
			// As invites.Invitation.Uninvite asks: a new revision, a CANCEL
			// naming only them, and the others an updated REQUEST without
			// them. Replies stand: the time has not changed.
			released = d.Booking.ID
			d.Sequence++
			d.queue("CANCEL", inv.Email, 0, func(m *PendingMessage) { m.Uninvite = true })
			for _, other := range d.current() {
				d.queue("REQUEST", other.Email, 0)
			}
		}
		d.refill()
		d.record(now, p.Actor(), "attendee_removed", inv.Name)
		return map[string]any{"email": email}, nil
	})
	if err == nil && released != "" {
		if err := a.Store.ReleaseHolds(ctx, released, key); err != nil {
			a.Log.ErrorContext(ctx, "holds not released after removing an attendee", "discussion", id, "err", err)
		}
	}
	return d, err
}

// refill recomputes who fills which requirement after the invitation list
// changed.
func (d *Discussion) refill() {
	q := quorumOf(d, d.Attendance.Requirements, policy.QuorumActual)
	d.Unfilled = nil
	for i := range d.Invitees {
		d.Invitees[i].Requirements = nil
		d.Invitees[i].Essential = d.Invitees[i].Chair
	}
	for _, st := range q.q.Requirements {
		if st.Status != policy.StateSatisfied {
			d.Unfilled = append(d.Unfilled, st.ID)
			continue
		}
		if inv := d.inviteeByPersonID(st.SatisfiedBy.PersonID); inv != nil {
			inv.Requirements = append(inv.Requirements, st.ID)
			inv.Essential = inv.Essential || st.Essential
		}
	}
}

// DeclineCounter refuses an attendee's proposed time: they are sent a
// DECLINECOUNTER and the booking stands.
func (a *App) DeclineCounter(ctx context.Context, id, counterID, comment string) (*Discussion, error) {
	if len(comment) > 500 {
		return nil, Invalid("the decision is not valid", FieldError{Field: "comment", Message: "must be at most 500 characters"})
	}
	return a.change(ctx, id, "discussion.counter.decline", func(d *Discussion, p *Principal) (map[string]any, error) {
		if !canManage(p, d) {
			return nil, Errorf(EFORBIDDEN, "only business support or the discussion's chair may decide on proposals")
		}
		now := a.Now().UTC()
		actor := p.Actor()
		for i := range d.Counters {
			c := &d.Counters[i]
			if c.ID != counterID {
				continue
			}
			if c.Status != "pending" {
				return nil, Errorf(EPRECONDITION, "this proposal was already %s", c.Status)
			}
			c.Status, c.DecidedBy, c.DecidedAt = "declined", &actor, &now
			if d.invitee(c.From) != nil && d.Booking != nil {
				d.queue("DECLINECOUNTER", c.From, i, func(m *PendingMessage) { m.Comment = comment })
			}
			d.record(now, actor, "counter_declined", c.From)
			return map[string]any{"counter_id": c.ID}, nil
		}
		return nil, Errorf(ENOTFOUND, "no counter proposal %s", counterID)
	})
}

// AcceptCounter moves the discussion to an attendee's proposed time: a
// reschedule. A proposal after the deadline needs an override reason, as
// any booking does.
func (a *App) AcceptCounter(ctx context.Context, id, counterID, overrideReason string) (*Discussion, error) {
	d, err := a.Discussion(ctx, id)
	if err != nil {
		return nil, err
	}
	for _, c := range d.Counters {
		if c.ID == counterID {
			if c.Status != "pending" {
				return nil, Errorf(EPRECONDITION, "this proposal was already %s", c.Status)
			}
			return a.Reschedule(ctx, id, BookRequest{Start: c.Start, CounterID: c.ID, OverrideReason: overrideReason})
		}
	}
	return nil, Errorf(ENOTFOUND, "no counter proposal %s", counterID)
}
