package web_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/zitadel/oidc/v3/example/server/exampleop"
	"github.com/zitadel/oidc/v3/example/server/storage"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
	"golang.org/x/text/language"

	"github.com/convene/convene/service"
	"github.com/convene/convene/service/policy"
	"github.com/convene/convene/service/web"
)

// The tests' OpenID provider is zitadel/oidc's: its OP package with the
// example storage and login page, started on loopback. Its users carry
// the council's groups and agency in claims given for the example client's custom scope,
// which Convene maps by configuration.

type users map[string]*storage.User

func (u users) GetUserByID(id string) *storage.User { return u[id] }
func (u users) GetUserByUsername(name string) *storage.User {
	for _, x := range u {
		if x.Username == name {
			return x
		}
	}
	return nil
}
func (u users) ExampleClientID() string { return "convene" }

// provStorage adds Convene's claims to the ID token.
type provStorage struct {
	*storage.Storage
	claims map[string]map[string]any
}

func (p *provStorage) SetUserinfoFromRequest(ctx context.Context, ui *oidc.UserInfo, req op.IDTokenRequest, scopes []string) error {
	if slices.Contains(scopes, storage.CustomScope) {
		for k, v := range p.claims[req.GetSubject()] {
			ui.AppendClaims(k, v)
		}
	}
	return p.Storage.SetUserinfoFromRequest(ctx, ui, req, scopes)
}

// provider is a running OpenID provider whose token responses a test can
// tamper with, as a forger on the network would.
type provider struct {
	url     string
	storage *provStorage
	mu      sync.Mutex
	tamper  func(claims jwt.MapClaims) (jwt.MapClaims, *rsa.PrivateKey)
}

// The example storage keeps clients in a package variable: register each
// once.
var registerMu sync.Mutex

func startProvider(t *testing.T, redirect string) *provider {
	t.Helper()
	p := &provider{}
	var handler http.Handler
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/oauth/token" {
			p.serveToken(t, handler, w, r)
			return
		}
		handler.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	p.url = srv.URL
	us := users{
		"u-bea": {ID: "u-bea", Username: "bea", Password: "correct horse", FirstName: "Bea", LastName: "Support", Email: "Bea.Support@council.example.org",
			EmailVerified: true, PreferredLanguage: language.English},
		"u-chris": {ID: "u-chris", Username: "chris", Password: "battery staple", FirstName: "Chris", LastName: "Chair", Email: "chris@council.example.org",
			EmailVerified: true, PreferredLanguage: language.English},
		"u-nobody": {ID: "u-nobody", Username: "nobody", Password: "no roles here", FirstName: "No", LastName: "Body", Email: "nobody@council.example.org",
			EmailVerified: true, PreferredLanguage: language.English},
	}
	registerMu.Lock()
	storage.RegisterClients(storage.WebClient("convene-"+strings.TrimPrefix(redirect, "https://"), "client-secret", redirect))
	st := storage.NewStorage(us)
	registerMu.Unlock()
	p.storage = &provStorage{Storage: st, claims: map[string]map[string]any{
		"u-bea":    {"groups": []string{"cp-business-support", "staff"}, "org": "CSC", "email": "Bea.Support@council.example.org", "name": "Bea Support"},
		"u-chris":  {"groups": []string{"cp-chairs"}, "org": "CSC", "email": "chris@council.example.org", "name": "Chris Chair"},
		"u-nobody": {"groups": []string{"staff"}, "org": "CSC", "email": "nobody@council.example.org", "name": "No Body"},
	}}
	handler = exampleop.SetupServer(p.url, p.storage, nil, false, op.WithAllowInsecure())
	return p
}

// serveToken passes the token request to the provider and, when the test
// says so, replaces the ID token in its answer.
func (p *provider) serveToken(t *testing.T, h http.Handler, w http.ResponseWriter, r *http.Request) {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	p.mu.Lock()
	tamper := p.tamper
	p.mu.Unlock()
	body := rec.Body.Bytes()
	if tamper != nil && rec.Code == http.StatusOK {
		var res map[string]any
		if err := json.Unmarshal(body, &res); err != nil {
			t.Errorf("token response: %v", err)
		}
		raw, _ := res["id_token"].(string)
		parsed, _, err := jwt.NewParser().ParseUnverified(raw, jwt.MapClaims{})
		if err != nil {
			t.Errorf("the provider's ID token: %v", err)
			return
		}
		claims, key := tamper(parsed.Claims.(jwt.MapClaims))
		forged := jwt.NewWithClaims(jwt.SigningMethodRS256, claims)
		forged.Header["kid"] = parsed.Header["kid"]
		signed, err := forged.SignedString(key)
		if err != nil {
			t.Errorf("signing: %v", err)
		}
		res["id_token"] = signed
		body, _ = json.Marshal(res)
	}
	for k, v := range rec.Header() {
		if k != "Content-Length" {
			w.Header()[k] = v
		}
	}
	w.WriteHeader(rec.Code)
	_, _ = w.Write(body)
}

// signingKey is the provider's own private key.
func (p *provider) signingKey(t *testing.T) *rsa.PrivateKey {
	k, err := p.storage.SigningKey(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return k.Key().(*rsa.PrivateKey)
}

func (p *provider) setTamper(f func(jwt.MapClaims) (jwt.MapClaims, *rsa.PrivateKey)) {
	p.mu.Lock()
	p.tamper = f
	p.mu.Unlock()
}

// oidcSite is a site signing staff in through a provider (no demo
// sign-in).
func oidcSite(t *testing.T) (*site, *provider) {
	t.Helper()
	var p *provider
	s := newSite(t, func(c *web.Config) {
		c.Demo = nil
		p = startProvider(t, c.PublicURL+"/sign-in/callback")
		c.OIDC = &web.OIDCConfig{Issuer: p.url, ClientID: "convene-" + strings.TrimPrefix(c.PublicURL, "https://") + "/sign-in/callback",
			ClientSecret: "client-secret", Scopes: []string{"profile", "email", storage.CustomScope},
			RolesClaim: "groups", AgencyClaim: "org",
			RoleMap:   map[string]service.Role{"cp-business-support": service.RoleBusinessSupport, "cp-chairs": service.RoleChair},
			AgencyMap: map[string]service.Agency{"CSC": policy.AgencySocialCare}}
	})
	return s, p
}

// signInOIDC walks the authorization code flow as a browser does: to the
// provider, its login page, back to Convene. It returns Convene's answer
// to the callback.
func (b *browser) signInOIDC(t *testing.T, username, password string) (*http.Response, string) {
	t.Helper()
	b.get("/sign-in")
	res, body := b.get("/sign-in/oidc?return=/today")
	if res.StatusCode != http.StatusFound {
		t.Fatalf("sign-in start: %d %s", res.StatusCode, body)
	}
	auth, _ := url.Parse(res.Header.Get("Location"))
	q := auth.Query()
	if q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") == "" || q.Get("nonce") == "" || q.Get("state") == "" {
		t.Fatalf("the authorization request lacks PKCE, nonce or state: %s", auth)
	}
	return b.followProvider(t, auth.String(), username, password)
}

// followProvider logs in at the provider and returns Convene's answer to
// where the provider sends the browser back.
func (b *browser) followProvider(t *testing.T, authURL, username, password string) (*http.Response, string) {
	t.Helper()
	return b.get(strings.TrimPrefix(b.loginAtProvider(t, authURL, username, password), b.s.url))
}

// loginAtProvider follows the provider's pages from the authorization
// request, logging in on its form, and returns the URL it sends the
// browser back to (Convene's callback, not yet opened).
func (b *browser) loginAtProvider(t *testing.T, authURL, username, password string) string {
	t.Helper()
	c := &http.Client{Jar: b.jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	loc := authURL
	for i := 0; i < 10; i++ {
		if strings.HasPrefix(loc, b.s.url) {
			return loc
		}
		var res *http.Response
		var err error
		if u, _ := url.Parse(loc); strings.HasSuffix(u.Path, "/login/username") {
			res, err = c.PostForm(loc, url.Values{"id": {u.Query().Get("authRequestID")}, "username": {username}, "password": {password}})
		} else {
			res, err = c.Get(loc)
		}
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		next, err := res.Location()
		if err != nil {
			t.Fatalf("the provider stopped at %s with %d", loc, res.StatusCode)
		}
		loc = next.String()
	}
	t.Fatal("too many redirects at the provider")
	return ""
}

func TestOIDCSignIn(t *testing.T) {
	s, _ := oidcSite(t)
	b := s.browser()
	_, body := b.get("/sign-in")
	if !strings.Contains(body, "Sign in with your council account") || strings.Contains(body, `name="person"`) {
		t.Fatalf("the sign-in page:\n%s", body)
	}
	res, body := b.signInOIDC(t, "bea", "correct horse")
	wantRedirect(t, res, body, "/today")
	_, body = b.get("/sign-in")
	if !strings.Contains(body, "Signed in as <strong>Bea Support</strong> (Business support)") {
		t.Fatalf("after signing in:\n%s", body)
	}
	// The chair's group maps to the chair role.
	c := s.browser()
	res, body = c.signInOIDC(t, "chris", "battery staple")
	wantRedirect(t, res, body, "/today")
	_, body = c.get("/sign-in")
	if !strings.Contains(body, "(Chair)") {
		t.Fatalf("the chair's roles:\n%s", body)
	}
	// An account with no Convene role is refused.
	n := s.browser()
	res, body = n.signInOIDC(t, "nobody", "no roles here")
	wantStatus(t, res, body, http.StatusForbidden)
	if !strings.Contains(body, "no Convene role") {
		t.Errorf("the refusal does not say why:\n%s", body)
	}
}

func TestOIDCRefusesForgedAndExpiredTokens(t *testing.T) {
	s, p := oidcSite(t)
	other, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name   string
		tamper func(jwt.MapClaims) (jwt.MapClaims, *rsa.PrivateKey)
	}{
		{"signed by another key", func(c jwt.MapClaims) (jwt.MapClaims, *rsa.PrivateKey) { return c, other }},
		{"forged roles, another key", func(c jwt.MapClaims) (jwt.MapClaims, *rsa.PrivateKey) {
			c["groups"] = []string{"cp-business-support"}
			return c, other
		}},
		{"expired, the provider's key", func(c jwt.MapClaims) (jwt.MapClaims, *rsa.PrivateKey) {
			c["iat"], c["exp"] = time.Now().Add(-2*time.Hour).Unix(), time.Now().Add(-time.Hour).Unix()
			return c, p.signingKey(t)
		}},
		{"for another client, the provider's key", func(c jwt.MapClaims) (jwt.MapClaims, *rsa.PrivateKey) {
			c["aud"] = []string{"someone-else"}
			return c, p.signingKey(t)
		}},
		{"another sign-in's nonce, the provider's key", func(c jwt.MapClaims) (jwt.MapClaims, *rsa.PrivateKey) {
			c["nonce"] = "replayed-nonce"
			return c, p.signingKey(t)
		}},
		{"another issuer, the provider's key", func(c jwt.MapClaims) (jwt.MapClaims, *rsa.PrivateKey) {
			c["iss"] = "https://idp.evil.example"
			return c, p.signingKey(t)
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p.setTamper(c.tamper)
			defer p.setTamper(nil)
			b := s.browser()
			res, body := b.signInOIDC(t, "bea", "correct horse")
			wantStatus(t, res, body, http.StatusUnauthorized)
			if b.signedIn() {
				t.Fatal("signed in with a refused token")
			}
		})
	}
	// Untampered, the same flow signs in: the refusals were the tokens'.
	b := s.browser()
	res, body := b.signInOIDC(t, "bea", "correct horse")
	wantRedirect(t, res, body, "/today")
}

func TestOIDCRefusesCrossSiteRequests(t *testing.T) {
	s, _ := oidcSite(t)
	victim, attacker := s.browser(), s.browser()

	// Login CSRF: the attacker starts a sign-in as themselves and sends
	// the victim's browser the provider's answer. The state is not the
	// victim's, so it is refused.
	attacker.get("/sign-in")
	res, body := attacker.get("/sign-in/oidc")
	loc := attacker.loginAtProvider(t, res.Header.Get("Location"), "bea", "correct horse")
	victim.get("/sign-in")
	victim.get("/sign-in/oidc") // the victim has a sign-in of their own under way
	res, body = victim.get(strings.TrimPrefix(loc, s.url))
	wantStatus(t, res, body, http.StatusUnauthorized)
	if victim.signedIn() {
		t.Fatal("the victim was signed in as the attacker")
	}

	// A form posted from another site is refused even with a valid token.
	b := s.browser()
	r, body := b.signInOIDC(t, "chris", "battery staple")
	wantRedirect(t, r, body, "/today")
	b.get("/sign-in")
	res, body = b.do(http.MethodPost, "/sign-out", url.Values{"csrf_token": {b.last}}, "Sec-Fetch-Site", "cross-site", "Origin", "https://evil.example")
	wantStatus(t, res, body, http.StatusForbidden)
	if !b.signedIn() {
		t.Fatal("a cross-site post signed the user out")
	}
}
