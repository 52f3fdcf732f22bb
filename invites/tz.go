package invites

import (
	"fmt"
	"strings"
	"time"

	"github.com/emersion/go-ical"

	"github.com/convene/convene/calendar"
)

// zoneResolver turns the TZID of a DATE-TIME into a way to read local time:
// an IANA zone, a Windows name as Outlook writes it, or else the VTIMEZONE
// of that TZID in the calendar (calendar.Zones, the same resolver that reads
// attendees' calendars, so a reply and a calendar never disagree on a zone).
type zoneResolver struct {
	zones *calendar.Zones
}

func newZoneResolver(cal *ical.Calendar) *zoneResolver {
	r := &zoneResolver{zones: calendar.NewZones(nil)}
	for _, c := range cal.Children {
		if c.Name == ical.CompTimezone {
			r.zones.Define(c)
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
	loc, err := r.zones.Location(strings.TrimSpace(tzid))
	if err != nil {
		return time.Time{}, fmt.Errorf("unknown time zone %.60q and no VTIMEZONE for it", tzid)
	}
	return time.Date(local.Year(), local.Month(), local.Day(), local.Hour(), local.Minute(), local.Second(), 0, loc), nil
}
