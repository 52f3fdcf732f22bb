package web_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/convene/convene/calendar"
	"github.com/convene/convene/invites"
	"github.com/convene/convene/invites/smtptest"
	"github.com/convene/convene/service"
	"github.com/convene/convene/service/outbox"
	"github.com/convene/convene/service/policy"
	"github.com/convene/convene/service/sqlite"
	"github.com/convene/convene/service/web"
)

// site is the web app on the embedded store over TLS (its cookies are
// Secure), with a real SMTP server behind the outbox, a directory, and a
// clock the test moves.
type site struct {
	t      *testing.T
	url    string
	app    *service.App
	store  *sqlite.Store
	smtp   *smtptest.Server
	clock  *clock
	people map[string]*service.Person
	bso    context.Context
	srv    *httptest.Server
}

type clock struct {
	mu  sync.Mutex
	off time.Duration
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.off)
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	c.off += d
	c.mu.Unlock()
}

var london = func() *time.Location {
	z, err := time.LoadLocation("Europe/London")
	if err != nil {
		panic(err)
	}
	return z
}()

const rsvpKey = "rsvp-test-key-0123456789abcdef-0123456789"

// demoPeople sign in on the demo page.
var demoPeople = []service.Principal{
	{Subject: "demo-bso", Name: "Bea Support", Email: "bea@council.example.org", Roles: []service.Role{service.RoleBusinessSupport}, Agency: policy.AgencySocialCare},
	{Subject: "demo-chair", Name: "Chris Chair", Email: "chris@council.example.org", Roles: []service.Role{service.RoleChair}, Agency: policy.AgencySocialCare},
	{Subject: "demo-police", Name: "Dana Inspector", Email: "dana@police.example.org", Roles: []service.Role{service.RoleAgencyRep}, Agency: policy.AgencyPolice},
}

func newSite(t *testing.T, cfg ...func(*web.Config)) *site {
	t.Helper()
	store, err := sqlite.Open(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close() })
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	cal, err := calendar.NewWorkingDays(calendar.WorkingDaysOptions{Location: london})
	if err != nil {
		t.Fatal(err)
	}
	profiles, err := policy.NewRegistry(cal, "")
	if err != nil {
		t.Fatal(err)
	}
	c := &clock{}
	app := service.NewApp(store, log)
	app.Now = c.Now
	app.Profiles, app.Calendar, app.Region, app.Zone = profiles, cal, calendar.Region("england-and-wales"), london
	app.OnlineMeetingHosts = []string{"teams.microsoft.com"}
	app.UseMailer(&service.Mailer{Organizer: invites.Person{Name: "Convene", Email: "convene@council.example.org"},
		Composer: &invites.Composer{Builder: invites.Builder{ProdID: "-//Convene test//EN", Now: c.Now},
			Domain: "council.example.org", EnvelopeFrom: "convene@council.example.org"},
		RSVPKey: []byte(rsvpKey)})
	s := &site{t: t, app: app, store: store, clock: c, people: map[string]*service.Person{}}

	s.smtp = smtptest.Start(t, smtptest.Options{})
	ctx, cancel := context.WithCancel(context.Background())
	w := &outbox.Worker{App: app, Log: log, Owner: "test", Workers: 2, Lease: 30 * time.Second, RetryBase: time.Second,
		Sender: &invites.SMTPSender{Config: invites.SMTPConfig{Addr: s.smtp.Addr, TLS: invites.NoTLS, LocalName: "council.example.org",
			CommandTimeout: 10 * time.Second, SubmissionTimeout: 20 * time.Second}}}
	done := make(chan struct{})
	go func() { defer close(done); w.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })

	admin := service.WithPrincipal(context.Background(), &service.Principal{Subject: "ada", Name: "Ada Admin", Roles: []service.Role{service.RoleAdmin}})
	for _, p := range []service.Person{
		{Name: "Chris Chair", Email: "chris@council.example.org", Agency: policy.AgencySocialCare, Role: "team_manager", Seniority: 3, Chair: true},
		{Name: "Sam Social", Email: "sam@council.example.org", Agency: policy.AgencySocialCare, Role: "social_worker", Seniority: 1},
		{Name: "Dana Inspector", Email: "dana@police.example.org", Agency: policy.AgencyPolice, Role: "police_officer", Seniority: 3},
		{Name: "Pat Constable", Email: "pat@police.example.org", Agency: policy.AgencyPolice, Role: "police_officer", Seniority: 1},
		{Name: "Sergeant Sid", Email: "sid@police.example.org", Agency: policy.AgencyPolice, Role: "police_officer", Seniority: 3},
		{Name: "Nina Nurse", Email: "nina@nhs.example.org", Agency: policy.AgencyHealth, Role: "safeguarding_nurse", Seniority: 3},
	} {
		created, err := app.CreatePerson(admin, p)
		if err != nil {
			t.Fatal(err)
		}
		s.people[strings.SplitN(p.Email, "@", 2)[0]] = created
	}
	s.bso = service.WithPrincipal(context.Background(), &demoPeople[0])

	// The server starts first, so the configuration can name its URL.
	var handler http.Handler
	s.srv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { handler.ServeHTTP(w, r) }))
	t.Cleanup(s.srv.Close)
	s.url = s.srv.URL
	app.Mail.PublicURL = s.url
	wc := web.Config{App: app, Log: log, Demo: demoPeople, Now: c.Now, PublicURL: s.url}
	for _, f := range cfg {
		f(&wc)
	}
	site, err := web.New(wc)
	if err != nil {
		t.Fatal(err)
	}
	handler = site
	return s
}

// browser is one person's browser: its own cookies; redirects are not
// followed, so tests see them.
type browser struct {
	s   *site
	c   *http.Client
	jar *cookiejar.Jar
	// last is the CSRF token of the last page read.
	last string
}

func (s *site) browser() *browser {
	jar, _ := cookiejar.New(nil)
	// srv.Client() is one client shared by every caller: each browser
	// needs its own, with the server's TLS transport and its own cookies.
	c := &http.Client{Transport: s.srv.Client().Transport, Jar: jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return &browser{s: s, c: c, jar: jar}
}

var csrfRE = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

// do sends a request as a browser on the same site would.
func (b *browser) do(method, path string, form url.Values, hdr ...string) (*http.Response, string) {
	b.s.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, b.s.url+path, body)
	if err != nil {
		b.s.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	if method == http.MethodPost {
		req.Header.Set("Origin", b.s.url)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := b.c.Do(req)
	if err != nil {
		b.s.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		b.s.t.Fatal(err)
	}
	if m := csrfRE.FindSubmatch(raw); m != nil {
		b.last = string(m[1])
	}
	return res, string(raw)
}

func (b *browser) get(path string) (*http.Response, string) { return b.do(http.MethodGet, path, nil) }

// post sends a form with the CSRF token of the last page read.
func (b *browser) post(path string, form url.Values) (*http.Response, string) {
	b.s.t.Helper()
	if form == nil {
		form = url.Values{}
	}
	if form.Get("csrf_token") == "" {
		form.Set("csrf_token", b.last)
	}
	return b.do(http.MethodPost, path, form)
}

func wantStatus(t *testing.T, res *http.Response, body string, want int) {
	t.Helper()
	if res.StatusCode != want {
		t.Fatalf("%s %s: status %d, want %d\n%s", res.Request.Method, res.Request.URL.Path, res.StatusCode, want, body)
	}
}

func wantRedirect(t *testing.T, res *http.Response, body, prefix string) string {
	t.Helper()
	wantStatus(t, res, body, http.StatusSeeOther)
	loc := res.Header.Get("Location")
	if !strings.HasPrefix(loc, prefix) {
		t.Fatalf("redirected to %q, want %q...", loc, prefix)
	}
	return loc
}

func (b *browser) signInDemo(subject string) {
	b.s.t.Helper()
	b.get("/sign-in")
	res, body := b.post("/sign-in/demo", url.Values{"person": {subject}})
	wantRedirect(b.s.t, res, body, "/")
}

// signedIn reports whether the browser's session signs someone in.
func (b *browser) signedIn() bool {
	b.s.t.Helper()
	_, body := b.get("/sign-in")
	return strings.Contains(body, "Signed in as")
}

func (b *browser) cookie(name string) *http.Cookie {
	u, _ := url.Parse(b.s.url)
	for _, c := range b.jar.Cookies(u) {
		if c.Name == name {
			return c
		}
	}
	return nil
}

func TestDemoSignInSessionAndSignOut(t *testing.T) {
	t.Parallel()
	s := newSite(t)
	b := s.browser()
	res, body := b.get("/")
	wantRedirect(t, res, body, "/sign-in")

	res, body = b.get("/sign-in")
	wantStatus(t, res, body, http.StatusOK)
	for _, want := range []string{"Bea Support", "Chris Chair", "Business support", `name="person"`} {
		if !strings.Contains(body, want) {
			t.Errorf("the demo sign-in page lacks %q", want)
		}
	}
	// Nobody chosen: the error summary names the field, and the page says Error in its title.
	res, body = b.post("/sign-in/demo", url.Values{})
	wantStatus(t, res, body, http.StatusUnprocessableEntity)
	for _, want := range []string{"<title>Error: ", `href="#person"`, "Select who you are signing in as.", `id="person-error"`} {
		if !strings.Contains(body, want) {
			t.Errorf("the refused sign-in lacks %q", want)
		}
	}

	res, body = b.post("/sign-in/demo", url.Values{"person": {"demo-bso"}})
	wantRedirect(t, res, body, web.StaffHome)
	var set *http.Cookie
	for _, c := range res.Cookies() {
		if c.Name == "__Host-convene" {
			set = c
		}
	}
	if set == nil || !set.Secure || !set.HttpOnly || set.SameSite != http.SameSiteLaxMode || set.Path != "/" || set.Domain != "" {
		t.Fatalf("session cookie %+v: want __Host-convene, Secure, HttpOnly, SameSite=Lax, Path=/, no Domain", set)
	}
	// The store keeps the token's hash, never the token.
	if _, err := s.store.Session(context.Background(), set.Value); service.ErrorCode(err) != service.ENOTFOUND {
		t.Errorf("the session is findable by its raw token: %v", err)
	}
	res, body = b.get("/sign-in")
	if !strings.Contains(body, "Signed in as <strong>Bea Support</strong>") {
		t.Fatalf("signed in, the page does not say who:\n%s", body)
	}
	// Staff go from / to their home page.
	res, body = b.get("/")
	wantRedirect(t, res, body, web.StaffHome)

	old := b.cookie("__Host-convene").Value
	res, body = b.post("/sign-out", nil)
	wantRedirect(t, res, body, "/sign-in")
	// Both are in the audit log, with who.
	admin := service.WithPrincipal(context.Background(), &service.Principal{Subject: "ada", Roles: []service.Role{service.RoleAdmin}})
	entries, err := s.app.ListAudit(admin, service.AuditFilter{Resource: "sessions", Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, e := range entries {
		if e.Actor.Subject == "demo-bso" {
			actions = append(actions, e.Action)
		}
	}
	if strings.Join(actions, ",") != "session.sign_out,session.sign_in" {
		t.Errorf("audit of the session: %v, want sign-out then sign-in (newest first)", actions)
	}
	// The old cookie no longer signs anyone in.
	other := s.browser()
	u, _ := url.Parse(s.url)
	other.jar.SetCookies(u, []*http.Cookie{{Name: "__Host-convene", Value: old, Path: "/", Secure: true}})
	if other.signedIn() {
		t.Fatal("a signed-out session still signs in")
	}
}

func TestSessionTimeouts(t *testing.T) {
	t.Parallel()
	s := newSite(t)
	signedIn := func(b *browser) bool { return b.signedIn() }
	// Idle: 30 minutes without a request ends the session.
	idle := s.browser()
	idle.signInDemo("demo-bso")
	s.clock.advance(29 * time.Minute)
	if !signedIn(idle) {
		t.Fatal("signed out after 29 idle minutes")
	}
	s.clock.advance(31 * time.Minute)
	if signedIn(idle) {
		t.Fatal("still signed in after 31 idle minutes")
	}
	// Absolute: 12 hours however busy.
	busy := s.browser()
	busy.signInDemo("demo-chair")
	for i := 0; i < 35; i++ { // 35 × 20 minutes = 11 h 40 min
		s.clock.advance(20 * time.Minute)
		if !signedIn(busy) {
			t.Fatalf("signed out after %s of activity", time.Duration(i+1)*20*time.Minute)
		}
	}
	s.clock.advance(21 * time.Minute)
	if signedIn(busy) {
		t.Fatal("still signed in after 12 hours")
	}
}

func TestFormsRefusedWithoutTokenOrFromAnotherSite(t *testing.T) {
	t.Parallel()
	s := newSite(t)
	b := s.browser()
	b.signInDemo("demo-bso")
	b.get("/sign-in")
	good := b.last

	cases := []struct {
		name  string
		token string
		hdr   []string
	}{
		{"no token", "-", nil},
		{"another session's token", "not-the-token", nil},
		{"cross-site post with the right token", good, []string{"Sec-Fetch-Site", "cross-site", "Origin", "https://evil.example"}},
		{"cross-origin post without fetch metadata", good, []string{"Sec-Fetch-Site", "", "Origin", "https://evil.example"}},
	}
	for _, c := range cases {
		form := url.Values{"csrf_token": {c.token}}
		if c.token == "-" {
			form = url.Values{}
		}
		res, body := b.do(http.MethodPost, "/sign-out", form, c.hdr...)
		if res.StatusCode != http.StatusForbidden {
			t.Errorf("%s: status %d, want 403\n%s", c.name, res.StatusCode, body)
		}
	}
	if !b.signedIn() {
		t.Fatal("a refused sign-out signed out")
	}
	// The same form from the site itself works.
	res, body := b.post("/sign-out", url.Values{"csrf_token": {good}})
	wantRedirect(t, res, body, "/sign-in")
	// Before sign-in, forms carry the anonymous token (a double submit).
	anon := s.browser()
	res, body = anon.do(http.MethodPost, "/sign-in/demo", url.Values{"person": {"demo-bso"}, "csrf_token": {"forged"}})
	wantStatus(t, res, body, http.StatusForbidden)
}

func TestPagesCarryAStrictPolicy(t *testing.T) {
	t.Parallel()
	s := newSite(t)
	b := s.browser()
	for _, path := range []string{"/sign-in", "/no-such-page"} {
		res, body := b.get(path)
		csp := res.Header.Get("Content-Security-Policy")
		for _, want := range []string{"default-src 'self'", "script-src 'self'", "frame-ancestors 'none'", "form-action 'self'"} {
			if !strings.Contains(csp, want) {
				t.Errorf("%s: CSP %q lacks %q", path, csp, want)
			}
		}
		if strings.Contains(csp, "unsafe-inline") {
			t.Errorf("%s: CSP allows inline: %q", path, csp)
		}
		if regexp.MustCompile(`<script(?:\s[^>]*)?>\s*[^<\s]`).MatchString(body) || strings.Contains(body, " style=") {
			t.Errorf("%s: the page has inline script or style", path)
		}
		if got := res.Header.Get("Cache-Control"); got != "no-store" {
			t.Errorf("%s: Cache-Control %q", path, got)
		}
	}
	res, body := b.get("/no-such-page")
	wantStatus(t, res, body, http.StatusNotFound)
	// GOV.UK Frontend's files are served from the npm package.
	for _, path := range []string{"/assets/govuk-frontend.min.css", "/assets/govuk-frontend.min.js", "/assets/fonts/bold-b542beb274-v2.woff2", "/static/init.js"} {
		res, body := b.get(path)
		if res.StatusCode != http.StatusOK || len(body) < 100 {
			t.Errorf("%s: status %d, %d bytes (is service/web/assets built? npm ci --prefix service/web/assets)", path, res.StatusCode, len(body))
		}
	}
	res, _ = b.get("/assets/package.json")
	if res.StatusCode != http.StatusNotFound {
		t.Errorf("/assets/ serves more than GOV.UK Frontend's files: %d", res.StatusCode)
	}
}

// Sessions live in the store: a second instance of the web app on the
// same store knows the session the first started, and a sign-out at one
// ends it at both.
func TestSessionsSharedByInstances(t *testing.T) {
	t.Parallel()
	s := newSite(t)
	second, err := web.New(web.Config{App: s.app, Demo: demoPeople, Now: s.clock.Now, PublicURL: s.url})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewTLSServer(second)
	t.Cleanup(srv.Close)
	s2 := *s
	s2.srv, s2.url = srv, srv.URL

	one := s.browser()
	one.signInDemo("demo-chair")
	two := s2.browser()
	u, _ := url.Parse(s2.url)
	two.jar.SetCookies(u, []*http.Cookie{one.cookie("__Host-convene")})
	_, body := two.get("/sign-in")
	if !strings.Contains(body, "Signed in as <strong>Chris Chair</strong>") {
		t.Fatalf("the second instance does not know the session:\n%s", body)
	}
	res, body := two.post("/sign-out", nil)
	wantRedirect(t, res, body, "/sign-in")
	if one.signedIn() {
		t.Fatal("signed out at one instance, still signed in at the other")
	}
}
