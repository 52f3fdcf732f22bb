package invites

import (
	"fmt"
	"net/mail"
	"net/url"
	"strings"
	"time"
)

// Method is an iTIP method (RFC 5546 §1.4): the VCALENDAR METHOD property and
// the MIME method parameter (RFC 6047 §2.4), which must agree.
type Method string

// The iTIP methods this package builds or reads.
const (
	MethodRequest        Method = "REQUEST"
	MethodCancel         Method = "CANCEL"
	MethodReply          Method = "REPLY"
	MethodCounter        Method = "COUNTER"
	MethodDeclineCounter Method = "DECLINECOUNTER"
	MethodRefresh        Method = "REFRESH"
)

// Role is an attendee's ROLE parameter (RFC 5545 §3.2.16).
type Role string

// Attendee roles.
const (
	RoleChair          Role = "CHAIR"
	RoleRequired       Role = "REQ-PARTICIPANT"
	RoleOptional       Role = "OPT-PARTICIPANT"
	RoleNonParticipant Role = "NON-PARTICIPANT"
)

// PartStat is an attendee's participation status, the PARTSTAT parameter
// (RFC 5545 §3.2.12) as an event uses it.
type PartStat string

// Participation statuses of an event attendee.
const (
	PartStatNeedsAction PartStat = "NEEDS-ACTION"
	PartStatAccepted    PartStat = "ACCEPTED"
	PartStatDeclined    PartStat = "DECLINED"
	PartStatTentative   PartStat = "TENTATIVE"
	PartStatDelegated   PartStat = "DELEGATED"
)

// Valid reports whether p is one of the statuses RFC 5545 defines for an
// event.
func (p PartStat) Valid() bool {
	switch p {
	case PartStatNeedsAction, PartStatAccepted, PartStatDeclined, PartStatTentative, PartStatDelegated:
		return true
	}
	return false
}

// Status is the STATUS of an event (RFC 5545 §3.8.1.11).
type Status string

// Event statuses.
const (
	StatusConfirmed Status = "CONFIRMED"
	StatusTentative Status = "TENTATIVE"
	StatusCancelled Status = "CANCELLED"
)

// Person is a calendar user reached by email: the organizer, or the sender
// or recipient of a message.
type Person struct {
	Name  string
	Email string
}

// String formats p as an RFC 5322 address, with the name encoded if needed.
func (p Person) String() string {
	return (&mail.Address{Name: p.Name, Address: p.Email}).String()
}

// Attendee is one ATTENDEE of a meeting (RFC 5545 §3.8.4.1).
type Attendee struct {
	Name  string
	Email string
	Role  Role     // RoleRequired if empty
	Stat  PartStat // PartStatNeedsAction if empty
	// RSVP asks the attendee to reply. Invitations set it for everyone who
	// is asked to attend.
	RSVP bool
	// DelegatedFrom is the email address of the attendee who delegated to
	// this one, if any.
	DelegatedFrom string
}

// Meeting is what an invitation describes. Its text fields (Summary,
// Description, Agenda, Location) are seen by anyone who handles the email or
// the calendar: see the package documentation on data protection.
type Meeting struct {
	// UID identifies the meeting across every message about it, for ever
	// (RFC 5545 §3.8.4.7). Use a random or opaque value, never one that
	// carries meaning.
	UID string
	// Sequence is the revision number (RFC 5545 §3.8.7.4), kept by the
	// caller: 0 for the first invitation, one more on every significant
	// change (see SignificantChange) and on cancelling the meeting. The
	// builder writes it as given.
	Sequence int
	// Summary is the title, for example "Strategy discussion — case
	// CR-2026-0042". It is also the email subject.
	Summary string
	// Description is optional free text placed before the agenda.
	Description string
	// Agenda lists the agenda headings, written into DESCRIPTION and the
	// email body.
	Agenda []string
	// Start and End are the meeting's instants.
	Start, End time.Time
	// TimeZone is the zone the meeting is held in. Europe/London is
	// written with TZID and a VTIMEZONE; nil or any other zone is written
	// in UTC, which every client converts to its own zone.
	TimeZone *time.Location
	// Location is the room or address; OnlineURL the link to join when the
	// meeting is virtual (written as URL, CONFERENCE and, if Location is
	// empty, LOCATION).
	Location  string
	OnlineURL string
	// Organizer sends the invitation and receives the replies.
	Organizer Person
	Attendees []Attendee
	// Status is StatusConfirmed if empty (StatusCancelled for a CANCEL).
	Status Status
	// Private marks the event CLASS:PRIVATE, so calendar delegates and
	// shared calendars show it as busy without its details.
	Private bool
	// Created is when the meeting was first created (CREATED); zero omits
	// it.
	Created time.Time
	// Sensitive lists strings that must not appear anywhere in the
	// invitation: a child's or family's name, an address, words of an
	// allegation. Building refuses a meeting that contains any of them
	// (case and spacing ignored). See CheckContent.
	Sensitive []string
}

// validate checks what every iTIP message about m needs.
func (m *Meeting) validate() error {
	if strings.TrimSpace(m.UID) == "" {
		return fmt.Errorf("invites: meeting has no UID")
	}
	if m.Sequence < 0 {
		return fmt.Errorf("invites: meeting %s: negative sequence", m.UID)
	}
	if m.Start.IsZero() || m.End.IsZero() {
		return fmt.Errorf("invites: meeting %s: start and end are required", m.UID)
	}
	if !m.End.After(m.Start) {
		return fmt.Errorf("invites: meeting %s: end %s is not after start %s", m.UID, m.End, m.Start)
	}
	if err := checkAddress(m.Organizer.Email); err != nil {
		return fmt.Errorf("invites: meeting %s: organizer: %w", m.UID, err)
	}
	for i, a := range m.Attendees {
		if err := checkAddress(a.Email); err != nil {
			return fmt.Errorf("invites: meeting %s: attendee %d: %w", m.UID, i, err)
		}
	}
	if m.OnlineURL != "" {
		u, err := CheckOnlineURL(m.OnlineURL)
		if err != nil {
			return fmt.Errorf("invites: meeting %s: %w", m.UID, err)
		}
		m.OnlineURL = u
	}
	return m.checkSensitive()
}

// CheckOnlineURL returns the join link as a URI value may carry it (RFC
// 5545 §3.3.13; written into URL, CONFERENCE and the body): an absolute
// https URL, percent-encoded, without credentials, control characters,
// quotes or spaces, so that it cannot break the property or the body.
func CheckOnlineURL(raw string) (string, error) {
	if strings.ContainsFunc(raw, func(r rune) bool { return r < 0x20 || r == 0x7f || r == ' ' || r == '"' || r == '<' || r == '>' }) {
		return "", fmt.Errorf("online URL has characters a link cannot carry")
	}
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil || u.Opaque != "" {
		return "", fmt.Errorf("online URL must be an absolute https link without credentials")
	}
	return u.String(), nil
}

// checkSensitive applies the meeting's own Sensitive list to every text that
// leaves the service.
func (m *Meeting) checkSensitive() error {
	fields := map[string]string{
		"summary":     m.Summary,
		"description": m.Description,
		"location":    m.Location,
		"online URL":  m.OnlineURL,
		"agenda":      strings.Join(m.Agenda, "\n"),
	}
	for _, name := range []string{"summary", "description", "location", "online URL", "agenda"} {
		if err := checkField(name, fields[name], m.Sensitive); err != nil {
			return err
		}
	}
	return nil
}

// checkAddress accepts a bare addr-spec such as jane@example.org.
func checkAddress(s string) error {
	if s == "" {
		return fmt.Errorf("no email address")
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Address != s || a.Name != "" {
		return fmt.Errorf("invalid email address %q", s)
	}
	return nil
}

// attendee finds the attendee with the given address, ignoring case.
func (m *Meeting) attendee(email string) (Attendee, bool) {
	for _, a := range m.Attendees {
		if strings.EqualFold(a.Email, email) {
			return a, true
		}
	}
	return Attendee{}, false
}
