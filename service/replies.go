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
		if _, err := require(ctx, RoleMailGateway, RoleAdmin); err != nil {
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
		return nil, &Error{Code: code, Message: "the message was rejected: " + detail, Fields: fields,
			Detail: map[string]any{"result": result}}
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

	res := &InboundResult{DiscussionID: d.ID, Attendee: rec.Attendee, Method: rec.Method}
	switch {
	case d.invitee(rec.Attendee) == nil:
		res.Result, res.Detail = InboundHeld, "not on the invitation list; held for business support to admit or reject"
		_, err = a.systemChange(ctx, d.ID, "discussion.reply.held", func(d *Discussion, _ *Principal) (map[string]any, error) {
			if slices.ContainsFunc(d.HeldReplies, func(h HeldReply) bool { return h.From == rec.Attendee && h.Status == "held" }) {
				res.Result = InboundDuplicate
				return nil, nil
			}
			d.HeldReplies = append(d.HeldReplies, HeldReply{ID: a.NewID(), From: rec.Attendee, Name: speaker.Name,
				Reply: replyOf(speaker.Stat), ReceivedAt: rec.At, Status: "held"})
			d.record(rec.At, Actor{Subject: "mail", Email: rec.Attendee}, "reply_held", rec.Attendee+" is not invited")
			return map[string]any{"from": rec.Attendee}, nil
		})
	case in.Sequence < d.Sequence && in.Method != invites.MethodRefresh:
		// A REFRESH asks for the latest copy, usually because the sender's
		// is out of date, and Thunderbird's names no SEQUENCE at all: it
		// is never stale.
		res.Result, res.Detail = InboundIgnoredStale, "answers an earlier version of the invitation"
	default:
		res.Result = InboundRecorded
		_, err = a.systemChange(ctx, d.ID, "discussion.reply", func(d *Discussion, _ *Principal) (map[string]any, error) {
			if d.invitee(rec.Attendee) == nil {
				return nil, Errorf(EPRECONDITION, "%s is no longer invited", rec.Attendee)
			}
			return a.applyInbound(ctx, d, in, speaker, rec.At)
		})
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
	return &invites.Parser{}
}

// applyInbound records a REPLY, COUNTER or REFRESH from an invitee.
func (a *App) applyInbound(ctx context.Context, d *Discussion, in *invites.Inbound, speaker invites.ReplyAttendee, at time.Time) (map[string]any, error) {
	inv := d.invitee(speaker.Email)
	actor := Actor{Subject: "mail", Name: inv.Name, Email: inv.Email}
	switch in.Method {
	case invites.MethodReply:
		comment := in.Comment
		if speaker.Comment != "" {
			comment = speaker.Comment
		}
		names := map[string]string{}
		for _, at := range in.Attendees {
			names[strings.ToLower(at.Email)] = at.Name
		}
		return a.applyReply(ctx, d, inv, speaker.Stat, speaker.DelegatedTo, names, comment, in.Sequence, actor, at)
	case invites.MethodCounter:
		p := in.Proposal
		if p == nil || p.Start.IsZero() {
			return nil, Invalid("the counter proposal names no time")
		}
		end := p.End
		if end.IsZero() || !end.After(p.Start) {
			end = p.Start.Add(d.Duration)
		}
		dup := slices.ContainsFunc(d.Counters, func(c Counter) bool {
			return c.From == inv.Email && c.Status == "pending" && c.Start.Equal(p.Start) && c.End.Equal(end)
		})
		if !dup {
			d.Counters = append(d.Counters, Counter{ID: a.NewID(), From: inv.Email, Start: p.Start.UTC(), End: end.UTC(),
				Comment: in.Comment, Sequence: in.Sequence, ReceivedAt: at, Status: "pending"})
			d.record(at, actor, "counter_proposed", inv.Name+" proposes "+p.Start.In(a.zone()).Format("Mon 2 Jan 15:04"))
		}
		return map[string]any{"counter": !dup}, nil
	case invites.MethodRefresh:
		if d.Booking != nil {
			n := 1 + len(slices.DeleteFunc(slices.Clone(d.Timeline), func(e Event) bool { return e.Kind != "refresh" }))
			d.queue("REQUEST", inv.Email, n)
		}
		d.record(at, actor, "refresh", inv.Name+" asked for the latest invitation")
		return map[string]any{"refresh": true}, nil
	}
	return nil, Invalid("the message's method is not one Convene takes")
}

// applyReply records an invitee's answer; a delegation adds the delegate,
// who gets their own invitation (and counts only if senior enough).
// names maps addresses to the names the message gives them (a delegate's
// CN on its own ATTENDEE line).
func (a *App) applyReply(ctx context.Context, d *Discussion, inv *Invitee, stat invites.PartStat, delegatedTo []string, names map[string]string, comment string, seq int, actor Actor, at time.Time) (map[string]any, error) {
	reply := replyOf(stat)
	if reply == "" || reply == policy.ReplyNeedsAction {
		return nil, Invalid("the reply's PARTSTAT is not an answer", FieldError{Field: "partstat", Message: string(stat)})
	}
	inv.Reply, inv.RepliedAt, inv.ReplySequence = reply, &at, seq
	inv.Comment = truncate(comment, 500)
	detail := map[string]any{"attendee": inv.Email, "reply": reply}
	if reply != policy.ReplyDelegated {
		d.record(at, actor, "reply", inv.Name+" "+string(reply))
		return detail, nil
	}
	if len(delegatedTo) == 0 {
		return nil, Invalid("a delegation must name the delegate (DELEGATED-TO)")
	}
	to := strings.ToLower(delegatedTo[0])
	inv.DelegatedTo = to
	detail["delegated_to"] = to
	d.record(at, actor, "delegated", inv.Name+" delegated to "+to)
	if d.invitee(to) != nil {
		return detail, nil
	}
	delegate := Invitee{Email: to, Name: to, Agency: inv.Agency, Role: inv.Role, Requirements: inv.Requirements,
		Essential: inv.Essential, DelegatedFrom: inv.Email, Reply: policy.ReplyNeedsAction, AddedAt: at}
	if n := strings.TrimSpace(names[to]); n != "" {
		delegate.Name = truncate(n, 200)
	}
	// A delegate in the directory brings their own agency, role and
	// seniority; one who is not has no known seniority, so they cannot
	// satisfy a seniority requirement until business support adds them.
	if p, err := a.Store.PersonByEmail(ctx, to); err == nil {
		profile, perr := a.profile(d.Timescale.Profile)
		delegate.PersonID, delegate.Name, delegate.Agency, delegate.Role, delegate.Seniority = p.ID, p.Name, p.Agency, p.Role, p.Seniority
		if perr == nil {
			delegate.SeniorityLabel = profile.SeniorityLabel(p.Agency, p.Seniority)
		}
	} else if ErrorCode(err) != ENOTFOUND {
		return nil, err
	}
	d.Invitees = append(d.Invitees, delegate)
	if d.Booking != nil {
		d.queue("REQUEST", to, 0)
		// Best effort: the delegate's diary is held like everyone's; a
		// clash is recorded rather than refusing the delegation.
		if err := a.hold(ctx, d, d.Booking.ID, []string{holdKey(delegate)}, d.Booking.Start, d.Booking.End); err != nil {
			d.record(at, actor, "delegate_clash", to+": "+ErrorMessage(err))
		}
	}
	return detail, nil
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
		_, err = a.systemChange(ctx, d.ID, "discussion.reply", func(d *Discussion, _ *Principal) (map[string]any, error) {
			inv := d.invitee(r.Attendee)
			if inv == nil {
				return nil, Errorf(ENOTFOUND, "this invitation was withdrawn")
			}
			return a.applyReply(ctx, d, inv, r.Allowed[0], nil, nil, "", r.Sequence, Actor{Subject: "rsvp-link", Name: inv.Name, Email: inv.Email}, rec.At)
		})
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
	return a.change(ctx, id, "discussion.reply.decide", func(d *Discussion, p *Principal) (map[string]any, error) {
		if !canManage(p, d) {
			return nil, Errorf(EFORBIDDEN, "only business support or the chair may admit replies")
		}
		i := slices.IndexFunc(d.HeldReplies, func(h HeldReply) bool { return h.ID == heldID })
		if i < 0 {
			return nil, Errorf(ENOTFOUND, "no held reply %s", heldID)
		}
		h := &d.HeldReplies[i]
		if h.Status != "held" {
			return nil, Errorf(EPRECONDITION, "this reply was already %s", h.Status)
		}
		now := a.Now().UTC()
		actor := p.Actor()
		h.DecidedBy = &actor
		if !admit {
			h.Status = "rejected"
			d.record(now, actor, "reply_rejected", h.From)
			return map[string]any{"from": h.From, "admitted": false}, nil
		}
		h.Status = "admitted"
		inv := Invitee{Email: h.From, Name: h.Name, Agency: policy.AgencyOther, Reply: h.Reply, RepliedAt: &h.ReceivedAt, AddedAt: now}
		if inv.Name == "" {
			inv.Name = h.From
		}
		if person, err := a.Store.PersonByEmail(ctx, h.From); err == nil {
			inv.PersonID, inv.Name, inv.Agency, inv.Role, inv.Seniority = person.ID, person.Name, person.Agency, person.Role, person.Seniority
			if profile, err := a.profile(d.Timescale.Profile); err == nil {
				inv.SeniorityLabel = profile.SeniorityLabel(person.Agency, person.Seniority)
			}
		}
		if d.invitee(inv.Email) == nil {
			d.Invitees = append(d.Invitees, inv)
			d.refill()
			if d.Booking != nil {
				d.queue("REQUEST", inv.Email, 0)
			}
		}
		d.record(now, actor, "reply_admitted", h.From)
		return map[string]any{"from": h.From, "admitted": true}, nil
	})
}
