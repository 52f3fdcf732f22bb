package main

import (
	"context"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestWebAppMountedBesideTheAPI runs the binary in demo mode: the API's
// paths answer as the API, everything else is the web app, and the
// invitations' answer links open the web app's page.
func TestWebAppMountedBesideTheAPI(t *testing.T) {
	env := testEnv(t, "CONVENE_DEMO", "on")
	in := start(t, env)
	get := func(path string) (*http.Response, string) {
		t.Helper()
		res, err := http.Get(in.url + path)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res, string(b)
	}
	res, body := get("/sign-in")
	if res.StatusCode != http.StatusOK || !strings.Contains(body, "govuk-frontend.min.css") {
		t.Fatalf("/sign-in: %d\n%s", res.StatusCode, body)
	}
	// The demo users and the rest of the demo directory, each once.
	for _, who := range []string{"Bea Support", "Chris Chair", "Dana Inspector", "Ada Admin", "Nina Named-Nurse", "Ed Lead"} {
		if n := strings.Count(body, ">"+who+"<"); n != 1 {
			t.Errorf("the demo sign-in lists %s %d times", who, n)
		}
	}
	if csp := res.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") {
		t.Errorf("/sign-in CSP %q", csp)
	}
	res, body = get("/assets/govuk-frontend.min.css")
	if res.StatusCode != http.StatusOK || len(body) < 1000 {
		t.Errorf("GOV.UK Frontend's CSS: %d, %d bytes (npm ci --prefix service/web/assets)", res.StatusCode, len(body))
	}
	if code, _ := call(t, http.MethodGet, in.url+"/healthz", "", nil); code != http.StatusOK {
		t.Errorf("/healthz: %d", code)
	}
	code, problem := call(t, http.MethodGet, in.url+"/v1/people", "", nil)
	if code != http.StatusUnauthorized || problem["status"] == nil {
		t.Errorf("/v1/people without a token: %d %v, want the API's 401 problem", code, problem)
	}
	code, _ = call(t, http.MethodGet, in.url+"/v1/people", in.tokens["business_support"], nil)
	if code != http.StatusOK {
		t.Errorf("/v1/people with a token: %d", code)
	}
	// An answer link, even a broken one, is the web app's page (HTML),
	// not the API's old one.
	res, body = get("/v1/rsvp/not-a-token")
	if !strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") || !strings.Contains(body, "govuk-template") {
		t.Errorf("/v1/rsvp/...: %d %s\n%s", res.StatusCode, res.Header.Get("Content-Type"), body)
	}
}

// TestDemoSignInInChromiumOverHTTP signs in as `make run` is used: plain
// HTTP on 127.0.0.1, where Chromium still keeps the __Host- cookie (it
// treats loopback as a secure context).
func TestDemoSignInInChromiumOverHTTP(t *testing.T) {
	const chromium = "/usr/bin/chromium"
	if _, err := os.Stat(chromium); err != nil {
		t.Fatalf("Chromium is needed (apt-get install chromium): %v", err)
	}
	in := start(t, testEnv(t, "CONVENE_DEMO", "on"))
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(chromium), chromedp.NoSandbox, chromedp.UserDataDir(t.TempDir()))
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	ctx, stop := context.WithTimeout(ctx, 90*time.Second)
	defer stop()
	err := chromedp.Do(ctx,
		chromedp.Navigate(in.url+"/sign-in"),
		chromedp.WaitReady(chromedp.CSS(`input[value="demo-chair"]`)),
		chromedp.Click(chromedp.CSS(`input[value="demo-chair"]`)),
	)
	if err != nil {
		t.Fatalf("opening the sign-in page in Chromium: %v", err)
	}
	// The submit navigates: RunResponse returns once the next page has
	// loaded, so the wait below never queries the page being left.
	if _, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS(`form[action="/sign-in/demo"] button[type="submit"]`))); err != nil {
		t.Fatalf("signing in in Chromium: %v", err)
	}
	if err := chromedp.Do(ctx, chromedp.WaitReady(chromedp.CSS(`.convene-account__name`))); err != nil {
		t.Fatalf("after signing in in Chromium: %v", err)
	}
	text, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`.convene-account__name`)))
	if err != nil {
		t.Fatalf("signing in in Chromium: %v", err)
	}
	if !strings.Contains(text, "Chris Chair") {
		t.Fatalf("after signing in, the page says %q", text)
	}
}

func TestWebConfig(t *testing.T) {
	cases := []struct {
		name    string
		env     map[string]string
		wantErr string
		check   func(t *testing.T, c config)
	}{
		{"no provider", nil, "", func(t *testing.T, c config) {
			if c.OIDC.Issuer != "" || c.OIDC.RolesClaim != "roles" || c.OIDC.AgencyClaim != "agency" {
				t.Errorf("defaults %+v", c.OIDC)
			}
		}},
		{"a provider with its claims mapped", map[string]string{"CONVENE_OIDC_ISSUER": "https://login.council.example/v2.0", "CONVENE_OIDC_CLIENT_ID": "convene",
			"CONVENE_OIDC_CLIENT_SECRET": "s3cret", "CONVENE_OIDC_ROLES_CLAIM": "groups", "CONVENE_OIDC_AGENCY_CLAIM": "department",
			"CONVENE_OIDC_ROLE_MAP": "cp-bso=business_support, cp-chairs=chair", "CONVENE_OIDC_AGENCY_MAP": "Childrens Services=social_care"}, "",
			func(t *testing.T, c config) {
				o := c.OIDC
				if o.ClientSecret != "s3cret" || o.RolesClaim != "groups" || o.AgencyClaim != "department" ||
					o.RoleMap["cp-bso"] != "business_support" || o.RoleMap["cp-chairs"] != "chair" || o.AgencyMap["Childrens Services"] != "social_care" {
					t.Errorf("mapped %+v", o)
				}
			}},
		{"an issuer without a client", map[string]string{"CONVENE_OIDC_ISSUER": "https://login.council.example"}, "CONVENE_OIDC_CLIENT_ID", nil},
		{"a role that is not one", map[string]string{"CONVENE_OIDC_ROLE_MAP": "admins=superuser"}, "CONVENE_OIDC_ROLE_MAP", nil},
		{"the mail gateway's role is never given by sign-in", map[string]string{"CONVENE_OIDC_ROLE_MAP": "mx=mail_gateway"}, "CONVENE_OIDC_ROLE_MAP", nil},
		{"an agency that is not one", map[string]string{"CONVENE_OIDC_AGENCY_MAP": "Parks=parks"}, "CONVENE_OIDC_AGENCY_MAP", nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg, ok := loadConfigCase(t, c.env, c.wantErr)
			if !ok {
				return
			}
			c.check(t, cfg)
		})
	}
}
