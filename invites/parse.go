package invites

import (
	"bytes"
	"fmt"
	"io"
	"mime"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/emersion/go-ical"
	"github.com/emersion/go-message"
	"github.com/emersion/go-message/mail"
	"golang.org/x/text/encoding/htmlindex"

	"github.com/convene/convene/calendar/ics"
)

// Defaults for Parser.
const (
	DefaultMaxMessageBytes = 4 << 20
	DefaultMaxParts        = 64
	maxMIMEDepth           = 8
)

// Inbound is an iTIP message read from an email: what the sender says about
// which meeting, and who sent it. The service matches it to a meeting by UID
// and to an attendee with Speaker.
type Inbound struct {
	// MessageID is the Message-ID without angle brackets, "" if absent.
	MessageID string
	Subject   string
	// From is the address in the From header; FromName its display name.
	From     string
	FromName string
	// Sender is the address in the Sender header, if any (a secretary or
	// a mailing system sending for From).
	Sender string

	// Method is the iTIP method: METHOD in the calendar, or the MIME
	// method parameter when the calendar has none.
	Method Method
	// MIMEMethod is the method parameter of the MIME part as sent,
	// upper-cased; "" if absent. Outlook sometimes leaves it off.
	MIMEMethod string
	ProdID     string

	UID      string
	Sequence int
	// DTStamp is when the reply was made; zero if absent, as it often is
	// from Exchange.
	DTStamp time.Time
	// RecurrenceID is set when the message is about one occurrence of a
	// recurring meeting.
	RecurrenceID time.Time
	// Organizer is the ORGANIZER address; "" if absent, as in Outlook and
	// Exchange replies.
	Organizer string
	// Summary is SUMMARY as sent, with any "Accepted: " style prefix.
	Summary string
	// Comment is the attendee's note (COMMENT), "" if none.
	Comment string

	Attendees []ReplyAttendee

	// Proposal holds the proposed times of a COUNTER; nil otherwise.
	Proposal *Proposal
}

// ReplyAttendee is one ATTENDEE of an inbound message.
type ReplyAttendee struct {
	Email string
	Name  string
	// Stat is PARTSTAT as sent, upper-cased; PartStatNeedsAction if
	// absent. Check Stat.Valid before recording it.
	Stat PartStat
	Role Role
	// DelegatedTo and DelegatedFrom list addresses from DELEGATED-TO and
	// DELEGATED-FROM.
	DelegatedTo   []string
	DelegatedFrom []string
	// SentBy is the SENT-BY address: someone acting for this attendee.
	SentBy string
	// Comment is the note Google Calendar puts in the X-RESPONSE-COMMENT
	// parameter; other clients use the COMMENT property (Inbound.Comment).
	Comment string
}

// Proposal is what an attendee proposes in a COUNTER: a new start and end,
// and what Outlook reports as the original times (X-MS-OLK-ORIGINALSTART
// and X-MS-OLK-ORIGINALEND; zero if absent).
type Proposal struct {
	Start, End                 time.Time
	OriginalStart, OriginalEnd time.Time
}

// Parser reads inbound iMIP messages. The zero value uses the defaults.
type Parser struct {
	// MaxMessageBytes bounds the raw message; DefaultMaxMessageBytes if 0.
	MaxMessageBytes int
	// MaxParts bounds the MIME parts visited; DefaultMaxParts if 0.
	MaxParts int
	// Methods lists the methods accepted; REPLY, COUNTER and REFRESH if
	// empty. Anything else is refused with ErrMethod.
	Methods []Method
	// Zone is the area's time zone, in which a floating time or a date in
	// a message is read (the rule of package ics): a COUNTER from a client
	// that proposes local time without a TZID. Nil refuses such a proposal
	// as malformed rather than guess: it is never read as UTC.
	Zone *time.Location
}

// ParseMessage reads a raw RFC 5322 message with the default Parser.
func ParseMessage(raw []byte) (*Inbound, error) {
	var p Parser
	return p.Parse(raw)
}

// Parse reads a raw RFC 5322 message carrying an iTIP REPLY, COUNTER or
// REFRESH (or whatever p.Methods allows). Refusals are *ParseError; test
// them with errors.Is and the ErrorKind constants.
func (p *Parser) Parse(raw []byte) (*Inbound, error) {
	maxBytes := p.MaxMessageBytes
	if maxBytes <= 0 {
		maxBytes = DefaultMaxMessageBytes
	}
	if len(raw) > maxBytes {
		return nil, &ParseError{Kind: ErrOversize, Detail: fmt.Sprintf("message is %d bytes, limit %d", len(raw), maxBytes)}
	}
	maxParts := p.MaxParts
	if maxParts <= 0 {
		maxParts = DefaultMaxParts
	}

	root, err := message.ReadWithOptions(bytes.NewReader(raw), &message.ReadOptions{MaxHeaderBytes: 256 << 10})
	if err != nil && !message.IsUnknownCharset(err) && !message.IsUnknownEncoding(err) {
		return nil, &ParseError{Kind: ErrMalformed, Detail: "message header", Err: err}
	}
	in := &Inbound{}
	readHeaders(in, mail.Header{Header: root.Header})

	w := walker{maxParts: maxParts}
	if err := w.walk(root, 0); err != nil {
		return nil, err
	}
	found := w.inline
	if found == nil {
		found = w.attached
	}
	if found == nil {
		found = w.tnef
	}
	if found == nil {
		if w.brokenAt != nil {
			return nil, &ParseError{Kind: ErrMalformed, Detail: "MIME structure", Err: w.brokenAt}
		}
		return nil, &ParseError{Kind: ErrNoCalendar}
	}
	in.MIMEMethod = found.method

	var cal *ical.Calendar
	if found.tnef {
		msg, err := readTNEF(found.data)
		if err != nil {
			return nil, &ParseError{Kind: ErrMalformed, Detail: "TNEF", Err: err}
		}
		cal, err = msg.calendar(in.From)
		if err != nil {
			return nil, err
		}
	} else if cal, err = decodeCalendar(found.data); err != nil {
		return nil, err
	}
	if err := readCalendar(in, cal, p.Zone); err != nil {
		return nil, err
	}
	if err := p.checkMethod(in); err != nil {
		return nil, err
	}
	if len(in.Attendees) == 0 {
		return nil, &ParseError{Kind: ErrNoAttendee, Detail: fmt.Sprintf("%s names no attendee with an email address", in.Method)}
	}
	if in.Method == MethodCounter {
		if in.Proposal == nil {
			return nil, &ParseError{Kind: ErrMalformed, Detail: "COUNTER without a proposed DTSTART"}
		}
	} else {
		in.Proposal = nil
	}
	return in, nil
}

func (p *Parser) checkMethod(in *Inbound) error {
	if in.Method == "" {
		in.Method = Method(in.MIMEMethod)
	}
	if in.Method == "" {
		return &ParseError{Kind: ErrMethod, Detail: "no METHOD in the calendar or the MIME part"}
	}
	allowed := p.Methods
	if len(allowed) == 0 {
		allowed = []Method{MethodReply, MethodCounter, MethodRefresh}
	}
	for _, m := range allowed {
		if m == in.Method {
			return nil
		}
	}
	return &ParseError{Kind: ErrMethod, Detail: fmt.Sprintf("METHOD %.20s", in.Method)}
}

func readHeaders(in *Inbound, h mail.Header) {
	in.MessageID, _ = h.MessageID()
	if s, err := h.Subject(); err == nil {
		in.Subject = s
	} else {
		in.Subject = h.Get("Subject")
	}
	in.From, in.FromName = firstAddress(h, "From")
	in.Sender, _ = firstAddress(h, "Sender")
}

var angleAddr = regexp.MustCompile(`<([^<>@\s]+@[^<>@\s]+)>`)

// firstAddress reads the first address of an address header, falling back
// to the first <local@domain> in it when the header does not parse (as
// with unquoted commas or dots in display names).
func firstAddress(h mail.Header, key string) (addr, name string) {
	if list, err := h.AddressList(key); err == nil && len(list) > 0 {
		return list[0].Address, list[0].Name
	}
	v := h.Get(key)
	if m := angleAddr.FindStringSubmatch(v); m != nil {
		return m[1], ""
	}
	v = strings.TrimSpace(v)
	if strings.Count(v, "@") == 1 && !strings.ContainsAny(v, " <>,;\"") {
		return v, ""
	}
	return "", ""
}

// calendarPart is a candidate calendar found in the MIME tree.
type calendarPart struct {
	data   []byte
	method string
	tnef   bool // data is a TNEF stream, not iCalendar
}

// walker looks through the MIME tree for the calendar: the first
// text/calendar part wins, else the first .ics or application/ics
// attachment, else the first TNEF part (winmail.dat).
type walker struct {
	maxParts int
	parts    int
	inline   *calendarPart
	attached *calendarPart
	tnef     *calendarPart
	brokenAt error
}

func (w *walker) walk(e *message.Entity, depth int) error {
	w.parts++
	if w.parts > w.maxParts {
		return &ParseError{Kind: ErrOversize, Detail: fmt.Sprintf("more than %d MIME parts", w.maxParts)}
	}
	if depth > maxMIMEDepth {
		return &ParseError{Kind: ErrOversize, Detail: "MIME parts nested too deeply"}
	}
	mediaType, params := contentType(e.Header)
	if mr := e.MultipartReader(); mr != nil {
		for {
			part, err := mr.NextPart()
			if err == io.EOF {
				return nil
			}
			if err != nil && !message.IsUnknownCharset(err) && !message.IsUnknownEncoding(err) {
				// A truncated or broken multipart: keep what was found.
				w.brokenAt = err
				return nil
			}
			if err := w.walk(part, depth+1); err != nil {
				return err
			}
			if w.inline != nil {
				return nil
			}
		}
	}

	kind := calendarKind(mediaType, e.Header)
	if kind == 0 || (kind == 2 && w.attached != nil) || (kind == 3 && w.tnef != nil) {
		return nil
	}
	if kind == 3 {
		data, err := io.ReadAll(io.LimitReader(e.Body, maxTNEFBytes+1))
		if err != nil {
			return &ParseError{Kind: ErrMalformed, Detail: "TNEF part encoding", Err: err}
		}
		if len(data) > maxTNEFBytes {
			return &ParseError{Kind: ErrOversize, Detail: fmt.Sprintf("TNEF part exceeds %d bytes", maxTNEFBytes)}
		}
		w.tnef = &calendarPart{data: data, tnef: true}
		return nil
	}
	data, err := readBody(e, params)
	if err != nil {
		return err
	}
	part := &calendarPart{data: data, method: strings.ToUpper(strings.TrimSpace(params["method"]))}
	if kind == 1 {
		w.inline = part
	} else {
		w.attached = part
	}
	return nil
}

// calendarKind is 1 for an inline text/calendar part, 2 for an attached
// calendar (application/ics and friends, or any *.ics file), 3 for TNEF
// (application/ms-tnef, or a winmail.dat of any type), 0 otherwise.
func calendarKind(mediaType string, h message.Header) int {
	disp, dparams, _ := h.ContentDisposition()
	filename := strings.ToLower(dparams["filename"])
	_, cparams := contentType(h)
	if filename == "" {
		filename = strings.ToLower(cparams["name"])
	}
	switch mediaType {
	case "text/calendar":
		if strings.EqualFold(disp, "attachment") {
			return 2
		}
		return 1
	case "application/ics", "text/x-vcalendar", "application/x-ics", "application/ical":
		return 2
	case "application/ms-tnef", "application/vnd.ms-tnef":
		return 3
	}
	switch {
	case strings.HasSuffix(filename, ".ics"):
		return 2
	case filename == "winmail.dat":
		return 3
	}
	return 0
}

// contentType parses Content-Type, lower-casing the media type and the
// parameter names. When mime.ParseMediaType refuses it (a duplicate
// parameter, stray characters), the type and any method and charset are
// picked out by hand: such headers come from real clients.
func contentType(h message.Header) (string, map[string]string) {
	v := h.Get("Content-Type")
	if v == "" {
		return "text/plain", map[string]string{}
	}
	t, params, err := mime.ParseMediaType(v)
	if err == nil {
		return strings.ToLower(t), params
	}
	params = map[string]string{}
	parts := strings.Split(v, ";")
	for _, p := range parts[1:] {
		k, val, ok := strings.Cut(p, "=")
		if !ok {
			continue
		}
		k = strings.ToLower(strings.TrimSpace(k))
		if _, dup := params[k]; !dup {
			params[k] = strings.Trim(strings.TrimSpace(val), `"`)
		}
	}
	return strings.ToLower(strings.TrimSpace(parts[0])), params
}

// readBody reads a part's decoded body, bounded, converting a legacy
// charset to UTF-8.
func readBody(e *message.Entity, params map[string]string) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(e.Body, maxCalendarBytes+1))
	if err != nil {
		return nil, &ParseError{Kind: ErrMalformed, Detail: "calendar part encoding", Err: err}
	}
	if len(data) > maxCalendarBytes {
		return nil, &ParseError{Kind: ErrOversize, Detail: fmt.Sprintf("calendar part exceeds %d bytes", maxCalendarBytes)}
	}
	cs := strings.ToLower(strings.TrimSpace(params["charset"]))
	switch cs {
	case "", "utf-8", "utf8", "us-ascii", "ascii":
		return data, nil
	}
	enc, err := htmlindex.Get(cs)
	if err != nil {
		return data, nil // unknown charset: read as UTF-8, invalid bytes replaced
	}
	out, err := enc.NewDecoder().Bytes(data)
	if err != nil {
		return data, nil
	}
	return out, nil
}

// readCalendar fills in from the calendar's METHOD and first VEVENT,
// reading floating times in zone.
func readCalendar(in *Inbound, cal *ical.Calendar, zone *time.Location) error {
	if p := cal.Props.Get(ical.PropMethod); p != nil {
		in.Method = Method(strings.ToUpper(strings.TrimSpace(p.Value)))
	}
	if p := cal.Props.Get(ical.PropProductID); p != nil {
		in.ProdID = p.Value
	}
	var ev *ical.Component
	for _, c := range cal.Children {
		if c.Name != ical.CompEvent {
			continue
		}
		// The master event if there is one, else the first occurrence.
		if ev == nil || ev.Props.Get(ical.PropRecurrenceID) != nil && c.Props.Get(ical.PropRecurrenceID) == nil {
			ev = c
		}
	}
	if ev == nil {
		return &ParseError{Kind: ErrNoEvent}
	}
	zones := ics.NewZones(zone, nil)
	zones.DefineAll(cal.Component)
	dateTime := func(p *ical.Prop) (time.Time, error) {
		t, err := zones.Time(p)
		return t.Time, err
	}

	if p := ev.Props.Get(ical.PropUID); p != nil {
		in.UID = strings.TrimSpace(p.Value)
	}
	if in.UID == "" {
		return &ParseError{Kind: ErrNoUID}
	}
	if p := ev.Props.Get(ical.PropSequence); p != nil {
		if n, err := strconv.Atoi(strings.TrimSpace(p.Value)); err == nil && n >= 0 {
			in.Sequence = n
		}
	}
	if p := ev.Props.Get(ical.PropDateTimeStamp); p != nil {
		in.DTStamp, _ = dateTime(p)
	}
	if p := ev.Props.Get(ical.PropRecurrenceID); p != nil {
		in.RecurrenceID, _ = dateTime(p)
	}
	if p := ev.Props.Get(ical.PropOrganizer); p != nil {
		in.Organizer = ics.Email(p)
	}
	in.Summary = propText(ev, ical.PropSummary)
	in.Comment = strings.TrimSpace(propText(ev, ical.PropComment))

	for _, p := range ev.Props[ical.PropAttendee] {
		a := ReplyAttendee{
			Email:         ics.Email(&p),
			Name:          strings.TrimSpace(p.Params.Get(ical.ParamCommonName)),
			Stat:          PartStat(strings.ToUpper(strings.TrimSpace(p.Params.Get(ical.ParamParticipationStatus)))),
			Role:          Role(strings.ToUpper(strings.TrimSpace(p.Params.Get(ical.ParamRole)))),
			DelegatedTo:   addressList(p.Params.Values(ical.ParamDelegatedTo)),
			DelegatedFrom: addressList(p.Params.Values(ical.ParamDelegatedFrom)),
			Comment:       strings.TrimSpace(p.Params.Get("X-RESPONSE-COMMENT")),
		}
		if sb := p.Params.Get(ical.ParamSentBy); sb != "" {
			a.SentBy = mailtoAddress(sb)
		}
		if a.Email == "" {
			continue
		}
		if a.Stat == "" {
			a.Stat = PartStatNeedsAction
		}
		if a.Role == "" {
			a.Role = RoleRequired
		}
		in.Attendees = append(in.Attendees, a)
	}

	if p := ev.Props.Get(ical.PropDateTimeStart); p != nil {
		start, err := dateTime(p)
		if err == nil {
			prop := &Proposal{Start: start}
			if e := ev.Props.Get(ical.PropDateTimeEnd); e != nil {
				prop.End, err = dateTime(e)
			} else if d := ev.Props.Get(ical.PropDuration); d != nil {
				var dur ics.Duration
				if dur, err = ics.ParseDuration(d.Value); err == nil {
					prop.End = dur.AddTo(start)
				}
			}
			if err == nil {
				if o := ev.Props.Get("X-MS-OLK-ORIGINALSTART"); o != nil {
					prop.OriginalStart, _ = dateTime(o)
				}
				if o := ev.Props.Get("X-MS-OLK-ORIGINALEND"); o != nil {
					prop.OriginalEnd, _ = dateTime(o)
				}
				in.Proposal = prop
			}
		}
		if err != nil && in.Method == MethodCounter {
			return &ParseError{Kind: ErrMalformed, Detail: "COUNTER proposed time", Err: err}
		}
	}
	return nil
}

// propText reads a TEXT property, unescaped; the raw value if it is badly
// escaped.
func propText(c *ical.Component, name string) string {
	p := c.Props.Get(name)
	if p == nil {
		return ""
	}
	s, err := p.Text()
	if err != nil {
		return p.Value
	}
	return s
}

func addressList(values []string) []string {
	var out []string
	for _, v := range values {
		for _, s := range strings.Split(v, ",") {
			if e := mailtoAddress(strings.Trim(strings.TrimSpace(s), `"`)); e != "" {
				out = append(out, e)
			}
		}
	}
	return out
}

// SpeaksFor reports whether a message from the address from may answer for
// attendee a: from is the attendee's own address, or the attendee's SENT-BY
// in the attendee's own mail domain (an assistant or delegate in their
// organisation). SENT-BY is written by the sender of the very message being
// judged, so one outside the attendee's domain vouches for nothing: anyone
// could name their own mailbox. Comparison ignores case.
func SpeaksFor(from string, a ReplyAttendee) bool {
	from = strings.TrimSpace(from)
	if from == "" {
		return false
	}
	if strings.EqualFold(from, a.Email) {
		return true
	}
	return a.SentBy != "" && strings.EqualFold(from, a.SentBy) && strings.EqualFold(domainOf(a.SentBy), domainOf(a.Email))
}

// domainOf is the part of an address after its last '@'; "" if none.
func domainOf(addr string) string {
	i := strings.LastIndexByte(addr, '@')
	if i < 0 {
		return ""
	}
	return addr[i+1:]
}

// Speaker returns the attendee the message's sender speaks for: the one
// whose address, or whose SENT-BY (see SpeaksFor), is the From address. A
// reply that names only other attendees is refused with ErrSpoofed: the
// service must not let one person answer for another.
func (in *Inbound) Speaker() (ReplyAttendee, error) {
	for _, a := range in.Attendees {
		if strings.EqualFold(in.From, a.Email) {
			return a, nil
		}
	}
	for _, a := range in.Attendees {
		if SpeaksFor(in.From, a) {
			return a, nil
		}
	}
	return ReplyAttendee{}, &ParseError{Kind: ErrSpoofed, Detail: fmt.Sprintf("From is none of the %d attendees nor their SENT-BY", len(in.Attendees))}
}
