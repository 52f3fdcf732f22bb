package service

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/convene/convene/calendar"
)

// AvailabilityRequest asks when a set of people are free: the slot finder
// over their real calendars. The convene flow asks the same question.
type AvailabilityRequest struct {
	Attendees                 []AvailabilityAttendee
	Duration                  time.Duration
	Earliest, Deadline        time.Time
	Region                    calendar.Region // "" means the area's
	Granularity               time.Duration   // 0 means 15 minutes
	BufferBefore, BufferAfter time.Duration
	OutOfHours                bool
	MaxSlots                  int
}

// AvailabilityAttendee is someone from the directory (PersonID) or an
// ad-hoc calendar (Email, Name, Calendar).
type AvailabilityAttendee struct {
	PersonID     string
	Email, Name  string
	Calendar     *CalendarSource
	Essential    bool
	WorkingHours *calendar.WorkingHours
	TimeZone     string
}

// Availability is the answer: ranked slots, and what was learnt about each
// attendee's calendar.
type Availability struct {
	Slots      []calendar.Slot
	Attendees  []AttendeeAvailability
	Reason     calendar.SlotReason
	OutOfHours bool
}

// AttendeeAvailability says whether an attendee's busy time is known, and
// if not why not.
type AttendeeAvailability struct {
	PersonID       string
	Email, Name    string
	Essential      bool
	Availability   calendar.AvailabilityStatus
	Reason         calendar.Reason
	SkippedObjects int
}

// Limits on an availability search, so that one request cannot ask for
// unbounded work.
const (
	maxAttendees  = 50
	maxWindow     = 31 * 24 * time.Hour
	minDuration   = 10 * time.Minute
	maxDuration   = 10 * time.Hour
	maxBuffer     = 2 * time.Hour
	maxSlotsLimit = 50
)

// CheckAvailability runs the slot finder over directory people or ad-hoc
// calendars. Business support and chairs only.
func (a *App) CheckAvailability(ctx context.Context, req AvailabilityRequest) (*Availability, error) {
	if _, err := require(ctx, RoleBusinessSupport, RoleChair); err != nil {
		return nil, err
	}
	var f Fields
	switch {
	case len(req.Attendees) == 0:
		f.Add("attendees", "list at least one attendee")
	case len(req.Attendees) > maxAttendees:
		f.Add("attendees", "at most %d attendees", maxAttendees)
	}
	if req.Region != "" && !req.Region.Valid() {
		f.Add("region", "unknown region %q (want england-and-wales, scotland or northern-ireland)", req.Region)
	}
	attendees := make([]attendee, 0, len(req.Attendees))
	for i, at := range req.Attendees {
		field := "attendees[" + itoa(i) + "]"
		resolved, err := a.resolveAttendee(ctx, at, field, &f)
		if err != nil {
			return nil, err
		}
		if resolved != nil {
			attendees = append(attendees, *resolved)
		}
	}
	if err := f.Err("the availability request is not valid"); err != nil {
		return nil, err
	}
	who := make([]string, len(attendees))
	for i, at := range attendees {
		who[i] = at.Email
	}
	// Every calendar read on someone's behalf is audited.
	if err := a.audit(ctx, "availability.check", "availability", map[string]any{"attendees": who}); err != nil {
		return nil, err
	}
	return a.findSlots(ctx, attendees, slotWindow{
		Duration: req.Duration, Earliest: req.Earliest, Deadline: req.Deadline, Region: req.Region,
		Granularity: req.Granularity, BufferBefore: req.BufferBefore, BufferAfter: req.BufferAfter,
		OutOfHours: req.OutOfHours, MaxSlots: req.MaxSlots,
	})
}

// attendee is someone whose calendar a search reads.
type attendee struct {
	PersonID     string
	Email, Name  string
	Calendar     *CalendarSource
	Essential    bool
	WorkingHours calendar.WorkingHours
	Zone         *time.Location
}

// resolveAttendee looks a directory person up, or checks an ad-hoc one.
func (a *App) resolveAttendee(ctx context.Context, in AvailabilityAttendee, field string, f *Fields) (*attendee, error) {
	out := &attendee{Essential: in.Essential, Zone: a.zone()}
	if in.PersonID != "" {
		if in.Email != "" || in.Calendar != nil {
			f.Add(field, "give either person_id or email and calendar, not both")
			return nil, nil
		}
		p, err := a.Store.Person(ctx, in.PersonID)
		if ErrorCode(err) == ENOTFOUND {
			f.Add(field+".person_id", "no such person in the directory")
			return nil, nil
		} else if err != nil {
			return nil, err
		}
		out.PersonID, out.Email, out.Name, out.Calendar, out.WorkingHours = p.ID, p.Email, p.Name, p.Calendar, p.WorkingHours
		if loc, err := time.LoadLocation(p.TimeZone); err == nil {
			out.Zone = loc
		}
	} else {
		out.Email, out.Name = strings.ToLower(strings.TrimSpace(in.Email)), in.Name
		if out.Email == "" {
			f.Add(field, "give person_id, or email and calendar")
			return nil, nil
		}
		if in.Calendar != nil {
			in.Calendar.validate(f, field+".calendar", a.CredentialsDir)
			// The service's calendar credentials are configured by an
			// administrator for one server each: an ad-hoc URL never
			// gets one, or anyone could have them sent anywhere.
			if in.Calendar.CredentialRef != "" {
				f.Add(field+".calendar.credential_ref", "an ad-hoc calendar cannot use the service's credentials: add the person, with their calendar, to the directory")
			}
		}
		out.Calendar = in.Calendar
		out.WorkingHours = calendar.DefaultWorkingHours
	}
	if in.WorkingHours != nil {
		validateWorkingHours(*in.WorkingHours, f, field+".working_hours")
		out.WorkingHours = *in.WorkingHours
	}
	if in.TimeZone != "" {
		loc, err := time.LoadLocation(in.TimeZone)
		if err != nil || in.TimeZone == "Local" {
			f.Add(field+".time_zone", "must be an IANA time zone such as Europe/London")
		} else {
			out.Zone = loc
		}
	}
	return out, nil
}

// slotWindow is what a search looks for, apart from who.
type slotWindow struct {
	// Discussion is the discussion being booked, whose own holds are not
	// busy time; "" for a plain availability search.
	Discussion                string
	Duration                  time.Duration
	Earliest, Deadline        time.Time
	Region                    calendar.Region
	Granularity               time.Duration
	BufferBefore, BufferAfter time.Duration
	OutOfHours                bool
	MaxSlots                  int
}

func (w slotWindow) validate(f *Fields) {
	if w.Duration < minDuration || w.Duration > maxDuration {
		f.Add("duration_minutes", "must be from %d to %d minutes", int(minDuration.Minutes()), int(maxDuration.Minutes()))
	}
	if w.Earliest.IsZero() {
		f.Add("earliest", "is required")
	}
	if w.Deadline.IsZero() {
		f.Add("deadline", "is required")
	}
	if !w.Earliest.IsZero() && !w.Deadline.IsZero() {
		if !w.Deadline.After(w.Earliest) {
			f.Add("deadline", "must be after earliest")
		} else if w.Deadline.Sub(w.Earliest) > maxWindow {
			f.Add("deadline", "the window may be at most %d days", int(maxWindow.Hours()/24))
		}
	}
	if w.Granularity != 0 && (w.Granularity < 5*time.Minute || w.Granularity > 2*time.Hour) {
		f.Add("granularity_minutes", "must be from 5 to 120 minutes")
	}
	if w.BufferBefore < 0 || w.BufferBefore > maxBuffer {
		f.Add("buffer_before_minutes", "must be from 0 to %d minutes", int(maxBuffer.Minutes()))
	}
	if w.BufferAfter < 0 || w.BufferAfter > maxBuffer {
		f.Add("buffer_after_minutes", "must be from 0 to %d minutes", int(maxBuffer.Minutes()))
	}
	if w.MaxSlots < 0 || w.MaxSlots > maxSlotsLimit {
		f.Add("max_slots", "must be from 1 to %d", maxSlotsLimit)
	}
}

// findSlots reads every attendee's calendar in parallel (each bounded, the
// whole within the availability budget) and ranks slots. An attendee whose
// calendar cannot be read is unknown with the reason, never free, and busy
// whenever Convene holds their time.
func (a *App) findSlots(ctx context.Context, attendees []attendee, w slotWindow) (*Availability, error) {
	var f Fields
	w.validate(&f)
	if err := f.Err("the availability request is not valid"); err != nil {
		return nil, err
	}
	region := w.Region
	if region == "" {
		region = a.Region
	}
	window := calendar.Interval{Start: w.Earliest.Add(-w.BufferBefore), End: w.Deadline.Add(w.BufferAfter)}
	sources := make([]calendar.AttendeeSource, len(attendees))
	for i, at := range attendees {
		sources[i] = calendar.AttendeeSource{ID: at.Email, Options: calendar.BusyOptions{Zone: at.Zone, Email: at.Email}}
		if src := a.source(at.Calendar); src != nil {
			sources[i].Source = src
		}
	}
	busy := calendar.Availability(ctx, sources, window, a.AvailabilityOptions)
	held, err := a.heldTime(ctx, attendees, window, w.Discussion)
	if err != nil {
		return nil, err
	}
	query := calendar.SlotQuery{
		Duration: w.Duration, Earliest: w.Earliest, Deadline: w.Deadline, Granularity: w.Granularity,
		BufferBefore: w.BufferBefore, BufferAfter: w.BufferAfter, OutOfHours: w.OutOfHours,
		Zone: a.zone(), MaxSlots: w.MaxSlots,
	}
	if a.Calendar != nil {
		query.IsWorkingDay = func(t time.Time) bool { return a.Calendar.IsWorkingDay(region, t) }
	}
	out := &Availability{Attendees: make([]AttendeeAvailability, len(attendees))}
	for i, at := range attendees {
		b := busy[i]
		wh := at.WorkingHours
		query.Attendees = append(query.Attendees, calendar.Attendee{
			ID: at.Email, Essential: at.Essential, WorkingHours: &wh, Zone: at.Zone,
			Availability: b.Availability, Busy: append(b.Intervals(), held[at.holdKey()]...),
		})
		out.Attendees[i] = AttendeeAvailability{PersonID: at.PersonID, Email: at.Email, Name: at.Name, Essential: at.Essential,
			Availability: b.Availability, Reason: b.Reason, SkippedObjects: b.SkippedObjects}
		if b.Err != nil {
			a.Log.WarnContext(ctx, "calendar not read", "attendee", at.Email, "reason", b.Reason, "err", b.Err)
		}
	}
	res, err := calendar.FindSlots(query)
	if err != nil {
		return nil, Invalid(err.Error())
	}
	for i := range res.Slots {
		res.Slots[i].Start, res.Slots[i].End = res.Slots[i].Start.In(a.zone()), res.Slots[i].End.In(a.zone())
	}
	out.Slots, out.Reason, out.OutOfHours = res.Slots, res.Reason, res.OutOfHours
	return out, nil
}

// heldTime is the time Convene itself has booked the attendees into for
// other discussions: busy whether or not their calendars show it yet (an
// invitation not yet accepted is in nobody's calendar), or can be read at
// all.
func (a *App) heldTime(ctx context.Context, attendees []attendee, window calendar.Interval, exclude string) (map[string][]calendar.Interval, error) {
	keys := make([]string, 0, len(attendees))
	for _, at := range attendees {
		keys = append(keys, at.holdKey())
	}
	holds, err := a.Store.Holds(ctx, keys, window.Start.Add(-holdGranule), window.End)
	if err != nil {
		return nil, err
	}
	out := map[string][]calendar.Interval{}
	now := a.Now().UTC()
	dead, err := a.deadBookings(ctx, holds, exclude, now)
	if err != nil {
		return nil, err
	}
	for _, h := range holds {
		if h.DiscussionID == exclude || dead[h.BookingID] {
			continue
		}
		out[h.Person] = append(out[h.Person], calendar.Interval{Start: h.Start, End: h.Start.Add(holdGranule)})
	}
	return out, nil
}

// deadBookings finds the bookings among holds that no discussion shows any
// more (a booking that crashed before it was saved, or was moved or ended
// and not released), reading their discussions in one go, and releases
// their holds: a dead booking's holds block nobody and never count as busy.
// Holds younger than staleHold may be a booking still being saved.
func (a *App) deadBookings(ctx context.Context, holds []Hold, exclude string, now time.Time) (map[string]bool, error) {
	booking := map[string]string{} // booking id → discussion id
	var ids []string
	for _, h := range holds {
		if h.DiscussionID == exclude || now.Sub(h.CreatedAt) < staleHold {
			continue
		}
		if _, seen := booking[h.BookingID]; !seen {
			booking[h.BookingID] = h.DiscussionID
			if !slices.Contains(ids, h.DiscussionID) {
				ids = append(ids, h.DiscussionID)
			}
		}
	}
	dead := map[string]bool{}
	if len(ids) == 0 {
		return dead, nil
	}
	live := map[string]string{} // discussion id → its live booking id
	for start := 0; start < len(ids); start += 200 {
		ds, err := a.Store.Discussions(ctx, DiscussionFilter{IDs: ids[start:min(start+200, len(ids))], Summary: true})
		if err != nil {
			return nil, err
		}
		for _, d := range ds {
			if d.Booking != nil && (d.Status == StatusBooked || d.Status == StatusInProgress) {
				live[d.ID] = d.Booking.ID
			}
		}
	}
	for b, discussion := range booking {
		if live[discussion] == b {
			continue
		}
		dead[b] = true
		if err := a.Store.ReleaseHolds(ctx, b, ""); err != nil {
			a.Log.WarnContext(ctx, "dead booking's holds not released", "booking", b, "err", err)
		}
	}
	return dead, nil
}

func (at attendee) holdKey() string {
	if at.PersonID != "" {
		return at.PersonID
	}
	return at.Email
}

// source builds the calendar source for a directory or ad-hoc entry, or nil
// (unknown availability) when there is none or its credential reference is
// not one the service may resolve.
func (a *App) source(c *CalendarSource) calendar.Source {
	if c == nil {
		return nil
	}
	if c.CredentialRef != "" && CheckCredentialRef(c.CredentialRef, a.CredentialsDir) != nil {
		return refusedCredential{}
	}
	src, err := a.sources.Get(calendar.SourceSpec{Type: c.Type, URL: c.URL, CredentialRef: c.CredentialRef, CredentialOrigin: c.CredentialOrigin},
		a.credentialEnv, a.SourceOptions)
	if err != nil {
		return nil
	}
	return src
}

// credentialEnv is the environment as credential references see it: only
// CONVENE_CRED_* variables.
func (a *App) credentialEnv(name string) string {
	if a.Getenv == nil || !credEnvName.MatchString(name) {
		return ""
	}
	return a.Getenv(name)
}

// refusedCredential is a source whose credential reference the service will
// not resolve: its attendee shows as unknown, with the reason.
type refusedCredential struct{}

func (refusedCredential) Busy(context.Context, calendar.Interval, calendar.BusyOptions) (calendar.BusyResult, error) {
	return calendar.BusyResult{}, &calendar.SourceError{Reason: calendar.ReasonNoCredential, Err: errRefusedCredential}
}

var errRefusedCredential = Errorf(EFORBIDDEN, "credential reference outside the allowed variables and directory")

func (a *App) zone() *time.Location {
	if a.Zone != nil {
		return a.Zone
	}
	return time.UTC
}

func itoa(i int) string { return strconv.Itoa(i) }
