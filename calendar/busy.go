package calendar

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/emersion/go-ical"

	"github.com/convene/convene/calendar/ics"
)

// BusyType says how firmly a busy interval blocks time, after the FBTYPE
// values of RFC 5545 §3.2.9.
type BusyType string

// The busy types.
const (
	BusyBusy        BusyType = "busy"
	BusyTentative   BusyType = "tentative"
	BusyUnavailable BusyType = "unavailable" // out of office
)

// Busy is an interval during which someone is not free.
type Busy struct {
	Interval
	Type BusyType `json:"type"`
}

// BusyOptions says how to read someone's calendar.
type BusyOptions struct {
	// Zone is the attendee's time zone, in which floating times and all-day
	// events are read (the rule of package ics). With no zone they cannot
	// be read, never read as UTC: such events are skipped and counted.
	Zone *time.Location
	// Email is the attendee's address; where an event lists them as an
	// ATTENDEE, their PARTSTAT counts: DECLINED is free, NEEDS-ACTION
	// tentative. Empty ignores PARTSTAT.
	Email string
	// IgnoreUID leaves out the events with this UID: the meeting being
	// booked, which attendees' clients add to their calendars when its
	// invitation arrives, does not make them busy for itself.
	IgnoreUID string
}

// BusyResult is what one calendar says about one window.
type BusyResult struct {
	// Busy is sorted by start; intervals may overlap.
	Busy []Busy
	// Objects counts the calendar objects read, Skipped those that could
	// not be parsed or understood and were left out.
	Objects, Skipped int
}

// parser computes busy time for one window from iCalendar components,
// within the limits: it counts the objects it reads and the recurrence work
// it does, and stops when the context ends.
type parser struct {
	window    Interval
	zones     *ics.Zones
	email     string
	ignoreUID string
	limits    Limits
	budget    *ics.Budget
	busy      []Busy

	objects, skipped int
}

func newParser(ctx context.Context, window Interval, opts BusyOptions, limits Limits) *parser {
	limits = limits.withDefaults()
	p := &parser{email: strings.ToLower(opts.Email), ignoreUID: opts.IgnoreUID, window: window,
		limits: limits, budget: ics.NewBudget(ctx, limits.MaxInstances)}
	p.zones = ics.NewZones(opts.Zone, p.budget)
	// An event in a zone no one can resolve is placed in the attendee's
	// rather than dropped, which would show them free.
	p.zones.GuessUnknown = true
	return p
}

// fatal reports whether an error must end the whole query rather than
// skip one object: a limit reached, or the context done.
func fatal(err error) bool {
	return errors.Is(err, ErrTooComplex) || errors.Is(err, ErrTooLarge) || errors.Is(err, ics.ErrTooLarge) ||
		errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}

// parserMark is what mark saves and reset restores.
type parserMark struct{ busy, objects, skipped int }

func (p *parser) mark() parserMark { return parserMark{len(p.busy), p.objects, p.skipped} }

func (p *parser) reset(m parserMark) {
	p.busy, p.objects, p.skipped = p.busy[:m.busy], m.objects, m.skipped
}

// count counts one object against MaxObjects.
func (p *parser) count() error {
	p.objects++
	if p.objects > p.limits.MaxObjects {
		return fmt.Errorf("%w: more than %d objects", ErrTooLarge, p.limits.MaxObjects)
	}
	return nil
}

// davObject reads one calendar object resource from a CalDAV answer,
// counting it as skipped when it has no data or cannot be read.
func (p *parser) davObject(r davResponse) error {
	if r.Status/100 != 2 {
		return nil // an href the server could not return: not an object
	}
	if err := p.count(); err != nil {
		return err
	}
	if r.Prop.CalendarData == nil {
		p.skipped++
		return nil
	}
	cal, err := ics.Decode([]byte(*r.Prop.CalendarData), p.decoding())
	if err != nil {
		p.skipped++
		return nil
	}
	if err := p.object(cal.Component); err != nil {
		if fatal(err) {
			return err
		}
		p.skipped++
	}
	return nil
}

// object reads one calendar object resource (RFC 4791 §4.1): its VEVENTs,
// grouped by UID into series, and its VFREEBUSYs. On error it adds nothing.
func (p *parser) object(cal *ical.Component) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("calendar: %v", r)
		}
	}()
	mark := len(p.busy)
	defer func() {
		if err != nil {
			p.busy = p.busy[:mark]
		}
	}()
	p.zones.DefineAll(cal)
	type series struct {
		master    *ical.Component
		overrides []*ical.Component
	}
	var order []string
	byUID := map[string]*series{}
	for i, c := range cal.Children {
		switch c.Name {
		case ical.CompEvent:
			uid := ""
			if prop := c.Props.Get(ical.PropUID); prop != nil {
				uid = prop.Value
			}
			if uid == "" {
				uid = fmt.Sprintf("\x00%d", i) // no UID: a series of its own
			} else if uid == p.ignoreUID {
				continue
			}
			s, ok := byUID[uid]
			if !ok {
				s = &series{}
				byUID[uid] = s
				order = append(order, uid)
			}
			if c.Props.Get(ical.PropRecurrenceID) != nil {
				s.overrides = append(s.overrides, c)
			} else if s.master == nil {
				s.master = c
			} else {
				return fmt.Errorf("calendar: two VEVENTs with UID %q and no RECURRENCE-ID", uid)
			}
		case ical.CompFreeBusy:
			if err := p.freeBusy(c); err != nil {
				return err
			}
		}
	}
	for _, uid := range order {
		s := byUID[uid]
		if err := p.expand(s.master, s.overrides); err != nil {
			return fmt.Errorf("calendar: VEVENT %q: %w", strings.TrimPrefix(uid, "\x00"), err)
		}
	}
	return nil
}

func (p *parser) result() BusyResult {
	slices.SortFunc(p.busy, func(a, b Busy) int { return compareIntervals(a.Interval, b.Interval) })
	return BusyResult{Busy: p.busy, Objects: p.objects, Skipped: p.skipped}
}

// decoding is how calendar data is decoded: an object or a feed component
// with a line that cannot be read is skipped whole, rather than read in
// part, and counted.
func (p *parser) decoding() ics.Options {
	return ics.Options{Strict: true, Limits: ics.Limits{MaxBytes: p.limits.MaxBytes}}
}

// BusyFromICS computes the busy time within window of an iCalendar stream
// (RFC 5545), such as a published feed or one calendar object. Each
// top-level component is decoded on its own, so a malformed one is skipped
// and counted rather than failing the whole stream; VEVENTs that share a UID
// form one series and are counted as one object. The error is non-nil only
// when the stream holds no iCalendar data at all, or when a default limit
// (see Limits) is exceeded.
func BusyFromICS(r io.Reader, window Interval, opts BusyOptions) (BusyResult, error) {
	return busyFromICS(context.Background(), r, window, opts, Limits{})
}

// busyFromICS is BusyFromICS within limits, stopping when ctx ends. The
// reader is not bounded here: the caller bounds the bytes.
func busyFromICS(ctx context.Context, r io.Reader, window Interval, opts BusyOptions, limits Limits) (BusyResult, error) {
	p := newParser(ctx, window, opts, limits)
	if limits.MaxBytes <= 0 {
		r = &limitedBody{r: r, n: p.limits.MaxBytes}
	}
	var comps []*ical.Component
	bad := 0
	err := ics.Walk(r, p.decoding(), func(c *ical.Component, err error) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err != nil {
			bad++
		} else {
			comps = append(comps, c)
		}
		if len(comps)+bad > p.limits.MaxObjects {
			return fmt.Errorf("%w: more than %d components", ErrTooLarge, p.limits.MaxObjects)
		}
		return nil
	})
	if err != nil {
		if fatal(err) || isTimeout(err) {
			return BusyResult{}, err
		}
		return BusyResult{}, fmt.Errorf("calendar: reading iCalendar: %w", err)
	}
	for _, c := range comps {
		if c.Name == ical.CompTimezone {
			p.zones.Define(c)
		}
	}
	// Group the series so that each can fail on its own.
	var order []string
	groups := map[string][]*ical.Component{}
	for i, c := range comps {
		if c.Name != ical.CompEvent && c.Name != ical.CompFreeBusy {
			continue
		}
		key := fmt.Sprintf("\x00%d", i)
		if prop := c.Props.Get(ical.PropUID); c.Name == ical.CompEvent && prop != nil && prop.Value != "" {
			key = prop.Value
		}
		if _, ok := groups[key]; !ok {
			order = append(order, key)
		}
		groups[key] = append(groups[key], c)
	}
	p.objects, p.skipped = bad, bad
	for _, key := range order {
		if err := p.count(); err != nil {
			return BusyResult{}, err
		}
		if err := p.object(&ical.Component{Name: ical.CompCalendar, Children: groups[key]}); err != nil {
			if fatal(err) {
				return BusyResult{}, err
			}
			p.skipped++
		}
	}
	if len(comps) == 0 && bad == 0 {
		return BusyResult{}, fmt.Errorf("calendar: no iCalendar data")
	}
	return p.result(), nil
}
