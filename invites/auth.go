package invites

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sort"
	"strings"

	"github.com/emersion/go-message"
	"github.com/emersion/go-message/mail"
	"github.com/emersion/go-message/textproto"
	"github.com/emersion/go-msgauth/authres"
	"github.com/emersion/go-msgauth/dkim"
	"golang.org/x/net/publicsuffix"
)

// Defaults for AuthConfig.
const (
	DefaultMaxSignatures = 5
	maxAuthReasons       = 8
	maxAuthReasonBytes   = 160
)

// AuthConfig says whom Authenticate believes.
type AuthConfig struct {
	// TrustedAuthServIDs are the authserv-ids (RFC 8601 §2.2) of the mail
	// gateways whose Authentication-Results fields are believed: the
	// gateway that receives mail from the Internet and relays it to the
	// InboundServer. Compared ignoring case. Empty: no field is believed,
	// and only a DKIM signature Authenticate verifies itself counts.
	TrustedAuthServIDs []string
	// GatewayFields is how many Authentication-Results fields the gateway
	// adds to each message under its authserv-id (OpenDKIM and OpenDMARC
	// behind one Postfix add one each: 2). Only that many, counted from
	// the top, are read (RFC 8601 §5: the gateway's own fields are the
	// topmost; any further field with its authserv-id lower down came from
	// outside and is a forgery). 1 if 0.
	GatewayFields int
	// LookupTXT looks up the DNS TXT records of a name, for DKIM keys.
	// If nil, Resolver's LookupTXT is used.
	LookupTXT func(ctx context.Context, name string) ([]string, error)
	// Resolver is used when LookupTXT is nil; net.DefaultResolver if nil.
	Resolver *net.Resolver
	// MaxSignatures bounds the DKIM signatures verified (each costs a DNS
	// query and a public-key operation); DefaultMaxSignatures if 0.
	MaxSignatures int
	// MaxMessageBytes bounds the message; DefaultMaxMessageBytes if 0.
	MaxMessageBytes int
}

// AuthMethod says how a message's sender was authenticated.
type AuthMethod string

// How Authenticate passed a message.
const (
	// AuthGatewayDMARC: a trusted gateway's Authentication-Results shows
	// dmarc=pass for the From domain.
	AuthGatewayDMARC AuthMethod = "gateway dmarc"
	// AuthGatewayDKIM: a trusted gateway's Authentication-Results shows
	// dkim=pass for a domain aligned with From.
	AuthGatewayDKIM AuthMethod = "gateway dkim"
	// AuthDKIM: Authenticate verified a DKIM signature by a domain
	// aligned with From.
	AuthDKIM AuthMethod = "dkim"
)

// AuthResult is Authenticate's verdict.
type AuthResult struct {
	// Pass is true when the From address's domain is vouched for.
	Pass   bool
	Method AuthMethod
	// From is the From address judged, lower-cased; "" if there was no
	// single usable one.
	From string
	// Domain is the domain that vouched for From: the DKIM d= or the
	// DMARC header.from.
	Domain string
	// Reason says why the message passed or, more usefully, why not. It
	// names domains and results, never the message's content.
	Reason string
	// Temporary is set on a failure that may pass later (a DKIM key that
	// DNS could not return just now): the service can refuse the message
	// with a 4xx so the sender retries, instead of dropping it.
	Temporary bool
}

// Authenticate decides whether the sender of a raw RFC 5322 message is who
// its From field says, so that a reply is applied only when it is. It
// passes the message when
//
//   - a trusted gateway's Authentication-Results (RFC 8601; see
//     AuthConfig.TrustedAuthServIDs and GatewayFields) shows dmarc=pass for
//     the From domain, or dkim=pass for a domain aligned with it; or
//   - a DKIM signature (RFC 6376) that Authenticate verifies itself, with
//     keys from DNS, was made by a domain aligned with From.
//
// Aligned is DMARC's relaxed alignment (RFC 7489 §3.1.1): the same
// organisational domain, found with the Public Suffix List, so a signature
// by mail.police.example.uk vouches for jane@police.example.uk but one by
// police.example.com does not. A message without exactly one From address,
// or one the gateway failed, or whose signatures fail, are not aligned or
// are absent, does not pass; Reason says which.
//
// SPF alone never passes a message: it authenticates the envelope sender,
// which the recipient never sees, not From. A DKIM signature with a body
// length limit (l=) is not counted, since anyone could append to the body
// it covers (RFC 6376 §8.2).
func Authenticate(ctx context.Context, raw []byte, cfg AuthConfig) AuthResult {
	maxBytes := cfg.MaxMessageBytes
	if maxBytes <= 0 {
		maxBytes = DefaultMaxMessageBytes
	}
	if len(raw) > maxBytes {
		return AuthResult{Reason: fmt.Sprintf("message is %d bytes, limit %d", len(raw), maxBytes)}
	}
	br := bufio.NewReader(bytes.NewReader(raw))
	h, err := textproto.ReadHeader(br)
	if err != nil {
		return AuthResult{Reason: "unreadable header"}
	}
	from, err := singleFrom(h)
	if err != nil {
		return AuthResult{Reason: err.Error()}
	}
	fromDomain := domainOf(from)
	res := AuthResult{From: from}
	var reasons []string

	if r, ok := gatewayVerdict(h, cfg, fromDomain, &reasons); ok {
		r.From = from
		return r
	}

	h2, dropped := withoutLengthLimited(h)
	if dropped > 0 {
		reasons = append(reasons, fmt.Sprintf("%d DKIM signature(s) with l= ignored", dropped))
	}
	if h2.Len() > 0 && h2.Has("DKIM-Signature") {
		var msg bytes.Buffer
		if err := textproto.WriteHeader(&msg, h2); err != nil {
			return AuthResult{From: from, Reason: "unreadable header"}
		}
		if _, err := io.Copy(&msg, br); err != nil {
			return AuthResult{From: from, Reason: "unreadable body"}
		}
		max := cfg.MaxSignatures
		if max <= 0 {
			max = DefaultMaxSignatures
		}
		lookup := txtLookup(ctx, cfg)
		verifs, err := dkim.VerifyWithOptions(&msg, &dkim.VerifyOptions{LookupTXT: lookup, MaxVerifications: max})
		if err != nil && !errors.Is(err, dkim.ErrTooManySignatures) {
			reasons = append(reasons, "DKIM: "+err.Error())
		}
		temporary := false
		for _, v := range verifs {
			d := strings.ToLower(strings.TrimSuffix(v.Domain, "."))
			switch {
			case v.Err != nil:
				if dkim.IsTempFail(v.Err) {
					temporary = true
				}
				reasons = append(reasons, fmt.Sprintf("dkim d=%.64s: %v", d, v.Err))
			case !aligned(d, fromDomain):
				reasons = append(reasons, fmt.Sprintf("dkim d=%.64s passes but is not aligned with From", d))
			default:
				return AuthResult{Pass: true, Method: AuthDKIM, From: from, Domain: d,
					Reason: fmt.Sprintf("DKIM signature by %s verified", d)}
			}
		}
		res.Temporary = temporary
	} else {
		reasons = append(reasons, "no DKIM signature")
	}
	if len(reasons) > maxAuthReasons {
		reasons = append(reasons[:maxAuthReasons], "…")
	}
	for i, r := range reasons {
		// Library errors may quote the header they choke on.
		if len(r) > maxAuthReasonBytes {
			reasons[i] = strings.ToValidUTF8(r[:maxAuthReasonBytes], "") + "…"
		}
	}
	res.Reason = "not authenticated: " + strings.Join(reasons, "; ")
	return res
}

// singleFrom returns the one address of the one From field, lower-cased.
func singleFrom(h textproto.Header) (string, error) {
	if n := h.FieldsByKey("From").Len(); n != 1 {
		return "", fmt.Errorf("%d From fields, want exactly one", n)
	}
	mh := mail.Header{Header: message.Header{Header: h}}
	list, err := mh.AddressList("From")
	if err != nil || len(list) != 1 {
		return "", errors.New("From does not hold exactly one address")
	}
	addr, err := ValidAddress(list[0].Address)
	if err != nil {
		return "", errors.New("From address is not valid")
	}
	return addr, nil
}

// gatewayVerdict reads the trusted gateway's Authentication-Results.
func gatewayVerdict(h textproto.Header, cfg AuthConfig, fromDomain string, reasons *[]string) (AuthResult, bool) {
	if len(cfg.TrustedAuthServIDs) == 0 {
		return AuthResult{}, false
	}
	perGateway := cfg.GatewayFields
	if perGateway <= 0 {
		perGateway = 1
	}
	seen := map[string]int{}
	found := false
	fields := h.FieldsByKey("Authentication-Results")
	for fields.Next() {
		id, results, err := authres.Parse(stripComments(fields.Value()))
		id = strings.ToLower(id)
		if !containsFold(cfg.TrustedAuthServIDs, id) {
			continue
		}
		seen[id]++
		if seen[id] > perGateway {
			// Below the gateway's own fields: added before the message
			// reached the gateway, so by anyone.
			continue
		}
		found = true
		if err != nil {
			*reasons = append(*reasons, fmt.Sprintf("%.64s: unreadable Authentication-Results", id))
			continue
		}
		// DMARC first: it is the stronger statement about From.
		sort.SliceStable(results, func(i, j int) bool {
			_, di := results[i].(*authres.DMARCResult)
			_, dj := results[j].(*authres.DMARCResult)
			return di && !dj
		})
		for _, r := range results {
			switch r := r.(type) {
			case *authres.DMARCResult:
				hf := strings.ToLower(strings.TrimSpace(r.From))
				switch {
				case r.Value != authres.ResultPass:
					*reasons = append(*reasons, fmt.Sprintf("%.64s: dmarc=%.16s", id, r.Value))
				case hf != "" && hf != fromDomain:
					*reasons = append(*reasons, fmt.Sprintf("%.64s: dmarc=pass for %.64s, not the From domain", id, hf))
				default:
					return AuthResult{Pass: true, Method: AuthGatewayDMARC, Domain: fromDomain,
						Reason: fmt.Sprintf("%s: dmarc=pass", id)}, true
				}
			case *authres.DKIMResult:
				d := strings.ToLower(strings.TrimSpace(r.Domain))
				if d == "" {
					d = domainOf(strings.TrimSpace(r.Identifier))
				}
				switch {
				case r.Value != authres.ResultPass:
					*reasons = append(*reasons, fmt.Sprintf("%.64s: dkim=%.16s", id, r.Value))
				case !aligned(d, fromDomain):
					*reasons = append(*reasons, fmt.Sprintf("%.64s: dkim=pass for %.64s, not aligned with From", id, d))
				default:
					return AuthResult{Pass: true, Method: AuthGatewayDKIM, Domain: d,
						Reason: fmt.Sprintf("%s: dkim=pass for %s", id, d)}, true
				}
			}
		}
	}
	if !found {
		*reasons = append(*reasons, "no Authentication-Results from a trusted gateway")
	}
	return AuthResult{}, false
}

// aligned reports whether domain d may vouch for an address in from:
// the same domain, or the same organisational domain (RFC 7489 §3.2),
// which is the public suffix plus one label.
func aligned(d, from string) bool {
	d = strings.ToLower(strings.TrimSuffix(d, "."))
	from = strings.ToLower(strings.TrimSuffix(from, "."))
	if d == "" || from == "" {
		return false
	}
	if d == from {
		return true
	}
	od, err1 := publicsuffix.EffectiveTLDPlusOne(d)
	of, err2 := publicsuffix.EffectiveTLDPlusOne(from)
	return err1 == nil && err2 == nil && od == of
}

// withoutLengthLimited returns h without DKIM-Signature fields that carry
// an l= tag, and how many it dropped.
func withoutLengthLimited(h textproto.Header) (textproto.Header, int) {
	h = h.Copy()
	dropped := 0
	fields := h.FieldsByKey("DKIM-Signature")
	for fields.Next() {
		for _, tag := range strings.Split(fields.Value(), ";") {
			if k, _, ok := strings.Cut(tag, "="); ok && strings.TrimSpace(k) == "l" {
				fields.Del()
				dropped++
				break
			}
		}
	}
	return h, dropped
}

// txtLookup adapts the configured resolver to go-msgauth, which takes no
// context.
func txtLookup(ctx context.Context, cfg AuthConfig) func(string) ([]string, error) {
	if cfg.LookupTXT != nil {
		return func(name string) ([]string, error) { return cfg.LookupTXT(ctx, name) }
	}
	r := cfg.Resolver
	if r == nil {
		r = net.DefaultResolver
	}
	return func(name string) ([]string, error) { return r.LookupTXT(ctx, name) }
}

// stripComments removes RFC 5322 comments, "(...)" with nesting and
// quoted pairs, outside quoted strings. Authentication-Results carry them
// ("dkim=pass (2048-bit key)"), and authres reads them as if they were
// results.
func stripComments(s string) string {
	var b strings.Builder
	depth := 0
	quoted := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\' && (depth > 0 || quoted) && i+1 < len(s):
			if depth == 0 {
				b.WriteByte(c)
				b.WriteByte(s[i+1])
			}
			i++
		case quoted:
			b.WriteByte(c)
			if c == '"' {
				quoted = false
			}
		case c == '(':
			depth++
		case c == ')' && depth > 0:
			depth--
			if depth == 0 {
				b.WriteByte(' ')
			}
		case depth > 0:
		case c == '"':
			quoted = true
			b.WriteByte(c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}
