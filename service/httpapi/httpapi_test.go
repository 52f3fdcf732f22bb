package httpapi_test

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/convene/convene/calendar"
	"github.com/convene/convene/invites"
	"github.com/convene/convene/service"
	"github.com/convene/convene/service/httpapi"
	"github.com/convene/convene/service/mongodb"
	"github.com/convene/convene/service/mongodb/mongodbtest"
	"github.com/convene/convene/service/policy"
)

func TestMain(m *testing.M) { mongodbtest.Main(m) }

const (
	issuer   = "convene-test"
	audience = "convene"
)

var secret = []byte("0123456789abcdef0123456789abcdef-test-secret")

// harness is the API on a real embedded store, served over loopback.
type harness struct {
	t     testing.TB
	url   string
	store *mongodb.Store
	app   *service.App
	api   *httpapi.Server
}

func newHarness(t testing.TB, auth ...httpapi.AuthConfig) *harness {
	t.Helper()
	cfg := httpapi.AuthConfig{Issuer: issuer, Audience: audience, Secret: secret}
	if len(auth) > 0 {
		cfg = auth[0]
	}
	a, err := httpapi.NewAuthenticator(cfg)
	if err != nil {
		t.Fatal(err)
	}
	store := mongodbtest.Store(t)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	app := service.NewApp(store, log)
	app.Calendar = workingDays(t)
	app.Region = "england-and-wales"
	app.Zone = london
	app.Getenv = func(k string) string { return testEnv[k] }
	app.AvailabilityOptions = calendar.AvailabilityOptions{SourceTimeout: 3 * time.Second, Budget: 5 * time.Second}
	profiles, err := policy.NewRegistry(app.Calendar, "")
	if err != nil {
		t.Fatal(err)
	}
	app.Profiles = profiles
	// Invitations are written to files, as cmd/convene does without SMTP.
	app.UseMailer(&service.Mailer{
		Organizer: invites.Person{Name: "Business Support (Convene)", Email: "convene@council.example.gov.uk"},
		Composer: &invites.Composer{Builder: invites.Builder{ProdID: "-//Convene//Strategy discussions//EN", Now: time.Now},
			Domain: "council.example.gov.uk", EnvelopeFrom: "convene@council.example.gov.uk"},
		Sender: &invites.DirSender{Dir: t.TempDir()},
	})
	api, err := httpapi.New(httpapi.Config{App: app, Auth: a, Log: log, Metrics: prometheus.NewRegistry(), StoreName: "test"})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(api)
	t.Cleanup(srv.Close)
	return &harness{t: t, url: srv.URL, store: store, app: app, api: api}
}

// testEnv is the environment credential references resolve from.
var testEnv = map[string]string{}

var london, _ = time.LoadLocation("Europe/London")

func workingDays(t testing.TB) *calendar.WorkingDays {
	w, err := calendar.NewWorkingDays(calendar.WorkingDaysOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return w
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
