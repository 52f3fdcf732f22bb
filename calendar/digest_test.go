package calendar_test

import (
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/convene/convene/calendar"
	"github.com/convene/convene/calendar/caltest"
)

// digestGuard is the server side of HTTP Digest (RFC 7616, qop=auth) in
// front of a real CalDAV server, as a reverse proxy in front of Xandikos,
// which has no authentication of its own, would be. It offers the
// algorithms given, in order, checks every response, and counts what it
// saw.
type digestGuard struct {
	user, pass, realm string
	algorithms        []string

	mu        sync.Mutex
	nonces    map[string]int // nonce → last nc
	ok, basic atomic.Int32
	chosen    atomic.Value
}

var digestParam = regexp.MustCompile(`(\w+)=(?:"((?:[^"\\]|\\.)*)"|([^,\s]+))`)

func (g *digestGuard) handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auth := r.Header.Get("Authorization")
		if strings.HasPrefix(auth, "Basic ") {
			g.basic.Add(1)
		}
		if rest, ok := strings.CutPrefix(auth, "Digest "); ok && g.check(r.Method, r.URL.RequestURI(), rest) {
			g.ok.Add(1)
			next.ServeHTTP(w, r)
			return
		}
		g.mu.Lock()
		for _, alg := range g.algorithms {
			nonce := fmt.Sprintf("%x", sha256.Sum256(fmt.Appendf(nil, "%s-%d", alg, len(g.nonces))))[:32]
			g.nonces[nonce] = 0
			w.Header().Add("WWW-Authenticate", fmt.Sprintf(`Digest realm=%q, qop="auth, auth-int", algorithm=%s, nonce=%q, opaque="xyz"`, g.realm, alg, nonce))
		}
		g.mu.Unlock()
		w.WriteHeader(http.StatusUnauthorized)
	})
}

func (g *digestGuard) check(method, uri, header string) bool {
	p := map[string]string{}
	for _, m := range digestParam.FindAllStringSubmatch(header, -1) {
		p[strings.ToLower(m[1])] = m[2] + m[3]
	}
	var h func() hash.Hash
	switch p["algorithm"] {
	case "MD5", "":
		h = md5.New
	case "SHA-256":
		h = sha256.New
	default:
		return false
	}
	hx := func(s string) string { x := h(); x.Write([]byte(s)); return hex.EncodeToString(x.Sum(nil)) }
	g.mu.Lock()
	defer g.mu.Unlock()
	last, known := g.nonces[p["nonce"]]
	var nc int
	fmt.Sscanf(p["nc"], "%x", &nc)
	if !known || nc <= last || p["qop"] != "auth" || p["uri"] != uri || p["username"] != g.user || p["realm"] != g.realm || p["opaque"] != "xyz" {
		return false
	}
	ha1 := hx(g.user + ":" + g.realm + ":" + g.pass)
	want := hx(ha1 + ":" + p["nonce"] + ":" + p["nc"] + ":" + p["cnonce"] + ":auth:" + hx(method+":"+uri))
	if p["response"] != want {
		return false
	}
	g.nonces[p["nonce"]] = nc
	g.chosen.Store(p["algorithm"])
	return true
}

// TestCalDAVDigest reads a Xandikos calendar through a Digest-protected
// proxy: SHA-256 or MD5 as offered (SHA-256 when both are), the password
// never sent as Basic, later requests answering the same nonce with a
// rising nonce count, and a wrong password refused.
func TestCalDAVDigest(t *testing.T) {
	t.Parallel()
	x := caltest.StartXandikos(t)
	cal := x.CreateCalendar(t, x.User, "work")
	for _, name := range []string{"weekly-standup.ics", "clock-spring-after.ics"} {
		cal.Put(t, name, readFixture(t, "testdata/caldav/"+name))
	}
	target, _ := url.Parse(x.URL)
	proxy := httputil.NewSingleHostReverseProxy(target)
	window := calendar.Interval{Start: utc("2025-03-24T00:00:00Z"), End: utc("2025-04-05T00:00:00Z")}
	want := []calendar.Busy{
		busy("2025-03-24T10:00:00Z", "2025-03-24T11:00:00Z"),
		busy("2025-03-31T08:00:00Z", "2025-03-31T09:00:00Z"),
	}
	for _, tc := range []struct {
		name       string
		algorithms []string
		password   string
		reason     calendar.Reason
		chosen     string
	}{
		{"MD5", []string{"MD5"}, "s3cret", "", "MD5"},
		{"SHA-256", []string{"SHA-256"}, "s3cret", "", "SHA-256"},
		{"both offered: SHA-256 taken", []string{"MD5", "SHA-256"}, "s3cret", "", "SHA-256"},
		{"wrong password", []string{"SHA-256"}, "guess", calendar.ReasonAuthRefused, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			g := &digestGuard{user: "alice", pass: "s3cret", realm: "convene test", algorithms: tc.algorithms, nonces: map[string]int{}}
			srv := httptest.NewServer(g.handler(proxy))
			t.Cleanup(srv.Close)
			src := &calendar.CalDAV{URL: srv.URL + "/dav/", Policy: allowLoopback,
				Credential: calendar.Credential{Username: "alice", Password: tc.password}}
			for range 2 { // the second query reuses the nonce
				res, err := src.Busy(context.Background(), window, calendar.BusyOptions{Zone: london(t)})
				if got := calendar.ReasonOf(err); err != nil && got != tc.reason || err == nil && tc.reason != "" {
					t.Fatalf("Busy: %v (%s), want %q", err, got, tc.reason)
				}
				if tc.reason != "" {
					break
				}
				if diff := cmp.Diff(want, res.Busy); diff != "" {
					t.Errorf("busy (-want +got):\n%s", diff)
				}
			}
			if n := g.basic.Load(); n != 0 {
				t.Errorf("%d requests carried Basic credentials", n)
			}
			if tc.chosen != "" {
				if got := g.chosen.Load(); got != tc.chosen {
					t.Errorf("algorithm %v, want %s", got, tc.chosen)
				}
				// Discovery (3 PROPFINDs) and a query, then a query again.
				if got := g.ok.Load(); got < 5 {
					t.Errorf("%d authenticated requests, want at least 5", got)
				}
			}
		})
	}
}
