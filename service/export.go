package service

import (
	"context"
	"slices"
	"time"
)

// ExportRow is one discussion and its outcome as the case system or a
// return takes it: ids, the statutory timescale and whether it was met,
// the times, the outcome and the follow-ons' states, and which agencies
// were present. No name, address, allegation or free text is in it.
type ExportRow struct {
	ID            string           `json:"id"`
	CaseReference string           `json:"case_reference"`
	Area          string           `json:"area"`
	Status        DiscussionStatus `json:"status"`
	RAG           string           `json:"rag,omitempty"`
	Deadline      time.Time        `json:"deadline"`
	BindingRule   string           `json:"binding_rule"`
	Start         *time.Time       `json:"start,omitempty"`
	End           *time.Time       `json:"end,omitempty"`
	HeldAt        *time.Time       `json:"held_at,omitempty"`
	ConcludedAt   *time.Time       `json:"concluded_at,omitempty"`
	Outcome       string           `json:"outcome,omitempty"`
	// WithinTimescale: held (started) by the deadline; LateMinutes is how
	// late it was held, or is, if not held and the deadline has passed.
	WithinTimescale bool      `json:"within_timescale"`
	LateMinutes     int64     `json:"late_minutes"`
	Breached        bool      `json:"breached"`
	FollowOnsMet    int       `json:"follow_ons_met"`
	FollowOnsLate   int       `json:"follow_ons_met_late"`
	FollowOnsMissed int       `json:"follow_ons_missed"`
	FollowOnsOpen   int       `json:"follow_ons_open"`
	AgenciesPresent []string  `json:"agencies_present"`
	CreatedAt       time.Time `json:"created_at"`
}

// ExportColumns are the CSV export's columns, in order.
var ExportColumns = []string{"id", "case_reference", "area", "status", "rag", "deadline", "binding_rule", "start", "end", "held_at",
	"concluded_at", "outcome", "within_timescale", "late_minutes", "breached", "follow_ons_met", "follow_ons_met_late",
	"follow_ons_missed", "follow_ons_open", "agencies_present", "created_at"}

// Record is the row as CSV fields, in ExportColumns' order.
func (r *ExportRow) Record() []string {
	t := func(p *time.Time) string {
		if p == nil {
			return ""
		}
		return p.UTC().Format(time.RFC3339)
	}
	b := func(v bool) string {
		if v {
			return "true"
		}
		return "false"
	}
	return []string{r.ID, r.CaseReference, r.Area, string(r.Status), r.RAG, r.Deadline.UTC().Format(time.RFC3339), r.BindingRule,
		t(r.Start), t(r.End), t(r.HeldAt), t(r.ConcludedAt), r.Outcome, b(r.WithinTimescale), itoa(int(r.LateMinutes)), b(r.Breached),
		itoa(r.FollowOnsMet), itoa(r.FollowOnsLate), itoa(r.FollowOnsMissed), itoa(r.FollowOnsOpen), joinSorted(r.AgenciesPresent),
		r.CreatedAt.UTC().Format(time.RFC3339)}
}

func joinSorted(ss []string) string {
	out := ""
	for i, s := range ss {
		if i > 0 {
			out += ";"
		}
		out += s
	}
	return out
}

// area is the procedure profile the discussion's clock ran on: each area
// edits its own.
func (d *Discussion) area() string {
	if d.Timescale.Profile != "" {
		return d.Timescale.Profile
	}
	return "default"
}

// heldAt is when the discussion was held (its start), or nil.
func (d *Discussion) heldAt() *time.Time {
	if d.Started == nil {
		return nil
	}
	t := d.Started.At.UTC()
	return &t
}

// lateness is how late the discussion was held, or is as of now if it is
// not held and the deadline has passed; 0 when within its timescale.
func (d *Discussion) lateness(now time.Time) time.Duration {
	at := now
	if h := d.heldAt(); h != nil {
		at = *h
	}
	if at.After(d.Deadline) {
		return at.Sub(d.Deadline)
	}
	return 0
}

// followOnOutcome sorts a follow-on: met on time, met late, missed, or open.
func followOnOutcome(f *FollowOn) string {
	switch f.state() {
	case FollowOnMet:
		at := f.MetAt
		if at == nil {
			at = f.DoneAt
		}
		if at != nil && at.After(f.Due) {
			return "late"
		}
		return "met"
	case FollowOnMissed:
		return "missed"
	}
	return "open"
}

// exportRow builds the row of d as of now.
func exportRow(d *Discussion, now time.Time) *ExportRow {
	r := &ExportRow{ID: d.ID, CaseReference: d.CaseReference, Area: d.area(), Status: d.Status, RAG: string(d.Case.RAG),
		Deadline: d.Deadline.UTC(), BindingRule: d.Timescale.BindingRule.ID, HeldAt: d.heldAt(), Breached: d.Breach != nil,
		AgenciesPresent: []string{}, CreatedAt: d.CreatedAt.UTC()}
	if b := d.Booking; b != nil && d.Status != StatusCancelled {
		s, e := b.Start.UTC(), b.End.UTC()
		r.Start, r.End = &s, &e
	}
	if d.Outcome != nil {
		t := d.Outcome.RecordedAt.UTC()
		r.ConcludedAt, r.Outcome = &t, string(d.Outcome.Outcome)
	}
	late := d.lateness(now)
	r.WithinTimescale = r.HeldAt != nil && late == 0
	r.LateMinutes = int64(late / time.Minute)
	for i := range d.FollowOns {
		switch followOnOutcome(&d.FollowOns[i]) {
		case "met":
			r.FollowOnsMet++
		case "late":
			r.FollowOnsLate++
		case "missed":
			r.FollowOnsMissed++
		default:
			r.FollowOnsOpen++
		}
	}
	for _, c := range d.CheckIns {
		if a := string(c.Agency); a != "" && !slices.Contains(r.AgenciesPresent, a) {
			r.AgenciesPresent = append(r.AgenciesPresent, a)
		}
	}
	slices.Sort(r.AgenciesPresent)
	return r
}

// PeriodFilter is a range of statutory deadlines, [From, To).
type PeriodFilter struct {
	From, To time.Time
}

// maxPeriod bounds an export or figures request: five years. Both read a
// page at a time, so the bound is on the work, not the memory.
const maxPeriod = 5 * 366 * 24 * time.Hour

func (f PeriodFilter) validate() error {
	var fe Fields
	switch {
	case f.From.IsZero():
		fe.Add("from", "is required")
	case f.To.IsZero():
		fe.Add("to", "is required")
	case !f.To.After(f.From):
		fe.Add("to", "must be after from")
	case f.To.Sub(f.From) > maxPeriod:
		fe.Add("to", "must be at most five years after from")
	}
	return fe.Err("the period is not valid")
}

// exportPage is how many discussions are read at a time: an export of
// 100,000 discussions holds one page in memory, not all of them.
const exportPage = 200

// eachDiscussion calls fn with every discussion whose deadline is in f,
// by deadline, a page at a time.
func (a *App) eachDiscussion(ctx context.Context, f PeriodFilter, fn func(d *Discussion) error) error {
	df := DiscussionFilter{DeadlineFrom: f.From.UTC(), DueBefore: f.To.UTC(), Limit: exportPage}
	for {
		page, err := a.Store.Discussions(ctx, df)
		if err != nil {
			return err
		}
		for i := range page {
			if err := fn(&page[i]); err != nil {
				return err
			}
		}
		if len(page) < exportPage {
			return nil
		}
		last := page[len(page)-1]
		df.AfterDeadline, df.AfterID = last.Deadline, last.ID
	}
}

// ExportDiscussions streams, to emit, every discussion whose statutory
// deadline is in f with its outcome, by deadline: for business support and
// administrators (the case system's account, returns). The export is
// audited before anything is read, with the period.
func (a *App) ExportDiscussions(ctx context.Context, f PeriodFilter, emit func(*ExportRow) error) error {
	if _, err := require(ctx, RoleBusinessSupport, RoleAdmin); err != nil {
		return err
	}
	if err := f.validate(); err != nil {
		return err
	}
	if err := a.audit(ctx, "discussion.export", "discussions", map[string]any{"from": f.From.UTC(), "to": f.To.UTC()}); err != nil {
		return err
	}
	now := a.Now().UTC()
	return a.eachDiscussion(ctx, f, func(d *Discussion) error { return emit(exportRow(d, now)) })
}
