package calendar

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/emersion/go-ical"

	"github.com/convene/convene/calendar/ics"
)

// instanceCost is what one recurrence instance kept as busy time costs
// against Limits.MaxInstances, beside the unit each candidate costs: it is
// held in memory until the query ends.
const instanceCost = 50

// dateProp reads the DATE or DATE-TIME property name of c, if it has one.
func (p *parser) dateProp(c *ical.Component, name string) (ics.Time, bool, error) {
	prop := c.Props.Get(name)
	if prop == nil {
		return ics.Time{}, false, nil
	}
	t, err := p.zones.Time(prop)
	return t, true, err
}

// dateList reads every value of every property called name (RDATE and
// EXDATE may repeat and may hold comma-separated lists).
func (p *parser) dateList(c *ical.Component, name string) ([]ics.Period, error) {
	var out []ics.Period
	for _, prop := range c.Props.Values(name) {
		l, err := p.zones.List(&prop)
		if err != nil {
			return nil, err
		}
		out = append(out, l...)
	}
	return out, nil
}

// event is one VEVENT read far enough to place it in time.
type event struct {
	start     ics.Time
	length    ics.Duration
	hasLength bool     // DTEND or DURATION given
	busy      BusyType // "" when the event takes no time (free, cancelled)
}

// readEvent reads a VEVENT's start, length and how it blocks time
// (RFC 5545 §3.8.2.4, §3.8.2.2, §3.8.2.5, §3.8.2.7, §3.8.1.11).
func (p *parser) readEvent(c *ical.Component) (event, error) {
	var ev event
	start, ok, err := p.dateProp(c, ical.PropDateTimeStart)
	if err != nil {
		return ev, err
	}
	if !ok {
		return ev, errors.New("VEVENT without DTSTART")
	}
	ev.start = start
	switch end, hasEnd, err := p.dateProp(c, ical.PropDateTimeEnd); {
	case err != nil:
		return ev, err
	case hasEnd && start.IsDate:
		ev.hasLength = true
		y1, m1, d1 := start.Date()
		y2, m2, d2 := end.Date()
		days := int(time.Date(y2, m2, d2, 0, 0, 0, 0, time.UTC).Sub(time.Date(y1, m1, d1, 0, 0, 0, 0, time.UTC)) / (24 * time.Hour))
		ev.length = ics.Duration{Days: days}
	case hasEnd:
		ev.hasLength = true
		ev.length = ics.Duration{Exact: end.Sub(start.Time)}
	default:
		if prop := c.Props.Get(ical.PropDuration); prop != nil {
			ev.hasLength = true
			if ev.length, err = ics.ParseDuration(prop.Value); err != nil {
				return ev, fmt.Errorf("DURATION: %w", err)
			}
		} else if start.IsDate {
			ev.length = ics.Duration{Days: 1}
		}
	}
	if ev.length.AddTo(start.Time).Before(start.Time) {
		return ev, errors.New("VEVENT ends before it starts")
	}
	ev.busy = p.busyType(c)
	return ev, nil
}

func (p *parser) busyType(c *ical.Component) BusyType {
	text := func(name string) string {
		if prop := c.Props.Get(name); prop != nil {
			return strings.ToUpper(strings.TrimSpace(prop.Value))
		}
		return ""
	}
	if text(ical.PropStatus) == "CANCELLED" || text(ical.PropTransparency) == "TRANSPARENT" {
		return ""
	}
	busy := BusyBusy
	switch text("X-MICROSOFT-CDO-BUSYSTATUS") {
	case "FREE", "WORKINGELSEWHERE":
		return ""
	case "TENTATIVE":
		busy = BusyTentative
	case "OOF":
		busy = BusyUnavailable
	}
	if text(ical.PropStatus) == "TENTATIVE" {
		busy = BusyTentative
	}
	if p.email != "" {
		// The attendee's own reply, where the calendar carries it.
		for _, a := range c.Props.Values(ical.PropAttendee) {
			if !strings.EqualFold(ics.Email(&a), p.email) {
				continue
			}
			switch strings.ToUpper(a.Params.Get(ical.ParamParticipationStatus)) {
			case "DECLINED":
				return ""
			case "TENTATIVE", "NEEDS-ACTION":
				if busy == BusyBusy {
					busy = BusyTentative
				}
			}
		}
	}
	return busy
}

// expand appends the busy instances of one event series that overlap the
// parser's window: the master's RRULE, RDATE and EXDATE (RFC 5545
// §3.8.5), with the overrides that carry a RECURRENCE-ID (§3.8.4.4)
// replacing the instances they name. Either master or overrides may be
// missing.
func (p *parser) expand(master *ical.Component, overrides []*ical.Component) error {
	var ev event
	if master != nil {
		var err error
		if ev, err = p.readEvent(master); err != nil {
			return err
		}
	}
	replaced := map[int64]bool{}
	replacedDates := map[string]bool{}
	for _, o := range overrides {
		rid, ok, err := p.dateProp(o, ical.PropRecurrenceID)
		if err != nil {
			return err
		}
		if !ok {
			return errors.New("override without RECURRENCE-ID")
		}
		if rid.IsDate {
			replacedDates[rid.Format(time.DateOnly)] = true
		} else {
			replaced[rid.Unix()] = true
		}
		oe, err := p.readEvent(o)
		if err != nil {
			return err
		}
		if !oe.hasLength && master != nil {
			oe.length = ev.length // the instance keeps the series' length
		}
		p.add(oe.start.Time, oe.length, oe.busy)
	}
	if master == nil || ev.busy == "" || ev.length.IsZero() {
		return nil // no series, or one that never blocks time
	}
	exdates, err := p.dateList(master, ical.PropExceptionDates)
	if err != nil {
		return err
	}
	for _, x := range exdates {
		if x.Start.IsDate {
			replacedDates[x.Start.Format(time.DateOnly)] = true
		} else {
			replaced[x.Start.Unix()] = true
		}
	}
	loc := ev.start.Location()
	excluded := func(t time.Time) bool {
		return replaced[t.Unix()] || (len(replacedDates) > 0 && replacedDates[t.In(loc).Format(time.DateOnly)])
	}
	seen := map[int64]bool{}
	emit := func(t time.Time, length ics.Duration) {
		if seen[t.Unix()] || excluded(t) {
			return
		}
		seen[t.Unix()] = true
		p.add(t, length, ev.busy)
	}

	// DTSTART is the first instance whether or not the rule matches it.
	emit(ev.start.Time, ev.length)
	// Instances starting before from cannot reach into the window.
	from := p.window.Start.AddDate(0, 0, -ev.length.Days-1).Add(-ev.length.Exact)
	for _, prop := range master.Props.Values(ical.PropRecurrenceRule) {
		rule, err := ics.ParseRecur(strings.TrimSpace(prop.Value), loc)
		if err != nil {
			return fmt.Errorf("RRULE: %w", err)
		}
		var spent error
		err = rule.Each(ev.start.Time, from, p.window.End, p.budget, func(t time.Time) bool {
			if ev.length.AddTo(t).After(p.window.Start) {
				// An instance kept as busy time costs memory as well.
				if spent = p.budget.Spend(instanceCost); spent != nil {
					return false
				}
				emit(t, ev.length)
			}
			return true
		})
		if err == nil {
			err = spent
		}
		if err != nil {
			return err
		}
	}
	rdates, err := p.dateList(master, ical.PropRecurrenceDates)
	if err != nil {
		return err
	}
	for _, r := range rdates {
		t := r.Start.Time
		if r.Start.IsDate && !ev.start.IsDate {
			// A DATE in a DATE-TIME series: the series' time of day.
			h, m, s := ev.start.Clock()
			t = time.Date(t.Year(), t.Month(), t.Day(), h, m, s, 0, loc)
		}
		length := ev.length
		if r.HasLength {
			length = r.Length
		}
		emit(t, length)
	}
	return nil
}

// add records [start, start+length) when it takes time and meets the window.
func (p *parser) add(start time.Time, length ics.Duration, busy BusyType) {
	if busy == "" {
		return
	}
	iv := Interval{start, length.AddTo(start)}
	if iv.Empty() || !iv.Overlaps(p.window) {
		return
	}
	p.busy = append(p.busy, Busy{Interval: Interval{iv.Start.UTC(), iv.End.UTC()}, Type: busy})
}

// freeBusy reads a VFREEBUSY's FREEBUSY periods (RFC 5545 §3.8.2.6).
func (p *parser) freeBusy(c *ical.Component) error {
	for _, prop := range c.Props.Values(ical.PropFreeBusy) {
		var busy BusyType
		switch strings.ToUpper(prop.Params.Get(ical.ParamFreeBusyType)) {
		case "", "BUSY":
			busy = BusyBusy
		case "BUSY-TENTATIVE":
			busy = BusyTentative
		case "BUSY-UNAVAILABLE":
			busy = BusyUnavailable
		case "FREE":
			continue
		default:
			busy = BusyBusy // RFC 5545: unknown types are treated as BUSY
		}
		periods, err := p.zones.List(&ical.Prop{Name: prop.Name, Params: ical.Params{ical.ParamValue: {string(ical.ValuePeriod)}}, Value: prop.Value})
		if err != nil {
			return err
		}
		for _, pd := range periods {
			p.add(pd.Start.Time, pd.Length, busy)
		}
	}
	return nil
}
