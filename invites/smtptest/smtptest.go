// Package smtptest runs a real SMTP server for tests: Debian's
// python3-aiosmtpd with the small handler in invites/testdata/smtpd, which
// writes each accepted message to a directory. Recipients whose local part
// starts with "reject" get 550 and "later" get 451.
package smtptest

import (
	"bufio"
	"encoding/json"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Python is Debian's interpreter, which has python3-aiosmtpd; the python3
// first on PATH may be another without Debian's modules.
const Python = "/usr/bin/python3"

// Options configure the server.
type Options struct {
	// Port to listen on (loopback); 0 picks a free one.
	Port int
	// Cert and Key turn on STARTTLS.
	Cert, Key       string
	RequireStartTLS bool
	ImplicitTLS     bool
	// User and Password require AUTH.
	User, Password string
	// Dir receives the messages; "" makes a new temporary directory.
	Dir string
}

// Server is a running SMTP server.
type Server struct {
	Addr string
	// Dir holds N.eml (the bytes received) and N.json (the envelope).
	Dir  string
	stop func()
}

// Stop stops the server now (a server going down mid-test); it is also
// stopped when the test ends.
func (s *Server) Stop() { s.stop() }

// Received is one accepted message.
type Received struct {
	MailFrom string   `json:"mail_from"`
	RcptTos  []string `json:"rcpt_tos"`
	TLS      bool     `json:"tls"`
	Auth     bool     `json:"auth"`
	Login    *string  `json:"login"`
	Raw      []byte   `json:"-"`
}

func script() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "testdata", "smtpd", "maildir_server.py")
}

// Start starts the server on loopback and stops it when the test ends. It
// fails the test, never skips it, when the server cannot start.
func Start(t testing.TB, o Options) *Server {
	t.Helper()
	if _, err := os.Stat(Python); err != nil {
		t.Fatalf("%s not found: install Debian's python3 and python3-aiosmtpd", Python)
	}
	if out, err := exec.Command(Python, "-c", "import aiosmtpd").CombinedOutput(); err != nil {
		t.Fatalf("python3-aiosmtpd missing (apt-get install python3-aiosmtpd): %v\n%s", err, out)
	}
	port := o.Port
	if port == 0 {
		port = FreePort(t)
	}
	dir := o.Dir
	if dir == "" {
		dir = t.TempDir()
	}
	args := []string{script(), "--port", strconv.Itoa(port), "--dir", dir}
	if o.Cert != "" {
		args = append(args, "--cert", o.Cert, "--key", o.Key)
	}
	if o.RequireStartTLS {
		args = append(args, "--require-starttls")
	}
	if o.ImplicitTLS {
		args = append(args, "--implicit-tls")
	}
	if o.User != "" {
		args = append(args, "--user", o.User, "--password", o.Password)
	}
	cmd := exec.Command(Python, args...)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting aiosmtpd: %v", err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			stdin.Close()
			select {
			case <-exited:
			case <-time.After(5 * time.Second):
				_ = cmd.Process.Kill()
				<-exited
			}
		})
	}
	t.Cleanup(stop)
	ready := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if sc.Text() == "READY" {
				ready <- true
				_, _ = io.Copy(io.Discard, stdout)
				return
			}
		}
		ready <- false
	}()
	select {
	case ok := <-ready:
		if !ok {
			<-exited
			t.Fatalf("aiosmtpd exited before it was ready: %s", stderr.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("aiosmtpd not ready after 20s: %s", stderr.String())
	}
	return &Server{Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), Dir: dir, stop: stop}
}

// FreePort returns a loopback port nothing listens on now.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// Count is how many messages the server has accepted so far.
func (s *Server) Count() int {
	n := 0
	for {
		if _, err := os.Stat(filepath.Join(s.Dir, strconv.Itoa(n+1)+".eml")); err != nil {
			return n
		}
		n++
	}
}

// Message waits up to ten seconds for the nth message (from 1).
func (s *Server) Message(t testing.TB, n int) Received {
	t.Helper()
	base := filepath.Join(s.Dir, strconv.Itoa(n))
	deadline := time.Now().Add(10 * time.Second)
	for {
		raw, err := os.ReadFile(base + ".eml")
		if err == nil {
			var r Received
			meta, err := os.ReadFile(base + ".json")
			if err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(meta, &r); err != nil {
				t.Fatal(err)
			}
			r.Raw = raw
			return r
		}
		if time.Now().After(deadline) {
			t.Fatalf("message %d never arrived in %s", n, s.Dir)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Received lists every message accepted so far.
func (s *Server) Received(t testing.TB) []Received {
	t.Helper()
	out := make([]Received, s.Count())
	for i := range out {
		out[i] = s.Message(t, i+1)
	}
	return out
}

// Wait waits up to timeout until the server has accepted at least n
// messages, and returns them all.
func (s *Server) Wait(t testing.TB, n int, timeout time.Duration) []Received {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for s.Count() < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d messages arrived within %s", s.Count(), n, timeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return s.Received(t)
}
