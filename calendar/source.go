package calendar

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"

	"github.com/convene/convene/calendar/ics"
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
	ReasonTimeout         Reason = "timeout"           // the server did not answer in time
	ReasonAuthRefused     Reason = "auth_refused"      // the server refused the credential (401, 403)
	ReasonUnreachable     Reason = "unreachable"       // no connection, TLS failure, server error
	ReasonUnparseable     Reason = "unparseable"       // the answer was not iCalendar we could read
	ReasonNoCalendar      Reason = "no_calendar"       // no calendar configured, found or at that URL
	ReasonNoCredential    Reason = "no_credential"     // the credential reference resolves to nothing, or not for this URL
	ReasonRefusedByPolicy Reason = "refused_by_policy" // the outbound policy forbids the address
	ReasonTooLarge        Reason = "too_large"         // the answer exceeded Limits.MaxBytes or MaxObjects
	ReasonTooComplex      Reason = "too_complex"       // recurrence exceeded Limits.MaxInstances
)

// reasonText is what a SourceError says of each reason. For the network
// reasons it is all it says: the cause (a refused connection, a reset, a
// certificate for another name) would tell a caller what listens where.
var reasonText = map[Reason]string{
	ReasonTimeout:         "no answer in time",
	ReasonAuthRefused:     "the server refused the credential",
	ReasonUnreachable:     "the calendar server could not be reached",
	ReasonUnparseable:     "the answer was not iCalendar that could be read",
	ReasonNoCalendar:      "no calendar found",
	ReasonNoCredential:    "no credential for this calendar",
	ReasonRefusedByPolicy: "refused by policy",
	ReasonTooLarge:        "the calendar is too large to read",
	ReasonTooComplex:      "the calendar's recurrences are too costly to expand",
}

// SourceError is a source's failure, with the reason it reports. Its
// Error text names the reason only; Err keeps the cause, for logs.
type SourceError struct {
	Reason Reason
	Err    error
}

// Error says the reason, never the network detail of the cause.
func (e *SourceError) Error() string {
	if t, ok := reasonText[e.Reason]; ok {
		return "calendar: " + t
	}
	return "calendar: " + string(e.Reason)
}

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

// classify turns an error met while reading a calendar into a SourceError.
func classify(ctx context.Context, err error) error {
	var se *SourceError
	var st *statusError
	var de *decodeError
	reason := ReasonUnreachable
	switch {
	case errors.As(err, &se):
		return err
	case errors.Is(err, ErrRefusedByPolicy):
		reason = ReasonRefusedByPolicy
	case errors.Is(err, ErrTooLarge) || errors.Is(err, ics.ErrTooLarge):
		reason = ReasonTooLarge
	case errors.Is(err, ErrTooComplex):
		reason = ReasonTooComplex
	case ctx.Err() != nil || isTimeout(err):
		reason = ReasonTimeout
	case errors.As(err, &st):
		switch {
		case st.status == http.StatusUnauthorized || st.status == http.StatusForbidden:
			reason = ReasonAuthRefused
		case st.status == http.StatusNotFound || st.status == http.StatusGone:
			reason = ReasonNoCalendar
		case st.status/100 == 2:
			reason = ReasonUnparseable // the server answered; not what we asked
		}
	case errors.As(err, &de):
		reason = ReasonUnparseable
	}
	return &SourceError{Reason: reason, Err: err}
}

// SourceSpec names a calendar as a directory entry or a request does. The
// credential is a reference (see ResolveCredential), never the secret.
type SourceSpec struct {
	Type          string `json:"type"` // "caldav" or "ics"
	URL           string `json:"url"`
	CredentialRef string `json:"credential_ref,omitempty"`
	// CredentialOrigin is the origin (scheme://host:port) the credential
	// was configured for; empty means the URL's own. A credential for
	// another origin than the URL's is never used: the source then fails
	// each query with ReasonNoCredential.
	CredentialOrigin string `json:"credential_origin,omitempty"`
}

// SourceOptions is how the operator lets sources reach calendar servers.
type SourceOptions struct {
	// Policy says which addresses may be reached; the zero value allows
	// public addresses only.
	Policy OutboundPolicy
	// Limits bounds each query; zero fields take the defaults.
	Limits Limits
	// HTTPClient supplies TLS settings and timeouts; nil means
	// http.DefaultClient's. Its transport must be an *http.Transport.
	HTTPClient *http.Client
}

// NewSource builds the Source a spec names, held to opts. It fails only for
// a spec that can never work (unknown type, bad URL); a credential
// reference that does not resolve, or resolves for another origin, makes
// the source fail each query with ReasonNoCredential, so that the attendee
// shows as unknown rather than failing the whole search.
func NewSource(spec SourceSpec, getenv func(string) string, opts SourceOptions) (Source, error) {
	u, err := url.Parse(spec.URL)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("calendar: bad calendar URL %q", spec.URL)
	}
	cred, credErr := ResolveCredential(spec.CredentialRef, getenv)
	if credErr != nil {
		credErr = &SourceError{Reason: ReasonNoCredential, Err: credErr}
	} else if !cred.empty() {
		cred.Origin = spec.CredentialOrigin
		if _, err := bindCredential(cred, spec.URL); err != nil {
			credErr = err
		}
	}
	switch spec.Type {
	case "caldav":
		if u.Scheme != "http" && u.Scheme != "https" {
			return nil, fmt.Errorf("calendar: CalDAV URL %q is not http or https", spec.URL)
		}
		return &CalDAV{URL: spec.URL, Credential: cred, HTTPClient: opts.HTTPClient, Policy: opts.Policy, Limits: opts.Limits, credErr: credErr}, nil
	case "ics":
		if u.Scheme != "http" && u.Scheme != "https" && u.Scheme != "webcal" && u.Scheme != "webcals" {
			return nil, fmt.Errorf("calendar: feed URL %q is not https, http or webcal", spec.URL)
		}
		return &ICSFeed{URL: spec.URL, Credential: cred, HTTPClient: opts.HTTPClient, Policy: opts.Policy, Limits: opts.Limits, credErr: credErr}, nil
	}
	return nil, fmt.Errorf("calendar: unknown calendar type %q (want caldav or ics)", spec.Type)
}
