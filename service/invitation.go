package service

import (
	"context"
	"strings"
	"time"

	"github.com/convene/convene/invites"
	"github.com/convene/convene/service/policy"
)

// InvitationLink is what a signed invitation link says: whom it was sent to
// and for which discussion. It carries no case content: the web app shows
// that only once the person has confirmed a code sent to their address.
type InvitationLink struct {
	DiscussionID string
	Email, Name  string
	// Answer is the answer the link was sent to give.
	Answer policy.ReplyStatus
	// Record is set for a link from the record's circulation email: it
	// opens the Record of Strategy Discussion, not the invitation.
	Record bool
}

// OpenInvitationLink checks a signed invitation (RSVP) link without acting
// on it, and audits that it was opened.
func (a *App) OpenInvitationLink(ctx context.Context, token string) (*InvitationLink, error) {
	r, d, inv, err := a.rsvp(ctx, token)
	if err != nil {
		l, rerr := a.openRecordLink(ctx, token)
		if rerr == nil {
			return l, nil
		}
		if rerr != errNotRecordLink {
			return nil, rerr
		}
		return nil, err
	}
	ctx = WithPrincipal(ctx, &Principal{Subject: "invitation-link", Name: inv.Name, Email: inv.Email})
	if err := a.audit(ctx, "discussion.invitation.link", "discussions/"+d.ID, map[string]any{"attendee": inv.Email}); err != nil {
		return nil, err
	}
	return &InvitationLink{DiscussionID: d.ID, Email: inv.Email, Name: inv.Name, Answer: replyOf(r.Allowed[0])}, nil
}

// InvitationAnswer is an invitee's own answer, given in the web app.
type InvitationAnswer struct {
	// Answer is accepted, declined, tentative or delegated.
	Answer policy.ReplyStatus
	// Comment is a reason for declining (kept in Convene, never mailed).
	Comment string
	// DelegateTo and DelegateName name the colleague a delegation goes to.
	DelegateTo, DelegateName string
	// ProposedStart, when set, proposes a new time instead of answering
	// (a counter proposal, for business support or the chair to decide).
	ProposedStart time.Time
}

// answerable are the answers an invitee may give from the web app.
var answerable = []policy.ReplyStatus{policy.ReplyAccepted, policy.ReplyDeclined, policy.ReplyTentative, policy.ReplyDelegated}

// AnswerInvitation records the signed-in invitee's own answer to a
// discussion's invitation, as an email reply would: a delegation that
// needs business support's look (the colleague is not in the directory, is
// from another agency, or is below the seniority needed) is held for them.
func (a *App) AnswerInvitation(ctx context.Context, id string, in InvitationAnswer) (*Discussion, error) {
	invited := func(p *Principal, d *Discussion) bool { return canSee(p, d) && d.invitee(p.Email) != nil }
	return a.transition(ctx, id, "discussion.reply", invited, func(d *Discussion, p *Principal) (Effects, error) {
		inv := d.invitee(p.Email)
		now := a.Now()
		if !in.ProposedStart.IsZero() {
			return d.ApplyCounter(CounterProposal{ID: a.NewID(), Email: inv.Email, Start: in.ProposedStart,
				Comment: truncate(strings.TrimSpace(in.Comment), maxCommentBytes), Sequence: d.Sequence, Zone: a.zone()}, now)
		}
		ok := false
		for _, s := range answerable {
			ok = ok || in.Answer == s
		}
		if !ok {
			return Effects{}, Invalid("choose an answer", FieldError{Field: "answer", Message: "choose accept, decline, tentative or delegate"})
		}
		r := Reply{Email: inv.Email, Answer: in.Answer, Sequence: d.Sequence, Stamp: now,
			Comment: strings.TrimSpace(in.Comment), HoldID: a.NewID(), By: p.Actor()}
		if in.Answer == policy.ReplyDelegated {
			addr, err := invites.ValidAddress(strings.TrimSpace(in.DelegateTo))
			if err != nil || strings.TrimSpace(in.DelegateTo) == "" {
				return Effects{}, Invalid("name the colleague by their email address",
					FieldError{Field: "delegate_to", Message: "enter your colleague's email address, like name@police.example.org"})
			}
			if strings.EqualFold(addr, inv.Email) {
				return Effects{}, Invalid("you cannot delegate to yourself", FieldError{Field: "delegate_to", Message: "enter a colleague's email address, not your own"})
			}
			r.DelegatedTo, r.DelegateName = strings.ToLower(addr), strings.TrimSpace(in.DelegateName)
			if r.Delegate, err = a.directoryInvitee(ctx, d, r.DelegatedTo); err != nil {
				return Effects{}, err
			}
		}
		return d.ApplyReply(r, now)
	})
}

// DelegationWarning says why a delegation by the signed-in invitee to the
// address would be held for business support rather than applied (the
// colleague is not in the directory, is from another agency, or is below
// the seniority needed), or "" when it would be applied at once.
func (a *App) DelegationWarning(ctx context.Context, id, to string) (string, error) {
	d, p, err := a.read(ctx, id, "discussion.delegation.check")
	if err != nil {
		return "", err
	}
	inv := d.invitee(p.Email)
	if inv == nil {
		return "", notFound(id)
	}
	addr, err := invites.ValidAddress(strings.TrimSpace(to))
	if err != nil {
		return "", Invalid("name the colleague by their email address",
			FieldError{Field: "delegate_to", Message: "enter your colleague's email address, like name@police.example.org"})
	}
	del, err := a.directoryInvitee(ctx, d, strings.ToLower(addr))
	if err != nil {
		return "", err
	}
	return d.delegationProblem(inv, Reply{DelegatedTo: addr, Delegate: del}), nil
}

// SendSignInCode emails a one-time sign-in code to an invitee of the
// discussion (the web app's partner sign-in), through the outbox. The
// message carries the code and nothing of the case.
func (a *App) SendSignInCode(ctx context.Context, discussionID, email, code string, valid time.Duration) error {
	if a.Mail == nil || a.Mail.Composer == nil {
		return Errorf(EUNAVAILABLE, "email is not set up, so no code can be sent")
	}
	now := a.Now().UTC()
	mins := int(valid / time.Minute)
	body := "Your Convene sign-in code is " + code + ".\r\n\r\n" +
		"It works once, for " + itoa(mins) + " minutes. Enter it on the page that asked for it.\r\n\r\n" +
		"If you did not ask for a code, you can ignore this email: nobody can sign in without it.\r\n"
	m := a.plainMail("sign-in-code:"+a.NewID(), strings.ToLower(email), "Your Convene sign-in code", body, now)
	m.Method = MethodNotice
	if err := a.Store.EnqueueMessage(ctx, m); err != nil {
		return err
	}
	ctx = WithPrincipal(ctx, &Principal{Subject: "invitation-link", Email: strings.ToLower(email)})
	if err := a.audit(ctx, "discussion.sign_in_code.sent", "discussions/"+discussionID, map[string]any{"attendee": strings.ToLower(email)}); err != nil {
		return err
	}
	a.Wake()
	return nil
}

// SignInMethod says how someone signed in to the web app.
type SignInMethod string

// The ways into the web app.
const (
	SignInDemo     SignInMethod = "demo"
	SignInOIDC     SignInMethod = "oidc"
	SignInCode     SignInMethod = "one_time_code"
	SignInRefused  SignInMethod = "refused"
	SignOutRequest SignInMethod = "sign_out"
)

// AuditSignIn records a sign-in to the web app, or a sign-out, by the
// principal in ctx (a refused sign-in has the claimed person, or none).
// Partners' sign-ins name the discussion they are bound to.
func (a *App) AuditSignIn(ctx context.Context, how SignInMethod, discussionID string) error {
	action, resource := "session.sign_in", "sessions"
	switch how {
	case SignOutRequest:
		action = "session.sign_out"
	case SignInRefused:
		action = "session.sign_in.refused"
	}
	if discussionID != "" {
		resource = "discussions/" + discussionID
	}
	return a.audit(ctx, action, resource, map[string]any{"method": string(how)})
}

// errNotRecordLink is a token that is no valid record link either.
var errNotRecordLink = Errorf(EUNAUTHORIZED, "not a record link")

// openRecordLink checks a signed link from the record's circulation email
// (SignRecordLink) without acting on it, and audits that it was opened. It
// names someone who took part in the discussion, or it is refused.
func (a *App) openRecordLink(ctx context.Context, token string) (*InvitationLink, error) {
	if a.Mail == nil || len(a.Mail.RSVPKey) == 0 {
		return nil, Errorf(ENOTFOUND, "record links are not enabled")
	}
	l, err := VerifyRecordLink(a.Mail.RSVPKey, token, a.Now())
	if err != nil {
		return nil, errNotRecordLink
	}
	d, err := a.Store.Discussion(ctx, l.DiscussionID)
	if err != nil {
		return nil, Errorf(EUNAUTHORIZED, "this link is not valid or has expired; ask business support to send the record again")
	}
	who, ok := d.participant(l.Email)
	if !ok {
		return nil, Errorf(EUNAUTHORIZED, "this link is no longer valid: you are not among those the record went to")
	}
	ctx = WithPrincipal(ctx, &Principal{Subject: "record-link", Name: who.Name, Email: who.Email})
	if err := a.audit(ctx, "discussion.record.link", "discussions/"+d.ID, map[string]any{"participant": who.Email}); err != nil {
		return nil, err
	}
	return &InvitationLink{DiscussionID: d.ID, Email: who.Email, Name: who.Name, Record: true}, nil
}
