package invites

import (
	"bytes"
	"errors"
	"io"
	"mime"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/emersion/go-message"
	"github.com/google/go-cmp/cmp"
)

var goldenNow = time.Date(2026, 7, 10, 9, 0, 0, 0, time.UTC)

// goldenCases are the three messages the issue asks to see: the first
// invitation, an update (SEQUENCE+1 and a new time) and the cancellation.
func goldenCases(t *testing.T) []struct {
	name   string
	method Method
	m      Meeting
} {
	first := summerMeeting(t)
	moved := first
	moved.Sequence = 1
	moved.Start = first.Start.Add(4 * time.Hour) // 14:00 BST
	moved.End = first.End.Add(4 * time.Hour)
	cancelled := moved
	cancelled.Sequence = 2
	return []struct {
		name   string
		method Method
		m      Meeting
	}{
		{"request", MethodRequest, first},
		{"update", MethodRequest, moved},
		{"cancel", MethodCancel, cancelled},
	}
}

func TestGolden(t *testing.T) {
	for _, tc := range goldenCases(t) {
		t.Run(tc.name, func(t *testing.T) {
			b := Builder{Now: fixedClock(goldenNow)}
			ics, err := b.Calendar(tc.method, tc.m)
			if err != nil {
				t.Fatal(err)
			}
			golden(t, tc.name+".ics", ics)

			c := Composer{Builder: b, NewID: counterIDs(tc.name)}
			msg, err := c.Compose(Invitation{
				Method:  tc.method,
				Meeting: tc.m,
				To:      Person{Name: "DS Priya Patel", Email: "priya.patel@police.example.uk"},
				RSVP: RSVPLinks{
					Accept:    "https://convene.example/rsvp?t=accept-token",
					Tentative: "https://convene.example/rsvp?t=tentative-token",
					Decline:   "https://convene.example/rsvp?t=decline-token",
				},
			})
			if err != nil {
				t.Fatal(err)
			}
			golden(t, tc.name+".eml", msg.Raw)

			// The attachment and the inline part carry the same calendar
			// as the golden .ics, with the same method.
			parts := mimeParts(t, msg.Raw)
			if got, want := len(parts), 4; got != want {
				t.Fatalf("%d leaf parts, want %d", got, want)
			}
			cal := parts[2]
			if got, want := cal.mediaType, "text/calendar"; got != want {
				t.Errorf("third part is %s, want %s", got, want)
			}
			if got, want := cal.params["method"], string(tc.method); got != want {
				t.Errorf("MIME method = %q, want %q", got, want)
			}
			if !bytes.Equal(cal.body, ics) || !bytes.Equal(parts[3].body, ics) {
				t.Errorf("calendar parts differ from the built calendar")
			}
			if !bytes.Contains(ics, []byte("\r\nMETHOD:"+string(tc.method)+"\r\n")) {
				t.Errorf("calendar has no METHOD:%s", tc.method)
			}
		})
	}
}

func TestDeclineCounterGolden(t *testing.T) {
	m := summerMeeting(t)
	b := Builder{Now: fixedClock(goldenNow)}
	ics, err := b.DeclineCounter(m, "priya.patel@police.example.uk", "We need to keep 10:00 to meet the deadline.")
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "declinecounter.ics", ics)

	c := Composer{Builder: b, NewID: counterIDs("dc")}
	msg, err := c.Compose(Invitation{Method: MethodDeclineCounter, Meeting: m, To: Person{Email: "priya.patel@police.example.uk"}})
	if err != nil {
		t.Fatal(err)
	}
	parts := mimeParts(t, msg.Raw)
	if got, want := parts[2].params["method"], "DECLINECOUNTER"; got != want {
		t.Errorf("MIME method = %q, want %q", got, want)
	}
	if _, err := c.Compose(Invitation{Method: MethodDeclineCounter, Meeting: m, To: Person{Email: "stranger@example.org"}}); err == nil {
		t.Errorf("DECLINECOUNTER to a non-attendee: no error")
	}
}

// TestRequestContent checks the iTIP points one by one, on our own reading
// of the output.
func TestRequestContent(t *testing.T) {
	m := summerMeeting(t)
	ics, err := (&Builder{Now: fixedClock(goldenNow)}).Request(m)
	if err != nil {
		t.Fatal(err)
	}
	cal, err := decodeCalendar(ics)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := cal.Props.Get("METHOD").Value, "REQUEST"; got != want {
		t.Errorf("METHOD = %q, want %q", got, want)
	}
	if got, want := cal.Children[0].Name, "VTIMEZONE"; got != want {
		t.Fatalf("first component %s, want %s", got, want)
	}
	ev := cal.Children[1]
	for _, c := range []struct{ prop, want string }{
		{"UID", m.UID},
		{"SEQUENCE", "0"},
		{"DTSTAMP", "20260710T090000Z"},
		{"DTSTART", "20260714T100000"},
		{"DTEND", "20260714T110000"},
		{"ORGANIZER", "mailto:convene@council.example.gov.uk"},
		{"STATUS", "CONFIRMED"},
		{"CLASS", "PRIVATE"},
		{"URL", "https://meet.example.org/j/4242-0042"},
	} {
		p := ev.Props.Get(c.prop)
		if p == nil {
			t.Errorf("no %s", c.prop)
			continue
		}
		if p.Value != c.want {
			t.Errorf("%s = %q, want %q", c.prop, p.Value, c.want)
		}
	}
	if got, want := ev.Props.Get("DTSTART").Params.Get("TZID"), "Europe/London"; got != want {
		t.Errorf("DTSTART TZID = %q, want %q", got, want)
	}
	atts := ev.Props["ATTENDEE"]
	if got, want := len(atts), len(m.Attendees); got != want {
		t.Fatalf("%d attendees, want %d", got, want)
	}
	for i, a := range atts {
		want := map[string]string{
			"CN": m.Attendees[i].Name, "ROLE": string(m.Attendees[i].Role),
			"PARTSTAT": "NEEDS-ACTION", "RSVP": "TRUE", "CUTYPE": "INDIVIDUAL",
		}
		got := map[string]string{}
		for k := range want {
			got[k] = a.Params.Get(k)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("attendee %d params (-want +got):\n%s", i, diff)
		}
		if got, want := a.Value, "mailto:"+m.Attendees[i].Email; got != want {
			t.Errorf("attendee %d = %q, want %q", i, got, want)
		}
	}
	if got, want := atts[0].Params.Get("ROLE"), "CHAIR"; got != want {
		t.Errorf("chair ROLE = %q, want %q", got, want)
	}

	// Lines: CRLF, at most 75 octets, UTF-8 intact.
	for i, line := range strings.Split(strings.TrimSuffix(string(ics), "\r\n"), "\r\n") {
		if len(line) > 75 {
			t.Errorf("line %d is %d octets: %q", i, len(line), line)
		}
		if strings.Contains(line, "\n") || strings.Contains(line, "\r") {
			t.Errorf("line %d has a bare CR or LF", i)
		}
		if !utf8.ValidString(line) {
			t.Errorf("line %d splits a UTF-8 sequence: %q", i, line)
		}
	}
}

func TestRequestUTCForOtherZones(t *testing.T) {
	paris, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		t.Fatal(err)
	}
	for _, loc := range []*time.Location{nil, time.UTC, paris} {
		m := summerMeeting(t)
		m.TimeZone = loc
		ics, err := (&Builder{Now: fixedClock(goldenNow)}).Request(m)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(ics, []byte("VTIMEZONE")) || bytes.Contains(ics, []byte("TZID")) {
			t.Errorf("zone %v: calendar has a VTIMEZONE or TZID", loc)
		}
		if !bytes.Contains(ics, []byte("DTSTART:20260714T090000Z\r\n")) {
			t.Errorf("zone %v: DTSTART not 09:00 UTC:\n%s", loc, ics)
		}
	}
}

func TestReplyBuilderRoundTrip(t *testing.T) {
	m := summerMeeting(t)
	b := Builder{Now: fixedClock(goldenNow)}
	ics, err := b.Reply(m, "ola.health@nhs.example.net", PartStatTentative, "Running late from clinic")
	if err != nil {
		t.Fatal(err)
	}
	raw := "From: Dr Ola Health <ola.health@nhs.example.net>\r\nTo: convene@council.example.gov.uk\r\n" +
		"Subject: Tentative\r\nMIME-Version: 1.0\r\nContent-Type: text/calendar; charset=UTF-8; method=REPLY\r\n\r\n" + string(ics)
	in, err := ParseMessage([]byte(raw))
	if err != nil {
		t.Fatal(err)
	}
	sp, err := in.Speaker()
	if err != nil {
		t.Fatal(err)
	}
	if got, want := sp.Stat, PartStatTentative; got != want {
		t.Errorf("PARTSTAT = %s, want %s", got, want)
	}
	if got, want := in.Comment, "Running late from clinic"; got != want {
		t.Errorf("COMMENT = %q, want %q", got, want)
	}
	if got, want := in.UID, m.UID; got != want {
		t.Errorf("UID = %q, want %q", got, want)
	}
}

func TestBuilderRefuses(t *testing.T) {
	b := Builder{Now: fixedClock(goldenNow)}
	tests := []struct {
		name   string
		change func(*Meeting)
	}{
		{"no UID", func(m *Meeting) { m.UID = "" }},
		{"end before start", func(m *Meeting) { m.End = m.Start.Add(-time.Hour) }},
		{"bad organizer", func(m *Meeting) { m.Organizer.Email = "Business Support" }},
		{"bad attendee", func(m *Meeting) { m.Attendees[1].Email = "priya@" }},
		{"no attendees", func(m *Meeting) { m.Attendees = nil }},
		{"negative sequence", func(m *Meeting) { m.Sequence = -1 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := summerMeeting(t)
			m.Attendees = append([]Attendee(nil), m.Attendees...)
			tt.change(&m)
			if _, err := b.Request(m); err == nil {
				t.Errorf("Request built a meeting with %s", tt.name)
			}
		})
	}
	if _, err := (&Builder{}).Request(summerMeeting(t)); err == nil {
		t.Errorf("Builder without a clock built a message")
	}
}

func TestSensitiveContent(t *testing.T) {
	b := Builder{Now: fixedClock(goldenNow)}
	c := Composer{Builder: b, NewID: counterIDs("s")}
	tests := []struct {
		name   string
		change func(*Meeting)
		field  string
	}{
		{"summary", func(m *Meeting) { m.Summary += " (JAYDEN EXAMPLE)" }, "summary"},
		{"description", func(m *Meeting) { m.Description = "About jayden-example." }, "description"},
		{"agenda", func(m *Meeting) { m.Agenda = append(m.Agenda, "Visit to 14 Sample Street") }, "agenda"},
		{"location", func(m *Meeting) { m.Location = "14, Sample  Street" }, "location"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := summerMeeting(t)
			m.Agenda = append([]string(nil), m.Agenda...)
			tt.change(&m)
			_, err := b.Request(m)
			var ce *ContentError
			if !errors.As(err, &ce) {
				t.Fatalf("Request error = %v, want a *ContentError", err)
			}
			if got, want := ce.Field, tt.field; got != want {
				t.Errorf("Field = %q, want %q", got, want)
			}
			if msg := strings.ToLower(err.Error()); strings.Contains(msg, "jayden") || strings.Contains(msg, "sample") {
				t.Errorf("error repeats the sensitive text: %v", err)
			}
			if _, err := c.Compose(Invitation{Method: MethodRequest, Meeting: m, To: Person{Email: "priya.patel@police.example.uk"}}); !errors.As(err, &ce) {
				t.Errorf("Compose error = %v, want a *ContentError", err)
			}
		})
	}
	m := summerMeeting(t)
	if _, err := c.Compose(Invitation{Method: MethodCancel, Meeting: m, To: Person{Email: "priya.patel@police.example.uk"}, Comment: "Jayden Example moved"}); err == nil {
		t.Errorf("Compose accepted a sensitive comment")
	}
}

func TestCheckContent(t *testing.T) {
	sensitive := []string{"Jayden Example", "", "Smith, Jo", "Ann"}
	tests := []struct {
		text string
		want int // index of the matching entry, -1 for none
	}{
		{"Strategy discussion — case CR-2026-0042", -1},
		{"Re: jayden   example", 0},
		{"JAYDEN-EXAMPLE's school", 0},
		{"jaydenexample", -1},
		{"Smith Jo", 2},
		{"smith-jo attended", 2},
		{"Annual review", -1},
		{"Agenda for Ann.", 3},
		{"", -1},
	}
	for _, tt := range tests {
		err := CheckContent(sensitive, tt.text)
		var ce *ContentError
		switch {
		case tt.want < 0 && err != nil:
			t.Errorf("CheckContent(%q) = %v, want nil", tt.text, err)
		case tt.want >= 0 && !errors.As(err, &ce):
			t.Errorf("CheckContent(%q) = %v, want a *ContentError", tt.text, err)
		case tt.want >= 0 && ce.Index != tt.want:
			t.Errorf("CheckContent(%q) matched item %d, want %d", tt.text, ce.Index, tt.want)
		}
	}
	if err := CheckContent(nil, "anything"); err != nil {
		t.Errorf("no sensitive list: %v", err)
	}
}

func TestWhen(t *testing.T) {
	loc := london(t)
	tests := []struct {
		start, end time.Time
		loc        *time.Location
		want       string
	}{
		{time.Date(2026, 7, 14, 10, 0, 0, 0, loc), time.Date(2026, 7, 14, 11, 0, 0, 0, loc), loc, "Tuesday 14 July 2026, 10:00 to 11:00 (BST)"},
		{time.Date(2026, 12, 1, 10, 0, 0, 0, loc), time.Date(2026, 12, 1, 11, 30, 0, 0, loc), loc, "Tuesday 1 December 2026, 10:00 to 11:30 (GMT)"},
		{time.Date(2026, 7, 14, 9, 0, 0, 0, time.UTC), time.Date(2026, 7, 14, 10, 0, 0, 0, time.UTC), nil, "Tuesday 14 July 2026, 09:00 to 10:00 (UTC)"},
		{time.Date(2026, 10, 24, 23, 0, 0, 0, loc), time.Date(2026, 10, 25, 3, 0, 0, 0, loc), loc, "Saturday 24 October 2026, 23:00 to Sunday 25 October 2026, 03:00 (BST/GMT)"},
	}
	for _, tt := range tests {
		if got := When(tt.start, tt.end, tt.loc); got != tt.want {
			t.Errorf("When = %q, want %q", got, tt.want)
		}
	}
}

type leafPart struct {
	mediaType string
	params    map[string]string
	body      []byte
}

// mimeParts reads the leaf parts of a message, decoded, in order.
func mimeParts(t *testing.T, raw []byte) []leafPart {
	t.Helper()
	e, err := message.Read(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	var out []leafPart
	var walk func(e *message.Entity)
	walk = func(e *message.Entity) {
		if mr := e.MultipartReader(); mr != nil {
			for {
				p, err := mr.NextPart()
				if err == io.EOF {
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				walk(p)
			}
		}
		mt, params, err := mime.ParseMediaType(e.Header.Get("Content-Type"))
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(e.Body)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, leafPart{mt, params, body})
	}
	walk(e)
	return out
}

func TestUninvite(t *testing.T) {
	m := summerMeeting(t)
	m.Sequence = 1
	c := Composer{Builder: Builder{Now: fixedClock(goldenNow)}, NewID: counterIDs("u")}
	msg, err := c.Compose(Invitation{Method: MethodCancel, Meeting: m, To: Person{Email: "jordan@school.example.sch.uk"}, Uninvite: true})
	if err != nil {
		t.Fatal(err)
	}
	cal, err := decodeCalendar(mimeParts(t, msg.Raw)[2].body)
	if err != nil {
		t.Fatal(err)
	}
	ev := cal.Children[len(cal.Children)-1]
	atts := ev.Props["ATTENDEE"]
	if len(atts) != 1 || atts[0].Value != "mailto:jordan@school.example.sch.uk" {
		t.Errorf("uninvite lists %d attendees (%v), want only Jordan", len(atts), atts)
	}
	if _, err := c.Compose(Invitation{Method: MethodCancel, Meeting: m, To: Person{Email: "stranger@example.org"}, Uninvite: true}); err == nil {
		t.Errorf("uninvited a non-attendee")
	}
}
