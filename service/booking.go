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
	// VenueID is where it is held, from the directory of venues;
	// OnlineURL the link to join, on one of the configured meeting hosts.
	VenueID   string
	OnlineURL string
	// Location is the venue's, filled from VenueID.
	Location string
	// OverrideReason allows a time after the statutory deadline; the
	// breach is recorded and audited.
	OverrideReason string
	// CounterID, on a reschedule, accepts that counter proposal.
	CounterID string
	// ConfirmUnknown lists the attendees whose calendars could not be read
	// that business support confirms booking without: a booking where
	// someone's availability is unknown is made only once they are named.
	ConfirmUnknown []string
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
	// Both go into every invitation: a venue from the directory, and a
	// join link on a configured meeting host with none of the case's
	// words in it.
	req.Location = ""
	if req.VenueID != "" {
		v, err := a.Store.Venue(ctx, req.VenueID)
		switch {
		case ErrorCode(err) == ENOTFOUND || err == nil && !v.Active:
			f.Add("venue_id", "no such venue in the directory of venues")
		case err != nil:
			return nil, err
		default:
			req.Location = v.Location()
		}
	}
	if req.OnlineURL != "" {
		if msg := a.checkOnlineURL(req.OnlineURL, d); msg != "" {
			f.Add("online_url", "%s", msg)
		}
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
	check, err := a.checkSlot(ctx, d, start, end)
	if err != nil {
		return nil, err
	}
	if len(check.busy) > 0 {
		return nil, &Error{Code: ECONFLICT, Message: "essential attendees are busy then: " + strings.Join(check.busy, ", ")}
	}
	var unconfirmed []string
	for _, email := range check.unknown {
		if !slices.ContainsFunc(req.ConfirmUnknown, func(c string) bool { return strings.EqualFold(strings.TrimSpace(c), email) }) {
			unconfirmed = append(unconfirmed, email)
		}
	}
	if len(unconfirmed) > 0 {
		return nil, Invalid("some attendees' calendars could not be read, so whether they are free is unknown",
			FieldError{Field: "confirm_unknown", Message: "confirm booking without knowing whether " + strings.Join(unconfirmed, ", ") +
				" are free by listing them in confirm_unknown"})
	}
	action := "discussion.book"
	if reschedule {
		action = "discussion.reschedule"
	}
	choice := BookingChoice{BookingID: a.NewID(), Start: start, End: end, Location: req.Location, OnlineURL: req.OnlineURL,
		OverrideReason: req.OverrideReason, CounterID: req.CounterID, Unknown: check.unknown, Reschedule: reschedule, Zone: a.zone()}
	return a.change(ctx, id, action, func(d *Discussion, p *Principal) (Effects, error) {
		if !canManage(p, d) {
			return Effects{}, Errorf(EFORBIDDEN, "only business support or the discussion's chair may book it")
		}
		return d.Book(choice, p.Actor(), a.Now())
	})
}

// checkOnlineURL says what is wrong with a join link, or "": it must be
// https on one of the configured meeting hosts (or a subdomain), with no
// credentials in it and none of the case's words.
func (a *App) checkOnlineURL(raw string, d *Discussion) string {
	if _, err := invites.CheckOnlineURL(raw); err != nil || len(raw) > 500 {
		return "must be an https link of at most 500 characters, with no credentials, spaces or quotes"
	}
	u, _ := url.Parse(raw)
	host := strings.ToLower(u.Hostname())
	if !slices.ContainsFunc(a.OnlineMeetingHosts, func(h string) bool {
		h = strings.ToLower(h)
		return host == h || strings.HasSuffix(host, "."+h)
	}) {
		return "must be a link on one of the meeting services this area uses: " + strings.Join(a.OnlineMeetingHosts, ", ")
	}
	if invites.CheckContent(append(d.sensitive(), d.CaseReference), raw) != nil {
		return notForInvitations
	}
	return ""
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
	msg := "no slot before the deadline has every essential attendee free (" + string(avail.Reason) + ")"
	if len(avail.Slots) > 0 && len(avail.Slots[0].Blockers) > 0 {
		msg += "; busy at the earliest: " + strings.Join(avail.Slots[0].Blockers, ", ")
	}
	return time.Time{}, &Error{Code: ECONFLICT, Message: msg}
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
			Message: who + " is already booked at " + taken.Start.In(a.zone()).Format("15:04 on 2 Jan") + " for another discussion"}
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
	return a.change(ctx, id, "discussion.cancel", func(d *Discussion, p *Principal) (Effects, error) {
		if !canManage(p, d) {
			return Effects{}, Errorf(EFORBIDDEN, "only business support or the discussion's chair may cancel it")
		}
		return d.Cancel(reason, p.Actor(), a.Now())
	})
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
	return a.change(ctx, id, "discussion.attendee.add", func(d *Discussion, p *Principal) (Effects, error) {
		if !canManage(p, d) {
			return Effects{}, Errorf(EFORBIDDEN, "only business support or the discussion's chair may change who is invited")
		}
		if pf, err := a.profile(d.Timescale.Profile); err == nil {
			profile = pf
		}
		inv := inviteeOf(person, profile)
		inv.KnowsChild = in.KnowsChild
		return d.AddInvitee(inv, p.Actor(), a.Now())
	})
}

// SetNote sets the discussion's internal note (business support or its
// chair): it stays inside Convene.
func (a *App) SetNote(ctx context.Context, id, note string) (*Discussion, error) {
	return a.change(ctx, id, "discussion.note", func(d *Discussion, p *Principal) (Effects, error) {
		if !canManage(p, d) {
			return Effects{}, Errorf(EFORBIDDEN, "only business support or the discussion's chair may write its note")
		}
		return d.SetNote(note, p.Actor(), a.Now())
	})
}

// inviteeOf is a directory entry as an invitee, seniority labelled by the
// profile's scale.
func inviteeOf(p *Person, profile *policy.Profile) Invitee {
	return Invitee{PersonID: p.ID, Name: p.Name, Email: p.Email, Agency: p.Agency, Role: p.Role,
		Seniority: p.Seniority, SeniorityLabel: profile.SeniorityLabel(p.Agency, p.Seniority), Expertise: p.Expertise}
}

// RemoveAttendee withdraws someone's invitation: they are sent a CANCEL
// that removes the meeting from their calendar only, the others an updated
// invitation without them, and their time is released.
func (a *App) RemoveAttendee(ctx context.Context, id, email string) (*Discussion, error) {
	email = strings.ToLower(strings.TrimSpace(email))
	return a.change(ctx, id, "discussion.attendee.remove", func(d *Discussion, p *Principal) (Effects, error) {
		if !canManage(p, d) {
			return Effects{}, Errorf(EFORBIDDEN, "only business support or the discussion's chair may change who is invited")
		}
		return d.RemoveInvitee(email, p.Actor(), a.Now())
	})
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
	return a.change(ctx, id, "discussion.counter.decline", func(d *Discussion, p *Principal) (Effects, error) {
		if !canManage(p, d) {
			return Effects{}, Errorf(EFORBIDDEN, "only business support or the discussion's chair may decide on proposals")
		}
		return d.DeclineCounter(counterID, comment, p.Actor(), a.Now())
	})
}

// AcceptCounter moves the discussion to an attendee's proposed time: a
// reschedule. A proposal after the deadline needs an override reason, and
// attendees whose calendars cannot be read must be confirmed
// (confirmUnknown), as for any booking.
func (a *App) AcceptCounter(ctx context.Context, id, counterID, overrideReason string, confirmUnknown []string) (*Discussion, error) {
	d, err := a.Discussion(ctx, id)
	if err != nil {
		return nil, err
	}
	for _, c := range d.Counters {
		if c.ID == counterID {
			if c.Status != "pending" {
				return nil, Errorf(EPRECONDITION, "this proposal was already %s", c.Status)
			}
			return a.Reschedule(ctx, id, BookRequest{Start: c.Start, CounterID: c.ID, OverrideReason: overrideReason, ConfirmUnknown: confirmUnknown})
		}
	}
	return nil, Errorf(ENOTFOUND, "no counter proposal %s", counterID)
}
