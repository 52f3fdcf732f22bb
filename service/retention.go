package service

import (
	"context"
	"slices"
	"sync/atomic"
	"time"

	"github.com/convene/convene/service/policy"
)

// RetentionStore is what the retention worker and subject-access searches
// need of a store (issue 16).
type RetentionStore interface {
	// RetentionCandidates lists discussions concluded or cancelled whose
	// last change was before the time, oldest change first, after the
	// cursor (the previous page's last UpdatedAt and ID), with their
	// heads but no timeline.
	RetentionCandidates(ctx context.Context, changedBefore, afterUpdated time.Time, afterID string, limit int) ([]Discussion, error)
	// PurgeDiscussion removes the discussion, if its stored Version is
	// version, and everything kept for it: its elements, timeline,
	// pending and outbox messages (with their raw mail), holds, inbound
	// records, idempotency keys and notices. ECONFLICT if it changed
	// since it was read, ENOTFOUND if it is gone. Audit entries stay:
	// they have their own retention.
	PurgeDiscussion(ctx context.Context, id string, version int64) error
	// PurgeAudit removes the audit entries written before the time and
	// reports how many. Nothing else may delete audit entries.
	PurgeAudit(ctx context.Context, before time.Time) (int64, error)
}

// retentionLease is the store lease the retention worker holds.
const retentionLease = "retention"

// RetentionStats are the retention worker's counts, for the metrics.
type RetentionStats struct {
	// Purged counts discussions purged by this instance; AuditPurged
	// audit entries.
	Purged, AuditPurged atomic.Int64
	// Held is the last pass's count of discussions past their retention
	// but kept because their record is not circulated or a follow-on is
	// still open.
	Held atomic.Int64
	// LastRun is when a pass last finished (Unix seconds).
	LastRun atomic.Int64
}

// RetentionReport is what one pass did.
type RetentionReport struct {
	Purged      []string
	Held        int
	AuditPurged int64
}

// Retainable reports whether discussion d may be purged at now under the
// area's retention r, and if not, why. Convene is not the system of
// record, so once the record has been handed on and the follow-ons are
// closed it keeps the discussion r.DiscussionsMonths from its last change:
//
//   - a cancelled discussion (no record was made) once that long has
//     passed since it was cancelled or last touched;
//   - a concluded one only when its record has been circulated (the
//     hand-off to the participants and, by the record.circulated webhook,
//     the case system) and every follow-on is met; a follow-on still
//     open or missed keeps it, because the work it stands for is not
//     closed;
//   - nothing with messages still to move to the outbox.
//
// The whole discussion goes: Convene keeps no reduced copy for the
// management figures, which are exported (issue 14) before the retention
// period ends.
func Retainable(d *Discussion, r policy.Retention, now time.Time) (bool, string) {
	if r.DiscussionsMonths <= 0 {
		r.DiscussionsMonths = policy.DefaultDiscussionRetentionMonths
	}
	switch d.Status {
	case StatusConcluded, StatusCancelled:
	default:
		return false, "still open"
	}
	if d.UpdatedAt.After(now.AddDate(0, -r.DiscussionsMonths, 0)) {
		return false, "within its retention period"
	}
	if len(d.Pending) > 0 {
		return false, "messages still to be sent"
	}
	if d.Status == StatusCancelled {
		return true, ""
	}
	if d.Circulation == nil {
		return false, "its record was never circulated"
	}
	for _, fo := range d.FollowOns {
		if !fo.Done && fo.State != FollowOnMet {
			return false, "follow-on " + fo.ID + " is not met"
		}
	}
	return true, ""
}

// retention returns the area's retention periods for d (the defaults when
// its profile is unknown).
func (a *App) retention(d *Discussion) policy.Retention {
	if a.Profiles != nil {
		if p, err := a.Profiles.Profile(d.Case.Profile); err == nil {
			return p.Retention()
		}
	}
	return policy.Retention{DiscussionsMonths: policy.DefaultDiscussionRetentionMonths, AuditMonths: policy.DefaultAuditRetentionMonths}
}

// auditRetentionMonths is the longest audit retention of any area.
func (a *App) auditRetentionMonths() int {
	if a.Profiles != nil {
		if n := a.Profiles.AuditRetentionMonths(); n > 0 {
			return n
		}
	}
	return policy.DefaultAuditRetentionMonths
}

// RetentionWorker runs retention passes in the background.
type RetentionWorker struct {
	App *App
	// Owner names this instance in the lease; Interval is the time
	// between passes (default 6h).
	Owner    string
	Interval time.Duration
	Stats    RetentionStats
}

// Run runs the retention worker until ctx ends: a pass each interval, by
// the instance holding the store's retention lease, so that several
// instances can run it and one works.
func (w *RetentionWorker) Run(ctx context.Context) {
	a, owner, interval := w.App, w.Owner, w.Interval
	if interval <= 0 {
		interval = 6 * time.Hour
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	defer func() {
		if err := a.Store.ReleaseLease(context.WithoutCancel(ctx), retentionLease, owner); err != nil {
			a.Log.WarnContext(ctx, "retention lease not released", "err", err)
		}
	}()
	for {
		if ok, err := a.Store.AcquireLease(ctx, retentionLease, owner, a.Now().UTC(), 2*interval); err != nil {
			if ctx.Err() == nil {
				a.Log.WarnContext(ctx, "retention lease", "err", err)
			}
		} else if ok {
			rep, err := a.RetainOnce(ctx)
			w.Stats.Purged.Add(int64(len(rep.Purged)))
			w.Stats.AuditPurged.Add(rep.AuditPurged)
			if err != nil && ctx.Err() == nil {
				a.Log.WarnContext(ctx, "retention", "err", err)
			} else if err == nil {
				w.Stats.Held.Store(int64(rep.Held))
				w.Stats.LastRun.Store(a.Now().Unix())
				if len(rep.Purged) > 0 || rep.AuditPurged > 0 {
					a.Log.InfoContext(ctx, "retention", "discussions_purged", len(rep.Purged), "audit_entries_purged", rep.AuditPurged, "held", rep.Held)
				}
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// RetainOnce makes one retention pass: it purges every discussion past its
// area's retention that Retainable allows, and the audit entries past the
// audit retention. Each purge is audited, as the system.
func (a *App) RetainOnce(ctx context.Context) (RetentionReport, error) {
	ctx = WithPrincipal(ctx, &Principal{Subject: "retention", Name: "Retention"})
	now := a.Now().UTC()
	var rep RetentionReport
	// No area keeps discussions for less than a month: anything changed
	// since then is not looked at.
	before := now.AddDate(0, -1, 0)
	var afterUpdated time.Time
	var afterID string
	const page = 200
	for {
		ds, err := a.Store.RetentionCandidates(ctx, before, afterUpdated, afterID, page)
		if err != nil {
			return rep, err
		}
		for i := range ds {
			d := &ds[i]
			ok, _ := Retainable(d, a.retention(d), now)
			if !ok {
				rep.Held++
				continue
			}
			switch err := a.Store.PurgeDiscussion(ctx, d.ID, d.Version); ErrorCode(err) {
			case "":
			case ECONFLICT, ENOTFOUND:
				continue // changed or gone meanwhile: looked at again next pass
			default:
				return rep, err
			}
			rep.Purged = append(rep.Purged, d.ID)
			if err := a.audit(ctx, "discussion.purge", "discussions/"+d.ID, map[string]any{
				"status": string(d.Status), "last_changed": d.UpdatedAt.UTC().Format(time.RFC3339),
				"profile": d.Case.Profile, "retention_months": a.retention(d).DiscussionsMonths,
			}); err != nil {
				return rep, err
			}
		}
		if len(ds) < page {
			break
		}
		last := ds[len(ds)-1]
		afterUpdated, afterID = last.UpdatedAt, last.ID
	}
	months := a.auditRetentionMonths()
	n, err := a.Store.PurgeAudit(ctx, now.AddDate(0, -months, 0))
	if err != nil {
		return rep, err
	}
	rep.AuditPurged = n
	if n > 0 {
		if err := a.audit(ctx, "audit.purge", "audit", map[string]any{"count": n, "retention_months": months}); err != nil {
			return rep, err
		}
	}
	return rep, nil
}

// CaseSearch finds every discussion touching a case reference, for a
// subject-access or erasure request: those convened under it and those
// linked to them (separate discussions for other children, a reconvened
// discussion). Administrators only; the search is audited.
func (a *App) CaseSearch(ctx context.Context, caseReference string) ([]Discussion, error) {
	if _, err := require(ctx, RoleAdmin); err != nil {
		return nil, err
	}
	if caseReference == "" {
		return nil, Invalid("a case reference is needed", FieldError{Field: "case_reference", Message: "required"})
	}
	var out []Discussion
	seen := map[string]bool{}
	f := DiscussionFilter{CaseReference: caseReference, Summary: true, Limit: 200}
	for {
		page, err := a.Store.Discussions(ctx, f)
		if err != nil {
			return nil, err
		}
		for _, d := range page {
			if !seen[d.ID] {
				seen[d.ID] = true
				out = append(out, d)
			}
		}
		if len(page) < f.Limit {
			break
		}
		last := page[len(page)-1]
		f.AfterDeadline, f.AfterID = last.Deadline, last.ID
	}
	// The discussions linked to these, one step out.
	var linked []string
	for _, d := range out {
		for _, id := range append([]string{d.ParentID, d.FollowUpID}, linkIDs(d.Linked)...) {
			if id != "" && !seen[id] && !slices.Contains(linked, id) {
				linked = append(linked, id)
			}
		}
	}
	for len(linked) > 0 {
		n := min(len(linked), 200)
		ds, err := a.Store.Discussions(ctx, DiscussionFilter{IDs: linked[:n], Summary: true, Limit: n})
		if err != nil {
			return nil, err
		}
		for _, d := range ds {
			seen[d.ID] = true
			out = append(out, d)
		}
		linked = linked[n:]
	}
	ids := make([]string, len(out))
	for i, d := range out {
		ids[i] = d.ID
	}
	if err := a.audit(ctx, "case.search", "cases", map[string]any{"case_reference": caseReference, "discussions": ids}); err != nil {
		return nil, err
	}
	return out, nil
}

func linkIDs(ls []Link) []string {
	out := make([]string, 0, len(ls))
	for _, l := range ls {
		out = append(out, l.ID)
	}
	return out
}
