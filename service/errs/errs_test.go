package errs_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/convene/convene/service/errs"
)

func TestMatch(t *testing.T) {
	t.Parallel()
	err := fmt.Errorf("booking: %w", errs.Invalid("the booking is not valid",
		errs.FieldError{Field: "start", Message: "is in the past"}, errs.FieldError{Field: "confirm_unknown", Message: "confirm booking without knowing"}))
	for _, tc := range []struct {
		name     string
		template *errs.Error
		err      error
		want     bool
	}{
		{"code", &errs.Error{Code: errs.EINVALID}, err, true},
		{"another code", &errs.Error{Code: errs.ECONFLICT}, err, false},
		{"message part", &errs.Error{Message: "not valid"}, err, true},
		{"a field, by part of its message", &errs.Error{Fields: []errs.FieldError{{Field: "start", Message: "past"}}}, err, true},
		{"a field it lacks", &errs.Error{Fields: []errs.FieldError{{Field: "venue_id"}}}, err, false},
		{"a foreign error", &errs.Error{}, errors.New("boom"), false},
		{"nil", &errs.Error{}, nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := errs.Match(tc.template, tc.err); got != tc.want {
				t.Errorf("Match = %v, want %v", got, tc.want)
			}
		})
	}
}

// Field errors come out sorted by field, so problem documents are stable;
// codes and messages read through wrapping; internal causes are never the
// message.
func TestErrorReading(t *testing.T) {
	t.Parallel()
	e := errs.Invalid("x", errs.FieldError{Field: "b"}, errs.FieldError{Field: "a"})
	if e.Fields[0].Field != "a" {
		t.Errorf("fields not sorted: %+v", e.Fields)
	}
	wrapped := fmt.Errorf("ctx: %w", errs.Internal(errors.New("disk on fire at /var/lib/x"), "write"))
	if errs.Code(wrapped) != errs.EINTERNAL || errs.Message(wrapped) != "internal error" {
		t.Errorf("code %q message %q", errs.Code(wrapped), errs.Message(wrapped))
	}
	if errs.Code(errors.New("x")) != errs.EINTERNAL || errs.Code(nil) != "" || errs.Message(errors.New("x")) != "internal error" {
		t.Error("foreign and nil errors")
	}
	var f errs.Fields
	if f.Err("x") != nil {
		t.Error("no fields is no error")
	}
	f.Add("n", "must be %d", 3)
	if !errs.Match(&errs.Error{Code: errs.EINVALID, Fields: []errs.FieldError{{Field: "n", Message: "must be 3"}}}, f.Err("x")) {
		t.Errorf("collected: %v", f.Err("x"))
	}
}
