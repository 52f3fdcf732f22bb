package calendar

import (
	"context"
	"errors"
	"net/url"
	"time"

	"go.opentelemetry.io/otel/trace"
)

// AttendeeSource is one person whose availability is wanted, and where to
// read it.
type AttendeeSource struct {
	// ID names the attendee in results, usually their email address.
	ID string
	// Source is their calendar; nil means none is configured, and their
	// availability is unknown (ReasonNoCalendar).
	Source Source
	// Options says how to read the calendar: the attendee's zone for
	// floating times, their address for PARTSTAT.
	Options BusyOptions
}

// AvailabilityOptions bounds and tunes Availability.
type AvailabilityOptions struct {
	// SourceTimeout bounds each source's query; 0 means 10 seconds.
	SourceTimeout time.Duration
	// Budget bounds the whole fan-out; 0 means 15 seconds. Availability
	// returns by then, whatever the sources do.
	Budget time.Duration
	// TentativeFree leaves tentative events out of the busy time. By
	// default they count as busy.
	TentativeFree bool
	// PerServer bounds the queries in flight to one server (by host); 0
	// means 4. Attendees on different servers are read fully in parallel,
	// but one server is not sent a dozen queries at once: a single-process
	// server such as Radicale answers them more slowly together than one
	// after another.
	PerServer int
	// Tracer, when set, traces each read (see trace.go); Observe, when
	// set, is told of each read's server and outcome.
	Tracer  trace.Tracer
	Observe ReadObserver
}

// server names the host a source reads from, for PerServer.
func server(s Source) string {
	var raw string
	switch src := s.(type) {
	case *CalDAV:
		raw = src.URL
	case *ICSFeed:
		raw = src.URL
	default:
		return ""
	}
	if u, err := url.Parse(raw); err == nil {
		return u.Host
	}
	return ""
}

// AvailabilityStatus says whether an attendee's busy time is known.
type AvailabilityStatus string

// The availability statuses.
const (
	Known   AvailabilityStatus = "known"
	Unknown AvailabilityStatus = "unknown"
)

// AttendeeBusy is what Availability learnt about one attendee. When
// Availability is Unknown, Busy is empty and must not be read as free.
type AttendeeBusy struct {
	ID             string             `json:"id"`
	Availability   AvailabilityStatus `json:"availability"`
	Reason         Reason             `json:"reason,omitempty"`
	SkippedObjects int                `json:"skipped_objects"`
	Busy           []Busy             `json:"busy,omitempty"`
	// Elapsed is how long the source took, or the budget if it had not
	// answered by then.
	Elapsed time.Duration `json:"-"`
	// Err is the source's error, for logs; never shown to users.
	Err error `json:"-"`
}

// Intervals returns the attendee's busy time merged, as FindSlots takes it.
func (a AttendeeBusy) Intervals() []Interval {
	ivs := make([]Interval, len(a.Busy))
	for i, b := range a.Busy {
		ivs[i] = b.Interval
	}
	return Merge(ivs)
}

var errBudget = errors.New("no answer within the availability budget")

// Availability reads every attendee's calendar for the window in parallel
// and returns their busy time in the attendees' order. Each source has
// SourceTimeout; the whole call returns within Budget (or when ctx ends),
// marking the attendees whose sources have not answered as unknown with
// ReasonTimeout: a slow server never holds the search, and never reads as
// free. A calendar none of whose objects could be read is unknown with
// ReasonUnparseable; one with some unreadable objects is known, and says
// how many it skipped.
func Availability(ctx context.Context, attendees []AttendeeSource, window Interval, opts AvailabilityOptions) []AttendeeBusy {
	if opts.SourceTimeout <= 0 {
		opts.SourceTimeout = 10 * time.Second
	}
	if opts.Budget <= 0 {
		opts.Budget = 15 * time.Second
	}
	if opts.PerServer <= 0 {
		opts.PerServer = 4
	}
	ctx, cancel := context.WithTimeout(ctx, opts.Budget)
	defer cancel()
	start := time.Now()
	slots := map[string]chan struct{}{}

	type answer struct {
		i   int
		res AttendeeBusy
	}
	// Buffered, so that sources answering after the budget do not block.
	answers := make(chan answer, len(attendees))
	out := make([]AttendeeBusy, len(attendees))
	done := make([]bool, len(attendees))
	pending := 0
	for i, a := range attendees {
		out[i] = AttendeeBusy{ID: a.ID, Availability: Unknown}
		if a.Source == nil {
			out[i].Reason = ReasonNoCalendar
			done[i] = true
			continue
		}
		pending++
		host := server(a.Source)
		if slots[host] == nil {
			slots[host] = make(chan struct{}, opts.PerServer)
		}
		slot := slots[host]
		go func() {
			select {
			case slot <- struct{}{}:
				defer func() { <-slot }()
			case <-ctx.Done():
				return // the budget is spent; the attendee is reported as timed out
			}
			sctx, cancel := context.WithTimeout(ctx, opts.SourceTimeout)
			defer cancel()
			sctx, end := startRead(sctx, opts, host)
			t0 := time.Now()
			res, err := a.Source.Busy(sctx, window, a.Options)
			ab := attendeeBusy(a.ID, res, err, time.Since(t0), opts)
			end(ab)
			observe(ctx, opts, host, ab)
			answers <- answer{i, ab}
		}()
	}
	for pending > 0 {
		select {
		case ans := <-answers:
			out[ans.i] = ans.res
			done[ans.i] = true
			pending--
		case <-ctx.Done():
			for i := range out {
				if !done[i] {
					out[i].Reason = ReasonTimeout
					out[i].Err = errBudget
					out[i].Elapsed = time.Since(start)
				}
			}
			return out
		}
	}
	return out
}

func attendeeBusy(id string, res BusyResult, err error, elapsed time.Duration, opts AvailabilityOptions) AttendeeBusy {
	a := AttendeeBusy{ID: id, Availability: Unknown, SkippedObjects: res.Skipped, Elapsed: elapsed, Err: err}
	switch {
	case err != nil:
		a.Reason = ReasonOf(err)
		return a
	case res.Objects > 0 && res.Skipped == res.Objects:
		a.Reason = ReasonUnparseable
		return a
	}
	a.Availability = Known
	for _, b := range res.Busy {
		if opts.TentativeFree && b.Type == BusyTentative {
			continue
		}
		a.Busy = append(a.Busy, b)
	}
	return a
}
