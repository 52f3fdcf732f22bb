// Package errs is Convene's one error type, at the bottom of the import
// graph so that every package speaks it: the procedure policy, the domain,
// the stores and the HTTP layer. An Error has a code (what kind of failure,
// which the HTTP layer maps to one status), a message safe to show users,
// the request fields at fault, what a write collided with, and the wrapped
// internal cause, which is logged and never shown.
//
// Adapters translate their own failures at the boundary: no rows or no
// documents become ENOTFOUND, a unique violation or a failed guard
// ECONFLICT. Tests compare errors with Match. (The shape follows Upspin's
// errors package.)
package errs

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"
)

// Error codes.
const (
	EINVALID      = "invalid"      // the request breaks a rule of the contract or the domain
	EMALFORMED    = "malformed"    // the request cannot be read at all (not JSON, say)
	ENOTFOUND     = "not_found"    // no such resource, or not one the caller may see
	ECONFLICT     = "conflict"     // a uniqueness or version conflict
	EFORBIDDEN    = "forbidden"    // authenticated, but not allowed
	EUNAUTHORIZED = "unauthorized" // no or bad credentials
	ETOOLARGE     = "too_large"    // the request body is over its limit
	EUNAVAILABLE  = "unavailable"  // a dependency is down; retry later
	EINTERNAL     = "internal"     // a bug or an unexpected failure
	EPRECONDITION = "precondition" // a state the operation needs is not met
	EUNSUPPORTED  = "unsupported"  // a media type or method we do not take
	ETOOMANY      = "too_many"     // too many requests; retry later
)

// FieldError names one field at fault and what is wrong with it. Field is a
// dotted path in the request's own terms, such as "calendar.url" or
// "concerns[2]".
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"detail"`
}

// Error is the one error type. Message is safe to show users; internal
// causes are wrapped in Err and never shown.
type Error struct {
	Code    string
	Message string
	Fields  []FieldError
	// Result is what became of a refused inbound message (for the mail
	// gateway's problem document).
	Result string
	// Link is the path of the resource a conflict is with, when the caller
	// may see it (the open discussion of the same case).
	Link string
	// Conflict says what an ECONFLICT collided with, for the domain's own
	// use: it never leaves the service in a problem document, so no other
	// case's ids ride out with it.
	Conflict *Conflict
	Err      error
}

// Conflict is what a write collided with.
type Conflict struct {
	// Hold is the hold on someone's time already taken by another booking.
	Hold *Hold
	// Stale marks an answer older than the one recorded.
	Stale bool
}

// Hold reserves a quarter-hour of someone's time for a booking. Its id is
// the person and the quarter-hour, so a second booking of the same person
// at an overlapping time collides on the unique id: the store, not a
// transaction, prevents double booking. (The domain's type; it lives here
// so that a conflict can name it.)
type Hold struct {
	ID           string    `json:"id"`
	Person       string    `json:"person"`
	DiscussionID string    `json:"discussion_id"`
	BookingID    string    `json:"booking_id"`
	Start        time.Time `json:"start"`
	CreatedAt    time.Time `json:"created_at"`
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.Err)
	}
	return fmt.Sprintf("%s: %s", e.Code, e.Message)
}

func (e *Error) Unwrap() error { return e.Err }

// E returns an error with the code and message.
func E(code, message string) *Error { return &Error{Code: code, Message: message} }

// Errorf returns an *Error with the given code and a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Internal wraps an unexpected failure; its text is logged, never shown.
func Internal(err error, what string) *Error {
	return &Error{Code: EINTERNAL, Message: "internal error", Err: fmt.Errorf("%s: %w", what, err)}
}

// Invalid returns an EINVALID error listing field errors, sorted by field so
// that responses are stable.
func Invalid(message string, fields ...FieldError) *Error {
	sort.SliceStable(fields, func(i, j int) bool { return fields[i].Field < fields[j].Field })
	return &Error{Code: EINVALID, Message: message, Fields: fields}
}

// Code returns the code of err, EINTERNAL for foreign errors and "" for
// nil.
func Code(err error) string {
	var e *Error
	if err == nil {
		return ""
	} else if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// Message returns the user-facing message of err.
func Message(err error) string {
	var e *Error
	if err == nil {
		return ""
	} else if errors.As(err, &e) {
		return e.Message
	}
	return "internal error"
}

// Match reports whether err is an *Error matching template: the same code,
// a message containing template's (if it has one), and every field template
// names among err's fields (with a message containing template's). Tests
// use it to say what they expect without repeating the whole text.
func Match(template *Error, err error) bool {
	var e *Error
	if !errors.As(err, &e) {
		return false
	}
	if template.Code != "" && template.Code != e.Code {
		return false
	}
	if template.Message != "" && !strings.Contains(e.Message, template.Message) {
		return false
	}
	for _, want := range template.Fields {
		found := false
		for _, f := range e.Fields {
			if f.Field == want.Field && strings.Contains(f.Message, want.Message) {
				found = true
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// Fields collects field errors while validating, then turns them into one
// EINVALID error.
type Fields []FieldError

// Add records a field error.
func (f *Fields) Add(field, format string, args ...any) {
	*f = append(*f, FieldError{Field: field, Message: fmt.Sprintf(format, args...)})
}

// Err returns nil when nothing was added, else an EINVALID error.
func (f Fields) Err(message string) error {
	if len(f) == 0 {
		return nil
	}
	return Invalid(message, f...)
}
