package calendar

import (
	"errors"
	"fmt"
	"io"

	"github.com/convene/convene/calendar/ics"
)

// Limits bound what one query of one calendar may cost, so that a hostile
// or broken server or feed cannot exhaust memory or CPU. Exceeding one makes
// the attendee's availability unknown, with ReasonTooLarge (bytes, objects)
// or ReasonTooComplex (recurrence). Zero fields take the defaults.
type Limits struct {
	// MaxBytes bounds each answer read: a CalDAV multistatus or an ICS
	// feed, after decompression. Default 8 MiB.
	MaxBytes int64
	// MaxObjects bounds the calendar objects (CalDAV resources, feed
	// components) read by one query. Default 20,000.
	MaxObjects int
	// MaxInstances bounds the recurrence work of one query: every day an
	// RRULE walks and every candidate instance it yields counts one, and
	// every instance kept as busy time 50 more. Default 1,000,000: a few
	// tenths of a second of CPU, at most 20,000 recurring busy intervals.
	MaxInstances int
}

// The default limits.
const (
	DefaultMaxBytes     = 8 << 20
	DefaultMaxObjects   = 20_000
	DefaultMaxInstances = 1_000_000
)

func (l Limits) withDefaults() Limits {
	if l.MaxBytes <= 0 {
		l.MaxBytes = DefaultMaxBytes
	}
	if l.MaxObjects <= 0 {
		l.MaxObjects = DefaultMaxObjects
	}
	if l.MaxInstances <= 0 {
		l.MaxInstances = DefaultMaxInstances
	}
	return l
}

// Errors for exceeded limits; SourceErrors wrap them. ErrTooComplex is
// the error of the recurrence budget (ics.Budget), which also bounds the
// rules of VTIMEZONE definitions.
var (
	ErrTooLarge   = errors.New("calendar: answer too large")
	ErrTooComplex = ics.ErrTooComplex
)

// limitedBody reads at most n bytes and then fails with ErrTooLarge, where
// io.LimitReader would end quietly and a cut-off answer pass for a whole.
type limitedBody struct {
	r io.Reader
	n int64
}

func (l *limitedBody) Read(p []byte) (int, error) {
	if l.n <= 0 {
		// One more byte tells a body of exactly n bytes from a longer one.
		var b [1]byte
		if k, err := l.r.Read(b[:]); k > 0 {
			return 0, fmt.Errorf("%w: more than the limit", ErrTooLarge)
		} else if err != nil {
			return 0, err
		}
		return 0, nil
	}
	if int64(len(p)) > l.n {
		p = p[:l.n]
	}
	k, err := l.r.Read(p)
	l.n -= int64(k)
	return k, err
}
