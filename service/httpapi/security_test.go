package httpapi_test

// The security review's items for the HTTP layer: headers on every answer,
// one JSON value per body, no filesystem paths in errors, metrics behind a
// token or off the API's address, and rate limits on failed sign-ins and
// on RSVP links.

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"testing"

	"github.com/convene/convene/service"
	"github.com/convene/convene/service/httpapi"
)

func TestEveryResponseIsNotStoredNorSniffed(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	bso := token(t, service.RoleBusinessSupport, "social_care")
	for _, tc := range []struct {
		name, method, path, tok string
		status                  int
	}{
		{"health", "GET", "/healthz", "", 200},
		{"contract", "GET", "/openapi.yaml", "", 200},
		{"metrics", "GET", "/metrics", "", 200},
		{"a list", "GET", "/v1/people", bso, 200},
		{"not signed in", "GET", "/v1/people", "", 401},
		{"no such route", "GET", "/v1/nothing-here", bso, 404},
		{"an RSVP page", "GET", "/v1/rsvp/not-a-token", "", 401},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := h.at(t).do(tc.method, tc.path, tc.tok, nil)
			if r.Status != tc.status {
				t.Fatalf("status %d, want %d: %s", r.Status, tc.status, r.Body)
			}
			secureHeaders(t, r)
		})
	}
}

func TestOneJSONValuePerBody(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	bso := token(t, service.RoleBusinessSupport, "social_care")
	good := `{"name":"Dana","email":"dana@police.example.org","agency":"police","role":"police_officer","seniority":2}`
	for _, tc := range []struct{ name, body string }{
		{"a stray brace", good + "}"},
		{"a stray bracket", good + "]"},
		{"a second object", good + `{"name":"Eve"}`},
		{"a second value", good + ` 1`},
		{"text", good + ` and then some`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := problemOf(t, h.at(t).do("POST", "/v1/people", bso, tc.body), http.StatusBadRequest)
			if d, _ := p["detail"].(string); !strings.Contains(d, "request body") {
				t.Errorf("detail %q does not say what is wrong with the body", d)
			}
		})
	}
	people, err := h.store.People(context.Background(), service.PersonFilter{Limit: 10})
	if err != nil || len(people) != 0 {
		t.Errorf("after bodies with trailing data: %d people stored (%v), want none", len(people), err)
	}
	if r := h.do("POST", "/v1/people", bso, good+"\n"); r.Status != http.StatusCreated {
		t.Errorf("one value and a newline: %d %s", r.Status, r.Body)
	}
}

func TestErrorsNameNoFilesystemPaths(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	bso := token(t, service.RoleBusinessSupport, "social_care")
	for _, ref := range []string{"file:/etc/shadow", "file:" + h.credentials + "/../../etc/shadow", "file:relative/path"} {
		p := validPerson("dana@police.example.org")
		p["calendar"] = map[string]any{"type": "caldav", "url": "https://cal.police.example.org/dav/", "credential_ref": ref}
		r := h.do("POST", "/v1/people", bso, p)
		problemOf(t, r, http.StatusUnprocessableEntity)
		if strings.Contains(string(r.Body), h.credentials) {
			t.Errorf("%s: the answer names the credentials directory: %s", ref, r.Body)
		}
	}
}

func TestMetrics(t *testing.T) {
	t.Parallel()
	const secretToken = "metrics-0123456789-token"
	t.Run("behind a token", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, withConfig(func(c *httpapi.Config) { c.MetricsToken = secretToken }))
		for _, tok := range []string{"", "wrong-token", secretToken + "x"} {
			p := problemOf(t, h.at(t).do("GET", "/metrics", tok, nil), http.StatusUnauthorized)
			if strings.Contains(p["detail"].(string), secretToken) {
				t.Errorf("the problem names the token")
			}
		}
		r := h.do("GET", "/metrics", secretToken, nil)
		if r.Status != http.StatusOK || !strings.Contains(string(r.Body), "convene_http_requests_total") {
			t.Errorf("with the token: %d %s", r.Status, r.Body)
		}
		conforms(t, "GET", "/metrics", r)
	})
	t.Run("on a separate address", func(t *testing.T) {
		t.Parallel()
		off := false
		h := newHarness(t, withConfig(func(c *httpapi.Config) { c.MetricsOnMainRouter, c.MetricsToken = &off, secretToken }))
		problemOf(t, h.do("GET", "/metrics", secretToken, nil), http.StatusNotFound)
		for _, r := range h.api.Routes() {
			if strings.HasSuffix(r, " /metrics") {
				t.Errorf("the API's routes include %s", r)
			}
		}
		srv := httptest.NewServer(h.api.MetricsHandler())
		t.Cleanup(srv.Close)
		sep := &harness{t: t, url: srv.URL}
		problemOf(t, sep.do("GET", "/metrics", "", nil), http.StatusUnauthorized)
		r := sep.do("GET", "/metrics", secretToken, nil)
		if r.Status != http.StatusOK || !strings.Contains(string(r.Body), "convene_http_requests_total") {
			t.Errorf("metrics on their own address: %d %s", r.Status, r.Body)
		}
		secureHeaders(t, r)
	})
}

// behindProxy serves the API as if behind a reverse proxy on loopback,
// which names each client in X-Forwarded-For.
func behindProxy(c *httpapi.Config) {
	c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}
}

func TestFailedSignInsAreLimitedPerClient(t *testing.T) {
	t.Parallel()
	const limit = 20 // the default
	bad := token(t, service.RoleBusinessSupport, "social_care") + "x"
	good := token(t, service.RoleBusinessSupport, "social_care")

	t.Run("one client", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		for i := range limit {
			// However the client claims to be someone else: without a
			// trusted proxy, X-Forwarded-For is not believed.
			problemOf(t, h.at(t).do("GET", "/v1/people", bad, nil, "X-Forwarded-For", "198.51.100."+strconv.Itoa(i)), http.StatusUnauthorized)
		}
		for name, tok := range map[string]string{"a bad token": bad, "a good token": good, "no token": ""} {
			r := h.at(t).do("GET", "/v1/people", tok, nil)
			p := problemOf(t, r, http.StatusTooManyRequests)
			if p["code"] != service.ETOOMANY {
				t.Errorf("%s: code %v, want %s", name, p["code"], service.ETOOMANY)
			}
			if s, err := strconv.Atoi(r.Header.Get("Retry-After")); err != nil || s < 1 || s > 60 {
				t.Errorf("%s: Retry-After %q, want the seconds left of the minute", name, r.Header.Get("Retry-After"))
			}
			conforms(t, "GET", "/v1/people", r)
		}
		// The public routes are not signed into, so not refused.
		if r := h.do("GET", "/healthz", "", nil); r.Status != http.StatusOK {
			t.Errorf("health while limited: %d", r.Status)
		}
	})

	t.Run("behind a proxy, each client counts alone", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, withConfig(behindProxy))
		const attacker, colleague = "203.0.113.7", "203.0.113.8"
		for range limit {
			problemOf(t, h.at(t).do("GET", "/v1/people", bad, nil, "X-Forwarded-For", attacker), http.StatusUnauthorized)
		}
		problemOf(t, h.do("GET", "/v1/people", good, nil, "X-Forwarded-For", attacker), http.StatusTooManyRequests)
		if r := h.do("GET", "/v1/people", good, nil, "X-Forwarded-For", colleague); r.Status != http.StatusOK {
			t.Errorf("another client behind the same proxy: %d %s", r.Status, r.Body)
		}
		// Nor is a failure counted when the credentials are good but the
		// role is wrong.
		rep := token(t, service.RoleAgencyRep, "police")
		for range limit + 1 {
			problemOf(t, h.at(t).do("GET", "/v1/audit", rep, nil, "X-Forwarded-For", colleague), http.StatusForbidden)
		}
		if r := h.do("GET", "/v1/people", good, nil, "X-Forwarded-For", colleague); r.Status != http.StatusOK {
			t.Errorf("after refusals for role: %d %s", r.Status, r.Body)
		}
	})
}

func TestRSVPLinksAreLimited(t *testing.T) {
	t.Parallel()
	const limit = 30 // the default
	read := func(t *testing.T, r response) string {
		t.Helper()
		secureHeaders(t, r)
		if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
			t.Errorf("Content-Type %q, want the page", ct)
		}
		return string(r.Body)
	}
	t.Run("per client", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		for i := range limit {
			// A different made-up token each time: guessing.
			if r := h.at(t).do("GET", "/v1/rsvp/guess-"+strconv.Itoa(i), "", nil); r.Status != http.StatusUnauthorized {
				t.Fatalf("guess %d: %d", i, r.Status)
			}
		}
		r := h.do("GET", "/v1/rsvp/guess-last", "", nil)
		if r.Status != http.StatusTooManyRequests || r.Header.Get("Retry-After") == "" {
			t.Errorf("after %d requests: %d, Retry-After %q; want 429 with it", limit, r.Status, r.Header.Get("Retry-After"))
		}
		if body := read(t, r); !strings.Contains(body, "try again") {
			t.Errorf("page: %s", body)
		}
	})
	t.Run("per link", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, withConfig(behindProxy))
		for i := range limit {
			r := h.at(t).do("POST", "/v1/rsvp/one-link", "", nil, "X-Forwarded-For", "198.51.100."+strconv.Itoa(i))
			if r.Status != http.StatusUnauthorized {
				t.Fatalf("request %d: %d", i, r.Status)
			}
		}
		r := h.do("POST", "/v1/rsvp/one-link", "", nil, "X-Forwarded-For", "198.51.100.200")
		if r.Status != http.StatusTooManyRequests {
			t.Errorf("the link's %dth request from a fresh address: %d, want 429", limit+1, r.Status)
		}
		read(t, r)
		// Another link from another address is served.
		if r := h.do("GET", "/v1/rsvp/another-link", "", nil, "X-Forwarded-For", "198.51.100.201"); r.Status != http.StatusUnauthorized {
			t.Errorf("another link: %d, want 401 (served, and refused for what it is)", r.Status)
		}
	})
}

func TestOnlyTheMailGatewayPostsReplies(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	raw := "From: <priya.patel@police.example.uk>\r\nSubject: Accepted\r\n\r\nnot a calendar\r\n"
	for _, role := range []service.Role{service.RoleAdmin, service.RoleBusinessSupport, service.RoleChair, service.RoleAgencyRep} {
		r := h.do("POST", "/v1/imip", token(t, role, "police"), raw, "Content-Type", "message/rfc822")
		problemOf(t, r, http.StatusForbidden)
	}
	// The gateway is heard (and the message refused for what it is).
	r := h.do("POST", "/v1/imip", token(t, service.RoleMailGateway, ""), raw, "Content-Type", "message/rfc822")
	if p := problemOf(t, r, http.StatusUnprocessableEntity); p["result"] != service.InboundRejectMalformed {
		t.Errorf("result %v, want %s", p["result"], service.InboundRejectMalformed)
	}
	conforms(t, "POST", "/v1/imip", r)
}
