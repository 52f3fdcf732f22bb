package ics

import (
	"bytes"
	"unicode/utf8"

	"github.com/emersion/go-ical"
)

// maxLineOctets is the longest content line RFC 5545 §3.1 allows, not
// counting the CRLF.
const maxLineOctets = 75

// Encode writes cal with go-ical's encoder, which checks it, and folds its
// lines (see Fold).
func Encode(cal *ical.Calendar) ([]byte, error) {
	var buf bytes.Buffer
	if err := ical.NewEncoder(&buf).Encode(cal); err != nil {
		return nil, err
	}
	return Fold(buf.Bytes()), nil
}

// Fold folds every content line of an iCalendar stream longer than 75
// octets (RFC 5545 §3.1): each continuation starts with a single space, and
// no line is broken inside a UTF-8 sequence. Lines end with CRLF whatever
// they ended with before. go-ical writes long lines unfolded, which Outlook
// and some mail relays mangle.
func Fold(data []byte) []byte {
	var out bytes.Buffer
	out.Grow(len(data) + len(data)/maxLineOctets*3)
	for len(data) > 0 {
		var line []byte
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line, data = data[:i], data[i+1:]
		} else {
			line, data = data, nil
		}
		foldLine(&out, bytes.TrimSuffix(line, []byte{'\r'}))
	}
	return out.Bytes()
}

func foldLine(out *bytes.Buffer, line []byte) {
	limit := maxLineOctets
	for len(line) > limit {
		cut := limit
		// Step back to the start of a UTF-8 sequence.
		for cut > 0 && !utf8.RuneStart(line[cut]) {
			cut--
		}
		if cut == 0 { // not UTF-8; cut anyway rather than loop
			cut = limit
		}
		out.Write(line[:cut])
		out.WriteString("\r\n ")
		line = line[cut:]
		limit = maxLineOctets - 1 // the leading space counts
	}
	out.Write(line)
	out.WriteString("\r\n")
}
