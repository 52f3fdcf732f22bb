package web

import (
	"context"
	"net/http"

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
	// RolesClaim and AgencyClaim name the ID token's claims (default
	// "roles" and "agency"); a roles claim may be a string or a list.
	RolesClaim, AgencyClaim string
	// RoleMap maps a claim's values to roles (e.g. the council's group
	// "cp-business-support" to business_support); with none, values that
	// are role names are taken as they are. AgencyMap likewise.
	RoleMap   map[string]service.Role
	AgencyMap map[string]service.Agency
	// HTTPClient talks to the provider (default http.DefaultClient).
	HTTPClient *http.Client
}

type oidcClient struct{}

func newOIDCClient(ctx context.Context, cfg OIDCConfig, publicURL string) (*oidcClient, error) {
	return &oidcClient{}, nil
}

func (s *Server) oidcStart(w http.ResponseWriter, r *http.Request) error {
	return service.Errorf(service.ENOTFOUND, "sign-in through the identity provider is not set up")
}

func (s *Server) oidcCallback(w http.ResponseWriter, r *http.Request) error {
	return service.Errorf(service.ENOTFOUND, "sign-in through the identity provider is not set up")
}
