package policy

import (
	"fmt"
	"strings"
)

// FieldError names one request field at fault, as a path in the request's
// JSON terms ("concerns[2]", "child.in_hospital", "profile"), and what is
// wrong with it.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// Error is a request the policy refuses: the service translates it into its
// own EINVALID error (problem+json 422) field by field.
type Error struct {
	Fields []FieldError
}

// Error lists the field errors on one line.
func (e *Error) Error() string {
	parts := make([]string, len(e.Fields))
	for i, f := range e.Fields {
		parts[i] = f.Field + ": " + f.Message
	}
	return "policy: invalid request: " + strings.Join(parts, "; ")
}

// invalid returns nil for no field errors, and an *Error otherwise.
func invalid(fe []FieldError) error {
	if len(fe) == 0 {
		return nil
	}
	return &Error{Fields: fe}
}

// ProfileError is a procedure profile that does not validate. Each problem
// names the rule (or section) and field, such as
// `rule "U2": unit: unknown unit "fortnight"`.
type ProfileError struct {
	// Source is the file name, or "embedded default".
	Source   string
	Problems []string
}

// Error lists the problems, one per line when there are several.
func (e *ProfileError) Error() string {
	if len(e.Problems) == 1 {
		return fmt.Sprintf("profile %s: %s", e.Source, e.Problems[0])
	}
	return fmt.Sprintf("profile %s: %d problems:\n\t%s", e.Source, len(e.Problems), strings.Join(e.Problems, "\n\t"))
}
