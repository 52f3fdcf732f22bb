package calendar

import (
	"encoding/json"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func bhD(s string) time.Time {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		panic(err)
	}
	return t
}

func TestParseRegion(t *testing.T) {
	for _, r := range []string{"england-and-wales", "scotland", "northern-ireland"} {
		got, err := ParseRegion(r)
		if err != nil {
			t.Fatalf("ParseRegion(%q): %v", r, err)
		}
		if got, want := string(got), r; got != want {
			t.Errorf("ParseRegion(%q) = %q", r, got)
		}
	}
	for _, r := range []string{"", "england", "Scotland", "wales", "ni"} {
		if _, err := ParseRegion(r); err == nil {
			t.Errorf("ParseRegion(%q): no error", r)
		}
	}
}

func TestSnapshotParses(t *testing.T) {
	counts := map[Region]map[int]int{}
	for _, h := range SnapshotBankHolidays() {
		if counts[h.Region] == nil {
			counts[h.Region] = map[int]int{}
		}
		counts[h.Region][h.Date.Year()]++
	}
	// Ordinary years: 8 in England and Wales, 9 in Scotland, 10 in Northern
	// Ireland; 2022 adds the jubilee and the funeral, 2023 the coronation.
	for r, base := range map[Region]int{RegionEnglandAndWales: 8, RegionScotland: 9, RegionNorthernIreland: 10} {
		for y := bhSnapshotFirstYear; y <= bhSnapshotLastYear; y++ {
			want := base
			switch y {
			case 2022:
				want += 2
			case 2023:
				want++
			}
			if got := counts[r][y]; got != want {
				t.Errorf("%s %d: %d holidays, want %d", r, y, got, want)
			}
		}
	}
}

// TestRulesMatchSnapshot checks the rule-based calculation against the
// government's data for every year of the snapshot: the only differences
// are the one-offs no rule can know.
func TestRulesMatchSnapshot(t *testing.T) {
	type key struct {
		Region     Region
		Date       string
		Title      string
		Substitute bool
	}
	snap := map[key]bool{}
	for _, h := range SnapshotBankHolidays() {
		snap[key{h.Region, h.Date.Format(time.DateOnly), h.Title, h.Substitute}] = true
	}
	rules := map[key]bool{}
	for _, r := range Regions() {
		for y := bhSnapshotFirstYear; y <= bhSnapshotLastYear; y++ {
			for _, h := range RuleBankHolidays(r, y) {
				rules[key{h.Region, h.Date.Format(time.DateOnly), h.Title, h.Substitute}] = true
			}
		}
	}
	var onlySnap, onlyRules []string
	for k := range snap {
		if !rules[k] {
			onlySnap = append(onlySnap, string(k.Region)+" "+k.Date+" "+k.Title)
		}
	}
	for k := range rules {
		if !snap[k] {
			onlyRules = append(onlyRules, string(k.Region)+" "+k.Date+" "+k.Title)
		}
	}
	slices.Sort(onlySnap)
	slices.Sort(onlyRules)
	var wantSnap, wantRules []string
	for _, r := range []string{"england-and-wales", "northern-ireland", "scotland"} {
		wantSnap = append(wantSnap,
			r+" 2020-05-08 Early May bank holiday (VE day)", // moved from Monday 4 May for VE Day's 75th anniversary
			r+" 2022-06-02 Spring bank holiday",             // moved from Monday 30 May for the Platinum Jubilee
			r+" 2022-06-03 Platinum Jubilee bank holiday",
			r+" 2022-09-19 Bank Holiday for the State Funeral of Queen Elizabeth II",
			r+" 2023-05-08 Bank holiday for the coronation of King Charles III",
		)
		wantRules = append(wantRules,
			r+" 2020-05-04 Early May bank holiday",
			r+" 2022-05-30 Spring bank holiday",
		)
	}
	if diff := cmp.Diff(wantSnap, onlySnap); diff != "" {
		t.Errorf("in the snapshot but not computed by the rules (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(wantRules, onlyRules); diff != "" {
		t.Errorf("computed by the rules but not in the snapshot (-want +got):\n%s", diff)
	}
}

// TestRuleBankHolidays pins years beyond the snapshot, worked out by hand
// from a printed calendar: 2028 (1 January a Saturday, Easter 16 April,
// Christmas a Monday), 2033 (1 January a Saturday, Christmas a Sunday),
// 2034 (1 January a Sunday, Easter 9 April, 30 November a Thursday) and 2037
// (12 July a Sunday, 30 November a Monday, Christmas a Friday).
func TestRuleBankHolidays(t *testing.T) {
	type h struct {
		Date, Title string
		Sub         bool
	}
	tests := []struct {
		region Region
		year   int
		want   []h
	}{
		{RegionEnglandAndWales, 2028, []h{
			{"2028-01-03", "New Year’s Day", true},
			{"2028-04-14", "Good Friday", false},
			{"2028-04-17", "Easter Monday", false},
			{"2028-05-01", "Early May bank holiday", false},
			{"2028-05-29", "Spring bank holiday", false},
			{"2028-08-28", "Summer bank holiday", false},
			{"2028-12-25", "Christmas Day", false},
			{"2028-12-26", "Boxing Day", false},
		}},
		{RegionScotland, 2028, []h{
			{"2028-01-03", "New Year’s Day", true},
			{"2028-01-04", "2nd January", true},
			{"2028-04-14", "Good Friday", false},
			{"2028-05-01", "Early May bank holiday", false},
			{"2028-05-29", "Spring bank holiday", false},
			{"2028-08-07", "Summer bank holiday", false},
			{"2028-11-30", "St Andrew’s Day", false},
			{"2028-12-25", "Christmas Day", false},
			{"2028-12-26", "Boxing Day", false},
		}},
		{RegionNorthernIreland, 2028, []h{
			{"2028-01-03", "New Year’s Day", true},
			{"2028-03-17", "St Patrick’s Day", false},
			{"2028-04-14", "Good Friday", false},
			{"2028-04-17", "Easter Monday", false},
			{"2028-05-01", "Early May bank holiday", false},
			{"2028-05-29", "Spring bank holiday", false},
			{"2028-07-12", "Battle of the Boyne (Orangemen’s Day)", false},
			{"2028-08-28", "Summer bank holiday", false},
			{"2028-12-25", "Christmas Day", false},
			{"2028-12-26", "Boxing Day", false},
		}},
		{RegionEnglandAndWales, 2033, []h{
			{"2033-01-03", "New Year’s Day", true},
			{"2033-04-15", "Good Friday", false},
			{"2033-04-18", "Easter Monday", false},
			{"2033-05-02", "Early May bank holiday", false},
			{"2033-05-30", "Spring bank holiday", false},
			{"2033-08-29", "Summer bank holiday", false},
			{"2033-12-26", "Boxing Day", false},
			{"2033-12-27", "Christmas Day", true},
		}},
		{RegionScotland, 2034, []h{
			{"2034-01-02", "New Year’s Day", true},
			{"2034-01-03", "2nd January", true},
			{"2034-04-07", "Good Friday", false},
			{"2034-05-01", "Early May bank holiday", false},
			{"2034-05-29", "Spring bank holiday", false},
			{"2034-08-07", "Summer bank holiday", false},
			{"2034-11-30", "St Andrew’s Day", false},
			{"2034-12-25", "Christmas Day", false},
			{"2034-12-26", "Boxing Day", false},
		}},
		{RegionNorthernIreland, 2037, []h{
			{"2037-01-01", "New Year’s Day", false},
			{"2037-03-17", "St Patrick’s Day", false},
			{"2037-04-03", "Good Friday", false},
			{"2037-04-06", "Easter Monday", false},
			{"2037-05-04", "Early May bank holiday", false},
			{"2037-05-25", "Spring bank holiday", false},
			{"2037-07-13", "Battle of the Boyne (Orangemen’s Day)", true},
			{"2037-08-31", "Summer bank holiday", false},
			{"2037-12-25", "Christmas Day", false},
			{"2037-12-28", "Boxing Day", true},
		}},
		{RegionScotland, 2037, []h{
			{"2037-01-01", "New Year’s Day", false},
			{"2037-01-02", "2nd January", false},
			{"2037-04-03", "Good Friday", false},
			{"2037-05-04", "Early May bank holiday", false},
			{"2037-05-25", "Spring bank holiday", false},
			{"2037-08-03", "Summer bank holiday", false},
			{"2037-11-30", "St Andrew’s Day", false},
			{"2037-12-25", "Christmas Day", false},
			{"2037-12-28", "Boxing Day", true},
		}},
	}
	for _, tt := range tests {
		t.Run(string(tt.region)+"/"+time.Date(tt.year, 1, 1, 0, 0, 0, 0, time.UTC).Format("2006"), func(t *testing.T) {
			var got []h
			for _, b := range RuleBankHolidays(tt.region, tt.year) {
				if b.Region != tt.region {
					t.Errorf("%s: region %q", b.Title, b.Region)
				}
				got = append(got, h{b.Date.Format(time.DateOnly), b.Title, b.Substitute})
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("RuleBankHolidays(%s, %d) (-want +got):\n%s", tt.region, tt.year, diff)
			}
		})
	}
}

func TestEasterSunday(t *testing.T) {
	// Easter Sundays from the Church of England's table.
	for _, s := range []string{"2019-04-21", "2024-03-31", "2025-04-20", "2026-04-05", "2028-04-16", "2038-04-25", "2285-03-22", "2011-04-24"} {
		d := bhD(s)
		if got, want := bhDate(bhEasterSunday(d.Year())), d; !got.Equal(want) {
			t.Errorf("Easter %d = %s, want %s", d.Year(), got.Format(time.DateOnly), s)
		}
	}
}

func TestDayNumbersRoundTrip(t *testing.T) {
	for day := bhDaysFromCivil(1899, 1, 1); day < bhDaysFromCivil(2201, 1, 1); day++ {
		y, m, d := bhCivilFromDays(day)
		want := time.Date(1970, 1, 1+day, 0, 0, 0, 0, time.UTC)
		if got := time.Date(y, m, d, 0, 0, 0, 0, time.UTC); !got.Equal(want) {
			t.Fatalf("day %d = %s, want %s", day, got, want)
		}
		if got, want := bhDaysFromCivil(y, m, d), day; got != want {
			t.Fatalf("bhDaysFromCivil(%d, %d, %d) = %d, want %d", y, m, d, got, want)
		}
		if got, want := bhWeekday(day), want.Weekday(); got != want {
			t.Fatalf("weekday of day %d = %s, want %s", day, got, want)
		}
	}
}

// TestAgainstPythonHolidays checks the calendar (snapshot for 2024–2027,
// rules for 2028) against an independent implementation: Debian's
// python3-holidays, which CI installs. It must be called as /usr/bin/python3
// (a pyenv python on PATH lacks Debian's modules); if it is missing the test
// fails, it does not skip.
//
// Known limits of python-holidays 0.10.1 (Debian's), which the test allows
// for explicitly:
//   - it keeps a fixed holiday on its weekend date as well as listing the
//     substitute, so only its weekday dates are compared;
//   - it has no substitute day for St Andrew's Day (Scotland) or for the
//     Battle of the Boyne (Northern Ireland), so it lacks Monday 2 December
//     2024 and Monday 1 December 2025 in Scotland and Monday 14 July 2025 and
//     Monday 13 July 2026 in Northern Ireland;
//   - its names differ ("May Day", "Late Summer Bank Holiday", "(Observed)"),
//     so only dates are compared.
func TestAgainstPythonHolidays(t *testing.T) {
	const script = `
import holidays, json
out = {}
for key, cls, subdiv in [("england-and-wales", "England", "ENG"), ("scotland", "Scotland", "SCT"), ("northern-ireland", "NorthernIreland", "NIR")]:
    if hasattr(holidays, cls):  # 0.10 (Debian): one class per nation
        h = getattr(holidays, cls)(years=range(2024, 2029))
    else:  # later versions: subdivisions of GB
        h = holidays.country_holidays("GB", subdiv=subdiv, years=range(2024, 2029))
    out[key] = sorted(d.isoformat() for d in h.keys() if d.weekday() < 5)
print(json.dumps(out))
`
	out, err := exec.Command("/usr/bin/python3", "-c", script).Output()
	if err != nil {
		var stderr string
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("python3-holidays is needed (apt-get install python3-holidays): /usr/bin/python3: %v\n%s", err, stderr)
	}
	var py map[Region][]string
	if err := json.Unmarshal(out, &py); err != nil {
		t.Fatalf("python output %q: %v", out, err)
	}
	missingInPython := map[Region][]string{
		RegionScotland:        {"2024-12-02", "2025-12-01"},
		RegionNorthernIreland: {"2025-07-14", "2026-07-13"},
	}
	w, err := NewWorkingDays(WorkingDaysOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range Regions() {
		var ours []string
		for y := 2024; y <= 2028; y++ {
			for _, h := range w.BankHolidays(r, y) {
				ours = append(ours, h.Date.Format(time.DateOnly))
			}
		}
		// Later versions have the substitutes, so take the union.
		want := slices.Compact(slices.Sorted(slices.Values(append(slices.Clone(py[r]), missingInPython[r]...))))
		if len(py[r]) < 40 {
			t.Errorf("%s: python-holidays gave only %d dates: %v", r, len(py[r]), py[r])
		}
		if diff := cmp.Diff(want, ours); diff != "" {
			t.Errorf("%s 2024–2028: ours (+) against python-holidays plus its known gaps (-):\n%s", r, diff)
		}
	}
}

func TestParseBankHolidaysErrors(t *testing.T) {
	tests := []struct {
		name, json, want string
	}{
		{"not json", `{`, "unexpected EOF"},
		{"unknown division", `{"wales": {"division": "wales", "events": [{"title": "x", "date": "2030-01-01"}]}}`, `unknown region "wales"`},
		{"mismatched division", `{"scotland": {"division": "england-and-wales", "events": []}}`, `division "england-and-wales" listed under "scotland"`},
		{"bad date", `{"scotland": {"division": "scotland", "events": [{"title": "2nd January", "date": "02/01/2030"}]}}`, `date "02/01/2030"`},
		{"no title", `{"scotland": {"division": "scotland", "events": [{"title": "", "date": "2030-01-02"}]}}`, "no title"},
		{"empty", `{"scotland": {"division": "scotland", "events": []}}`, "no events"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseBankHolidays(strings.NewReader(tt.json))
			if err == nil {
				t.Fatalf("no error, want one containing %q", tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not contain %q", err, tt.want)
			}
		})
	}
}

func TestReadBankHolidaysFile(t *testing.T) {
	hs, err := ReadBankHolidaysFile("ukbankholidays.json")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(SnapshotBankHolidays(), hs); diff != "" {
		t.Errorf("file and embedded snapshot differ:\n%s", diff)
	}
	if _, err := ReadBankHolidaysFile("testdata/holidays-missing.json"); err == nil {
		t.Error("missing file: no error")
	}
	hs, err = ReadBankHolidaysFile("testdata/holidays-2030.json")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(hs), 3; got != want {
		t.Errorf("testdata/holidays-2030.json: %d holidays, want %d", got, want)
	}
}
