package calendar

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
)

// TimeOfDay is a wall-clock time, in minutes after midnight; it is written
// "09:00", and "24:00" is the end of the day.
type TimeOfDay int

// ParseTimeOfDay parses "HH:MM" (00:00 to 24:00).
func ParseTimeOfDay(s string) (TimeOfDay, error) {
	var h, m int
	if len(s) != 5 || s[2] != ':' {
		return 0, fmt.Errorf("calendar: time of day %q is not HH:MM", s)
	}
	if _, err := fmt.Sscanf(s, "%02d:%02d", &h, &m); err != nil || h > 24 || m > 59 || h == 24 && m != 0 {
		return 0, fmt.Errorf("calendar: time of day %q is not HH:MM", s)
	}
	return TimeOfDay(h*60 + m), nil
}

// String writes the time as "HH:MM".
func (t TimeOfDay) String() string { return fmt.Sprintf("%02d:%02d", int(t)/60, int(t)%60) }

// MarshalText writes "HH:MM".
func (t TimeOfDay) MarshalText() ([]byte, error) { return []byte(t.String()), nil }

// UnmarshalText reads "HH:MM".
func (t *TimeOfDay) UnmarshalText(b []byte) error {
	v, err := ParseTimeOfDay(string(b))
	*t = v
	return err
}

// on returns the instant of the time of day on the given date in loc. On a
// clock-change day, wall times that do not exist move forward by the gap.
func (t TimeOfDay) on(y int, m time.Month, d int, loc *time.Location) time.Time {
	return time.Date(y, m, d, int(t)/60, int(t)%60, 0, 0, loc)
}

// WorkingHours are the hours someone works, the same on each listed day, in
// their own time zone. In JSON: {"days": ["monday", ...], "start": "09:00",
// "end": "17:00"}.
type WorkingHours struct {
	Days       []time.Weekday
	Start, End TimeOfDay
}

// DefaultWorkingHours are Monday to Friday, 09:00 to 17:00.
var DefaultWorkingHours = WorkingHours{
	Days:  []time.Weekday{time.Monday, time.Tuesday, time.Wednesday, time.Thursday, time.Friday},
	Start: 9 * 60,
	End:   17 * 60,
}

type workingHoursJSON struct {
	Days  []string  `json:"days"`
	Start TimeOfDay `json:"start"`
	End   TimeOfDay `json:"end"`
}

// MarshalJSON writes days by their English names.
func (w WorkingHours) MarshalJSON() ([]byte, error) {
	j := workingHoursJSON{Start: w.Start, End: w.End, Days: []string{}}
	for _, d := range w.Days {
		j.Days = append(j.Days, strings.ToLower(d.String()))
	}
	return json.Marshal(j)
}

// UnmarshalJSON reads days by their English names or three-letter
// abbreviations, in any case.
func (w *WorkingHours) UnmarshalJSON(b []byte) error {
	var j workingHoursJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	w.Start, w.End, w.Days = j.Start, j.End, nil
	for _, name := range j.Days {
		d, ok := parseWeekday(name)
		if !ok {
			return fmt.Errorf("calendar: %q is not a day of the week", name)
		}
		w.Days = append(w.Days, d)
	}
	if w.End <= w.Start {
		return fmt.Errorf("calendar: working hours end %s is not after start %s", w.End, w.Start)
	}
	return nil
}

func parseWeekday(s string) (time.Weekday, bool) {
	s = strings.ToLower(s)
	for d := time.Sunday; d <= time.Saturday; d++ {
		name := strings.ToLower(d.String())
		if s == name || s == name[:3] {
			return d, true
		}
	}
	return 0, false
}

// Attendee is one person in a slot search.
type Attendee struct {
	ID string
	// Essential attendees must be free for a slot to count as found;
	// optional ones only improve its rank.
	Essential bool
	// WorkingHours nil means DefaultWorkingHours.
	WorkingHours *WorkingHours
	// Zone is where the working hours are kept; nil means the query's.
	Zone *time.Location
	// Availability Unknown means the attendee's calendar could not be
	// read: they are unknown in every slot except where Busy makes them
	// busy. The zero value means Known.
	Availability AvailabilityStatus
	// Busy is the time the attendee is known to be busy, which an
	// unreadable calendar does not undo (the caller's own bookings of
	// them, say). It need not be sorted or merged.
	Busy []Interval
}

// SlotQuery asks for meeting times. Earliest, Deadline and Duration are
// required.
type SlotQuery struct {
	Attendees []Attendee
	Duration  time.Duration
	// Slots start at or after Earliest and end at or before Deadline.
	Earliest, Deadline time.Time
	// Granularity is the step between candidate starts, aligned to local
	// midnight in Zone; 0 means 15 minutes.
	Granularity time.Duration
	// Buffers are time each attendee must also be free for before and
	// after the meeting (travel, preparation).
	BufferBefore, BufferAfter time.Duration
	// OutOfHours allows slots outside working hours and on non-working
	// days. It is implied when the deadline falls on the same day as
	// Earliest in Zone: an urgent meeting takes whatever time there is.
	OutOfHours bool
	// IsWorkingDay says whether a date is a working day (false on bank
	// holidays); it is called with a time on that date in the attendee's
	// zone. Nil means every day in the attendee's WorkingHours.Days is.
	IsWorkingDay func(time.Time) bool
	// Zone aligns the grid and decides "same day"; nil means Europe/London.
	Zone *time.Location
	// MaxSlots limits the slots returned; 0 means 10.
	MaxSlots int
}

// SlotReason says why no slot has every essential attendee free.
type SlotReason string

// The slot reasons.
const (
	// Every candidate time has an essential attendee busy.
	AttendeesUnavailable SlotReason = "attendees_unavailable"
	// Some candidate time has no essential attendee busy, but some
	// essential attendee's availability is unknown.
	AttendeesUnknown SlotReason = "attendees_unknown"
	// There is no candidate time at all: no working time between Earliest
	// and Deadline long enough for the meeting.
	NoTimeInWindow SlotReason = "no_time_in_window"
)

// Slot is a candidate meeting time and who can come.
type Slot struct {
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
	// Score is the mean over attendees of free 100, unknown 49, busy 0,
	// after Microsoft Graph's findMeetingTimes confidence.
	Score   float64  `json:"score"`
	Free    []string `json:"free"`
	Busy    []string `json:"busy"`
	Unknown []string `json:"unknown"`
	// Blockers are the essential attendees who are not free.
	Blockers []string `json:"blockers,omitempty"`
}

// SlotResult is the outcome of FindSlots.
type SlotResult struct {
	// Slots are ranked best first. When Reason is set they are the best
	// partial slots, each naming its blockers.
	Slots []Slot `json:"slots"`
	// Reason is set when no slot has every essential attendee free.
	Reason SlotReason `json:"reason,omitempty"`
	// OutOfHours tells whether slots outside working hours were allowed.
	OutOfHours bool `json:"out_of_hours"`
}

type status uint8

const (
	statusFree status = iota
	statusBusy
	statusUnknown
)

// searcher holds one attendee's state during a search.
type searcher struct {
	a       *Attendee
	zone    *time.Location
	hours   WorkingHours
	busy    []Interval // merged, only what can meet the search window
	next    int        // first busy interval that may still matter
	dayKey  int        // yyyymmdd of the cached working window
	dayFrom time.Time  // working window on that day; zero if none
	dayTo   time.Time
}

func (s *searcher) inHours(start, end time.Time, isWorkingDay func(time.Time) bool) bool {
	local := start.In(s.zone)
	y, m, d := local.Date()
	if key := y*10000 + int(m)*100 + d; key != s.dayKey {
		s.dayKey = key
		s.dayFrom, s.dayTo = time.Time{}, time.Time{}
		if slices.Contains(s.hours.Days, local.Weekday()) && (isWorkingDay == nil || isWorkingDay(local)) {
			s.dayFrom, s.dayTo = s.hours.Start.on(y, m, d, s.zone), s.hours.End.on(y, m, d, s.zone)
		}
	}
	return !s.dayFrom.IsZero() && !start.Before(s.dayFrom) && !end.After(s.dayTo)
}

// busyAt reports whether the attendee has busy time within [from, to).
// Calls must come with non-decreasing from.
func (s *searcher) busyAt(from, to time.Time) bool {
	for s.next < len(s.busy) && !s.busy[s.next].End.After(from) {
		s.next++
	}
	return s.next < len(s.busy) && s.busy[s.next].Start.Before(to)
}

type candidate struct {
	start               time.Time
	essBusy, essUnknown int
	optFree             int
}

// FindSlots finds meeting times: candidate starts on a grid between
// Earliest and Deadline, by default inside every essential attendee's
// working hours on their working days. Slots where every essential attendee
// is free come first, earliest first, then by optional attendees free. When
// there is none, the best partial slots are returned instead (fewest
// essential attendees busy, then fewest unknown, then earliest) with a
// Reason. FindSlots does no I/O.
func FindSlots(q SlotQuery) (SlotResult, error) {
	if q.Duration <= 0 {
		return SlotResult{}, errors.New("calendar: slot duration must be positive")
	}
	if q.Earliest.IsZero() || q.Deadline.IsZero() {
		return SlotResult{}, errors.New("calendar: earliest and deadline are required")
	}
	if q.Granularity <= 0 {
		q.Granularity = 15 * time.Minute
	}
	if q.MaxSlots <= 0 {
		q.MaxSlots = 10
	}
	if q.Zone == nil {
		q.Zone = london()
	}
	ey, em, ed := q.Earliest.In(q.Zone).Date()
	dy, dm, dd := q.Deadline.In(q.Zone).Date()
	ooh := q.OutOfHours || ey == dy && em == dm && ed == dd
	res := SlotResult{Slots: []Slot{}, OutOfHours: ooh}

	reach := Interval{q.Earliest.Add(-q.BufferBefore), q.Deadline.Add(q.BufferAfter)}
	ss := make([]searcher, len(q.Attendees))
	anyEssential := false
	for i := range q.Attendees {
		a := &q.Attendees[i]
		s := &ss[i]
		s.a, s.zone, s.hours = a, a.Zone, DefaultWorkingHours
		if s.zone == nil {
			s.zone = q.Zone
		}
		if a.WorkingHours != nil {
			s.hours = *a.WorkingHours
		}
		for _, iv := range a.Busy {
			if iv.Overlaps(reach) {
				s.busy = append(s.busy, iv)
			}
		}
		s.busy = Merge(s.busy)
		anyEssential = anyEssential || a.Essential
	}
	// Whose hours bound the slots: the essential attendees, or everyone
	// when none is essential.
	bounds := func(s *searcher) bool { return s.a.Essential || !anyEssential }

	// Candidate starts: the grid from local midnight, from Earliest on.
	t := time.Date(ey, em, ed, 0, 0, 0, 0, q.Zone)
	if t.Before(q.Earliest) {
		steps := (q.Earliest.Sub(t) + q.Granularity - 1) / q.Granularity
		t = t.Add(steps * q.Granularity)
	}
	var full, partial []candidate
	for ; !t.Add(q.Duration).After(q.Deadline) && len(full) < q.MaxSlots; t = t.Add(q.Granularity) {
		end := t.Add(q.Duration)
		if !ooh {
			ok := true
			for i := range ss {
				if bounds(&ss[i]) && !ss[i].inHours(t, end, q.IsWorkingDay) {
					ok = false
					break
				}
			}
			if !ok {
				continue
			}
		}
		c := candidate{start: t}
		for i := range ss {
			switch ss[i].status(t, end, q, ooh) {
			case statusFree:
				if !ss[i].a.Essential {
					c.optFree++
				}
			case statusBusy:
				if ss[i].a.Essential {
					c.essBusy++
				}
			case statusUnknown:
				if ss[i].a.Essential {
					c.essUnknown++
				}
			}
		}
		if c.essBusy == 0 && c.essUnknown == 0 {
			full = append(full, c)
		} else if len(full) == 0 {
			partial = append(partial, c)
		}
	}

	picked := full
	if len(full) == 0 {
		// Fewest essential busy, then fewest unknown, then earliest, then
		// most optional attendees free.
		slices.SortStableFunc(partial, func(a, b candidate) int {
			if a.essBusy != b.essBusy {
				return a.essBusy - b.essBusy
			}
			if a.essUnknown != b.essUnknown {
				return a.essUnknown - b.essUnknown
			}
			if c := a.start.Compare(b.start); c != 0 {
				return c
			}
			return b.optFree - a.optFree
		})
		picked = partial[:min(len(partial), q.MaxSlots)]
		switch {
		case len(partial) == 0:
			res.Reason = NoTimeInWindow
		case partial[0].essBusy == 0:
			res.Reason = AttendeesUnknown
		default:
			res.Reason = AttendeesUnavailable
		}
	}
	for _, c := range picked {
		res.Slots = append(res.Slots, describe(c.start, q, ss, ooh))
	}
	return res, nil
}

func (s *searcher) status(start, end time.Time, q SlotQuery, ooh bool) status {
	unknown := s.a.Availability == Unknown
	if !unknown && !ooh && !s.a.Essential && !s.inHours(start, end, q.IsWorkingDay) {
		return statusBusy // an optional attendee outside their hours
	}
	if s.busyAt(start.Add(-q.BufferBefore), end.Add(q.BufferAfter)) {
		return statusBusy
	}
	if unknown {
		return statusUnknown
	}
	return statusFree
}

// describe says who is free, busy and unknown in the slot starting at t.
func describe(t time.Time, q SlotQuery, ss []searcher, ooh bool) Slot {
	end := t.Add(q.Duration)
	sl := Slot{Start: t.In(q.Zone), End: end.In(q.Zone), Free: []string{}, Busy: []string{}, Unknown: []string{}}
	total := 0
	for i := range ss {
		s := &ss[i]
		// Slots are described out of time order.
		s.next = firstEndingAfter(s.busy, t.Add(-q.BufferBefore))
		switch s.status(t, end, q, ooh) {
		case statusFree:
			sl.Free = append(sl.Free, s.a.ID)
			total += 100
			continue
		case statusBusy:
			sl.Busy = append(sl.Busy, s.a.ID)
		case statusUnknown:
			sl.Unknown = append(sl.Unknown, s.a.ID)
			total += 49
		}
		if s.a.Essential {
			sl.Blockers = append(sl.Blockers, s.a.ID)
		}
	}
	if len(ss) > 0 {
		sl.Score = float64(total) / float64(len(ss))
	}
	return sl
}

var london = sync.OnceValue(func() *time.Location {
	loc, err := time.LoadLocation("Europe/London")
	if err != nil {
		panic("calendar: no Europe/London in the embedded tzdata: " + err.Error())
	}
	return loc
})
