package invites

import (
	"time"

	"github.com/emersion/go-ical"

	"github.com/convene/convene/calendar/ics"
)

// londonTZID is the one named zone invitations are written in. Other zones
// are written in UTC: an instant in UTC is never wrong, whereas a VTIMEZONE
// generated from rules we have not checked could be.
const londonTZID = "Europe/London"

// londonVTimezone returns the VTIMEZONE for Europe/London (RFC 5545
// §3.6.5): British Summer Time from 01:00 UTC on the last Sunday of March to
// 01:00 UTC on the last Sunday of October, under the rules in force since
// 1996. DTSTART of each observance is in local time before the change, as
// the RFC requires: 01:00 GMT in March, 02:00 BST in October. go-ical writes
// no VTIMEZONE of its own.
func londonVTimezone() *ical.Component {
	tz := ical.NewComponent(ical.CompTimezone)
	tz.Props.SetText(ical.PropTimezoneID, londonTZID)
	xlic := ical.NewProp("X-LIC-LOCATION")
	xlic.Value = londonTZID
	tz.Props.Set(xlic)

	daylight := ical.NewComponent(ical.CompTimezoneDaylight)
	setRaw(daylight, ical.PropTimezoneName, "BST")
	setRaw(daylight, ical.PropTimezoneOffsetFrom, "+0000")
	setRaw(daylight, ical.PropTimezoneOffsetTo, "+0100")
	setRaw(daylight, ical.PropDateTimeStart, "19700329T010000")
	setRaw(daylight, ical.PropRecurrenceRule, "FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU")

	standard := ical.NewComponent(ical.CompTimezoneStandard)
	setRaw(standard, ical.PropTimezoneName, "GMT")
	setRaw(standard, ical.PropTimezoneOffsetFrom, "+0100")
	setRaw(standard, ical.PropTimezoneOffsetTo, "+0000")
	setRaw(standard, ical.PropDateTimeStart, "19701025T020000")
	setRaw(standard, ical.PropRecurrenceRule, "FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU")

	tz.Children = []*ical.Component{daylight, standard}
	return tz
}

// setRaw sets a property to a value that needs no escaping.
func setRaw(c *ical.Component, name, value string) {
	p := ical.NewProp(name)
	p.Value = value
	c.Props.Set(p)
}

// isLondon reports whether loc is Europe/London by name. A location loaded
// from the system's zoneinfo under that name is; a fixed zone is not.
func isLondon(loc *time.Location) bool {
	return loc != nil && loc.String() == londonTZID
}

// setDateTime writes a DATE-TIME property for t: local time with
// TZID=Europe/London when the meeting is held there, UTC otherwise, never
// floating.
func setDateTime(c *ical.Component, name string, t time.Time, loc *time.Location) {
	p := ical.NewProp(name)
	if isLondon(loc) {
		p.Params.Set(ical.ParamTimezoneID, londonTZID)
		p.Value = ics.FormatLocal(t.In(loc))
	} else {
		p.Value = ics.FormatUTC(t)
	}
	c.Props.Set(p)
}

// setUTC writes a DATE-TIME property in UTC, as DTSTAMP, CREATED and
// LAST-MODIFIED must be (RFC 5545 §3.8.7).
func setUTC(c *ical.Component, name string, t time.Time) {
	setRaw(c, name, ics.FormatUTC(t))
}
