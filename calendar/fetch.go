package calendar

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sync"
)

// maxRedirects caps the redirect hops one request follows.
const maxRedirects = 8

// fetcher makes one source's HTTP requests: only through a client held to
// the outbound policy, with the credential only for its origin, following
// redirects itself, and answering Basic and Digest challenges. What it
// learns of the server's authentication is kept for the next request.
type fetcher struct {
	client *http.Client
	cred   Credential // Origin set
	limits Limits

	mu     sync.Mutex
	basic  bool        // the origin asked for Basic: send it without waiting to be asked
	digest *digestAuth // the origin's last Digest challenge
}

func newFetcher(base *http.Client, policy OutboundPolicy, cred Credential, limits Limits) (*fetcher, error) {
	if base == nil {
		base = http.DefaultClient
	}
	c, err := policy.guardedClient(base)
	if err != nil {
		return nil, err
	}
	return &fetcher{client: c, cred: cred, limits: limits.withDefaults()}, nil
}

// statusError is an HTTP answer that was not what the request wanted.
type statusError struct {
	method string
	url    string
	status int
}

func (e *statusError) Error() string {
	return fmt.Sprintf("%s %s: %d %s", e.method, e.url, e.status, http.StatusText(e.status))
}

// do sends the request and follows redirects (301, 302, 303, 307, 308)
// with the same method and body, up to maxRedirects hops: Go's client
// would turn PROPFIND and REPORT into GET on 301 to 303. A relative
// Location is resolved against the URL that answered it. The credential
// goes only to its own origin, so a redirect elsewhere goes on without it.
// The body of the answer is bounded by Limits.MaxBytes.
func (f *fetcher) do(ctx context.Context, method, rawURL string, header http.Header, body []byte) (*http.Response, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, err
	}
	for hop := 0; ; hop++ {
		resp, err := f.send(ctx, method, u, header, body)
		if err != nil {
			return nil, err
		}
		switch resp.StatusCode {
		case http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther,
			http.StatusTemporaryRedirect, http.StatusPermanentRedirect:
		default:
			resp.Body = struct {
				io.Reader
				io.Closer
			}{&limitedBody{r: resp.Body, n: f.limits.MaxBytes}, resp.Body}
			return resp, nil
		}
		loc := resp.Header.Get("Location")
		drain(resp)
		if loc == "" {
			return nil, &statusError{method, u.Redacted(), resp.StatusCode}
		}
		if hop >= maxRedirects {
			return nil, fmt.Errorf("%s %s: more than %d redirects", method, rawURL, maxRedirects)
		}
		next, err := u.Parse(loc)
		if err != nil || (next.Scheme != "http" && next.Scheme != "https") {
			return nil, fmt.Errorf("%s %s: bad redirect", method, u.Redacted())
		}
		next.Fragment = ""
		u = next
	}
}

// send makes one request to one URL, answering one authentication
// challenge from the credential's origin.
func (f *fetcher) send(ctx context.Context, method string, u *url.URL, header http.Header, body []byte) (*http.Response, error) {
	own := false
	if o, err := origin(u); err == nil && o == f.cred.Origin && !f.cred.empty() {
		own = true
	}
	for attempt := 0; ; attempt++ {
		req, err := http.NewRequestWithContext(ctx, method, u.String(), bytes.NewReader(body))
		if err != nil {
			return nil, err
		}
		for k, v := range header {
			req.Header[k] = v
		}
		if own {
			f.authorize(req)
		}
		resp, err := f.client.Do(req)
		if err != nil {
			return nil, err
		}
		if resp.StatusCode != http.StatusUnauthorized || !own || attempt > 0 || f.cred.Token != "" {
			return resp, nil
		}
		if !f.challenged(parseChallenges(resp.Header)) {
			return resp, nil
		}
		drain(resp)
	}
}

// authorize adds the credential as the origin has asked for it.
func (f *fetcher) authorize(req *http.Request) {
	if f.cred.Token != "" {
		req.Header.Set("Authorization", "Bearer "+f.cred.Token)
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case f.digest != nil:
		req.Header.Set("Authorization", f.digest.authorization(req.Method, req.URL.RequestURI(), f.cred.Username, f.cred.Password))
	case f.basic:
		req.SetBasicAuth(f.cred.Username, f.cred.Password)
	}
}

// challenged takes a 401's challenges and reports whether to try again:
// Digest (RFC 7616) when offered, else Basic (RFC 7617). A password is
// never sent before the origin asks for it, so a Digest server never sees
// it in the clear.
func (f *fetcher) challenged(chs []challenge) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if d := newDigest(chs); d != nil {
		f.digest, f.basic = d, false
		return true
	}
	for _, c := range chs {
		if c.scheme == "basic" && !f.basic {
			f.basic = true
			return true
		}
	}
	return false
}

// davHTTP is the fetcher as go-webdav's HTTP client (webdav.HTTPClient),
// so that the requests its CalDAV client makes are held to the same
// policy, credential origin, authentication, redirects and size limit as
// ours. An answer that is not 2xx becomes a *statusError here, before
// go-webdav reads its body, so that a refusal (401, 403) or a missing
// collection (404) is classified as ours are.
type davHTTP struct{ f *fetcher }

// maxRequestBody bounds the body of a request go-webdav hands us: its
// PROPFIND bodies are a few hundred bytes.
const maxRequestBody = 64 << 10

func (d davHTTP) Do(req *http.Request) (*http.Response, error) {
	var body []byte
	if req.Body != nil {
		b, err := io.ReadAll(io.LimitReader(req.Body, maxRequestBody+1))
		req.Body.Close()
		if err != nil {
			return nil, err
		}
		if len(b) > maxRequestBody {
			return nil, fmt.Errorf("%s %s: request body over %d bytes", req.Method, req.URL.Redacted(), maxRequestBody)
		}
		body = b
	}
	resp, err := d.f.do(req.Context(), req.Method, req.URL.String(), req.Header, body)
	if err != nil {
		return nil, &transportError{err}
	}
	if resp.StatusCode/100 != 2 {
		drain(resp)
		return nil, &statusError{req.Method, resp.Request.URL.Redacted(), resp.StatusCode}
	}
	return resp, nil
}

// transportError marks an error of the fetcher itself (a refused or failed
// connection, too many redirects) as it passes through go-webdav, so that
// it is not mistaken for an answer go-webdav could not read.
type transportError struct{ err error }

func (e *transportError) Error() string { return e.err.Error() }
func (e *transportError) Unwrap() error { return e.err }

// drain reads a little of an unwanted body so the connection can be
// reused, and closes it.
func drain(resp *http.Response) {
	_, _ = io.CopyN(io.Discard, resp.Body, 4<<10)
	resp.Body.Close()
}
