package main

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/convene/convene/service"
	"github.com/convene/convene/service/admit"
	"github.com/convene/convene/service/web"
)

// newWebApp builds the web app: demo sign-in in demo mode, the identity
// provider when CONVENE_OIDC_ISSUER is set.
func newWebApp(cfg config, app *service.App, log *slog.Logger) (*web.Server, error) {
	wc := web.Config{App: app, Log: log, AssetsDir: cfg.WebAssets, PublicURL: cfg.PublicURL}
	if cfg.demo() {
		wc.Demo = demoSignIns()
	}
	if cfg.OIDC.Issuer != "" {
		o := cfg.OIDC
		wc.OIDC = &o
	}
	return web.New(wc)
}

// demoSignIns are the people the demo sign-in page offers: the demo users
// (business support, the chair, a police inspector, the administrator),
// then everyone else in the demo directory, as agency representatives (a
// chair in the directory as a chair).
func demoSignIns() []service.Principal {
	var out []service.Principal
	seen := map[string]bool{}
	for _, u := range demoUsers {
		out = append(out, u.Principal)
		seen[u.Principal.Email] = true
	}
	for _, p := range demoPeople {
		if seen[p.Email] {
			continue
		}
		role := service.RoleAgencyRep
		if p.Chair {
			role = service.RoleChair
		}
		local, _, _ := strings.Cut(p.Email, "@")
		out = append(out, service.Principal{Subject: "demo-" + local, Name: p.Name, Email: p.Email, Roles: []service.Role{role}, Agency: p.Agency})
	}
	return out
}

// mount sends the API's paths to the API and every other path to the web
// app, which also opens the answer links of invitations (GET /v1/rsvp/...).
func mount(api, site http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := r.URL.Path
		switch {
		case strings.HasPrefix(p, "/v1/rsvp/") && (r.Method == http.MethodGet || r.Method == http.MethodHead):
			// The answer links in invitations open the web app's
			// invitation page (behind a one-time code).
			site.ServeHTTP(w, r)
		case strings.HasPrefix(p, "/v1/"), p == "/v1", strings.HasPrefix(p, "/openapi"), p == "/healthz", p == "/readyz", p == "/metrics":
			api.ServeHTTP(w, r)
		default:
			site.ServeHTTP(w, r)
		}
	})
}

// loadWebConfig reads the web app's settings (see config.WebAssets and
// config.OIDC).
func loadWebConfig(c *config, getenv func(string) string) []error {
	var errs []error
	c.WebAssets = getenv("CONVENE_WEB_ASSETS")
	o := web.OIDCConfig{Issuer: getenv("CONVENE_OIDC_ISSUER"), ClientID: getenv("CONVENE_OIDC_CLIENT_ID"),
		ClientSecret: getenv("CONVENE_OIDC_CLIENT_SECRET"), RedirectURL: getenv("CONVENE_OIDC_REDIRECT_URL"),
		RolesClaim: or(getenv("CONVENE_OIDC_ROLES_CLAIM"), "roles"), AgencyClaim: or(getenv("CONVENE_OIDC_AGENCY_CLAIM"), "agency")}
	if o.Issuer != "" && o.ClientID == "" {
		errs = append(errs, errors.New("CONVENE_OIDC_ISSUER needs CONVENE_OIDC_CLIENT_ID (and usually CONVENE_OIDC_CLIENT_SECRET)"))
	}
	for _, pair := range splitList(getenv("CONVENE_OIDC_ROLE_MAP")) {
		k, v, ok := strings.Cut(pair, "=")
		role := service.Role(strings.TrimSpace(v))
		if !ok || !(&service.Principal{Roles: service.Roles}).Has(role) || role == service.RoleMailGateway {
			errs = append(errs, fmt.Errorf("CONVENE_OIDC_ROLE_MAP: %q is not claim-value=role with a role such as business_support", pair))
			continue
		}
		if o.RoleMap == nil {
			o.RoleMap = map[string]service.Role{}
		}
		o.RoleMap[strings.TrimSpace(k)] = role
	}
	for _, pair := range splitList(getenv("CONVENE_OIDC_AGENCY_MAP")) {
		k, v, ok := strings.Cut(pair, "=")
		agency := service.Agency(strings.TrimSpace(v))
		if !ok || !service.ValidAgency(agency) {
			errs = append(errs, fmt.Errorf("CONVENE_OIDC_AGENCY_MAP: %q is not claim-value=agency with an agency such as police", pair))
			continue
		}
		if o.AgencyMap == nil {
			o.AgencyMap = map[string]service.Agency{}
		}
		o.AgencyMap[strings.TrimSpace(k)] = agency
	}
	// The identity provider is another server: a sign-in waiting on it
	// gives its place among the requests being served up meanwhile.
	o.HTTPClient = &http.Client{Transport: admit.Transport{}, Timeout: 30 * time.Second}
	c.OIDC = o
	return errs
}
