package calendar

import (
	"slices"
	"time"
)

// Interval is the half-open span of time [Start, End). An interval whose End
// is not after its Start is empty.
type Interval struct {
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
}

// Empty reports whether the interval contains no instant.
func (iv Interval) Empty() bool { return !iv.End.After(iv.Start) }

// Duration is the length of the interval, zero when it is empty.
func (iv Interval) Duration() time.Duration {
	if iv.Empty() {
		return 0
	}
	return iv.End.Sub(iv.Start)
}

// Overlaps reports whether the two intervals share at least one instant.
// Intervals that only touch (one ends when the other starts) do not overlap.
func (iv Interval) Overlaps(o Interval) bool {
	return iv.Start.Before(o.End) && o.Start.Before(iv.End) && !iv.Empty() && !o.Empty()
}

// Contains reports whether o lies entirely within iv.
func (iv Interval) Contains(o Interval) bool {
	return !o.Start.Before(iv.Start) && !o.End.After(iv.End)
}

func compareIntervals(a, b Interval) int {
	if c := a.Start.Compare(b.Start); c != 0 {
		return c
	}
	return a.End.Compare(b.End)
}

// Merge returns the union of the intervals as a sorted list of disjoint,
// non-adjacent, non-empty intervals. It sorts ivs in place and reuses its
// storage.
func Merge(ivs []Interval) []Interval {
	if !slices.IsSortedFunc(ivs, compareIntervals) {
		slices.SortFunc(ivs, compareIntervals)
	}
	out := ivs[:0]
	for _, iv := range ivs {
		if iv.Empty() {
			continue
		}
		if n := len(out); n > 0 && !iv.Start.After(out[n-1].End) {
			if iv.End.After(out[n-1].End) {
				out[n-1].End = iv.End
			}
			continue
		}
		out = append(out, iv)
	}
	return out
}

// Subtract returns the parts of a not covered by b. Both must be merged
// (sorted and disjoint, as Merge returns them); so is the result.
func Subtract(a, b []Interval) []Interval {
	var out []Interval
	j := 0
	for _, iv := range a {
		cur := iv
		for j < len(b) && !b[j].End.After(cur.Start) {
			j++
		}
		for k := j; k < len(b) && b[k].Start.Before(cur.End); k++ {
			if b[k].Start.After(cur.Start) {
				out = append(out, Interval{cur.Start, b[k].Start})
			}
			if b[k].End.After(cur.Start) {
				cur.Start = b[k].End
			}
			if !cur.End.After(cur.Start) {
				break
			}
		}
		if cur.End.After(cur.Start) {
			out = append(out, cur)
		}
	}
	return out
}

// Intersect returns the instants in both a and b. Both must be merged; so is
// the result.
func Intersect(a, b []Interval) []Interval {
	var out []Interval
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		start := later(a[i].Start, b[j].Start)
		end := earlier(a[i].End, b[j].End)
		if start.Before(end) {
			out = append(out, Interval{start, end})
		}
		if a[i].End.Before(b[j].End) {
			i++
		} else {
			j++
		}
	}
	return out
}

// Clip returns the parts of the merged intervals ivs that lie within window.
func Clip(ivs []Interval, window Interval) []Interval {
	return Intersect(ivs, []Interval{window})
}

// firstEndingAfter returns the index of the first interval of the merged
// list ivs that ends after t.
func firstEndingAfter(ivs []Interval, t time.Time) int {
	i, _ := slices.BinarySearchFunc(ivs, t, func(iv Interval, t time.Time) int {
		if iv.End.After(t) {
			return 1
		}
		return -1
	})
	return i
}

// overlapsAny reports whether iv overlaps any interval of the merged list ivs.
func overlapsAny(ivs []Interval, iv Interval) bool {
	i := firstEndingAfter(ivs, iv.Start)
	return i < len(ivs) && ivs[i].Start.Before(iv.End)
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func earlier(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
