package service

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"mime"
	"mime/quotedprintable"
	"slices"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/convene/convene/invites"
	"github.com/convene/convene/service/policy"
)

// The record's circulation and sign-up (issue 14). "A Record of Strategy
// Discussion … must be … circulated to all participants within one working
// day" (000 §7; 004: "notified in writing … within one working day");
// "all partner agencies signing up the decision sheet at the end of meeting
// or agreeing via email" (001); an agency that disagrees raises it and it
// is escalated (002 §1).
//
// Circulation is an explicit action by business support or the chair, not
// automatic on conclude: the chair records the outcome in the meeting, and
// the record is read over (and often amended) before it goes to every
// participant; the RECORD follow-on (due within one working day) is what
// holds that to time, and the deadline watch reminds and flags it.
// Circulating mails each participant a link, never the record itself nor
// any case detail; each partner agency present then agrees or dissents.
// An amendment of a circulated outcome circulates the new version at once
// and asks every agency again.

// Circulation is a record version's circulation.
type Circulation struct {
	// Version is the outcome version circulated.
	Version int       `json:"version"`
	At      time.Time `json:"at"`
	By      Actor     `json:"by"`
	// To are the participants' addresses it was sent to.
	To []string `json:"to"`
	// ChasedVersion is the version whose non-signers were last chased
	// (once per version), at ChasedAt.
	ChasedVersion int        `json:"chased_version,omitempty"`
	ChasedAt      *time.Time `json:"chased_at,omitempty"`
}

// SignupState is where an agency is with the record.
type SignupState string

// The sign-up states.
const (
	SignupPending   SignupState = "pending"
	SignupAgreed    SignupState = "agreed"
	SignupDissented SignupState = "dissented"
)

// The decisions an agency gives.
const (
	DecisionAgree   = "agree"
	DecisionDissent = "dissent"
)

// Signup is one participating agency's agreement with, or dissent from, a
// record version.
type Signup struct {
	Agency  policy.Agency `json:"agency"`
	Version int           `json:"version"`
	State   SignupState   `json:"state"`
	// By and Email are the representative who signed; Method is how
	// (signed_in, or link: from the circulation email).
	By     string     `json:"by,omitempty"`
	Email  string     `json:"email,omitempty"`
	At     *time.Time `json:"at,omitempty"`
	Reason string     `json:"reason,omitempty"`
	Method string     `json:"method,omitempty"`
}

// participants are the people who took part or were asked to: the current
// invitees, and those checked in who were not invited (walk-ins).
func (d *Discussion) participants() []Invitee {
	out := d.current()
	for _, c := range d.CheckIns {
		if c.Email == "" || slices.ContainsFunc(out, func(i Invitee) bool { return strings.EqualFold(i.Email, c.Email) }) {
			continue
		}
		out = append(out, Invitee{PersonID: c.PersonID, Name: c.Name, Email: strings.ToLower(c.Email), Agency: c.Agency, Role: c.Role,
			Seniority: c.Seniority, SeniorityLabel: c.SeniorityLabel, KnowsChild: c.KnowsChild})
	}
	return out
}

// signingAgencies are the partner agencies asked to sign up: those present
// at the discussion (checked in), or, with no attendance recorded, those
// invited. Children's social care owns the record (its manager chaired and
// authorised the outcome), so it is not asked to agree with itself.
func (d *Discussion) signingAgencies() []policy.Agency {
	var out []policy.Agency
	add := func(a policy.Agency) {
		if a != policy.AgencySocialCare && a != "" && !slices.Contains(out, a) {
			out = append(out, a)
		}
	}
	for _, c := range d.CheckIns {
		add(c.Agency)
	}
	if len(d.CheckIns) == 0 {
		for _, inv := range d.current() {
			add(inv.Agency)
		}
	}
	return out
}

// Circulate sends the current record version to every participant (a
// link each, see RecordMail) and asks each partner agency to sign up. It
// meets the RECORD follow-on at now.
func (d *Discussion) Circulate(by Actor, now time.Time) (Effects, error) {
	if d.Status != StatusConcluded || d.Outcome == nil {
		return Effects{}, Errorf(EPRECONDITION, "the record is circulated once the outcome is recorded; this discussion is %s", d.Status)
	}
	if c := d.Circulation; c != nil && c.Version == d.Outcome.Version {
		return Effects{}, Errorf(EPRECONDITION, "version %d of the record was already circulated at %s", c.Version, c.At.Format(time.RFC3339))
	}
	now = now.UTC()
	v := d.Outcome.Version
	var to []string
	for _, p := range d.participants() {
		email := strings.ToLower(p.Email)
		if email != "" && !slices.Contains(to, email) {
			to = append(to, email)
		}
	}
	for _, email := range to {
		d.queueRecord(email, v, 1)
	}
	if prev := d.Circulation; prev != nil {
		// A new version: what was raised about the old one is dealt with
		// (a dissent is answered by the amendment, or raised again).
		for _, s := range d.Signups {
			d.Resolved(NoticeRecordDissent, string(s.Agency)+":v"+itoa(prev.Version), now)
		}
		d.Resolved(NoticeRecordUnsigned, "v"+itoa(prev.Version), now)
	}
	d.Circulation = &Circulation{Version: v, At: now, By: by, To: to}
	var signups []Signup
	for _, a := range d.signingAgencies() {
		signups = append(signups, Signup{Agency: a, Version: v, State: SignupPending})
	}
	d.Signups = signups
	d.Publish(HookRecordCirculated, "v"+itoa(v), now)
	d.record(now, by, "record_circulated", "version "+itoa(v)+" to "+itoa(len(to))+" participants")
	if fo := d.followOn(FollowOnRecord); fo != nil && fo.state() != FollowOnMet {
		d.meet(fo, now, "record version "+itoa(v)+" circulated to "+itoa(len(to))+" participants", by, now)
	}
	return Effects{Detail: map[string]any{"version": v, "recipients": len(to), "agencies": len(signups)}}, nil
}

// queueRecord decides on a record email to a participant: the n-th for
// version v (1 the circulation, 2 the chase).
func (d *Discussion) queueRecord(to string, v, n int) {
	m := PendingMessage{ID: d.ID + ":RECORD:" + itoa(v) + ":" + to + ":" + itoa(n), Method: "RECORD", To: to, Sequence: v, Reminder: n > 1}
	if !slices.ContainsFunc(d.Pending, func(p PendingMessage) bool { return p.ID == m.ID }) {
		d.Pending = append(d.Pending, m)
	}
}

// reopenSignup follows an amendment: a circulated record is circulated
// again as the new version, and every agency is asked again.
func (d *Discussion) reopenSignup(by Actor, now time.Time) {
	if d.Circulation == nil || d.Outcome == nil || d.Circulation.Version == d.Outcome.Version {
		return
	}
	_, _ = d.Circulate(by, now)
}

// Sign records a partner agency's agreement with, or dissent from, the
// record version circulated, given by its representative who (who) took
// part. A dissent is flagged to the chair and business support for
// escalation (002 §1). An agency may change its answer; the last stands
// and each is on the timeline.
func (d *Discussion) Sign(who Invitee, decision, reason, method string, now time.Time) (Effects, error) {
	c := d.Circulation
	if c == nil {
		return Effects{}, Errorf(EPRECONDITION, "the record has not been circulated yet")
	}
	var f Fields
	reason = strings.TrimSpace(reason)
	switch decision {
	case DecisionAgree:
		if len(reason) > 2000 {
			f.Add("reason", "must be at most 2,000 characters")
		}
	case DecisionDissent:
		if reason == "" || len(reason) > 2000 {
			f.Add("reason", "say why your agency disagrees (up to 2,000 characters); it is escalated (002 §1)")
		}
	default:
		f.Add("decision", `must be "agree" or "dissent"`)
	}
	if err := f.Err("the sign-up is not valid"); err != nil {
		return Effects{}, err
	}
	i := slices.IndexFunc(d.Signups, func(s Signup) bool { return s.Agency == who.Agency })
	if i < 0 {
		return Effects{}, Errorf(EFORBIDDEN, "%s is not asked to sign up to this record", who.Agency)
	}
	now = now.UTC()
	s := &d.Signups[i]
	s.Version, s.By, s.Email, s.At, s.Method = c.Version, who.Name, strings.ToLower(who.Email), &now, method
	s.Reason = reason
	actor := Actor{Subject: "signup", Name: who.Name, Email: s.Email}
	if decision == DecisionAgree {
		s.State = SignupAgreed
		d.Resolved(NoticeRecordDissent, string(who.Agency)+":v"+itoa(c.Version), now)
		d.record(now, actor, "record_agreed", string(who.Agency)+" agreed with version "+itoa(c.Version))
	} else {
		s.State = SignupDissented
		d.Notify(NoticeRecordDissent, string(who.Agency)+":v"+itoa(c.Version), now)
		d.record(now, actor, "record_dissented", string(who.Agency)+" dissented from version "+itoa(c.Version))
	}
	d.Publish(HookRecordSigned, string(who.Agency)+":v"+itoa(c.Version)+":"+decision, now)
	if !slices.ContainsFunc(d.Signups, func(s Signup) bool { return s.State == SignupPending }) {
		d.Resolved(NoticeRecordUnsigned, "v"+itoa(c.Version), now)
	}
	return Effects{Detail: map[string]any{"agency": who.Agency, "decision": decision, "version": c.Version, "method": method}}, nil
}

// chase sends the record again to the participants of each agency that
// has not signed up, once per version, and raises the notice.
func (d *Discussion) chase(now time.Time) {
	c := d.Circulation
	var pending []string
	for _, s := range d.Signups {
		if s.State != SignupPending {
			continue
		}
		pending = append(pending, string(s.Agency))
		for _, p := range d.participants() {
			if p.Agency == s.Agency && p.Email != "" {
				d.queueRecord(strings.ToLower(p.Email), c.Version, 2)
			}
		}
	}
	c.ChasedVersion, c.ChasedAt = c.Version, &now
	d.Notify(NoticeRecordUnsigned, "v"+itoa(c.Version), now)
	d.record(now, Actor{Subject: "deadline-watch", Name: "Deadline watch"}, "record_chased", "not yet signed up: "+strings.Join(pending, ", "))
}

// RecordLinkAudience is the audience of record links, so that an RSVP
// token, signed with the same key, is not one.
const RecordLinkAudience = "convene-record"

// RecordLink is what a circulation email's link names: a discussion, the
// participant it was sent to, and the record version.
type RecordLink struct {
	DiscussionID string
	Email        string
	Version      int
	IssuedAt     time.Time
	ExpiresAt    time.Time
}

type recordClaims struct {
	Discussion string `json:"did"`
	Email      string `json:"email"`
	Version    int    `json:"ver"`
	Purpose    string `json:"purpose"`
	jwt.RegisteredClaims
}

// SignRecordLink signs l as an HS256 token for a link
// (PublicURL + "/record/" + token). key is the RSVP key (32 bytes or more).
func SignRecordLink(key []byte, l RecordLink) (string, error) {
	if len(key) < 32 {
		return "", errors.New("record link key is too short")
	}
	if l.DiscussionID == "" || l.Email == "" || l.ExpiresAt.IsZero() {
		return "", errors.New("a record link needs a discussion, an email and an expiry")
	}
	claims := recordClaims{Discussion: l.DiscussionID, Email: strings.ToLower(l.Email), Version: l.Version, Purpose: "record",
		RegisteredClaims: jwt.RegisteredClaims{Audience: jwt.ClaimStrings{RecordLinkAudience}, ExpiresAt: jwt.NewNumericDate(l.ExpiresAt),
			IssuedAt: jwt.NewNumericDate(l.IssuedAt)}}
	return jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(key)
}

// VerifyRecordLink checks a record link's token at now: HS256 only, the
// record audience and purpose, not expired. The web app then confirms the
// holder has the mailbox (a one-time code) and acts for them with
// RecordLinkPrincipal.
func VerifyRecordLink(key []byte, token string, now time.Time) (RecordLink, error) {
	if len(key) < 32 {
		return RecordLink{}, errors.New("record link key is too short")
	}
	var c recordClaims
	_, err := jwt.ParseWithClaims(token, &c, func(*jwt.Token) (any, error) { return key, nil },
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}), jwt.WithAudience(RecordLinkAudience),
		jwt.WithExpirationRequired(), jwt.WithTimeFunc(func() time.Time { return now }))
	if err != nil {
		return RecordLink{}, Errorf(EUNAUTHORIZED, "the record link is not valid or has expired")
	}
	if c.Purpose != "record" || c.Discussion == "" || c.Email == "" {
		return RecordLink{}, Errorf(EUNAUTHORIZED, "the record link is not valid")
	}
	l := RecordLink{DiscussionID: c.Discussion, Email: c.Email, Version: c.Version, ExpiresAt: c.ExpiresAt.Time}
	if c.IssuedAt != nil {
		l.IssuedAt = c.IssuedAt.Time
	}
	return l, nil
}

// RecordLinkPrincipal is who a partner is once they have opened their
// record link and confirmed the one-time code: an agency representative
// with the link's address, so they see the discussions they are invited
// to (as every agency_rep does) and sign for their own agency only.
func RecordLinkPrincipal(l RecordLink, name string, agency Agency) *Principal {
	return &Principal{Subject: "record-link:" + l.Email, Name: name, Email: l.Email, Roles: []Role{RoleAgencyRep}, Agency: agency}
}

// signMethod is how p signs: by link (RecordLinkPrincipal) or signed in.
func signMethod(p *Principal) string {
	if strings.HasPrefix(p.Subject, "record-link:") {
		return AuthorisedByLink
	}
	return AuthorisedSignedIn
}

// renderRecord writes the circulation (or chase) email for pm: plain
// text, no iCalendar, carrying only the allow-listed meeting label, the
// date it was held and a link. No case reference, no name, no allegation:
// the reader signs in (staff) or confirms a code (partners) to see them.
func (a *App) renderRecord(d *Discussion, pm PendingMessage) ([]*invites.Message, error) {
	to := pm.To
	name := ""
	for _, p := range d.participants() {
		if strings.EqualFold(p.Email, to) {
			name = p.Name
		}
	}
	now := a.Now().UTC()
	held := d.CreatedAt
	if d.Started != nil {
		held = d.Started.At
	}
	link := a.Mail.PublicURL
	if len(a.Mail.RSVPKey) > 0 && a.Mail.PublicURL != "" {
		tok, err := SignRecordLink(a.Mail.RSVPKey, RecordLink{DiscussionID: d.ID, Email: to, Version: pm.Sequence, IssuedAt: now, ExpiresAt: now.Add(a.Mail.RSVPTTL)})
		if err != nil {
			return nil, err
		}
		link = a.Mail.PublicURL + "/record/" + tok
	}
	subject := "Record of strategy discussion: please read and sign up"
	lead := "The record of the strategy discussion you took part in"
	if pm.Reminder {
		subject = "Reminder: " + subject
		lead = "Your agency has not yet agreed or disagreed with the record of the strategy discussion you took part in"
	}
	var body strings.Builder
	if name != "" {
		fmt.Fprintf(&body, "Dear %s,\n\n", name)
	}
	fmt.Fprintf(&body, "%s on %s is ready (version %d).\n\n", lead, held.In(a.zone()).Format("Monday 2 January 2006"), pm.Sequence)
	asked := slices.ContainsFunc(d.Signups, func(s Signup) bool {
		return slices.ContainsFunc(d.participants(), func(p Invitee) bool { return p.Agency == s.Agency && strings.EqualFold(p.Email, to) })
	})
	if asked {
		body.WriteString("Read it, and agree or record your agency's disagreement, here:\n\n" + link + "\n\n")
	} else {
		body.WriteString("Read it here:\n\n" + link + "\n\n")
	}
	body.WriteString("The link is for you alone. Staff sign in as usual; colleagues in partner agencies are sent a one-time code to this address.\n")
	body.WriteString("This email carries no case details by design.\n")
	if err := invites.CheckContent(append(d.sensitive(), d.CaseReference), subject, body.String()); err != nil {
		return nil, err
	}
	from := a.Mail.Organizer
	domain := from.Email[strings.LastIndexByte(from.Email, '@')+1:]
	var rnd [12]byte
	_, _ = rand.Read(rnd[:])
	id := hex.EncodeToString(rnd[:]) + "@" + domain
	var raw bytes.Buffer
	hdr := func(k, v string) { raw.WriteString(k + ": " + v + "\r\n") }
	hdr("From", mime.QEncoding.Encode("utf-8", from.Name)+" <"+from.Email+">")
	hdr("To", mime.QEncoding.Encode("utf-8", name)+" <"+to+">")
	hdr("Subject", mime.QEncoding.Encode("utf-8", subject))
	hdr("Date", now.Format(time.RFC1123Z))
	hdr("Message-ID", "<"+id+">")
	hdr("MIME-Version", "1.0")
	hdr("Content-Type", `text/plain; charset="utf-8"`)
	hdr("Content-Transfer-Encoding", "quoted-printable")
	raw.WriteString("\r\n")
	qp := quotedprintable.NewWriter(&raw)
	if _, err := qp.Write([]byte(strings.ReplaceAll(body.String(), "\n", "\r\n"))); err != nil {
		return nil, err
	}
	if err := qp.Close(); err != nil {
		return nil, err
	}
	return []*invites.Message{{ID: id, From: from.Email, To: []string{to}, Raw: raw.Bytes()}}, nil
}

// CirculateRecord circulates the current record version: business support
// or the chair. Audited.
func (a *App) CirculateRecord(ctx context.Context, id string) (*Discussion, error) {
	return a.recordChange(ctx, id, "discussion.record.circulate", func(d *Discussion, p *Principal) (Effects, error) {
		if !canManage(p, d) {
			return Effects{}, Errorf(EFORBIDDEN, "only business support or the chair circulate the record")
		}
		return d.Circulate(p.Actor(), a.Now())
	})
}

// SignRecord records the caller's agreement with, or dissent from, the
// record for their agency: the caller must have taken part, for that
// agency (a staff principal signed in, or a partner's RecordLinkPrincipal).
// Audited.
func (a *App) SignRecord(ctx context.Context, id string, agency Agency, decision, reason string) (*Discussion, error) {
	return a.recordChange(ctx, id, "discussion.record.sign", func(d *Discussion, p *Principal) (Effects, error) {
		who, ok := d.participant(p.Email)
		if !ok {
			return Effects{}, Errorf(EFORBIDDEN, "only someone who took part may sign up to the record")
		}
		if fresh, err := a.directoryInvitee(ctx, d, p.Email); err == nil && fresh != nil {
			who.Agency = fresh.Agency
		}
		if agency != "" && agency != who.Agency || p.Agency != "" && p.Agency != who.Agency {
			return Effects{}, Errorf(EFORBIDDEN, "you sign for your own agency (%s) only", who.Agency)
		}
		return d.Sign(who, decision, reason, signMethod(p), a.Now())
	})
}
