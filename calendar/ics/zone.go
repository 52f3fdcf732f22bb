package ics

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	_ "time/tzdata" // the binary must resolve zones without the system's tzdata

	"github.com/emersion/go-ical"
)

// LoadZone resolves a time zone name as calendars write it: an IANA name
// ("Europe/London"), a Windows name as Outlook and Exchange write it ("GMT
// Standard Time", mapped through CLDR's windowsZones table, or an older
// Outlook's display name), or an IANA name behind a vendor prefix
// ("/mozilla.org/20050126_1/Europe/London").
func LoadZone(name string) (*time.Location, error) {
	name = strings.Trim(strings.TrimSpace(name), `"`)
	if name == "" || strings.EqualFold(name, "Local") {
		return nil, fmt.Errorf("%w %.60q", ErrUnknownZone, name)
	}
	if loc, ok := zoneCache.Load(name); ok {
		return loc.(*time.Location), nil
	}
	loc, err := loadZone(name)
	if err != nil {
		return nil, err
	}
	zoneCache.Store(name, loc)
	return loc, nil
}

var zoneCache sync.Map // name → *time.Location

func loadZone(name string) (*time.Location, error) {
	if isIANAName(name) {
		if loc, err := time.LoadLocation(name); err == nil {
			return loc, nil
		}
	}
	if iana, ok := windowsZone(name); ok {
		return time.LoadLocation(iana)
	}
	if strings.HasPrefix(name, "/") {
		// Vendor-prefixed IANA names, such as Mozilla's and libical's: try
		// the last one, two and three path elements.
		parts := strings.Split(strings.Trim(name, "/"), "/")
		for n := min(3, len(parts)); n >= 1; n-- {
			cand := strings.Join(parts[len(parts)-n:], "/")
			if isIANAName(cand) {
				if loc, err := time.LoadLocation(cand); err == nil {
					return loc, nil
				}
			}
		}
	}
	return nil, fmt.Errorf("%w %.60q", ErrUnknownZone, name)
}

// isIANAName keeps names that cannot be IANA zones away from
// time.LoadLocation, which would look for them on the file system.
func isIANAName(name string) bool {
	if name == "UTC" || name == "GMT" {
		return true
	}
	if strings.ContainsAny(name, " \\:") || strings.HasPrefix(name, "/") || strings.Contains(name, "..") {
		return false
	}
	return strings.Contains(name, "/")
}

// Zones resolves the TZIDs of one iCalendar stream (RFC 5545 §3.2.19) and
// reads its DATE and DATE-TIME values (Time, List) by the rule in the
// package documentation. A TZID is a known name first (LoadZone), then the
// stream's own VTIMEZONE of that TZID (§3.6.5): its X-LIC-LOCATION if that
// is a known name, else a time.Location built from its observances. Not
// safe for concurrent use.
type Zones struct {
	// GuessUnknown reads a DATE-TIME whose TZID resolves to nothing as a
	// floating time, where it would be an error (ErrUnknownZone): a
	// calendar read for busy time had rather place an event in the
	// attendee's zone than drop it, which would show them free.
	GuessUnknown bool

	floating *time.Location
	defs     map[string]*ical.Component
	resolved map[string]*time.Location
	budget   *Budget
}

// NewZones returns a reader whose floating DATE-TIMEs and DATEs are in the
// zone floating, which the caller supplies: the attendee's zone when
// reading their calendar, the area's when reading a reply. Nil means the
// caller has none: such values are then an error (ErrFloating), never
// UTC. VTIMEZONE rules are expanded within budget; nil gives each
// definition a budget of its own (DefaultBudget units).
func NewZones(floating *time.Location, budget *Budget) *Zones {
	return &Zones{floating: floating, budget: budget,
		defs: map[string]*ical.Component{}, resolved: map[string]*time.Location{}}
}

// Define records a VTIMEZONE of the stream.
func (z *Zones) Define(vtz *ical.Component) {
	if p := vtz.Props.Get(ical.PropTimezoneID); p != nil && strings.TrimSpace(p.Value) != "" {
		z.defs[strings.TrimSpace(p.Value)] = vtz
	}
}

// DefineAll records every VTIMEZONE directly in c, a VCALENDAR.
func (z *Zones) DefineAll(c *ical.Component) {
	for _, child := range c.Children {
		if child.Name == ical.CompTimezone {
			z.Define(child)
		}
	}
}

// Location resolves a TZID: a known name, or the stream's VTIMEZONE of
// that TZID; an error matching ErrUnknownZone if neither.
func (z *Zones) Location(tzid string) (*time.Location, error) {
	tzid = strings.TrimSpace(tzid)
	if loc, ok := z.resolved[tzid]; ok {
		return loc, nil
	}
	loc, err := LoadZone(tzid)
	if err != nil {
		def, ok := z.defs[tzid]
		if !ok {
			return nil, fmt.Errorf("%w %.60q and no VTIMEZONE for it", ErrUnknownZone, tzid)
		}
		if p := def.Props.Get("X-LIC-LOCATION"); p != nil {
			loc, _ = LoadZone(p.Value)
		}
		if loc == nil {
			b := z.budget
			if b == nil {
				b = NewBudget(context.Background(), DefaultBudget)
			}
			if loc, err = locationFromVTimezone(tzid, def, b); err != nil {
				return nil, err
			}
		}
	}
	z.resolved[tzid] = loc
	return loc, nil
}

// observance is one STANDARD or DAYLIGHT sub-component of a VTIMEZONE.
type observance struct {
	dst      bool
	from, to int // UTC offsets in seconds
	name     string
	start    time.Time // local wall time, expressed in UTC
	rule     *Recur
	rdates   []time.Time // local wall times, expressed in UTC
}

// locationFromVTimezone builds a time.Location from a VTIMEZONE's
// observances by writing the TZif data Go's time package reads: explicit
// transitions up to 2037 plus a POSIX TZ rule for the years after, when the
// current rules can be written as one.
func locationFromVTimezone(tzid string, vtz *ical.Component, work *Budget) (*time.Location, error) {
	var obs []observance
	for _, c := range vtz.Children {
		if c.Name != ical.CompTimezoneStandard && c.Name != ical.CompTimezoneDaylight {
			continue
		}
		o, err := parseObservance(c)
		if err != nil {
			return nil, fmt.Errorf("ics: VTIMEZONE %q: %w", tzid, err)
		}
		obs = append(obs, o)
	}
	if len(obs) == 0 {
		return nil, fmt.Errorf("ics: VTIMEZONE %q has no STANDARD or DAYLIGHT", tzid)
	}

	type transition struct {
		at  int64
		typ int
	}
	var types []observance
	typeOf := func(o observance) int {
		for i, t := range types {
			if t.to == o.to && t.dst == o.dst && t.name == o.name {
				return i
			}
		}
		types = append(types, o)
		return len(types) - 1
	}
	// The first type is used before the first transition: prefer a
	// standard-time observance there.
	slices.SortStableFunc(obs, func(a, b observance) int { return a.start.Compare(b.start) })
	for _, o := range obs {
		if !o.dst {
			typeOf(o)
			break
		}
	}
	horizon := time.Date(2038, 1, 1, 0, 0, 0, 0, time.UTC)
	var txs []transition
	for _, o := range obs {
		typ := typeOf(o)
		onsets := []time.Time{o.start}
		if o.rule != nil {
			err := o.rule.Each(o.start, o.start, horizon, work, func(t time.Time) bool {
				onsets = append(onsets, t)
				return len(onsets) < 1000
			})
			if err != nil {
				return nil, fmt.Errorf("ics: VTIMEZONE %q: %w", tzid, err)
			}
		}
		onsets = append(onsets, o.rdates...)
		for _, t := range onsets {
			txs = append(txs, transition{t.Unix() - int64(o.from), typ})
		}
	}
	slices.SortFunc(txs, func(a, b transition) int { return cmpInt64(a.at, b.at) })
	txs = slices.CompactFunc(txs, func(a, b transition) bool { return a.at == b.at })

	var abbrevs bytes.Buffer
	nameIdx := make([]int, len(types))
	for i, t := range types {
		nameIdx[i] = abbrevs.Len()
		abbrevs.WriteString(zoneAbbrev(t))
		abbrevs.WriteByte(0)
	}

	var b bytes.Buffer
	header := func(timecnt, typecnt, charcnt int) {
		b.WriteString("TZif2")
		b.Write(make([]byte, 15))
		for _, n := range []int{0, 0, 0, timecnt, typecnt, charcnt} {
			_ = binary.Write(&b, binary.BigEndian, uint32(n))
		}
	}
	header(0, 0, 0) // empty version 1 block: Go reads the 64-bit one
	header(len(txs), len(types), abbrevs.Len())
	for _, tx := range txs {
		_ = binary.Write(&b, binary.BigEndian, tx.at)
	}
	for _, tx := range txs {
		b.WriteByte(byte(tx.typ))
	}
	for i, t := range types {
		_ = binary.Write(&b, binary.BigEndian, int32(t.to))
		if t.dst {
			b.WriteByte(1)
		} else {
			b.WriteByte(0)
		}
		b.WriteByte(byte(nameIdx[i]))
	}
	b.Write(abbrevs.Bytes())
	b.WriteByte('\n')
	b.WriteString(posixRule(obs))
	b.WriteByte('\n')
	return time.LoadLocationFromTZData(tzid, b.Bytes())
}

func cmpInt64(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func parseObservance(c *ical.Component) (observance, error) {
	o := observance{dst: c.Name == ical.CompTimezoneDaylight}
	var err error
	if o.from, err = parseUTCOffset(c.Props.Get(ical.PropTimezoneOffsetFrom)); err != nil {
		return o, err
	}
	if o.to, err = parseUTCOffset(c.Props.Get(ical.PropTimezoneOffsetTo)); err != nil {
		return o, err
	}
	if p := c.Props.Get(ical.PropTimezoneName); p != nil {
		o.name = p.Value
	}
	p := c.Props.Get(ical.PropDateTimeStart)
	if p == nil {
		return o, errors.New("observance without DTSTART")
	}
	// Observance times are wall times of the zone being defined (§3.6.5),
	// held here as if in UTC; a stray Z is ignored.
	if o.start, err = observanceTime(p.Value); err != nil {
		return o, err
	}
	if p := c.Props.Get(ical.PropRecurrenceRule); p != nil {
		if o.rule, err = ParseRecur(p.Value, time.UTC); err != nil {
			return o, err
		}
		if !o.rule.until.IsZero() {
			// UNTIL is in UTC (RFC 5545 §3.6.5); the rule runs in wall time.
			o.rule.until = o.rule.until.Add(time.Duration(o.from) * time.Second)
		}
	}
	for _, p := range c.Props.Values(ical.PropRecurrenceDates) {
		for v := range strings.SplitSeq(p.Value, ",") {
			t, err := observanceTime(v)
			if err != nil {
				return o, err
			}
			o.rdates = append(o.rdates, t)
		}
	}
	return o, nil
}

func observanceTime(v string) (time.Time, error) {
	v = strings.TrimSpace(v)
	return parseWall(strings.TrimSuffix(strings.TrimSuffix(v, "Z"), "z"), false, time.UTC)
}

// parseUTCOffset parses a UTC-OFFSET value (RFC 5545 §3.3.14): ±hhmm[ss].
func parseUTCOffset(p *ical.Prop) (int, error) {
	if p == nil {
		return 0, errors.New("observance without TZOFFSETFROM or TZOFFSETTO")
	}
	v := strings.TrimSpace(p.Value)
	if len(v) != 5 && len(v) != 7 || (v[0] != '+' && v[0] != '-') {
		return 0, fmt.Errorf("bad UTC offset %q", v)
	}
	h, err1 := strconv.Atoi(v[1:3])
	m, err2 := strconv.Atoi(v[3:5])
	s := 0
	var err3 error
	if len(v) == 7 {
		s, err3 = strconv.Atoi(v[5:7])
	}
	if err := errors.Join(err1, err2, err3); err != nil {
		return 0, fmt.Errorf("bad UTC offset %q", v)
	}
	off := h*3600 + m*60 + s
	if v[0] == '-' {
		off = -off
	}
	return off, nil
}

func zoneAbbrev(o observance) string {
	if o.name != "" && len(o.name) < 16 && strings.IndexFunc(o.name, func(r rune) bool {
		return !(r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '+' || r == '-')
	}) < 0 {
		return o.name
	}
	return formatOffset(o.to)
}

func formatOffset(off int) string {
	sign := '+'
	if off < 0 {
		sign, off = '-', -off
	}
	if off%3600 == 0 {
		return fmt.Sprintf("%c%02d", sign, off/3600)
	}
	return fmt.Sprintf("%c%02d%02d", sign, off/3600, off%3600/60)
}

// posixRule writes the rules in force after the last explicit transition as
// a POSIX TZ string ("<GMT>0<BST>-1,M3.5.0/1,M10.5.0/2"), or "" when they
// cannot be written as one; Go then keeps the last transition's offset.
func posixRule(obs []observance) string {
	var std, dst *observance
	for i := range obs {
		o := &obs[i]
		if o.rule == nil || !o.rule.until.IsZero() || o.rule.count != 0 {
			continue
		}
		if o.dst {
			if dst == nil || o.start.After(dst.start) {
				dst = o
			}
		} else if std == nil || o.start.After(std.start) {
			std = o
		}
	}
	if std == nil && dst == nil {
		// No open-ended rule: the last observance holds for ever.
		last := obs[len(obs)-1]
		for _, o := range obs {
			if !o.start.Before(last.start) {
				last = o
			}
		}
		return posixZone(last)
	}
	if std == nil || dst == nil {
		return ""
	}
	sr, ok1 := posixDate(std)
	dr, ok2 := posixDate(dst)
	if !ok1 || !ok2 {
		return ""
	}
	return posixZone(*std) + posixZone(*dst) + "," + dr + "," + sr
}

// posixZone writes an abbreviation and offset; POSIX offsets count west of
// Greenwich, so they have the opposite sign to UTC offsets.
func posixZone(o observance) string {
	off := -o.to
	sign := ""
	if off < 0 {
		sign, off = "-", -off
	}
	return fmt.Sprintf("<%s>%s%d:%02d:%02d", zoneAbbrev(o), sign, off/3600, off%3600/60, off%60)
}

// posixDate writes a yearly BYMONTH/BYDAY rule as "Mm.w.d/time".
func posixDate(o *observance) (string, bool) {
	r := o.rule
	if r.freq != yearly || len(r.byMonth) != 1 || len(r.byDay) != 1 || r.interval != 1 {
		return "", false
	}
	wd := r.byDay[0]
	week := wd.n
	switch {
	case week == -1:
		week = 5
	case week >= 1 && week <= 4:
	case week == 0 && len(r.byMonthDay) == 7:
		// The older style: BYDAY=SU;BYMONTHDAY=8,9,10,11,12,13,14.
		first := slices.Min(r.byMonthDay)
		if first%7 == 1 {
			week = first/7 + 1
		} else if first >= 22 {
			week = 5
		} else {
			return "", false
		}
	default:
		return "", false
	}
	day := int(wd.wd) // POSIX counts from Sunday, as time.Weekday does
	h, m, s := o.start.Clock()
	return fmt.Sprintf("M%d.%d.%d/%d:%02d:%02d", r.byMonth[0], week, day, h, m, s), true
}
