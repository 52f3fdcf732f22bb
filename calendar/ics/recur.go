package ics

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The recurrence rule (RFC 5545 §3.3.10), expanded here rather than by a
// general library so that the work is bounded: every day walked and every
// candidate instance is spent from a Budget, the context is watched, a
// rule without COUNT skips straight to the window, and no rule can loop
// without end (rules such as FREQ=SECONDLY;INTERVAL=86400;BYSECOND=1,
// which match nothing, loop for ever in teambition/rrule-go, and
// impossible day filters walk to the year 9999 there).

// ErrTooComplex is the error of a Budget that is spent.
var ErrTooComplex = errors.New("ics: recurrence too costly to expand")

// DefaultBudget is the work a Budget of NewZones's own allows.
const DefaultBudget = 1_000_000

// Budget bounds recurrence work, shared by every rule that spends from it,
// and watches a context, so that expansion stops when either is spent.
type Budget struct {
	ctx  context.Context
	left int
	n    int
}

// NewBudget returns a budget of units, which also ends with ctx.
func NewBudget(ctx context.Context, units int) *Budget {
	if ctx == nil {
		ctx = context.Background()
	}
	return &Budget{ctx: ctx, left: units}
}

// Spend takes units of work and fails when the budget is spent
// (ErrTooComplex) or the context is done (its error).
func (b *Budget) Spend(units int) error {
	b.left -= units
	if b.left < 0 {
		return ErrTooComplex
	}
	b.n += units
	if b.n >= 4096 {
		b.n = 0
		if err := b.ctx.Err(); err != nil {
			return err
		}
	}
	return nil
}

type frequency int

const (
	secondly frequency = iota
	minutely
	hourly
	daily
	weekly
	monthly
	yearly
)

var frequencies = map[string]frequency{
	"SECONDLY": secondly, "MINUTELY": minutely, "HOURLY": hourly, "DAILY": daily,
	"WEEKLY": weekly, "MONTHLY": monthly, "YEARLY": yearly,
}

// weekdayNum is one BYDAY value: a weekday and an optional ordinal.
type weekdayNum struct {
	n  int
	wd time.Weekday
}

var weekdays = map[string]time.Weekday{
	"SU": time.Sunday, "MO": time.Monday, "TU": time.Tuesday, "WE": time.Wednesday,
	"TH": time.Thursday, "FR": time.Friday, "SA": time.Saturday,
}

// Recur is a recurrence rule, the value of an RRULE (RFC 5545 §3.3.10).
type Recur struct {
	freq     frequency
	interval int
	count    int
	until    time.Time // zero when none

	bySecond, byMinute, byHour               []int
	byDay                                    []weekdayNum
	byMonthDay, byYearDay, byWeekNo, byMonth []int
	bySetPos                                 []int
	wkst                                     time.Weekday
}

// ParseRecur reads an RRULE value for a series whose DTSTART is in loc.
// UNTIL is read as DTSTART is: in UTC with a trailing Z, else as wall time
// in loc; a DATE UNTIL includes the whole of that day.
func ParseRecur(v string, loc *time.Location) (*Recur, error) {
	r := &Recur{interval: 1, wkst: time.Monday, freq: -1}
	ints := func(val string, lo, hi int, neg bool) ([]int, error) {
		var out []int
		for f := range strings.SplitSeq(val, ",") {
			n, err := strconv.Atoi(strings.TrimPrefix(strings.TrimSpace(f), "+"))
			if err != nil || n > hi || n < -hi || (!neg && n < lo) || (neg && n == 0 && lo > 0) {
				return nil, fmt.Errorf("bad value %q", f)
			}
			out = append(out, n)
		}
		return out, nil
	}
	for part := range strings.SplitSeq(v, ";") {
		name, val, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			if strings.TrimSpace(part) == "" {
				continue
			}
			return nil, fmt.Errorf("bad rule part %q", part)
		}
		name, val = strings.ToUpper(strings.TrimSpace(name)), strings.ToUpper(strings.TrimSpace(val))
		var err error
		switch name {
		case "FREQ":
			f, ok := frequencies[val]
			if !ok {
				return nil, fmt.Errorf("bad FREQ %q", val)
			}
			r.freq = f
		case "INTERVAL":
			if r.interval, err = strconv.Atoi(val); err != nil || r.interval < 1 {
				return nil, fmt.Errorf("bad INTERVAL %q", val)
			}
		case "COUNT":
			if r.count, err = strconv.Atoi(val); err != nil || r.count < 1 {
				return nil, fmt.Errorf("bad COUNT %q", val)
			}
		case "UNTIL":
			switch {
			case len(val) == layoutDateLen:
				var d time.Time
				if d, err = parseWall(val, true, loc); err == nil {
					r.until = d.AddDate(0, 0, 1).Add(-time.Second)
				}
			case strings.HasSuffix(val, "Z"):
				r.until, err = parseWall(val[:len(val)-1], false, time.UTC)
			default:
				r.until, err = parseWall(val, false, loc)
			}
			if err != nil {
				return nil, fmt.Errorf("bad UNTIL %.40q", val)
			}
		case "BYSECOND":
			r.bySecond, err = ints(val, 0, 60, false)
		case "BYMINUTE":
			r.byMinute, err = ints(val, 0, 59, false)
		case "BYHOUR":
			r.byHour, err = ints(val, 0, 23, false)
		case "BYMONTHDAY":
			r.byMonthDay, err = ints(val, 1, 31, true)
		case "BYYEARDAY":
			r.byYearDay, err = ints(val, 1, 366, true)
		case "BYWEEKNO":
			r.byWeekNo, err = ints(val, 1, 53, true)
		case "BYMONTH":
			r.byMonth, err = ints(val, 1, 12, false)
		case "BYSETPOS":
			r.bySetPos, err = ints(val, 1, 366, true)
		case "WKST":
			wd, ok := weekdays[val]
			if !ok {
				return nil, fmt.Errorf("bad WKST %q", val)
			}
			r.wkst = wd
		case "BYDAY":
			for f := range strings.SplitSeq(val, ",") {
				f = strings.TrimSpace(f)
				if len(f) < 2 {
					return nil, fmt.Errorf("bad BYDAY %q", f)
				}
				wd, ok := weekdays[f[len(f)-2:]]
				if !ok {
					return nil, fmt.Errorf("bad BYDAY %q", f)
				}
				n := 0
				if num := strings.TrimPrefix(f[:len(f)-2], "+"); num != "" {
					if n, err = strconv.Atoi(num); err != nil || n == 0 || n > 53 || n < -53 {
						return nil, fmt.Errorf("bad BYDAY %q", f)
					}
				}
				r.byDay = append(r.byDay, weekdayNum{n, wd})
			}
		default:
			// X-names and BYEASTER: ignored, as RFC 5545 asks of unknown parts.
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
	}
	if r.freq < 0 {
		return nil, fmt.Errorf("no FREQ")
	}
	return r, nil
}

// civil is a date without a zone, for day arithmetic.
type civil struct {
	y int
	m time.Month
	d int
}

func civilOf(t time.Time) civil { y, m, d := t.Date(); return civil{y, m, d} }

func (c civil) days() int64 {
	return time.Date(c.y, c.m, c.d, 0, 0, 0, 0, time.UTC).Unix() / 86400
}

func (c civil) add(days int) civil {
	return civilOf(time.Date(c.y, c.m, c.d+days, 0, 0, 0, 0, time.UTC))
}

func (c civil) weekday() time.Weekday {
	return time.Date(c.y, c.m, c.d, 0, 0, 0, 0, time.UTC).Weekday()
}

func daysIn(y int, m time.Month) int { return time.Date(y, m+1, 0, 0, 0, 0, 0, time.UTC).Day() }

func daysInYear(y int) int { return time.Date(y, 12, 31, 0, 0, 0, 0, time.UTC).YearDay() }

// firstWeek returns the first day of week 1 of year y: the week starting
// on wkst that has at least four days in y (RFC 5545, after ISO 8601).
func firstWeek(y int, wkst time.Weekday) civil {
	jan1 := civil{y, time.January, 1}
	off := (int(jan1.weekday()) - int(wkst) + 7) % 7
	if off <= 3 {
		return jan1.add(-off)
	}
	return jan1.add(7 - off)
}

// weekNo returns the week number of day c, with the number of weeks of the
// year the week belongs to.
func weekNo(c civil, wkst time.Weekday) (week, weeks int) {
	y := c.y
	start := firstWeek(y, wkst)
	if c.days() < start.days() {
		y--
		start = firstWeek(y, wkst)
	} else if next := firstWeek(y+1, wkst); c.days() >= next.days() {
		y++
		start = next
	}
	weeks = int((firstWeek(y+1, wkst).days() - start.days()) / 7)
	return int((c.days()-start.days())/7) + 1, weeks
}

// dayMatches reports whether day c passes the rule's day filters, with
// BYDAY ordinals counted in the month or the year as RFC 5545 asks.
func (r *Recur) dayMatches(c civil, byMonthDay []int, byDay []weekdayNum) bool {
	if len(r.byMonth) > 0 && !slices.Contains(r.byMonth, int(c.m)) {
		return false
	}
	if len(r.byWeekNo) > 0 {
		w, weeks := weekNo(c, r.wkst)
		if !slices.Contains(r.byWeekNo, w) && !slices.Contains(r.byWeekNo, w-weeks-1) {
			return false
		}
	}
	if len(r.byYearDay) > 0 {
		yd, n := civilDayOfYear(c), daysInYear(c.y)
		if !slices.Contains(r.byYearDay, yd) && !slices.Contains(r.byYearDay, yd-n-1) {
			return false
		}
	}
	if len(byMonthDay) > 0 {
		n := daysIn(c.y, c.m)
		if !slices.Contains(byMonthDay, c.d) && !slices.Contains(byMonthDay, c.d-n-1) {
			return false
		}
	}
	if len(byDay) > 0 {
		wd := c.weekday()
		ok := false
		for _, b := range byDay {
			if b.wd != wd {
				continue
			}
			n := b.n
			if r.freq < monthly || r.freq == yearly && len(r.byWeekNo) > 0 {
				n = 0 // ordinals only mean something in a month or a year
			}
			switch {
			case n == 0:
				ok = true
			case r.freq == monthly || len(r.byMonth) > 0:
				dim := daysIn(c.y, c.m)
				ok = n > 0 && (c.d-1)/7+1 == n || n < 0 && -((dim-c.d)/7+1) == n
			default:
				yd, n2 := civilDayOfYear(c), daysInYear(c.y)
				ok = n > 0 && (yd-1)/7+1 == n || n < 0 && -((n2-yd)/7+1) == n
			}
			if ok {
				break
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

func civilDayOfYear(c civil) int { return time.Date(c.y, c.m, c.d, 0, 0, 0, 0, time.UTC).YearDay() }

func orList(l []int, def int) []int {
	if len(l) > 0 {
		s := slices.Clone(l)
		slices.Sort(s)
		return slices.Compact(s)
	}
	return []int{def}
}

func allUpTo(n int) []int {
	s := make([]int, n)
	for i := range s {
		s[i] = i
	}
	return s
}

// Each calls emit with the start of every instance of the rule for a
// series starting at dtstart (itself included when the rule yields it), in
// dtstart's zone and in order, until an instance at or after end or until
// emit returns false. Instances before from may be skipped without being
// walked when the rule has no COUNT. It stops with the budget's error when
// the budget is spent.
func (r *Recur) Each(dtstart, from, end time.Time, b *Budget, emit func(time.Time) bool) error {
	loc := dtstart.Location()
	start := civilOf(dtstart)
	H, M, S := dtstart.Clock()
	if !r.until.IsZero() && r.until.Before(end) {
		end = r.until.Add(time.Second)
	}
	byMonthDay, byDay := r.byMonthDay, r.byDay
	if len(r.byWeekNo) == 0 && len(r.byYearDay) == 0 && len(r.byMonthDay) == 0 && len(r.byDay) == 0 {
		switch r.freq {
		case yearly:
			byMonthDay = []int{start.d}
			if len(r.byMonth) == 0 {
				r2 := *r
				r2.byMonth = []int{int(start.m)}
				r = &r2
			}
		case monthly:
			byMonthDay = []int{start.d}
		case weekly:
			byDay = []weekdayNum{{0, start.weekday()}}
		}
	}
	count := 0
	// done reports whether the series has ended, after emitting t.
	done := func(t time.Time) bool {
		if !t.Before(end) {
			return true
		}
		if t.Before(dtstart) {
			return false
		}
		if !emit(t) {
			return true
		}
		count++
		return r.count > 0 && count >= r.count
	}
	skip := r.count == 0 && from.After(dtstart)
	if r.freq >= daily {
		hours := orList(r.byHour, H)
		minutes := orList(r.byMinute, M)
		seconds := orList(r.bySecond, S)
		var times [][3]int
		for _, h := range hours {
			for _, m := range minutes {
				for _, s := range seconds {
					times = append(times, [3]int{h, m, s})
				}
			}
		}
		// The periods: k counts them from the one holding dtstart.
		periodStart := func(k int) (civil, int) {
			switch r.freq {
			case yearly:
				y := start.y + k
				return civil{y, time.January, 1}, daysInYear(y)
			case monthly:
				c := civilOf(time.Date(start.y, start.m+time.Month(k), 1, 0, 0, 0, 0, time.UTC))
				return c, daysIn(c.y, c.m)
			case weekly:
				ws := start.add(-((int(start.weekday()) - int(r.wkst) + 7) % 7))
				return ws.add(7 * k), 7
			}
			return start.add(k), 1
		}
		k := 0
		if skip {
			f := civilOf(from.In(loc))
			var n int
			switch r.freq {
			case yearly:
				n = f.y - start.y
			case monthly:
				n = (f.y-start.y)*12 + int(f.m) - int(start.m)
			case weekly:
				n = int((f.days() - start.days()) / 7)
			default:
				n = int(f.days() - start.days())
			}
			if n -= 2; n > 0 {
				k = n / r.interval * r.interval
			}
		}
		var set []time.Time
		for ; ; k += r.interval {
			first, ndays := periodStart(k)
			if first.y > 9999 {
				return nil
			}
			if err := b.Spend(ndays); err != nil {
				return err
			}
			set = set[:0]
			for i := range ndays {
				c := first.add(i)
				if !r.dayMatches(c, byMonthDay, byDay) {
					continue
				}
				if err := b.Spend(len(times)); err != nil {
					return err
				}
				for _, hms := range times {
					set = append(set, time.Date(c.y, c.m, c.d, hms[0], hms[1], hms[2], 0, loc))
				}
			}
			if len(r.bySetPos) > 0 {
				set = setPos(set, r.bySetPos)
			}
			for _, t := range set {
				if done(t) {
					return nil
				}
			}
			// Past the end with nothing left to find.
			if next, _ := periodStart(k + r.interval); time.Date(next.y, next.m, next.d, 0, 0, 0, 0, loc).AddDate(0, 0, -1).After(end) {
				return nil
			}
		}
	}

	// HOURLY, MINUTELY, SECONDLY: walk the days, and in each the times of
	// day the BY rules allow whose period is a multiple of INTERVAL from
	// dtstart's (wall-clock periods, as RFC 5545 implementations count).
	hours := orList(r.byHour, -1)
	if hours[0] == -1 {
		hours = allUpTo(24)
	}
	minutes := orList(r.byMinute, M)
	if r.freq <= minutely && len(r.byMinute) == 0 {
		minutes = allUpTo(60)
	}
	seconds := orList(r.bySecond, S)
	if r.freq == secondly && len(r.bySecond) == 0 {
		seconds = allUpTo(60)
	}
	unitIndex := func(day int64, h, m, s int) int64 {
		switch r.freq {
		case hourly:
			return day*24 + int64(h)
		case minutely:
			return day*1440 + int64(h*60+m)
		}
		return day*86400 + int64(h*3600+m*60+s)
	}
	origin := unitIndex(0, H, M, S)
	d := int64(0)
	if skip {
		if n := civilOf(from.In(loc)).days() - start.days() - 1; n > 0 {
			d = n
		}
	}
	var set []time.Time
	for ; ; d++ {
		c := start.add(int(d))
		if c.y > 9999 || time.Date(c.y, c.m, c.d, 0, 0, 0, 0, loc).AddDate(0, 0, -1).After(end) {
			return nil
		}
		if err := b.Spend(1); err != nil {
			return err
		}
		if !r.dayMatches(c, r.byMonthDay, r.byDay) {
			continue
		}
		set = set[:0]
		period := int64(-1)
		flush := func() bool {
			if len(r.bySetPos) > 0 {
				set = setPos(set, r.bySetPos)
			}
			for _, t := range set {
				if done(t) {
					return true
				}
			}
			set = set[:0]
			return false
		}
		for _, h := range hours {
			for _, m := range minutes {
				if err := b.Spend(len(seconds)); err != nil {
					return err
				}
				for _, s := range seconds {
					u := unitIndex(d, h, m, s)
					if (u-origin)%int64(r.interval) != 0 {
						continue
					}
					if u != period {
						// A new period: the last one's set is complete.
						if flush() {
							return nil
						}
						period = u
					}
					set = append(set, time.Date(c.y, c.m, c.d, h, m, s, 0, loc))
				}
			}
		}
		if flush() {
			return nil
		}
	}
}

// setPos picks the BYSETPOS positions (1-based, negative from the end) of
// one period's sorted instances.
func setPos(set []time.Time, pos []int) []time.Time {
	slices.SortFunc(set, func(a, b time.Time) int { return a.Compare(b) })
	var out []time.Time
	for _, p := range pos {
		i := p - 1
		if p < 0 {
			i = len(set) + p
		}
		if i >= 0 && i < len(set) && !slices.ContainsFunc(out, set[i].Equal) {
			out = append(out, set[i])
		}
	}
	slices.SortFunc(out, func(a, b time.Time) int { return a.Compare(b) })
	return out
}
