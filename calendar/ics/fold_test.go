package ics

import (
	"bytes"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/emersion/go-ical"
)

func TestFold(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		line string
	}{
		{"short", "SUMMARY:short"},
		{"exactly 75", "X:" + strings.Repeat("a", 73)},
		{"76", "X:" + strings.Repeat("a", 74)},
		{"long ascii", "DESCRIPTION:" + strings.Repeat("0123456789", 30)},
		{"two-byte runes", "SUMMARY:" + strings.Repeat("é", 100)},
		{"three-byte runes", "SUMMARY:" + strings.Repeat("—", 100)},
		{"four-byte runes", "SUMMARY:" + strings.Repeat("𝄞", 60)},
		{"mixed at the boundary", "SUMMARY:" + strings.Repeat("a", 66) + "—€é" + strings.Repeat("b", 80)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := Fold([]byte(tt.line + "\n"))
			if !bytes.HasSuffix(out, []byte("\r\n")) {
				t.Errorf("no CRLF at the end")
			}
			lines := strings.Split(strings.TrimSuffix(string(out), "\r\n"), "\r\n")
			for i, l := range lines {
				if len(l) > 75 {
					t.Errorf("line %d: %d octets", i, len(l))
				}
				if !utf8.ValidString(l) {
					t.Errorf("line %d splits a rune: %q", i, l)
				}
				if i > 0 && !strings.HasPrefix(l, " ") {
					t.Errorf("continuation %d does not start with a space", i)
				}
			}
			if got := unfoldAll(string(out)); len(got) < 1 || got[0] != tt.line {
				t.Errorf("unfold(Fold(x)) = %q, want %q", got, tt.line)
			}
		})
	}
}

// TestEncode: go-ical's encoder, folded, reads back whole.
func TestEncode(t *testing.T) {
	t.Parallel()
	cal := ical.NewCalendar()
	cal.Props.SetText(ical.PropVersion, "2.0")
	cal.Props.SetText(ical.PropProductID, "-//test//EN")
	ev := ical.NewComponent(ical.CompEvent)
	ev.Props.SetText(ical.PropUID, "u")
	ev.Props.SetText(ical.PropDateTimeStamp, "20250301T000000Z")
	long := strings.Repeat("Agenda — item; ", 20)
	ev.Props.SetText(ical.PropDescription, long)
	cal.Children = append(cal.Children, ev)
	out, err := Encode(cal)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(strings.TrimSuffix(string(out), "\r\n"), "\r\n") {
		if len(l) > 75 {
			t.Errorf("a line of %d octets", len(l))
		}
	}
	back, err := Decode(out, Options{Strict: true})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := back.Children[0].Props.Text(ical.PropDescription); err != nil || got != long {
		t.Errorf("DESCRIPTION read back as %q, %v", got, err)
	}
}
