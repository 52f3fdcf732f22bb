package calendar_test

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/convene/convene/calendar"
	"github.com/convene/convene/calendar/caltest"
)

const oneEvent = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nBEGIN:VEVENT\r\nUID:a\r\nDTSTAMP:20250301T000000Z\r\n" +
	"DTSTART:20250324T100000Z\r\nDTEND:20250324T110000Z\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"

func TestOutboundPolicyAllowed(t *testing.T) {
	t.Parallel()
	own := netip.MustParseAddrPort("203.0.114.7:8443")
	p := calendar.OutboundPolicy{
		AllowHosts:    []string{"dav.internal", "*.corp.example"},
		AllowNetworks: []netip.Prefix{netip.MustParsePrefix("10.20.0.0/16")},
		DenyAddrs:     []netip.AddrPort{own, netip.MustParseAddrPort("10.20.0.5:0")},
	}
	for _, tc := range []struct {
		host, addr string
		want       bool
	}{
		{"calendar.example.org", "8.8.8.8:443", true},
		{"calendar.example.org", "[2001:4860::1]:443", true},
		{"127.0.0.1", "127.0.0.1:80", false},
		{"localhost", "127.0.0.1:5232", false}, // a name that resolves to loopback
		{"::1", "[::1]:80", false},
		{"metadata", "169.254.169.254:80", false},
		{"x", "[fe80::1]:80", false},
		{"x", "10.1.2.3:443", false},
		{"x", "172.16.0.1:443", false},
		{"x", "192.168.1.1:443", false},
		{"x", "100.64.0.1:443", false},
		{"x", "[fc00::1]:443", false},
		{"x", "0.0.0.0:80", false},
		{"x", "[::]:80", false},
		{"x", "224.0.0.1:80", false},
		{"x", "[ff02::1]:80", false},
		{"x", "255.255.255.255:80", false},
		{"x", "[::ffff:127.0.0.1]:80", false},
		{"x", "[64:ff9b::7f00:1]:80", false}, // NAT64 of 127.0.0.1
		{"dav.internal", "10.9.9.9:443", true},
		{"DAV.Internal.", "10.9.9.9:443", true},
		{"a.corp.example", "192.168.1.1:443", true},
		{"x", "10.20.3.4:443", true},
		{"x", "10.20.0.5:443", false},         // denied whatever the port
		{"x", own.String(), false},            // the service itself
		{"x", "203.0.114.7:443", true},        // the same host, another port
		{"dav.internal", own.String(), false}, // denied even when allowed
	} {
		if got := p.Allowed(tc.host, netip.MustParseAddrPort(tc.addr)); got != tc.want {
			t.Errorf("Allowed(%q, %s) = %v, want %v", tc.host, tc.addr, got, tc.want)
		}
	}
}

// closedPort returns a loopback address where nothing listens.
func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// TestOutboundPolicyRefuses: fetches to loopback, link-local, names that
// resolve to loopback and redirects to such addresses are refused with
// refused_by_policy, before any connection, and say no more than that.
func TestOutboundPolicyRefuses(t *testing.T) {
	t.Parallel()
	r := caltest.StartRadicale(t)
	var hits atomic.Int32
	inner := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		hits.Add(1)
		w.Write([]byte(oneEvent))
	}))
	t.Cleanup(inner.Close)
	_, innerPort, _ := net.SplitHostPort(strings.TrimPrefix(inner.URL, "http://"))
	// A public-facing server (allowed by name) that redirects inwards.
	outer := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, r.URL.Query().Get("to"), http.StatusFound)
	}))
	t.Cleanup(outer.Close)
	allowOuter := calendar.OutboundPolicy{AllowHosts: []string{"127.0.0.1"}}
	innerAddr := netip.MustParseAddrPort(strings.TrimPrefix(inner.URL, "http://"))
	window := calendar.Interval{Start: utc("2025-03-24T00:00:00Z"), End: utc("2025-03-25T00:00:00Z")}

	for _, tc := range []struct {
		name   string
		src    calendar.Source
		reason calendar.Reason
	}{
		{"loopback CalDAV without an allow-list", &calendar.CalDAV{URL: r.URL, Credential: calendar.Credential{Username: r.User, Password: r.Password}}, calendar.ReasonRefusedByPolicy},
		{"loopback feed, nothing listening", &calendar.ICSFeed{URL: "http://" + closedPort(t) + "/feed.ics"}, calendar.ReasonRefusedByPolicy},
		{"cloud metadata", &calendar.ICSFeed{URL: "http://169.254.169.254/latest/meta-data/"}, calendar.ReasonRefusedByPolicy},
		{"a name resolving to 127.0.0.1", &calendar.ICSFeed{URL: "http://localhost:" + innerPort + "/feed.ics"}, calendar.ReasonRefusedByPolicy},
		{"allowed host redirecting to loopback by name", &calendar.ICSFeed{URL: outer.URL + "/?to=http://localhost:" + innerPort + "/feed.ics", Policy: allowOuter}, calendar.ReasonRefusedByPolicy},
		{"allowed host redirecting to metadata", &calendar.ICSFeed{URL: outer.URL + "/?to=http://169.254.169.254/", Policy: allowOuter}, calendar.ReasonRefusedByPolicy},
		{"CalDAV redirecting to metadata", &calendar.CalDAV{URL: outer.URL + "/?to=http://169.254.169.254/dav/", Policy: allowOuter}, calendar.ReasonRefusedByPolicy},
		{"the service's own address", &calendar.ICSFeed{URL: inner.URL + "/feed.ics", Policy: calendar.OutboundPolicy{
			AllowNetworks: allowLoopback.AllowNetworks, DenyAddrs: []netip.AddrPort{innerAddr}}}, calendar.ReasonRefusedByPolicy},
		{"every address of this machine on the service's port", &calendar.ICSFeed{URL: inner.URL + "/feed.ics", Policy: calendar.OutboundPolicy{
			AllowNetworks: allowLoopback.AllowNetworks, DenyAddrs: []netip.AddrPort{netip.AddrPortFrom(netip.IPv4Unspecified(), innerAddr.Port())}}}, calendar.ReasonRefusedByPolicy},
		{"loopback allowed", &calendar.ICSFeed{URL: inner.URL + "/feed.ics", Policy: allowLoopback}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := hits.Load()
			_, err := tc.src.Busy(context.Background(), window, calendar.BusyOptions{})
			if got := calendar.ReasonOf(err); err != nil && got != tc.reason || err == nil && tc.reason != "" {
				t.Fatalf("Busy: %v (%s), want %q", err, got, tc.reason)
			}
			if tc.reason == "" {
				return
			}
			if got, want := err.Error(), "calendar: refused by policy"; got != want {
				t.Errorf("error text %q, want %q", got, want)
			}
			if hits.Load() != before {
				t.Errorf("the refused server was reached")
			}
		})
	}
	if hits.Load() != 1 {
		t.Errorf("inner server hit %d times, want once (the allowed fetch)", hits.Load())
	}
}

// TestUnreachableSaysNothingOfPorts: a closed port and a port where a
// server resets the connection read the same to the caller.
func TestUnreachableSaysNothingOfPorts(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Close() // accept, then hang up
		}
	}()
	window := calendar.Interval{Start: utc("2025-03-24T00:00:00Z"), End: utc("2025-03-25T00:00:00Z")}
	var texts []string
	for _, u := range []string{"http://" + closedPort(t) + "/c.ics", "http://" + l.Addr().String() + "/c.ics"} {
		_, err := (&calendar.ICSFeed{URL: u, Policy: allowLoopback}).Busy(context.Background(), window, calendar.BusyOptions{})
		if got := calendar.ReasonOf(err); got != calendar.ReasonUnreachable {
			t.Errorf("%s: reason %q", u, got)
		}
		texts = append(texts, err.Error())
	}
	if texts[0] != texts[1] || strings.ContainsAny(texts[0], "0123456789") {
		t.Errorf("error texts %q and %q differ or name addresses", texts[0], texts[1])
	}
}

// TestCredentialStaysWithItsOrigin: a credential goes to the origin it is
// bound to and nowhere else: not after a redirect to another origin, not
// when the source URL is another origin's.
func TestCredentialStaysWithItsOrigin(t *testing.T) {
	t.Parallel()
	type seen struct{ auth atomic.Value }
	var elsewhere seen
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		elsewhere.auth.Store(r.Header.Get("Authorization") + "|" + r.URL.Path)
		w.Header().Set("Content-Type", "text/calendar")
		w.Write([]byte(oneEvent))
	}))
	t.Cleanup(other.Close)
	var ownAuth atomic.Value
	own := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a := r.Header.Get("Authorization")
		if a == "" {
			w.Header().Set("WWW-Authenticate", `Basic realm="cal"`)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		ownAuth.Store(a)
		http.Redirect(w, r, other.URL+"/moved.ics", http.StatusMovedPermanently)
	}))
	t.Cleanup(own.Close)
	window := calendar.Interval{Start: utc("2025-03-24T00:00:00Z"), End: utc("2025-03-25T00:00:00Z")}
	for _, tc := range []struct {
		name     string
		cred     calendar.Credential
		url      string
		reason   calendar.Reason
		ownAuth  string // prefix of what the own origin saw
		otherHit bool
	}{
		{"basic, then a redirect to another origin", calendar.Credential{Username: "alice", Password: "pw"}, own.URL + "/cal.ics", "", "Basic ", true},
		{"bearer, then a redirect to another origin", calendar.Credential{Token: "tok"}, own.URL + "/cal.ics", "", "Bearer tok", true},
		{"bound to another origin than the URL's", calendar.Credential{Username: "alice", Password: "pw", Origin: own.URL}, other.URL + "/cal.ics", calendar.ReasonNoCredential, "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			elsewhere.auth.Store("")
			ownAuth.Store("")
			_, err := (&calendar.ICSFeed{URL: tc.url, Credential: tc.cred, Policy: allowLoopback}).Busy(context.Background(), window, calendar.BusyOptions{})
			if got := calendar.ReasonOf(err); err != nil && got != tc.reason || err == nil && tc.reason != "" {
				t.Fatalf("Busy: %v (%s), want %q", err, got, tc.reason)
			}
			if got := ownAuth.Load().(string); !strings.HasPrefix(got, tc.ownAuth) || (tc.ownAuth == "") != (got == "") {
				t.Errorf("own origin saw Authorization %q, want %q…", got, tc.ownAuth)
			}
			got := elsewhere.auth.Load().(string)
			if tc.otherHit && got != "|/moved.ics" || !tc.otherHit && got != "" {
				t.Errorf("other origin saw %q (Authorization|path)", got)
			}
		})
	}

	t.Run("NewSource refuses a credential for another origin", func(t *testing.T) {
		src, err := calendar.NewSource(calendar.SourceSpec{Type: "ics", URL: other.URL + "/cal.ics", CredentialRef: "env:CRED",
			CredentialOrigin: own.URL}, func(string) string { return "alice:pw" }, calendar.SourceOptions{Policy: allowLoopback})
		if err != nil {
			t.Fatal(err)
		}
		elsewhere.auth.Store("")
		_, err = src.Busy(context.Background(), window, calendar.BusyOptions{})
		if got := calendar.ReasonOf(err); got != calendar.ReasonNoCredential {
			t.Errorf("reason %q, want %q", got, calendar.ReasonNoCredential)
		}
		if got := elsewhere.auth.Load().(string); got != "" {
			t.Errorf("the URL's server was asked (%q)", got)
		}
	})
}

func TestOriginOf(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want string }{
		{"https://Dav.Example.org/cal/", "https://dav.example.org:443"},
		{"http://dav.example.org:8008/x", "http://dav.example.org:8008"},
		{"webcal://p01.icloud.com/published/2/x", "https://p01.icloud.com:443"},
		{"http://[::1]:5232/", "http://[::1]:5232"},
	} {
		if got, err := calendar.OriginOf(tc.in); err != nil || got != tc.want {
			t.Errorf("OriginOf(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	if _, err := calendar.OriginOf("/relative"); err == nil {
		t.Error("OriginOf accepted a relative URL")
	}
}
