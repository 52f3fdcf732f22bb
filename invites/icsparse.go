package invites

import (
	"errors"

	"github.com/emersion/go-ical"

	"github.com/convene/convene/calendar/ics"
)

// Limits on an iCalendar object read from a message. A reply is a few
// kilobytes; these bound what a hostile one can make us do.
const (
	maxCalendarBytes = 1 << 20 // one calendar part, decoded
	maxContentLines  = 20000
	maxNesting       = 8
	maxParams        = 64
)

// decodeCalendar reads a calendar part with the iCalendar layer the
// calendar package uses too, leniently: replies from the wild carry broken
// X- properties and parameter lists go-ical's own decoder panics on, so a
// content line that cannot be read is skipped, and a calendar cut short
// keeps what arrived (the checks on VEVENT, UID and ATTENDEE decide
// whether that is enough). BEGIN and END must be sound.
func decodeCalendar(data []byte) (*ical.Calendar, error) {
	cal, err := ics.Decode(data, ics.Options{Limits: ics.Limits{
		MaxBytes: maxCalendarBytes, MaxLines: maxContentLines, MaxNesting: maxNesting, MaxParams: maxParams,
	}})
	switch {
	case errors.Is(err, ics.ErrTooLarge):
		return nil, &ParseError{Kind: ErrOversize, Detail: "calendar part", Err: err}
	case err != nil:
		return nil, &ParseError{Kind: ErrMalformed, Detail: "calendar part", Err: err}
	}
	return cal, nil
}

// mailtoAddress reads "mailto:a@b" (any case), or a bare "a@b" (see
// ics.Mailto).
func mailtoAddress(v string) string { return ics.Mailto(v) }
