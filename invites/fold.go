package invites

import (
	"bytes"
	"unicode/utf8"
)

// maxLineOctets is the longest content line RFC 5545 §3.1 allows, not
// counting the CRLF.
const maxLineOctets = 75

// Fold folds every content line of an iCalendar stream longer than 75
// octets (RFC 5545 §3.1): each continuation starts with a single space, and
// no line is broken inside a UTF-8 sequence. Lines end with CRLF whatever
// they ended with before. go-ical writes long lines unfolded, which Outlook
// and some mail relays mangle.
func Fold(ics []byte) []byte {
	var out bytes.Buffer
	out.Grow(len(ics) + len(ics)/maxLineOctets*3)
	for len(ics) > 0 {
		var line []byte
		if i := bytes.IndexByte(ics, '\n'); i >= 0 {
			line, ics = ics[:i], ics[i+1:]
		} else {
			line, ics = ics, nil
		}
		line = bytes.TrimSuffix(line, []byte{'\r'})
		foldLine(&out, line)
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
