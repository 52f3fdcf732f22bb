package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/convene/convene/invites/smtptest"
	"github.com/convene/convene/service/policy"
)

// lines is a concurrency-safe stdout that hands each line to the test.
type lines struct {
	mu  sync.Mutex
	buf bytes.Buffer
	ch  chan string
}

func newLines() *lines { return &lines{ch: make(chan string, 100)} }

func (l *lines) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf.Write(p)
	for {
		line, err := l.buf.ReadString('\n')
		if err != nil {
			l.buf.WriteString(line)
			return len(p), nil
		}
		l.ch <- strings.TrimRight(line, "\n")
	}
}

// testEnv is the environment of a non-demo service as a council runs it,
// for tests: a signing secret (tokens are minted with `convene token`),
// calendar servers on loopback allowed, and the test's mail gateway
// trusted for sender authentication.
func testEnv(t testing.TB, extra ...string) map[string]string {
	env := map[string]string{
		"CONVENE_DATA_DIR": t.TempDir(), "CONVENE_DEMO": "off",
		"CONVENE_JWT_SECRET":              "test-signing-secret-0123456789abcdef",
		"CONVENE_CALENDAR_ALLOW_NETWORKS": "127.0.0.0/8",
		"CONVENE_MAIL_AUTH_SERVIDS":       "mx.test.example",
	}
	for i := 0; i+1 < len(extra); i += 2 {
		env[extra[i]] = extra[i+1]
	}
	return env
}

// authenticated is a message as the council's gateway passes it on, with
// its DMARC verdict for the sender's domain.
func authenticated(from string, msg []byte) []byte {
	_, domain, _ := strings.Cut(from, "@")
	return append([]byte("Authentication-Results: mx.test.example; dmarc=pass header.from="+domain+"\r\n"), msg...)
}

// instance is a running `convene serve`.
type instance struct {
	url    string
	tokens map[string]string
	stop   func() error
}

var listening = regexp.MustCompile(`^Convene listening on (http://\S+)`)

// start runs the real run() on port 0 with env and waits until it listens
// and has printed its development tokens.
func start(t testing.TB, env map[string]string) *instance {
	t.Helper()
	env["CONVENE_ADDR"] = "127.0.0.1:0"
	env["CONVENE_LOG_LEVEL"] = "warn"
	ctx, cancel := context.WithCancel(context.Background())
	out := newLines()
	errc := make(chan error, 1)
	go func() { errc <- run(ctx, []string{"convene"}, func(k string) string { return env[k] }, out) }()
	in := &instance{tokens: map[string]string{}}
	deadline := time.After(60 * time.Second)
	// Development tokens are printed in demo mode only.
	wantTokens := 4
	if env["CONVENE_DEMO"] == "off" || env["MONGODB_URI"] != "" && env["CONVENE_DEMO"] != "on" {
		wantTokens = 0
	}
	for in.url == "" || len(in.tokens) < wantTokens {
		select {
		case line := <-out.ch:
			if m := listening.FindStringSubmatch(line); m != nil {
				in.url = m[1]
			} else if f := strings.Fields(line); len(f) == 2 && strings.Count(f[1], ".") == 2 {
				in.tokens[f[0]] = f[1]
			}
		case err := <-errc:
			cancel()
			t.Fatalf("run returned before listening: %v", err)
		case <-deadline:
			cancel()
			t.Fatal("the service did not start within 60s")
		}
	}
	stopped := false
	in.stop = func() error {
		if stopped {
			return nil
		}
		stopped = true
		cancel()
		return <-errc
	}
	t.Cleanup(func() { _ = in.stop() })
	return in
}

func call(t testing.TB, method, url, tok string, body any) (int, map[string]any) {
	t.Helper()
	code, m, _ := callWith(t, method, url, tok, body)
	return code, m
}

// callWith is call with extra request headers (name, value pairs), also
// returning the response headers.
func callWith(t testing.TB, method, url, tok string, body any, header ...string) (int, map[string]any, http.Header) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, url, rd)
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Error(err)
		return 0, nil, nil
	}
	defer res.Body.Close()
	var m map[string]any
	_ = json.NewDecoder(res.Body).Decode(&m)
	return res.StatusCode, m, res.Header
}

func TestServeOnAFreshDataDirectoryAndRestart(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{"CONVENE_DATA_DIR": dir}
	first := start(t, env)
	if code, body := call(t, "GET", first.url+"/readyz", "", nil); code != 200 || body["status"] != "ready" {
		t.Fatalf("readyz: %d %v", code, body)
	}
	bso := first.tokens["business_support"]
	code, created := call(t, "POST", first.url+"/v1/people", bso, map[string]any{
		"name": "Hana Health", "email": "hana.health@nhs.example.org", "agency": "health", "role": "named_nurse", "seniority": 2,
	})
	if code != 201 {
		t.Fatalf("create person: %d %v", code, created)
	}
	id := created["id"].(string)
	code, list := call(t, "GET", first.url+"/v1/people?limit=200", bso, nil)
	if code != 200 {
		t.Fatalf("list: %d", code)
	}
	seeded := len(list["items"].([]any))
	if seeded < 2 {
		t.Fatalf("the demo directory has %d people, want it seeded", seeded)
	}
	if err := first.stop(); err != nil {
		t.Fatalf("shutdown: %v", err)
	}

	// Same data directory: the person is still there, the demo is not
	// seeded twice, and the tokens from the first run still verify because
	// the development secret was kept.
	second := start(t, env)
	if code, got := call(t, "GET", second.url+"/v1/people/"+id, bso, nil); code != 200 || got["email"] != "hana.health@nhs.example.org" {
		t.Fatalf("after restart, GET person: %d %v", code, got)
	}
	if _, list := call(t, "GET", second.url+"/v1/people?limit=200", bso, nil); len(list["items"].([]any)) != seeded {
		t.Errorf("after restart there are %d people, want %d", len(list["items"].([]any)), seeded)
	}
}

func TestTokenCommandPrintsOnlyAToken(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{"CONVENE_DATA_DIR": dir}
	var out bytes.Buffer
	err := run(context.Background(), []string{"convene", "token", "--role", "agency_rep", "--sub", "u-42", "--agency", "police"},
		func(k string) string { return env[k] }, &out)
	if err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(&out)
	var got []string
	for sc.Scan() {
		got = append(got, sc.Text())
	}
	if len(got) != 1 || strings.Count(got[0], ".") != 2 {
		t.Fatalf("token printed %q, want exactly one JWT line", got)
	}
	srv := start(t, env)
	if code, _ := call(t, "GET", srv.url+"/v1/people", got[0], nil); code != 200 {
		t.Errorf("the minted token is refused by a server on the same data directory: %d", code)
	}
	if code, _ := call(t, "POST", srv.url+"/v1/people", got[0], map[string]any{}); code != 403 {
		t.Errorf("agency_rep writing the directory: %d, want 403", code)
	}
	for _, bad := range [][]string{{"token"}, {"token", "--role", "king", "--sub", "x"}, {"token", "--role", "chair", "--sub", "x", "--agency", "mi5"}} {
		if err := run(context.Background(), append([]string{"convene"}, bad...), func(k string) string { return env[k] }, io.Discard); err == nil {
			t.Errorf("run %v: no error", bad)
		}
	}
}

// TestProfileCheck validates profiles from the command line: the default
// passes; a broken one is refused with the rule and field named.
func TestProfileCheck(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	if err := os.WriteFile(good, policy.DefaultProfileYAML(), 0o600); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := run(context.Background(), []string{"convene", "profile", "check", good}, func(string) string { return "" }, &out); err != nil {
		t.Fatalf("the default profile: %v", err)
	}
	if !strings.Contains(out.String(), "valid") {
		t.Errorf("output %q does not say the profile is valid", out.String())
	}
	broken := strings.Replace(string(policy.DefaultProfileYAML()), "  - id: G1\n", "  - id: G1\n    withn: 3\n", 1)
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte(broken), 0o600); err != nil {
		t.Fatal(err)
	}
	err := run(context.Background(), []string{"convene", "profile", "check", bad}, func(string) string { return "" }, io.Discard)
	if err == nil || !strings.Contains(err.Error(), `"G1"`) || !strings.Contains(err.Error(), "withn") {
		t.Errorf("a profile with a misspelt field in G1: %v, want an error naming the rule and the field", err)
	}
}

// /metrics can be served on its own address (for the monitoring network
// only) and behind a token; then the API's address does not serve it.
func TestMetricsOnTheirOwnAddress(t *testing.T) {
	t.Parallel()
	port := smtptest.FreePort(t)
	env := testEnv(t, "CONVENE_METRICS_ADDR", fmt.Sprintf("127.0.0.1:%d", port), "CONVENE_METRICS_TOKEN", "scrape-me")
	srv := start(t, env)
	get := func(url, tok string) int {
		req, _ := http.NewRequest("GET", url, nil)
		if tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	metrics := fmt.Sprintf("http://127.0.0.1:%d/metrics", port)
	if code := get(srv.url+"/metrics", "scrape-me"); code != http.StatusNotFound {
		t.Errorf("/metrics beside the API: %d, want 404", code)
	}
	if code := get(metrics, ""); code != http.StatusUnauthorized {
		t.Errorf("/metrics without the token: %d, want 401", code)
	}
	if code := get(metrics, "scrape-me"); code != http.StatusOK {
		t.Errorf("/metrics with the token: %d, want 200", code)
	}
}
