package invites

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// FuzzParseMessage feeds the reply parser arbitrary messages, seeded with
// every reply, malformed message and generated invitation in testdata. It
// must never panic, and every refusal must be a *ParseError.
//
//	go test ./invites -run '^$' -fuzz FuzzParseMessage -fuzztime 60s
func FuzzParseMessage(f *testing.F) {
	for _, pattern := range []string{"replies/*.eml", "malformed/*.eml", "golden/*.eml"} {
		files, err := filepath.Glob(filepath.Join("testdata", pattern))
		if err != nil {
			f.Fatal(err)
		}
		for _, file := range files {
			b, err := os.ReadFile(file)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(b)
		}
	}
	f.Add([]byte("Content-Type: text/calendar\r\n\r\nBEGIN:VCALENDAR\r\nMETHOD:REPLY\r\nBEGIN:VEVENT\r\nUID:x\r\nATTENDEE;CN=\"a\r\n"))
	f.Add([]byte("Content-Type: text/calendar\r\n\r\nBEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nATTENDEE;X=\"a\"b:mailto:a@b\r\n"))
	f.Fuzz(func(t *testing.T, raw []byte) {
		in, err := ParseMessage(raw)
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("error %v (%T) is not a *ParseError", err, err)
			}
			return
		}
		if in.UID == "" || len(in.Attendees) == 0 || in.Method == "" {
			t.Fatalf("accepted a message without UID, attendee or method: %+v", in)
		}
		_, _ = in.Speaker()
	})
}
