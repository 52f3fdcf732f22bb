package service

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/convene/convene/service/policy"
)

// Watch configures the deadline watch.
type Watch struct {
	// Interval between passes; the lease lasts two intervals.
	Interval time.Duration
	// AtRiskFraction: a discussion not booked once this fraction of the
	// time from convening to its deadline has passed is at risk.
	AtRiskFraction float64
	// ReminderAfter: invitees with no reply this long after the invitation
	// are sent it again, once.
	ReminderAfter time.Duration
	// FollowOnDueSoon: a follow-on's owner is reminded this long before
	// it is due (24 hours if zero).
	FollowOnDueSoon time.Duration
}

// WatchStats are the deadline watch's last counts, for the gauges.
type WatchStats struct {
	AtRisk, Breached, AwaitingReply, OverdueFollowOns atomic.Int64
	LastRun                                           atomic.Int64 // Unix seconds
}

const watchLease = "deadline-watch"

// RunWatch runs the deadline watch until ctx ends. Only the instance
// holding the lease in the store works, so several instances can run it.
func (a *App) RunWatch(ctx context.Context, owner string, w Watch) {
	if w.Interval <= 0 {
		w.Interval = time.Minute
	}
	if w.AtRiskFraction <= 0 || w.AtRiskFraction >= 1 {
		w.AtRiskFraction = 0.5
	}
	if w.ReminderAfter <= 0 {
		w.ReminderAfter = 4 * time.Hour
	}
	t := time.NewTicker(w.Interval)
	defer t.Stop()
	// On the way out the lease goes, so another instance takes over at
	// once rather than after it lapses.
	defer func() {
		if err := a.Store.ReleaseLease(context.WithoutCancel(ctx), watchLease, owner); err != nil {
			a.Log.WarnContext(ctx, "deadline watch lease not released", "err", err)
		}
	}()
	for {
		if ok, err := a.Store.AcquireLease(ctx, watchLease, owner, a.Now().UTC(), 2*w.Interval); err != nil {
			if ctx.Err() == nil {
				a.Log.WarnContext(ctx, "deadline watch lease", "err", err)
			}
		} else if ok {
			if err := a.WatchOnce(ctx, w); err != nil && ctx.Err() == nil {
				a.Log.WarnContext(ctx, "deadline watch", "err", err)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// WatchOnce makes one pass: it flags discussions at risk and those whose
// deadline has passed unmet, chases invitees who have not replied, and
// counts overdue follow-on deadlines.
func (a *App) WatchOnce(ctx context.Context, w Watch) error {
	ctx = WithPrincipal(ctx, &Principal{Subject: "deadline-watch", Name: "Deadline watch"})
	now := a.Now().UTC()
	var atRisk, breached, awaiting, overdue int64
	// Open discussions, and those concluded recently enough to have
	// follow-ons still running: the years of concluded ones stay out of
	// the watch's way.
	passes := []DiscussionFilter{
		{Status: []DiscussionStatus{StatusProposed, StatusBooked, StatusInProgress}, Limit: 200, Summary: true},
		{Status: []DiscussionStatus{StatusConcluded}, DeadlineFrom: now.Add(-followOnHorizon), Limit: 200, Summary: true},
	}
	for _, f := range passes {
		if err := a.watchPass(ctx, f, w, now, &atRisk, &breached, &awaiting, &overdue); err != nil {
			return err
		}
	}
	if err := a.Store.PruneHolds(ctx, now.Add(-24*time.Hour)); err != nil {
		a.Log.WarnContext(ctx, "old holds not pruned", "err", err)
	}
	a.Stats.AtRisk.Store(atRisk)
	a.Stats.Breached.Store(breached)
	a.Stats.AwaitingReply.Store(awaiting)
	a.Stats.OverdueFollowOns.Store(overdue)
	a.Stats.LastRun.Store(now.Unix())
	return nil
}

// followOnHorizon is how far back a concluded discussion's deadline may be
// for its follow-ons to still be running (the longest, the ICPC, is 15
// working days from the discussion).
const followOnHorizon = 90 * 24 * time.Hour

func (a *App) watchPass(ctx context.Context, f DiscussionFilter, w Watch, now time.Time, atRisk, breached, awaiting, overdue *int64) error {
	for {
		page, err := a.Store.Discussions(ctx, f)
		if err != nil {
			return err
		}
		for i := range page {
			d := &page[i]
			if err := a.watchOne(ctx, d, w, now); err != nil {
				a.Log.WarnContext(ctx, "deadline watch", "discussion", d.ID, "err", err)
			}
			if d.AtRisk {
				*atRisk++
			}
			if d.Breach != nil && d.Status != StatusConcluded {
				*breached++
			}
			for _, inv := range d.current() {
				if d.Status == StatusBooked && inv.Reply == policy.ReplyNeedsAction {
					*awaiting++
				}
			}
			for _, fo := range d.FollowOns {
				if !fo.Done && fo.Due.Before(now) {
					*overdue++
				}
			}
		}
		if len(page) < f.Limit {
			return nil
		}
		last := page[len(page)-1]
		f.AfterDeadline, f.AfterID = last.Deadline, last.ID
	}
}

// watchOne updates one discussion's flags, and d with them.
func (a *App) watchOne(ctx context.Context, d *Discussion, w Watch, now time.Time) error {
	needs := func(d *Discussion) (risk, breach bool, remind []string) {
		switch d.Status {
		case StatusProposed:
			breach = d.Breach == nil && now.After(d.Deadline)
			elapsed, total := now.Sub(d.CreatedAt), d.Deadline.Sub(d.CreatedAt)
			risk = !d.AtRisk && !now.After(d.Deadline) && total > 0 && float64(elapsed) >= w.AtRiskFraction*float64(total)
		case StatusBooked:
			breach = d.Breach == nil && now.After(d.Deadline)
			if d.Booking != nil && now.Sub(d.Booking.BookedAt) >= w.ReminderAfter && now.Before(d.Booking.Start) {
				for _, inv := range d.current() {
					if inv.Reply == policy.ReplyNeedsAction && inv.RemindedAt == nil {
						remind = append(remind, inv.Email)
					}
				}
			}
		}
		return risk, breach, remind
	}
	if risk, breach, remind := needs(d); !risk && !breach && len(remind) == 0 && a.followOnWatch(d, w, now).empty() {
		return nil
	}
	watch := w
	saved, err := a.systemChange(ctx, d.ID, "discussion.watch", func(d *Discussion, _ *Principal) (Effects, error) {
		risk, breach, remind := needs(d)
		w := WatchFindings{AtRisk: risk, Left: d.Deadline.Sub(now), Remind: remind, FollowOns: a.followOnWatch(d, watch, now)}
		if breach {
			w.Breach = "the deadline passed before the discussion was held"
			if d.Status == StatusProposed {
				w.Breach = "the deadline passed without a booking"
			}
		}
		return d.Watch(w, now)
	})
	if err != nil {
		return err
	}
	*d = *saved
	return nil
}
