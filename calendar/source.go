package calendar

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
)

// Source is someone's calendar: it says when they are busy within a window.
// CalDAV and ICSFeed are the two implementations.
type Source interface {
	Busy(ctx context.Context, window Interval, opts BusyOptions) (BusyResult, error)
}

// Reason says why an attendee's availability is unknown.
type Reason string

// The reasons availability can be unknown.
const (
	ReasonTimeout      Reason = "timeout"       // the server did not answer in time
	ReasonAuthRefused  Reason = "auth_refused"  // the server refused the credential (401, 403)
	ReasonUnreachable  Reason = "unreachable"   // no connection, TLS failure, server error
	ReasonUnparseable  Reason = "unparseable"   // the answer was not iCalendar we could read
	ReasonNoCalendar   Reason = "no_calendar"   // no calendar configured, found or at that URL
	ReasonNoCredential Reason = "no_credential" // the credential reference resolves to nothing
)

// SourceError is a source's failure, with the reason it reports.
type SourceError struct {
	Reason Reason
	Err    error
}

// Error says the reason and the cause.
func (e *SourceError) Error() string { return fmt.Sprintf("calendar: %s: %v", e.Reason, e.Err) }

// Unwrap returns the cause.
func (e *SourceError) Unwrap() error { return e.Err }

// ReasonOf classifies any error from a Source. Errors that are not a
// SourceError count as unreachable, or timeout when a deadline passed.
func ReasonOf(err error) Reason {
	var se *SourceError
	if errors.As(err, &se) {
		return se.Reason
	}
	if isTimeout(err) {
		return ReasonTimeout
	}
	return ReasonUnreachable
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout()
}

// SourceSpec names a calendar as a directory entry or a request does. The
// credential is a reference (see ResolveCredential), never the secret.
type SourceSpec struct {
	Type          string `json:"type"` // "caldav" or "ics"
	URL           string `json:"url"`
	CredentialRef string `json:"credential_ref,omitempty"`
}

// NewSource builds the Source a spec names. It fails only for a spec that
// can never work (unknown type, bad URL); a credential reference that does
// not resolve makes the source fail each query with ReasonNoCredential, so
// that the attendee shows as unknown rather than failing the whole search.
func NewSource(spec SourceSpec, getenv func(string) string) (Source, error) {
	u, err := url.Parse(spec.URL)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("calendar: bad calendar URL %q", spec.URL)
	}
	cred, credErr := ResolveCredential(spec.CredentialRef, getenv)
	if credErr != nil {
		credErr = &SourceError{Reason: ReasonNoCredential, Err: credErr}
	}
	switch spec.Type {
	case "caldav":
		if u.Scheme != "http" && u.Scheme != "https" {
			return nil, fmt.Errorf("calendar: CalDAV URL %q is not http or https", spec.URL)
		}
		return &CalDAV{URL: spec.URL, Credential: cred, credErr: credErr}, nil
	case "ics":
		if u.Scheme != "http" && u.Scheme != "https" && u.Scheme != "webcal" && u.Scheme != "webcals" {
			return nil, fmt.Errorf("calendar: feed URL %q is not https, http or webcal", spec.URL)
		}
		return &ICSFeed{URL: spec.URL, Credential: cred, credErr: credErr}, nil
	}
	return nil, fmt.Errorf("calendar: unknown calendar type %q (want caldav or ics)", spec.Type)
}

// authClient adds the credential to each request and remembers the status
// of the last response, so that failures inside go-webdav, whose error types
// are internal, can still be told apart.
type authClient struct {
	client *http.Client
	cred   Credential
	last   atomic.Int32
}

func newAuthClient(c *http.Client, cred Credential) *authClient {
	if c == nil {
		c = http.DefaultClient
	}
	return &authClient{client: c, cred: cred}
}

func (a *authClient) Do(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	a.cred.apply(r)
	a.last.Store(0)
	resp, err := a.client.Do(r)
	if resp != nil {
		a.last.Store(int32(resp.StatusCode))
	}
	return resp, err
}

// classify turns an error met while talking to a server into a SourceError.
func (a *authClient) classify(ctx context.Context, err error) error {
	var se *SourceError
	if errors.As(err, &se) {
		return err
	}
	status := int(a.last.Load())
	reason := ReasonUnreachable
	switch {
	case ctx.Err() != nil || isTimeout(err):
		reason = ReasonTimeout
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		reason = ReasonAuthRefused
	case status == http.StatusNotFound || status == http.StatusGone:
		reason = ReasonNoCalendar
	case status >= 200 && status < 300:
		reason = ReasonUnparseable // the server answered; we could not read it
	case strings.Contains(err.Error(), "unauthenticated"):
		reason = ReasonAuthRefused
	}
	return &SourceError{Reason: reason, Err: err}
}
