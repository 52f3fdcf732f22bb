package service

import (
	"context"
	"errors"
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
	// RSVPKey signs RSVP links; PublicURL is where they point. No key, no
	// links.
	RSVPKey   []byte
	PublicURL string
	RSVPTTL   time.Duration
	// Notify says how notices and webhook events leave (notify.go).
	Notify NotifyOptions
}

func (m *Mailer) defaults() {
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
	var refs []MessageRef
	var queue []*OutboxMessage
	for _, pm := range d.Pending {
		now := a.Now().UTC()
		base := OutboxMessage{ID: pm.ID, DiscussionID: d.ID, Method: pm.Method, To: pm.To, Sequence: pm.Sequence,
			State: MessageQueued, NextAttempt: now, CreatedAt: now}
		msgs, err := a.render(ctx, d, pm)
		var out []*OutboxMessage
		if err != nil {
			// Visible in the outbox as failed, with why, rather than lost.
			a.Log.ErrorContext(ctx, "invitation not composed", "discussion", d.ID, "message", pm.ID, "err", err)
			m := base
			m.State, m.Permanent, m.LastError = MessageFailed, true, "not composed: "+err.Error()
			out = append(out, &m)
		}
		for i, msg := range msgs {
			m := base
			if i > 0 {
				// A counter decline's second message: the unchanged
				// meeting as a REQUEST, which Outlook shows.
				m.ID, m.Method = pm.ID+":request", "REQUEST"
			}
			m.MessageID, m.EnvelopeFrom, m.Raw = msg.ID, msg.From, msg.Raw
			out = append(out, &m)
		}
		for _, m := range out {
			queue = append(queue, m)
			refs = append(refs, MessageRef{ID: m.ID, Method: m.Method, To: m.To, Sequence: m.Sequence})
		}
		moved[pm.ID] = true
	}
	// One write for them all: a booking's invitations go to the outbox
	// together.
	if err := a.Store.EnqueueMessage(ctx, queue...); err != nil {
		return err
	}
	for attempt := 0; ; attempt++ {
		patch := &DiscussionPatch{ID: d.ID, Version: d.Version, At: a.Now().UTC()}
		for _, r := range refs {
			if !slices.ContainsFunc(d.Outbox, func(o MessageRef) bool { return o.ID == r.ID }) {
				patch.MovedPending = append(patch.MovedPending, r)
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

// render writes one pending message as iMIP email: one message, or two for
// a counter decline (see invites.Composer.DeclineCounter). A follow-up
// (update, cancel, reminder, decision) names the recipient's first
// invitation in In-Reply-To and References, so mail clients thread it.
func (a *App) render(ctx context.Context, d *Discussion, pm PendingMessage) ([]*invites.Message, error) {
	if pm.Method == "RECORD" {
		return a.renderRecord(d, pm) // signup.go: plain email, a link, no iCalendar
	}
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
	inv.InReplyTo = a.firstInvitation(ctx, d, pm)
	if (pm.Method == "REQUEST" || pm.Method == "DECLINECOUNTER") && len(a.Mail.RSVPKey) > 0 && a.Mail.PublicURL != "" {
		links, err := a.rsvpLinks(d, to.Email, pm.Sequence)
		if err != nil {
			return nil, err
		}
		inv.RSVP = links
	}
	if pm.CounterID != "" {
		// A counter decision: the DECLINECOUNTER or the unchanged meeting
		// as a REQUEST, each saying the proposed time was not accepted
		// (as invites.Composer.DeclineCounter writes them; each is a
		// pending message of its own, see Discussion.DeclineCounter).
		for _, c := range d.Counters {
			if c.ID == pm.CounterID {
				inv.DeclinedProposal = &invites.Proposal{Start: c.Start, End: c.End}
			}
		}
		if pm.Method == "DECLINECOUNTER" {
			inv.RSVP = invites.RSVPLinks{}
		}
	}
	msg, err := a.Mail.Composer.Compose(inv)
	if err != nil {
		return nil, err
	}
	return []*invites.Message{msg}, nil
}

// firstInvitation is the Message-ID of the first message the recipient
// was sent about the discussion, or "" if this is it.
func (a *App) firstInvitation(ctx context.Context, d *Discussion, pm PendingMessage) string {
	for _, r := range d.Outbox {
		if r.To != pm.To || r.ID == pm.ID {
			continue
		}
		ms, err := a.Store.Messages(ctx, []string{r.ID})
		if err == nil && len(ms) == 1 && ms[0].MessageID != "" {
			return ms[0].MessageID
		}
		return ""
	}
	return ""
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

// Woken is where Wake signals that mail is waiting; the outbox worker
// (service/outbox) listens to it.
func (a *App) Woken() <-chan struct{} { return a.wake }

// SweepPending moves to the outbox the messages of discussions whose change
// was saved but whose messages were not moved (a crash between the two).
func (a *App) SweepPending(ctx context.Context) {
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

// Superseded reports whether a later message of its discussion makes m
// pointless, so the outbox does not send it.
func (a *App) Superseded(ctx context.Context, m *OutboxMessage) bool {
	// The outbox index alone: reading and decoding the whole discussion
	// for each message was a third of the outbox's work.
	refs, err := a.Store.DiscussionOutbox(ctx, m.DiscussionID)
	return err == nil && superseded(refs, m)
}

// MessageFailed records on its discussion's timeline that a message will
// not be delivered (its retries ran out, or the server refused it for
// good), so business support see it and can re-queue it.
func (a *App) MessageFailed(ctx context.Context, m *OutboxMessage) {
	if !m.Invitation() {
		return // a notice, digest or webhook: its own failure raises nothing more
	}
	ctx = WithPrincipal(ctx, &Principal{Subject: "outbox", Name: "Outbox"})
	_, err := a.systemChange(ctx, m.DiscussionID, "discussion.mail.failed", func(d *Discussion, _ *Principal) (Effects, error) {
		d.record(a.Now().UTC(), Actor{Subject: "outbox", Name: "Outbox"}, "mail_failed",
			m.Method+" to "+m.To+" not delivered after "+itoa(m.Attempts)+" attempts")
		d.Notify(NoticeMailFailed, m.ID, a.Now())
		return Effects{Detail: map[string]any{"message": m.ID, "to": m.To}}, nil
	})
	if err != nil {
		a.Log.ErrorContext(ctx, "mail failure not recorded on the discussion", "message", m.ID, "err", err)
	}
}

// RequeueMessage puts a message that failed back on the send queue: for
// business support or the discussion's chair, once the cause is fixed (a
// mailbox full, an address corrected).
func (a *App) RequeueMessage(ctx context.Context, id, messageID string) (*OutboxMessage, error) {
	d, p, err := a.read(ctx, id, "discussion.mail.requeue")
	if err != nil {
		return nil, err
	}
	if !canManage(p, d) {
		return nil, Errorf(EFORBIDDEN, "only business support or the discussion's chair may re-send mail")
	}
	if !slices.ContainsFunc(d.Outbox, func(r MessageRef) bool { return r.ID == messageID }) {
		return nil, Errorf(ENOTFOUND, "no message %s in this discussion's outbox", messageID)
	}
	ms, err := a.Store.Messages(ctx, []string{messageID})
	if err != nil {
		return nil, err
	}
	if len(ms) == 0 {
		return nil, Errorf(ENOTFOUND, "no message %s in this discussion's outbox", messageID)
	}
	now := a.Now().UTC()
	if err := a.Store.RequeueMessage(ctx, messageID, now); err != nil {
		if ErrorCode(err) == ECONFLICT {
			return nil, Errorf(EPRECONDITION, "only a message that failed can be re-sent")
		}
		return nil, err
	}
	a.Wake()
	// The answer is the message as re-queued: a sender may claim it the
	// moment it is, so reading it back could show it already sending.
	m := ms[0]
	m.State, m.Attempts, m.NextAttempt = MessageQueued, 0, now
	m.LeaseOwner, m.LeaseUntil = "", time.Time{}
	return &m, nil
}
