package calendar

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// maxFeedSize bounds how much of a published feed is read.
const maxFeedSize = 64 << 20

// ICSFeed is a published iCalendar feed (RFC 5545), as Outlook and Google
// publish them: an https, http or webcal URL (webcal is fetched over
// https). The whole feed is fetched; busy time is computed from it.
type ICSFeed struct {
	URL        string
	Credential Credential
	// HTTPClient makes the request; nil means http.DefaultClient.
	HTTPClient *http.Client

	credErr error
}

// Busy fetches the feed and computes its busy time within the window.
// Components that cannot be decoded are skipped and counted.
func (f *ICSFeed) Busy(ctx context.Context, window Interval, opts BusyOptions) (BusyResult, error) {
	if f.credErr != nil {
		return BusyResult{}, f.credErr
	}
	u := f.URL
	if rest, ok := cutPrefixFold(u, "webcal://"); ok {
		u = "https://" + rest
	} else if rest, ok := cutPrefixFold(u, "webcals://"); ok {
		u = "https://" + rest
	}
	hc := newAuthClient(f.HTTPClient, f.Credential)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return BusyResult{}, &SourceError{Reason: ReasonNoCalendar, Err: err}
	}
	req.Header.Set("Accept", "text/calendar")
	resp, err := hc.Do(req)
	if err != nil {
		return BusyResult{}, hc.classify(ctx, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return BusyResult{}, hc.classify(ctx, fmt.Errorf("GET %s: %s", u, resp.Status))
	}
	res, err := BusyFromICS(io.LimitReader(resp.Body, maxFeedSize), window, opts)
	if err != nil {
		if ctx.Err() != nil || isTimeout(err) {
			return BusyResult{}, &SourceError{Reason: ReasonTimeout, Err: err}
		}
		return BusyResult{}, &SourceError{Reason: ReasonUnparseable, Err: err}
	}
	return res, nil
}

func cutPrefixFold(s, prefix string) (string, bool) {
	if len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix) {
		return s[len(prefix):], true
	}
	return s, false
}
