package ics

import (
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/emersion/go-ical"
)

// Errors reading DATE and DATE-TIME values; the errors returned wrap them.
var (
	// ErrFloating: a floating DATE-TIME or a DATE, and no zone to read it
	// in (see NewZones). It is never read as UTC.
	ErrFloating = errors.New("ics: floating time and no zone to read it in")
	// ErrUnknownZone: a TZID that is neither a zone name nor defined by a
	// VTIMEZONE of the stream.
	ErrUnknownZone = errors.New("ics: unknown time zone")
)

// The layouts of DATE and DATE-TIME values (RFC 5545 §3.3.4, §3.3.5).
const (
	layoutDate     = "20060102"
	layoutLocal    = "20060102T150405"
	layoutUTC      = "20060102T150405Z"
	layoutDateLen  = len(layoutDate)
	layoutLocalLen = len(layoutLocal)
)

// Time is a DATE or DATE-TIME value read as an instant; for a DATE, the
// start of that day.
type Time struct {
	time.Time
	// IsDate is set for a DATE value: an all-day value.
	IsDate bool
}

// Time reads a DATE or DATE-TIME property (DTSTART, DTEND, RECURRENCE-ID,
// DTSTAMP…) by the rule in the package documentation.
func (z *Zones) Time(p *ical.Prop) (Time, error) {
	t, err := z.value(strings.TrimSpace(p.Value), p.Params)
	if err != nil {
		return Time{}, fmt.Errorf("%s: %w", p.Name, err)
	}
	return t, nil
}

// value reads one DATE or DATE-TIME value with the parameters of its
// property.
func (z *Zones) value(v string, params ical.Params) (Time, error) {
	vt := strings.ToUpper(strings.TrimSpace(params.Get(ical.ParamValue)))
	if vt == string(ical.ValueDate) || vt == "" && len(v) == layoutDateLen {
		// A day: the same day wherever one is, so the caller's zone.
		t, err := parseWall(v, true, z.floating)
		return Time{Time: t, IsDate: true}, err
	}
	if strings.HasSuffix(v, "Z") || strings.HasSuffix(v, "z") {
		t, err := parseWall(v[:len(v)-1], false, time.UTC)
		return Time{Time: t}, err
	}
	loc := z.floating
	if tzid := strings.TrimSpace(params.Get(ical.ParamTimezoneID)); tzid != "" {
		l, err := z.Location(tzid)
		switch {
		case err == nil:
			loc = l
		case !z.GuessUnknown:
			return Time{}, err
		}
	}
	t, err := parseWall(v, false, loc)
	return Time{Time: t}, err
}

// parseWall reads a DATE, or a DATE-TIME without its Z, as wall time in
// loc; nil loc is ErrFloating.
func parseWall(v string, date bool, loc *time.Location) (time.Time, error) {
	layout, what := layoutLocal, "date-time"
	if date {
		layout, what = layoutDate, "date"
	}
	t, err := time.ParseInLocation(layout, v, time.UTC)
	if err != nil {
		return time.Time{}, fmt.Errorf("bad %s %.40q", what, v)
	}
	if loc == nil {
		return time.Time{}, fmt.Errorf("%w: %s", ErrFloating, v)
	}
	y, m, d := t.Date()
	return time.Date(y, m, d, t.Hour(), t.Minute(), t.Second(), 0, loc), nil
}

// Period is one value of a DATE, DATE-TIME or PERIOD list (RFC 5545
// §3.3.9): a start, and the period's length when it has one.
type Period struct {
	Start Time
	// Length is the period's DURATION, or the exact time from its start
	// to its end; zero when HasLength is not set.
	Length    Duration
	HasLength bool
}

// List reads every value of a list property (RDATE, EXDATE, FREEBUSY;
// RFC 5545 §3.8.5, §3.8.2.6): DATEs, DATE-TIMEs, and PERIODs, which are
// the values written start/end or start/duration.
func (z *Zones) List(p *ical.Prop) ([]Period, error) {
	period := strings.EqualFold(strings.TrimSpace(p.Params.Get(ical.ParamValue)), string(ical.ValuePeriod))
	params := p.Params
	if period {
		// Each end of a PERIOD is a DATE-TIME.
		params = ical.Params{}
		for k, vs := range p.Params {
			if k != ical.ParamValue {
				params[k] = vs
			}
		}
	}
	var out []Period
	for v := range strings.SplitSeq(p.Value, ",") {
		v = strings.TrimSpace(v)
		if v == "" {
			continue
		}
		start, end, isPeriod := strings.Cut(v, "/")
		if !isPeriod && period {
			return nil, fmt.Errorf("%s: bad period %.40q", p.Name, v)
		}
		s, err := z.value(start, params)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p.Name, err)
		}
		pd := Period{Start: s}
		if isPeriod {
			pd.HasLength = true
			if strings.HasPrefix(end, "P") || strings.HasPrefix(end, "+P") {
				if pd.Length, err = ParseDuration(end); err != nil {
					return nil, fmt.Errorf("%s: %w", p.Name, err)
				}
			} else {
				e, err := z.value(end, params)
				if err != nil {
					return nil, fmt.Errorf("%s: %w", p.Name, err)
				}
				pd.Length = Duration{Exact: e.Sub(s.Time)}
			}
		}
		out = append(out, pd)
	}
	return out, nil
}

// Duration is a DURATION value (RFC 5545 §3.3.6): nominal days (weeks
// count seven), which follow the wall clock across daylight-saving
// changes, plus exact time.
type Duration struct {
	Days  int
	Exact time.Duration
}

// AddTo returns t moved on by d: the days on t's wall clock, then the
// exact time.
func (d Duration) AddTo(t time.Time) time.Time {
	if d.Days != 0 {
		t = t.AddDate(0, 0, d.Days)
	}
	return t.Add(d.Exact)
}

// IsZero reports whether d takes no time.
func (d Duration) IsZero() bool { return d.Days == 0 && d.Exact == 0 }

// maxExact bounds the exact part of a duration, well within what
// time.Duration holds.
const maxExact = 100 * 366 * 24 * time.Hour

// ParseDuration reads a DURATION value, such as PT1H30M, P1D or -PT15M.
func ParseDuration(v string) (Duration, error) {
	var d Duration
	orig := v
	v = strings.TrimSpace(v)
	neg := false
	switch {
	case strings.HasPrefix(v, "-"):
		neg, v = true, v[1:]
	case strings.HasPrefix(v, "+"):
		v = v[1:]
	}
	if !strings.HasPrefix(v, "P") || len(v) < 3 {
		return d, fmt.Errorf("bad duration %.40q", orig)
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
		if i == 0 || i == len(v) || i > 9 {
			return d, fmt.Errorf("bad duration %.40q", orig)
		}
		n, err := strconv.Atoi(v[:i])
		if err != nil {
			return d, fmt.Errorf("bad duration %.40q", orig)
		}
		exact := func(unit time.Duration) bool {
			if time.Duration(n) > (maxExact-d.Exact)/unit {
				return false
			}
			d.Exact += time.Duration(n) * unit
			return true
		}
		ok := true
		switch unit := v[i]; {
		case unit == 'W' && !inTime:
			d.Days += 7 * n
		case unit == 'D' && !inTime:
			d.Days += n
		case unit == 'H' && inTime:
			ok = exact(time.Hour)
		case unit == 'M' && inTime:
			ok = exact(time.Minute)
		case unit == 'S' && inTime:
			ok = exact(time.Second)
		default:
			ok = false
		}
		if !ok {
			return d, fmt.Errorf("bad duration %.40q", orig)
		}
		v = v[i+1:]
	}
	if neg {
		d.Days, d.Exact = -d.Days, -d.Exact
	}
	return d, nil
}

// FormatUTC writes t as a DATE-TIME in UTC, such as 20250324T090000Z, as
// DTSTAMP must be and any instant may be.
func FormatUTC(t time.Time) string { return t.UTC().Format(layoutUTC) }

// FormatLocal writes t as a DATE-TIME of wall time in t's own zone, for a
// property whose TZID names that zone.
func FormatLocal(t time.Time) string { return t.Format(layoutLocal) }

// Email is the email address of a CAL-ADDRESS property such as ORGANIZER
// or ATTENDEE (RFC 5545 §3.3.3): its mailto: URI, or the EMAIL parameter
// (RFC 7986) when the value is something else, as iCloud's urn:uuid:
// values are; "" if neither holds one.
func Email(p *ical.Prop) string {
	if e := Mailto(p.Value); e != "" {
		return e
	}
	return Mailto(p.Params.Get(ical.ParamEmail))
}

// Mailto reads the address of "mailto:a@b" (any case, percent-escapes
// and a ?query allowed) or of a bare "a@b"; "" for anything else.
func Mailto(v string) string {
	v = strings.TrimSpace(v)
	if len(v) >= 7 && strings.EqualFold(v[:7], "mailto:") {
		v = strings.TrimSpace(v[7:])
	} else if strings.Contains(v, ":") {
		return ""
	}
	if u, err := url.PathUnescape(v); err == nil {
		v = u
	}
	v = strings.Trim(v, "<>")
	if i := strings.IndexByte(v, '?'); i >= 0 { // mailto:a@b?subject=...
		v = v[:i]
	}
	if strings.Count(v, "@") != 1 || strings.ContainsAny(v, " \t,;<>\"") || strings.HasPrefix(v, "@") || strings.HasSuffix(v, "@") {
		return ""
	}
	return v
}
