package invites

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/emersion/go-ical"

	"github.com/convene/convene/calendar/ics"
)

// DefaultProdID is the PRODID written when Builder.ProdID is empty.
const DefaultProdID = "-//Convene//Convene invites 1.0//EN"

// Builder builds iTIP messages (RFC 5546) for meetings. The zero value is
// not usable: Now is required so that DTSTAMP is reproducible in tests.
//
// SEQUENCE is the caller's: every message carries Meeting.Sequence as
// given. Raise it by one before a significant change (SignificantChange
// says which changes are) and before cancelling the whole meeting; keep it
// for anything else, such as adding or removing an attendee. DTSTAMP is
// Now, so two messages with the same SEQUENCE are still ordered (Newer).
type Builder struct {
	// ProdID identifies the product (RFC 5545 §3.7.3); DefaultProdID if
	// empty.
	ProdID string
	// Now returns the current time, written as DTSTAMP.
	Now func() time.Time
}

// Request builds a METHOD:REQUEST for m: a new invitation, or an update
// with the same UID (a higher SEQUENCE when the change is significant, see
// SignificantChange). Every attendee is listed with RSVP=TRUE and
// PARTSTAT=NEEDS-ACTION unless the attendee says otherwise, so clients ask
// again after a change of time.
func (b *Builder) Request(m Meeting) ([]byte, error) {
	return b.build(MethodRequest, m, nil, "")
}

// Cancel builds a METHOD:CANCEL for m. With no attendees given it cancels
// the whole meeting: every attendee is listed and STATUS is CANCELLED; the
// caller bumps m.Sequence first (RFC 5546 §3.2.5). With attendees given it
// is the same as Uninvite.
func (b *Builder) Cancel(m Meeting, attendees ...string) ([]byte, error) {
	if len(attendees) > 0 {
		return b.Uninvite(m, attendees...)
	}
	return b.build(MethodCancel, m, nil, "")
}

// Uninvite builds the METHOD:CANCEL that removes the given attendees from
// m while the meeting goes on for the others (RFC 5546 §3.2.5, "Removing
// Attendees"): it lists only those attendees and carries no STATUS.
// STATUS:CANCELLED belongs to the CANCEL of the whole meeting only; a
// client that finds it here may cancel the meeting for everyone in a shared
// calendar, not just take it out of the removed attendee's. SEQUENCE is
// m.Sequence as given (see SignificantChange): removing an attendee is not
// a significant change, and the remaining attendees get an updated REQUEST
// without them.
func (b *Builder) Uninvite(m Meeting, attendees ...string) ([]byte, error) {
	if len(attendees) == 0 {
		return nil, fmt.Errorf("invites: meeting %s: Uninvite needs at least one attendee", m.UID)
	}
	for _, a := range attendees {
		if _, ok := m.attendee(a); !ok {
			return nil, fmt.Errorf("invites: meeting %s: %s is not an attendee", m.UID, a)
		}
	}
	return b.build(MethodCancel, m, attendees, "")
}

// DeclineCounter builds a METHOD:DECLINECOUNTER telling the attendee with
// the given address that the organizer will not move the meeting to the
// time they proposed (RFC 5546 §3.2.8). comment is optional.
func (b *Builder) DeclineCounter(m Meeting, attendee, comment string) ([]byte, error) {
	if _, ok := m.attendee(attendee); !ok {
		return nil, fmt.Errorf("invites: meeting %s: %s is not an attendee", m.UID, attendee)
	}
	return b.build(MethodDeclineCounter, m, []string{attendee}, comment)
}

// Reply builds a METHOD:REPLY in which the attendee with the given address
// answers with stat (RFC 5546 §3.2.3). The service does not send replies;
// tests use this to play an attendee's client.
func (b *Builder) Reply(m Meeting, attendee string, stat PartStat, comment string) ([]byte, error) {
	a, ok := m.attendee(attendee)
	if !ok {
		return nil, fmt.Errorf("invites: meeting %s: %s is not an attendee", m.UID, attendee)
	}
	if !stat.Valid() {
		return nil, fmt.Errorf("invites: invalid participation status %q", stat)
	}
	a.Stat = stat
	a.RSVP = false
	m.Attendees = []Attendee{a}
	return b.build(MethodReply, m, nil, comment)
}

// Calendar builds the iTIP message for method: REQUEST, CANCEL (for every
// attendee) or DECLINECOUNTER (for the only attendee of m). Composer uses
// it.
func (b *Builder) Calendar(method Method, m Meeting) ([]byte, error) {
	switch method {
	case MethodRequest:
		return b.Request(m)
	case MethodCancel:
		return b.Cancel(m)
	case MethodDeclineCounter:
		if len(m.Attendees) != 1 {
			return nil, fmt.Errorf("invites: DECLINECOUNTER needs exactly one attendee, have %d", len(m.Attendees))
		}
		return b.DeclineCounter(m, m.Attendees[0].Email, "")
	}
	return nil, fmt.Errorf("invites: cannot build a %s message for a meeting", method)
}

func (b *Builder) build(method Method, m Meeting, only []string, comment string) ([]byte, error) {
	if b.Now == nil {
		return nil, fmt.Errorf("invites: Builder.Now is nil")
	}
	if err := m.validate(); err != nil {
		return nil, err
	}
	if err := checkField("comment", comment, m.Sensitive); err != nil {
		return nil, err
	}
	prodID := b.ProdID
	if prodID == "" {
		prodID = DefaultProdID
	}

	cal := ical.NewCalendar()
	cal.Props.SetText(ical.PropVersion, "2.0")
	cal.Props.SetText(ical.PropProductID, prodID)
	setRaw(cal.Component, ical.PropCalendarScale, "GREGORIAN")
	setRaw(cal.Component, ical.PropMethod, string(method))
	if isLondon(m.TimeZone) {
		cal.Children = append(cal.Children, londonVTimezone())
	}

	ev := ical.NewComponent(ical.CompEvent)
	ev.Props.SetText(ical.PropUID, m.UID)
	setRaw(ev, ical.PropSequence, strconv.Itoa(m.Sequence))
	setUTC(ev, ical.PropDateTimeStamp, b.Now())
	if !m.Created.IsZero() {
		setUTC(ev, ical.PropCreated, m.Created)
	}
	setDateTime(ev, ical.PropDateTimeStart, m.Start, m.TimeZone)
	setDateTime(ev, ical.PropDateTimeEnd, m.End, m.TimeZone)
	ev.Props.Set(calAddress(ical.PropOrganizer, m.Organizer.Name, m.Organizer.Email))

	ev.Props.SetText(ical.PropSummary, cleanText(m.Summary))
	if method == MethodRequest || method == MethodCancel {
		if d := description(m); d != "" {
			ev.Props.SetText(ical.PropDescription, d)
		}
		loc := m.Location
		if loc == "" {
			loc = m.OnlineURL
		}
		if loc != "" {
			ev.Props.SetText(ical.PropLocation, cleanText(loc))
		}
		if m.OnlineURL != "" {
			setRaw(ev, ical.PropURL, m.OnlineURL)
			conf := ical.NewProp(ical.PropConference)
			conf.Params.Set(ical.ParamValue, string(ical.ValueURI))
			conf.Params[ical.ParamFeature] = []string{"AUDIO", "VIDEO"}
			conf.Params.Set(ical.ParamLabel, "Join online")
			conf.Value = m.OnlineURL
			ev.Props.Set(conf)
		}
		class := "PUBLIC"
		if m.Private {
			class = "PRIVATE"
		}
		setRaw(ev, ical.PropClass, class)
		setRaw(ev, ical.PropTransparency, "OPAQUE")
	}

	status := m.Status
	switch {
	case method == MethodCancel && len(only) > 0:
		status = "" // removing attendees: no STATUS (RFC 5546 §3.2.5)
	case method == MethodCancel:
		status = StatusCancelled
	case method == MethodRequest:
		if status == "" {
			status = StatusConfirmed
		}
	default:
		status = ""
	}
	if status != "" {
		setRaw(ev, ical.PropStatus, string(status))
	}
	if comment != "" {
		ev.Props.SetText(ical.PropComment, cleanText(comment))
	}

	for _, a := range m.Attendees {
		if len(only) > 0 && !containsFold(only, a.Email) {
			continue
		}
		ev.Props.Add(attendeeProp(method, a))
	}
	if len(ev.Props[ical.PropAttendee]) == 0 {
		return nil, fmt.Errorf("invites: meeting %s: %s message has no attendee", m.UID, method)
	}

	cal.Children = append(cal.Children, ev)
	out, err := ics.Encode(cal)
	if err != nil {
		return nil, fmt.Errorf("invites: encoding %s for %s: %w", method, m.UID, err)
	}
	return out, nil
}

func attendeeProp(method Method, a Attendee) *ical.Prop {
	p := calAddress(ical.PropAttendee, a.Name, a.Email)
	p.Params.Set(ical.ParamCalendarUserType, "INDIVIDUAL")
	role := a.Role
	if role == "" {
		role = RoleRequired
	}
	p.Params.Set(ical.ParamRole, string(role))
	stat := a.Stat
	if stat == "" || method == MethodRequest && stat != PartStatDelegated && a.RSVP {
		// A (re)invitation asks again: the attendee's earlier answer was to
		// an earlier version.
		stat = PartStatNeedsAction
	}
	p.Params.Set(ical.ParamParticipationStatus, string(stat))
	if a.RSVP && method == MethodRequest {
		p.Params.Set(ical.ParamRSVP, "TRUE")
	}
	if a.DelegatedFrom != "" {
		p.Params.Set(ical.ParamDelegatedFrom, "mailto:"+a.DelegatedFrom)
	}
	return p
}

// calAddress builds an ORGANIZER or ATTENDEE with CN and a mailto: URI.
func calAddress(name, cn, email string) *ical.Prop {
	p := ical.NewProp(name)
	if cn = cleanParam(cn); cn != "" {
		p.Params.Set(ical.ParamCommonName, cn)
	}
	p.Value = "mailto:" + email
	return p
}

// description is DESCRIPTION: the free text, then the agenda headings, one
// to a line.
func description(m Meeting) string {
	var b strings.Builder
	if d := cleanText(m.Description); d != "" {
		b.WriteString(d)
	}
	if len(m.Agenda) > 0 {
		if b.Len() > 0 {
			b.WriteString("\n\n")
		}
		b.WriteString("Agenda:")
		for i, h := range m.Agenda {
			fmt.Fprintf(&b, "\n%d. %s", i+1, cleanText(h))
		}
	}
	if m.OnlineURL != "" {
		if b.Len() > 0 {
			b.WriteString("\n\n")
		}
		b.WriteString("Join online: " + m.OnlineURL)
	}
	return b.String()
}

// cleanText makes text fit a TEXT value: CRLF and CR become LF (which go-ical
// escapes as \n), other control characters are dropped.
func cleanText(s string) string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	s = strings.ReplaceAll(s, "\r", "\n")
	return strings.Map(func(r rune) rune {
		if r == '\n' || r == '\t' {
			return r
		}
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, strings.TrimSpace(s))
}

// cleanParam makes text fit a parameter value, which can hold neither
// control characters nor DQUOTE (RFC 5545 §3.1).
func cleanParam(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r == '"':
			return '\''
		case r < 0x20 || r == 0x7f:
			return ' '
		}
		return r
	}, strings.TrimSpace(s))
}

func containsFold(list []string, s string) bool {
	for _, v := range list {
		if strings.EqualFold(v, s) {
			return true
		}
	}
	return false
}
