package invites

// ErrorKind classifies why an inbound message was refused. Each kind is
// itself an error, so callers test with errors.Is(err, invites.ErrNoUID).
type ErrorKind string

// Kinds of ParseError.
const (
	// ErrOversize: the message, a part, or the calendar exceeds a limit.
	ErrOversize ErrorKind = "oversize"
	// ErrMalformed: the MIME structure or the iCalendar syntax is broken.
	ErrMalformed ErrorKind = "malformed"
	// ErrNoCalendar: no text/calendar part and no .ics attachment.
	ErrNoCalendar ErrorKind = "no calendar part"
	// ErrNoEvent: the calendar holds no VEVENT.
	ErrNoEvent ErrorKind = "no VEVENT"
	// ErrNoUID: the VEVENT has no UID.
	ErrNoUID ErrorKind = "no UID"
	// ErrMethod: METHOD is missing or not one the caller accepts.
	ErrMethod ErrorKind = "method not accepted"
	// ErrNoAttendee: a REPLY or COUNTER names no attendee, or one without
	// a usable address or status.
	ErrNoAttendee ErrorKind = "no attendee"
	// ErrSpoofed: the sender does not speak for the attendee.
	ErrSpoofed ErrorKind = "sender does not speak for the attendee"
)

// Error makes each kind usable as an error value for errors.Is.
func (k ErrorKind) Error() string { return "invites: " + string(k) }

// ParseError is the error ParseMessage returns for input it refuses. Detail
// says briefly what was wrong; it quotes no more than a few characters of
// the message.
type ParseError struct {
	Kind   ErrorKind
	Detail string
	Err    error // underlying error, if any
}

// Error gives the kind, then the detail and any underlying error.
func (e *ParseError) Error() string {
	s := e.Kind.Error()
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns the underlying error.
func (e *ParseError) Unwrap() error { return e.Err }

// Is reports whether target is e's kind.
func (e *ParseError) Is(target error) bool {
	k, ok := target.(ErrorKind)
	return ok && k == e.Kind
}
