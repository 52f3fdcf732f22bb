package calendar

import (
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
)

// Credential is a resolved secret for a calendar server: a user name and
// password for HTTP Basic authentication, or a bearer token. Its String
// method never shows the secret, so it is safe in logs.
type Credential struct {
	Username string
	Password string
	Token    string
}

// String describes the credential without revealing it.
func (c Credential) String() string {
	switch {
	case c.Token != "":
		return "bearer credential"
	case c.Username != "":
		return fmt.Sprintf("basic credential for %q", c.Username)
	}
	return "no credential"
}

// GoString keeps the secret out of %#v.
func (c Credential) GoString() string { return c.String() }

func (c Credential) apply(r *http.Request) {
	switch {
	case c.Token != "":
		r.Header.Set("Authorization", "Bearer "+c.Token)
	case c.Username != "" || c.Password != "":
		r.SetBasicAuth(c.Username, c.Password)
	}
}

// ErrNoCredential is returned when a credential reference names nothing.
var ErrNoCredential = errors.New("calendar: credential reference resolves to nothing")

// ResolveCredential turns a credential reference into a Credential, so that
// directories and requests name secrets without holding them:
//
//	env:NAME     the value of the environment variable NAME
//	file:/path   the contents of the file (trailing newline trimmed)
//
// The value is "user:password" for Basic authentication or "Bearer token".
// An empty reference resolves to no credential. getenv is the environment
// lookup (os.Getenv in production), injected so tests need not set the
// process environment.
func ResolveCredential(ref string, getenv func(string) string) (Credential, error) {
	if ref == "" {
		return Credential{}, nil
	}
	kind, name, ok := strings.Cut(ref, ":")
	if !ok || name == "" {
		return Credential{}, fmt.Errorf("calendar: credential reference %q is not env:NAME or file:/path", ref)
	}
	var value string
	switch kind {
	case "env":
		if getenv == nil {
			return Credential{}, fmt.Errorf("calendar: no environment to resolve %q", ref)
		}
		value = getenv(name)
	case "file":
		b, err := os.ReadFile(name)
		if err != nil {
			return Credential{}, fmt.Errorf("calendar: credential file: %w", err)
		}
		value = string(b)
	default:
		return Credential{}, fmt.Errorf("calendar: credential reference %q is not env:NAME or file:/path", ref)
	}
	value = strings.TrimRight(value, "\r\n")
	if value == "" {
		return Credential{}, fmt.Errorf("%w: %s", ErrNoCredential, ref)
	}
	if tok, ok := strings.CutPrefix(value, "Bearer "); ok {
		return Credential{Token: strings.TrimSpace(tok)}, nil
	}
	user, pass, ok := strings.Cut(value, ":")
	if !ok {
		return Credential{}, fmt.Errorf("calendar: credential %s is neither user:password nor Bearer token", ref)
	}
	return Credential{Username: user, Password: pass}, nil
}
