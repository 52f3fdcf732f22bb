package ics

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/emersion/go-ical"
)

// Limits bound what decoding may cost. Zero fields take the defaults.
type Limits struct {
	// MaxBytes bounds the input: the data given to Decode, or what Walk
	// reads. Default 8 MiB.
	MaxBytes int64
	// MaxLines bounds the content lines (unfolded) of the calendar Decode
	// reads, or of each component Walk reads. Default 100,000.
	MaxLines int
	// MaxNesting bounds how deep components nest, VCALENDAR counting one.
	// Default 8; VCALENDAR, VEVENT, VALARM is 3.
	MaxNesting int
	// MaxParams bounds the parameter values of one content line; a line
	// with more cannot be read. Default 64.
	MaxParams int
}

// The default limits.
const (
	DefaultMaxBytes   = 8 << 20
	DefaultMaxLines   = 100_000
	DefaultMaxNesting = 8
	DefaultMaxParams  = 64
)

func (l Limits) withDefaults() Limits {
	if l.MaxBytes <= 0 {
		l.MaxBytes = DefaultMaxBytes
	}
	if l.MaxLines <= 0 {
		l.MaxLines = DefaultMaxLines
	}
	if l.MaxNesting <= 0 {
		l.MaxNesting = DefaultMaxNesting
	}
	if l.MaxParams <= 0 {
		l.MaxParams = DefaultMaxParams
	}
	return l
}

// Options say how to decode.
type Options struct {
	Limits
	// Strict fails a calendar (Decode) or a component (Walk) on any
	// content line inside it that cannot be read, and on one cut short
	// before its END. Without it such lines are skipped and a calendar
	// cut short keeps what arrived: a reply from the wild is read if its
	// structure holds, where a calendar object is better skipped whole
	// than read in part.
	Strict bool
}

// ErrTooLarge is the cause of every error for input beyond a Limits bound.
var ErrTooLarge = errors.New("ics: over a limit")

// SyntaxError is iCalendar whose structure cannot be read. Its message
// quotes no more than a few characters of the input.
type SyntaxError struct {
	Line int // the content line (unfolded, counted from 1), 0 if none
	Msg  string
}

func (e *SyntaxError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("ics: line %d: %s", e.Line, e.Msg)
	}
	return "ics: " + e.Msg
}

// Decode reads one iCalendar object (RFC 5545 §3.4) into go-ical's
// component tree. Lines before BEGIN:VCALENDAR are ignored, and nothing
// after its END is read. BEGIN and END
// must be sound and balanced whatever opts say; see Options.Strict for the
// rest.
func Decode(data []byte, opts Options) (*ical.Calendar, error) {
	lim := opts.withDefaults()
	if int64(len(data)) > lim.MaxBytes {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, len(data), lim.MaxBytes)
	}
	lr := newLineReader(bytes.NewReader(data), int64(len(data)))
	var stack []*ical.Component
	var top *ical.Component
	lines := 0
	for {
		line, ok := lr.next()
		if !ok {
			break
		}
		lines++
		if lines > lim.MaxLines {
			return nil, fmt.Errorf("%w: more than %d content lines", ErrTooLarge, lim.MaxLines)
		}
		prop, err := parseLine(line, lim.MaxParams)
		if err != nil {
			if isBeginEnd(line) {
				return nil, &SyntaxError{lr.n, "malformed BEGIN or END line"}
			}
			if opts.Strict && len(stack) > 0 {
				return nil, &SyntaxError{lr.n, err.Error()}
			}
			continue
		}
		switch prop.Name {
		case "BEGIN":
			if len(stack) >= lim.MaxNesting {
				return nil, &SyntaxError{lr.n, "components nested too deeply"}
			}
			c := ical.NewComponent(componentName(prop))
			if len(stack) > 0 {
				parent := stack[len(stack)-1]
				parent.Children = append(parent.Children, c)
			} else {
				if c.Name != ical.CompCalendar {
					return nil, &SyntaxError{lr.n, fmt.Sprintf("top-level component is %.40s, not VCALENDAR", c.Name)}
				}
				top = c
			}
			stack = append(stack, c)
		case "END":
			if len(stack) == 0 {
				return nil, &SyntaxError{lr.n, "END without BEGIN"}
			}
			if name := componentName(prop); name != stack[len(stack)-1].Name {
				return nil, &SyntaxError{lr.n, fmt.Sprintf("END:%.40s closes %s", name, stack[len(stack)-1].Name)}
			}
			if stack = stack[:len(stack)-1]; len(stack) == 0 {
				return &ical.Calendar{Component: top}, nil // what follows is not read
			}
		default:
			if len(stack) > 0 {
				c := stack[len(stack)-1]
				c.Props[prop.Name] = append(c.Props[prop.Name], *prop)
			}
		}
	}
	if err := lr.err(); err != nil {
		return nil, err
	}
	if top == nil {
		return nil, &SyntaxError{0, "no BEGIN:VCALENDAR"}
	}
	if len(stack) > 0 && opts.Strict {
		return nil, &SyntaxError{lr.n, fmt.Sprintf("%s cut short: no END", stack[len(stack)-1].Name)}
	}
	return &ical.Calendar{Component: top}, nil
}

// topLevel names the components that only occur directly in a VCALENDAR.
var topLevel = map[string]bool{
	ical.CompEvent: true, ical.CompToDo: true, ical.CompJournal: true,
	ical.CompFreeBusy: true, ical.CompTimezone: true,
}

// Walk reads an iCalendar stream of any length, such as a published feed,
// and calls fn with each component directly inside a VCALENDAR (VEVENT,
// VTIMEZONE, VFREEBUSY…), decoded on its own, in order; a stream may hold
// several VCALENDARs. When a component cannot be read, fn gets a nil
// component and the error, and Walk goes on with the next one: a
// component is unreadable when a BEGIN or END in it is malformed or
// unbalanced, when it is cut short by the next top-level BEGIN or by
// END:VCALENDAR, when it exceeds MaxLines or MaxNesting, or (Strict) when
// any of its lines cannot be read. An error from fn stops the walk and is
// returned as it is, and so is one from r; Walk also fails when the stream
// exceeds MaxBytes or holds no VCALENDAR.
func Walk(r io.Reader, opts Options, fn func(c *ical.Component, err error) error) error {
	lim := opts.withDefaults()
	lr := newLineReader(r, lim.MaxBytes)
	var (
		inCal, sawCal bool
		stack         []*ical.Component // the component being read, and what is open in it
		bad           error             // why it cannot be read, once known
		skipping      bool              // after a component given up mid-way: until the next top-level BEGIN or END:VCALENDAR
		lines         int
	)
	finish := func(c *ical.Component, err error) error {
		stack, bad, lines = stack[:0], nil, 0
		return fn(c, err)
	}
	for {
		line, ok := lr.next()
		if !ok {
			break
		}
		prop, err := parseLine(line, lim.MaxParams)
		if err != nil && isBeginEnd(line) {
			if len(stack) > 0 {
				if err := finish(nil, &SyntaxError{lr.n, "malformed BEGIN or END line"}); err != nil {
					return err
				}
				skipping = true
			}
			continue
		}
		var name string
		if err == nil && (prop.Name == "BEGIN" || prop.Name == "END") {
			name = componentName(prop)
		}
		switch {
		case !inCal:
			if err == nil && prop.Name == "BEGIN" && name == ical.CompCalendar {
				inCal, sawCal, skipping = true, true, false
			}
			continue
		case len(stack) > 0 && err == nil && (prop.Name == "BEGIN" && topLevel[name] || prop.Name == "END" && name == ical.CompCalendar):
			// The open component was cut short: this line belongs to
			// what follows it.
			if err := finish(nil, &SyntaxError{lr.n, fmt.Sprintf("%s cut short by %s:%.40s", stack[0].Name, prop.Name, name)}); err != nil {
				return err
			}
		case skipping && !(err == nil && (prop.Name == "BEGIN" && topLevel[name] || prop.Name == "END" && name == ical.CompCalendar)):
			continue
		}
		skipping = false
		if len(stack) == 0 {
			// Directly in the VCALENDAR: a component starts, or the
			// calendar ends; its own properties are not wanted.
			switch {
			case err != nil || name == ical.CompCalendar && prop.Name == "BEGIN":
			case prop.Name == "BEGIN":
				stack = append(stack, ical.NewComponent(name))
				lines = 1
			case prop.Name == "END" && name == ical.CompCalendar:
				inCal = false
			}
			continue
		}
		lines++
		switch {
		case bad != nil:
			// Read on to its END, to stay in step.
		case lines > lim.MaxLines:
			bad = fmt.Errorf("%w: %s has more than %d content lines", ErrTooLarge, stack[0].Name, lim.MaxLines)
		case err != nil && opts.Strict:
			bad = &SyntaxError{lr.n, err.Error()}
		}
		switch {
		case err != nil:
		case prop.Name == "BEGIN":
			if len(stack)+1 >= lim.MaxNesting {
				if err := finish(nil, &SyntaxError{lr.n, "components nested too deeply"}); err != nil {
					return err
				}
				skipping = true
				continue
			}
			c := ical.NewComponent(name)
			parent := stack[len(stack)-1]
			parent.Children = append(parent.Children, c)
			stack = append(stack, c)
		case prop.Name == "END":
			if name != stack[len(stack)-1].Name {
				if err := finish(nil, &SyntaxError{lr.n, fmt.Sprintf("END:%.40s closes %s", name, stack[len(stack)-1].Name)}); err != nil {
					return err
				}
				skipping = true
				continue
			}
			if len(stack) == 1 {
				c, cerr := stack[0], bad
				if cerr != nil {
					c = nil
				}
				if err := finish(c, cerr); err != nil {
					return err
				}
				continue
			}
			stack = stack[:len(stack)-1]
		case bad == nil:
			c := stack[len(stack)-1]
			c.Props[prop.Name] = append(c.Props[prop.Name], *prop)
		}
	}
	if err := lr.err(); err != nil {
		return err
	}
	if len(stack) > 0 {
		if err := fn(nil, &SyntaxError{lr.n, fmt.Sprintf("%s cut short: no END", stack[0].Name)}); err != nil {
			return err
		}
	}
	if !sawCal {
		return &SyntaxError{0, "no BEGIN:VCALENDAR"}
	}
	return nil
}

// componentName is the name a BEGIN or END line gives.
func componentName(p *ical.Prop) string {
	return strings.ToUpper(strings.TrimSpace(p.Value))
}

// isBeginEnd reports whether a line that could not be read was meant as
// BEGIN or END, which cannot be skipped without losing the structure.
func isBeginEnd(line string) bool {
	u := strings.ToUpper(strings.TrimLeft(line, " \t"))
	return strings.HasPrefix(u, "BEGIN") || strings.HasPrefix(u, "END")
}

// lineReader reads the content lines of an iCalendar stream (RFC 5545
// §3.1): lines end with CRLF, LF or a lone CR; a line that starts with a
// space or a tab continues the one before, without that character. A
// logical line is made valid UTF-8 once unfolded, since a folding writer
// may split a character across lines; a byte-order mark before the first
// is dropped. It reads at most max bytes.
type lineReader struct {
	r     *bufio.Reader
	queue [][]byte // physical lines read ahead, without their ends
	rerr  error    // from r; io.EOF at the end
	n     int      // logical lines returned
	b     strings.Builder
}

func newLineReader(r io.Reader, max int64) *lineReader {
	cr := &countingReader{r: r, left: max}
	// A buffer no larger than the input can be: a reply is a few KB.
	return &lineReader{r: bufio.NewReaderSize(cr, int(min(max+1, 64<<10)))}
}

// err is the reading error that ended the lines, nil at the end of the
// input.
func (l *lineReader) err() error {
	if l.rerr == io.EOF {
		return nil
	}
	return l.rerr
}

// fill reads the next physical lines into the queue.
func (l *lineReader) fill() {
	var buf []byte
	for l.rerr == nil {
		seg, err := l.r.ReadSlice('\n')
		buf = append(buf, seg...)
		if err == bufio.ErrBufferFull {
			continue
		}
		l.rerr = err
		break
	}
	if len(buf) == 0 {
		return
	}
	buf = bytes.TrimSuffix(buf, []byte{'\n'})
	buf = bytes.TrimSuffix(buf, []byte{'\r'})
	for {
		i := bytes.IndexByte(buf, '\r')
		if i < 0 {
			break
		}
		l.queue = append(l.queue, buf[:i])
		buf = buf[i+1:]
	}
	l.queue = append(l.queue, buf)
}

func (l *lineReader) peek() ([]byte, bool) {
	if len(l.queue) == 0 {
		l.fill()
	}
	if len(l.queue) == 0 {
		return nil, false
	}
	return l.queue[0], true
}

func (l *lineReader) pop() { l.queue = l.queue[1:] }

// next returns the next logical line that is not blank.
func (l *lineReader) next() (string, bool) {
	for {
		first, ok := l.peek()
		if !ok {
			return "", false
		}
		l.pop()
		l.b.Reset()
		l.b.Write(first)
		for {
			p, ok := l.peek()
			if !ok || len(p) == 0 || p[0] != ' ' && p[0] != '\t' {
				break
			}
			l.pop()
			l.b.Write(p[1:])
		}
		line := l.b.String()
		if l.n == 0 {
			line = strings.TrimPrefix(line, "\ufeff")
		}
		if strings.TrimSpace(line) == "" {
			continue
		}
		l.n++
		return strings.ToValidUTF8(line, "\uFFFD"), true
	}
}

// countingReader fails with ErrTooLarge past left bytes, where
// io.LimitReader would end quietly and a cut-off stream pass for a whole.
type countingReader struct {
	r    io.Reader
	left int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	if c.left <= 0 {
		var b [1]byte
		if k, err := c.r.Read(b[:]); k > 0 {
			return 0, fmt.Errorf("%w: more than the byte limit", ErrTooLarge)
		} else if err != nil {
			return 0, err
		}
		return 0, nil
	}
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	k, err := c.r.Read(p)
	c.left -= int64(k)
	return k, err
}

// parseLine tokenises one unfolded content line, name *(";" param) ":"
// value (RFC 5545 §3.1): names are upper-cased, parameter values unquoted,
// the value kept as written. It fails rather than guess on anything
// malformed, and on more than maxParams parameter values.
func parseLine(line string, maxParams int) (*ical.Prop, error) {
	i := strings.IndexAny(line, ";:")
	if i <= 0 {
		return nil, errors.New("no property name, or no colon")
	}
	name := strings.ToUpper(strings.TrimSpace(line[:i]))
	if !validName(name) {
		return nil, fmt.Errorf("bad property name %.40q", name)
	}
	prop := &ical.Prop{Name: name, Params: make(ical.Params)}
	rest := line[i:]
	n := 0
	for len(rest) > 0 && rest[0] == ';' {
		rest = rest[1:]
		eq := strings.IndexByte(rest, '=')
		if eq <= 0 {
			return nil, fmt.Errorf("%s: parameter without a name or '='", name)
		}
		pname := strings.ToUpper(strings.TrimSpace(rest[:eq]))
		if !validName(pname) {
			return nil, fmt.Errorf("%s: bad parameter name %.40q", name, pname)
		}
		rest = rest[eq+1:]
		for {
			var v string
			if len(rest) > 0 && rest[0] == '"' {
				end := strings.IndexByte(rest[1:], '"')
				if end < 0 {
					return nil, fmt.Errorf("%s: unterminated quote in %s", name, pname)
				}
				v, rest = rest[1:1+end], rest[2+end:]
			} else {
				end := strings.IndexAny(rest, ";:,\"")
				if end < 0 || rest[end] == '"' {
					return nil, fmt.Errorf("%s: bad value of %s", name, pname)
				}
				v, rest = rest[:end], rest[end:]
			}
			prop.Params[pname] = append(prop.Params[pname], v)
			if n++; n > maxParams {
				return nil, fmt.Errorf("%s: more than %d parameter values", name, maxParams)
			}
			if len(rest) > 0 && rest[0] == ',' {
				rest = rest[1:]
				continue
			}
			break
		}
	}
	if len(rest) == 0 || rest[0] != ':' {
		return nil, fmt.Errorf("%s: no colon after the parameters", name)
	}
	prop.Value = rest[1:]
	return prop, nil
}

// validName accepts an iana-token or x-name: letters, digits and '-'.
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
