package invites

import (
	"bufio"
	"context"
	"net"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// dnsmasqBin is Debian's dnsmasq (package dnsmasq-base).
const dnsmasqBin = "/usr/sbin/dnsmasq"

// startDNS runs a real DNS server, dnsmasq, on a free loopback port,
// serving the given TXT records and nothing else, and returns a resolver
// that asks only it. The server stops when the test ends. A TXT value
// longer than 255 octets is served as several strings of one record, as a
// real zone would carry an RSA key; resolvers join them.
func startDNS(t testing.TB, txt map[string]string) *net.Resolver {
	t.Helper()
	if _, err := os.Stat(dnsmasqBin); err != nil {
		t.Fatalf("%s not found: apt-get install dnsmasq-base", dnsmasqBin)
	}
	port := freeUDPPort(t)
	args := []string{
		"--no-resolv", "--no-hosts", "--keep-in-foreground", "--bind-interfaces",
		"--listen-address=127.0.0.1", "--port=" + strconv.Itoa(port),
		"--conf-file=/dev/null", "--pid-file=", "--log-facility=-", "--cache-size=0",
	}
	if os.Geteuid() == 0 {
		args = append(args, "--user=root") // stay as we are; there may be no "nobody" to become
	}
	// Answer NXDOMAIN, as an authoritative server would, for any other
	// name under the same top-level domains, rather than REFUSED for want
	// of an upstream.
	tlds := map[string]bool{}
	for name := range txt {
		tlds[name[strings.LastIndexByte(name, '.')+1:]] = true
	}
	for tld := range tlds {
		args = append(args, "--local=/"+tld+"/")
	}
	names := make([]string, 0, len(txt))
	for name := range txt {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if strings.ContainsAny(txt[name], ",\"\\") {
			t.Fatalf("TXT value for %s has a character dnsmasq's option syntax would read", name)
		}
		args = append(args, "--txt-record="+name+","+strings.Join(chunks(txt[name], 255), ","))
	}
	cmd := exec.Command(dnsmasqBin, args...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting dnsmasq: %v", err)
	}
	exited := make(chan struct{})
	var log strings.Builder
	started := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		said := false
		for sc.Scan() {
			log.WriteString(sc.Text() + "\n")
			// dnsmasq binds its sockets before it logs "started".
			if !said && strings.Contains(sc.Text(), "started, version") {
				said = true
				started <- true
			}
		}
		if !said {
			started <- false
		}
	}()
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	})
	select {
	case ok := <-started:
		if !ok {
			<-exited
			t.Fatalf("dnsmasq exited before it started:\n%s", log.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("dnsmasq did not start within 20s")
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	return &net.Resolver{
		PreferGo: true,
		Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, addr)
		},
	}
}

// freeUDPPort returns a loopback port free for both UDP and TCP now.
func freeUDPPort(t testing.TB) int {
	t.Helper()
	for range 20 {
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := pc.LocalAddr().(*net.UDPAddr).Port
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		pc.Close()
		if err != nil {
			continue
		}
		l.Close()
		return port
	}
	t.Fatal("no loopback port free for both UDP and TCP")
	return 0
}

func chunks(s string, n int) []string {
	var out []string
	for len(s) > n {
		out = append(out, s[:n])
		s = s[n:]
	}
	return append(out, s)
}
