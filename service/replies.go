package service

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/convene/convene/invites"
	"github.com/convene/convene/service/policy"
)

// RoleMailGateway is the service account of the mail gateway that posts
// inbound replies to POST /v1/imip.
const RoleMailGateway Role = "mail_gateway"

// Inbound results, as recorded and returned.
const (
	InboundRecorded        = "recorded"
	InboundIgnoredStale    = "ignored_stale"
	InboundHeld            = "held"
	InboundDuplicate       = "duplicate"
	InboundRejectMalformed = "rejected_malformed"
	InboundRejectSpoofed   = "rejected_spoofed"
	InboundRejectUnknown   = "rejected_unknown_meeting"
	InboundRejectState     = "rejected_closed"
	// InboundDeferred: the sender could not be authenticated for now (DNS
	// did not answer); the SMTP listener asks the sender to retry.
	InboundDeferred = "deferred"
)

// InboundResult says what became of an inbound message.
type InboundResult struct {
	Result       string `json:"result"`
	DiscussionID string `json:"discussion_id,omitempty"`
	Attendee     string `json:"attendee,omitempty"`
	Method       string `json:"method,omitempty"`
	Detail       string `json:"detail,omitempty"`
}

// IngestMessage takes a raw email (RFC 5322) carrying an iTIP REPLY,
// COUNTER or REFRESH, from the mail gateway (channel "http") or the inbound
// SMTP listener ("smtp"). It is matched to a discussion by UID and to an
// attendee by the sender. A malformed message, one whose sender does not
// speak for the attendee it answers for, or one for an unknown meeting is
// rejected, logged and recorded, and changes nothing. A reply from someone
// not invited (a forwarded invitation) is held for business support; an
// out-of-date one (older SEQUENCE) is ignored.
func (a *App) IngestMessage(ctx context.Context, raw []byte, channel, envelopeFrom string) (*InboundResult, error) {
	if channel == "http" {
		// Only the mail gateway: an administrator, who has no access to
		// discussions by design, must not post a reply and take a place.
		if _, err := require(ctx, RoleMailGateway); err != nil {
			return nil, err
		}
	} else {
		ctx = WithPrincipal(ctx, &Principal{Subject: "smtp-listener", Name: "Inbound mail", Roles: []Role{RoleMailGateway}})
	}
	rec := &InboundRecord{ID: a.NewID(), At: a.Now().UTC(), Channel: channel, EnvelopeFrom: envelopeFrom}
	reject := func(result, detail string, code string, fields ...FieldError) (*InboundResult, error) {
		rec.Result, rec.Detail = result, detail
		a.Log.WarnContext(ctx, "inbound message rejected", "result", result, "detail", detail, "from", rec.From,
			"envelope_from", envelopeFrom, "uid", rec.UID, "message_id", rec.MessageID, "channel", channel)
		if err := a.Store.RecordInbound(ctx, rec); err != nil {
			return nil, err
		}
		if err := a.audit(ctx, "inbound.reject", "inbound/"+rec.ID, map[string]any{"result": result, "uid": rec.UID, "from": rec.From}); err != nil {
			return nil, err
		}
		return nil, &Error{Code: code, Message: "the message was rejected: " + detail, Fields: fields, Result: result}
	}

	in, err := a.parser().Parse(raw)
	if err != nil {
		var pe *invites.ParseError
		detail := "not an iTIP reply we can read"
		if errors.As(err, &pe) {
			detail = pe.Error()
		}
		return reject(InboundRejectMalformed, detail, EINVALID)
	}
	rec.From, rec.MessageID, rec.UID, rec.Method = strings.ToLower(in.From), in.MessageID, in.UID, string(in.Method)
	d, err := a.discussionByUID(ctx, in.UID)
	if ErrorCode(err) == ENOTFOUND {
		return reject(InboundRejectUnknown, "no discussion has this UID", EINVALID, FieldError{Field: "uid", Message: "unknown meeting"})
	} else if err != nil {
		return nil, err
	}
	rec.DiscussionID = d.ID
	speaker, err := in.Speaker()
	if err != nil {
		return reject(InboundRejectSpoofed, "the sender "+rec.From+" does not speak for any attendee in the message", EINVALID)
	}
	rec.Attendee = strings.ToLower(speaker.Email)
	if !d.live() && d.Status != StatusInProgress {
		return reject(InboundRejectState, "the discussion is "+string(d.Status), EPRECONDITION)
	}
	// SENT-BY counts only for an assistant named on the attendee's own
	// directory entry.
	if !strings.EqualFold(in.From, speaker.Email) {
		if !a.isAssistant(ctx, speaker.Email, in.From) {
			return reject(InboundRejectSpoofed, "the sender "+rec.From+" is not a named assistant of "+rec.Attendee, EINVALID)
		}
	}
	// Nothing is applied on the word of a From header: the sender must be
	// authenticated (DKIM, or a trusted gateway's DMARC verdict).
	auth := invites.Authenticate(ctx, raw, a.InboundAuth)
	if !auth.Pass && auth.Temporary {
		rec.Result, rec.Detail = InboundDeferred, auth.Reason
		if err := a.Store.RecordInbound(ctx, rec); err != nil {
			return nil, err
		}
		return nil, &Error{Code: EUNAVAILABLE, Message: "the sender could not be authenticated just now; try again later", Result: InboundDeferred}
	}

	res := &InboundResult{DiscussionID: d.ID, Attendee: rec.Attendee, Method: rec.Method}
	switch {
	case !auth.Pass && d.invitee(rec.Attendee) != nil:
		res.Result, res.Detail = InboundHeld, "the sender could not be authenticated; held for business support to admit or reject"
		_, err = a.systemChange(ctx, d.ID, "discussion.reply.held", func(d *Discussion, _ *Principal) (Effects, error) {
			h := HeldReply{ID: a.NewID(), Kind: HeldUnauthenticated, Reason: "sender not authenticated: " + auth.Reason, From: rec.Attendee,
				Name: truncate(speaker.Name, 200), Reply: replyOf(speaker.Stat), Sequence: in.Sequence, Stamp: stampOrNil(in.DTStamp)}
			if in.Method != invites.MethodReply || h.Reply == "" {
				h.Reply = policy.ReplyNeedsAction // a counter or refresh: shown, not applied
			}
			if len(speaker.DelegatedTo) > 0 {
				h.DelegatedTo = strings.ToLower(speaker.DelegatedTo[0])
			}
			return d.HoldReply(h, rec.At)
		})
	case d.invitee(rec.Attendee) == nil:
		res.Result, res.Detail = InboundHeld, "not on the invitation list; held for business support to admit or reject"
		_, err = a.systemChange(ctx, d.ID, "discussion.reply.held", func(d *Discussion, _ *Principal) (Effects, error) {
			eff, err := d.HoldReply(HeldReply{ID: a.NewID(), From: rec.Attendee, Name: truncate(speaker.Name, 200), Reply: replyOf(speaker.Stat)}, rec.At)
			if eff.Detail["duplicate"] == true {
				res.Result = InboundDuplicate
			}
			return eff, err
		})
	case in.Sequence < d.Sequence && in.Method != invites.MethodRefresh:
		// A REFRESH asks for the latest copy, usually because the sender's
		// is out of date, and Thunderbird's names no SEQUENCE at all: it
		// is never stale.
		res.Result, res.Detail = InboundIgnoredStale, "answers an earlier version of the invitation"
	default:
		res.Result = InboundRecorded
		_, err = a.systemChange(ctx, d.ID, "discussion.reply", func(d *Discussion, _ *Principal) (Effects, error) {
			eff, err := a.applyInbound(ctx, d, in, speaker, rec.At)
			if eff.Detail["held"] != nil {
				res.Result, res.Detail = InboundHeld, "the delegation is held for business support to admit or reject"
			}
			return eff, err
		})
		if se := (*Error)(nil); errors.As(err, &se) && se.Conflict != nil && se.Conflict.Stale {
			res.Result, res.Detail, err = InboundIgnoredStale, "older than the answer already recorded", nil
		}
	}
	var se *Error
	if errors.As(err, &se) && se.Code == EINVALID {
		// Readable, but no answer we can record (a REPLY whose PARTSTAT
		// answers nothing, a delegation naming no delegate): refused and
		// recorded like any other bad message.
		return reject(InboundRejectMalformed, se.Message, EINVALID, se.Fields...)
	} else if err != nil {
		return nil, err
	}
	rec.Result, rec.Detail = res.Result, res.Detail
	if err := a.Store.RecordInbound(ctx, rec); err != nil {
		return nil, err
	}
	return res, nil
}

func (a *App) parser() *invites.Parser {
	return &invites.Parser{Zone: a.zone()}
}

// applyInbound records a REPLY, COUNTER or REFRESH from an invitee.
func (a *App) applyInbound(ctx context.Context, d *Discussion, in *invites.Inbound, speaker invites.ReplyAttendee, at time.Time) (Effects, error) {
	inv := d.invitee(speaker.Email)
	if inv == nil {
		return Effects{}, Errorf(EPRECONDITION, "%s is no longer invited", speaker.Email)
	}
	switch in.Method {
	case invites.MethodReply:
		comment := in.Comment
		if speaker.Comment != "" {
			comment = speaker.Comment
		}
		r := Reply{Email: inv.Email, Answer: replyOf(speaker.Stat), Sequence: in.Sequence, Stamp: in.DTStamp, Comment: comment,
			HoldID: a.NewID(), By: Actor{Subject: "mail", Name: inv.Name, Email: inv.Email}}
		if len(speaker.DelegatedTo) > 0 {
			// An address that is not one would break every later
			// invitation of the discussion: refused before it is stored.
			addr, err := invites.ValidAddress(speaker.DelegatedTo[0])
			if err != nil {
				return Effects{}, Invalid("the delegation names no valid address", FieldError{Field: "delegated_to", Message: err.Error()})
			}
			r.DelegatedTo = addr
			for _, at := range in.Attendees {
				if strings.EqualFold(at.Email, r.DelegatedTo) {
					r.DelegateName = at.Name
				}
			}
			if r.Delegate, err = a.directoryInvitee(ctx, d, r.DelegatedTo); err != nil {
				return Effects{}, err
			}
		}
		return d.ApplyReply(r, at)
	case invites.MethodCounter:
		p := in.Proposal
		if p == nil {
			return Effects{}, Invalid("the counter proposal names no time")
		}
		return d.ApplyCounter(CounterProposal{ID: a.NewID(), Email: inv.Email, Start: p.Start, End: p.End, Comment: in.Comment,
			Sequence: in.Sequence, Zone: a.zone()}, at)
	case invites.MethodRefresh:
		return d.ApplyRefresh(inv.Email, at)
	}
	return Effects{}, Invalid("the message's method is not one Convene takes")
}

// isAssistant reports whether sender is named as an assistant on the
// directory entry of the attendee.
func (a *App) isAssistant(ctx context.Context, attendee, sender string) bool {
	p, err := a.Store.PersonByEmail(ctx, strings.ToLower(attendee))
	return err == nil && slices.Contains(p.Assistants, strings.ToLower(sender))
}

// directoryInvitee is the directory entry with the address as an invitee,
// or nil when the directory has nobody with it.
func (a *App) directoryInvitee(ctx context.Context, d *Discussion, email string) (*Invitee, error) {
	p, err := a.Store.PersonByEmail(ctx, email)
	if ErrorCode(err) == ENOTFOUND {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	profile, err := a.profile(d.Timescale.Profile)
	if err != nil {
		return nil, err
	}
	inv := inviteeOf(p, profile)
	return &inv, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8Start(s[n]) {
		n--
	}
	return s[:n]
}

func utf8Start(b byte) bool { return b&0xC0 != 0x80 }

// RSVPInfo is what an RSVP link's page shows: which meeting (by case
// reference) and what the link would answer.
type RSVPInfo struct {
	CaseReference string
	Start, End    time.Time
	Attendee      string
	Answer        policy.ReplyStatus
	Current       policy.ReplyStatus
	Stale         bool
}

// RSVPLink reads a link without acting on it: mail scanners open every
// link, so the answer is recorded only when the recipient confirms (POST).
func (a *App) RSVPLink(ctx context.Context, token string) (*RSVPInfo, error) {
	r, d, inv, err := a.rsvp(ctx, token)
	if err != nil {
		return nil, err
	}
	ctx = WithPrincipal(ctx, &Principal{Subject: "rsvp-link", Name: inv.Name, Email: inv.Email})
	if err := a.audit(ctx, "discussion.rsvp.view", "discussions/"+d.ID, map[string]any{"attendee": inv.Email}); err != nil {
		return nil, err
	}
	info := &RSVPInfo{CaseReference: d.CaseReference, Attendee: inv.Email, Answer: replyOf(r.Allowed[0]), Current: inv.Reply,
		Stale: r.Sequence < d.Sequence}
	if d.Booking != nil {
		info.Start, info.End = d.Booking.Start.In(a.zone()), d.Booking.End.In(a.zone())
	}
	return info, nil
}

// AnswerRSVP records the answer an RSVP link carries, for that attendee
// only.
func (a *App) AnswerRSVP(ctx context.Context, token string) (*InboundResult, error) {
	r, d, inv, err := a.rsvp(ctx, token)
	if err != nil {
		return nil, err
	}
	rec := &InboundRecord{ID: a.NewID(), At: a.Now().UTC(), Channel: "rsvp", UID: d.UID, Method: "REPLY",
		Attendee: inv.Email, From: inv.Email, DiscussionID: d.ID}
	ctx = WithPrincipal(ctx, &Principal{Subject: "rsvp-link", Name: inv.Name, Email: inv.Email})
	res := &InboundResult{DiscussionID: d.ID, Attendee: inv.Email, Method: "REPLY", Result: InboundRecorded}
	if r.Sequence < d.Sequence {
		res.Result, res.Detail = InboundIgnoredStale, "this link is from an earlier version of the invitation; use the latest email"
	} else {
		_, err = a.systemChange(ctx, d.ID, "discussion.reply", func(d *Discussion, _ *Principal) (Effects, error) {
			inv := d.invitee(r.Attendee)
			if inv == nil {
				return Effects{}, Errorf(ENOTFOUND, "this invitation was withdrawn")
			}
			return d.ApplyReply(Reply{Email: inv.Email, Answer: replyOf(r.Allowed[0]), Sequence: r.Sequence, Stamp: rec.At,
				By: Actor{Subject: "rsvp-link", Name: inv.Name, Email: inv.Email}}, rec.At)
		})
		if se := (*Error)(nil); errors.As(err, &se) && se.Conflict != nil && se.Conflict.Stale {
			res.Result, res.Detail, err = InboundIgnoredStale, "older than the answer already recorded", nil
		}
		if err != nil {
			return nil, err
		}
	}
	rec.Result, rec.Detail = res.Result, res.Detail
	if err := a.Store.RecordInbound(ctx, rec); err != nil {
		return nil, err
	}
	return res, nil
}

func (a *App) rsvp(ctx context.Context, token string) (invites.RSVP, *Discussion, *Invitee, error) {
	if a.Mail == nil || len(a.Mail.RSVPKey) == 0 {
		return invites.RSVP{}, nil, nil, Errorf(ENOTFOUND, "RSVP links are not enabled")
	}
	r, err := invites.VerifyRSVP(a.Mail.RSVPKey, token, a.Now())
	if err != nil || len(r.Allowed) != 1 {
		return invites.RSVP{}, nil, nil, Errorf(EUNAUTHORIZED, "this link is not valid or has expired; answer from the invitation in your calendar")
	}
	d, err := a.discussionByUID(ctx, r.UID)
	if err != nil {
		return invites.RSVP{}, nil, nil, Errorf(ENOTFOUND, "this invitation no longer exists")
	}
	inv := d.invitee(r.Attendee)
	if inv == nil || !d.live() {
		return invites.RSVP{}, nil, nil, Errorf(ENOTFOUND, "this invitation was withdrawn")
	}
	return r, d, inv, nil
}

// DecideHeldReply admits a held reply (the sender joins the invitation
// list with their answer) or rejects it.
func (a *App) DecideHeldReply(ctx context.Context, id, heldID string, admit bool) (*Discussion, error) {
	return a.change(ctx, id, "discussion.reply.decide", func(d *Discussion, p *Principal) (Effects, error) {
		if !canManage(p, d) {
			return Effects{}, Errorf(EFORBIDDEN, "only business support or the chair may admit replies")
		}
		var person *Invitee
		if i := slices.IndexFunc(d.HeldReplies, func(h HeldReply) bool { return h.ID == heldID }); i >= 0 && admit {
			who := d.HeldReplies[i].From
			if d.HeldReplies[i].Kind != HeldUninvited {
				who = d.HeldReplies[i].DelegatedTo
			}
			if who != "" {
				var err error
				if person, err = a.directoryInvitee(ctx, d, who); err != nil {
					return Effects{}, err
				}
			}
		}
		return d.DecideHeldReply(heldID, admit, person, p.Actor(), a.Now())
	})
}
