package invites

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/convene/convene/calendar/ics"
)

const fixtureUID = "b1f6c0de-5e1a-4c1e-9d7a-2f4d3c2b1a00@convene.example"

// replyView is the part of an Inbound the service acts on.
type replyView struct {
	Method        Method
	MIMEMethod    string
	UID           string
	Sequence      int
	DTStamp       time.Time
	Organizer     string
	Speaker       string
	Stat          PartStat
	DelegatedTo   []string
	SentBy        string
	Comment       string
	Proposal      *Proposal
	AttendeeCount int
}

func view(t *testing.T, in *Inbound) replyView {
	t.Helper()
	v := replyView{
		Method: in.Method, MIMEMethod: in.MIMEMethod, UID: in.UID, Sequence: in.Sequence,
		DTStamp: in.DTStamp, Organizer: in.Organizer, Comment: in.Comment,
		Proposal: in.Proposal, AttendeeCount: len(in.Attendees),
	}
	sp, err := in.Speaker()
	if err != nil {
		t.Fatalf("Speaker: %v", err)
	}
	v.Speaker, v.Stat, v.DelegatedTo, v.SentBy = sp.Email, sp.Stat, sp.DelegatedTo, sp.SentBy
	if v.Comment == "" {
		v.Comment = sp.Comment
	}
	return v
}

func utc(y int, mo time.Month, d, h, mi, s int) time.Time {
	return time.Date(y, mo, d, h, mi, s, 0, time.UTC)
}

func TestParseMessageReplies(t *testing.T) {
	tests := []struct {
		file string
		want replyView
	}{
		{"outlook-desktop-accepted.eml", replyView{
			Method: MethodReply, MIMEMethod: "REPLY", UID: fixtureUID, DTStamp: utc(2026, 7, 10, 10, 15, 12),
			Speaker: "priya.patel@police.example.uk", Stat: PartStatAccepted, AttendeeCount: 1,
		}},
		{"exchange-owa-declined.eml", replyView{
			Method: MethodReply, MIMEMethod: "REPLY", UID: fixtureUID,
			Speaker: "ola.health@nhs.example.net", Stat: PartStatDeclined, AttendeeCount: 1,
			Comment: "In clinic all morning. Our safeguarding lead will contact you.",
		}},
		{"outlookcom-tentative.eml", replyView{
			Method: MethodReply, MIMEMethod: "REPLY", UID: fixtureUID, DTStamp: utc(2026, 7, 10, 12, 44, 1),
			Speaker: "jordan@school.example.sch.uk", Stat: PartStatTentative, AttendeeCount: 1,
		}},
		{"gmail-accepted.eml", replyView{
			Method: MethodReply, MIMEMethod: "REPLY", UID: fixtureUID, DTStamp: utc(2026, 7, 10, 13, 18, 2),
			Organizer: "convene@council.example.gov.uk",
			Speaker:   "sam.chair@council.example.gov.uk", Stat: PartStatAccepted, AttendeeCount: 1,
		}},
		{"gmail-declined-note.eml", replyView{
			Method: MethodReply, MIMEMethod: "REPLY", UID: fixtureUID, DTStamp: utc(2026, 7, 10, 15, 22, 10),
			Organizer: "convene@council.example.gov.uk",
			Speaker:   "priya.patel@police.example.uk", Stat: PartStatDeclined, AttendeeCount: 1,
			Comment: "On a late shift that day, DS Khan will cover",
		}},
		{"apple-delegated.eml", replyView{
			Method: MethodReply, MIMEMethod: "REPLY", UID: fixtureUID, DTStamp: utc(2026, 7, 10, 9, 48, 7),
			Organizer: "convene@council.example.gov.uk",
			Speaker:   "ola.health@nhs.example.net", Stat: PartStatDelegated, AttendeeCount: 2,
			DelegatedTo: []string{"sam.deputy@nhs.example.net"},
		}},
		{"outlook-desktop-counter.eml", replyView{
			Method: MethodCounter, MIMEMethod: "COUNTER", UID: fixtureUID, DTStamp: utc(2026, 7, 10, 11, 4, 55),
			Organizer: "convene@council.example.gov.uk",
			Speaker:   "priya.patel@police.example.uk", Stat: PartStatTentative, AttendeeCount: 1,
			Comment: "I'm in court until 13:00. Could we start at 14:00?",
			// 14:00-15:00 BST proposed instead of 10:00-11:00 BST.
			Proposal: &Proposal{
				Start: utc(2026, 7, 14, 13, 0, 0), End: utc(2026, 7, 14, 14, 0, 0),
				OriginalStart: utc(2026, 7, 14, 9, 0, 0), OriginalEnd: utc(2026, 7, 14, 10, 0, 0),
			},
		}},
		{"exchange-counter-custom-zone.eml", replyView{
			Method: MethodCounter, UID: fixtureUID, Sequence: 3, DTStamp: utc(2026, 11, 25, 9, 30, 12),
			Speaker: "ola.health@nhs.example.net", Stat: PartStatTentative, AttendeeCount: 1,
			Comment: "Could we move to the afternoon?",
			// Winter: the custom zone is GMT, so 15:00 local is 15:00 UTC.
			Proposal: &Proposal{
				Start: utc(2026, 12, 1, 15, 0, 0), End: utc(2026, 12, 1, 16, 0, 0),
				OriginalStart: utc(2026, 12, 1, 10, 0, 0), OriginalEnd: utc(2026, 12, 1, 11, 0, 0),
			},
		}},
		{"exchange-accepted-sent-by.eml", replyView{
			Method: MethodReply, MIMEMethod: "REPLY", UID: fixtureUID, DTStamp: utc(2026, 7, 10, 14, 2, 33),
			Speaker: "priya.patel@police.example.uk", Stat: PartStatAccepted, AttendeeCount: 1,
			SentBy: "alex.assistant@police.example.uk",
		}},
		{"thunderbird-refresh.eml", replyView{
			Method: MethodRefresh, MIMEMethod: "REFRESH", UID: fixtureUID, DTStamp: utc(2026, 7, 11, 8, 1, 2),
			Organizer: "convene@council.example.gov.uk",
			Speaker:   "jordan@school.example.sch.uk", Stat: PartStatNeedsAction, AttendeeCount: 1,
		}},
		{"outlook2010-accepted-windows-1252.eml", replyView{
			Method: MethodReply, MIMEMethod: "REPLY", UID: fixtureUID, DTStamp: utc(2026, 7, 10, 15, 44, 33),
			Organizer: "convene@council.example.gov.uk",
			Speaker:   "renee.obrien@yjs.example.org.uk", Stat: PartStatAccepted, AttendeeCount: 1,
		}},
		{"webmail-attachment-only.eml", replyView{
			Method: MethodReply, UID: fixtureUID, DTStamp: utc(2026, 7, 10, 17, 0, 0),
			Organizer: "convene@council.example.gov.uk",
			Speaker:   "Ola.Health@NHS.example.net", Stat: PartStatAccepted, AttendeeCount: 1,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			in, err := ParseMessage(readFixture(t, "replies", tt.file))
			if err != nil {
				t.Fatalf("ParseMessage: %v", err)
			}
			got := view(t, in)
			if got.Proposal == nil && tt.want.Proposal == nil {
				got.Proposal = nil
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// Details the table above does not show.
func TestParseMessageDetails(t *testing.T) {
	in, err := ParseMessage(readFixture(t, "replies", "outlook2010-accepted-windows-1252.eml"))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := in.Attendees[0].Name, "Renée O'Brien"; got != want {
		t.Errorf("CN from a windows-1252 part = %q, want %q", got, want)
	}
	if got, want := in.Summary, "Accepted: Strategy discussion – case CR-2026-0042"; got != want {
		t.Errorf("Summary = %q, want %q", got, want)
	}
	if got, want := in.FromName, "Renée O'Brien"; got != want {
		t.Errorf("FromName = %q, want %q", got, want)
	}
	// A REPLY's DTSTART is not a proposal.
	if in.Proposal != nil {
		t.Errorf("Proposal = %+v on a REPLY, want nil", in.Proposal)
	}

	in, err = ParseMessage(readFixture(t, "replies", "apple-delegated.eml"))
	if err != nil {
		t.Fatal(err)
	}
	want := []ReplyAttendee{
		{Email: "ola.health@nhs.example.net", Name: "Dr Ola Health", Stat: PartStatDelegated, Role: RoleRequired, DelegatedTo: []string{"sam.deputy@nhs.example.net"}},
		{Email: "sam.deputy@nhs.example.net", Name: "Sam Deputy", Stat: PartStatNeedsAction, Role: RoleRequired, DelegatedFrom: []string{"ola.health@nhs.example.net"}},
	}
	if diff := cmp.Diff(want, in.Attendees); diff != "" {
		t.Errorf("delegation attendees (-want +got):\n%s", diff)
	}

	in, err = ParseMessage(readFixture(t, "replies", "outlook-desktop-accepted.eml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ name, got, want string }{
		{"Subject", in.Subject, "Accepted: Strategy discussion — case CR-2026-0042"},
		{"Summary", in.Summary, "Accepted: Strategy discussion — case CR-2026-0042"},
		{"From", in.From, "priya.patel@police.example.uk"},
		{"FromName", in.FromName, "DS Priya Patel"},
		{"MessageID", in.MessageID, "LO2P265MB5234D0E1A4C1E2F3A4B5C6D7E8F9A0B1C2D3@LO2P265MB5234.GBRP265.PROD.OUTLOOK.COM"},
		{"Organizer", in.Organizer, ""},
		{"ProdID", in.ProdID, "Microsoft Exchange Server 2010"},
	} {
		if c.got != c.want {
			t.Errorf("%s = %q, want %q", c.name, c.got, c.want)
		}
	}

	in, err = ParseMessage(readFixture(t, "replies", "gmail-accepted.eml"))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := in.Sender, "calendar-notification@google.com"; got != want {
		t.Errorf("Sender = %q, want %q", got, want)
	}
}

func TestParseMessageMalformed(t *testing.T) {
	tests := []struct {
		file string
		want ErrorKind
	}{
		{"no-calendar.eml", ErrNoCalendar},
		{"no-vevent.eml", ErrNoEvent},
		{"no-uid.eml", ErrNoUID},
		{"request-not-reply.eml", ErrMethod},
		{"no-method.eml", ErrMethod},
		{"no-attendee.eml", ErrNoAttendee},
		{"broken-nesting.eml", ErrMalformed},
		{"counter-floating-time.eml", ErrMalformed},
		{"counter-unknown-zone.eml", ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			in, err := ParseMessage(readFixture(t, "malformed", tt.file))
			if err == nil {
				t.Fatalf("ParseMessage = %+v, want error %v", in, tt.want)
			}
			if !errors.Is(err, tt.want) {
				t.Errorf("error = %v, want kind %q", err, tt.want)
			}
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Errorf("error %T is not a *ParseError", err)
			}
		})
	}
}

func TestParseMessageLimits(t *testing.T) {
	reply := readFixture(t, "replies", "outlook-desktop-accepted.eml")

	t.Run("message size", func(t *testing.T) {
		p := Parser{MaxMessageBytes: len(reply) - 1}
		if _, err := p.Parse(reply); !errors.Is(err, ErrOversize) {
			t.Errorf("error = %v, want %v", err, ErrOversize)
		}
		p.MaxMessageBytes = len(reply)
		if _, err := p.Parse(reply); err != nil {
			t.Errorf("at the limit: %v", err)
		}
		big := append(bytes.Repeat([]byte("X-Padding: 0123456789\r\n"), DefaultMaxMessageBytes/23+1), reply...)
		if _, err := ParseMessage(big); !errors.Is(err, ErrOversize) {
			t.Errorf("default limit: error = %v, want %v", err, ErrOversize)
		}
	})

	t.Run("number of parts", func(t *testing.T) {
		var b strings.Builder
		b.WriteString("From: a@example.org\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n")
		for i := 0; i < DefaultMaxParts+5; i++ {
			fmt.Fprintf(&b, "--b\r\nContent-Type: text/plain\r\n\r\npart %d\r\n", i)
		}
		b.WriteString("--b--\r\n")
		if _, err := ParseMessage([]byte(b.String())); !errors.Is(err, ErrOversize) {
			t.Errorf("error = %v, want %v", err, ErrOversize)
		}
	})

	t.Run("nesting", func(t *testing.T) {
		var b strings.Builder
		b.WriteString("From: a@example.org\r\nMIME-Version: 1.0\r\n")
		for i := 0; i < maxMIMEDepth+3; i++ {
			fmt.Fprintf(&b, "Content-Type: multipart/mixed; boundary=b%d\r\n\r\n--b%d\r\n", i, i)
		}
		b.WriteString("Content-Type: text/plain\r\n\r\nx\r\n")
		if _, err := ParseMessage([]byte(b.String())); !errors.Is(err, ErrOversize) {
			t.Errorf("error = %v, want %v", err, ErrOversize)
		}
	})

	t.Run("calendar lines", func(t *testing.T) {
		var ics strings.Builder
		ics.WriteString("BEGIN:VCALENDAR\r\nMETHOD:REPLY\r\nBEGIN:VEVENT\r\nUID:x\r\n")
		for i := 0; i < maxContentLines; i++ {
			ics.WriteString("X-A:1\r\n")
		}
		ics.WriteString("END:VEVENT\r\nEND:VCALENDAR\r\n")
		raw := "From: a@example.org\r\nContent-Type: text/calendar; method=REPLY\r\n\r\n" + ics.String()
		if _, err := ParseMessage([]byte(raw)); !errors.Is(err, ErrOversize) {
			t.Errorf("error = %v, want %v", err, ErrOversize)
		}
	})
}

func TestSpeaker(t *testing.T) {
	in, err := ParseMessage(readFixture(t, "replies", "spoofed-from.eml"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := in.Speaker(); !errors.Is(err, ErrSpoofed) {
		t.Errorf("spoofed reply: Speaker error = %v, want %v", err, ErrSpoofed)
	}

	priya := ReplyAttendee{Email: "priya.patel@police.example.uk"}
	byAlex := ReplyAttendee{Email: "priya.patel@police.example.uk", SentBy: "alex.assistant@police.example.uk"}
	tests := []struct {
		name string
		from string
		a    ReplyAttendee
		want bool
	}{
		{"own address", "priya.patel@police.example.uk", priya, true},
		{"own address, other case", "Priya.Patel@Police.Example.UK", priya, true},
		{"someone else", "alex.assistant@police.example.uk", priya, false},
		{"look-alike domain", "priya.patel@police.example.uk.evil.example", priya, false},
		{"sent-by matches", "ALEX.assistant@police.example.uk", byAlex, true},
		{"sent-by, other sender", "mallory@police.example.uk", byAlex, false},
		{"sent-by outside the attendee's domain", "priya.patel@mailbox.example.com",
			ReplyAttendee{Email: "priya.patel@police.example.uk", SentBy: "priya.patel@mailbox.example.com"}, false},
		{"sent-by in a look-alike domain", "alex@police.example.uk.evil.example",
			ReplyAttendee{Email: "priya.patel@police.example.uk", SentBy: "alex@police.example.uk.evil.example"}, false},
		{"empty from", "", ReplyAttendee{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := SpeaksFor(tt.from, tt.a); got != tt.want {
				t.Errorf("SpeaksFor(%q, %+v) = %v, want %v", tt.from, tt.a, got, tt.want)
			}
		})
	}
}

func TestVTimezoneEvaluation(t *testing.T) {
	cal, err := decodeCalendar([]byte("BEGIN:VCALENDAR\r\n" + strings.ReplaceAll(`BEGIN:VTIMEZONE
TZID:Custom
BEGIN:STANDARD
DTSTART:16011028T020000
RRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=10
TZOFFSETFROM:+0100
TZOFFSETTO:-0000
END:STANDARD
BEGIN:DAYLIGHT
DTSTART:16010325T010000
RRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=3
TZOFFSETFROM:-0000
TZOFFSETTO:+0100
END:DAYLIGHT
END:VTIMEZONE
`, "\n", "\r\n") + "END:VCALENDAR\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	zones := ics.NewZones(nil, nil)
	zones.DefineAll(cal.Component)
	inZone := func(tzid string, local time.Time) (time.Time, error) {
		loc, err := zones.Location(tzid)
		if err != nil {
			return time.Time{}, err
		}
		return time.Date(local.Year(), local.Month(), local.Day(), local.Hour(), local.Minute(), local.Second(), 0, loc), nil
	}
	tests := []struct {
		local string
		want  time.Time
	}{
		{"20260714T100000", utc(2026, 7, 14, 9, 0, 0)},  // BST
		{"20261201T100000", utc(2026, 12, 1, 10, 0, 0)}, // GMT
		{"20260329T003000", utc(2026, 3, 29, 0, 30, 0)}, // before the spring change
		{"20260329T023000", utc(2026, 3, 29, 1, 30, 0)}, // after it
		{"20261025T003000", utc(2026, 10, 24, 23, 30, 0)},
		{"20261025T030000", utc(2026, 10, 25, 3, 0, 0)},
	}
	for _, tt := range tests {
		local, _ := time.Parse("20060102T150405", tt.local)
		got, err := inZone("Custom", local)
		if err != nil {
			t.Fatalf("%s: %v", tt.local, err)
		}
		if !got.Equal(tt.want) {
			t.Errorf("%s in Custom = %s, want %s", tt.local, got.UTC(), tt.want)
		}
		// The Windows name must agree with the VTIMEZONE.
		viaMap, err := inZone("GMT Standard Time", local)
		if err != nil {
			t.Fatal(err)
		}
		if !viaMap.Equal(tt.want) {
			t.Errorf("%s in GMT Standard Time = %s, want %s", tt.local, viaMap.UTC(), tt.want)
		}
	}
}

func readFixture(t testing.TB, dir, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", dir, name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// A calendar folded into many short continuation lines must not take
// quadratic time to unfold.
func TestParseManyContinuationLines(t *testing.T) {
	var b strings.Builder
	b.WriteString("From: a@example.org\r\nContent-Type: text/calendar; method=REPLY\r\n\r\nBEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nX-LONG:a\r\n")
	for b.Len() < maxCalendarBytes-1000 {
		b.WriteString(" b\r\n")
	}
	b.WriteString("END:VEVENT\r\nEND:VCALENDAR\r\n")
	start := time.Now()
	_, err := ParseMessage([]byte(b.String()))
	if !errors.Is(err, ErrNoUID) {
		t.Errorf("error = %v, want %v", err, ErrNoUID)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("took %v", d)
	}
}

// Lines go-ical's decoder panics on are skipped, and the rest of the reply
// still counts.
func TestParseSkipsBrokenLines(t *testing.T) {
	for _, name := range []string{"goical-param-without-colon", "goical-text-after-quoted-param"} {
		raw := readFixture(t, filepath.Join("fuzz", "FuzzParseMessage"), name)
		// The corpus file holds a Go-quoted []byte literal.
		s := string(raw)
		s = s[strings.Index(s, "(")+1 : strings.LastIndex(s, ")")]
		msg, err := strconv.Unquote(s)
		if err != nil {
			t.Fatal(err)
		}
		in, err := ParseMessage([]byte(msg))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		sp, err := in.Speaker()
		if err != nil || sp.Stat != PartStatAccepted {
			t.Errorf("%s: speaker %+v, %v; want Priya ACCEPTED", name, sp, err)
		}
	}
}

// TestParseFloatingCounter: a COUNTER proposing local time without a TZID
// is read in the area's zone when the parser has one, and refused when it
// has none: it is never read as UTC.
func TestParseFloatingCounter(t *testing.T) {
	raw := readFixture(t, "malformed", "counter-floating-time.eml")
	if _, err := (&Parser{}).Parse(raw); !errors.Is(err, ErrMalformed) {
		t.Errorf("no zone: error %v, want %v", err, ErrMalformed)
	}
	in, err := (&Parser{Zone: london(t)}).Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	// 14:00-15:00 on 14 July, BST.
	want := &Proposal{Start: utc(2026, 7, 14, 13, 0, 0), End: utc(2026, 7, 14, 14, 0, 0)}
	if diff := cmp.Diff(want, in.Proposal, cmp.Comparer(time.Time.Equal)); diff != "" {
		t.Errorf("proposal (-want +got):\n%s", diff)
	}
}
