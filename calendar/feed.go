package calendar

import (
	"context"
	"net/http"
	"strings"
	"sync"
)

// ICSFeed is a published iCalendar feed (RFC 5545), as Outlook and Google
// publish them: an https, http or webcal URL (webcal is fetched over
// https). The whole feed is fetched, within Limits; busy time is computed
// from it. Requests obey Policy, the credential goes only to its origin,
// and redirects are followed.
type ICSFeed struct {
	URL        string
	Credential Credential
	// HTTPClient supplies TLS settings and timeouts; nil means
	// http.DefaultClient's. Its transport must be an *http.Transport.
	HTTPClient *http.Client
	// Policy says which addresses may be reached; the zero value allows
	// public addresses only.
	Policy OutboundPolicy
	// Limits bounds each fetch; zero fields take the defaults.
	Limits Limits

	credErr error

	mu sync.Mutex
	f  *fetcher
}

// Busy fetches the feed and computes its busy time within the window.
// Components that cannot be decoded are skipped and counted.
func (f *ICSFeed) Busy(ctx context.Context, window Interval, opts BusyOptions) (BusyResult, error) {
	u := f.URL
	if rest, ok := cutPrefixFold(u, "webcal://"); ok {
		u = "https://" + rest
	} else if rest, ok := cutPrefixFold(u, "webcals://"); ok {
		u = "https://" + rest
	}
	fe, err := f.fetcher(u)
	if err != nil {
		return BusyResult{}, err
	}
	h := http.Header{}
	h.Set("Accept", "text/calendar")
	resp, err := fe.do(ctx, http.MethodGet, u, h, nil)
	if err != nil {
		return BusyResult{}, classify(ctx, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return BusyResult{}, classify(ctx, &statusError{http.MethodGet, resp.Request.URL.Redacted(), resp.StatusCode})
	}
	res, err := busyFromICS(ctx, resp.Body, window, opts, fe.limits)
	if err != nil {
		if fatal(err) || ctx.Err() != nil || isTimeout(err) {
			return BusyResult{}, classify(ctx, err)
		}
		return BusyResult{}, &SourceError{Reason: ReasonUnparseable, Err: err}
	}
	return res, nil
}

func (f *ICSFeed) fetcher(u string) (*fetcher, error) {
	if f.credErr != nil {
		return nil, f.credErr
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.f != nil {
		return f.f, nil
	}
	cred, err := bindCredential(f.Credential, u)
	if err != nil {
		return nil, err
	}
	fe, err := newFetcher(f.HTTPClient, f.Policy, cred, f.Limits)
	if err != nil {
		return nil, &SourceError{Reason: ReasonRefusedByPolicy, Err: err}
	}
	f.f = fe
	return fe, nil
}

func cutPrefixFold(s, prefix string) (string, bool) {
	if len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix) {
		return s[len(prefix):], true
	}
	return s, false
}
