package httpapi_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/go-cmp/cmp"

	"github.com/convene/convene/service"
	"github.com/convene/convene/service/httpapi"
)

// signed makes a token with arbitrary claims and method.
func signed(t *testing.T, method jwt.SigningMethod, key any, claims jwt.MapClaims) string {
	t.Helper()
	tok, err := jwt.NewWithClaims(method, claims).SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func claims(mod func(jwt.MapClaims)) jwt.MapClaims {
	now := time.Now()
	c := jwt.MapClaims{"iss": issuer, "aud": audience, "sub": "u1", "roles": []string{"admin"},
		"iat": now.Unix(), "exp": now.Add(time.Hour).Unix()}
	if mod != nil {
		mod(c)
	}
	return c
}

// TestBadInputChangesNothing sends what a careless or hostile client might
// and checks each gets a clear problem document and leaves the store as it
// was.
func TestBadInputChangesNothing(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	bso := token(t, service.RoleBusinessSupport, "social_care")
	good, _ := json.Marshal(validPerson("good@example.org"))
	withField := func(k string, v any) map[string]any {
		p := validPerson("x@example.org")
		p[k] = v
		return p
	}
	noneToken := func() string {
		// jwt refuses to sign with none unless told this is unsafe.
		return signed(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, claims(nil))
	}()
	big := `{"name":"` + strings.Repeat("a", 10<<20) + `"}`

	tests := []struct {
		name   string
		tok    string
		body   any
		header []string
		status int
		fields []string
	}{
		{"malformed JSON", bso, `{"name": "Dana",`, nil, 400, nil},
		{"not an object", bso, `["a"]`, nil, 422, nil},
		{"empty body", bso, ``, nil, 422, nil},
		{"unknown field", bso, withField("favourite_colour", "blue"), nil, 422, []string{"favourite_colour"}},
		{"unknown nested field", bso, withField("calendar", map[string]any{"type": "ics", "url": "https://x.example.org/a.ics", "password": "hunter2"}), nil, 422, []string{"calendar.password"}},
		{"wrong type", bso, withField("seniority", "three"), nil, 422, []string{"seniority"}},
		{"Mongo operator in a value", bso, withField("email", map[string]any{"$ne": nil}), nil, 422, []string{"email"}},
		{"operator as a key", bso, `{"$where":"1","name":"x","email":"a@example.org","agency":"police","role":"r","seniority":1}`, nil, 422, []string{"$where"}},
		{"unknown agency", bso, withField("agency", "mi5"), nil, 422, []string{"agency"}},
		{"unknown working day", bso, withField("working_hours", map[string]any{"days": []string{"funday"}, "start": "09:00", "end": "17:00"}), nil, 422, []string{"working_hours"}},
		{"bad working hours", bso, withField("working_hours", map[string]any{"days": []string{"mon"}, "start": "17:00", "end": "09:00"}), nil, 422, []string{"working_hours"}},
		{"credentials in the calendar URL", bso, withField("calendar", map[string]any{"type": "caldav", "url": "https://u:p@cal.example.org/"}), nil, 422, []string{"calendar.url"}},
		{"credential reference to a service secret", bso, withField("calendar", map[string]any{"type": "caldav", "url": "https://cal.example.org/", "credential_ref": "env:CONVENE_JWT_SECRET"}), nil, 422, []string{"calendar.credential_ref"}},
		{"credential reference to a system file", bso, withField("calendar", map[string]any{"type": "caldav", "url": "https://cal.example.org/", "credential_ref": "file:/etc/shadow"}), nil, 422, []string{"calendar.credential_ref"}},
		{"10 MB body", bso, big, nil, 413, nil},
		{"wrong content type", bso, string(good), []string{"Content-Type", "text/plain"}, 415, nil},
		{"no token", "", good, nil, 401, nil},
		{"not a bearer token", "", good, []string{"Authorization", "Basic YTpi"}, 401, nil},
		{"alg none", noneToken, good, nil, 401, nil},
		{"expired", signed(t, jwt.SigningMethodHS256, secret, claims(func(c jwt.MapClaims) { c["exp"] = time.Now().Add(-time.Hour).Unix() })), good, nil, 401, nil},
		{"wrong audience", signed(t, jwt.SigningMethodHS256, secret, claims(func(c jwt.MapClaims) { c["aud"] = "someone-else" })), good, nil, 401, nil},
		{"wrong issuer", signed(t, jwt.SigningMethodHS256, secret, claims(func(c jwt.MapClaims) { c["iss"] = "evil" })), good, nil, 401, nil},
		{"wrong secret", signed(t, jwt.SigningMethodHS256, []byte(strings.Repeat("k", 40)), claims(nil)), good, nil, 401, nil},
		{"HS512 not allowed", signed(t, jwt.SigningMethodHS512, secret, claims(nil)), good, nil, 401, nil},
		{"no expiry", signed(t, jwt.SigningMethodHS256, secret, claims(func(c jwt.MapClaims) { delete(c, "exp") })), good, nil, 401, nil},
		{"unknown role", signed(t, jwt.SigningMethodHS256, secret, claims(func(c jwt.MapClaims) { c["roles"] = []string{"superuser"} })), good, nil, 401, nil},
		{"valid token, wrong role", token(t, service.RoleAgencyRep, "police"), good, nil, 403, nil},
		{"chair cannot write the directory", token(t, service.RoleChair, "social_care"), good, nil, 403, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := h.do("POST", "/v1/people", tt.tok, tt.body, tt.header...)
			p := problemOf(t, r, tt.status)
			if tt.fields != nil {
				if diff := cmp.Diff(tt.fields, fieldsOf(p)); diff != "" {
					t.Errorf("fields at fault (-want +got):\n%s\nbody: %s", diff, r.Body)
				}
			}
			if tt.status == 401 && r.Header.Get("WWW-Authenticate") == "" {
				t.Error("401 without WWW-Authenticate")
			}
		})
	}
	people, err := h.store.People(context.Background(), service.PersonFilter{Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	audit, err := h.store.Audit(context.Background(), service.AuditFilter{Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(people) != 0 || len(audit) != 0 {
		t.Errorf("after bad input: %d people and %d audit entries stored, want none", len(people), len(audit))
	}
	// And the service still works.
	if r := h.do("POST", "/v1/people", bso, good); r.Status != http.StatusCreated {
		t.Errorf("a good request after the bad ones: %d %s", r.Status, r.Body)
	}
}

func TestUnknownIDAndRoute(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	bso := token(t, service.RoleBusinessSupport, "social_care")
	problemOf(t, h.do("GET", "/v1/people/0123456789abcdef0123456789abcdef", bso, nil), http.StatusNotFound)
	p := problemOf(t, h.do("GET", "/v1/people/not-an-id", bso, nil), http.StatusUnprocessableEntity)
	if diff := cmp.Diff([]string{"id"}, fieldsOf(p)); diff != "" {
		t.Errorf("fields (-want +got):\n%s", diff)
	}
	problemOf(t, h.do("GET", "/v1/nothing-here", bso, nil), http.StatusNotFound)
	problemOf(t, h.do("DELETE", "/v1/people", bso, nil), http.StatusMethodNotAllowed)
	p = problemOf(t, h.do("GET", "/v1/people?limit=5000", bso, nil), http.StatusUnprocessableEntity)
	if diff := cmp.Diff([]string{"limit"}, fieldsOf(p)); diff != "" {
		t.Errorf("fields (-want +got):\n%s", diff)
	}
}

// TestPublicKeyTokens checks production keys: RS256 from a PEM file and
// ES256 from a JWKS file, and that the development HS256 path is closed
// when only public keys are configured.
func TestPublicKeyTokens(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKIXPublicKey(&rsaKey.PublicKey)
	pemFile := filepath.Join(dir, "keys.pem")
	if err := os.WriteFile(pemFile, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	b64 := func(n *big.Int) string { return base64.RawURLEncoding.EncodeToString(n.FillBytes(make([]byte, 32))) }
	jwks, _ := json.Marshal(map[string]any{"keys": []map[string]any{{"kty": "EC", "crv": "P-256", "kid": "ec1", "use": "sig",
		"x": b64(ecKey.PublicKey.X), "y": b64(ecKey.PublicKey.Y)}}})
	jwksFile := filepath.Join(dir, "jwks.json")
	if err := os.WriteFile(jwksFile, jwks, 0o600); err != nil {
		t.Fatal(err)
	}

	for _, tt := range []struct {
		name   string
		file   string
		good   string
		others []string
	}{
		{"RS256 from PEM", pemFile, signed(t, jwt.SigningMethodRS256, rsaKey, claims(nil)),
			[]string{signed(t, jwt.SigningMethodHS256, secret, claims(nil)), signed(t, jwt.SigningMethodES256, ecKey, claims(nil))}},
		{"ES256 from JWKS", jwksFile, func() string {
			tok := jwt.NewWithClaims(jwt.SigningMethodES256, claims(nil))
			tok.Header["kid"] = "ec1"
			s, _ := tok.SignedString(ecKey)
			return s
		}(), []string{signed(t, jwt.SigningMethodHS256, secret, claims(nil)), signed(t, jwt.SigningMethodRS256, rsaKey, claims(nil))}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, withAuth(httpapi.AuthConfig{Issuer: issuer, Audience: audience, KeysFile: tt.file}))
			if r := h.do("GET", "/v1/audit", tt.good, nil); r.Status != http.StatusOK {
				t.Errorf("token signed by the configured key: %d %s", r.Status, r.Body)
			}
			for i, tok := range tt.others {
				if r := h.do("GET", "/v1/audit", tok, nil); r.Status != http.StatusUnauthorized {
					t.Errorf("other token %d: status %d, want 401", i, r.Status)
				}
			}
		})
	}
}
