package service

import (
	"cmp"
	"context"
	"slices"
	"strings"
	"time"
)

// Management information (issue 14) that only Convene can give: per month
// of the statutory deadline (in the area's time), per area (procedure
// profile) and per RAG rating, how many discussions were held within their
// statutory timescale and how late the others were; per agency, how often
// its essential places were filled at the seniority the procedure requires;
// and per follow-on, how many were met on time.

// Figures are the management figures for discussions whose deadline is in
// [From, To), as of AsOf.
type Figures struct {
	From       time.Time          `json:"from"`
	To         time.Time          `json:"to"`
	AsOf       time.Time          `json:"as_of"`
	Timeliness []TimelinessFigure `json:"timeliness"`
	Attendance []AttendanceFigure `json:"attendance"`
	FollowOns  []FollowOnFigure   `json:"follow_ons"`
}

// TimelinessFigure counts one month's discussions of one area and RAG
// rating. Discussions = HeldWithin + HeldLate + Overdue + Pending +
// Cancelled. Lateness is over those held late: the median (the mean of the
// two middle values for an even count, rounded down to the minute), the
// maximum, and counts by band (up to an hour, up to a day, up to three
// days, more).
type TimelinessFigure struct {
	Period      string `json:"period"`
	Area        string `json:"area"`
	RAG         string `json:"rag"`
	Discussions int    `json:"discussions"`
	HeldWithin  int    `json:"held_within"`
	HeldLate    int    `json:"held_late"`
	// Overdue: not held and the deadline has passed; Pending: not held,
	// and still in time.
	Overdue           int   `json:"overdue"`
	Pending           int   `json:"pending"`
	Cancelled         int   `json:"cancelled"`
	MedianLateMinutes int64 `json:"median_late_minutes"`
	MaxLateMinutes    int64 `json:"max_late_minutes"`
	LateUpTo1h        int   `json:"late_up_to_1h"`
	LateUpTo24h       int   `json:"late_1h_to_24h"`
	LateUpTo72h       int   `json:"late_24h_to_72h"`
	LateOver72h       int   `json:"late_over_72h"`

	late []int64
}

// AttendanceFigure counts, over the discussions held, one agency's
// essential places (the chair's is not counted): filled by someone present
// at the required seniority, by someone present below it, or not at all.
type AttendanceFigure struct {
	Period             string `json:"period"`
	Area               string `json:"area"`
	Agency             string `json:"agency"`
	Required           int    `json:"required"`
	PresentAtSeniority int    `json:"present_at_seniority"`
	PresentBelow       int    `json:"present_below_seniority"`
	Absent             int    `json:"absent"`
}

// FollowOnFigure counts one kind of follow-on: met on time, met late,
// missed, open and overdue (past due, not yet marked), open and not due.
type FollowOnFigure struct {
	Period    string `json:"period"`
	Area      string `json:"area"`
	FollowOn  string `json:"follow_on"`
	Total     int    `json:"total"`
	MetOnTime int    `json:"met_on_time"`
	MetLate   int    `json:"met_late"`
	Missed    int    `json:"missed"`
	Overdue   int    `json:"overdue"`
	Open      int    `json:"open"`
}

// figures accumulates discussions into Figures.
type figures struct {
	zone       *time.Location
	now        time.Time
	timeliness map[[3]string]*TimelinessFigure
	attendance map[[3]string]*AttendanceFigure
	followOns  map[[3]string]*FollowOnFigure
}

func newFigures(zone *time.Location, now time.Time) *figures {
	if zone == nil {
		zone = time.UTC
	}
	return &figures{zone: zone, now: now, timeliness: map[[3]string]*TimelinessFigure{},
		attendance: map[[3]string]*AttendanceFigure{}, followOns: map[[3]string]*FollowOnFigure{}}
}

// add counts one discussion.
func (f *figures) add(d *Discussion) {
	period, area := d.Deadline.In(f.zone).Format("2006-01"), d.area()
	rag := string(d.Case.RAG)
	if rag == "" {
		rag = "none"
	}
	k := [3]string{period, area, rag}
	t := f.timeliness[k]
	if t == nil {
		t = &TimelinessFigure{Period: period, Area: area, RAG: rag}
		f.timeliness[k] = t
	}
	t.Discussions++
	late := d.lateness(f.now)
	switch {
	case d.Status == StatusCancelled:
		t.Cancelled++
	case d.heldAt() == nil && late > 0:
		t.Overdue++
	case d.heldAt() == nil:
		t.Pending++
	case late == 0:
		t.HeldWithin++
	default:
		t.HeldLate++
		t.late = append(t.late, int64(late/time.Minute))
		switch {
		case late <= time.Hour:
			t.LateUpTo1h++
		case late <= 24*time.Hour:
			t.LateUpTo24h++
		case late <= 72*time.Hour:
			t.LateUpTo72h++
		default:
			t.LateOver72h++
		}
	}
	if d.heldAt() != nil {
		f.addAttendance(d, period, area)
	}
	for i := range d.FollowOns {
		fo := &d.FollowOns[i]
		k := [3]string{period, area, fo.ID}
		x := f.followOns[k]
		if x == nil {
			x = &FollowOnFigure{Period: period, Area: area, FollowOn: fo.ID}
			f.followOns[k] = x
		}
		x.Total++
		switch followOnOutcome(fo) {
		case "met":
			x.MetOnTime++
		case "late":
			x.MetLate++
		case "missed":
			x.Missed++
		default:
			if f.now.After(fo.Due) {
				x.Overdue++
			} else {
				x.Open++
			}
		}
	}
}

// addAttendance counts a held discussion's essential places by agency.
func (f *figures) addAttendance(d *Discussion, period, area string) {
	for _, req := range d.Attendance.Requirements {
		if !req.Essential || req.Chair {
			continue
		}
		agency := "any"
		if len(req.Agencies) > 0 {
			names := make([]string, len(req.Agencies))
			for i, a := range req.Agencies {
				names[i] = string(a)
			}
			agency = strings.Join(names, "/")
		}
		k := [3]string{period, area, agency}
		x := f.attendance[k]
		if x == nil {
			x = &AttendanceFigure{Period: period, Area: area, Agency: agency}
			f.attendance[k] = x
		}
		x.Required++
		present, atSeniority := false, false
		for _, c := range d.CheckIns {
			if len(req.Agencies) > 0 && !slices.Contains(req.Agencies, c.Agency) {
				continue
			}
			present = true
			if c.Seniority >= req.MinSeniority.Level {
				atSeniority = true
			}
		}
		switch {
		case atSeniority:
			x.PresentAtSeniority++
		case present:
			x.PresentBelow++
		default:
			x.Absent++
		}
	}
}

// result returns the figures, each table sorted by its keys.
func (f *figures) result(from, to time.Time) *Figures {
	out := &Figures{From: from.UTC(), To: to.UTC(), AsOf: f.now.UTC(),
		Timeliness: []TimelinessFigure{}, Attendance: []AttendanceFigure{}, FollowOns: []FollowOnFigure{}}
	for _, t := range sortedValues(f.timeliness) {
		if n := len(t.late); n > 0 {
			slices.Sort(t.late)
			t.MedianLateMinutes = t.late[(n-1)/2]
			if n%2 == 0 {
				t.MedianLateMinutes = (t.late[n/2-1] + t.late[n/2]) / 2
			}
			t.MaxLateMinutes = t.late[n-1]
		}
		t.late = nil
		out.Timeliness = append(out.Timeliness, *t)
	}
	for _, a := range sortedValues(f.attendance) {
		out.Attendance = append(out.Attendance, *a)
	}
	for _, x := range sortedValues(f.followOns) {
		out.FollowOns = append(out.FollowOns, *x)
	}
	return out
}

func sortedValues[V any](m map[[3]string]*V) []*V {
	keys := make([][3]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b [3]string) int {
		return cmp.Or(strings.Compare(a[0], b[0]), strings.Compare(a[1], b[1]), strings.Compare(a[2], b[2]))
	})
	out := make([]*V, len(keys))
	for i, k := range keys {
		out[i] = m[k]
	}
	return out
}

// ManagementFigures computes the figures over the discussions whose
// statutory deadline is in f, reading them a page at a time: for business
// support and administrators, audited.
func (a *App) ManagementFigures(ctx context.Context, f PeriodFilter) (*Figures, error) {
	if _, err := require(ctx, RoleBusinessSupport, RoleAdmin); err != nil {
		return nil, err
	}
	if err := f.validate(); err != nil {
		return nil, err
	}
	if err := a.audit(ctx, "figures.read", "figures", map[string]any{"from": f.From.UTC(), "to": f.To.UTC()}); err != nil {
		return nil, err
	}
	acc := newFigures(a.zone(), a.Now().UTC())
	if err := a.eachDiscussion(ctx, f, func(d *Discussion) error { acc.add(d); return nil }); err != nil {
		return nil, err
	}
	return acc.result(f.From, f.To), nil
}
