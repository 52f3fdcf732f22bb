package invites

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzParseMessage feeds the reply parser arbitrary messages, seeded with
// every reply, malformed message and generated invitation in testdata. It
// must never panic, and every refusal must be a *ParseError.
//
//	go test ./invites -run '^$' -fuzz FuzzParseMessage -fuzztime 60s
func FuzzParseMessage(f *testing.F) {
	for _, b := range seedFiles(f, "replies/*.eml", "malformed/*.eml", "golden/*.eml") {
		f.Add(b)
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

// FuzzInbound fuzzes the whole inbound path as the service runs it:
// Authenticate, then ParseMessage (TNEF included), then Speaker. Seeds are
// authenticated (DKIM-signed with a key served by a real DNS server, or
// vouched for by a trusted gateway's Authentication-Results) and not
// (unsigned, forged, TNEF). It must never panic; every refusal must be a
// *ParseError; a pass must name an aligned domain; and what comes out of a
// bounded input must stay bounded.
//
//	go test ./invites -run '^$' -fuzz FuzzInbound -fuzztime 60s
func FuzzInbound(f *testing.F) {
	key := newEd25519(f, "police.example.uk", "fuzz")
	name, value := key.record(f)
	cfg := AuthConfig{TrustedAuthServIDs: []string{gateway}, Resolver: startDNS(f, map[string]string{name: value}), MaxMessageBytes: 1 << 20}

	reply := priyaReply(f, "priya.patel@police.example.uk")
	f.Add(key.sign(f, reply))
	f.Add(withHeaders(reply, "Authentication-Results: "+gateway+"; dkim=pass header.d=police.example.uk; dmarc=pass header.from=police.example.uk"))
	f.Add(withHeaders(reply, "Authentication-Results: "+gateway+"; dmarc=fail header.from=police.example.uk",
		"Authentication-Results: "+gateway+"; dmarc=pass header.from=police.example.uk"))
	f.Add(withHeaders(reply, "Authentication-Results: mx.evil.example (comment; with \"quotes\" and (nesting)); dmarc=pass"))
	f.Add(reply)
	f.Add(newEd25519(f, "evil.example", "s1").sign(f, reply))
	for _, b := range seedFiles(f, "replies/*.eml", "malformed/*.eml") {
		f.Add(b)
	}
	for _, b := range tnefSeeds(f) {
		f.Add(tnefMail(f, "priya.patel@police.example.uk", b))
	}
	for _, fx := range tnefFixtures() {
		f.Add(key.sign(f, tnefMail(f, fx.from, fx.make(f))))
	}

	f.Fuzz(func(t *testing.T, raw []byte) {
		res := Authenticate(context.Background(), raw, cfg)
		if len(res.Reason) > 2048 || !utf8.ValidString(res.Reason) {
			t.Fatalf("Reason of %d bytes, valid UTF-8 %v", len(res.Reason), utf8.ValidString(res.Reason))
		}
		if res.Pass {
			if res.From == "" || res.Method == "" || !aligned(res.Domain, domainOf(res.From)) {
				t.Fatalf("passed without an aligned domain: %+v", res)
			}
		}
		in, err := ParseMessage(raw)
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("error %v (%T) is not a *ParseError", err, err)
			}
			if len(pe.Detail) > 512 {
				t.Fatalf("error detail of %d bytes", len(pe.Detail))
			}
			return
		}
		if in.UID == "" || len(in.Attendees) == 0 || in.Method == "" {
			t.Fatalf("accepted a message without UID, attendee or method: %+v", in)
		}
		if len(in.Attendees) > maxContentLines || len(in.UID) > maxCalendarBytes || len(in.Comment) > maxCalendarBytes {
			t.Fatalf("unbounded result: %d attendees, UID %d bytes", len(in.Attendees), len(in.UID))
		}
		if sp, err := in.Speaker(); err == nil && !strings.EqualFold(sp.Email, in.From) && !strings.EqualFold(sp.SentBy, in.From) {
			t.Fatalf("speaker %q is neither From %q nor sent by it", sp.Email, in.From)
		}
	})
}

// FuzzReadTNEF feeds the TNEF decoder arbitrary streams, seeded with the
// real files node-tnef ships and our synthetic meeting replies. It must
// never panic and must stay within its limits. The real files are ~100 KB
// and well formed, so their mutants often reach new code; minimising each
// such mutant for the default 60s leaves almost no time to fuzz, hence the
// short -fuzzminimizetime.
//
//	go test ./invites -run '^$' -fuzz FuzzReadTNEF -fuzztime 60s -fuzzminimizetime 1s
func FuzzReadTNEF(f *testing.F) {
	for _, b := range tnefSeeds(f) {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		msg, err := readTNEF(data)
		if err != nil {
			return
		}
		if len(msg.attachments) > maxTNEFAttachments || len(msg.props) > maxTNEFAttributes*maxTNEFProps {
			t.Fatalf("%d attachments, %d properties", len(msg.attachments), len(msg.props))
		}
		total := 0
		for _, a := range msg.attachments {
			total += len(a.data)
		}
		if total > len(data) {
			t.Fatalf("attachments hold %d bytes from a %d-byte stream", total, len(data))
		}
		if _, err := msg.calendar("priya.patel@police.example.uk"); err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("calendar: %v (%T) is not a *ParseError", err, err)
			}
		}
	})
}

// tnefSeeds are the real TNEF files (from the npm package node-tnef, see
// realTNEF) and the synthetic meeting replies in testdata/tnef/synthetic.
func tnefSeeds(f *testing.F) [][]byte {
	f.Helper()
	seeds := seedFiles(f, "tnef/synthetic/*.tnef")
	for _, path := range realTNEF(f) {
		b, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		seeds = append(seeds, b)
	}
	return seeds
}

// seedFiles reads every file in testdata matching the patterns.
func seedFiles(f *testing.F, patterns ...string) [][]byte {
	f.Helper()
	var out [][]byte
	for _, pattern := range patterns {
		files, err := filepath.Glob(filepath.Join("testdata", pattern))
		if err != nil {
			f.Fatal(err)
		}
		if len(files) == 0 {
			f.Fatalf("no seed files match testdata/%s", pattern)
		}
		for _, file := range files {
			b, err := os.ReadFile(file)
			if err != nil {
				f.Fatal(err)
			}
			out = append(out, b)
		}
	}
	return out
}
