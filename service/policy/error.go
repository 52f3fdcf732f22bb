package policy

import (
	"fmt"
	"strings"

	"github.com/convene/convene/service/errs"
)

// FieldError names one request field at fault, as a path in the request's
// JSON terms ("concerns[2]", "child.in_hospital", "profile"), and what is
// wrong with it.
type FieldError = errs.FieldError

// Error is the one error type (errs): a request the policy refuses is an
// EINVALID Error naming the fields at fault.
type Error = errs.Error

// invalid returns nil for no field errors, and an EINVALID *Error
// otherwise.
func invalid(fe []FieldError) error {
	if len(fe) == 0 {
		return nil
	}
	parts := make([]string, len(fe))
	for i, f := range fe {
		parts[i] = f.Field + ": " + f.Message
	}
	return &errs.Error{Code: errs.EINVALID, Message: "the request is not valid: " + strings.Join(parts, "; "), Fields: fe}
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
