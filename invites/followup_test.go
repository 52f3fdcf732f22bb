package invites

import (
	"bytes"
	"encoding/json"
	"net/mail"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

const jordanEmail = "jordan@school.example.sch.uk"

// readIndependently runs one of the outside parsers (python3-icalendar or
// ical.js) on files and returns what it read.
func readIndependently(t *testing.T, parser string, files ...string) []independentView {
	t.Helper()
	var cmd *exec.Cmd
	switch parser {
	case "python3-icalendar":
		if out, err := exec.Command(debianPython, "-c", "import icalendar").CombinedOutput(); err != nil {
			t.Fatalf("python3-icalendar missing (apt-get install python3-icalendar): %v\n%s", err, out)
		}
		cmd = exec.Command(debianPython, append([]string{filepath.Join("testdata", "icalendar_check.py")}, files...)...)
	case "ical.js":
		node := icalJS(t)
		cmd = exec.Command(node, append([]string{filepath.Join("testdata", "js", "check.mjs")}, files...)...)
	default:
		t.Fatalf("no parser %q", parser)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s: %v\n%s", parser, err, stderr.String())
	}
	var got []independentView
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("%s: %v in %s", parser, err, out)
	}
	return got
}

// TestUninviteCancel checks the CANCEL that removes one attendee (RFC 5546
// §3.2.5): only that attendee, no STATUS, read the same way by our parser,
// python3-icalendar and ical.js; and that the whole-meeting CANCEL still
// carries STATUS:CANCELLED.
func TestUninviteCancel(t *testing.T) {
	t.Parallel()
	b := Builder{Now: fixedClock(goldenNow)}
	m := summerMeeting(t)
	m.Sequence = 1
	uninvite, err := b.Uninvite(m, jordanEmail)
	if err != nil {
		t.Fatal(err)
	}
	viaCancel, err := b.Cancel(m, jordanEmail)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(uninvite, viaCancel) {
		t.Errorf("Cancel with an attendee differs from Uninvite")
	}
	whole, err := b.Cancel(m)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(uninvite, []byte("STATUS")) {
		t.Errorf("uninvite CANCEL carries a STATUS:\n%s", uninvite)
	}
	if !bytes.Contains(whole, []byte("\r\nSTATUS:CANCELLED\r\n")) {
		t.Errorf("whole-meeting CANCEL lacks STATUS:CANCELLED")
	}

	dir := t.TempDir()
	uninviteFile, wholeFile := filepath.Join(dir, "uninvite.ics"), filepath.Join(dir, "cancel.ics")
	if err := os.WriteFile(uninviteFile, uninvite, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(wholeFile, whole, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, parser := range []string{"python3-icalendar", "ical.js"} {
		t.Run(parser, func(t *testing.T) {
			t.Parallel()
			got := readIndependently(t, parser, uninviteFile, wholeFile)
			if len(got) != 2 {
				t.Fatalf("read %d events, want 2", len(got))
			}
			u, w := got[0], got[1]
			if u.Method != "CANCEL" || u.UID != m.UID || u.Sequence != 1 {
				t.Errorf("uninvite: METHOD %s UID %s SEQUENCE %d", u.Method, u.UID, u.Sequence)
			}
			if u.Status != "" {
				t.Errorf("uninvite: STATUS %q, want none", u.Status)
			}
			if len(u.Attendees) != 1 || u.Attendees[0].Value != "mailto:"+jordanEmail {
				t.Errorf("uninvite: attendees %+v, want only %s", u.Attendees, jordanEmail)
			}
			if w.Status != "CANCELLED" || len(w.Attendees) != len(m.Attendees) {
				t.Errorf("whole cancel: STATUS %q with %d attendees, want CANCELLED with %d", w.Status, len(w.Attendees), len(m.Attendees))
			}
		})
	}

	tests := []struct {
		name      string
		attendees []string
	}{
		{"nobody", nil},
		{"a stranger", []string{"stranger@example.org"}},
	}
	for _, tt := range tests {
		if _, err := b.Uninvite(m, tt.attendees...); err == nil {
			t.Errorf("Uninvite of %s: no error", tt.name)
		}
	}
}

// headerIDs reads a msg-id list header with net/mail, an independent
// reader, so the test does not trust go-message to read what it wrote.
func headerIDs(t *testing.T, raw []byte, key string) []string {
	t.Helper()
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	v := msg.Header.Get(key)
	if v == "" {
		return nil
	}
	var ids []string
	for _, f := range strings.Fields(v) {
		if !strings.HasPrefix(f, "<") || !strings.HasSuffix(f, ">") || strings.Count(f, "@") != 1 {
			t.Errorf("%s: %q is not a <msg-id>", key, f)
		}
		ids = append(ids, strings.Trim(f, "<>"))
	}
	return ids
}

func TestThreadingHeaders(t *testing.T) {
	t.Parallel()
	const first = "1f2e3d4c@council.example.gov.uk"
	const update = "5a6b7c8d@council.example.gov.uk"
	proposal := &Proposal{Start: time.Date(2026, 7, 14, 13, 0, 0, 0, time.UTC), End: time.Date(2026, 7, 14, 14, 0, 0, 0, time.UTC)}
	tests := []struct {
		name           string
		inv            Invitation
		wantInReplyTo  []string
		wantReferences []string
	}{
		{"first invitation", Invitation{Method: MethodRequest}, nil, nil},
		{"update", Invitation{Method: MethodRequest, InReplyTo: first}, []string{first}, []string{first}},
		{"cancel, brackets given", Invitation{Method: MethodCancel, InReplyTo: "<" + first + ">"}, []string{first}, []string{first}},
		{"uninvite", Invitation{Method: MethodCancel, Uninvite: true, To: Person{Email: jordanEmail}, InReplyTo: first}, []string{first}, []string{first}},
		{"counter decision", Invitation{Method: MethodDeclineCounter, InReplyTo: update, References: []string{first}, DeclinedProposal: proposal},
			[]string{update}, []string{first, update}},
		{"reminder after an update", Invitation{Method: MethodRequest, InReplyTo: update, References: []string{first, update}},
			[]string{update}, []string{first, update}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m := summerMeeting(t)
			if tt.inv.Method == MethodCancel && !tt.inv.Uninvite {
				m.Sequence = 1
			}
			inv := tt.inv
			inv.Meeting = m
			if inv.To.Email == "" {
				inv.To = priya
			}
			c := Composer{Builder: Builder{Now: fixedClock(goldenNow)}, NewID: counterIDs("t")}
			msg, err := c.Compose(inv)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.wantInReplyTo, headerIDs(t, msg.Raw, "In-Reply-To")); diff != "" {
				t.Errorf("In-Reply-To (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantReferences, headerIDs(t, msg.Raw, "References")); diff != "" {
				t.Errorf("References (-want +got):\n%s", diff)
			}
		})
	}

	for _, bad := range []string{"no-at-sign", "a b@example.org", "x@y\r\nBcc: victim@example.org", "@example.org", "a@", "<a@b>>"} {
		c := Composer{Builder: Builder{Now: fixedClock(goldenNow)}}
		if _, err := c.Compose(Invitation{Method: MethodRequest, Meeting: summerMeeting(t), To: priya, InReplyTo: bad}); err == nil {
			t.Errorf("In-Reply-To %q accepted", bad)
		}
		if _, err := c.Compose(Invitation{Method: MethodRequest, Meeting: summerMeeting(t), To: priya, References: []string{bad}}); err == nil {
			t.Errorf("References %q accepted", bad)
		}
	}
}

// TestDeclineCounterMessages checks the pair of messages that declines a
// counter proposal: a DECLINECOUNTER, then the unchanged meeting as a
// REQUEST that every client shows, both saying in words that the proposed
// time was not accepted.
func TestDeclineCounterMessages(t *testing.T) {
	t.Parallel()
	m := summerMeeting(t)
	m.Sequence = 2
	proposal := &Proposal{Start: m.Start.Add(4 * time.Hour), End: m.End.Add(4 * time.Hour)}
	c := Composer{Builder: Builder{Now: fixedClock(goldenNow)}, NewID: counterIDs("dc")}
	msgs, err := c.DeclineCounter(Invitation{Meeting: m, To: priya, Comment: "We need to keep 10:00 to meet the deadline.",
		DeclinedProposal: proposal, InReplyTo: "first@council.example.gov.uk"})
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 2 {
		t.Fatalf("%d messages, want 2", len(msgs))
	}
	wantMethods := []Method{MethodDeclineCounter, MethodRequest}
	for i, msg := range msgs {
		parts := mimeParts(t, msg.Raw)
		if got, want := parts[2].params["method"], string(wantMethods[i]); got != want {
			t.Errorf("message %d: method %s, want %s", i, got, want)
		}
		in, err := (&Parser{Methods: []Method{MethodRequest, MethodDeclineCounter}}).Parse(msg.Raw)
		if err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		if in.UID != m.UID || in.Sequence != 2 || in.Method != wantMethods[i] {
			t.Errorf("message %d: %s %s SEQUENCE %d, want %s %s 2", i, in.Method, in.UID, in.Sequence, wantMethods[i], m.UID)
		}
		if in.Subject != "New time declined: "+m.Summary {
			t.Errorf("message %d: subject %q", i, in.Subject)
		}
		if !bytes.Contains(parts[2].body, []byte("\r\nDTSTART;TZID=Europe/London:20260714T100000\r\n")) {
			t.Errorf("message %d: the calendar does not keep the meeting at its time", i)
		}
		for _, body := range []string{string(parts[0].body), string(parts[1].body)} {
			for _, want := range []string{
				"The new time you proposed (Tuesday 14 July 2026, 14:00 to 15:00 (BST)) was not accepted.",
				"The meeting stays at its time",
				"Tuesday 14 July 2026, 10:00 to 11:00 (BST)",
				"We need to keep 10:00 to meet the deadline.",
				"https://meet.example.org/j/4242-0042",
			} {
				if !strings.Contains(strings.ReplaceAll(body, "\r\n", "\n"), want) {
					t.Errorf("message %d body lacks %q:\n%s", i, want, body)
				}
			}
		}
		if ids := headerIDs(t, msg.Raw, "In-Reply-To"); len(ids) != 1 || ids[0] != "first@council.example.gov.uk" {
			t.Errorf("message %d: In-Reply-To %v", i, ids)
		}
	}

	// The text comes only from what the caller passes: a sensitive string
	// in the comment is refused, as anywhere else.
	if _, err := c.DeclineCounter(Invitation{Meeting: m, To: priya, Comment: "Jayden Example is unwell", DeclinedProposal: proposal}); err == nil {
		t.Errorf("a sensitive comment was sent")
	}
	if _, err := c.DeclineCounter(Invitation{Meeting: m, To: Person{Email: "stranger@example.org"}, DeclinedProposal: proposal}); err == nil {
		t.Errorf("declined a counter from someone who is not an attendee")
	}
	if _, err := c.DeclineCounter(Invitation{Meeting: m, To: priya, DeclinedProposal: &Proposal{Start: m.Start}}); err == nil {
		t.Errorf("accepted a proposal without an end")
	}
}
