package calendar

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"time"
)

// Region is a UK bank-holiday region, named as the UK government's published
// data names its divisions. England and Wales share one list; Scotland and
// Northern Ireland each have their own.
type Region string

// The three UK bank-holiday regions.
const (
	RegionEnglandAndWales Region = "england-and-wales"
	RegionScotland        Region = "scotland"
	RegionNorthernIreland Region = "northern-ireland"
)

// bhRegions is the order of the regions in tables (and in the government data).
var bhRegions = [...]Region{RegionEnglandAndWales, RegionScotland, RegionNorthernIreland}

// Regions returns the UK bank-holiday regions.
func Regions() []Region { return bhRegions[:] }

// Valid reports whether r is one of the UK bank-holiday regions.
func (r Region) Valid() bool { return r.index() >= 0 }

func (r Region) index() int {
	switch r {
	case RegionEnglandAndWales:
		return 0
	case RegionScotland:
		return 1
	case RegionNorthernIreland:
		return 2
	}
	return -1
}

// ParseRegion returns the region named s, or an error naming the valid ones.
func ParseRegion(s string) (Region, error) {
	r := Region(s)
	if !r.Valid() {
		return "", fmt.Errorf("unknown region %q (want england-and-wales, scotland or northern-ireland)", s)
	}
	return r, nil
}

// BankHoliday is one bank holiday in one region, on the day it is observed:
// a holiday falling at a weekend appears on its substitute weekday.
type BankHoliday struct {
	// Region is the region whose holiday it is. In
	// WorkingDaysOptions.Extra an empty Region means every region.
	Region Region
	// Date is the civil date, as midnight UTC.
	Date time.Time
	// Title is the government's name for it, e.g. "Boxing Day".
	Title string
	// Substitute is set when the holiday is observed on a weekday in place
	// of a weekend date.
	Substitute bool
}

//go:embed ukbankholidays.json
var bhSnapshot []byte

// bhSnapshotFirstYear and bhSnapshotLastYear bound the embedded snapshot.
const (
	bhSnapshotFirstYear = 2019
	bhSnapshotLastYear  = 2027
)

// bhGovFile is the shape of the UK government's bank-holiday JSON: one
// division per region, keyed by the region's name.
type bhGovFile map[string]struct {
	Division string `json:"division"`
	Events   []struct {
		Title   string `json:"title"`
		Date    string `json:"date"`
		Notes   string `json:"notes"`
		Bunting bool   `json:"bunting"`
	} `json:"events"`
}

// ParseBankHolidays reads bank holidays in the shape the UK government
// publishes them ({"england-and-wales": {"division": ..., "events": [{"title",
// "date", "notes", "bunting"}]}, ...}). An event whose notes say "Substitute
// day" is marked Substitute. Unknown divisions, malformed dates and a file
// with no events at all are errors, so that a bad refresh is refused rather
// than silently emptying the calendar.
func ParseBankHolidays(r io.Reader) ([]BankHoliday, error) {
	var f bhGovFile
	if err := json.NewDecoder(r).Decode(&f); err != nil {
		return nil, fmt.Errorf("bank holidays: %w", err)
	}
	var out []BankHoliday
	for key, div := range f {
		region, err := ParseRegion(key)
		if err != nil {
			return nil, fmt.Errorf("bank holidays: division %w", err)
		}
		if div.Division != "" && div.Division != key {
			return nil, fmt.Errorf("bank holidays: division %q listed under %q", div.Division, key)
		}
		for i, e := range div.Events {
			d, err := time.Parse(time.DateOnly, e.Date)
			if err != nil {
				return nil, fmt.Errorf("bank holidays: %s event %d (%q): date %q: want YYYY-MM-DD", key, i, e.Title, e.Date)
			}
			if e.Title == "" {
				return nil, fmt.Errorf("bank holidays: %s event %d (%s): no title", key, i, e.Date)
			}
			out = append(out, BankHoliday{Region: region, Date: d, Title: e.Title, Substitute: e.Notes == "Substitute day"})
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("bank holidays: no events")
	}
	sortBankHolidays(out)
	return out, nil
}

// ReadBankHolidaysFile reads a file in the government's shape; see
// ParseBankHolidays.
func ReadBankHolidaysFile(path string) ([]BankHoliday, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	hs, err := ParseBankHolidays(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return hs, nil
}

// SnapshotBankHolidays returns the UK government's bank holidays for 2019 to
// 2027 as embedded in this package.
func SnapshotBankHolidays() []BankHoliday {
	hs, err := ParseBankHolidays(bytes.NewReader(bhSnapshot))
	if err != nil {
		// The snapshot is part of the source; a test parses it.
		panic("calendar: embedded bank-holiday snapshot: " + err.Error())
	}
	return hs
}

func sortBankHolidays(hs []BankHoliday) {
	slices.SortStableFunc(hs, func(a, b BankHoliday) int {
		if c := a.Region.index() - b.Region.index(); c != 0 {
			return c
		}
		return a.Date.Compare(b.Date)
	})
}

// Titles as the government data spells them (with typographic apostrophes).
const (
	bhNewYear      = "New Year’s Day"
	bhJan2         = "2nd January"
	bhStPatrick    = "St Patrick’s Day"
	bhGoodFriday   = "Good Friday"
	bhEasterMonday = "Easter Monday"
	bhEarlyMay     = "Early May bank holiday"
	bhSpring       = "Spring bank holiday"
	bhBoyne        = "Battle of the Boyne (Orangemen’s Day)"
	bhSummer       = "Summer bank holiday"
	bhStAndrew     = "St Andrew’s Day"
	bhChristmas    = "Christmas Day"
	bhBoxing       = "Boxing Day"
)

// RuleBankHolidays computes a region's bank holidays for a year from the
// statutory pattern in force today (Banking and Financial Dealings Act 1971
// and the royal proclamations that add early May, St Patrick's Day and the
// Battle of the Boyne; St Andrew's Day (Scotland) Act 2007):
//
//   - all regions: New Year's Day, Good Friday, early May (first Monday of
//     May), spring (last Monday of May), Christmas Day, Boxing Day;
//   - England and Wales, Northern Ireland: Easter Monday and summer (last
//     Monday of August);
//   - Scotland: 2 January, summer (first Monday of August), St Andrew's Day
//     (30 November), and no Easter Monday;
//   - Northern Ireland: St Patrick's Day (17 March) and the Battle of the
//     Boyne (12 July).
//
// A fixed-date holiday at a weekend is observed on the next weekday that is
// not already a holiday, so when Christmas Day is a Saturday it moves to
// Monday 27 and Boxing Day to Tuesday 28, and when it is a Sunday Boxing Day
// keeps Monday 26 and Christmas moves to Tuesday 27. In Scotland 2 January
// is observed on the weekday after New Year's Day is observed, which is how
// the government names the pair (2023: New Year's Day Monday 2, 2nd January
// Tuesday 3).
//
// One-off holidays (jubilees, royal funerals and coronations, moved early
// May holidays) cannot be computed; they come from published data. Years
// long before the 2007 Act follow the same pattern and so may differ from
// history.
func RuleBankHolidays(region Region, year int) []BankHoliday {
	if !region.Valid() {
		return nil
	}
	out := make([]BankHoliday, 0, 10)
	taken := func(day int) bool {
		for _, h := range out {
			if bhDayOf(h.Date) == day {
				return true
			}
		}
		return false
	}
	add := func(day int, title string, substitute bool) {
		out = append(out, BankHoliday{Region: region, Date: bhDate(day), Title: title, Substitute: substitute})
	}
	// nextFree returns the first weekday on or after day not already taken.
	nextFree := func(day int) int {
		for bhWeekend(day) || taken(day) {
			day++
		}
		return day
	}

	easter := bhEasterSunday(year)
	add(easter-2, bhGoodFriday, false)
	if region != RegionScotland {
		add(easter+1, bhEasterMonday, false)
	}
	add(bhNthWeekday(year, time.May, time.Monday, 1), bhEarlyMay, false)
	add(bhNthWeekday(year, time.May, time.Monday, -1), bhSpring, false)
	if region == RegionScotland {
		add(bhNthWeekday(year, time.August, time.Monday, 1), bhSummer, false)
	} else {
		add(bhNthWeekday(year, time.August, time.Monday, -1), bhSummer, false)
	}

	if region == RegionScotland {
		jan1 := bhDaysFromCivil(year, 1, 1)
		nyd := nextFree(jan1)
		add(nyd, bhNewYear, nyd != jan1)
		jan2 := nextFree(nyd + 1)
		add(jan2, bhJan2, jan2 != jan1+1)
	}

	type fixed struct {
		month time.Month
		day   int
		title string
	}
	var fixedDays []fixed
	if region != RegionScotland {
		fixedDays = append(fixedDays, fixed{time.January, 1, bhNewYear})
	}
	if region == RegionNorthernIreland {
		fixedDays = append(fixedDays, fixed{time.March, 17, bhStPatrick}, fixed{time.July, 12, bhBoyne})
	}
	if region == RegionScotland {
		fixedDays = append(fixedDays, fixed{time.November, 30, bhStAndrew})
	}
	fixedDays = append(fixedDays, fixed{time.December, 25, bhChristmas}, fixed{time.December, 26, bhBoxing})
	// Weekday holidays keep their dates first; then weekend ones, in date
	// order, take the next free weekday.
	for _, f := range fixedDays {
		if d := bhDaysFromCivil(year, f.month, f.day); !bhWeekend(d) {
			add(d, f.title, false)
		}
	}
	for _, f := range fixedDays {
		if d := bhDaysFromCivil(year, f.month, f.day); bhWeekend(d) {
			add(nextFree(d), f.title, true)
		}
	}
	sortBankHolidays(out)
	return out
}

// bhEasterSunday returns the day number of Easter Sunday in the Gregorian
// calendar (the anonymous Gregorian algorithm, Meeus/Jones/Butcher).
func bhEasterSunday(year int) int {
	a := year % 19
	b, c := year/100, year%100
	d, e := b/4, b%4
	f := (b + 8) / 25
	g := (b - f + 1) / 3
	h := (19*a + b - d - g + 15) % 30
	i, k := c/4, c%4
	l := (32 + 2*e + 2*i - h - k) % 7
	m := (a + 11*h + 22*l) / 451
	month := (h + l - 7*m + 114) / 31
	day := (h+l-7*m+114)%31 + 1
	return bhDaysFromCivil(year, time.Month(month), day)
}

// bhNthWeekday returns the day number of the nth (1-based) given weekday of
// the month, or with n = -1 the last one.
func bhNthWeekday(year int, month time.Month, wd time.Weekday, n int) int {
	if n > 0 {
		first := bhDaysFromCivil(year, month, 1)
		off := (int(wd) - int(bhWeekday(first)) + 7) % 7
		return first + off + 7*(n-1)
	}
	var last int
	if month == time.December {
		last = bhDaysFromCivil(year+1, time.January, 1) - 1
	} else {
		last = bhDaysFromCivil(year, month+1, 1) - 1
	}
	off := (int(bhWeekday(last)) - int(wd) + 7) % 7
	return last - off
}

// Day numbers count civil days from 1970-01-01 (day 0, a Thursday). They
// let the calendar step through days without time zones or allocation.

// bhDaysFromCivil converts a proleptic Gregorian date to a day number
// (Howard Hinnant's days_from_civil).
func bhDaysFromCivil(y int, mo time.Month, d int) int {
	m := int(mo)
	if m <= 2 {
		y--
	}
	era := y
	if era < 0 {
		era -= 399
	}
	era /= 400
	yoe := y - era*400
	mp := (m + 9) % 12
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return era*146097 + doe - 719468
}

// bhCivilFromDays converts a day number back to a date (civil_from_days).
func bhCivilFromDays(z int) (int, time.Month, int) {
	z += 719468
	era := z
	if era < 0 {
		era -= 146096
	}
	era /= 146097
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	y := yoe + era*400
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	d := doy - (153*mp+2)/5 + 1
	m := mp + 3
	if m > 12 {
		m -= 12
	}
	if m <= 2 {
		y++
	}
	return y, time.Month(m), d
}

func bhWeekday(day int) time.Weekday { return time.Weekday(((day % 7) + 7 + 4) % 7) }

func bhWeekend(day int) bool {
	wd := bhWeekday(day)
	return wd == time.Saturday || wd == time.Sunday
}

// bhDayOf returns the day number of t's date in t's own location.
func bhDayOf(t time.Time) int {
	y, m, d := t.Date()
	return bhDaysFromCivil(y, m, d)
}

// bhDate returns the civil date of a day number as midnight UTC.
func bhDate(day int) time.Time {
	y, m, d := bhCivilFromDays(day)
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}
