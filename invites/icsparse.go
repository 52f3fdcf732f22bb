package invites

import (
	"bytes"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/emersion/go-ical"
)

// Limits on an iCalendar object read from a message. A reply is a few
// kilobytes; these bound what a hostile one can make us do.
const (
	maxCalendarBytes = 1 << 20 // one calendar part, decoded
	maxContentLines  = 20000
	maxNesting       = 8
	maxParams        = 64
)

// decodeCalendar parses an iCalendar stream (RFC 5545 §3.1, §3.4) into
// go-ical's component tree. It is ours, not go-ical's Decoder, because that
// one panics on some malformed parameter lists and cannot be told to skip a
// broken X- property; replies from the wild have both. It accepts CRLF, LF
// or CR line ends, folding with a space or a tab, and skips content lines it
// cannot parse; BEGIN and END must be sound.
func decodeCalendar(data []byte) (*ical.Calendar, error) {
	if len(data) > maxCalendarBytes {
		return nil, &ParseError{Kind: ErrOversize, Detail: fmt.Sprintf("calendar part is %d bytes, limit %d", len(data), maxCalendarBytes)}
	}
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf")) // a BOM, as some Windows tools write
	lines := unfold(data)
	if len(lines) > maxContentLines {
		return nil, &ParseError{Kind: ErrOversize, Detail: fmt.Sprintf("calendar has %d lines, limit %d", len(lines), maxContentLines)}
	}

	var stack []*ical.Component
	var top *ical.Component
lines:
	for _, line := range lines {
		if strings.TrimSpace(line) == "" {
			continue
		}
		prop, ok := parseContentLine(line)
		if !ok {
			// BEGIN and END must parse: without them the structure is lost.
			if u := strings.ToUpper(line); strings.HasPrefix(u, "BEGIN") || strings.HasPrefix(u, "END") {
				return nil, &ParseError{Kind: ErrMalformed, Detail: "malformed BEGIN or END line"}
			}
			continue
		}
		switch prop.Name {
		case "BEGIN":
			if len(stack) >= maxNesting {
				return nil, &ParseError{Kind: ErrMalformed, Detail: "components nested too deeply"}
			}
			if top != nil && len(stack) == 0 {
				// Content after END:VCALENDAR; a second calendar is ignored.
				break lines
			}
			c := ical.NewComponent(strings.ToUpper(strings.TrimSpace(prop.Value)))
			if len(stack) > 0 {
				parent := stack[len(stack)-1]
				parent.Children = append(parent.Children, c)
			} else {
				top = c
			}
			stack = append(stack, c)
		case "END":
			if len(stack) == 0 {
				return nil, &ParseError{Kind: ErrMalformed, Detail: "END without BEGIN"}
			}
			if name := strings.ToUpper(strings.TrimSpace(prop.Value)); name != stack[len(stack)-1].Name {
				return nil, &ParseError{Kind: ErrMalformed, Detail: fmt.Sprintf("END:%.40s closes %s", name, stack[len(stack)-1].Name)}
			}
			stack = stack[:len(stack)-1]
		default:
			if len(stack) == 0 {
				continue // stray text around the calendar
			}
			c := stack[len(stack)-1]
			c.Props[prop.Name] = append(c.Props[prop.Name], *prop)
		}
	}
	if top == nil {
		return nil, &ParseError{Kind: ErrMalformed, Detail: "no BEGIN:VCALENDAR"}
	}
	if top.Name != ical.CompCalendar {
		return nil, &ParseError{Kind: ErrMalformed, Detail: fmt.Sprintf("top-level component is %.40s, not VCALENDAR", top.Name)}
	}
	// A calendar truncated before its END lines, as mail relays sometimes
	// leave it, keeps what arrived: the checks on VEVENT, UID and ATTENDEE
	// decide whether that is enough.
	return &ical.Calendar{Component: top}, nil
}

// unfold splits data into logical content lines, joining continuation
// lines (RFC 5545 §3.1). Invalid UTF-8 is replaced, so every string
// downstream is valid.
func unfold(data []byte) []string {
	if !utf8.Valid(data) {
		data = bytes.ToValidUTF8(data, []byte("\uFFFD"))
	}
	s := strings.ReplaceAll(string(data), "\r\n", "\n")
	s = strings.ReplaceAll(s, "\r", "\n")
	raw := strings.Split(s, "\n")
	lines := make([]string, 0, len(raw))
	// Join continuations with a Builder: appending to a string would be
	// quadratic in a line folded many times.
	var cur strings.Builder
	started := false
	for _, l := range raw {
		if started && len(l) > 0 && (l[0] == ' ' || l[0] == '\t') {
			cur.WriteString(l[1:])
			continue
		}
		if started {
			lines = append(lines, cur.String())
			cur.Reset()
		}
		cur.WriteString(l)
		started = true
	}
	if started {
		lines = append(lines, cur.String())
	}
	return lines
}

// parseContentLine parses name *(";" param) ":" value (RFC 5545 §3.1),
// reporting false rather than failing on anything malformed.
func parseContentLine(line string) (*ical.Prop, bool) {
	i := strings.IndexAny(line, ";:")
	if i <= 0 {
		return nil, false
	}
	name := strings.ToUpper(strings.TrimSpace(line[:i]))
	if !validName(name) {
		return nil, false
	}
	prop := &ical.Prop{Name: name, Params: make(ical.Params)}
	rest := line[i:]
	nparams := 0
	for len(rest) > 0 && rest[0] == ';' {
		rest = rest[1:]
		eq := strings.IndexByte(rest, '=')
		if eq <= 0 {
			return nil, false
		}
		pname := strings.ToUpper(strings.TrimSpace(rest[:eq]))
		if !validName(pname) {
			return nil, false
		}
		rest = rest[eq+1:]
		for {
			var v string
			if len(rest) > 0 && rest[0] == '"' {
				end := strings.IndexByte(rest[1:], '"')
				if end < 0 {
					return nil, false
				}
				v, rest = rest[1:1+end], rest[2+end:]
			} else {
				end := strings.IndexAny(rest, ";:,\"")
				if end < 0 {
					return nil, false
				}
				if rest[end] == '"' {
					return nil, false
				}
				v, rest = rest[:end], rest[end:]
			}
			prop.Params[pname] = append(prop.Params[pname], v)
			nparams++
			if nparams > maxParams {
				return nil, false
			}
			if len(rest) > 0 && rest[0] == ',' {
				rest = rest[1:]
				continue
			}
			break
		}
	}
	if len(rest) == 0 || rest[0] != ':' {
		return nil, false
	}
	prop.Value = rest[1:]
	return prop, true
}

// validName accepts iana-token and x-name: letters, digits and '-'.
func validName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}
