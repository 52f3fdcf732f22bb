package calendar

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"
)

// Credential is a resolved secret for a calendar server: a user name and
// password, answered to the server's HTTP Basic (RFC 7617) or Digest
// (RFC 7616) challenge, or a bearer token (RFC 6750), sent with every
// request. Its String method never shows the secret, so it is safe in logs.
//
// A credential is bound to one origin (scheme://host:port, see OriginOf):
// it is only ever sent to that origin, never to another URL and never after
// a redirect that leaves it. An empty Origin binds it to the origin of the
// URL of the source that holds it.
type Credential struct {
	Username string
	Password string
	Token    string
	// Origin is the origin the credential was configured for, such as
	// "https://dav.example.org:443"; empty means the source URL's origin.
	Origin string
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

func (c Credential) empty() bool { return c.Token == "" && c.Username == "" && c.Password == "" }

// BindTo returns the credential bound to the origin of rawURL.
func (c Credential) BindTo(rawURL string) (Credential, error) {
	o, err := OriginOf(rawURL)
	if err != nil {
		return Credential{}, err
	}
	c.Origin = o
	return c, nil
}

// OriginOf returns the origin of an http, https or webcal URL as
// credentials are bound to it (RFC 6454): the lower-case scheme, host and
// explicit port, as in "https://dav.example.org:443". webcal and webcals
// are fetched over https and have its origin.
func OriginOf(rawURL string) (string, error) {
	u, err := url.Parse(rawURL)
	if err != nil || u.Host == "" {
		return "", fmt.Errorf("calendar: %q is not an absolute URL", rawURL)
	}
	return origin(u)
}

func origin(u *url.URL) (string, error) {
	scheme := strings.ToLower(u.Scheme)
	port := u.Port()
	switch scheme {
	case "webcal", "webcals":
		scheme = "https"
	case "http", "https":
	default:
		return "", fmt.Errorf("calendar: %q has no http origin", u.Redacted())
	}
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[scheme]
	}
	host := strings.ToLower(strings.TrimSuffix(u.Hostname(), "."))
	if host == "" {
		return "", fmt.Errorf("calendar: %q has no host", u.Redacted())
	}
	return scheme + "://" + net.JoinHostPort(host, port), nil
}

// ErrNoCredential is returned when a credential reference names nothing.
var ErrNoCredential = errors.New("calendar: credential reference resolves to nothing")

// ResolveCredential turns a credential reference into a Credential, so that
// directories and requests name secrets without holding them:
//
//	env:NAME     the value of the environment variable NAME
//	file:/path   the contents of the file (trailing newline trimmed)
//
// The value is "user:password" for Basic or Digest authentication or
// "Bearer token". An empty reference resolves to no credential. getenv is
// the environment lookup (os.Getenv in production), injected so tests need
// not set the process environment. The credential has no Origin: the caller
// binds it (NewSource binds it to the source's URL).
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
