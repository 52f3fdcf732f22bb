package calendar

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"

	"github.com/emersion/go-webdav/caldav"
)

// CalDAV is a calendar on a CalDAV server (RFC 4791). URL is either a
// calendar collection, which is queried alone, or any other URL on the
// server (its root, a principal, a calendar home, its /.well-known/caldav
// URL), from which the user's calendars are discovered: current-user-
// principal (RFC 5397), then calendar-home-set (RFC 4791 §6.2.1), then
// every calendar collection there that holds events. A URL with no path is
// a service domain: discovery starts at /.well-known/caldav (RFC 6764 §5),
// which servers redirect to their context path.
//
// Busy time is computed from a calendar-query REPORT with a time range
// (RFC 4791 §7.8) that asks for whole objects, and expanded here: not from
// free-busy-query or expand, which servers support unevenly (Radicale 3.1
// has neither).
//
// Every request, go-webdav's included, goes through Policy (see
// OutboundPolicy), the credential only to its origin, and redirects are
// followed with the same method; Limits bounds each query.
type CalDAV struct {
	URL        string
	Credential Credential
	// HTTPClient supplies TLS settings and timeouts; nil means
	// http.DefaultClient's. Its transport must be an *http.Transport: its
	// dialer is replaced by one that enforces Policy. The context passed to
	// Busy bounds each query.
	HTTPClient *http.Client
	// Policy says which addresses may be reached; the zero value allows
	// public addresses only.
	Policy OutboundPolicy
	// Limits bounds each query; zero fields take the defaults.
	Limits Limits

	credErr error

	// What was learnt, kept so that later queries from the same CalDAV
	// value take one round trip instead of four, and answer the server's
	// authentication challenge without waiting for it.
	mu   sync.Mutex
	f    *fetcher
	cals []davCalendar
}

// davCalendar is a calendar collection to query.
type davCalendar struct {
	url   string
	comps []string // supported components; nil when the server did not say
}

// Busy queries the calendars for events and free/busy data overlapping the
// window. Objects that cannot be decoded are skipped and counted.
func (c *CalDAV) Busy(ctx context.Context, window Interval, opts BusyOptions) (BusyResult, error) {
	f, err := c.fetcher()
	if err != nil {
		return BusyResult{}, err
	}
	c.mu.Lock()
	cals := c.cals
	c.mu.Unlock()
	if cals == nil {
		if cals, err = c.calendars(ctx, f); err != nil {
			return BusyResult{}, classify(ctx, err)
		}
		c.mu.Lock()
		c.cals = cals
		c.mu.Unlock()
	}
	if len(cals) == 0 {
		return BusyResult{}, &SourceError{Reason: ReasonNoCalendar, Err: errors.New("no calendar collection holds events")}
	}
	p := newParser(ctx, window, opts, f.limits)
	for _, cal := range cals {
		comps := []string{"VEVENT"}
		if slices.Contains(cal.comps, "VFREEBUSY") {
			comps = append(comps, "VFREEBUSY")
		}
		for _, comp := range comps {
			if err := c.query(ctx, f, p, cal.url, comp, window); err != nil {
				// Discover again next time: the calendars may have moved.
				c.mu.Lock()
				c.cals = nil
				c.mu.Unlock()
				return BusyResult{}, classify(ctx, err)
			}
		}
	}
	return p.result(), nil
}

// fetcher returns the source's fetcher, made on first use.
func (c *CalDAV) fetcher() (*fetcher, error) {
	if c.credErr != nil {
		return nil, c.credErr
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.f != nil {
		return c.f, nil
	}
	cred, err := bindCredential(c.Credential, c.URL)
	if err != nil {
		return nil, err
	}
	f, err := newFetcher(c.HTTPClient, c.Policy, cred, c.Limits)
	if err != nil {
		return nil, &SourceError{Reason: ReasonRefusedByPolicy, Err: err}
	}
	c.f = f
	return f, nil
}

// bindCredential binds a credential without an origin to the source URL's,
// and refuses one bound elsewhere: a credential configured for one server
// is never sent to a URL on another.
func bindCredential(cred Credential, rawURL string) (Credential, error) {
	if cred.empty() {
		return cred, nil
	}
	o, err := OriginOf(rawURL)
	if err != nil {
		return Credential{}, &SourceError{Reason: ReasonNoCalendar, Err: err}
	}
	if cred.Origin == "" {
		cred.Origin = o
		return cred, nil
	}
	want, err := OriginOf(cred.Origin)
	if err != nil || want != o {
		return Credential{}, &SourceError{Reason: ReasonNoCredential, Err: errCredentialOrigin}
	}
	cred.Origin = want
	return cred, nil
}

var errCredentialOrigin = errors.New("the credential is bound to another origin than the calendar URL")

// calendars finds the calendar collections to query: the URL itself when
// it leads to one, else those discovery finds from it.
func (c *CalDAV) calendars(ctx context.Context, f *fetcher) ([]davCalendar, error) {
	base, self, err := c.locate(ctx, f)
	if err != nil {
		return nil, err
	}
	if cal, ok := asCalendar(base.String(), self.Prop); ok {
		return []davCalendar{cal}, nil
	}
	if self.Prop.CurrentUserPrincipal == nil || len(self.Prop.CurrentUserPrincipal.Hrefs) == 0 {
		return nil, &SourceError{Reason: ReasonNoCalendar, Err: errors.New("neither a calendar collection nor a principal")}
	}
	principal, err := resolve(base, self.Prop.CurrentUserPrincipal.Hrefs[0])
	if err != nil {
		return nil, &decodeError{err}
	}
	return discover(ctx, f, principal)
}

// locate asks the source URL, with one PROPFIND (Depth 0) that follows
// redirects, where it leads, whether it is a calendar collection and whose
// principal is asking (RFC 5397). A URL with no path is a service domain:
// its /.well-known/caldav URL (RFC 6764 §5) is asked first, and the
// server's root when the domain has none. It returns the URL that
// answered, against which the answer's hrefs are resolved.
//
// This is ours rather than go-webdav's: go-webdav resolves hrefs against
// the URL it was given, not the one that answered after a redirect (the
// whole point of the well-known URL), cannot ask a collection for its
// resource type at Depth 0, and (v0.6) asks for the current user's
// principal at its URL without the trailing slash (path.Join), which
// Xandikos answers with 404.
func (c *CalDAV) locate(ctx context.Context, f *fetcher) (*url.URL, davResponse, error) {
	start, err := url.Parse(c.URL)
	if err != nil {
		return nil, davResponse{}, err
	}
	ask := func(u *url.URL) (*url.URL, davResponse, error) {
		var self davResponse
		seen := false
		base, err := f.davRequest(ctx, "PROPFIND", u.String(), "0", propfindLocate, func(_ *url.URL, r davResponse) error {
			if !seen {
				self, seen = r, true
			}
			return nil
		})
		return base, self, err
	}
	if start.Path == "" {
		wk := *start
		wk.Path = "/.well-known/caldav"
		base, self, err := ask(&wk)
		var se *statusError
		if err == nil || !errors.As(err, &se) || se.status != http.StatusNotFound {
			return base, self, err
		}
		start.Path = "/"
	}
	return ask(start)
}

// discover finds the user's calendar collections from their principal
// with go-webdav's CalDAV client over the fetcher: calendar-home-set
// (RFC 4791 §6.2.1), then the collections there that can hold events or
// free/busy data. go-webdav keeps only the path of each href, so the home
// is looked for on the principal's server; a credential would not be sent
// to another anyway.
func discover(ctx context.Context, f *fetcher, principal *url.URL) ([]davCalendar, error) {
	client, err := caldav.NewClient(davHTTP{f}, (&url.URL{Scheme: principal.Scheme, Host: principal.Host, Path: "/"}).String())
	if err != nil {
		return nil, err
	}
	home, err := client.FindCalendarHomeSet(ctx, principal.Path)
	if err != nil {
		return nil, discoveryError(ctx, "the principal has no calendar-home-set", err)
	}
	found, err := client.FindCalendars(ctx, home)
	if err != nil {
		return nil, discoveryError(ctx, "listing the calendar home", err)
	}
	var cals []davCalendar
	for _, fc := range found {
		u := url.URL{Scheme: principal.Scheme, Host: principal.Host, Path: fc.Path}
		if cal, ok := calendarOf(u.String(), fc.SupportedComponentSet); ok {
			cals = append(cals, cal)
		}
	}
	return cals, nil
}

// discoveryError classifies what go-webdav returns: the fetcher's own
// errors and those of the context as they are, XML it could not read as
// an unparseable answer, and anything else (a property missing or
// refused) as no calendar found.
func discoveryError(ctx context.Context, what string, err error) error {
	var st *statusError
	var te *transportError
	var se *xml.SyntaxError
	switch {
	case ctx.Err() != nil || errors.As(err, &st) || errors.As(err, &te) || fatal(err) || isTimeout(err):
		return err
	case errors.As(err, &se):
		return &decodeError{err}
	}
	return &SourceError{Reason: ReasonNoCalendar, Err: fmt.Errorf("%s: %w", what, err)}
}

// asCalendar reports whether a resource with properties p is a calendar
// collection that can hold events or free/busy data.
func asCalendar(href string, p davProp) (davCalendar, bool) {
	if p.ResourceType == nil || p.ResourceType.Calendar == nil {
		return davCalendar{}, false
	}
	var comps []string
	if p.SupportedComponents != nil {
		for _, c := range p.SupportedComponents.Comps {
			comps = append(comps, c.Name)
		}
	}
	return calendarOf(href, comps)
}

// calendarOf is the calendar collection at href, if its supported
// components (none said: any) include events or free/busy data.
func calendarOf(href string, comps []string) (davCalendar, bool) {
	cal := davCalendar{url: href}
	for _, c := range comps {
		cal.comps = append(cal.comps, strings.ToUpper(c))
	}
	if len(cal.comps) > 0 && !slices.Contains(cal.comps, "VEVENT") && !slices.Contains(cal.comps, "VFREEBUSY") {
		return davCalendar{}, false
	}
	return cal, true
}

// query reads the objects of one component type overlapping the window
// into p: those a time-range calendar-query returns and, for events, every
// recurring one (a calendar-query for VEVENTs with an RRULE), because
// servers evaluate time ranges on recurrences unevenly: Xandikos 0.2.8
// leaves out a weekly series whose first instance is before the window.
// The series are expanded here, and an object both queries return is read
// once.
//
// When an answer cannot be decoded (bad XML around one object), it falls
// back to listing the same hrefs, with ETags only, and reading those
// objects in multiget batches, halving a batch that fails until the bad
// objects stand alone; they are counted as skipped. It never lists or
// reads the whole collection.
func (c *CalDAV) query(ctx context.Context, f *fetcher, p *parser, cal, comp string, window Interval) error {
	queries := func(data bool) []string {
		q := []string{calendarQuery(comp, window, data)}
		if comp == "VEVENT" {
			q = append(q, recurringQuery(data))
		}
		return q
	}
	mark := p.mark()
	seen := map[string]bool{}
	first := func(base *url.URL, href string) bool {
		k := href
		if u, err := resolve(base, href); err == nil {
			k = u.Path
		}
		if seen[k] {
			return false
		}
		seen[k] = true
		return true
	}
	var err error
	for i, q := range queries(true) {
		m := p.mark()
		_, err = f.davRequest(ctx, "REPORT", cal, "1", q, func(base *url.URL, r davResponse) error {
			if !first(base, r.Href) {
				return nil
			}
			return p.davObject(r)
		})
		if i > 0 && bestEffort(err) {
			// The query for recurring events is a safeguard: a server that
			// refuses it (Radicale fails it on one object it cannot parse)
			// still answered the time-range query.
			p.reset(m)
			err = nil
		}
		if err != nil {
			break
		}
	}
	var de *decodeError
	if !errors.As(err, &de) {
		return err
	}
	p.reset(mark)
	clear(seen)
	var hrefs []string
	for i, q := range queries(false) {
		_, err = f.davRequest(ctx, "REPORT", cal, "1", q, func(base *url.URL, r davResponse) error {
			if r.Href != "" && r.Status/100 == 2 && first(base, r.Href) {
				hrefs = append(hrefs, r.Href)
			}
			if len(hrefs) > f.limits.MaxObjects {
				return fmt.Errorf("%w: more than %d objects", ErrTooLarge, f.limits.MaxObjects)
			}
			return nil
		})
		if i > 0 && bestEffort(err) {
			err = nil
		}
		if err != nil {
			return err
		}
	}
	var fetch func(hrefs []string) error
	fetch = func(hrefs []string) error {
		mark := p.mark()
		_, err := f.davRequest(ctx, "REPORT", cal, "1", calendarMultiget(hrefs), func(_ *url.URL, r davResponse) error {
			return p.davObject(r)
		})
		switch {
		case err == nil:
			return nil
		case !errors.As(err, &de):
			return err
		}
		p.reset(mark)
		if len(hrefs) == 1 {
			p.objects++
			p.skipped++
			return nil
		}
		if err := fetch(hrefs[:len(hrefs)/2]); err != nil {
			return err
		}
		return fetch(hrefs[len(hrefs)/2:])
	}
	const batch = 64
	for i := 0; i < len(hrefs); i += batch {
		if err := fetch(hrefs[i:min(i+batch, len(hrefs))]); err != nil {
			return err
		}
	}
	return nil
}

// bestEffort reports whether the recurring-events query failed in a way
// that leaves the time-range answer standing: the server answered it with
// an error status.
func bestEffort(err error) bool {
	var st *statusError
	return errors.As(err, &st)
}
