package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/convene/convene/calendar"
	"github.com/convene/convene/invites"
	"github.com/convene/convene/service"
	"github.com/convene/convene/service/httpapi"
	"github.com/convene/convene/service/policy"
	"github.com/convene/convene/service/sqlite"
)

const (
	issuer   = "convene-test"
	audience = "convene"
)

var secret = []byte("0123456789abcdef0123456789abcdef-test-secret")

// gatewayID is the authserv-id of the test's mail gateway: its
// Authentication-Results are believed (invites.AuthConfig).
const gatewayID = "mx.test.example"

// meetingHost is the meeting service join links may be on.
const meetingHost = "meet.example.org"

// harness is the API on the embedded SQLite store, served over loopback,
// with a clock the test can move on.
type harness struct {
	t     testing.TB
	url   string
	store *sqlite.Store
	app   *service.App
	api   *httpapi.Server
	clock *testClock
	// credentials is the directory file: credential references must
	// point into.
	credentials string
}

// option changes how newHarness builds the server.
type option func(*harnessConfig)

type harnessConfig struct {
	auth httpapi.AuthConfig
	at   time.Time
	api  func(*httpapi.Config)
}

// withAuth accepts the tokens cfg describes instead of the test secret's.
func withAuth(cfg httpapi.AuthConfig) option { return func(c *harnessConfig) { c.auth = cfg } }

// standingAt stands the clock at t (it moves on with real time from there).
func standingAt(t time.Time) option { return func(c *harnessConfig) { c.at = t } }

// withConfig changes the server's configuration.
func withConfig(f func(*httpapi.Config)) option { return func(c *harnessConfig) { c.api = f } }

func newHarness(t testing.TB, opts ...option) *harness {
	t.Helper()
	hc := harnessConfig{auth: httpapi.AuthConfig{Issuer: issuer, Audience: audience, Secret: secret}, at: time.Now()}
	for _, o := range opts {
		o(&hc)
	}
	a, err := httpapi.NewAuthenticator(hc.auth)
	if err != nil {
		t.Fatal(err)
	}
	store, err := sqlite.Open(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := store.Close(); err != nil {
			t.Errorf("closing the store: %v", err)
		}
	})
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	clock := newTestClock(hc.at)
	app := service.NewApp(store, log)
	app.Now = clock.Now
	app.Calendar = workingDays(t)
	app.Region = "england-and-wales"
	app.Zone = london
	app.Getenv = func(k string) string { return testEnv[k] }
	app.CredentialsDir = t.TempDir()
	app.AvailabilityOptions = calendar.AvailabilityOptions{SourceTimeout: 3 * time.Second, Budget: 5 * time.Second}
	// The test's CalDAV servers listen on loopback, which the outbound
	// policy refuses unless allowed.
	app.SourceOptions = calendar.SourceOptions{Policy: calendar.OutboundPolicy{
		AllowNetworks: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}}}
	app.OnlineMeetingHosts = []string{meetingHost}
	// Replies are believed when the gateway says DMARC passed; DKIM keys
	// are never found, so no test asks real DNS.
	app.InboundAuth = invites.AuthConfig{TrustedAuthServIDs: []string{gatewayID},
		LookupTXT: func(_ context.Context, name string) ([]string, error) {
			return nil, &net.DNSError{Err: "no such host", Name: name, IsNotFound: true}
		}}
	profiles, err := policy.NewRegistry(app.Calendar, "")
	if err != nil {
		t.Fatal(err)
	}
	app.Profiles = profiles
	app.UseMailer(&service.Mailer{
		Organizer: invites.Person{Name: "Business Support (Convene)", Email: "convene@council.example.gov.uk"},
		Composer: &invites.Composer{Builder: invites.Builder{ProdID: "-//Convene//Strategy discussions//EN", Now: clock.Now},
			Domain: "council.example.gov.uk", EnvelopeFrom: "convene@council.example.gov.uk"},
		RSVPKey: []byte("rsvp-test-key-0123456789abcdef-0123456789"),
	})
	cfg := httpapi.Config{App: app, Auth: a, Log: log, Metrics: prometheus.NewRegistry(), StoreName: "test"}
	if hc.api != nil {
		hc.api(&cfg)
	}
	api, err := httpapi.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(api)
	t.Cleanup(srv.Close)
	return &harness{t: t, url: srv.URL, store: store, app: app, api: api, clock: clock, credentials: app.CredentialsDir}
}

// testEnv is the environment credential references resolve from. It is
// never written once tests run, so parallel tests may read it.
var testEnv = map[string]string{
	"CONVENE_CRED_DANA":        "dana:dana-pw",
	"CONVENE_CRED_HANA":        "hana:hana-pw",
	"SECRET_NOT_FOR_CALENDARS": "dana:dana-pw",
}

var london, _ = time.LoadLocation("Europe/London")

func workingDays(t testing.TB) *calendar.WorkingDays {
	w, err := calendar.NewWorkingDays(calendar.WorkingDaysOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// at is the harness reporting to t (a subtest).
func (h *harness) at(t testing.TB) *harness {
	c := *h
	c.t = t
	return &c
}

// token mints a token for a user with the role and agency.
func token(t testing.TB, role service.Role, agency service.Agency, opts ...func(*service.Principal)) string {
	t.Helper()
	p := service.Principal{Subject: "user-" + string(role) + "-" + string(agency), Name: "Test " + string(role),
		Email: string(role) + "@example.org", Roles: []service.Role{role}, Agency: agency}
	for _, o := range opts {
		o(&p)
	}
	tok, err := httpapi.Mint(secret, issuer, audience, p, time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

type response struct {
	Status int
	Header http.Header
	Body   []byte
}

// JSON decodes the body into a map.
func (r response) JSON(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.Body, &m); err != nil {
		t.Fatalf("response is not a JSON object: %v\n%s", err, r.Body)
	}
	return m
}

// do sends a request; body may be a string (sent as is) or a value (sent as
// JSON).
func (h *harness) do(method, path, tok string, body any, header ...string) response {
	h.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			h.t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, h.url+path, rd)
	if err != nil {
		h.t.Fatal(err)
	}
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
		h.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return response{Status: res.StatusCode, Header: res.Header, Body: b}
}

// problemOf checks r is an RFC 9457 problem with the status and returns it.
func problemOf(t *testing.T, r response, status int) map[string]any {
	t.Helper()
	if r.Status != status {
		t.Fatalf("status = %d, want %d; body: %s", r.Status, status, r.Body)
	}
	if got, want := r.Header.Get("Content-Type"), "application/problem+json"; got != want {
		t.Errorf("Content-Type = %q, want %q", got, want)
	}
	secureHeaders(t, r)
	p := r.JSON(t)
	if got, ok := p["status"].(float64); !ok || int(got) != status {
		t.Errorf("problem status member = %v, want %d", p["status"], status)
	}
	for _, k := range []string{"type", "title", "detail", "request_id"} {
		if s, _ := p[k].(string); s == "" {
			t.Errorf("problem has no %q member: %s", k, r.Body)
		}
	}
	return p
}

// secureHeaders checks r carries the headers every answer must: nothing
// stored by caches or browsers, no media type sniffing.
func secureHeaders(t *testing.T, r response) {
	t.Helper()
	for k, want := range map[string]string{"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"} {
		if got := r.Header.Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
}

// fieldsOf lists the field names of a problem's errors member.
func fieldsOf(p map[string]any) []string {
	var out []string
	errs, _ := p["errors"].([]any)
	for _, e := range errs {
		m, _ := e.(map[string]any)
		f, _ := m["field"].(string)
		out = append(out, f)
	}
	return out
}

func validPerson(email string) map[string]any {
	return map[string]any{
		"name": "Dana Inspector", "email": email, "agency": "police", "role": "police_officer", "seniority": 3,
		"calendar": map[string]any{"type": "caldav", "url": "https://cal.police.example.org/dav/dana/", "credential_ref": "env:CONVENE_CRED_DANA"},
	}
}

func decodeInto(t *testing.T, b []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("decode %s: %v", b, err)
	}
}
