package calendar_test

import (
	"net/netip"
	"os"
	"testing"

	"github.com/convene/convene/calendar"
)

// allowLoopback lets tests reach the servers they start on this machine:
// the default outbound policy refuses loopback.
var allowLoopback = calendar.OutboundPolicy{AllowNetworks: []netip.Prefix{
	netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128"),
}}

func readFixture(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
