package ics

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-ical"
	"github.com/google/go-cmp/cmp"
)

// unfoldAll returns the logical lines of data.
func unfoldAll(data string) []string {
	lr := newLineReader(strings.NewReader(data), DefaultMaxBytes)
	var out []string
	for {
		l, ok := lr.next()
		if !ok {
			return out
		}
		out = append(out, l)
	}
}

func TestUnfold(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in string
		want     []string
	}{
		{"CRLF", "A:1\r\nB:2\r\n", []string{"A:1", "B:2"}},
		{"LF", "A:1\nB:2\n", []string{"A:1", "B:2"}},
		{"lone CR", "A:1\rB:2\r", []string{"A:1", "B:2"}},
		{"mixed ends", "A:1\r\nB:2\nC:3\rD:4", []string{"A:1", "B:2", "C:3", "D:4"}},
		{"no end at the end", "A:1\r\nB:2", []string{"A:1", "B:2"}},
		{"space continues", "DESCRIPTION:one\r\n  two\r\n", []string{"DESCRIPTION:one two"}},
		{"tab continues", "DESCRIPTION:one\r\n\ttwo\r\n", []string{"DESCRIPTION:onetwo"}},
		{"only the first space goes", "X:a\r\n   b\r\n", []string{"X:a  b"}},
		{"continued over LF ends", "X:a\n b\n c\n", []string{"X:abc"}},
		{"a character split by folding", "SUMMARY:caf\xc3\r\n \xa9 au lait\r\n", []string{"SUMMARY:café au lait"}},
		{"invalid UTF-8 replaced once unfolded", "SUMMARY:a\xffb\r\n", []string{"SUMMARY:a\uFFFDb"}},
		{"byte-order mark", "\ufeffBEGIN:VCALENDAR\r\n", []string{"BEGIN:VCALENDAR"}},
		{"blank lines dropped", "A:1\r\n\r\n  \r\nB:2\r\n", []string{"A:1", "B:2"}},
		{"a continuation with nothing before", " X:1\r\nA:2\r\n", []string{" X:1", "A:2"}},
		{"empty", "", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, unfoldAll(tc.in)); diff != "" {
				t.Errorf("lines (-want +got):\n%s", diff)
			}
		})
	}
}

// A line folded into many short continuation lines, and a quoted
// parameter of a megabyte, take linear time: go-ical's decoder takes
// minutes over the second.
func TestDecodeLinear(t *testing.T) {
	t.Parallel()
	for name, body := range map[string]string{
		"many continuations": "X-LONG:a\r\n" + strings.Repeat(" b\r\n", 250_000),
		"long quoted param":  "X-A;X-P=\"" + strings.Repeat("a", 1<<20) + "\":v\r\n",
		"long value":         "X-A:" + strings.Repeat("a", 4<<20) + "\r\n",
	} {
		t.Run(name, func(t *testing.T) {
			data := "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\n" + body + "END:VEVENT\r\nEND:VCALENDAR\r\n"
			start := time.Now()
			cal, err := Decode([]byte(data), Options{Strict: true})
			if err != nil {
				t.Fatal(err)
			}
			if len(cal.Children) != 1 || len(cal.Children[0].Props) != 1 {
				t.Errorf("decoded %+v", cal.Children)
			}
			if d := time.Since(start); d > 3*time.Second { // a backstop: it takes milliseconds
				t.Errorf("took %v", d)
			}
		})
	}
}

func TestParseLine(t *testing.T) {
	t.Parallel()
	tests := []struct {
		line string
		want *ical.Prop // nil: the line cannot be read
	}{
		{"SUMMARY:Budget review", &ical.Prop{Name: "SUMMARY", Params: ical.Params{}, Value: "Budget review"}},
		{"summary:lower case name", &ical.Prop{Name: "SUMMARY", Params: ical.Params{}, Value: "lower case name"}},
		{"DESCRIPTION:a: b; c, d", &ical.Prop{Name: "DESCRIPTION", Params: ical.Params{}, Value: "a: b; c, d"}},
		{"X-EMPTY:", &ical.Prop{Name: "X-EMPTY", Params: ical.Params{}, Value: ""}},
		{`ATTENDEE;CN="Patel, Priya: DS";PARTSTAT=ACCEPTED:mailto:p@example.org`, &ical.Prop{Name: "ATTENDEE",
			Params: ical.Params{"CN": {"Patel, Priya: DS"}, "PARTSTAT": {"ACCEPTED"}}, Value: "mailto:p@example.org"}},
		{`ATTENDEE;DELEGATED-TO="mailto:a@x","mailto:b@x":mailto:c@x`, &ical.Prop{Name: "ATTENDEE",
			Params: ical.Params{"DELEGATED-TO": {"mailto:a@x", "mailto:b@x"}}, Value: "mailto:c@x"}},
		{"DTSTART;tzid=Europe/London:20250324T090000", &ical.Prop{Name: "DTSTART",
			Params: ical.Params{"TZID": {"Europe/London"}}, Value: "20250324T090000"}},
		{"X-A;X-P=;X-Q=1:v", &ical.Prop{Name: "X-A", Params: ical.Params{"X-P": {""}, "X-Q": {"1"}}, Value: "v"}},
		{`ATTENDEE;CN="Unterminated:mailto:someone@example.com`, nil},
		{`ATTENDEE;X="a"b:mailto:a@b`, nil},
		{`ATTENDEE;X=a"b":mailto:a@b`, nil},
		{"ATTENDEE;PARTSTAT:mailto:a@b", nil},
		{"ATTENDEE;=X:mailto:a@b", nil},
		{"NO COLON HERE", nil},
		{":no name", nil},
		{"X_UNDERSCORE:1", nil},
		{"X-A;P=1", nil},
		{"X-A" + strings.Repeat(";P=1", 65) + ":v", nil},
	}
	for _, tc := range tests {
		t.Run(tc.line, func(t *testing.T) {
			got, err := parseLine(tc.line, DefaultMaxParams)
			if tc.want == nil {
				if err == nil {
					t.Errorf("read as %+v, want an error", got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

const brokenLine = "ATTENDEE;CN=\"Unterminated:mailto:someone@example.com"

func TestDecode(t *testing.T) {
	t.Parallel()
	cal := func(body string) string {
		return "BEGIN:VCALENDAR\r\nVERSION:2.0\r\n" + body + "END:VCALENDAR\r\n"
	}
	event := "BEGIN:VEVENT\r\nUID:e\r\nEND:VEVENT\r\n"
	tests := []struct {
		name    string
		in      string
		strict  bool
		wantErr error // ErrTooLarge, or any SyntaxError
		props   int   // of the first VEVENT
	}{
		{"sound", cal(event), true, nil, 1},
		{"stray text around the calendar", "Hello\r\n" + cal(event) + "bye: then\r\n", true, nil, 1},
		{"a second calendar is not read", cal(event) + "BEGIN:VCALENDAR\r\nBEGIN:\r\n", true, nil, 1},
		{"a bad line skipped", cal("BEGIN:VEVENT\r\nUID:e\r\n" + brokenLine + "\r\nEND:VEVENT\r\n"), false, nil, 1},
		{"a bad line, strict", cal("BEGIN:VEVENT\r\nUID:e\r\n" + brokenLine + "\r\nEND:VEVENT\r\n"), true, &SyntaxError{}, 0},
		{"cut short keeps what arrived", "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:e\r\n", false, nil, 1},
		{"cut short, strict", "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:e\r\n", true, &SyntaxError{}, 0},
		{"a malformed BEGIN", cal("BEGIN;X:VEVENT\r\nUID:e\r\nEND:VEVENT\r\n"), false, &SyntaxError{}, 0},
		{"END closes another component", cal("BEGIN:VEVENT\r\nUID:e\r\nEND:VTODO\r\n"), false, &SyntaxError{}, 0},
		{"END without BEGIN", "END:VEVENT\r\n", false, &SyntaxError{}, 0},
		{"no calendar", "<html>Sign in</html>", false, &SyntaxError{}, 0},
		{"not a VCALENDAR", "BEGIN:VCARD\r\nFN:x\r\nEND:VCARD\r\n", false, &SyntaxError{}, 0},
		{"nested too deeply", cal(strings.Repeat("BEGIN:X\r\n", 8) + strings.Repeat("END:X\r\n", 8)), false, &SyntaxError{}, 0},
		{"nested as deep as allowed", cal("BEGIN:VEVENT\r\n" + strings.Repeat("BEGIN:X\r\n", 6) + strings.Repeat("END:X\r\n", 6) + "UID:e\r\nEND:VEVENT\r\n"), false, nil, 1},
		{"too many lines", cal("BEGIN:VEVENT\r\n" + strings.Repeat("X-A:1\r\n", 100) + "END:VEVENT\r\n"), false, ErrTooLarge, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Decode([]byte(tc.in), Options{Strict: tc.strict, Limits: Limits{MaxLines: 100}})
			var se *SyntaxError
			switch {
			case tc.wantErr == nil && err != nil:
				t.Fatal(err)
			case tc.wantErr == ErrTooLarge && !errors.Is(err, ErrTooLarge):
				t.Fatalf("error %v, want %v", err, ErrTooLarge)
			case tc.wantErr != nil && tc.wantErr != ErrTooLarge && !errors.As(err, &se):
				t.Fatalf("error %v (%T), want a *SyntaxError", err, err)
			case tc.wantErr != nil:
				return
			}
			if got.Name != ical.CompCalendar || len(got.Children) == 0 {
				t.Fatalf("decoded %+v", got.Component)
			}
			if n := len(got.Children[0].Props); n != tc.props {
				t.Errorf("first component has %d properties, want %d", n, tc.props)
			}
		})
	}
	t.Run("MaxBytes", func(t *testing.T) {
		data := []byte(cal(event))
		if _, err := Decode(data, Options{Limits: Limits{MaxBytes: int64(len(data))}}); err != nil {
			t.Errorf("at the limit: %v", err)
		}
		if _, err := Decode(data, Options{Limits: Limits{MaxBytes: int64(len(data) - 1)}}); !errors.Is(err, ErrTooLarge) {
			t.Errorf("over the limit: %v, want %v", err, ErrTooLarge)
		}
	})
}

// walked is what Walk gives for one component: its UID, or its error.
type walked struct{ UID, Err string }

func walk(t *testing.T, in string, opts Options) ([]walked, error) {
	t.Helper()
	var out []walked
	err := Walk(strings.NewReader(in), opts, func(c *ical.Component, err error) error {
		switch {
		case err != nil:
			var se *SyntaxError
			kind := "syntax"
			if errors.Is(err, ErrTooLarge) {
				kind = "too large"
			} else if !errors.As(err, &se) {
				t.Errorf("component error %v (%T)", err, err)
			}
			out = append(out, walked{Err: kind})
		case c.Props.Get("UID") != nil:
			out = append(out, walked{UID: c.Name + " " + c.Props.Get("UID").Value})
		default:
			out = append(out, walked{UID: c.Name})
		}
		return nil
	})
	return out, err
}

func TestWalk(t *testing.T) {
	t.Parallel()
	ev := func(uid string) string { return "BEGIN:VEVENT\r\nUID:" + uid + "\r\nEND:VEVENT\r\n" }
	tests := []struct {
		name, in string
		strict   bool
		want     []walked
	}{
		{"components in order", "BEGIN:VCALENDAR\r\nX-WR-CALNAME:x\r\nBEGIN:VTIMEZONE\r\nTZID:Z\r\nBEGIN:STANDARD\r\nEND:STANDARD\r\nEND:VTIMEZONE\r\n" + ev("a") + ev("b") + "END:VCALENDAR\r\n", true,
			[]walked{{UID: "VTIMEZONE"}, {UID: "VEVENT a"}, {UID: "VEVENT b"}}},
		{"a bad line costs its component, strict", "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:a\r\n" + brokenLine + "\r\nEND:VEVENT\r\n" + ev("b") + "END:VCALENDAR\r\n", true,
			[]walked{{Err: "syntax"}, {UID: "VEVENT b"}}},
		{"a bad line costs itself, lenient", "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:a\r\n" + brokenLine + "\r\nEND:VEVENT\r\n" + ev("b") + "END:VCALENDAR\r\n", false,
			[]walked{{UID: "VEVENT a"}, {UID: "VEVENT b"}}},
		{"cut short by the next component", "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:a\r\n" + ev("b") + "END:VCALENDAR\r\n", true,
			[]walked{{Err: "syntax"}, {UID: "VEVENT b"}}},
		{"cut short by the calendar's END", "BEGIN:VCALENDAR\r\n" + ev("a") + "BEGIN:VEVENT\r\nUID:b\r\nEND:VCALENDAR\r\n", true,
			[]walked{{UID: "VEVENT a"}, {Err: "syntax"}}},
		{"cut short by the end of the stream", "BEGIN:VCALENDAR\r\n" + ev("a") + "BEGIN:VEVENT\r\nUID:b\r\n", true,
			[]walked{{UID: "VEVENT a"}, {Err: "syntax"}}},
		{"unbalanced END: skipped to the next component", "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nBEGIN:VALARM\r\nEND:VEVENT\r\nEND:VALARM\r\nEND:VEVENT\r\n" + ev("b") + "END:VCALENDAR\r\n", true,
			[]walked{{Err: "syntax"}, {UID: "VEVENT b"}}},
		{"malformed BEGIN inside", "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nBEGIN;:VALARM\r\nEND:VEVENT\r\n" + ev("b") + "END:VCALENDAR\r\n", false,
			[]walked{{Err: "syntax"}, {UID: "VEVENT b"}}},
		{"nested alarms are kept", "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:a\r\nBEGIN:VALARM\r\nACTION:DISPLAY\r\nEND:VALARM\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n", true,
			[]walked{{UID: "VEVENT a"}}},
		{"too many lines in one component", "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\n" + strings.Repeat("X-A:1\r\n", 20) + "END:VEVENT\r\n" + ev("b") + "END:VCALENDAR\r\n", true,
			[]walked{{Err: "too large"}, {UID: "VEVENT b"}}},
		{"several calendars", "BEGIN:VCALENDAR\r\n" + ev("a") + "END:VCALENDAR\r\nBEGIN:VCALENDAR\r\n" + ev("b") + "END:VCALENDAR\r\n", true,
			[]walked{{UID: "VEVENT a"}, {UID: "VEVENT b"}}},
		{"outside a calendar is not read", ev("x") + "BEGIN:VCALENDAR\r\n" + ev("a") + "END:VCALENDAR\r\n" + ev("y"), true,
			[]walked{{UID: "VEVENT a"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := walk(t, tc.in, Options{Strict: tc.strict, Limits: Limits{MaxLines: 10}})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

type failingReader struct{ err error }

func (r failingReader) Read([]byte) (int, error) { return 0, r.err }

func TestWalkFails(t *testing.T) {
	t.Parallel()
	var se *SyntaxError
	if _, err := walk(t, "<html>Sign in</html>", Options{}); !errors.As(err, &se) {
		t.Errorf("no calendar: %v, want a *SyntaxError", err)
	}
	stop := errors.New("stop")
	n := 0
	err := Walk(strings.NewReader("BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nEND:VEVENT\r\nBEGIN:VEVENT\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"), Options{},
		func(*ical.Component, error) error { n++; return stop })
	if err != stop || n != 1 {
		t.Errorf("fn's error: %v after %d components, want %v after 1", err, n, stop)
	}
	mine := fmt.Errorf("the reader's own: %w", io.ErrUnexpectedEOF)
	r := io.MultiReader(strings.NewReader("BEGIN:VCALENDAR\r\n"), failingReader{mine})
	if err := Walk(r, Options{}, func(*ical.Component, error) error { return nil }); err != mine {
		t.Errorf("reader error: %v, want it as it is", err)
	}
	endless := io.MultiReader(strings.NewReader("BEGIN:VCALENDAR\r\n"), strings.NewReader(strings.Repeat("BEGIN:VEVENT\r\nEND:VEVENT\r\n", 1000)))
	if err := Walk(endless, Options{Limits: Limits{MaxBytes: 1000}}, func(*ical.Component, error) error { return nil }); !errors.Is(err, ErrTooLarge) {
		t.Errorf("over MaxBytes: %v, want %v", err, ErrTooLarge)
	}
}
