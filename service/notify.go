package service

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"mime"
	"mime/quotedprintable"
	"slices"
	"strings"
	"time"
)

// NoticeKind names something that needs a person's attention: it becomes an
// inbox item for business support and the chair and, by each person's
// choice, an email now or in the daily digest. Notices carry no case
// details, only the kind and a link to the discussion.
type NoticeKind string

// The notices Convene raises (issue 14).
const (
	NoticeDecline          NoticeKind = "decline"
	NoticeCounter          NoticeKind = "counter_proposal"
	NoticeHeldReply        NoticeKind = "held_reply"
	NoticeDelegateBelow    NoticeKind = "delegate_below_seniority"
	NoticeUnknownCalendars NoticeKind = "unknown_calendars"
	NoticeAtRisk           NoticeKind = "at_risk"
	NoticeBreached         NoticeKind = "deadline_breached"
	NoticeFollowOnDue      NoticeKind = "follow_on_due"
	NoticeFollowOnMissed   NoticeKind = "follow_on_missed"
	NoticeRecordDissent    NoticeKind = "record_dissent"
	NoticeRecordUnsigned   NoticeKind = "record_unsigned"
	NoticeMailFailed       NoticeKind = "mail_failed"
)

// NoticeKinds lists every kind, for validation and the API.
var NoticeKinds = []NoticeKind{NoticeDecline, NoticeCounter, NoticeHeldReply, NoticeDelegateBelow, NoticeUnknownCalendars,
	NoticeAtRisk, NoticeBreached, NoticeFollowOnDue, NoticeFollowOnMissed, NoticeRecordDissent, NoticeRecordUnsigned, NoticeMailFailed}

// Words says what the kind means, for emails and the inbox: never a case
// detail.
func (k NoticeKind) Words() string {
	switch k {
	case NoticeDecline:
		return "An invitee declined the invitation"
	case NoticeCounter:
		return "An invitee proposed another time"
	case NoticeHeldReply:
		return "A reply is held for business support to admit or reject"
	case NoticeDelegateBelow:
		return "A delegation to someone below the required seniority is held"
	case NoticeUnknownCalendars:
		return "Some calendars could not be read when the discussion was booked"
	case NoticeAtRisk:
		return "The discussion is at risk of missing its statutory deadline"
	case NoticeBreached:
		return "The statutory deadline was breached"
	case NoticeFollowOnDue:
		return "A follow-on action is due soon"
	case NoticeFollowOnMissed:
		return "A follow-on action was missed"
	case NoticeRecordDissent:
		return "An agency dissented from the record"
	case NoticeRecordUnsigned:
		return "The record is not yet signed by every agency"
	case NoticeMailFailed:
		return "An invitation could not be delivered"
	}
	return string(k)
}

// toChair reports whether the discussion's chair is told of the kind as
// well as business support. Mail failures are for business support alone:
// they re-send the mail.
func (k NoticeKind) toChair() bool { return k != NoticeMailFailed }

// HookEvent names a change the case system is told about by a signed
// webhook (CloudEvents 1.0, type "uk.gov.convene.<event>").
type HookEvent string

// The webhook events (issue 14).
const (
	HookConvened         HookEvent = "discussion.convened"
	HookBooked           HookEvent = "discussion.booked"
	HookStarted          HookEvent = "discussion.started"
	HookConcluded        HookEvent = "discussion.concluded"
	HookRecordCirculated HookEvent = "record.circulated"
	HookRecordSigned     HookEvent = "record.signed"
	HookFollowOnMet      HookEvent = "follow_on.met"
	HookFollowOnMissed   HookEvent = "follow_on.missed"
)

// HookEvents lists every event.
var HookEvents = []HookEvent{HookConvened, HookBooked, HookStarted, HookConcluded, HookRecordCirculated,
	HookRecordSigned, HookFollowOnMet, HookFollowOnMissed}

// Raised is a notice, a webhook event, or the resolution of earlier
// notices, recorded on the discussion with the change that causes it (so a
// crash between the change and its delivery loses nothing), then moved to
// the inbox and the outbox with ids made from its own, so moving it twice
// delivers it once. The list keeps every one ever raised: the same id is
// never raised twice.
type Raised struct {
	// ID is the discussion's id, what it is and its key.
	ID     string     `json:"id"`
	Notice NoticeKind `json:"notice,omitempty"`
	Event  HookEvent  `json:"event,omitempty"`
	// Resolve marks the notices of Notice and Key as dealt with.
	Resolve bool      `json:"resolve,omitempty"`
	Key     string    `json:"key,omitempty"`
	At      time.Time `json:"at"`
	Moved   bool      `json:"moved,omitempty"`
}

// maxRaised bounds the list on one discussion; beyond it nothing more is
// raised (a discussion raises a few dozen in its life).
const maxRaised = 500

// raise records r once by its id, and flags the discussion for the move.
func (d *Discussion) raise(r Raised) {
	if len(d.Raised) >= maxRaised || slices.ContainsFunc(d.Raised, func(o Raised) bool { return o.ID == r.ID }) {
		return
	}
	r.At = r.At.UTC()
	d.Raised = append(d.Raised, r)
	d.RaisedDue = true
}

// Notify records, with the change being made to d, that kind needs
// attention. key tells apart notices of one kind on one discussion (an
// invitee's email, a follow-on's id, a counter's id); the same kind and key
// recorded twice is one notice. Because it is written with the change, a
// crash cannot lose it nor send it twice.
func (d *Discussion) Notify(kind NoticeKind, key string, now time.Time) {
	d.raise(Raised{ID: d.ID + ":notice:" + string(kind) + ":" + key, Notice: kind, Key: key, At: now})
}

// Resolved records, with the change being made to d, that the notices of
// kind and key are dealt with (a counter decided, a held reply admitted or
// rejected): they leave the inbox.
func (d *Discussion) Resolved(kind NoticeKind, key string, now time.Time) {
	if !slices.ContainsFunc(d.Raised, func(o Raised) bool { return !o.Resolve && o.Notice == kind && o.Key == key }) {
		return
	}
	d.raise(Raised{ID: d.ID + ":resolve:" + string(kind) + ":" + key, Notice: kind, Key: key, Resolve: true, At: now})
}

// Publish records, with the change being made to d, that the case system
// must be told about ev. key tells apart events of one kind on one
// discussion; the same event and key recorded twice is delivered once.
func (d *Discussion) Publish(ev HookEvent, key string, now time.Time) {
	d.raise(Raised{ID: d.ID + ":event:" + string(ev) + ":" + key, Event: ev, Key: key, At: now})
}

// InboxBusinessSupport is the recipient of business support's shared
// inbox: the team deals with an item once, for everyone in it.
const InboxBusinessSupport = "business_support"

// Notice is one inbox item: a notice for one recipient (business support's
// shared inbox or a chair's email). It names the discussion and the kind,
// never a case detail.
type Notice struct {
	// ID is the raised notice's id and the recipient.
	ID           string     `json:"id"`
	Recipient    string     `json:"recipient"`
	DiscussionID string     `json:"discussion_id"`
	Kind         NoticeKind `json:"kind"`
	Key          string     `json:"key,omitempty"`
	// Label is the meeting's allow-listed label, as in its invitations.
	Label     string     `json:"label"`
	CreatedAt time.Time  `json:"created_at"`
	ClearedAt *time.Time `json:"cleared_at,omitempty"`
	// ClearedBy says how: "resolved", or who dismissed it.
	ClearedBy string `json:"cleared_by,omitempty"`
}

// InboxFilter selects inbox items, newest first.
type InboxFilter struct {
	Recipients []string
	// All includes cleared items.
	All bool
	// CreatedFrom and CreatedTo bound the creation time [from, to).
	CreatedFrom, CreatedTo time.Time
	// Before is the cursor: the previous page's last item.
	BeforeAt time.Time
	BeforeID string
	Limit    int
}

// Delivery is how a person is emailed about notices.
type Delivery string

// The deliveries.
const (
	DeliveryImmediate Delivery = "immediate"
	DeliveryDigest    Delivery = "digest"
	DeliveryOff       Delivery = "off"
)

// NoticePreference is one person's choice of how notices reach them by
// email. A chair with no preference gets the daily digest (the inbox is
// where notices are dealt with; an email each is for those who ask);
// business support staff who set one are emailed the team's notices too.
type NoticePreference struct {
	Email    string   `json:"email"`
	Delivery Delivery `json:"delivery"`
	// Team: the person is in business support, and receives the shared
	// inbox's notices by email.
	Team      bool      `json:"team"`
	UpdatedAt time.Time `json:"updated_at"`
}

// NoticeStore keeps the inbox and notification preferences.
type NoticeStore interface {
	// AddNotice stores n; one with the same id already there is kept as it
	// is (a repeated move adds nothing).
	AddNotice(ctx context.Context, n *Notice) error
	// Inbox lists items matching f, newest first (created_at, then id).
	Inbox(ctx context.Context, f InboxFilter) ([]Notice, error)
	// ClearNotice marks one open item cleared; ENOTFOUND if there is no
	// open item with the id for one of the recipients.
	ClearNotice(ctx context.Context, id string, recipients []string, at time.Time, by string) error
	// ResolveNotices clears every open item of the discussion, kind and key.
	ResolveNotices(ctx context.Context, discussionID string, kind NoticeKind, key string, at time.Time) error
	// SetNoticePreference stores p, replacing the email's preference.
	SetNoticePreference(ctx context.Context, p *NoticePreference) error
	// NoticePreferences returns the preferences of the emails (all of
	// them when emails is nil).
	NoticePreferences(ctx context.Context, emails []string) ([]NoticePreference, error)
	// DiscussionsRaisedDue lists the ids of discussions whose raised
	// notices or events are not all moved (a crash between the two).
	DiscussionsRaisedDue(ctx context.Context, limit int) ([]string, error)
}

// label is a discussion's allow-listed label: the same words its
// invitations carry.
func (d *Discussion) label() string { return "Strategy discussion — case " + d.CaseReference }

// DiscussionLink is where a discussion's page is, behind sign-in.
func (a *App) DiscussionLink(id string) string {
	base := ""
	if a.Mail != nil {
		base = a.Mail.PublicURL
	}
	return strings.TrimRight(base, "/") + "/discussions/" + id
}

// NotifyOptions configure how notices and webhook events leave (set on the
// Mailer).
type NotifyOptions struct {
	// BusinessSupport is the team mailbox emailed each business-support
	// notice at once; "" for none.
	BusinessSupport string
	// Hooks turns on webhooks to the case system; HookSource is the
	// CloudEvents source (by default the public URL).
	Hooks      bool
	HookSource string
	// DigestHour is the hour of the day (area time, 0 to 23) the daily
	// digests go out; they cover the 24 hours before it.
	DigestHour int
}

// flushRaised moves what a change raised to the inbox and the outbox and,
// if it queued anything to send, wakes the dispatcher. Failing here loses
// nothing: the discussion stays flagged and the sweep (SweepRaised) moves
// it later.
func (a *App) flushRaised(ctx context.Context, d *Discussion) {
	if !d.RaisedDue {
		return
	}
	queued, err := a.moveRaised(ctx, d)
	if err != nil {
		a.Log.WarnContext(ctx, "notices left for the sweep", "discussion", d.ID, "err", err)
	}
	if queued > 0 {
		a.Wake()
	}
}

// moveRaised delivers each raised item not yet moved (idempotently, by ids
// made from its own), then marks them moved on the discussion. It returns
// how many outbox messages it queued.
func (a *App) moveRaised(ctx context.Context, d *Discussion) (queued int, err error) {
	for attempt := 0; ; attempt++ {
		moved := map[string]bool{}
		for _, r := range d.Raised {
			if r.Moved {
				continue
			}
			n, err := a.deliverRaised(ctx, d, r)
			queued += n
			if err != nil {
				return queued, err
			}
			moved[r.ID] = true
		}
		before := d.Clone()
		for i := range d.Raised {
			if moved[d.Raised[i].ID] {
				d.Raised[i].Moved = true
			}
		}
		d.RaisedDue = false
		now := a.Now().UTC()
		patch := Diff(before, d, now)
		if patch.Empty() {
			return queued, nil
		}
		err := a.Store.PatchDiscussion(ctx, patch)
		if err == nil {
			d.Version++
			d.UpdatedAt = now
			return queued, nil
		}
		if ErrorCode(err) != ECONFLICT || attempt > 8 {
			*d = *before
			return queued, err
		}
		fresh, err := a.Store.Discussion(ctx, d.ID)
		if err != nil {
			return queued, err
		}
		*d = *fresh
		if !d.RaisedDue {
			return queued, nil
		}
	}
}

// deliverRaised moves one raised item: a notice to its recipients' inboxes
// and to the emails of those who want it at once; a resolution to the
// inbox; an event to the outbox for the webhook. It returns how many
// outbox messages it queued.
func (a *App) deliverRaised(ctx context.Context, d *Discussion, r Raised) (int, error) {
	switch {
	case r.Resolve:
		return 0, a.Store.ResolveNotices(ctx, d.ID, r.Notice, r.Key, r.At)
	case r.Event != "":
		if a.Mail == nil || !a.Mail.Notify.Hooks {
			return 0, nil
		}
		body, err := a.hookBody(d, r)
		if err != nil {
			return 0, err
		}
		now := a.Now().UTC()
		return 1, a.Store.EnqueueMessage(ctx, &OutboxMessage{ID: r.ID, DiscussionID: d.ID, Method: MethodWebhook, To: "case-system",
			Raw: body, State: MessageQueued, NextAttempt: now, CreatedAt: now})
	case r.Notice != "":
		recipients := []string{InboxBusinessSupport}
		chair := ""
		if c := d.chair(); c != nil && r.Notice.toChair() {
			chair = strings.ToLower(c.Email)
			recipients = append(recipients, chair)
		}
		if o := d.noticeOwner(r); o != "" && !slices.Contains(recipients, o) {
			recipients = append(recipients, o)
		}
		for _, to := range recipients {
			n := &Notice{ID: r.ID + ":" + to, Recipient: to, DiscussionID: d.ID, Kind: r.Notice, Key: r.Key,
				Label: d.label(), CreatedAt: r.At}
			if err := a.Store.AddNotice(ctx, n); err != nil {
				return 0, err
			}
		}
		return a.mailNotice(ctx, d, r, chair)
	}
	return 0, nil
}

// noticeOwner is the email of whoever owns the follow-on a reminder or
// a missed notice is about (the social worker named for SEEN and S47, the
// chair for the rest; see assignFollowOnOwners), "" for other notices or
// an owner with no email: they are told as well as business support and
// the chair.
func (d *Discussion) noticeOwner(r Raised) string {
	if r.Notice != NoticeFollowOnDue && r.Notice != NoticeFollowOnMissed {
		return ""
	}
	fo := d.followOn(r.Key)
	if fo == nil || fo.Owner == nil {
		return ""
	}
	return strings.ToLower(strings.TrimSpace(fo.Owner.Email))
}

// Outbox methods of what is not an invitation.
const (
	MethodWebhook = "WEBHOOK"
	MethodNotice  = "NOTICE"
	MethodDigest  = "DIGEST"
)

// Invitation reports whether m is an invitation (iMIP), not a notice,
// digest or webhook.
func (m *OutboxMessage) Invitation() bool {
	return m.Method != MethodWebhook && m.Method != MethodNotice && m.Method != MethodDigest
}

// mailNotice queues the emails of a notice for those who want them at
// once: the chair if they chose it, business-support staff who chose it,
// and the team mailbox.
func (a *App) mailNotice(ctx context.Context, d *Discussion, r Raised, chair string) (int, error) {
	if a.Mail == nil || a.Mail.Composer == nil {
		return 0, nil
	}
	prefs, err := a.Store.NoticePreferences(ctx, nil)
	if err != nil {
		return 0, err
	}
	var to []string
	add := func(e string) {
		if e = strings.ToLower(strings.TrimSpace(e)); e != "" && !slices.Contains(to, e) {
			to = append(to, e)
		}
	}
	add(a.Mail.Notify.BusinessSupport)
	chairDelivery := DeliveryDigest
	for _, p := range prefs {
		if p.Email == chair {
			chairDelivery = p.Delivery
		}
		if p.Team && p.Delivery == DeliveryImmediate {
			add(p.Email)
		}
	}
	if chair != "" && chairDelivery == DeliveryImmediate {
		add(chair)
	}
	// The follow-on's owner is emailed at once unless they chose
	// otherwise: the reminder is for the one who does the work.
	if o := d.noticeOwner(r); o != "" && o != chair {
		ownerDelivery := DeliveryImmediate
		for _, p := range prefs {
			if p.Email == o {
				ownerDelivery = p.Delivery
			}
		}
		if ownerDelivery == DeliveryImmediate {
			add(o)
		}
	}
	link := a.DiscussionLink(d.ID)
	subject := "Convene: " + r.Notice.Words()
	body := r.Notice.Words() + ".\r\n\r\n" + d.label() + "\r\n\r\nOpen the discussion (sign-in required):\r\n" + link +
		"\r\n\r\nYou can choose a daily digest instead of these emails in Convene.\r\n"
	now := a.Now().UTC()
	for i, e := range to {
		m := a.plainMail(r.ID+":mail:"+e, e, subject, body, now)
		m.DiscussionID, m.Method = d.ID, MethodNotice
		if err := a.Store.EnqueueMessage(ctx, m); err != nil {
			return i, err
		}
	}
	return len(to), nil
}

// SweepRaised moves what discussions raised but did not move (a crash
// between a change and its move).
func (a *App) SweepRaised(ctx context.Context) {
	ids, err := a.Store.DiscussionsRaisedDue(ctx, 100)
	if err != nil {
		a.Log.WarnContext(ctx, "notice sweep", "err", err)
		return
	}
	for _, id := range ids {
		d, err := a.Store.Discussion(ctx, id)
		if err == nil {
			_, err = a.moveRaised(ctx, d)
		}
		if err != nil {
			a.Log.WarnContext(ctx, "notice sweep", "discussion", id, "err", err)
		}
	}
	if len(ids) > 0 {
		a.Wake()
	}
}

// inboxRecipients are the inboxes p reads: business support's shared one,
// and a chair's own.
func inboxRecipients(p *Principal) []string {
	var out []string
	if p.Has(RoleBusinessSupport) {
		out = append(out, InboxBusinessSupport)
	}
	if p.Has(RoleChair) && p.Email != "" {
		out = append(out, strings.ToLower(p.Email))
	}
	return out
}

// Inbox lists what needs the caller's attention, newest first: business
// support's shared inbox and, for a chair, their own. All includes items
// already dealt with. The read is audited.
func (a *App) Inbox(ctx context.Context, f InboxFilter) ([]Notice, error) {
	p, err := require(ctx, RoleBusinessSupport, RoleChair)
	if err != nil {
		return nil, err
	}
	f.Recipients = inboxRecipients(p)
	if len(f.Recipients) == 0 {
		return []Notice{}, nil
	}
	f.Limit = PageLimit(f.Limit)
	ns, err := a.Store.Inbox(ctx, f)
	if err != nil {
		return nil, err
	}
	ids := make([]string, len(ns))
	for i := range ns {
		ids[i] = ns[i].DiscussionID
	}
	if err := a.audit(ctx, "inbox.read", "inbox", map[string]any{"discussions": ids}); err != nil {
		return nil, err
	}
	return ns, nil
}

// DismissNotice clears an item from the caller's inbox: they have dealt
// with it.
func (a *App) DismissNotice(ctx context.Context, id string) error {
	p, err := require(ctx, RoleBusinessSupport, RoleChair)
	if err != nil {
		return err
	}
	if err := a.Store.ClearNotice(ctx, id, inboxRecipients(p), a.Now().UTC(), p.Actor().Name+" <"+p.Subject+">"); err != nil {
		return err
	}
	return a.audit(ctx, "inbox.dismiss", "inbox/"+id, nil)
}

// NotificationPreference returns the caller's choice of email for notices
// (for a chair who has not chosen, the daily digest; for business support,
// none beyond the team mailbox).
func (a *App) NotificationPreference(ctx context.Context) (*NoticePreference, error) {
	p, err := require(ctx, RoleBusinessSupport, RoleChair)
	if err != nil {
		return nil, err
	}
	if p.Email == "" {
		return nil, Invalid("your sign-in carries no email address")
	}
	email := strings.ToLower(p.Email)
	ps, err := a.Store.NoticePreferences(ctx, []string{email})
	if err != nil {
		return nil, err
	}
	if len(ps) == 1 {
		return &ps[0], nil
	}
	if p.Has(RoleBusinessSupport) {
		return &NoticePreference{Email: email, Delivery: DeliveryOff, Team: true}, nil
	}
	return &NoticePreference{Email: email, Delivery: DeliveryDigest}, nil
}

// SetNotificationPreference stores the caller's choice: immediate, a
// daily digest, or off. Business support staff who choose immediate or
// digest receive the shared inbox's notices by email.
func (a *App) SetNotificationPreference(ctx context.Context, delivery Delivery) (*NoticePreference, error) {
	p, err := require(ctx, RoleBusinessSupport, RoleChair)
	if err != nil {
		return nil, err
	}
	if p.Email == "" {
		return nil, Invalid("your sign-in carries no email address")
	}
	if !slices.Contains([]Delivery{DeliveryImmediate, DeliveryDigest, DeliveryOff}, delivery) {
		return nil, Invalid("the preference is not valid", FieldError{Field: "delivery", Message: "must be immediate, digest or off"})
	}
	np := &NoticePreference{Email: strings.ToLower(p.Email), Delivery: delivery, Team: p.Has(RoleBusinessSupport), UpdatedAt: a.Now().UTC()}
	if err := a.Store.SetNoticePreference(ctx, np); err != nil {
		return nil, err
	}
	if err := a.audit(ctx, "notification_preference.set", "notification-preferences/"+np.Email, map[string]any{"delivery": delivery}); err != nil {
		return nil, err
	}
	return np, nil
}

// plainMail writes a plain-text email from the organiser: notices and
// digests, which carry the kind in words, allow-listed labels and links,
// nothing else.
func (a *App) plainMail(id, to, subject, body string, now time.Time) *OutboxMessage {
	from := a.Mail.Organizer
	domain := "convene.invalid"
	if _, d, ok := strings.Cut(from.Email, "@"); ok && d != "" {
		domain = d
	}
	sum := sha256.Sum256([]byte(id))
	msgID := "<" + hex.EncodeToString(sum[:16]) + "@" + domain + ">"
	var b strings.Builder
	b.WriteString("From: " + from.String() + "\r\n")
	b.WriteString("To: <" + to + ">\r\n")
	b.WriteString("Subject: " + mime.QEncoding.Encode("utf-8", subject) + "\r\n")
	b.WriteString("Date: " + now.Format(time.RFC1123Z) + "\r\n")
	b.WriteString("Message-ID: " + msgID + "\r\n")
	b.WriteString("MIME-Version: 1.0\r\n")
	b.WriteString("Content-Type: text/plain; charset=utf-8\r\n")
	b.WriteString("Content-Transfer-Encoding: quoted-printable\r\n")
	b.WriteString("Auto-Submitted: auto-generated\r\n\r\n")
	w := quotedprintable.NewWriter(&b)
	_, _ = w.Write([]byte(body))
	_ = w.Close()
	return &OutboxMessage{ID: id, To: to, MessageID: msgID, EnvelopeFrom: from.Email, Raw: []byte(b.String()),
		State: MessageQueued, NextAttempt: now, CreatedAt: now}
}

// digestWindow is the latest digest time at or before now (the digest
// hour in the area's zone) and the day it covers.
func (a *App) digestWindow(now time.Time) (from, to time.Time) {
	hour := 0
	if a.Mail != nil && a.Mail.Notify.DigestHour > 0 && a.Mail.Notify.DigestHour < 24 {
		hour = a.Mail.Notify.DigestHour
	}
	local := now.In(a.zone())
	to = time.Date(local.Year(), local.Month(), local.Day(), hour, 0, 0, 0, a.zone())
	if to.After(now) {
		to = time.Date(local.Year(), local.Month(), local.Day()-1, hour, 0, 0, 0, a.zone())
	}
	from = time.Date(to.Year(), to.Month(), to.Day()-1, hour, 0, 0, 0, a.zone())
	return from.UTC(), to.UTC()
}

// DigestDay names the latest daily digest due (its date): once an instance
// has sent it, it need not look again until the name changes.
func (a *App) DigestDay() string {
	_, to := a.digestWindow(a.Now())
	return to.In(a.zone()).Format(time.DateOnly)
}

// SendDigests queues the daily digest of everyone who chose one, for the
// day before the latest digest time: one email per person per day, whose
// id (the person and the day) makes a second run, here or on another
// instance, add nothing. It returns how many it queued.
func (a *App) SendDigests(ctx context.Context) (int, error) {
	if a.Mail == nil || a.Mail.Composer == nil {
		return 0, nil
	}
	from, to := a.digestWindow(a.Now())
	day := a.DigestDay()
	prefs, err := a.Store.NoticePreferences(ctx, nil)
	if err != nil {
		return 0, err
	}
	// Who gets one: those who chose it, and the directory's chairs who
	// have not chosen.
	chose := map[string]bool{}
	var digestees []NoticePreference
	for _, p := range prefs {
		chose[p.Email] = true
		if p.Delivery == DeliveryDigest {
			digestees = append(digestees, p)
		}
	}
	yes := true
	for f := (PersonFilter{Chair: &yes, Limit: 200}); ; {
		page, err := a.Store.People(ctx, f)
		if err != nil {
			return 0, err
		}
		for _, c := range page {
			if e := strings.ToLower(c.Email); c.Active && !chose[e] {
				chose[e] = true
				digestees = append(digestees, NoticePreference{Email: e, Delivery: DeliveryDigest})
			}
		}
		if len(page) < f.Limit {
			break
		}
		f.After = page[len(page)-1].ID
	}
	var ids []string
	for _, p := range digestees {
		ids = append(ids, "digest:"+p.Email+":"+day)
	}
	if len(ids) == 0 {
		return 0, nil
	}
	have, err := a.Store.Messages(ctx, ids)
	if err != nil {
		return 0, err
	}
	queued := 0
	for _, p := range digestees {
		id := "digest:" + p.Email + ":" + day
		if slices.ContainsFunc(have, func(m OutboxMessage) bool { return m.ID == id }) {
			continue
		}
		recipients := []string{p.Email}
		if p.Team {
			recipients = append(recipients, InboxBusinessSupport)
		}
		ns, err := a.Store.Inbox(ctx, InboxFilter{Recipients: recipients, All: true, CreatedFrom: from, CreatedTo: to, Limit: 200})
		if err != nil {
			return queued, err
		}
		if len(ns) == 0 {
			continue
		}
		m := a.plainMail(id, p.Email, "Convene: your daily digest for "+day, a.digestBody(ns, day), a.Now().UTC())
		m.Method = MethodDigest
		if err := a.Store.EnqueueMessage(ctx, m); err != nil {
			return queued, err
		}
		queued++
	}
	if queued > 0 {
		a.Wake()
	}
	return queued, nil
}

// digestBody counts the day's notices by kind, then lists each discussion
// once with its link.
func (a *App) digestBody(ns []Notice, day string) string {
	counts := map[NoticeKind]int{}
	var b strings.Builder
	b.WriteString("What needed attention in Convene in the day to " + day + ":\r\n\r\n")
	for _, n := range ns {
		counts[n.Kind]++
	}
	for _, k := range NoticeKinds {
		if c := counts[k]; c > 0 {
			b.WriteString("- " + k.Words() + ": " + itoa(c) + "\r\n")
		}
	}
	b.WriteString("\r\nThe discussions (sign-in required):\r\n")
	seen := map[string]bool{}
	for _, n := range ns {
		if seen[n.DiscussionID] {
			continue
		}
		seen[n.DiscussionID] = true
		b.WriteString("\r\n" + n.Label + "\r\n" + a.DiscussionLink(n.DiscussionID) + "\r\n")
	}
	return b.String()
}

// noticeAs turns the notice of kind from and key, raised by the change
// being made, into one of kind to: a held delegation below the seniority
// its place needs is that, not just any held reply.
func (d *Discussion) noticeAs(from, to NoticeKind, key string) {
	for i := range d.Raised {
		if r := &d.Raised[i]; !r.Moved && !r.Resolve && r.Notice == from && r.Key == key {
			r.Notice, r.ID = to, d.ID+":notice:"+string(to)+":"+key
		}
	}
}

// delegateBelow reports whether r delegates inv's place to someone of
// their agency below the minimum seniority of a place inv fills.
func delegateBelow(d *Discussion, inv *Invitee, r Reply) bool {
	del := r.Delegate
	if del == nil || del.Agency != inv.Agency {
		return false
	}
	for _, id := range inv.Requirements {
		for _, req := range d.Attendance.Requirements {
			if req.ID == id && del.Seniority < req.MinSeniority.Level {
				return true
			}
		}
	}
	return false
}
