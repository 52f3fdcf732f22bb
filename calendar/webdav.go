package calendar

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/convene/convene/calendar/ics"
)

// The WebDAV (RFC 4918) and CalDAV (RFC 4791) requests go-webdav cannot
// make as reading busy time needs them (see the package documentation):
// the PROPFIND that finds where a URL leads, whether it is a calendar and
// whose principal it answers, and the calendar-query and calendar-multiget REPORTs, whose multistatus
// is read here as a stream, one response at a time, so that one unreadable
// object costs only itself. Discovery beyond that is go-webdav's, through
// davHTTP.

const (
	nsDAV    = "DAV:"
	nsCalDAV = "urn:ietf:params:xml:ns:caldav"
)

// davProp is the union of the properties we ask for.
type davProp struct {
	ETag                 string   `xml:"DAV: getetag"`
	CalendarData         *string  `xml:"urn:ietf:params:xml:ns:caldav calendar-data"`
	CurrentUserPrincipal *davHref `xml:"DAV: current-user-principal"`
	ResourceType         *struct {
		Calendar *struct{} `xml:"urn:ietf:params:xml:ns:caldav calendar"`
	} `xml:"DAV: resourcetype"`
	SupportedComponents *struct {
		Comps []struct {
			Name string `xml:"name,attr"`
		} `xml:"urn:ietf:params:xml:ns:caldav comp"`
	} `xml:"urn:ietf:params:xml:ns:caldav supported-calendar-component-set"`
}

type davHref struct {
	Hrefs []string `xml:"DAV: href"`
}

// davResponse is one DAV:response of a multistatus, with the properties
// found (status 2xx) merged.
type davResponse struct {
	Href   string
	Status int // of the response itself, when it has one; else 200
	Prop   davProp
}

type rawResponse struct {
	Hrefs     []string `xml:"DAV: href"`
	Status    string   `xml:"DAV: status"`
	Propstats []struct {
		Status string  `xml:"DAV: status"`
		Prop   davProp `xml:"DAV: prop"`
	} `xml:"DAV: propstat"`
}

// parseStatus reads the code of an HTTP status line such as
// "HTTP/1.1 404 Not Found".
func parseStatus(s string) int {
	f := strings.Fields(s)
	if len(f) < 2 {
		return 0
	}
	var n int
	if _, err := fmt.Sscanf(f[1], "%d", &n); err != nil {
		return 0
	}
	return n
}

// decodeError is a multistatus that could not be read: the server answered
// 207, we could not decode it.
type decodeError struct{ err error }

func (e *decodeError) Error() string { return "decoding multistatus: " + e.err.Error() }
func (e *decodeError) Unwrap() error { return e.err }

// davRequest sends a PROPFIND or REPORT and calls fn with each response of
// the multistatus as it is read, so that memory holds one at a time. It
// returns the URL that answered (after redirects), against which hrefs are
// resolved.
func (f *fetcher) davRequest(ctx context.Context, method, rawURL, depth, body string, fn func(base *url.URL, r davResponse) error) (*url.URL, error) {
	h := http.Header{}
	h.Set("Content-Type", "application/xml; charset=utf-8")
	h.Set("Depth", depth)
	resp, err := f.do(ctx, method, rawURL, h, []byte(body))
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	base := resp.Request.URL
	if resp.StatusCode != http.StatusMultiStatus {
		return base, &statusError{method, base.Redacted(), resp.StatusCode}
	}
	dec := xml.NewDecoder(resp.Body)
	dec.CharsetReader = func(charset string, input io.Reader) (io.Reader, error) {
		if strings.EqualFold(charset, "utf-8") || strings.EqualFold(charset, "us-ascii") {
			return input, nil
		}
		return nil, fmt.Errorf("unsupported charset %q", charset)
	}
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			return base, nil
		}
		if err != nil {
			return base, wrapDecode(err)
		}
		se, ok := tok.(xml.StartElement)
		if !ok || se.Name.Space != nsDAV || se.Name.Local != "response" {
			continue
		}
		var raw rawResponse
		if err := dec.DecodeElement(&raw, &se); err != nil {
			return base, wrapDecode(err)
		}
		r := davResponse{Status: http.StatusOK}
		if len(raw.Hrefs) > 0 {
			r.Href = strings.TrimSpace(raw.Hrefs[0])
		}
		if raw.Status != "" {
			r.Status = parseStatus(raw.Status)
		}
		for _, ps := range raw.Propstats {
			if s := parseStatus(ps.Status); s < 200 || s > 299 {
				continue
			}
			mergeProp(&r.Prop, ps.Prop)
		}
		if err := fn(base, r); err != nil {
			return base, err
		}
	}
}

// wrapDecode keeps a limit or a context error as it is, and marks any
// other error as a failure to decode.
func wrapDecode(err error) error {
	if errors.Is(err, ErrTooLarge) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) || isTimeout(err) {
		return err
	}
	return &decodeError{err}
}

func mergeProp(dst *davProp, src davProp) {
	if src.ETag != "" {
		dst.ETag = src.ETag
	}
	if src.CalendarData != nil {
		dst.CalendarData = src.CalendarData
	}
	if src.CurrentUserPrincipal != nil {
		dst.CurrentUserPrincipal = src.CurrentUserPrincipal
	}
	if src.ResourceType != nil {
		dst.ResourceType = src.ResourceType
	}
	if src.SupportedComponents != nil {
		dst.SupportedComponents = src.SupportedComponents
	}
}

// resolve turns an href into an absolute URL against the URL that
// answered.
func resolve(base *url.URL, href string) (*url.URL, error) {
	u, err := base.Parse(strings.TrimSpace(href))
	if err != nil {
		return nil, err
	}
	u.Fragment = ""
	return u, nil
}

// xmlEscape escapes text for an XML body.
func xmlEscape(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}

// The request bodies. The calendar-query asks for the whole object with an
// empty calendar-data (RFC 4791 §9.6): a comp/allprop/allcomp request, the
// only kind go-webdav can send, is read differently by servers, one of
// which answers with components that have no properties.

// propfindLocate asks a URL what it is: a calendar collection, and which
// components it holds, and whose principal is asking.
const propfindLocate = `<?xml version="1.0" encoding="utf-8"?>
<D:propfind xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop>
<D:current-user-principal/><D:resourcetype/><C:supported-calendar-component-set/>
</D:prop></D:propfind>`

// calendarQuery is a calendar-query REPORT (RFC 4791 §7.8) for the
// components of one type overlapping the window: whole objects, or with
// data false only their hrefs and ETags.
func calendarQuery(comp string, window Interval, data bool) string {
	prop := "<D:getetag/>"
	if data {
		prop += "<C:calendar-data/>"
	}
	return `<?xml version="1.0" encoding="utf-8"?>
<C:calendar-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop>` + prop + `</D:prop>
<C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="` + comp + `">
<C:time-range start="` + ics.FormatUTC(window.Start) + `" end="` + ics.FormatUTC(window.End) + `"/>
</C:comp-filter></C:comp-filter></C:filter></C:calendar-query>`
}

// recurringQuery is a calendar-query for every VEVENT with an RRULE
// (RFC 4791 §9.7.2: a prop-filter with no test matches when the property
// is defined), whatever the window.
func recurringQuery(data bool) string {
	prop := "<D:getetag/>"
	if data {
		prop += "<C:calendar-data/>"
	}
	return `<?xml version="1.0" encoding="utf-8"?>
<C:calendar-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop>` + prop + `</D:prop>
<C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT">
<C:prop-filter name="RRULE"/>
</C:comp-filter></C:comp-filter></C:filter></C:calendar-query>`
}

// calendarMultiget is a calendar-multiget REPORT (RFC 4791 §7.9) for whole
// objects.
func calendarMultiget(hrefs []string) string {
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="utf-8"?>
<C:calendar-multiget xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop><D:getetag/><C:calendar-data/></D:prop>`)
	for _, h := range hrefs {
		b.WriteString("<D:href>" + xmlEscape(h) + "</D:href>")
	}
	b.WriteString("</C:calendar-multiget>")
	return b.String()
}
