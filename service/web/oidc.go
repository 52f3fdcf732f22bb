package web

import (
	"context"
	"crypto/subtle"
	"errors"
	"net/http"
	"slices"
	"strings"
	"sync"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/convene/convene/service"
)

// OIDCConfig is the council's identity provider (OpenID Connect,
// authorization code flow with PKCE) and how its claims map to Convene's
// roles and agencies.
type OIDCConfig struct {
	Issuer, ClientID, ClientSecret string
	// RedirectURL is where the provider sends people back (default
	// PublicURL + "/sign-in/callback").
	RedirectURL string
	// Scopes asked for besides openid (default profile and email); a
	// provider that puts roles in the ID token only for a scope of its
	// own needs it here.
	Scopes []string
	// RolesClaim and AgencyClaim name the claims (default "roles" and
	// "agency"); a roles claim may be a string or a list. Claims are read
	// from the verified ID token, then from the userinfo endpoint.
	RolesClaim, AgencyClaim string
	// RoleMap maps a claim's values to roles (e.g. the council's group
	// "cp-business-support" to business_support); with none, values that
	// are role names are taken as they are. AgencyMap likewise.
	RoleMap   map[string]service.Role
	AgencyMap map[string]service.Agency
	// HTTPClient talks to the provider (default http.DefaultClient).
	HTTPClient *http.Client
}

// oidcClient signs staff in through the provider. Discovery happens at the
// first sign-in (and again after a failure), so the service starts while
// the provider is away.
type oidcClient struct {
	cfg OIDCConfig

	mu       sync.Mutex
	provider *oidc.Provider
}

func newOIDCClient(_ context.Context, cfg OIDCConfig, publicURL string) (*oidcClient, error) {
	if cfg.Issuer == "" || cfg.ClientID == "" {
		return nil, errors.New("web: OIDC needs an issuer and a client id")
	}
	if cfg.RedirectURL == "" {
		if publicURL == "" {
			return nil, errors.New("web: OIDC needs CONVENE_PUBLIC_URL (or CONVENE_OIDC_REDIRECT_URL) for its redirect URI")
		}
		cfg.RedirectURL = strings.TrimRight(publicURL, "/") + "/sign-in/callback"
	}
	if cfg.Scopes == nil {
		cfg.Scopes = []string{"profile", "email"}
	}
	if cfg.RolesClaim == "" {
		cfg.RolesClaim = "roles"
	}
	if cfg.AgencyClaim == "" {
		cfg.AgencyClaim = "agency"
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = http.DefaultClient
	}
	return &oidcClient{cfg: cfg}, nil
}

func (o *oidcClient) ctx(ctx context.Context) context.Context {
	return oidc.ClientContext(ctx, o.cfg.HTTPClient)
}

// discover returns the provider's configuration, fetching it once.
func (o *oidcClient) discover(ctx context.Context) (*oidc.Provider, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.provider != nil {
		return o.provider, nil
	}
	p, err := oidc.NewProvider(o.ctx(ctx), o.cfg.Issuer)
	if err != nil {
		return nil, &service.Error{Code: service.EUNAVAILABLE, Message: "the council's sign-in service did not answer", Err: err}
	}
	o.provider = p
	return p, nil
}

func (o *oidcClient) oauth(p *oidc.Provider) *oauth2.Config {
	return &oauth2.Config{ClientID: o.cfg.ClientID, ClientSecret: o.cfg.ClientSecret, RedirectURL: o.cfg.RedirectURL,
		Endpoint: p.Endpoint(), Scopes: append([]string{oidc.ScopeOpenID}, o.cfg.Scopes...)}
}

// oidcStart sends the browser to the provider, with a state and a nonce
// kept in a session that is not signed in yet, and a PKCE challenge.
func (s *Server) oidcStart(w http.ResponseWriter, r *http.Request) error {
	if s.oidc == nil {
		return service.Errorf(service.ENOTFOUND, "sign-in through the identity provider is not set up")
	}
	p, err := s.oidc.discover(r.Context())
	if err != nil {
		return err
	}
	pending := &service.Session{OIDCState: newToken(), OIDCNonce: newToken(), OIDCVerifier: oauth2.GenerateVerifier(),
		ReturnTo: safeReturn(r.URL.Query().Get("return"))}
	if err := s.startSession(w, r, pending); err != nil {
		return err
	}
	u := s.oidc.oauth(p).AuthCodeURL(pending.OIDCState, oidc.Nonce(pending.OIDCNonce), oauth2.S256ChallengeOption(pending.OIDCVerifier))
	http.Redirect(w, r, u, http.StatusFound)
	return nil
}

// oidcCallback takes the provider's answer: the state must be this
// browser's, the code is exchanged with the PKCE verifier, and the ID
// token must be signed by the provider, for this client, unexpired, and
// carry this sign-in's nonce. Only then is a session started, under a new
// id.
func (s *Server) oidcCallback(w http.ResponseWriter, r *http.Request) error {
	if s.oidc == nil {
		return service.Errorf(service.ENOTFOUND, "sign-in through the identity provider is not set up")
	}
	refuse := func(why string, err error) error {
		s.log.WarnContext(r.Context(), "web: OIDC sign-in refused", "why", why, "err", err)
		return service.Errorf(service.EUNAUTHORIZED, "the sign-in could not be completed; sign in again")
	}
	sess := sessionFrom(r.Context())
	q := r.URL.Query()
	if sess == nil || sess.Confirmed || sess.OIDCState == "" {
		return refuse("no sign-in under way in this browser", nil)
	}
	// Whatever happens next, this state is used up.
	defer func() { _ = s.sessions.DeleteSession(context.WithoutCancel(r.Context()), sess.ID) }()
	if subtle.ConstantTimeCompare([]byte(q.Get("state")), []byte(sess.OIDCState)) != 1 {
		return refuse("state does not match", nil)
	}
	if e := q.Get("error"); e != "" {
		return refuse("the provider answered "+e, errors.New(q.Get("error_description")))
	}
	p, err := s.oidc.discover(r.Context())
	if err != nil {
		return err
	}
	ctx := s.oidc.ctx(r.Context())
	tok, err := s.oidc.oauth(p).Exchange(ctx, q.Get("code"), oauth2.VerifierOption(sess.OIDCVerifier))
	if err != nil {
		return refuse("code exchange", err)
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		return refuse("no ID token", nil)
	}
	idt, err := p.Verifier(&oidc.Config{ClientID: s.oidc.cfg.ClientID, Now: s.cfg.Now}).Verify(ctx, raw)
	if err != nil {
		return refuse("ID token", err)
	}
	if subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(sess.OIDCNonce)) != 1 {
		return refuse("nonce does not match", nil)
	}
	claims := map[string]any{}
	if err := idt.Claims(&claims); err != nil {
		return refuse("ID token claims", err)
	}
	if p.UserInfoEndpoint() != "" {
		if ui, err := p.UserInfo(ctx, oauth2.StaticTokenSource(tok)); err == nil && ui.Subject == idt.Subject {
			more := map[string]any{}
			if ui.Claims(&more) == nil {
				for k, v := range more {
					if _, have := claims[k]; !have {
						claims[k] = v
					}
				}
			}
		}
	}
	principal, err := s.oidc.principal(idt.Subject, claims)
	if err != nil {
		claimed := &service.Principal{Subject: idt.Subject}
		if e, ok := claims["email"].(string); ok {
			claimed.Email = e
		}
		_ = s.app.AuditSignIn(service.WithPrincipal(r.Context(), claimed), service.SignInRefused, "")
		return err
	}
	if err := s.startSession(w, r, &service.Session{Principal: *principal, Confirmed: true}); err != nil {
		return err
	}
	if err := s.app.AuditSignIn(service.WithPrincipal(r.Context(), principal), service.SignInOIDC, ""); err != nil {
		return err
	}
	http.Redirect(w, r, or(sess.ReturnTo, homeFor(&service.Session{Principal: *principal})), http.StatusSeeOther)
	return nil
}

// principal maps the claims to a Convene user: roles and agency by the
// configured maps. An account with no Convene role is refused.
func (o *oidcClient) principal(subject string, claims map[string]any) (*service.Principal, error) {
	str := func(k string) string { v, _ := claims[k].(string); return strings.TrimSpace(v) }
	p := &service.Principal{Subject: subject, Email: strings.ToLower(str("email")), Name: str("name")}
	if p.Name == "" {
		p.Name = strings.TrimSpace(str("given_name") + " " + str("family_name"))
	}
	if p.Name == "" {
		p.Name = p.Email
	}
	var values []string
	switch v := claims[o.cfg.RolesClaim].(type) {
	case string:
		values = strings.Fields(strings.ReplaceAll(v, ",", " "))
	case []any:
		for _, x := range v {
			if s, ok := x.(string); ok {
				values = append(values, s)
			}
		}
	}
	for _, v := range values {
		role, ok := o.cfg.RoleMap[v]
		if len(o.cfg.RoleMap) == 0 {
			role, ok = service.Role(v), true
		}
		if ok && role != service.RoleMailGateway && slices.Contains(service.Roles, role) && !slices.Contains(p.Roles, role) {
			p.Roles = append(p.Roles, role)
		}
	}
	if a := str(o.cfg.AgencyClaim); a != "" {
		agency, ok := o.cfg.AgencyMap[a]
		if len(o.cfg.AgencyMap) == 0 {
			agency, ok = service.Agency(a), true
		}
		if ok && service.ValidAgency(agency) {
			p.Agency = agency
		}
	}
	if len(p.Roles) == 0 {
		return nil, service.Errorf(service.EFORBIDDEN, "your council account has no Convene role; ask your administrator")
	}
	if p.Email == "" {
		return nil, service.Errorf(service.EFORBIDDEN, "your council account has no email address; ask your administrator")
	}
	return p, nil
}
