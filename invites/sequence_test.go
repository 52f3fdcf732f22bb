package invites

import (
	"strings"
	"testing"
	"time"
)

func TestSignificantChange(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		change func(*Meeting)
		want   bool
	}{
		{"nothing", func(m *Meeting) {}, false},
		{"start and end moved", func(m *Meeting) { m.Start = m.Start.Add(time.Hour); m.End = m.End.Add(time.Hour) }, true},
		{"longer", func(m *Meeting) { m.End = m.End.Add(30 * time.Minute) }, true},
		{"same instants in UTC", func(m *Meeting) { m.Start, m.End = m.Start.UTC(), m.End.UTC(); m.TimeZone = time.UTC }, false},
		{"room", func(m *Meeting) { m.Location = "Meeting room 3, Civic Centre" }, true},
		{"online link", func(m *Meeting) { m.OnlineURL = "https://meet.example.org/j/other" }, true},
		{"status tentative", func(m *Meeting) { m.Status = StatusTentative }, true},
		{"status confirmed spelt out", func(m *Meeting) { m.Status = StatusConfirmed }, false},
		{"attendee added", func(m *Meeting) {
			m.Attendees = append(m.Attendees, Attendee{Email: "new@council.example.gov.uk", RSVP: true})
		}, false},
		{"attendee removed", func(m *Meeting) { m.Attendees = m.Attendees[:2] }, false},
		{"summary and agenda", func(m *Meeting) { m.Summary += " (rearranged)"; m.Agenda = m.Agenda[:1] }, false},
		{"private", func(m *Meeting) { m.Private = !m.Private }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			before := summerMeeting(t)
			after := summerMeeting(t)
			tt.change(&after)
			if got := SignificantChange(before, after); got != tt.want {
				t.Errorf("SignificantChange = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestNewer(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 7, 10, 9, 0, 0, 0, time.UTC)
	t1 := t0.Add(time.Minute)
	var zero time.Time
	tests := []struct {
		name         string
		aSeq         int
		aStamp       time.Time
		bSeq         int
		bStamp       time.Time
		want         bool
		wantReversed bool
	}{
		{"higher sequence wins over a later stamp", 2, t0, 1, t1, true, false},
		{"same sequence, later stamp", 1, t1, 1, t0, true, false},
		{"identical: neither is newer", 1, t0, 1, t0, false, false},
		{"same instant in another zone", 1, t0.In(time.FixedZone("BST", 3600)), 1, t0, false, false},
		{"no stamp is older than a stamp", 1, zero, 1, t0, false, true},
		{"neither stamped", 1, zero, 1, zero, false, false},
		{"higher sequence without a stamp", 3, zero, 2, t1, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := Newer(tt.aSeq, tt.aStamp, tt.bSeq, tt.bStamp); got != tt.want {
				t.Errorf("Newer(a, b) = %v, want %v", got, tt.want)
			}
			if got := Newer(tt.bSeq, tt.bStamp, tt.aSeq, tt.aStamp); got != tt.wantReversed {
				t.Errorf("Newer(b, a) = %v, want %v", got, tt.wantReversed)
			}
		})
	}
}

// TestReplyOrderingData: a parsed reply carries what Newer needs, so a late
// copy of an older answer can be told from a newer one.
func TestReplyOrderingData(t *testing.T) {
	t.Parallel()
	m := summerMeeting(t)
	reply := func(seq int, at time.Time, stat PartStat) *Inbound {
		m := m
		m.Sequence = seq
		ics, err := (&Builder{Now: fixedClock(at)}).Reply(m, "priya.patel@police.example.uk", stat, "")
		if err != nil {
			t.Fatal(err)
		}
		raw := "From: priya.patel@police.example.uk\r\nContent-Type: text/calendar; method=REPLY\r\n\r\n" + string(ics)
		in, err := ParseMessage([]byte(raw))
		if err != nil {
			t.Fatal(err)
		}
		return in
	}
	accepted := reply(1, goldenNow, PartStatAccepted)
	declinedLater := reply(1, goldenNow.Add(time.Hour), PartStatDeclined)
	if !accepted.DTStamp.Equal(goldenNow) || accepted.Sequence != 1 {
		t.Fatalf("DTSTAMP %v SEQUENCE %d, want %v 1", accepted.DTStamp, accepted.Sequence, goldenNow)
	}
	// The decline was made later but arrives first; the acceptance, older,
	// arrives after it and must not win.
	if Newer(accepted.Sequence, accepted.DTStamp, declinedLater.Sequence, declinedLater.DTStamp) {
		t.Errorf("the older acceptance counts as newer than the later decline")
	}
	if !Newer(declinedLater.Sequence, declinedLater.DTStamp, accepted.Sequence, accepted.DTStamp) {
		t.Errorf("the later decline does not supersede the acceptance")
	}
}

func TestValidAddress(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("a", 64) + "@" + strings.Repeat("b", 63) + "." + strings.Repeat("c", 63) + "." + strings.Repeat("d", 63) + ".uk"
	tests := []struct {
		in, want string // want "" for refused
	}{
		{"jane.doe@police.example.uk", "jane.doe@police.example.uk"},
		{"Jane.Doe@Police.Example.UK", "jane.doe@police.example.uk"},
		{"first+tag@nhs.example.net", "first+tag@nhs.example.net"},
		{"o'brien@yjs.example.org.uk", "o'brien@yjs.example.org.uk"},
		{"Jane Doe <jane@police.example.uk>", ""},
		{"<jane@police.example.uk>", ""},
		{"jane@police.example.uk (Jane)", ""},
		{"(comment)jane@police.example.uk", ""},
		{"team: jane@police.example.uk;", ""},
		{"team:;", ""},
		{"jane@police.example.uk, sam@police.example.uk", ""},
		{"\"jane doe\"@police.example.uk", ""},
		{"jane", ""},
		{"jane@", ""},
		{"@police.example.uk", ""},
		{"jane@localhost", ""},
		{"jane@police", ""},
		{"jane@[192.0.2.1]", ""},
		{"jane@police..example.uk", ""},
		{"jane@-police.example.uk", ""},
		{"jane@police.example.uk.", ""},
		{"jane@police.example.uk\r\nBcc: x@evil.example", ""},
		{"jane@police.example.uk\n", ""},
		{"jane doe@police.example.uk", ""},
		{" jane@police.example.uk", ""},
		{"jane@police.example.uk\x00", ""},
		{strings.Repeat("a", 65) + "@police.example.uk", ""},
		{long, ""},
		{"", ""},
	}
	for _, tt := range tests {
		got, err := ValidAddress(tt.in)
		if tt.want == "" {
			if err == nil {
				t.Errorf("ValidAddress(%q) = %q, want an error", tt.in, got)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ValidAddress(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

// A join link goes into URL, CONFERENCE and the body: it must be a URI
// that cannot break any of them.
func TestCheckOnlineURL(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in, want string
		ok       bool
	}{
		{"https://teams.microsoft.com/l/meetup-join/19%3ameeting_x", "https://teams.microsoft.com/l/meetup-join/19%3ameeting_x", true},
		{"https://meet.google.com/abc-defg-hij?authuser=0&hs=1", "https://meet.google.com/abc-defg-hij?authuser=0&hs=1", true},
		{"https://zoom.us/j/123;pwd=1,2", "https://zoom.us/j/123;pwd=1,2", true},
		{"http://zoom.us/j/1", "", false},
		{"https://user:pass@zoom.us/j/1", "", false},
		{"https://zoom.us/j/1\r\nATTENDEE:mailto:x@y", "", false},
		{"https://zoom.us/j/1 x", "", false},
		{`https://zoom.us/j/"1"`, "", false},
		{"javascript:alert(1)", "", false},
		{"/relative", "", false},
	} {
		got, err := CheckOnlineURL(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("CheckOnlineURL(%q) = %q, %v; want %q ok %v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}
