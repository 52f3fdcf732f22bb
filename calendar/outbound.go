package calendar

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"syscall"
	"time"

	"github.com/convene/convene/service/admit"
)

// OutboundPolicy says which addresses calendar fetches may connect to.
// Calendar URLs come from users and directories, so by default a fetch may
// only reach public addresses: it is refused for loopback, link-local
// (169.254.0.0/16 with cloud metadata services, fe80::/10), private
// (RFC 1918, fc00::/7), CGNAT (100.64.0.0/10), unspecified, multicast,
// broadcast and other reserved addresses, unless the operator allows the
// host or its network. DenyAddrs are refused whatever is allowed: the
// service's own listening addresses.
//
// The check is made on the address actually dialled, after DNS resolution
// and on every redirect hop, so neither a name that resolves to a private
// address (DNS rebinding) nor a redirect can get round it. The zero value
// is the default policy.
type OutboundPolicy struct {
	// AllowHosts are host names (or IP literals) that may be reached
	// whatever they resolve to, matched case-insensitively; "*.example.org"
	// matches any name below example.org.
	AllowHosts []string
	// AllowNetworks are networks that may be reached, such as
	// 127.0.0.0/8 for a CalDAV server on the same machine.
	AllowNetworks []netip.Prefix
	// DenyAddrs are never reached, even when allowed: the service's own
	// listening addresses. An unspecified address (0.0.0.0, ::) stands for
	// every address of this machine; port 0 for every port.
	DenyAddrs []netip.AddrPort
}

// ErrRefusedByPolicy is the cause of a fetch the OutboundPolicy refused.
// It says nothing of the address, so that a refusal cannot be told from
// one to a closed port.
var ErrRefusedByPolicy = errors.New("refused by policy")

// refusedNetworks are the networks refused unless allowed, beyond what
// netip.Addr's predicates cover.
var refusedNetworks = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),       // "this network" (RFC 791)
	netip.MustParsePrefix("100.64.0.0/10"),   // CGNAT (RFC 6598)
	netip.MustParsePrefix("192.0.0.0/24"),    // IETF protocol assignments
	netip.MustParsePrefix("192.0.2.0/24"),    // documentation
	netip.MustParsePrefix("198.18.0.0/15"),   // benchmarking
	netip.MustParsePrefix("198.51.100.0/24"), // documentation
	netip.MustParsePrefix("203.0.113.0/24"),  // documentation
	netip.MustParsePrefix("240.0.0.0/4"),     // reserved, and broadcast
	netip.MustParsePrefix("64:ff9b::/96"),    // NAT64: may embed any IPv4 address
	netip.MustParsePrefix("64:ff9b:1::/48"),  // local NAT64
	netip.MustParsePrefix("2001:db8::/32"),   // documentation
	netip.MustParsePrefix("2002::/16"),       // 6to4: embeds an IPv4 address
	netip.MustParsePrefix("100::/64"),        // discard
}

// Allowed reports whether a connection to addr, reached by the name host
// (the host of the URL, a name or an IP literal), is allowed.
func (p OutboundPolicy) Allowed(host string, addr netip.AddrPort) bool {
	ip := addr.Addr().Unmap().WithZone("")
	for _, d := range p.DenyAddrs {
		if d.Port() != 0 && d.Port() != addr.Port() {
			continue
		}
		da := d.Addr().Unmap()
		if da == ip || da.IsUnspecified() && isLocalAddr(ip) {
			return false
		}
	}
	host = strings.ToLower(strings.TrimSuffix(strings.Trim(host, "[]"), "."))
	for _, h := range p.AllowHosts {
		h = strings.ToLower(strings.TrimSuffix(strings.Trim(h, "[]"), "."))
		if h == host || strings.HasPrefix(h, "*.") && strings.HasSuffix(host, h[1:]) {
			return true
		}
	}
	for _, n := range p.AllowNetworks {
		if n.Contains(ip) {
			return true
		}
	}
	return publicAddr(ip)
}

// publicAddr reports whether ip is neither loopback, link-local, private,
// unspecified, multicast nor otherwise reserved.
func publicAddr(ip netip.Addr) bool {
	if !ip.IsValid() || ip.IsLoopback() || ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() ||
		ip.IsInterfaceLocalMulticast() || ip.IsMulticast() || ip.IsPrivate() || ip.IsUnspecified() {
		return false
	}
	for _, n := range refusedNetworks {
		if n.Contains(ip) {
			return false
		}
	}
	return true
}

// isLocalAddr reports whether ip is one of this machine's addresses.
func isLocalAddr(ip netip.Addr) bool {
	if ip.IsLoopback() || ip.IsUnspecified() {
		return true
	}
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return true // cannot tell: refuse
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok {
			if la, ok := netip.AddrFromSlice(n.IP); ok && la.Unmap() == ip {
				return true
			}
		}
	}
	return false
}

// policyError marks a dial the policy refused.
type policyError struct{}

func (policyError) Error() string { return ErrRefusedByPolicy.Error() }
func (policyError) Is(target error) bool {
	return target == ErrRefusedByPolicy
}

// dialContext returns a DialContext that checks every address it is about
// to connect to, in the socket's Control hook: after resolution, before
// the SYN is sent, so no packet reaches a refused address.
func (p OutboundPolicy) dialContext(timeout time.Duration) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		host, _, err := net.SplitHostPort(addr)
		if err != nil {
			return nil, err
		}
		d := net.Dialer{
			Timeout:   timeout,
			KeepAlive: 30 * time.Second,
			ControlContext: func(_ context.Context, _, address string, _ syscall.RawConn) error {
				ap, err := netip.ParseAddrPort(address)
				if err != nil || !p.Allowed(host, ap) {
					return policyError{}
				}
				return nil
			},
		}
		return d.DialContext(ctx, network, addr)
	}
}

// guardedClient returns an HTTP client whose every connection obeys the
// policy. It keeps base's TLS configuration and timeouts but never uses a
// proxy (the policy must see the address of the calendar server itself),
// never follows redirects itself (fetch does, with the same method), and
// never dials through a transport it cannot check: a base client whose
// Transport is not an *http.Transport is refused.
func (p OutboundPolicy) guardedClient(base *http.Client) (*http.Client, error) {
	var t *http.Transport
	switch rt := base.Transport.(type) {
	case nil:
		t = http.DefaultTransport.(*http.Transport).Clone()
	case *http.Transport:
		t = rt.Clone()
	default:
		return nil, fmt.Errorf("calendar: HTTPClient transport %T cannot be held to the outbound policy", rt)
	}
	t.Proxy = nil
	t.DialContext = p.dialContext(10 * time.Second)
	t.DialTLSContext = nil
	t.DisableCompression = false
	return &http.Client{
		// A request of Convene's that waits on a calendar server gives
		// its place among the requests being served up meanwhile.
		Transport: admit.Transport{Base: t},
		Timeout:   base.Timeout,
		Jar:       nil, // cookies could carry one origin's session to another
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}, nil
}
