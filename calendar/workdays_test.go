package calendar

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
	"time"
)

func wdCalendar(t testing.TB, opts WorkingDaysOptions) *WorkingDays {
	t.Helper()
	w, err := NewWorkingDays(opts)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

var wdLondon = func() *time.Location {
	loc, err := time.LoadLocation("Europe/London")
	if err != nil {
		panic(err)
	}
	return loc
}()

// wdAt parses a London wall-clock time "2006-01-02 15:04".
func wdAt(s string) time.Time {
	t, err := time.ParseInLocation("2006-01-02 15:04", s, wdLondon)
	if err != nil {
		panic(err)
	}
	return t
}

const (
	ew = RegionEnglandAndWales
	sc = RegionScotland
	ni = RegionNorthernIreland
)

func TestHoliday(t *testing.T) {
	w := wdCalendar(t, WorkingDaysOptions{})
	tests := []struct {
		region Region
		date   string
		want   string // "" for a working day, "weekend" for a weekend
	}{
		{ew, "2025-12-25", "Christmas Day"},
		{sc, "2025-12-26", "Boxing Day"},
		{ew, "2026-01-02", ""},
		{sc, "2026-01-02", "2nd January"},
		{ni, "2026-01-02", ""},
		{ew, "2025-03-17", ""},
		{ni, "2025-03-17", "St Patrick’s Day"},
		{ni, "2024-03-18", "St Patrick’s Day"}, // 17th a Sunday
		{ni, "2025-07-14", "Battle of the Boyne (Orangemen’s Day)"},
		{ew, "2025-07-14", ""},
		{sc, "2024-12-02", "St Andrew’s Day"}, // 30th a Saturday
		{ew, "2024-12-02", ""},
		{ew, "2025-04-21", "Easter Monday"},
		{ni, "2025-04-21", "Easter Monday"},
		{sc, "2025-04-21", ""},
		{sc, "2025-04-18", "Good Friday"},
		{ew, "2025-08-04", ""},
		{sc, "2025-08-04", "Summer bank holiday"},
		{ew, "2025-08-25", "Summer bank holiday"},
		{sc, "2025-08-25", ""},
		{ew, "2022-06-03", "Platinum Jubilee bank holiday"},
		{ni, "2022-09-19", "Bank Holiday for the State Funeral of Queen Elizabeth II"},
		{sc, "2023-05-08", "Bank holiday for the coronation of King Charles III"},
		{ew, "2020-05-08", "Early May bank holiday (VE day)"},
		{ew, "2020-05-04", ""},
		{ew, "2021-12-27", "Christmas Day"}, // substitute
		{ew, "2021-12-25", "weekend"},
		{ew, "2028-01-03", "New Year’s Day"}, // by rule, beyond the snapshot
		{sc, "2028-01-04", "2nd January"},
		{ew, "2099-12-25", "Christmas Day"},
		{ew, "2026-06-01", ""},
	}
	for _, tt := range tests {
		t.Run(string(tt.region)+"/"+tt.date, func(t *testing.T) {
			d := bhD(tt.date)
			name, ok := w.Holiday(tt.region, d)
			if tt.want == "weekend" {
				if ok {
					t.Errorf("Holiday = %q, want none (weekend)", name)
				}
				if w.IsWorkingDay(tt.region, d) {
					t.Error("IsWorkingDay = true on a weekend")
				}
				return
			}
			if got, want := name, tt.want; got != want {
				t.Errorf("Holiday = %q, want %q", got, want)
			}
			if got, want := ok, tt.want != ""; got != want {
				t.Errorf("Holiday ok = %v, want %v", got, want)
			}
			if got, want := w.IsWorkingDay(tt.region, d), tt.want == ""; got != want {
				t.Errorf("IsWorkingDay = %v, want %v", got, want)
			}
		})
	}
}

// A time is read as its civil date in London, whatever its location.
func TestIsWorkingDayReadsLondonDate(t *testing.T) {
	w := wdCalendar(t, WorkingDaysOptions{})
	// London is on GMT in winter: 23:30 UTC on Thursday 24 December 2026 is
	// still the 24th there.
	if !w.IsWorkingDay(ew, time.Date(2026, 12, 24, 23, 30, 0, 0, time.UTC)) {
		t.Error("2026-12-24 23:30Z: want a working day (GMT)")
	}
	// In summer 23:30 UTC on Sunday 24 August 2025 is 00:30 BST on Monday
	// 25 August, the summer bank holiday.
	if w.IsWorkingDay(ew, time.Date(2025, 8, 24, 23, 30, 0, 0, time.UTC)) {
		t.Error("2025-08-24 23:30Z: want the summer bank holiday (BST)")
	}
	if got, want := w.NextWorkingDay(ew, time.Date(2025, 8, 24, 23, 30, 0, 0, time.UTC)), wdAt("2025-08-26 00:00"); !got.Equal(want) {
		t.Errorf("NextWorkingDay = %s, want %s", got, want)
	}
}

// TestAddWorkingDays: every expected deadline was worked out by hand from a
// printed calendar and the government's bank-holiday list.
func TestAddWorkingDays(t *testing.T) {
	w := wdCalendar(t, WorkingDaysOptions{})
	const cob = 17 * time.Hour
	tests := []struct {
		name    string
		region  Region
		trigger string
		n       int
		want    string
	}{
		{"ordinary Monday", ew, "2025-06-02 10:00", 1, "2025-06-03 17:00"},
		{"16:59", ew, "2025-06-02 16:59", 1, "2025-06-03 17:00"},
		{"17:01 counts from the same day", ew, "2025-06-02 17:01", 1, "2025-06-03 17:00"},
		{"three days", ew, "2025-06-02 10:00", 3, "2025-06-05 17:00"},
		{"five days over a weekend", ew, "2025-06-04 09:00", 5, "2025-06-11 17:00"},
		{"Friday", ew, "2025-06-06 16:59", 1, "2025-06-09 17:00"},
		{"Friday 17:01", ew, "2025-06-06 17:01", 1, "2025-06-09 17:00"},
		{"Saturday: Monday is day 1", ew, "2025-06-07 11:00", 1, "2025-06-09 17:00"},
		{"Sunday night", ew, "2025-06-08 23:59", 3, "2025-06-11 17:00"},
		{"on a bank holiday", ew, "2025-05-05 10:00", 1, "2025-05-06 17:00"},
		{"Friday before a bank holiday", ew, "2025-05-02 12:00", 1, "2025-05-06 17:00"},
		{"15 working days over the early May and spring holidays", ew, "2025-05-02 12:00", 15, "2025-05-27 17:00"},
		{"15 working days over spring", ew, "2025-05-16 12:00", 15, "2025-06-09 17:00"},

		// The day before a holiday in one region and not another.
		{"Scottish summer holiday: England", ew, "2025-08-01 10:00", 1, "2025-08-04 17:00"},
		{"Scottish summer holiday: Scotland", sc, "2025-08-01 10:00", 1, "2025-08-05 17:00"},
		{"English summer holiday: England", ew, "2025-08-22 10:00", 1, "2025-08-26 17:00"},
		{"English summer holiday: Scotland", sc, "2025-08-22 10:00", 1, "2025-08-25 17:00"},
		{"Boyne substitute: Northern Ireland", ni, "2025-07-11 15:00", 1, "2025-07-15 17:00"},
		{"Boyne substitute: England", ew, "2025-07-11 15:00", 1, "2025-07-14 17:00"},
		{"St Patrick: Northern Ireland", ni, "2025-03-14 15:00", 1, "2025-03-18 17:00"},
		{"St Patrick: Scotland", sc, "2025-03-14 15:00", 1, "2025-03-17 17:00"},
		{"St Andrew substitute: Scotland", sc, "2025-11-28 15:00", 1, "2025-12-02 17:00"},
		{"St Andrew substitute: Northern Ireland", ni, "2025-11-28 15:00", 1, "2025-12-01 17:00"},

		// Christmas and New Year.
		{"Christmas Eve 2025", ew, "2025-12-24 16:00", 1, "2025-12-29 17:00"},
		{"Christmas Eve 2025, 3 days", ew, "2025-12-24 16:00", 3, "2025-12-31 17:00"},
		{"Christmas Eve 2025, 5 days: England", ew, "2025-12-24 16:00", 5, "2026-01-05 17:00"},
		{"Christmas Eve 2025, 5 days: Scotland", sc, "2025-12-24 16:00", 5, "2026-01-06 17:00"},
		{"Christmas Day 2025", ni, "2025-12-25 09:00", 1, "2025-12-29 17:00"},
		{"Christmas Eve 2026 (Boxing Day substitute)", ew, "2026-12-24 12:00", 1, "2026-12-29 17:00"},
		{"Christmas Eve 2027 (both substitutes)", ew, "2027-12-24 12:00", 1, "2027-12-29 17:00"},
		{"New Year's Eve 2027 into ruled 2028: England", ew, "2027-12-31 12:00", 1, "2028-01-04 17:00"},
		{"New Year's Eve 2027 into ruled 2028: Scotland", sc, "2027-12-31 12:00", 1, "2028-01-05 17:00"},
		{"New Year's Eve 2027, 3 days: Scotland", sc, "2027-12-31 12:00", 3, "2028-01-07 17:00"},

		// Easter (Good Friday 3 April 2026; Easter Monday 6 April, not in Scotland).
		{"Maundy Thursday: England", ew, "2026-04-02 10:00", 3, "2026-04-09 17:00"},
		{"Maundy Thursday: Scotland", sc, "2026-04-02 10:00", 3, "2026-04-08 17:00"},
		{"Maundy Thursday: Northern Ireland", ni, "2026-04-02 10:00", 1, "2026-04-07 17:00"},
		{"Good Friday 2025", ew, "2025-04-18 10:00", 1, "2025-04-22 17:00"},
		{"Good Friday 2025: Scotland", sc, "2025-04-18 10:00", 1, "2025-04-21 17:00"},

		// Clock changes: 30 March 2025 (GMT to BST), 26 October 2025 (back).
		{"across spring clock change", ew, "2025-03-28 10:00", 1, "2025-03-31 17:00"},
		{"across autumn clock change", ew, "2025-10-24 10:00", 1, "2025-10-27 17:00"},
		{"on the spring change day", ew, "2025-03-30 01:30", 1, "2025-03-31 17:00"},

		// n = 0: close of business today, if not past.
		{"zero days, before close", ew, "2025-06-02 10:00", 0, "2025-06-02 17:00"},
		{"zero days, after close", ew, "2025-06-02 17:01", 0, "2025-06-03 17:00"},
		{"zero days, Saturday", ew, "2025-06-07 10:00", 0, "2025-06-09 17:00"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := w.AddWorkingDays(tt.region, wdAt(tt.trigger), tt.n, cob)
			want := wdAt(tt.want)
			if !got.Equal(want) {
				t.Errorf("AddWorkingDays(%s, %s, %d) = %s, want %s", tt.region, tt.trigger, tt.n, got, want)
			}
			if got, want := got.Location(), wdLondon; got.String() != want.String() {
				t.Errorf("location %s, want %s", got, want)
			}
		})
	}
}

// A working-day deadline stays at 17:00 on the wall clock across a clock
// change, so its UTC time moves by an hour.
func TestAddWorkingDaysWallClock(t *testing.T) {
	w := wdCalendar(t, WorkingDaysOptions{})
	spring := w.AddWorkingDays(ew, time.Date(2025, 3, 28, 10, 0, 0, 0, time.UTC), 1, 17*time.Hour)
	if got, want := spring.UTC(), time.Date(2025, 3, 31, 16, 0, 0, 0, time.UTC); !got.Equal(want) {
		t.Errorf("spring: %s, want %s", got, want)
	}
	autumn := w.AddWorkingDays(ew, time.Date(2025, 10, 24, 10, 0, 0, 0, time.UTC), 1, 17*time.Hour)
	if got, want := autumn.UTC(), time.Date(2025, 10, 27, 17, 0, 0, 0, time.UTC); !got.Equal(want) {
		t.Errorf("autumn: %s, want %s", got, want)
	}
	if got, want := spring.Format(time.RFC3339), "2025-03-31T17:00:00+01:00"; got != want {
		t.Errorf("spring RFC 3339 %s, want %s", got, want)
	}
	// Close of business need not be on the hour.
	if got, want := w.AddWorkingDays(ew, wdAt("2025-06-02 10:00"), 1, 16*time.Hour+30*time.Minute), wdAt("2025-06-03 16:30"); !got.Equal(want) {
		t.Errorf("16:30 close: %s, want %s", got, want)
	}
}

func TestPublishedReplacesYear(t *testing.T) {
	pub, err := ReadBankHolidaysFile("testdata/holidays-2030.json")
	if err != nil {
		t.Fatal(err)
	}
	w := wdCalendar(t, WorkingDaysOptions{Published: pub})
	if name, ok := w.Holiday(ew, bhD("2030-06-14")); !ok || name != "Bank holiday for a test one-off" {
		t.Errorf("published one-off: %q %v", name, ok)
	}
	// The published file lists England and Wales's 2030 in full, so the
	// rules' Good Friday (19 April 2030) no longer applies there...
	if !w.IsWorkingDay(ew, bhD("2030-04-19")) {
		t.Error("2030-04-19 England: published data should replace the rules for 2030")
	}
	// ...but Scotland, absent from the file, keeps the rules.
	if w.IsWorkingDay(sc, bhD("2030-04-19")) {
		t.Error("2030-04-19 Scotland: want Good Friday from the rules")
	}
	// And the embedded snapshot still covers its years.
	if w.IsWorkingDay(ew, bhD("2025-12-25")) {
		t.Error("2025-12-25: want Christmas Day from the snapshot")
	}
	if _, err := NewWorkingDays(WorkingDaysOptions{Published: []BankHoliday{{Region: "wales", Date: bhD("2030-01-01"), Title: "x"}}}); err == nil {
		t.Error("published holiday in an unknown region: no error")
	}
}

func TestNewWorkingDaysFrom(t *testing.T) {
	f, err := NewWorkingDaysFromFile("testdata/holidays-2030.json")
	if err != nil {
		t.Fatal(err)
	}
	body, err := os.ReadFile("testdata/holidays-2030.json")
	if err != nil {
		t.Fatal(err)
	}
	r, err := NewWorkingDaysFromReader(bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []*WorkingDays{f, r} {
		if w.IsWorkingDay(ew, bhD("2030-06-14")) {
			t.Error("2030-06-14: want the published one-off")
		}
	}
	if _, err := NewWorkingDaysFromReader(strings.NewReader(`{"england-and-wales": {"events": []}}`)); err == nil {
		t.Error("empty data: no error")
	}
	if _, err := NewWorkingDaysFromFile("testdata/holidays-missing.json"); err == nil {
		t.Error("missing file: no error")
	}
}

func TestExtraHolidays(t *testing.T) {
	w := wdCalendar(t, WorkingDaysOptions{Extra: []BankHoliday{
		{Date: bhD("2025-06-10"), Title: "Local closure"},
		{Region: sc, Date: bhD("2025-06-12"), Title: "Scottish closure"},
		{Date: bhD("2150-06-10"), Title: "Far future closure"},
	}})
	for _, r := range Regions() {
		if name, _ := w.Holiday(r, bhD("2025-06-10")); name != "Local closure" {
			t.Errorf("%s 2025-06-10: %q, want the local closure", r, name)
		}
		if got, want := w.AddWorkingDays(r, wdAt("2025-06-09 12:00"), 1, 17*time.Hour), wdAt("2025-06-11 17:00"); !got.Equal(want) {
			t.Errorf("%s: %s, want %s", r, got, want)
		}
	}
	if w.IsWorkingDay(sc, bhD("2025-06-12")) || !w.IsWorkingDay(ew, bhD("2025-06-12")) {
		t.Error("a Scottish closure applies only in Scotland")
	}
	if w.IsWorkingDay(ni, bhD("2150-06-10")) {
		t.Error("an extra day in a far year should widen the precomputed span")
	}
	if _, err := NewWorkingDays(WorkingDaysOptions{Extra: []BankHoliday{{Region: "wales", Date: bhD("2030-01-01")}}}); err == nil {
		t.Error("extra holiday in an unknown region: no error")
	}
}

// Outside the precomputed years the calendar falls back to the rules.
func TestOutsidePrecomputedYears(t *testing.T) {
	w := wdCalendar(t, WorkingDaysOptions{})
	for _, year := range []int{1985, 2150} {
		for _, r := range Regions() {
			hols := map[int]string{}
			for _, h := range RuleBankHolidays(r, year) {
				hols[bhDayOf(h.Date)] = h.Title
			}
			for day := bhDaysFromCivil(year, 1, 1); day < bhDaysFromCivil(year+1, 1, 1); day++ {
				d := bhDate(day)
				want := !bhWeekend(day) && hols[day] == ""
				if got := w.IsWorkingDay(r, d); got != want {
					t.Fatalf("%s %s: IsWorkingDay = %v, want %v", r, d.Format(time.DateOnly), got, want)
				}
				if name, _ := w.Holiday(r, d); name != hols[day] {
					t.Fatalf("%s %s: Holiday = %q, want %q", r, d.Format(time.DateOnly), name, hols[day])
				}
			}
		}
	}
	// 2150: Christmas Day a Friday, Boxing Day a Saturday observed on
	// Monday 28, so from Thursday 24 the next working day is Tuesday 29.
	if got, want := w.AddWorkingDays(ew, wdAt("2150-12-24 10:00"), 1, 17*time.Hour), wdAt("2150-12-29 17:00"); !got.Equal(want) {
		t.Errorf("2150 Christmas: %s, want %s", got, want)
	}
}

func TestUnknownRegionPanics(t *testing.T) {
	w := wdCalendar(t, WorkingDaysOptions{})
	defer func() {
		if recover() == nil {
			t.Error("no panic for an unknown region")
		}
	}()
	w.IsWorkingDay("wales", bhD("2025-01-01"))
}

func TestIn(t *testing.T) {
	w := wdCalendar(t, WorkingDaysOptions{})
	utc := w.In(time.UTC)
	if got, want := utc.AddWorkingDays(ew, time.Date(2025, 6, 2, 10, 0, 0, 0, time.UTC), 1, 17*time.Hour), time.Date(2025, 6, 3, 17, 0, 0, 0, time.UTC); !got.Equal(want) {
		t.Errorf("in UTC: %s, want %s", got, want)
	}
	if w.Location().String() != "Europe/London" || utc.Location() != time.UTC {
		t.Error("In changed the original's location")
	}
}

func wdRandomTime(r *rand.Rand) time.Time {
	start := time.Date(2019, 1, 1, 0, 0, 0, 0, time.UTC).Unix()
	end := time.Date(2036, 1, 1, 0, 0, 0, 0, time.UTC).Unix()
	return time.Unix(start+r.Int64N(end-start), r.Int64N(1e9))
}

func TestAddWorkingDaysProperties(t *testing.T) {
	w := wdCalendar(t, WorkingDaysOptions{})
	r := rand.New(rand.NewPCG(2025, 12))
	const cob = 17 * time.Hour
	for i := range 5000 {
		region := Regions()[r.IntN(3)]
		trigger := wdRandomTime(r)
		n := r.IntN(21)
		got := w.AddWorkingDays(region, trigger, n, cob)
		if got.Before(trigger) {
			t.Fatalf("#%d %s %s +%d: deadline %s before the trigger", i, region, trigger, n, got)
		}
		if !w.IsWorkingDay(region, got) {
			t.Fatalf("#%d %s %s +%d: deadline %s not a working day", i, region, trigger, n, got)
		}
		if h, m, s := got.Clock(); h != 17 || m != 0 || s != 0 || got.Location().String() != "Europe/London" {
			t.Fatalf("#%d: deadline %s not 17:00 London", i, got)
		}
		if again := w.AddWorkingDays(region, trigger, n, cob); !again.Equal(got) {
			t.Fatalf("#%d: same input, different output: %s then %s", i, got, again)
		}
		// Counting days one at a time with the standard library gives the
		// same day: n working days strictly after the trigger's date.
		if n > 0 {
			lt := trigger.In(wdLondon)
			day := time.Date(lt.Year(), lt.Month(), lt.Day(), 12, 0, 0, 0, wdLondon)
			for k := 0; k < n; {
				day = day.AddDate(0, 0, 1)
				if w.IsWorkingDay(region, day) {
					k++
				}
			}
			if y, m, d := day.Date(); !got.Equal(time.Date(y, m, d, 17, 0, 0, 0, wdLondon)) {
				t.Fatalf("#%d %s %s +%d: %s, counting by hand gives %s", i, region, trigger, n, got, day)
			}
		}
	}
}

// Adding a holiday never makes a working-day deadline earlier.
func TestExtraHolidayNeverEarlier(t *testing.T) {
	base := wdCalendar(t, WorkingDaysOptions{})
	r := rand.New(rand.NewPCG(7, 3))
	for i := range 300 {
		extra := wdRandomTime(r)
		w := wdCalendar(t, WorkingDaysOptions{Extra: []BankHoliday{{Date: bhDate(bhDayOf(extra.In(wdLondon))), Title: "extra"}}})
		for range 20 {
			region := Regions()[r.IntN(3)]
			trigger := extra.Add(time.Duration(r.Int64N(int64(40*24*time.Hour))) - 20*24*time.Hour)
			n := r.IntN(16)
			before := base.AddWorkingDays(region, trigger, n, 17*time.Hour)
			after := w.AddWorkingDays(region, trigger, n, 17*time.Hour)
			if after.Before(before) {
				t.Fatalf("#%d: extra holiday %s made %s +%d earlier: %s, was %s", i, extra, trigger, n, after, before)
			}
		}
	}
}

func TestAddWorkingDaysDoesNotAllocate(t *testing.T) {
	w := wdCalendar(t, WorkingDaysOptions{})
	trigger := wdAt("2025-12-24 16:00")
	if got := testing.AllocsPerRun(100, func() { w.AddWorkingDays(sc, trigger, 15, 17*time.Hour) }); got != 0 {
		t.Errorf("AddWorkingDays allocates %v times", got)
	}
}

func BenchmarkAddWorkingDays(b *testing.B) {
	w := wdCalendar(b, WorkingDaysOptions{})
	trigger := wdAt("2025-12-24 16:00")
	for _, n := range []int{1, 3, 15} {
		b.Run(fmt.Sprintf("n=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				w.AddWorkingDays(sc, trigger, n, 17*time.Hour)
			}
		})
	}
}

func BenchmarkIsWorkingDay(b *testing.B) {
	w := wdCalendar(b, WorkingDaysOptions{})
	d := wdAt("2025-12-24 16:00")
	b.ReportAllocs()
	for b.Loop() {
		w.IsWorkingDay(ni, d)
	}
}

func BenchmarkNewWorkingDays(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := NewWorkingDays(WorkingDaysOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}
