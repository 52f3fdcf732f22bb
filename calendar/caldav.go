package calendar

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strings"
	"sync"

	"github.com/emersion/go-ical"
	"github.com/emersion/go-webdav/caldav"
)

// CalDAV is a calendar on a CalDAV server (RFC 4791). URL is either a
// calendar collection, which is queried alone, or any other URL on the
// server (its root, a principal, a calendar home), from which the user's
// calendars are discovered: current-user-principal (RFC 5397), then
// calendar-home-set (RFC 4791 §6.2.1), then every calendar collection there
// that holds events.
//
// Busy time is computed from a calendar-query REPORT with a time range
// (RFC 4791 §7.8), not from free-busy-query or expand, which servers support
// unevenly (Radicale 3.1 has neither).
type CalDAV struct {
	URL        string
	Credential Credential
	// HTTPClient makes the requests; nil means http.DefaultClient. The
	// context passed to Busy bounds each query.
	HTTPClient *http.Client

	credErr error

	// The calendars found by discovery, kept so that later queries from
	// the same CalDAV value take one round trip instead of four.
	mu   sync.Mutex
	cals []caldav.Calendar
}

var fullData = caldav.CalendarCompRequest{Name: ical.CompCalendar, AllProps: true, AllComps: true}

// Busy queries the calendars for events and free/busy data overlapping the
// window. Objects go-ical cannot decode are skipped and counted.
func (c *CalDAV) Busy(ctx context.Context, window Interval, opts BusyOptions) (BusyResult, error) {
	if c.credErr != nil {
		return BusyResult{}, c.credErr
	}
	hc := newAuthClient(c.HTTPClient, c.Credential)
	client, err := caldav.NewClient(hc, c.URL)
	if err != nil {
		return BusyResult{}, &SourceError{Reason: ReasonNoCalendar, Err: err}
	}
	c.mu.Lock()
	cals := c.cals
	c.mu.Unlock()
	if cals == nil {
		if cals, err = c.calendars(ctx, hc, client); err != nil {
			return BusyResult{}, hc.classify(ctx, err)
		}
		c.mu.Lock()
		c.cals = cals
		c.mu.Unlock()
	}
	if len(cals) == 0 {
		return BusyResult{}, &SourceError{Reason: ReasonNoCalendar, Err: errors.New("no calendar collection holds events")}
	}
	p := newParser(window, opts)
	objects, skipped := 0, 0
	for _, cal := range cals {
		comps := []string{ical.CompEvent}
		if slices.Contains(cal.SupportedComponentSet, ical.CompFreeBusy) {
			comps = append(comps, ical.CompFreeBusy)
		}
		for _, comp := range comps {
			objs, bad, err := c.query(ctx, hc, client, cal.Path, comp, window)
			if err != nil {
				// Discover again next time: the calendars may have moved.
				c.mu.Lock()
				c.cals = nil
				c.mu.Unlock()
				return BusyResult{}, hc.classify(ctx, err)
			}
			skipped += bad
			objects += len(objs) + bad
			for _, o := range objs {
				if o.Data == nil || p.object(o.Data.Component) != nil {
					skipped++
				}
			}
		}
	}
	return p.result(objects, skipped), nil
}

// calendars finds the calendar collections to query.
func (c *CalDAV) calendars(ctx context.Context, hc *authClient, client *caldav.Client) ([]caldav.Calendar, error) {
	u, _ := url.Parse(c.URL)
	self := cleanDir(u.Path)
	principal, err := client.FindCurrentUserPrincipal(ctx)
	if err != nil {
		if s := hc.last.Load(); ctx.Err() == nil && s != http.StatusUnauthorized && s != http.StatusForbidden && s != 0 {
			// No principal to discover from: take the URL for the
			// collection itself.
			return []caldav.Calendar{{Path: self}}, nil
		}
		return nil, err
	}
	home, err := client.FindCalendarHomeSet(ctx, principal)
	if err != nil {
		return nil, err
	}
	all, err := client.FindCalendars(ctx, home)
	if err != nil {
		return nil, err
	}
	var cals []caldav.Calendar
	for _, cal := range all {
		if cleanDir(cal.Path) == self {
			return []caldav.Calendar{cal}, nil
		}
		if len(cal.SupportedComponentSet) == 0 || slices.Contains(cal.SupportedComponentSet, ical.CompEvent) ||
			slices.Contains(cal.SupportedComponentSet, ical.CompFreeBusy) {
			cals = append(cals, cal)
		}
	}
	if h := cleanDir(home); strings.HasPrefix(self, h) && self != h {
		// Below the home set but not listed there (shared or hidden):
		// take the URL for the collection itself.
		return []caldav.Calendar{{Path: self}}, nil
	}
	return cals, nil
}

func cleanDir(p string) string {
	if p == "" {
		return "/"
	}
	return strings.TrimSuffix(path.Clean(p), "/") + "/"
}

// query runs a calendar-query for one component type. When go-webdav cannot
// decode the answer (it fails the whole multistatus on one bad
// calendar-data, and go-ical panics on some malformed lines), it falls back
// to reading the collection's objects in multiget batches, halving a batch
// that fails until the bad objects stand alone; those are counted in bad.
func (c *CalDAV) query(ctx context.Context, hc *authClient, client *caldav.Client, cal, comp string, window Interval) (objs []caldav.CalendarObject, bad int, err error) {
	q := &caldav.CalendarQuery{
		CompRequest: fullData,
		CompFilter: caldav.CompFilter{Name: ical.CompCalendar, Comps: []caldav.CompFilter{{
			Name: comp, Start: window.Start.UTC(), End: window.End.UTC(),
		}}},
	}
	objs, err = guard(func() ([]caldav.CalendarObject, error) { return client.QueryCalendar(ctx, cal, q) })
	if err == nil || !decodeFailure(ctx, hc) {
		return objs, 0, err
	}
	files, err := client.ReadDir(ctx, cal, false)
	if err != nil {
		return nil, 0, err
	}
	var paths []string
	for _, f := range files {
		if !f.IsDir && cleanDir(f.Path) != cleanDir(cal) {
			paths = append(paths, f.Path)
		}
	}
	objs = nil
	var fetch func(paths []string) error
	fetch = func(paths []string) error {
		got, err := guard(func() ([]caldav.CalendarObject, error) {
			return client.MultiGetCalendar(ctx, cal, &caldav.CalendarMultiGet{Paths: paths, CompRequest: fullData})
		})
		switch {
		case err == nil:
			objs = append(objs, got...)
			return nil
		case !decodeFailure(ctx, hc):
			return err
		case len(paths) == 1:
			bad++
			return nil
		}
		if err := fetch(paths[:len(paths)/2]); err != nil {
			return err
		}
		return fetch(paths[len(paths)/2:])
	}
	const batch = 64
	for i := 0; i < len(paths); i += batch {
		if err := fetch(paths[i:min(i+batch, len(paths))]); err != nil {
			return nil, 0, err
		}
	}
	return objs, bad, nil
}

// decodeFailure reports whether the last request failed after the server
// answered with a multistatus, that is, in decoding it.
func decodeFailure(ctx context.Context, hc *authClient) bool {
	return ctx.Err() == nil && hc.last.Load() == http.StatusMultiStatus
}

// guard turns a panic inside go-webdav or go-ical into an error.
func guard[T any](f func() (T, error)) (v T, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("decoding: %v", r)
		}
	}()
	return f()
}
