package calendar_test

import (
	"net/netip"

	"github.com/convene/convene/calendar"
)

// allowLoopback lets tests reach the servers they start on this machine:
// the default outbound policy refuses loopback.
var allowLoopback = calendar.OutboundPolicy{AllowNetworks: []netip.Prefix{
	netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128"),
}}
