package invites

import (
	"errors"
	"fmt"
	"net/mail"
	"strings"
)

// Limits on an address (RFC 5321 §4.5.3.1): 64 octets of local part, 255
// of domain, and 254 in all, the most a forward path can carry.
const (
	maxLocalPart   = 64
	maxDomain      = 255
	maxAddressLen  = 254
	maxDomainLabel = 63
)

// ValidAddress checks that s is one bare email address (an RFC 5322
// addr-spec such as jane.doe@police.example.uk) and returns it lower-cased,
// ready to store and compare. It refuses what a form, a DELEGATED-TO or
// SENT-BY parameter or a directory might carry instead: a display name
// ("Jane <jane@x.example>"), a comment, a group ("team: a@x.example;"),
// several addresses, a missing local part or domain, a domain without a dot
// (a bare host name or "localhost"), an address literal ([192.0.2.1]),
// white space, control characters (CR and LF above all, which would let a
// value inject mail headers) and anything longer than RFC 5321 allows.
//
// Lower-casing the local part is what every mail system the service deals
// with does in practice; RFC 5321 lets a server tell case apart, but none
// that receives invitations does.
func ValidAddress(s string) (string, error) {
	if s == "" {
		return "", errors.New("invites: no email address")
	}
	if len(s) > maxAddressLen {
		return "", fmt.Errorf("invites: email address is %d characters, at most %d allowed", len(s), maxAddressLen)
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c == 0x7f {
			return "", errors.New("invites: email address contains white space or a control character")
		}
	}
	if strings.ContainsAny(s, "<>(),;:\"[]\\") {
		// Display names, comments, groups, lists, quoted local parts and
		// address literals: legal somewhere in RFC 5322, never in a bare
		// address the service stores.
		return "", errors.New("invites: email address must be a bare address, without a name, comment, group or quotes")
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Name != "" || a.Address != s {
		return "", errors.New("invites: not a valid email address")
	}
	at := strings.LastIndexByte(s, '@')
	local, domain := s[:at], s[at+1:]
	switch {
	case local == "" || domain == "":
		return "", errors.New("invites: email address needs a local part and a domain")
	case len(local) > maxLocalPart:
		return "", fmt.Errorf("invites: local part is %d characters, at most %d allowed", len(local), maxLocalPart)
	case len(domain) > maxDomain:
		return "", errors.New("invites: domain too long")
	}
	if !strings.Contains(domain, ".") {
		return "", errors.New("invites: the domain of an email address must have a dot")
	}
	for _, label := range strings.Split(domain, ".") {
		if label == "" || len(label) > maxDomainLabel || label[0] == '-' || label[len(label)-1] == '-' {
			return "", errors.New("invites: the domain of an email address is not a valid host name")
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c >= 0x80) {
				return "", errors.New("invites: the domain of an email address is not a valid host name")
			}
		}
	}
	return strings.ToLower(s), nil
}
