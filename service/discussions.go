package service

import (
	"context"
	"strings"
	"time"
)

// canSee reports whether p may read d: business support, who run
// discussions, or a chair or agency representative who is invited to it
// (DOMAIN.md, data protection: "limited to its participants and the CSC
// staff who run it").
func canSee(p *Principal, d *Discussion) bool {
	if p.Has(RoleBusinessSupport) {
		return true
	}
	return p.Email != "" && d.invitee(p.Email) != nil && p.Has(RoleChair, RoleAgencyRep)
}

// isChairOf reports whether p is d's chair.
func isChairOf(p *Principal, d *Discussion) bool {
	c := d.chair()
	return c != nil && p.Has(RoleChair) && p.Email != "" && strings.EqualFold(c.Email, p.Email)
}

// canManage reports whether p may change d's booking and invitations:
// business support, or its chair.
func canManage(p *Principal, d *Discussion) bool {
	return p.Has(RoleBusinessSupport) || isChairOf(p, d)
}

// notFound is what anyone who may not see a discussion gets, so that its
// existence does not leak.
func notFound(id string) error { return Errorf(ENOTFOUND, "discussion %s not found", id) }

// Discussion returns a discussion to someone who may see it. The read is
// audited.
func (a *App) Discussion(ctx context.Context, id string) (*Discussion, error) {
	d, _, err := a.read(ctx, id, "discussion.read")
	return d, err
}

// read loads a discussion for a principal who may see it and audits the
// read as action.
func (a *App) read(ctx context.Context, id, action string) (*Discussion, *Principal, error) {
	p, err := require(ctx)
	if err != nil {
		return nil, nil, err
	}
	d, err := a.Store.Discussion(ctx, id)
	if ErrorCode(err) == ENOTFOUND {
		return nil, nil, notFound(id)
	} else if err != nil {
		return nil, nil, err
	}
	if !canSee(p, d) {
		return nil, nil, a.denied(ctx, action, id)
	}
	if err := a.audit(ctx, action, "discussions/"+id, nil); err != nil {
		return nil, nil, err
	}
	return d, p, nil
}

// Manages reports whether the caller may manage d (business support or its
// chair): they see its outbox and held replies.
func (a *App) Manages(ctx context.Context, d *Discussion) bool {
	return canManage(PrincipalFrom(ctx), d)
}

// DiscussionMessages returns the outbox of a discussion its caller may
// manage: who was sent what, and whether it went.
func (a *App) DiscussionMessages(ctx context.Context, d *Discussion) ([]OutboxMessage, error) {
	p := PrincipalFrom(ctx)
	if !canManage(p, d) {
		return nil, nil
	}
	ids := make([]string, len(d.Outbox))
	for i, r := range d.Outbox {
		ids[i] = r.ID
	}
	return a.Store.Messages(ctx, ids)
}

// Discussions lists discussions by deadline. Business support see all;
// chairs and agency representatives see those they are invited to. The
// list is audited with the ids it returned.
func (a *App) Discussions(ctx context.Context, f DiscussionFilter) ([]Discussion, error) {
	p, err := require(ctx)
	if err != nil {
		return nil, err
	}
	if !p.Has(RoleBusinessSupport) {
		if p.Email == "" || !p.Has(RoleChair, RoleAgencyRep) {
			return []Discussion{}, nil
		}
		f.VisibleTo = strings.ToLower(p.Email)
	}
	f.Limit = PageLimit(f.Limit)
	f.Summary = true // a list shows summaries; a discussion's read shows its timeline
	ds, err := a.Store.Discussions(ctx, f)
	if err != nil {
		return nil, err
	}
	ids := make([]string, len(ds))
	for i := range ds {
		ids[i] = ds[i].ID
	}
	if err := a.audit(ctx, "discussion.list", "discussions", map[string]any{"ids": ids}); err != nil {
		return nil, err
	}
	return ds, nil
}

// change is transition for what a user does to a discussion they may see.
func (a *App) change(ctx context.Context, id, action string, fn func(d *Discussion, p *Principal) (Effects, error)) (*Discussion, error) {
	return a.transition(ctx, id, action, canSee, fn)
}

// systemChange is transition for what the service does on its own account
// or on a channel's (an email reply, an RSVP link, the deadline watch): the
// principal in ctx names the actor for the audit log, and fn does its own
// checks.
func (a *App) systemChange(ctx context.Context, id, action string, fn func(d *Discussion, p *Principal) (Effects, error)) (*Discussion, error) {
	return a.transition(ctx, id, action, nil, fn)
}

// transition makes every change to a discussion the same way: load,
// authorise, apply the domain's transition (fn), hold the time it asks for,
// persist what changed (a patch guarded by the version and revisions
// loaded), release the time it gives back, audit, and send its messages.
// When someone else saved first, it runs again on what they saved, so fn's
// checks see the current state.
func (a *App) transition(ctx context.Context, id, action string, allowed func(*Principal, *Discussion) bool, fn func(d *Discussion, p *Principal) (Effects, error)) (*Discussion, error) {
	p, err := require(ctx)
	if err != nil {
		return nil, err
	}
	var taken []HoldRequest // holds taken by any attempt
	release := func() {
		for _, h := range taken {
			for _, person := range h.Persons {
				if err := a.Store.ReleaseHolds(context.WithoutCancel(ctx), h.BookingID, person); err != nil {
					a.Log.ErrorContext(ctx, "holds not released after a failed change", "booking", h.BookingID, "err", err)
				}
			}
		}
	}
	for attempt := 0; ; attempt++ {
		d, err := a.Store.Discussion(ctx, id)
		if ErrorCode(err) == ENOTFOUND {
			release()
			return nil, notFound(id)
		} else if err != nil {
			release()
			return nil, err
		}
		if allowed != nil && !allowed(p, d) {
			release()
			return nil, a.denied(ctx, action, id)
		}
		before := d.Clone()
		now := a.Now().UTC()
		eff, err := fn(d, p)
		if err != nil {
			release()
			if ErrorCode(err) == EFORBIDDEN {
				_ = a.audit(ctx, action+".denied", "discussions/"+id, nil)
			}
			return nil, err
		}
		// The time first: a change is saved only once the time it books is
		// held, so a failed or raced change never leaves a booking
		// without its holds.
		for _, h := range eff.Hold {
			err := a.hold(ctx, d, h.BookingID, h.Persons, h.Start, h.End)
			if err != nil && h.BestEffort {
				d.record(now, p.Actor(), "hold_clash", strings.Join(h.Persons, ", ")+": "+ErrorMessage(err))
				continue
			} else if err != nil {
				release()
				return nil, err
			}
			taken = append(taken, h)
		}
		patch := Diff(before, d, now)
		if !patch.Empty() {
			err = a.Store.PatchDiscussion(ctx, patch)
			if ErrorCode(err) == ECONFLICT && attempt < 10 {
				time.Sleep(time.Duration(attempt+1) * 3 * time.Millisecond)
				continue
			} else if err != nil {
				release()
				return nil, err
			}
			d.UpdatedAt = now
			if patch.Head != nil {
				d.Version++
			}
		}
		// Saved: what follows must happen even if the caller has gone (a
		// request cancelled, an instance shutting down), or the change is
		// left unaudited and its messages wait for the sweep.
		post, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		// The holds taken belong to it; what it gives back goes.
		for _, r := range eff.Release {
			if err := a.Store.ReleaseHolds(post, r.BookingID, r.Person); err != nil {
				a.Log.ErrorContext(post, "holds not released", "discussion", id, "booking", r.BookingID, "err", err)
			}
		}
		if err := a.audit(post, action, "discussions/"+id, eff.Detail); err != nil {
			return nil, err
		}
		a.flushPending(post, d)
		a.flushRaised(post, d)
		return d, nil
	}
}

// denied audits an attempt on a discussion the caller may not see, and
// answers as if it did not exist.
func (a *App) denied(ctx context.Context, action, id string) error {
	if err := a.audit(ctx, action+".denied", "discussions/"+id, nil); err != nil {
		return err
	}
	return notFound(id)
}
