package httpapi

import (
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/labstack/echo/v4"

	"github.com/convene/convene/service"
)

// AuthConfig says which bearer tokens the service accepts.
type AuthConfig struct {
	Issuer   string
	Audience string
	// Secret, when set, accepts HS256 tokens signed with it (development).
	Secret []byte
	// KeysFile, when set, is a PEM file of RSA/ECDSA public keys or a JWKS
	// document; RS256 and ES256 tokens signed by those keys are accepted.
	KeysFile string
	// Leeway tolerates small clock differences on exp, nbf and iat.
	Leeway time.Duration
}

// Authenticator verifies bearer JWTs and turns their claims into a
// service.Principal.
type Authenticator struct {
	cfg     AuthConfig
	keys    []publicKey
	methods []string
	now     func() time.Time
}

type publicKey struct {
	kid string
	key crypto.PublicKey
}

// Claims are what a Convene token carries beyond the registered claims.
type Claims struct {
	jwt.RegisteredClaims
	Name   string   `json:"name,omitempty"`
	Email  string   `json:"email,omitempty"`
	Roles  []string `json:"roles"`
	Agency string   `json:"agency,omitempty"`
}

// NewAuthenticator loads keys and fixes the allowed algorithms: HS256 only
// with a secret, RS256/ES256 only with public keys, never "none".
func NewAuthenticator(cfg AuthConfig) (*Authenticator, error) {
	if cfg.Issuer == "" || cfg.Audience == "" {
		return nil, errors.New("JWT issuer and audience are required")
	}
	if cfg.Leeway == 0 {
		cfg.Leeway = 30 * time.Second
	}
	a := &Authenticator{cfg: cfg, now: time.Now}
	if len(cfg.Secret) > 0 {
		if len(cfg.Secret) < 32 {
			return nil, errors.New("the JWT secret must be at least 32 bytes")
		}
		a.methods = append(a.methods, "HS256")
	}
	if cfg.KeysFile != "" {
		keys, err := loadPublicKeys(cfg.KeysFile)
		if err != nil {
			return nil, fmt.Errorf("JWT keys %s: %w", cfg.KeysFile, err)
		}
		a.keys = keys
		for _, k := range keys {
			switch k.key.(type) {
			case *rsa.PublicKey:
				a.methods = append(a.methods, "RS256")
			case *ecdsa.PublicKey:
				a.methods = append(a.methods, "ES256")
			}
		}
		slices.Sort(a.methods)
		a.methods = slices.Compact(a.methods)
	}
	if len(a.methods) == 0 {
		return nil, errors.New("no JWT secret or public keys configured")
	}
	return a, nil
}

// Verify checks a compact JWT and returns its principal.
func (a *Authenticator) Verify(token string) (*service.Principal, error) {
	var c Claims
	_, err := jwt.ParseWithClaims(token, &c, a.key,
		jwt.WithValidMethods(a.methods),
		jwt.WithIssuer(a.cfg.Issuer),
		jwt.WithAudience(a.cfg.Audience),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(a.cfg.Leeway),
		jwt.WithTimeFunc(a.now),
	)
	if err != nil {
		return nil, service.Errorf(service.EUNAUTHORIZED, "the bearer token is not valid: %s", tokenProblem(err))
	}
	if c.Subject == "" {
		return nil, service.Errorf(service.EUNAUTHORIZED, "the bearer token has no subject")
	}
	p := &service.Principal{Subject: c.Subject, Name: c.Name, Email: strings.ToLower(c.Email), Agency: service.Agency(c.Agency)}
	for _, r := range c.Roles {
		if !slices.Contains(service.Roles, service.Role(r)) {
			return nil, service.Errorf(service.EUNAUTHORIZED, "the bearer token names an unknown role %q", r)
		}
		p.Roles = append(p.Roles, service.Role(r))
	}
	if c.Agency != "" && !service.ValidAgency(p.Agency) {
		return nil, service.Errorf(service.EUNAUTHORIZED, "the bearer token names an unknown agency %q", c.Agency)
	}
	return p, nil
}

// tokenProblem says what is wrong with a token without echoing it.
func tokenProblem(err error) string {
	switch {
	case errors.Is(err, jwt.ErrTokenExpired):
		return "it has expired"
	case errors.Is(err, jwt.ErrTokenInvalidAudience):
		return "it is for another audience"
	case errors.Is(err, jwt.ErrTokenInvalidIssuer):
		return "it is from another issuer"
	case errors.Is(err, jwt.ErrTokenNotValidYet), errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		return "it is not valid yet"
	case errors.Is(err, jwt.ErrTokenSignatureInvalid), errors.Is(err, jwt.ErrTokenUnverifiable):
		return "its signature or algorithm is not accepted"
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		return "a required claim is missing"
	case errors.Is(err, jwt.ErrTokenMalformed):
		return "it is malformed"
	}
	return "it could not be verified"
}

func (a *Authenticator) key(t *jwt.Token) (any, error) {
	switch t.Method.Alg() {
	case "HS256":
		return a.cfg.Secret, nil
	case "RS256", "ES256":
		kid, _ := t.Header["kid"].(string)
		var set jwt.VerificationKeySet
		for _, k := range a.keys {
			if kid != "" && k.kid != "" && k.kid != kid {
				continue
			}
			_, isRSA := k.key.(*rsa.PublicKey)
			if isRSA == (t.Method.Alg() == "RS256") {
				set.Keys = append(set.Keys, k.key)
			}
		}
		if len(set.Keys) == 0 {
			return nil, errors.New("no key for this token")
		}
		return set, nil
	}
	return nil, fmt.Errorf("algorithm %s not accepted", t.Method.Alg())
}

// Mint signs a token for p with an HS256 secret. The service uses it for
// development tokens only; production tokens come from an identity provider.
func Mint(secret []byte, issuer, audience string, p service.Principal, ttl time.Duration, now time.Time) (string, error) {
	roles := make([]string, len(p.Roles))
	for i, r := range p.Roles {
		roles[i] = string(r)
	}
	c := Claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer: issuer, Subject: p.Subject, Audience: jwt.ClaimStrings{audience},
			IssuedAt: jwt.NewNumericDate(now), NotBefore: jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(now.Add(ttl)),
		},
		Name: p.Name, Email: p.Email, Roles: roles, Agency: string(p.Agency),
	}
	return jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(secret)
}

// authenticate requires a valid bearer token and, when roles are given, one
// of them (403 otherwise). It puts the principal in the request context.
// A client address with too many failed authentications in the last minute
// is refused (429) before its token is looked at, so that tokens cannot be
// tried at speed.
func (s *Server) authenticate(roles ...service.Role) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			client := clientKey(c)
			if limited, retry := s.authFailures.limited(client); limited {
				return tooMany(c, retry, "failed sign-ins")
			}
			h := c.Request().Header.Get("Authorization")
			scheme, token, ok := strings.Cut(h, " ")
			if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
				s.authFailures.add(client)
				return service.Errorf(service.EUNAUTHORIZED, "send a bearer token in the Authorization header")
			}
			p, err := s.auth.Verify(strings.TrimSpace(token))
			if err != nil {
				s.authFailures.add(client)
				return err
			}
			if len(roles) > 0 && !p.Has(roles...) {
				return service.Errorf(service.EFORBIDDEN, "this needs one of the roles %v", roles)
			}
			r := c.Request()
			c.SetRequest(r.WithContext(service.WithPrincipal(r.Context(), p)))
			return next(c)
		}
	}
}

// loadPublicKeys reads a JWKS document or a PEM file of public keys (or
// certificates).
func loadPublicKeys(path string) ([]publicKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if t := strings.TrimSpace(string(b)); strings.HasPrefix(t, "{") {
		return parseJWKS(b)
	}
	var keys []publicKey
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			break
		}
		var k any
		switch blk.Type {
		case "PUBLIC KEY":
			k, err = x509.ParsePKIXPublicKey(blk.Bytes)
		case "RSA PUBLIC KEY":
			k, err = x509.ParsePKCS1PublicKey(blk.Bytes)
		case "CERTIFICATE":
			var cert *x509.Certificate
			if cert, err = x509.ParseCertificate(blk.Bytes); err == nil {
				k = cert.PublicKey
			}
		default:
			continue
		}
		if err != nil {
			return nil, err
		}
		switch k.(type) {
		case *rsa.PublicKey, *ecdsa.PublicKey:
			keys = append(keys, publicKey{key: k})
		}
	}
	if len(keys) == 0 {
		return nil, errors.New("no RSA or ECDSA public keys found")
	}
	return keys, nil
}

type jwk struct {
	Kty string `json:"kty"`
	Kid string `json:"kid"`
	Use string `json:"use"`
	Alg string `json:"alg"`
	N   string `json:"n"`
	E   string `json:"e"`
	Crv string `json:"crv"`
	X   string `json:"x"`
	Y   string `json:"y"`
}

// parseJWKS reads RSA and P-256 signing keys from a JWK Set (RFC 7517).
func parseJWKS(b []byte) ([]publicKey, error) {
	var set struct {
		Keys []jwk `json:"keys"`
	}
	if err := json.Unmarshal(b, &set); err != nil {
		return nil, fmt.Errorf("JWKS: %w", err)
	}
	var keys []publicKey
	for i, k := range set.Keys {
		if k.Use != "" && k.Use != "sig" {
			continue
		}
		dec := base64.RawURLEncoding.DecodeString
		switch k.Kty {
		case "RSA":
			n, err1 := dec(k.N)
			e, err2 := dec(k.E)
			if err := errors.Join(err1, err2); err != nil || len(e) > 4 {
				return nil, fmt.Errorf("JWKS key %d: bad RSA parameters", i)
			}
			keys = append(keys, publicKey{kid: k.Kid, key: &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}})
		case "EC":
			if k.Crv != "P-256" {
				continue
			}
			x, err1 := dec(k.X)
			y, err2 := dec(k.Y)
			if err := errors.Join(err1, err2); err != nil {
				return nil, fmt.Errorf("JWKS key %d: bad EC parameters", i)
			}
			if len(x) != 32 || len(y) != 32 {
				return nil, fmt.Errorf("JWKS key %d: bad P-256 coordinates", i)
			}
			// ecdh checks the point is on the curve before we trust it.
			if _, err := ecdh.P256().NewPublicKey(append(append([]byte{4}, x...), y...)); err != nil {
				return nil, fmt.Errorf("JWKS key %d: %w", i, err)
			}
			pk := &ecdsa.PublicKey{Curve: elliptic.P256(), X: new(big.Int).SetBytes(x), Y: new(big.Int).SetBytes(y)}
			keys = append(keys, publicKey{kid: k.Kid, key: pk})
		}
	}
	if len(keys) == 0 {
		return nil, errors.New("JWKS has no RSA or P-256 signing keys")
	}
	return keys, nil
}
