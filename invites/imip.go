package invites

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"html/template"
	"io"
	"strings"
	"time"

	"github.com/emersion/go-message"
	"github.com/emersion/go-message/mail"
)

// Message is one email ready to send: its Message-ID, the SMTP envelope and
// the RFC 5322 text.
type Message struct {
	// ID is the Message-ID without angle brackets. It is unique, so senders
	// use it as a delivery key (the outbox file name, for one).
	ID string
	// From is the envelope sender (MAIL FROM); To the envelope recipients
	// (RCPT TO).
	From string
	To   []string
	// Raw is the message, CRLF line endings, 7-bit clean.
	Raw []byte
}

// RSVPLinks are optional web links, one per answer, shown in the body of an
// invitation for people whose mail client offers no buttons. The caller
// builds them, typically with SignRSVP.
type RSVPLinks struct {
	Accept, Tentative, Decline string
}

func (l RSVPLinks) empty() bool { return l.Accept == "" && l.Tentative == "" && l.Decline == "" }

// Invitation is one iMIP message to compose: a meeting, what to tell the
// recipient about it, and who the recipient is.
type Invitation struct {
	// Method is MethodRequest (a new or updated invitation), MethodCancel
	// or MethodDeclineCounter.
	Method  Method
	Meeting Meeting
	// To receives the message. For REQUEST and CANCEL it is normally one
	// of Meeting.Attendees; for DECLINECOUNTER it must be.
	To Person
	// RSVP links are written into the body of a REQUEST when set.
	RSVP RSVPLinks
	// Comment is an optional note from the organizer, written into the
	// body and, for DECLINECOUNTER, into COMMENT.
	Comment string
	// Uninvite turns a CANCEL into "you are no longer invited": the
	// calendar lists only the recipient and carries no STATUS, and the
	// meeting goes on for the others (RFC 5546 §3.2.5; see
	// Builder.Uninvite). The caller sends the remaining attendees an
	// updated REQUEST without them.
	Uninvite bool
	// DeclinedProposal, on a REQUEST or DECLINECOUNTER, is the time the
	// recipient proposed in a COUNTER and the organizer did not accept.
	// The body then says so and that the meeting stays at its time. See
	// Composer.DeclineCounter for why a REQUEST goes with the
	// DECLINECOUNTER.
	DeclinedProposal *Proposal
	// InReplyTo is the Message-ID (without angle brackets) of the message
	// this one follows, normally the first invitation the recipient was
	// sent; References lists the thread's Message-IDs, oldest first, and
	// is InReplyTo alone if empty. They become the In-Reply-To and
	// References fields (RFC 5322 §3.6.4), so mail clients show an update,
	// cancellation, counter decision or reminder in the same conversation
	// as the invitation.
	InReplyTo  string
	References []string
}

// Composer writes iMIP messages (RFC 6047). The zero value is not usable:
// Builder.Now is required.
type Composer struct {
	// Builder writes the calendar. Its Now also dates the message.
	Builder Builder
	// NewID returns a fresh unique token, used for the Message-ID and the
	// MIME boundaries. Random if nil; tests inject a counter.
	NewID func() string
	// Domain is the right-hand side of Message-IDs; the organizer's mail
	// domain if empty.
	Domain string
	// EnvelopeFrom is the SMTP MAIL FROM (where bounces go); the
	// organizer's address if empty.
	EnvelopeFrom string
}

// Compose writes one email carrying inv: headers, a plain-text and an HTML
// body, the calendar inline as text/calendar with the method parameter, and
// the same calendar attached as invite.ics.
func (c *Composer) Compose(inv Invitation) (*Message, error) {
	m := inv.Meeting
	switch inv.Method {
	case MethodRequest, MethodCancel:
		if inv.Uninvite {
			if _, ok := m.attendee(inv.To.Email); !ok || inv.Method != MethodCancel {
				return nil, fmt.Errorf("invites: Uninvite needs a CANCEL to one of the attendees")
			}
		}
	case MethodDeclineCounter:
		if _, ok := m.attendee(inv.To.Email); !ok {
			return nil, fmt.Errorf("invites: DECLINECOUNTER to %s, who is not an attendee of %s", inv.To.Email, m.UID)
		}
	default:
		return nil, fmt.Errorf("invites: cannot compose a %s message", inv.Method)
	}
	if err := checkAddress(inv.To.Email); err != nil {
		return nil, fmt.Errorf("invites: recipient: %w", err)
	}
	if err := checkField("comment", inv.Comment, m.Sensitive); err != nil {
		return nil, err
	}
	if inv.DeclinedProposal != nil {
		if inv.Method == MethodCancel {
			return nil, fmt.Errorf("invites: a CANCEL cannot carry a declined proposal")
		}
		if p := inv.DeclinedProposal; p.Start.IsZero() || !p.End.After(p.Start) {
			return nil, fmt.Errorf("invites: declined proposal needs a start and an end after it")
		}
	}
	thread, err := threadIDs(inv.InReplyTo, inv.References)
	if err != nil {
		return nil, err
	}

	var ics []byte
	switch inv.Method {
	case MethodRequest:
		ics, err = c.Builder.Request(m)
	case MethodCancel:
		if inv.Uninvite {
			ics, err = c.Builder.Uninvite(m, inv.To.Email)
		} else {
			ics, err = c.Builder.Cancel(m)
		}
	case MethodDeclineCounter:
		ics, err = c.Builder.DeclineCounter(m, inv.To.Email, inv.Comment)
	}
	if err != nil {
		return nil, err
	}

	newID := c.NewID
	if newID == nil {
		newID = randomID
	}
	domain := c.Domain
	if domain == "" {
		domain = m.Organizer.Email[strings.LastIndexByte(m.Organizer.Email, '@')+1:]
	}
	id := newID() + "@" + domain
	envFrom := c.EnvelopeFrom
	if envFrom == "" {
		envFrom = m.Organizer.Email
	}

	// go-message writes header fields in the reverse of the order they are
	// added: add them bottom up.
	var h mail.Header
	h.SetContentType("multipart/mixed", map[string]string{"boundary": "mixed-" + newID()})
	h.Set("MIME-Version", "1.0")
	if len(thread) > 0 {
		h.SetMsgIDList("References", thread)
		h.SetMsgIDList("In-Reply-To", thread[len(thread)-1:])
	}
	h.SetMessageID(id)
	h.SetDate(c.Builder.Now())
	h.SetSubject(subject(inv, m))
	h.SetAddressList("To", []*mail.Address{{Name: inv.To.Name, Address: inv.To.Email}})
	h.SetAddressList("From", []*mail.Address{{Name: m.Organizer.Name, Address: m.Organizer.Email}})

	var buf bytes.Buffer
	mixed, err := message.CreateWriter(&buf, h.Header)
	if err != nil {
		return nil, err
	}
	var ah message.Header
	ah.SetContentType("multipart/alternative", map[string]string{"boundary": "alt-" + newID()})
	alt, err := mixed.CreatePart(ah)
	if err != nil {
		return nil, err
	}
	text, html, err := bodies(inv)
	if err != nil {
		return nil, err
	}
	if err := writePart(alt, "text/plain", map[string]string{"charset": "UTF-8"}, "quoted-printable", nil, []byte(text)); err != nil {
		return nil, err
	}
	if err := writePart(alt, "text/html", map[string]string{"charset": "UTF-8"}, "quoted-printable", nil, []byte(html)); err != nil {
		return nil, err
	}
	calParams := map[string]string{"method": string(inv.Method), "charset": "UTF-8"}
	if err := writePart(alt, "text/calendar", calParams, "base64", nil, ics); err != nil {
		return nil, err
	}
	if err := alt.Close(); err != nil {
		return nil, err
	}
	att := map[string]string{"filename": "invite.ics"}
	if err := writePart(mixed, "application/ics", map[string]string{"name": "invite.ics"}, "base64", att, ics); err != nil {
		return nil, err
	}
	if err := mixed.Close(); err != nil {
		return nil, err
	}
	return &Message{ID: id, From: envFrom, To: []string{inv.To.Email}, Raw: buf.Bytes()}, nil
}

func writePart(parent *message.Writer, mediaType string, params map[string]string, cte string, attachment map[string]string, body []byte) error {
	var h message.Header
	if attachment != nil {
		h.SetContentDisposition("attachment", attachment)
	}
	h.Set("Content-Transfer-Encoding", cte)
	h.SetContentType(mediaType, params)
	w, err := parent.CreatePart(h)
	if err != nil {
		return err
	}
	if _, err := w.Write(body); err != nil {
		return err
	}
	return w.Close()
}

// subject is the email subject: the summary, with a prefix like the ones
// Outlook uses so people can tell an update from the first invitation.
func subject(inv Invitation, m Meeting) string {
	s := cleanText(strings.ReplaceAll(m.Summary, "\n", " "))
	switch method := inv.Method; {
	case method == MethodCancel && inv.Uninvite:
		return "Removed from: " + s
	case method == MethodCancel:
		return "Cancelled: " + s
	case method == MethodDeclineCounter || inv.DeclinedProposal != nil:
		return "New time declined: " + s
	case m.Sequence > 0:
		return "Updated: " + s
	}
	return s
}

func randomID() string {
	var b [16]byte
	if _, err := io.ReadFull(rand.Reader, b[:]); err != nil {
		panic("invites: no randomness: " + err.Error())
	}
	return hex.EncodeToString(b[:])
}

// bodyData is what the plain and HTML bodies show.
type bodyData struct {
	Intro     string
	Summary   string
	When      string
	Location  string
	OnlineURL string
	Agenda    []string
	Comment   string
	RSVP      RSVPLinks
	Organizer string
	Footer    string
}

func bodies(inv Invitation) (text, html string, err error) {
	m := inv.Meeting
	d := bodyData{
		Summary:   cleanText(m.Summary),
		When:      When(m.Start, m.End, m.TimeZone),
		Location:  cleanText(m.Location),
		OnlineURL: m.OnlineURL,
		Comment:   cleanText(inv.Comment),
		Organizer: organizerLine(m.Organizer),
		Footer:    "This invitation carries a reference only. Do not add personal details when you reply.",
	}
	for _, a := range m.Agenda {
		d.Agenda = append(d.Agenda, cleanText(a))
	}
	switch {
	case inv.Method == MethodCancel && inv.Uninvite:
		d.Intro = "You are no longer needed at this meeting. Your calendar will remove it when you open this message."
	case inv.Method == MethodCancel:
		d.Intro = "This meeting has been cancelled. Your calendar will remove it when you open this message."
	case inv.DeclinedProposal != nil:
		p := inv.DeclinedProposal
		d.Intro = "The new time you proposed (" + When(p.Start, p.End, m.TimeZone) + ") was not accepted. " +
			"The meeting stays at its time, below."
		if inv.Method == MethodRequest {
			d.Intro += " Your calendar keeps it there; reply again if you cannot attend."
			d.RSVP = inv.RSVP
		}
	case inv.Method == MethodDeclineCounter:
		d.Intro = "The organiser cannot move this meeting to the time you proposed. It stays as below."
	case m.Sequence > 0:
		d.Intro = "This meeting has changed. Please check the details and reply again."
		d.RSVP = inv.RSVP
	default:
		d.Intro = "You are invited to this meeting. Please reply from your calendar."
		d.RSVP = inv.RSVP
	}

	var t strings.Builder
	t.WriteString(d.Intro + "\n\n")
	t.WriteString(d.Summary + "\n\n")
	t.WriteString("When: " + d.When + "\n")
	if d.Location != "" {
		t.WriteString("Where: " + d.Location + "\n")
	}
	if d.OnlineURL != "" {
		t.WriteString("Join online: " + d.OnlineURL + "\n")
	}
	if len(d.Agenda) > 0 {
		t.WriteString("\nAgenda:\n")
		for i, a := range d.Agenda {
			fmt.Fprintf(&t, "%d. %s\n", i+1, a)
		}
	}
	if d.Comment != "" {
		t.WriteString("\nNote from the organiser: " + d.Comment + "\n")
	}
	if !d.RSVP.empty() {
		t.WriteString("\nIf your calendar shows no buttons, answer with a link:\n")
		for _, l := range [][2]string{{"Accept", d.RSVP.Accept}, {"Tentative", d.RSVP.Tentative}, {"Decline", d.RSVP.Decline}} {
			if l[1] != "" {
				t.WriteString(l[0] + ": " + l[1] + "\n")
			}
		}
	}
	t.WriteString("\nOrganiser: " + d.Organizer + "\n\n" + d.Footer + "\n")

	var h strings.Builder
	if err := htmlBody.Execute(&h, d); err != nil {
		return "", "", err
	}
	return strings.ReplaceAll(t.String(), "\n", "\r\n"), strings.ReplaceAll(h.String(), "\n", "\r\n"), nil
}

var htmlBody = template.Must(template.New("body").Parse(`<!DOCTYPE html>
<html lang="en-GB">
<head><meta charset="utf-8"><title>{{.Summary}}</title></head>
<body style="font-family: Arial, sans-serif; font-size: 15px; color: #1b1b1b;">
<p>{{.Intro}}</p>
<h1 style="font-size: 20px;">{{.Summary}}</h1>
<table role="presentation" cellpadding="4">
<tr><th align="left" valign="top">When</th><td>{{.When}}</td></tr>
{{- if .Location}}
<tr><th align="left" valign="top">Where</th><td>{{.Location}}</td></tr>
{{- end}}
{{- if .OnlineURL}}
<tr><th align="left" valign="top">Join online</th><td><a href="{{.OnlineURL}}">{{.OnlineURL}}</a></td></tr>
{{- end}}
</table>
{{- if .Agenda}}
<h2 style="font-size: 16px;">Agenda</h2>
<ol>
{{- range .Agenda}}
<li>{{.}}</li>
{{- end}}
</ol>
{{- end}}
{{- if .Comment}}
<p>Note from the organiser: {{.Comment}}</p>
{{- end}}
{{- if or .RSVP.Accept .RSVP.Tentative .RSVP.Decline}}
<p>If your calendar shows no buttons, answer with a link:
{{- if .RSVP.Accept}} <a href="{{.RSVP.Accept}}">Accept</a>{{end}}
{{- if .RSVP.Tentative}} <a href="{{.RSVP.Tentative}}">Tentative</a>{{end}}
{{- if .RSVP.Decline}} <a href="{{.RSVP.Decline}}">Decline</a>{{end}}</p>
{{- end}}
<p>Organiser: {{.Organizer}}</p>
<p style="font-size: 12px; color: #505a5f;">{{.Footer}}</p>
</body>
</html>
`))

// When formats a meeting's time for people, in the meeting's zone (UTC if
// loc is nil): "Tuesday 14 July 2026, 10:00 to 11:00 (BST)".
func When(start, end time.Time, loc *time.Location) string {
	if loc == nil {
		loc = time.UTC
	}
	s, e := start.In(loc), end.In(loc)
	zone := s.Format("MST")
	if zs, ze := s.Format("MST"), e.Format("MST"); zs != ze {
		zone = zs + "/" + ze
	}
	if s.Year() == e.Year() && s.YearDay() == e.YearDay() {
		return fmt.Sprintf("%s, %s to %s (%s)", s.Format("Monday 2 January 2006"), s.Format("15:04"), e.Format("15:04"), zone)
	}
	return fmt.Sprintf("%s to %s (%s)", s.Format("Monday 2 January 2006, 15:04"), e.Format("Monday 2 January 2006, 15:04"), zone)
}

func organizerLine(p Person) string {
	if n := cleanParam(p.Name); n != "" {
		return n + " <" + p.Email + ">"
	}
	return p.Email
}

// threadIDs checks the Message-IDs a follow-up names and returns the
// References list: refs, then inReplyTo if refs does not end with it.
func threadIDs(inReplyTo string, refs []string) ([]string, error) {
	var out []string
	for _, id := range refs {
		id, err := cleanMsgID(id)
		if err != nil {
			return nil, fmt.Errorf("invites: References: %w", err)
		}
		out = append(out, id)
	}
	if inReplyTo != "" {
		id, err := cleanMsgID(inReplyTo)
		if err != nil {
			return nil, fmt.Errorf("invites: In-Reply-To: %w", err)
		}
		if len(out) == 0 || out[len(out)-1] != id {
			out = append(out, id)
		}
	}
	return out, nil
}

// cleanMsgID accepts a Message-ID with or without its angle brackets and
// returns it without them, refusing anything that would not make an
// RFC 5322 msg-id (id-left "@" id-right, no white space or brackets).
func cleanMsgID(id string) (string, error) {
	id = strings.TrimSuffix(strings.TrimPrefix(id, "<"), ">")
	at := strings.LastIndexByte(id, '@')
	if at <= 0 || at == len(id)-1 || len(id) > 250 {
		return "", fmt.Errorf("%.40q is not a Message-ID", id)
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; c <= ' ' || c >= 0x7f || c == '<' || c == '>' || c == '"' || c == '\\' || c == '(' || c == ')' || c == ',' || c == ';' || c == ':' {
			return "", fmt.Errorf("%.40q is not a Message-ID", id)
		}
	}
	return id, nil
}

// DeclineCounter composes the two messages that tell an attendee their
// COUNTER was not accepted: a DECLINECOUNTER (RFC 5546 §3.2.8) and the
// unchanged meeting as a REQUEST, both with a body that says the proposed
// time was not accepted and the meeting stays at its time. inv.Method is
// ignored; inv.DeclinedProposal should be the proposal.
//
// Why two: Outlook does not act on a DECLINECOUNTER ([MS-STANOICAL],
// Microsoft's notes on where Outlook departs from RFC 5546), and other
// clients' support for it varies; Outlook's own organizer sends nothing
// machine-readable when it declines a proposal. What every client shows,
// and files against the meeting, is a REQUEST with a readable body. The
// REQUEST carries the meeting as it is, with SEQUENCE unchanged, so the
// attendee's calendar keeps (or puts back) the meeting at its time without
// treating it as a change. The DECLINECOUNTER goes first, so a client that
// understands it clears the pending proposal before the REQUEST arrives.
// Each is a message of its own because an iMIP message carries one method
// (RFC 6047 §2.4).
//
// The bodies carry only what the caller passes: the meeting's summary (a
// reference), its time and place, the proposed time and the comment.
func (c *Composer) DeclineCounter(inv Invitation) ([]*Message, error) {
	dc := inv
	dc.Method = MethodDeclineCounter
	dc.RSVP = RSVPLinks{}
	first, err := c.Compose(dc)
	if err != nil {
		return nil, err
	}
	req := inv
	req.Method = MethodRequest
	second, err := c.Compose(req)
	if err != nil {
		return nil, err
	}
	return []*Message{first, second}, nil
}
