package ics

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/teambition/rrule-go"
)

// TestRecurrenceAgainstRRuleGo checks the bounded expander against
// teambition/rrule-go (a port of python-dateutil's rrule, which the
// expander replaced) on rules both can expand: the same instances, in
// order, for series in London across the clock changes.
func TestRecurrenceAgainstRRuleGo(t *testing.T) {
	t.Parallel()
	london, err := time.LoadLocation("Europe/London")
	if err != nil {
		t.Fatal(err)
	}
	rules := []string{
		"FREQ=DAILY;COUNT=40",
		"FREQ=DAILY;INTERVAL=3;UNTIL=20250601T000000Z",
		"FREQ=DAILY;BYDAY=MO,TU,WE,TH,FR;COUNT=60",
		"FREQ=DAILY;BYMONTH=3,10;BYHOUR=9,14;BYMINUTE=0,30",
		"FREQ=DAILY;BYMONTHDAY=1,15,-1",
		"FREQ=WEEKLY",
		"FREQ=WEEKLY;INTERVAL=2;BYDAY=TU,TH",
		"FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,SU;WKST=SU",
		"FREQ=WEEKLY;BYDAY=MO,WE,FR;BYHOUR=8,17;COUNT=30",
		"FREQ=WEEKLY;BYMONTH=1,2;BYDAY=SA",
		"FREQ=MONTHLY",
		"FREQ=MONTHLY;BYMONTHDAY=31",
		"FREQ=MONTHLY;BYMONTHDAY=-1,-2",
		"FREQ=MONTHLY;BYDAY=1MO,-1FR",
		"FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1",
		"FREQ=MONTHLY;BYDAY=2TU;INTERVAL=3;COUNT=8",
		"FREQ=MONTHLY;BYDAY=FR;BYMONTHDAY=13",
		"FREQ=MONTHLY;BYMONTH=2,5;BYMONTHDAY=29,30",
		"FREQ=YEARLY",
		"FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU",
		"FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU;BYHOUR=1",
		"FREQ=YEARLY;BYDAY=20MO",
		"FREQ=YEARLY;BYDAY=-1MO,1TU",
		"FREQ=YEARLY;BYYEARDAY=1,100,-1",
		"FREQ=YEARLY;BYWEEKNO=20;BYDAY=MO",
		"FREQ=YEARLY;BYWEEKNO=1,-1;BYDAY=MO,SU",
		"FREQ=YEARLY;BYMONTH=1,6;BYDAY=MO,TU;BYSETPOS=1,-1",
		"FREQ=YEARLY;BYMONTH=11;BYDAY=TH;BYMONTHDAY=22,23,24,25,26,27,28",
		"FREQ=HOURLY;INTERVAL=5;COUNT=50",
		"FREQ=HOURLY;BYHOUR=9,10,11;BYDAY=MO",
		"FREQ=HOURLY;INTERVAL=7;BYMINUTE=0,20",
		"FREQ=HOURLY;BYMINUTE=0,30;BYSETPOS=-1;COUNT=20",
		"FREQ=MINUTELY;INTERVAL=90;COUNT=40",
		"FREQ=MINUTELY;INTERVAL=15;BYHOUR=9;BYDAY=TU",
		"FREQ=SECONDLY;INTERVAL=7200;COUNT=30",
		"FREQ=SECONDLY;BYSECOND=0;BYMINUTE=0;BYHOUR=12;COUNT=10",
	}
	starts := []time.Time{
		time.Date(2025, 1, 31, 9, 30, 0, 0, london),
		time.Date(2025, 3, 29, 1, 30, 0, 0, london), // the day before the spring change
		time.Date(2024, 2, 29, 14, 0, 0, 0, london),
		time.Date(2025, 10, 26, 0, 15, 0, 0, time.UTC),
	}
	end := time.Date(2026, 12, 31, 0, 0, 0, 0, time.UTC)
	for _, rule := range rules {
		for _, start := range starts {
			t.Run(fmt.Sprintf("%s from %s", rule, start.Format(time.RFC3339)), func(t *testing.T) {
				opt, err := rrule.StrToROptionInLocation(rule, start.Location())
				if err != nil {
					t.Fatal(err)
				}
				opt.Dtstart = start
				rr, err := rrule.NewRRule(*opt)
				if err != nil {
					t.Fatal(err)
				}
				var want []time.Time
				next := rr.Iterator()
				for len(want) < 500 {
					v, ok := next()
					if !ok || !v.Before(end) {
						break
					}
					want = append(want, v.UTC())
				}
				r, err := ParseRecur(rule, start.Location())
				if err != nil {
					t.Fatal(err)
				}
				var got []time.Time
				err = r.Each(start, start, end, NewBudget(context.Background(), DefaultBudget), func(v time.Time) bool {
					got = append(got, v.UTC())
					return len(got) < 500
				})
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("instances (-rrule-go +ours):\n%s", diff)
				}
			})
		}
	}
}

// TestRecurrenceSkipsToTheWindow: a rule without COUNT started decades ago
// costs only the window, and gives the same instances there as walked from
// the start.
func TestRecurrenceSkipsToTheWindow(t *testing.T) {
	t.Parallel()
	london, _ := time.LoadLocation("Europe/London")
	for _, rule := range []string{"FREQ=DAILY", "FREQ=WEEKLY;BYDAY=TU;INTERVAL=3", "FREQ=MONTHLY;BYDAY=-1FR", "FREQ=YEARLY;BYMONTH=4", "FREQ=HOURLY;INTERVAL=5", "FREQ=MINUTELY;INTERVAL=7"} {
		t.Run(rule, func(t *testing.T) {
			start := time.Date(1961, 4, 3, 10, 0, 0, 0, london)
			from, end := time.Date(2025, 4, 1, 0, 0, 0, 0, time.UTC), time.Date(2025, 5, 8, 0, 0, 0, 0, time.UTC)
			r, err := ParseRecur(rule, london)
			if err != nil {
				t.Fatal(err)
			}
			collect := func(from time.Time, b *Budget) []time.Time {
				var out []time.Time
				if err := r.Each(start, from, end, b, func(v time.Time) bool {
					if !v.Before(time.Date(2025, 4, 1, 0, 0, 0, 0, time.UTC)) {
						out = append(out, v)
					}
					return true
				}); err != nil {
					t.Fatal(err)
				}
				return out
			}
			small := NewBudget(context.Background(), 60_000)
			got := collect(from, small)
			want := collect(start, NewBudget(context.Background(), 1<<40))
			if diff := cmp.Diff(want, got); diff != "" || len(got) == 0 {
				t.Errorf("skipping to the window changed the instances (-walked +skipped):\n%s", diff)
			}
		})
	}
}

// TestRecurrenceBounded: rules that loop without end in rrule-go, or walk
// to the year 9999, or yield an instance a second for decades, stop at the
// budget with ErrTooComplex, or when the context ends.
func TestRecurrenceBounded(t *testing.T) {
	t.Parallel()
	start := time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC)
	end := time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		rule string
		want error
	}{
		{"FREQ=SECONDLY;COUNT=2000000000", ErrTooComplex},
		{"FREQ=SECONDLY;INTERVAL=86400;BYSECOND=1", ErrTooComplex},
		{"FREQ=HOURLY;INTERVAL=24;BYHOUR=1", nil},           // never matches: a day at a time
		{"FREQ=DAILY;BYMONTH=2;BYMONTHDAY=31;COUNT=3", nil}, // never matches; walks 55 years of days, within the budget
		{"FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30", nil},
		{"FREQ=MINUTELY;BYSETPOS=1;BYMONTH=2;BYMONTHDAY=30;COUNT=5", nil},
		{"FREQ=MINUTELY;COUNT=100000000", ErrTooComplex},
	} {
		t.Run(tc.rule, func(t *testing.T) {
			t.Parallel()
			r, err := ParseRecur(tc.rule, time.UTC)
			if err != nil {
				t.Fatal(err)
			}
			t0 := time.Now()
			n := 0
			err = r.Each(start, start, end, NewBudget(context.Background(), 100_000), func(time.Time) bool { n++; return true })
			if tc.want == nil && n != 0 {
				t.Errorf("%d instances of a rule that matches nothing", n)
			}
			if !errors.Is(err, tc.want) {
				t.Errorf("each = %v, want %v", err, tc.want)
			}
			if d := time.Since(t0); d > 10*time.Second { // a backstop: the budget is what stops it
				t.Errorf("took %v", d)
			}
		})
	}
	t.Run("context", func(t *testing.T) {
		t.Parallel()
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		r, _ := ParseRecur("FREQ=SECONDLY", time.UTC)
		err := r.Each(start, start, end, NewBudget(ctx, 1<<40), func(time.Time) bool { return true })
		if !errors.Is(err, context.Canceled) {
			t.Errorf("each = %v, want context.Canceled", err)
		}
	})
}
