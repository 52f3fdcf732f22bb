package service

import (
	"context"
	"errors"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/convene/convene/invites"
	"github.com/convene/convene/service/policy"
)

// Mailer is how invitations leave: who they are from, how they are written
// and sent, and how the RSVP links in them are signed.
type Mailer struct {
	Organizer invites.Person
	Composer  *invites.Composer
	Sender    invites.Sender
	// RSVPKey signs RSVP links; PublicURL is where they point. No key, no
	// links.
	RSVPKey   []byte
	PublicURL string
	RSVPTTL   time.Duration
	// Lease is how long a sender holds a message; a send is cut off before
	// its lease ends, so no other sender starts on it while it is in
	// flight. RetryBase is the first retry's delay, doubling to RetryMax;
	// MaxAttempts ends retries.
	Lease       time.Duration
	RetryBase   time.Duration
	RetryMax    time.Duration
	MaxAttempts int
}

func (m *Mailer) defaults() {
	if m.Lease <= 0 {
		m.Lease = 2 * time.Minute
	}
	if m.RetryBase <= 0 {
		m.RetryBase = 30 * time.Second
	}
	if m.RetryMax <= 0 {
		m.RetryMax = 30 * time.Minute
	}
	if m.MaxAttempts <= 0 {
		m.MaxAttempts = 12
	}
	if m.RSVPTTL <= 0 {
		m.RSVPTTL = 14 * 24 * time.Hour
	}
}

// Wake tells the outbox dispatcher there is mail to send.
func (a *App) Wake() {
	select {
	case a.wake <- struct{}{}:
	default:
	}
}

// flushPending moves a discussion's pending messages to the outbox and
// wakes the dispatcher. Failing here loses nothing: the messages stay
// pending on the discussion and the dispatcher's sweep moves them later.
func (a *App) flushPending(ctx context.Context, d *Discussion) {
	if len(d.Pending) == 0 {
		return
	}
	if err := a.movePending(ctx, d); err != nil {
		a.Log.WarnContext(ctx, "pending messages left for the sweep", "discussion", d.ID, "err", err)
	}
	a.Wake()
}

// movePending writes each pending message to the outbox (its id makes this
// idempotent), then removes the moved ones from the discussion.
func (a *App) movePending(ctx context.Context, d *Discussion) error {
	if a.Mail == nil {
		return errors.New("no mailer configured")
	}
	moved := map[string]bool{}
	for _, pm := range d.Pending {
		m := &OutboxMessage{ID: pm.ID, DiscussionID: d.ID, Method: pm.Method, To: pm.To, Sequence: pm.Sequence,
			State: MessageQueued, NextAttempt: a.Now().UTC(), CreatedAt: a.Now().UTC()}
		msg, err := a.render(d, pm)
		if err != nil {
			// Visible in the outbox as failed, with why, rather than lost.
			a.Log.ErrorContext(ctx, "invitation not composed", "discussion", d.ID, "message", pm.ID, "err", err)
			m.State, m.Permanent, m.LastError = MessageFailed, true, "not composed: "+err.Error()
		} else {
			m.MessageID, m.EnvelopeFrom, m.Raw = msg.ID, msg.From, msg.Raw
		}
		if err := a.Store.EnqueueMessage(ctx, m); err != nil {
			return err
		}
		moved[pm.ID] = true
	}
	for attempt := 0; ; attempt++ {
		patch := &DiscussionPatch{ID: d.ID, Version: d.Version, At: a.Now().UTC()}
		for _, pm := range d.Pending {
			if moved[pm.ID] {
				patch.MovedPending = append(patch.MovedPending, MessageRef{ID: pm.ID, Method: pm.Method, To: pm.To, Sequence: pm.Sequence})
			}
		}
		if len(patch.MovedPending) == 0 {
			return nil
		}
		err := a.Store.PatchDiscussion(ctx, patch)
		if err == nil {
			d.Outbox = append(d.Outbox, patch.MovedPending...)
			d.Pending = slices.DeleteFunc(d.Pending, func(p PendingMessage) bool { return moved[p.ID] })
			a.supersede(ctx, d)
			return nil
		}
		if ErrorCode(err) != ECONFLICT || attempt > 8 {
			return err
		}
		fresh, err := a.Store.Discussion(ctx, d.ID)
		if err != nil {
			return err
		}
		*d = *fresh
	}
}

// supersede marks at once the queued messages a later one makes pointless,
// so the outbox shows them as superseded; a sender that holds one checks
// again before sending (sendOne).
func (a *App) supersede(ctx context.Context, d *Discussion) {
	for _, r := range d.Outbox {
		if r.Method != "REQUEST" || !d.supersedes(&OutboxMessage{ID: r.ID, Method: r.Method, To: r.To, Sequence: r.Sequence}) {
			continue
		}
		if err := a.Store.SupersedeMessage(ctx, r.ID, a.Now().UTC()); err != nil {
			a.Log.WarnContext(ctx, "superseded message left queued", "message", r.ID, "err", err)
		}
	}
}

// render writes one pending message as an iMIP email.
func (a *App) render(d *Discussion, pm PendingMessage) (*invites.Message, error) {
	if d.Booking == nil {
		return nil, errors.New("the discussion has no booking")
	}
	m := invites.Meeting{
		UID: d.UID, Sequence: pm.Sequence,
		Summary: "Strategy discussion — case " + d.CaseReference,
		Agenda:  d.Agenda, Start: d.Booking.Start, End: d.Booking.End, TimeZone: a.zone(),
		Location: d.Booking.Location, OnlineURL: d.Booking.OnlineURL,
		Organizer: a.Mail.Organizer, Private: true, Created: d.CreatedAt,
		Sensitive: d.sensitive(),
	}
	if d.Format.Format == policy.FormatMeeting {
		m.Description = "This must be held as a meeting (in person or by video), chaired by a CSC manager."
	}
	var to *Invitee
	for i := range d.Invitees {
		inv := &d.Invitees[i]
		if inv.Email == pm.To {
			to = inv
		}
		if inv.Removed && !(pm.Uninvite && inv.Email == pm.To) {
			continue
		}
		role := invites.RoleOptional
		switch {
		case inv.Chair:
			role = invites.RoleChair
		case inv.Essential:
			role = invites.RoleRequired
		}
		m.Attendees = append(m.Attendees, invites.Attendee{Name: inv.Name, Email: inv.Email, Role: role,
			Stat: partStat(inv.Reply), RSVP: true, DelegatedFrom: inv.DelegatedFrom})
	}
	if to == nil {
		return nil, errors.New("the recipient is not an invitee")
	}
	inv := invites.Invitation{Method: invites.Method(pm.Method), Meeting: m, To: invites.Person{Name: to.Name, Email: to.Email},
		Comment: pm.Comment, Uninvite: pm.Uninvite}
	if pm.Method == "REQUEST" && len(a.Mail.RSVPKey) > 0 && a.Mail.PublicURL != "" {
		links, err := a.rsvpLinks(d, to.Email, pm.Sequence)
		if err != nil {
			return nil, err
		}
		inv.RSVP = links
	}
	return a.Mail.Composer.Compose(inv)
}

// sensitive lists the case's own words that must never reach an
// invitation: the school's name, the interpreter's language and the form
// of abuse are in the request so that the right people are invited, not so
// that they are mailed.
func (d *Discussion) sensitive() []string {
	var out []string
	for _, s := range []string{d.Case.Child.SchoolOrNursery, d.Case.InterpreterLanguage, d.Case.SpecialistExpertise} {
		if len(s) >= 3 {
			out = append(out, s)
		}
	}
	if d.Case.UrgentMinimum != nil && len(d.Case.UrgentMinimum.Reason) >= 3 {
		out = append(out, d.Case.UrgentMinimum.Reason)
	}
	return out
}

func (a *App) rsvpLinks(d *Discussion, email string, seq int) (invites.RSVPLinks, error) {
	now := a.Now()
	link := func(stat invites.PartStat) (string, error) {
		tok, err := invites.SignRSVP(a.Mail.RSVPKey, invites.RSVP{UID: d.UID, Attendee: email, Allowed: []invites.PartStat{stat},
			Sequence: seq, IssuedAt: now, ExpiresAt: now.Add(a.Mail.RSVPTTL)})
		return a.Mail.PublicURL + "/v1/rsvp/" + tok, err
	}
	var l invites.RSVPLinks
	var err1, err2, err3 error
	l.Accept, err1 = link(invites.PartStatAccepted)
	l.Tentative, err2 = link(invites.PartStatTentative)
	l.Decline, err3 = link(invites.PartStatDeclined)
	return l, errors.Join(err1, err2, err3)
}

// partStats pairs each reply with its iTIP PARTSTAT (RFC 5546).
var partStats = []struct {
	reply policy.ReplyStatus
	stat  invites.PartStat
}{
	{policy.ReplyNeedsAction, invites.PartStatNeedsAction},
	{policy.ReplyAccepted, invites.PartStatAccepted},
	{policy.ReplyTentative, invites.PartStatTentative},
	{policy.ReplyDeclined, invites.PartStatDeclined},
	{policy.ReplyDelegated, invites.PartStatDelegated},
}

// partStat maps a reply to its PARTSTAT; NEEDS-ACTION if none.
func partStat(r policy.ReplyStatus) invites.PartStat {
	for _, p := range partStats {
		if p.reply == r {
			return p.stat
		}
	}
	return invites.PartStatNeedsAction
}

// replyOf maps a PARTSTAT to a reply; "" for one Convene does not take.
func replyOf(stat invites.PartStat) policy.ReplyStatus {
	for _, p := range partStats {
		if p.stat == stat {
			return p.reply
		}
	}
	return ""
}

// RunOutbox sends the outbox until ctx ends: it claims one message at a
// time under a lease (so several instances never send the same message in
// normal operation), sends it, and records the result; failures are retried
// with exponential backoff. It also sweeps discussions for messages that
// were decided on but not moved to the outbox (a crash between the two).
// owner names this instance in leases.
func (a *App) RunOutbox(ctx context.Context, owner string) {
	if a.Mail == nil {
		return
	}
	// Changes move their messages to the outbox themselves; the sweep only
	// recovers from a crash between the two, so it need not run often.
	sweep := time.NewTicker(5 * time.Minute)
	defer sweep.Stop()
	poll := time.NewTicker(2 * time.Second)
	defer poll.Stop()
	a.sweepPending(ctx)
	for {
		for ctx.Err() == nil && a.sendOne(ctx, owner) {
		}
		select {
		case <-ctx.Done():
			return
		case <-a.wake:
		case <-poll.C:
		case <-sweep.C:
			a.sweepPending(ctx)
		}
	}
}

func (a *App) sweepPending(ctx context.Context) {
	ds, err := a.Store.DiscussionsWithPending(ctx, 100)
	if err != nil {
		a.Log.WarnContext(ctx, "outbox sweep", "err", err)
		return
	}
	for i := range ds {
		if err := a.movePending(ctx, &ds[i]); err != nil {
			a.Log.WarnContext(ctx, "outbox sweep", "discussion", ds[i].ID, "err", err)
		}
	}
}

// sendOne claims and sends the next message due, reporting whether there
// was one.
func (a *App) sendOne(ctx context.Context, owner string) bool {
	m, err := a.Store.ClaimMessage(ctx, owner, a.Now().UTC(), a.Mail.Lease)
	if ErrorCode(err) == ENOTFOUND {
		return false
	} else if err != nil {
		if ctx.Err() == nil {
			a.Log.WarnContext(ctx, "outbox claim", "err", err)
		}
		return false
	}
	// A message that says nothing a later one does not is not sent (see
	// Discussion.supersedes); nor is one whose result was recorded before
	// its queue entry could be removed.
	if m.State != MessageSending {
		m.LeaseUntil = a.Now().UTC()
		if err := a.Store.UpdateMessage(context.WithoutCancel(ctx), m, owner); err != nil {
			a.Log.ErrorContext(ctx, "outbox result not recorded", "message", m.ID, "err", err)
		}
		return true
	}
	if d, err := a.Store.Discussion(ctx, m.DiscussionID); err == nil && d.supersedes(m) {
		m.State, m.LeaseUntil = MessageSuperseded, a.Now().UTC()
		if err := a.Store.UpdateMessage(context.WithoutCancel(ctx), m, owner); err != nil {
			a.Log.ErrorContext(ctx, "outbox result not recorded", "message", m.ID, "err", err)
		}
		return true
	}
	// The send finishes even if the service is shutting down (a message
	// cut off mid-transfer would be sent again), but never outlives the
	// lease.
	sendCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), a.Mail.Lease*3/4)
	where, err := a.Mail.Sender.Send(sendCtx, &invites.Message{ID: m.MessageID, From: m.EnvelopeFrom, To: []string{m.To}, Raw: m.Raw})
	cancel()
	now := a.Now().UTC()
	m.LeaseUntil = now
	if err == nil {
		m.State, m.SentAt, m.Delivery, m.LastError = MessageSent, &now, where, ""
		a.Log.InfoContext(ctx, "invitation sent", "discussion", m.DiscussionID, "method", m.Method, "to", m.To, "delivery", where)
	} else {
		var se *invites.SendError
		m.LastError = err.Error()
		m.Permanent = errors.As(err, &se) && se.Permanent
		if m.Permanent || m.Attempts >= a.Mail.MaxAttempts {
			m.State = MessageFailed
			a.Log.ErrorContext(ctx, "invitation not delivered", "discussion", m.DiscussionID, "to", m.To, "attempts", m.Attempts, "err", err)
		} else {
			m.State, m.NextAttempt = MessageQueued, now.Add(a.backoff(m.Attempts))
			a.Log.WarnContext(ctx, "invitation delivery will be retried", "discussion", m.DiscussionID, "to", m.To, "attempts", m.Attempts, "at", m.NextAttempt, "err", err)
		}
	}
	if err := a.Store.UpdateMessage(context.WithoutCancel(ctx), m, owner); err != nil {
		a.Log.ErrorContext(ctx, "outbox result not recorded", "message", m.ID, "err", err)
	}
	return true
}

// backoff is the delay before attempt n+1: doubling from RetryBase up to
// RetryMax, with jitter so that a recovering server is not hit all at once.
func (a *App) backoff(attempts int) time.Duration {
	d := a.Mail.RetryBase << min(attempts-1, 20)
	if d > a.Mail.RetryMax || d <= 0 {
		d = a.Mail.RetryMax
	}
	return d/2 + rand.N(d/2+1)
}
