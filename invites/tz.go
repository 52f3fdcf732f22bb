package invites

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/emersion/go-ical"
)

// windowsZones maps the Windows time-zone names Outlook and Exchange write
// as TZID (and the display names older Outlook versions wrote) to IANA
// zones: the common ones for UK public services and their partners, from
// the CLDR windowsZones table. A name not here is resolved from the
// VTIMEZONE in the same file.
var windowsZones = map[string]string{
	"GMT Standard Time":              "Europe/London",
	"Greenwich Standard Time":        "Atlantic/Reykjavik",
	"UTC":                            "UTC",
	"Coordinated Universal Time":     "UTC",
	"W. Europe Standard Time":        "Europe/Berlin",
	"Romance Standard Time":          "Europe/Paris",
	"Central Europe Standard Time":   "Europe/Budapest",
	"Central European Standard Time": "Europe/Warsaw",
	"E. Europe Standard Time":        "Europe/Chisinau",
	"FLE Standard Time":              "Europe/Kiev",
	"GTB Standard Time":              "Europe/Bucharest",
	"Turkey Standard Time":           "Europe/Istanbul",
	"Russian Standard Time":          "Europe/Moscow",
	"South Africa Standard Time":     "Africa/Johannesburg",
	"Arabian Standard Time":          "Asia/Dubai",
	"India Standard Time":            "Asia/Kolkata",
	"China Standard Time":            "Asia/Shanghai",
	"Singapore Standard Time":        "Asia/Singapore",
	"Tokyo Standard Time":            "Asia/Tokyo",
	"AUS Eastern Standard Time":      "Australia/Sydney",
	"New Zealand Standard Time":      "Pacific/Auckland",
	"Atlantic Standard Time":         "America/Halifax",
	"Eastern Standard Time":          "America/New_York",
	"Central Standard Time":          "America/Chicago",
	"Mountain Standard Time":         "America/Denver",
	"US Mountain Standard Time":      "America/Phoenix",
	"Pacific Standard Time":          "America/Los_Angeles",
	"E. South America Standard Time": "America/Sao_Paulo",

	// Display names, as Outlook 2007-2010 and some mobile clients wrote them.
	"(UTC+00:00) Dublin, Edinburgh, Lisbon, London":                 "Europe/London",
	"(GMT) Greenwich Mean Time : Dublin, Edinburgh, Lisbon, London": "Europe/London",
	"(UTC) Dublin, Edinburgh, Lisbon, London":                       "Europe/London",
	"(UTC) Coordinated Universal Time":                              "UTC",
	"(UTC+01:00) Amsterdam, Berlin, Bern, Rome, Stockholm, Vienna":  "Europe/Berlin",
	"(UTC+01:00) Brussels, Copenhagen, Madrid, Paris":               "Europe/Paris",
}

// WindowsZone returns the IANA zone name for a Windows time-zone name such
// as "GMT Standard Time", and whether it knows it.
func WindowsZone(name string) (string, bool) {
	z, ok := windowsZones[strings.TrimSpace(name)]
	return z, ok
}

// zoneResolver turns the TZID of a DATE-TIME into a way to read local time:
// an IANA zone by name, a Windows name through windowsZones, or else the
// VTIMEZONE of that TZID in the calendar.
type zoneResolver struct {
	vtimezones map[string]*ical.Component
}

func newZoneResolver(cal *ical.Calendar) *zoneResolver {
	r := &zoneResolver{vtimezones: map[string]*ical.Component{}}
	for _, c := range cal.Children {
		if c.Name != ical.CompTimezone {
			continue
		}
		if p := c.Props.Get(ical.PropTimezoneID); p != nil {
			r.vtimezones[strings.TrimSpace(p.Value)] = c
		}
	}
	return r
}

// dateTime reads a DATE-TIME or DATE property as an instant. A UTC value
// needs no zone; a value with TZID is resolved; a floating value (no TZID,
// no Z) is an error, because guessing the zone would move the meeting.
func (r *zoneResolver) dateTime(p *ical.Prop) (time.Time, error) {
	v := strings.TrimSpace(p.Value)
	if strings.EqualFold(p.Params.Get(ical.ParamValue), "DATE") || len(v) == 8 {
		t, err := time.Parse("20060102", v)
		if err != nil {
			return time.Time{}, fmt.Errorf("%s: invalid date %.40q", p.Name, v)
		}
		return t, nil // an all-day value: a date, read as UTC midnight
	}
	if strings.HasSuffix(v, "Z") || strings.HasSuffix(v, "z") {
		t, err := time.Parse("20060102T150405", v[:len(v)-1])
		if err != nil {
			return time.Time{}, fmt.Errorf("%s: invalid date-time %.40q", p.Name, v)
		}
		return t, nil
	}
	local, err := time.Parse("20060102T150405", v)
	if err != nil {
		return time.Time{}, fmt.Errorf("%s: invalid date-time %.40q", p.Name, v)
	}
	tzid := strings.TrimSpace(p.Params.Get(ical.ParamTimezoneID))
	if tzid == "" {
		return time.Time{}, fmt.Errorf("%s: floating time %s has no TZID", p.Name, v)
	}
	return r.inZone(tzid, local)
}

// inZone interprets the wall-clock time local (parsed as if UTC) in the
// zone tzid.
func (r *zoneResolver) inZone(tzid string, local time.Time) (time.Time, error) {
	if loc := loadIANA(tzid); loc != nil {
		return wall(local, loc), nil
	}
	if name, ok := WindowsZone(tzid); ok {
		if loc := loadIANA(name); loc != nil {
			return wall(local, loc), nil
		}
	}
	if vtz, ok := r.vtimezones[tzid]; ok {
		return vtimezoneInstant(vtz, local)
	}
	return time.Time{}, fmt.Errorf("unknown time zone %.60q and no VTIMEZONE for it", tzid)
}

func wall(local time.Time, loc *time.Location) time.Time {
	return time.Date(local.Year(), local.Month(), local.Day(), local.Hour(), local.Minute(), local.Second(), 0, loc)
}

// loadIANA loads an IANA zone by name, refusing anything that is not shaped
// like one (time.LoadLocation reads files named after its argument).
func loadIANA(name string) *time.Location {
	if name == "" || len(name) > 64 || name == "Local" || strings.Contains(name, "..") {
		return nil
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '/' || c == '_' || c == '-' || c == '+') {
			return nil
		}
	}
	if name[0] == '/' {
		return nil
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil
	}
	return loc
}

// transition is an observance's onset: from this instant the offset is to.
type transition struct {
	at time.Time
	to time.Duration
}

// vtimezoneInstant applies a VTIMEZONE's STANDARD and DAYLIGHT observances
// (RFC 5545 §3.6.5) to a wall-clock time. It understands what Outlook and
// Exchange write: a DTSTART in 1601 or later and yearly RRULEs with BYMONTH
// and BYDAY such as -1SU or 2SU, or no RRULE at all.
func vtimezoneInstant(vtz *ical.Component, local time.Time) (time.Time, error) {
	var trans []transition
	var first *time.Duration
	year := local.Year()
	for _, obs := range vtz.Children {
		if obs.Name != ical.CompTimezoneStandard && obs.Name != ical.CompTimezoneDaylight {
			continue
		}
		from, err1 := utcOffset(obs.Props.Get(ical.PropTimezoneOffsetFrom))
		to, err2 := utcOffset(obs.Props.Get(ical.PropTimezoneOffsetTo))
		if err2 != nil {
			return time.Time{}, fmt.Errorf("VTIMEZONE: %v", err2)
		}
		if err1 != nil {
			from = to // Outlook sometimes omits TZOFFSETFROM in a zone without DST
		}
		startProp := obs.Props.Get(ical.PropDateTimeStart)
		start := time.Date(1601, 1, 1, 0, 0, 0, 0, time.UTC)
		if startProp != nil {
			if s, err := time.Parse("20060102T150405", strings.TrimSpace(startProp.Value)); err == nil {
				start = s
			}
		}
		if first == nil || start.Year() < 1602 {
			f := from
			first = &f
		}
		onsets := []time.Time{start}
		if rr := obs.Props.Get(ical.PropRecurrenceRule); rr != nil {
			if month, week, wd, ok := yearlyRule(rr.Value); ok {
				onsets = onsets[:0]
				for y := year - 1; y <= year+1; y++ {
					if y < start.Year() {
						continue
					}
					d := nthWeekday(y, month, week, wd)
					onsets = append(onsets, time.Date(y, month, d, start.Hour(), start.Minute(), start.Second(), 0, time.UTC))
				}
			}
		}
		for _, o := range onsets {
			// An onset is written in the local time in force before it.
			trans = append(trans, transition{at: o.Add(-from), to: to})
		}
	}
	if len(trans) == 0 {
		return time.Time{}, fmt.Errorf("VTIMEZONE has no usable observance")
	}
	sort.Slice(trans, func(i, j int) bool { return trans[i].at.Before(trans[j].at) })
	offsetAt := func(u time.Time) time.Duration {
		off := *first
		for _, t := range trans {
			if t.at.After(u) {
				break
			}
			off = t.to
		}
		return off
	}
	// Try each offset in use; the right one is consistent with itself.
	seen := map[time.Duration]bool{}
	for _, t := range trans {
		if seen[t.to] {
			continue
		}
		seen[t.to] = true
		u := local.Add(-t.to)
		if offsetAt(u) == t.to {
			return u, nil
		}
	}
	// A wall time inside a spring-forward gap: read it with the offset
	// before the gap, as RFC 5545 §3.3.5 says.
	return local.Add(-offsetAt(local.Add(-*first))), nil
}

// yearlyRule reads FREQ=YEARLY;BYMONTH=m;BYDAY=nDD (INTERVAL=1 allowed).
func yearlyRule(rule string) (time.Month, int, time.Weekday, bool) {
	var month time.Month
	week := 0
	wd := time.Weekday(-1)
	yearly := false
	for _, part := range strings.Split(strings.ToUpper(rule), ";") {
		k, v, _ := strings.Cut(part, "=")
		switch k {
		case "FREQ":
			yearly = v == "YEARLY"
		case "INTERVAL":
			if v != "1" {
				return 0, 0, 0, false
			}
		case "BYMONTH":
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > 12 {
				return 0, 0, 0, false
			}
			month = time.Month(n)
		case "BYDAY":
			if len(v) < 2 {
				return 0, 0, 0, false
			}
			days := map[string]time.Weekday{"SU": time.Sunday, "MO": time.Monday, "TU": time.Tuesday, "WE": time.Wednesday, "TH": time.Thursday, "FR": time.Friday, "SA": time.Saturday}
			d, ok := days[v[len(v)-2:]]
			if !ok {
				return 0, 0, 0, false
			}
			wd = d
			n := 1
			if num := v[:len(v)-2]; num != "" {
				var err error
				if n, err = strconv.Atoi(num); err != nil || n == 0 || n < -5 || n > 5 {
					return 0, 0, 0, false
				}
			}
			week = n
		case "UNTIL", "WKST", "":
		default:
			return 0, 0, 0, false
		}
	}
	if !yearly || month == 0 || wd < 0 {
		return 0, 0, 0, false
	}
	return month, week, wd, true
}

// nthWeekday returns the day of the month of the nth (n<0: from the end)
// weekday wd in the month; the last one if the month has fewer.
func nthWeekday(year int, month time.Month, n int, wd time.Weekday) int {
	last := time.Date(year, month+1, 0, 0, 0, 0, 0, time.UTC).Day()
	if n > 0 {
		first := time.Date(year, month, 1, 0, 0, 0, 0, time.UTC).Weekday()
		d := 1 + (int(wd)-int(first)+7)%7 + (n-1)*7
		for d > last {
			d -= 7
		}
		return d
	}
	lastWd := time.Date(year, month, last, 0, 0, 0, 0, time.UTC).Weekday()
	d := last - (int(lastWd)-int(wd)+7)%7 + (n+1)*7
	for d < 1 {
		d += 7
	}
	return d
}

// utcOffset reads a UTC-OFFSET value such as +0100, -0000 or +053000.
func utcOffset(p *ical.Prop) (time.Duration, error) {
	if p == nil {
		return 0, fmt.Errorf("missing UTC offset")
	}
	v := strings.TrimSpace(p.Value)
	if len(v) != 5 && len(v) != 7 || (v[0] != '+' && v[0] != '-') {
		return 0, fmt.Errorf("invalid UTC offset %.20q", v)
	}
	h, err1 := strconv.Atoi(v[1:3])
	m, err2 := strconv.Atoi(v[3:5])
	s := 0
	var err3 error
	if len(v) == 7 {
		s, err3 = strconv.Atoi(v[5:7])
	}
	if err1 != nil || err2 != nil || err3 != nil || h > 23 || m > 59 || s > 59 {
		return 0, fmt.Errorf("invalid UTC offset %.20q", v)
	}
	d := time.Duration(h)*time.Hour + time.Duration(m)*time.Minute + time.Duration(s)*time.Second
	if v[0] == '-' {
		d = -d
	}
	return d, nil
}
