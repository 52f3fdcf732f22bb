package calendar

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/emersion/go-ical"
)

// instanceCost is what one recurrence instance kept as busy time costs
// against Limits.MaxInstances, beside the unit each candidate costs: it is
// held in memory until the query ends.
const instanceCost = 50

// span is a duration as RFC 5545 §3.3.6 has it: nominal days, which follow
// the wall clock across daylight-saving changes, plus exact time.
type span struct {
	days  int
	exact time.Duration
}

func (s span) after(t time.Time) time.Time {
	if s.days != 0 {
		t = t.AddDate(0, 0, s.days)
	}
	return t.Add(s.exact)
}

func (s span) zero() bool { return s.days == 0 && s.exact == 0 }

// parseDuration parses a DURATION value (RFC 5545 §3.3.6).
func parseDuration(v string) (span, error) {
	var s span
	orig := v
	neg := false
	switch {
	case strings.HasPrefix(v, "-"):
		neg, v = true, v[1:]
	case strings.HasPrefix(v, "+"):
		v = v[1:]
	}
	if !strings.HasPrefix(v, "P") || len(v) < 3 {
		return s, fmt.Errorf("bad duration %q", orig)
	}
	v = v[1:]
	inTime := false
	for v != "" {
		if v[0] == 'T' {
			inTime, v = true, v[1:]
			continue
		}
		i := 0
		for i < len(v) && v[i] >= '0' && v[i] <= '9' {
			i++
		}
		if i == 0 || i == len(v) {
			return s, fmt.Errorf("bad duration %q", orig)
		}
		n, err := strconv.Atoi(v[:i])
		if err != nil {
			return s, fmt.Errorf("bad duration %q", orig)
		}
		switch unit := v[i]; {
		case unit == 'W' && !inTime:
			s.days += 7 * n
		case unit == 'D' && !inTime:
			s.days += n
		case unit == 'H' && inTime:
			s.exact += time.Duration(n) * time.Hour
		case unit == 'M' && inTime:
			s.exact += time.Duration(n) * time.Minute
		case unit == 'S' && inTime:
			s.exact += time.Duration(n) * time.Second
		default:
			return s, fmt.Errorf("bad duration %q", orig)
		}
		v = v[i+1:]
	}
	if neg {
		s.days, s.exact = -s.days, -s.exact
	}
	return s, nil
}

// dateValue is a parsed DATE or DATE-TIME value.
type dateValue struct {
	t      time.Time
	isDate bool
}

// parseDateValue parses one DATE or DATE-TIME value in the zone the property
// names (RFC 5545 §3.3.4, §3.3.5): UTC with a trailing Z, the TZID
// parameter's zone, or else floating, which we read in the attendee's zone.
// An unresolvable TZID is read as floating time too: a guess in the
// attendee's zone is safer than dropping the event, which would show free.
func (p *parser) parseDateValue(v string, params ical.Params) (dateValue, error) {
	v = strings.TrimSpace(v)
	vt := strings.ToUpper(params.Get(ical.ParamValue))
	if vt == "DATE" || (vt == "" && len(v) == 8) {
		t, err := time.ParseInLocation("20060102", v, p.zones.floating)
		if err != nil {
			return dateValue{}, fmt.Errorf("bad date %q", v)
		}
		return dateValue{t: t, isDate: true}, nil
	}
	if strings.HasSuffix(v, "Z") {
		t, err := time.ParseInLocation("20060102T150405Z", v, time.UTC)
		if err != nil {
			return dateValue{}, fmt.Errorf("bad date-time %q", v)
		}
		return dateValue{t: t}, nil
	}
	loc := p.zones.floating
	if tzid := params.Get(ical.ParamTimezoneID); tzid != "" {
		if l, err := p.zones.Location(tzid); err == nil {
			loc = l
		}
	}
	t, err := time.ParseInLocation("20060102T150405", v, loc)
	if err != nil {
		return dateValue{}, fmt.Errorf("bad date-time %q", v)
	}
	return dateValue{t: t}, nil
}

func (p *parser) dateProp(c *ical.Component, name string) (dateValue, bool, error) {
	prop := c.Props.Get(name)
	if prop == nil {
		return dateValue{}, false, nil
	}
	d, err := p.parseDateValue(prop.Value, prop.Params)
	if err != nil {
		return d, true, fmt.Errorf("%s: %w", name, err)
	}
	return d, true, nil
}

// dateList parses every value of every property called name (RDATE and
// EXDATE may repeat and may hold comma-separated lists). PERIOD values give
// their own spans.
func (p *parser) dateList(c *ical.Component, name string) ([]dateValue, []*span, error) {
	var out []dateValue
	var spans []*span
	for _, prop := range c.Props.Values(name) {
		period := strings.EqualFold(prop.Params.Get(ical.ParamValue), "PERIOD")
		for v := range strings.SplitSeq(prop.Value, ",") {
			if strings.TrimSpace(v) == "" {
				continue
			}
			var sp *span
			if start, end, ok := strings.Cut(v, "/"); ok || period {
				if !ok {
					return nil, nil, fmt.Errorf("%s: bad period %q", name, v)
				}
				params := prop.Params
				if period {
					params = ical.Params{}
					for k, vs := range prop.Params {
						if k != ical.ParamValue {
							params[k] = vs
						}
					}
				}
				s, err := p.parseDateValue(start, params)
				if err != nil {
					return nil, nil, fmt.Errorf("%s: %w", name, err)
				}
				if strings.HasPrefix(end, "P") || strings.HasPrefix(end, "+P") {
					d, err := parseDuration(end)
					if err != nil {
						return nil, nil, fmt.Errorf("%s: %w", name, err)
					}
					sp = &d
				} else {
					e, err := p.parseDateValue(end, params)
					if err != nil {
						return nil, nil, fmt.Errorf("%s: %w", name, err)
					}
					sp = &span{exact: e.t.Sub(s.t)}
				}
				out = append(out, s)
				spans = append(spans, sp)
				continue
			}
			d, err := p.parseDateValue(v, prop.Params)
			if err != nil {
				return nil, nil, fmt.Errorf("%s: %w", name, err)
			}
			out = append(out, d)
			spans = append(spans, nil)
		}
	}
	return out, spans, nil
}

// event is one VEVENT read far enough to place it in time.
type event struct {
	start     dateValue
	length    span
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
	case hasEnd && start.isDate:
		ev.hasLength = true
		y1, m1, d1 := start.t.Date()
		y2, m2, d2 := end.t.Date()
		days := int(time.Date(y2, m2, d2, 0, 0, 0, 0, time.UTC).Sub(time.Date(y1, m1, d1, 0, 0, 0, 0, time.UTC)) / (24 * time.Hour))
		ev.length = span{days: days}
	case hasEnd:
		ev.hasLength = true
		ev.length = span{exact: end.t.Sub(start.t)}
	default:
		if prop := c.Props.Get(ical.PropDuration); prop != nil {
			ev.hasLength = true
			if ev.length, err = parseDuration(strings.TrimSpace(prop.Value)); err != nil {
				return ev, fmt.Errorf("DURATION: %w", err)
			}
		} else if start.isDate {
			ev.length = span{days: 1}
		}
	}
	if ev.length.after(start.t).Before(start.t) {
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
			addr := strings.TrimPrefix(strings.ToLower(a.Value), "mailto:")
			if addr != p.email {
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
		if rid.isDate {
			replacedDates[rid.t.Format(time.DateOnly)] = true
		} else {
			replaced[rid.t.Unix()] = true
		}
		oe, err := p.readEvent(o)
		if err != nil {
			return err
		}
		if !oe.hasLength && master != nil {
			oe.length = ev.length // the instance keeps the series' length
		}
		p.add(oe.start.t, oe.length, oe.busy)
	}
	if master == nil || ev.busy == "" || ev.length.zero() {
		return nil // no series, or one that never blocks time
	}
	exdates, _, err := p.dateList(master, ical.PropExceptionDates)
	if err != nil {
		return err
	}
	for _, x := range exdates {
		if x.isDate {
			replacedDates[x.t.Format(time.DateOnly)] = true
		} else {
			replaced[x.t.Unix()] = true
		}
	}
	loc := ev.start.t.Location()
	excluded := func(t time.Time) bool {
		return replaced[t.Unix()] || (len(replacedDates) > 0 && replacedDates[t.In(loc).Format(time.DateOnly)])
	}
	seen := map[int64]bool{}
	emit := func(t time.Time, length span) {
		if seen[t.Unix()] || excluded(t) {
			return
		}
		seen[t.Unix()] = true
		p.add(t, length, ev.busy)
	}

	// DTSTART is the first instance whether or not the rule matches it.
	emit(ev.start.t, ev.length)
	// Instances starting before from cannot reach into the window.
	from := p.window.Start.AddDate(0, 0, -ev.length.days-1).Add(-ev.length.exact)
	for _, prop := range master.Props.Values(ical.PropRecurrenceRule) {
		rule, err := parseRecurrence(strings.TrimSpace(prop.Value), loc)
		if err != nil {
			return fmt.Errorf("RRULE: %w", err)
		}
		var spent error
		err = rule.each(ev.start.t, from, p.window.End, p.budget, func(t time.Time) bool {
			if ev.length.after(t).After(p.window.Start) {
				// An instance kept as busy time costs memory as well.
				if spent = p.budget.spend(instanceCost); spent != nil {
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
	rdates, spans, err := p.dateList(master, ical.PropRecurrenceDates)
	if err != nil {
		return err
	}
	for i, r := range rdates {
		t := r.t
		if r.isDate && !ev.start.isDate {
			// A DATE in a DATE-TIME series: the series' time of day.
			h, m, s := ev.start.t.Clock()
			t = time.Date(t.Year(), t.Month(), t.Day(), h, m, s, 0, loc)
		}
		length := ev.length
		if spans[i] != nil {
			length = *spans[i]
		}
		emit(t, length)
	}
	return nil
}

// add records [start, start+length) when it takes time and meets the window.
func (p *parser) add(start time.Time, length span, busy BusyType) {
	if busy == "" {
		return
	}
	iv := Interval{start, length.after(start)}
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
		dates, spans, err := p.dateList(&ical.Component{Props: ical.Props{"P": {{Name: "P", Params: ical.Params{ical.ParamValue: {"PERIOD"}}, Value: prop.Value}}}}, "P")
		if err != nil {
			return fmt.Errorf("FREEBUSY: %w", err)
		}
		for i, d := range dates {
			p.add(d.t, *spans[i], busy)
		}
	}
	return nil
}
