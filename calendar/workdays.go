package calendar

import (
	"fmt"
	"io"
	"time"
	_ "time/tzdata" // Europe/London must load on hosts without zoneinfo.
)

// WorkingDays says which days are working days in each UK region and counts
// working days for deadlines. A working day is Monday to Friday and not a
// bank holiday of the region.
//
// Bank holidays come, for each region and year, from the first of these that
// covers the year: WorkingDaysOptions.Published (a refreshed copy of the
// government data), the government snapshot embedded in the package
// (2019–2027), or RuleBankHolidays. WorkingDaysOptions.Extra days are added
// on top. Holidays are precomputed into a bit set per region, so the queries
// do not allocate.
//
// A WorkingDays is immutable and safe for concurrent use.
type WorkingDays struct {
	loc *time.Location
	// first is the day number of bit 0 of every set; days outside
	// [first, last] are computed on demand.
	first, last int
	sets        [len(bhRegions)][]uint64
	byDay       [len(bhRegions)]map[int]BankHoliday
	published   map[bhRegionYear][]BankHoliday
	extra       []BankHoliday
}

type bhRegionYear struct {
	region Region
	year   int
}

// WorkingDaysOptions configures NewWorkingDays. The zero value gives the
// embedded snapshot and the rules, in Europe/London.
type WorkingDaysOptions struct {
	// Location is the time zone in which a time's civil date is read and in
	// which deadlines fall. Nil means Europe/London.
	Location *time.Location
	// Published is government bank-holiday data (ParseBankHolidays,
	// ReadBankHolidaysFile) newer than the snapshot. For each region and
	// year it has events in, it replaces the snapshot and the rules.
	Published []BankHoliday
	// Extra days count as holidays in addition to the others: a local
	// closure day, or a one-off announced after the data was fetched. An
	// empty Region applies the day to every region.
	Extra []BankHoliday
}

// Years precomputed at construction; years outside this span (widened to
// cover any data given) are computed on each query.
const (
	wdFirstYear = 1990
	wdLastYear  = 2130
)

// NewWorkingDays builds the working-day calendar.
func NewWorkingDays(opts WorkingDaysOptions) (*WorkingDays, error) {
	loc := opts.Location
	if loc == nil {
		var err error
		if loc, err = time.LoadLocation("Europe/London"); err != nil {
			return nil, fmt.Errorf("calendar: %w", err)
		}
	}
	w := &WorkingDays{loc: loc, published: map[bhRegionYear][]BankHoliday{}}
	for i, h := range opts.Published {
		if !h.Region.Valid() {
			return nil, fmt.Errorf("calendar: published holiday %d (%s): unknown region %q", i, h.Title, h.Region)
		}
		h.Date = bhDate(bhDayOf(h.Date))
		k := bhRegionYear{h.Region, h.Date.Year()}
		w.published[k] = append(w.published[k], h)
	}
	snapshot := map[bhRegionYear][]BankHoliday{}
	for _, h := range SnapshotBankHolidays() {
		k := bhRegionYear{h.Region, h.Date.Year()}
		snapshot[k] = append(snapshot[k], h)
	}
	for k, hs := range snapshot {
		if _, ok := w.published[k]; !ok {
			w.published[k] = hs
		}
	}
	for i, h := range opts.Extra {
		if h.Region != "" && !h.Region.Valid() {
			return nil, fmt.Errorf("calendar: extra holiday %d (%s): unknown region %q", i, h.Title, h.Region)
		}
		h.Date = bhDate(bhDayOf(h.Date))
		w.extra = append(w.extra, h)
	}

	firstYear, lastYear := wdFirstYear, wdLastYear
	for k := range w.published {
		firstYear, lastYear = min(firstYear, k.year), max(lastYear, k.year)
	}
	for _, h := range w.extra {
		firstYear, lastYear = min(firstYear, h.Date.Year()), max(lastYear, h.Date.Year())
	}
	w.first = bhDaysFromCivil(firstYear, time.January, 1)
	w.last = bhDaysFromCivil(lastYear+1, time.January, 1) - 1
	words := (w.last-w.first)/64 + 1
	for ri, r := range bhRegions {
		w.sets[ri] = make([]uint64, words)
		w.byDay[ri] = make(map[int]BankHoliday, 12*(lastYear-firstYear+1))
		for y := firstYear; y <= lastYear; y++ {
			for _, h := range w.yearHolidays(r, y) {
				d := bhDayOf(h.Date)
				if _, dup := w.byDay[ri][d]; dup {
					continue
				}
				w.byDay[ri][d] = h
				off := d - w.first
				w.sets[ri][off/64] |= 1 << (off % 64)
			}
		}
	}
	return w, nil
}

// NewWorkingDaysFromReader builds the calendar with bank holidays read from
// r in the government's JSON shape (for instance the body of a fetch of the
// published file), merged over the embedded snapshot and the rules as
// WorkingDaysOptions.Published describes.
func NewWorkingDaysFromReader(r io.Reader) (*WorkingDays, error) {
	hs, err := ParseBankHolidays(r)
	if err != nil {
		return nil, err
	}
	return NewWorkingDays(WorkingDaysOptions{Published: hs})
}

// NewWorkingDaysFromFile is NewWorkingDaysFromReader for a file.
func NewWorkingDaysFromFile(path string) (*WorkingDays, error) {
	hs, err := ReadBankHolidaysFile(path)
	if err != nil {
		return nil, err
	}
	return NewWorkingDays(WorkingDaysOptions{Published: hs})
}

// yearHolidays returns a region's holidays for a year, from the sources in
// order of authority, plus the extra days.
func (w *WorkingDays) yearHolidays(r Region, year int) []BankHoliday {
	hs, ok := w.published[bhRegionYear{r, year}]
	if !ok {
		hs = RuleBankHolidays(r, year)
	} else {
		hs = append([]BankHoliday(nil), hs...)
	}
	for _, h := range w.extra {
		if (h.Region == "" || h.Region == r) && h.Date.Year() == year {
			h.Region = r
			hs = append(hs, h)
		}
	}
	sortBankHolidays(hs)
	return hs
}

// In returns a calendar with the same holidays that reads dates and sets
// deadlines in loc.
func (w *WorkingDays) In(loc *time.Location) *WorkingDays {
	c := *w
	c.loc = loc
	return &c
}

// Location returns the time zone the calendar reads dates in.
func (w *WorkingDays) Location() *time.Location { return w.loc }

func (w *WorkingDays) mustIndex(r Region) int {
	ri := r.index()
	if ri < 0 {
		// Regions come from validated profiles and requests; guessing one
		// here would silently give a wrong statutory deadline.
		panic(fmt.Sprintf("calendar: unknown region %q (check with ParseRegion)", r))
	}
	return ri
}

func (w *WorkingDays) localDay(t time.Time) int {
	y, m, d := t.In(w.loc).Date()
	return bhDaysFromCivil(y, m, d)
}

func (w *WorkingDays) isHoliday(ri, day int) bool {
	if day >= w.first && day <= w.last {
		off := day - w.first
		return w.sets[ri][off/64]&(1<<(off%64)) != 0
	}
	_, ok := w.holidayOutside(ri, day)
	return ok
}

func (w *WorkingDays) holidayOutside(ri, day int) (BankHoliday, bool) {
	y, _, _ := bhCivilFromDays(day)
	for _, h := range w.yearHolidays(bhRegions[ri], y) {
		if bhDayOf(h.Date) == day {
			return h, true
		}
	}
	return BankHoliday{}, false
}

func (w *WorkingDays) isWorking(ri, day int) bool {
	return !bhWeekend(day) && !w.isHoliday(ri, day)
}

// IsWorkingDay reports whether t's date, read in the calendar's time zone,
// is a working day in region r. It panics if r is not a valid Region.
func (w *WorkingDays) IsWorkingDay(r Region, t time.Time) bool {
	return w.isWorking(w.mustIndex(r), w.localDay(t))
}

// Holiday returns the name of the bank holiday on t's date in region r, if
// there is one. It panics if r is not a valid Region.
func (w *WorkingDays) Holiday(r Region, t time.Time) (name string, ok bool) {
	ri, day := w.mustIndex(r), w.localDay(t)
	if day >= w.first && day <= w.last {
		h, ok := w.byDay[ri][day]
		return h.Title, ok
	}
	h, ok := w.holidayOutside(ri, day)
	return h.Title, ok
}

// BankHolidays returns region r's bank holidays in a year, in date order.
// It panics if r is not a valid Region.
func (w *WorkingDays) BankHolidays(r Region, year int) []BankHoliday {
	w.mustIndex(r)
	return w.yearHolidays(r, year)
}

// NextWorkingDay returns the first working day after t's date, as midnight
// in the calendar's time zone. It panics if r is not a valid Region.
func (w *WorkingDays) NextWorkingDay(r Region, t time.Time) time.Time {
	ri, day := w.mustIndex(r), w.localDay(t)
	day++
	for !w.isWorking(ri, day) {
		day++
	}
	return w.at(day, 0)
}

// AddWorkingDays returns the deadline "by close of business on the nth
// working day after the day of t": closeOfBusiness is the wall-clock time
// of day (17*time.Hour for 17:00) in the calendar's time zone, so a
// deadline stays at 17:00 local across clock changes. When t falls at a
// weekend or on a holiday the next working day is day 1, the same as for a
// trigger on the working day before it. The time of day of t does not
// matter for n >= 1.
//
// With n <= 0 the deadline is close of business on t's date if that is a
// working day and t is not after it, otherwise on the next working day.
// It panics if r is not a valid Region.
func (w *WorkingDays) AddWorkingDays(r Region, t time.Time, n int, closeOfBusiness time.Duration) time.Time {
	ri, day := w.mustIndex(r), w.localDay(t)
	if n <= 0 {
		for !w.isWorking(ri, day) {
			day++
		}
		if d := w.at(day, closeOfBusiness); !d.Before(t) {
			return d
		}
		n = 1
	}
	for i := 0; i < n; {
		day++
		if w.isWorking(ri, day) {
			i++
		}
	}
	return w.at(day, closeOfBusiness)
}

// at returns the wall-clock time of day on a day number in the calendar's
// time zone.
func (w *WorkingDays) at(day int, clock time.Duration) time.Time {
	y, m, d := bhCivilFromDays(day)
	h := int(clock / time.Hour)
	mi := int(clock % time.Hour / time.Minute)
	s := int(clock % time.Minute / time.Second)
	return time.Date(y, m, d, h, mi, s, 0, w.loc)
}
