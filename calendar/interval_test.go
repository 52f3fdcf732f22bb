package calendar_test

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/convene/convene/calendar"
)

// at is 09:00 UTC on 24 March 2025 plus h hours: short names for tables.
func at(h float64) time.Time {
	return time.Date(2025, 3, 24, 9, 0, 0, 0, time.UTC).Add(time.Duration(h * float64(time.Hour)))
}

func iv(a, b float64) calendar.Interval { return calendar.Interval{Start: at(a), End: at(b)} }

func ivs(pairs ...float64) []calendar.Interval {
	out := []calendar.Interval{}
	for i := 0; i < len(pairs); i += 2 {
		out = append(out, iv(pairs[i], pairs[i+1]))
	}
	return out
}

func TestMerge(t *testing.T) {
	tests := []struct {
		name string
		in   []calendar.Interval
		want []calendar.Interval
	}{
		{"empty", ivs(), ivs()},
		{"one", ivs(0, 1), ivs(0, 1)},
		{"disjoint, unsorted", ivs(3, 4, 0, 1), ivs(0, 1, 3, 4)},
		{"overlapping", ivs(0, 2, 1, 3), ivs(0, 3)},
		{"touching join", ivs(0, 1, 1, 2), ivs(0, 2)},
		{"contained", ivs(0, 5, 1, 2, 3, 4), ivs(0, 5)},
		{"empty intervals dropped", ivs(1, 1, 2, 1.5, 3, 4), ivs(3, 4)},
		{"chain", ivs(4, 6, 0, 2, 1, 3, 2.5, 4.5), ivs(0, 6)},
		{"duplicates", ivs(0, 1, 0, 1, 0, 1), ivs(0, 1)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, calendar.Merge(tc.in)); diff != "" {
				t.Errorf("Merge (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSubtractIntersect(t *testing.T) {
	tests := []struct {
		name          string
		a, b          []calendar.Interval
		minus, common []calendar.Interval
	}{
		{"nothing taken", ivs(0, 8), ivs(), ivs(0, 8), ivs()},
		{"hole in the middle", ivs(0, 8), ivs(2, 3), ivs(0, 2, 3, 8), ivs(2, 3)},
		{"clipped both ends", ivs(0, 8), ivs(-1, 1, 7, 9), ivs(1, 7), ivs(0, 1, 7, 8)},
		{"covered", ivs(0, 8), ivs(-1, 9), ivs(), ivs(0, 8)},
		{"touching is not overlapping", ivs(0, 2), ivs(2, 3), ivs(0, 2), ivs()},
		{"several against several", ivs(0, 2, 4, 6, 8, 10), ivs(1, 5, 9, 9.5), ivs(0, 1, 5, 6, 8, 9, 9.5, 10), ivs(1, 2, 4, 5, 9, 9.5)},
		{"b between a's", ivs(0, 1, 3, 4), ivs(1.5, 2.5), ivs(0, 1, 3, 4), ivs()},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := calendar.Subtract(tc.a, tc.b)
			if got == nil {
				got = ivs()
			}
			if diff := cmp.Diff(tc.minus, got); diff != "" {
				t.Errorf("Subtract (-want +got):\n%s", diff)
			}
			got = calendar.Intersect(tc.a, tc.b)
			if got == nil {
				got = ivs()
			}
			if diff := cmp.Diff(tc.common, got); diff != "" {
				t.Errorf("Intersect (-want +got):\n%s", diff)
			}
		})
	}
}

func TestIntervalPredicates(t *testing.T) {
	tests := []struct {
		name               string
		a, b               calendar.Interval
		overlaps, contains bool
	}{
		{"same", iv(0, 1), iv(0, 1), true, true},
		{"inside", iv(0, 4), iv(1, 2), true, true},
		{"touching", iv(0, 1), iv(1, 2), false, false},
		{"partial", iv(0, 2), iv(1, 3), true, false},
		{"empty never overlaps", iv(0, 4), iv(2, 2), false, true},
	}
	for _, tc := range tests {
		if got, want := tc.a.Overlaps(tc.b), tc.overlaps; got != want {
			t.Errorf("%s: Overlaps = %v, want %v", tc.name, got, want)
		}
		if got, want := tc.a.Contains(tc.b), tc.contains; got != want {
			t.Errorf("%s: Contains = %v, want %v", tc.name, got, want)
		}
	}
}
