package service

import (
	"errors"
	"fmt"
	"sort"
)

// Error codes. Adapters translate their own failures into these at the
// boundary, and the HTTP layer maps each to one status.
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
)

// FieldError names one field at fault and what is wrong with it. Field is a
// dotted path in the request's own terms, such as "calendar.url" or
// "concerns[2]".
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"detail"`
}

// Error is the one error type of the domain. Message is safe to show users;
// internal causes are wrapped in Err and never shown.
type Error struct {
	Code    string
	Message string
	Fields  []FieldError
	// Detail carries extra machine-readable members for the problem document,
	// such as the discussion that holds a conflicting booking.
	Detail map[string]any
	// Conflict says what an ECONFLICT collided with, for the domain's own
	// use: it never leaves the service in a problem document.
	Conflict *Conflict
	Err      error
}

// Conflict is what a write collided with.
type Conflict struct {
	// Hold is the hold already taken when HoldTime refused.
	Hold *Hold
	// Stale marks an answer older than the one recorded.
	Stale bool
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.Err)
	}
	return fmt.Sprintf("%s: %s", e.Code, e.Message)
}

func (e *Error) Unwrap() error { return e.Err }

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

// ErrorCode returns the code of err, EINTERNAL for foreign errors and "" for
// nil.
func ErrorCode(err error) string {
	var e *Error
	if err == nil {
		return ""
	} else if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns the user-facing message of err.
func ErrorMessage(err error) string {
	var e *Error
	if err == nil {
		return ""
	} else if errors.As(err, &e) {
		return e.Message
	}
	return "internal error"
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
