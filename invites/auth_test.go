package invites

import (
	"bufio"
	"bytes"
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-message/textproto"
	"github.com/emersion/go-msgauth/dkim"
)

// dkimKey is a signing key and the DNS name and TXT record that publish it.
type dkimKey struct {
	domain, selector string
	signer           crypto.Signer
}

func (k dkimKey) record(t testing.TB) (name, value string) {
	t.Helper()
	switch pub := k.signer.Public().(type) {
	case ed25519.PublicKey:
		return k.selector + "._domainkey." + k.domain, "v=DKIM1; k=ed25519; p=" + base64.StdEncoding.EncodeToString(pub)
	case *rsa.PublicKey:
		der, err := x509.MarshalPKIXPublicKey(pub)
		if err != nil {
			t.Fatal(err)
		}
		return k.selector + "._domainkey." + k.domain, "v=DKIM1; k=rsa; p=" + base64.StdEncoding.EncodeToString(der)
	}
	t.Fatalf("unsupported key %T", k.signer)
	return "", ""
}

func newEd25519(t testing.TB, domain, selector string) dkimKey {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return dkimKey{domain, selector, priv}
}

// sign signs raw as k with relaxed canonicalization, as mail systems do.
func (k dkimKey) sign(t testing.TB, raw []byte) []byte {
	t.Helper()
	var out bytes.Buffer
	err := dkim.Sign(&out, bytes.NewReader(raw), &dkim.SignOptions{
		Domain: k.domain, Selector: k.selector, Signer: k.signer,
		HeaderCanonicalization: dkim.CanonicalizationRelaxed, BodyCanonicalization: dkim.CanonicalizationRelaxed,
		HeaderKeys: []string{"From", "To", "Subject", "Date", "Message-ID", "MIME-Version", "Content-Type"},
	})
	if err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

// priyaReply is Priya's acceptance as her client would send it, From her
// address, unsigned.
func priyaReply(t testing.TB, from string) []byte {
	t.Helper()
	ics, err := (&Builder{Now: fixedClock(goldenNow)}).Reply(summerMeeting(t), "priya.patel@police.example.uk", PartStatAccepted, "")
	if err != nil {
		t.Fatal(err)
	}
	return []byte("From: DS Priya Patel <" + from + ">\r\n" +
		"To: convene@council.example.gov.uk\r\n" +
		"Subject: Accepted: Strategy discussion\r\n" +
		"Date: Fri, 10 Jul 2026 10:15:12 +0100\r\n" +
		"Message-ID: <reply-1@police.example.uk>\r\n" +
		"MIME-Version: 1.0\r\n" +
		"Content-Type: text/calendar; charset=UTF-8; method=REPLY\r\n\r\n" + string(ics))
}

// withHeaders puts fields on top of a message, as relays do.
func withHeaders(raw []byte, fields ...string) []byte {
	var b bytes.Buffer
	for _, f := range fields {
		b.WriteString(f + "\r\n")
	}
	b.Write(raw)
	return b.Bytes()
}

const gateway = "mx.council.example.gov.uk"

func TestAuthenticate(t *testing.T) {
	t.Parallel()
	police := newEd25519(t, "police.example.uk", "s2026")
	policeMail := newEd25519(t, "mail.police.example.uk", "relay")
	lookalike := newEd25519(t, "police.example.com", "s1")
	evil := newEd25519(t, "evil.example", "s1")
	unpublished := newEd25519(t, "police.example.uk", "gone")
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	nhs := dkimKey{"nhs.example.net", "rsa2048", rsaKey}

	records := map[string]string{}
	for _, k := range []dkimKey{police, policeMail, lookalike, evil, nhs} {
		name, value := k.record(t)
		records[name] = value
	}
	resolver := startDNS(t, records)

	// The DNS server is real: check it serves the long RSA record whole.
	if txt, err := resolver.LookupTXT(context.Background(), "rsa2048._domainkey.nhs.example.net"); err != nil || len(txt) != 1 || len(txt[0]) < 300 {
		t.Fatalf("dnsmasq TXT lookup: %d records, %v", len(txt), err)
	}

	priya := "priya.patel@police.example.uk"
	reply := priyaReply(t, priya)
	signed := police.sign(t, reply)
	cfg := AuthConfig{TrustedAuthServIDs: []string{gateway}, Resolver: resolver}

	tests := []struct {
		name   string
		raw    []byte
		cfg    AuthConfig
		pass   bool
		method AuthMethod
		domain string
		reason string // a substring of Reason
	}{
		{"DKIM by the From domain", signed, cfg, true, AuthDKIM, "police.example.uk", "verified"},
		{"DKIM by a subdomain of the From domain", policeMail.sign(t, reply), cfg, true, AuthDKIM, "mail.police.example.uk", ""},
		{"DKIM with an RSA key in a split TXT record", nhs.sign(t, priyaReply(t, "ola.health@nhs.example.net")), cfg, true, AuthDKIM, "nhs.example.net", ""},
		{"DKIM, From in another case", police.sign(t, priyaReply(t, "Priya.Patel@Police.Example.UK")), cfg, true, AuthDKIM, "police.example.uk", ""},
		{"forged From, signed by the forger's own domain", evil.sign(t, reply), cfg, false, "", "", "not aligned"},
		{"unaligned look-alike DKIM domain", lookalike.sign(t, reply), cfg, false, "", "", "not aligned"},
		{"From changed after signing", bytes.Replace(signed, []byte("<"+priya+">"), []byte("<sam.chair@police.example.uk>"), 1), cfg, false, "", "", "dkim d=police.example.uk"},
		{"body modified after signing", bytes.Replace(signed, []byte("PARTSTAT=ACCEPTED"), []byte("PARTSTAT=DECLINED"), 1), cfg, false, "", "", "body hash"},
		{"key not in DNS", unpublished.sign(t, reply), cfg, false, "", "", "dkim d=police.example.uk"},
		{"unsigned, no gateway results", reply, cfg, false, "", "", "no DKIM signature"},
		{"two From fields", withHeaders(signed, "From: sam.chair@police.example.uk"), cfg, false, "", "", "2 From fields"},
		{"two addresses in From", bytes.Replace(reply, []byte("From: DS Priya Patel <"+priya+">"), []byte("From: "+priya+", mallory@evil.example"), 1), cfg, false, "", "", "exactly one address"},

		{"gateway: dmarc=pass", withHeaders(reply,
			"Authentication-Results: "+gateway+"; dkim=pass header.d=police.example.uk; dmarc=pass (p=reject dis=none) header.from=police.example.uk"),
			cfg, true, AuthGatewayDMARC, "police.example.uk", gateway},
		{"gateway: dkim=pass aligned, Gmail style header.i and comments", withHeaders(reply,
			"Authentication-Results: "+gateway+";\r\n       dkim=pass (2048-bit key; unprotected) header.i=@police.example.uk header.s=s2026 header.b=AbCdEf;\r\n       spf=pass (council.example.gov.uk: domain of priya.patel@police.example.uk designates 192.0.2.10 as permitted sender) smtp.mailfrom=priya.patel@police.example.uk"),
			cfg, true, AuthGatewayDKIM, "police.example.uk", ""},
		{"gateway: authserv-id in another case", withHeaders(reply,
			"Authentication-Results: MX.Council.Example.GOV.UK; dmarc=pass header.from=police.example.uk"),
			cfg, true, AuthGatewayDMARC, "police.example.uk", ""},
		{"gateway: dmarc=fail", withHeaders(reply,
			"Authentication-Results: "+gateway+"; dkim=none; spf=pass smtp.mailfrom=police.example.uk; dmarc=fail (p=none) header.from=police.example.uk"),
			cfg, false, "", "", "dmarc=fail"},
		{"gateway: spf=pass alone", withHeaders(reply,
			"Authentication-Results: "+gateway+"; spf=pass smtp.mailfrom=priya.patel@police.example.uk"),
			cfg, false, "", "", "no DKIM signature"},
		{"gateway: dkim=pass for an unaligned domain", withHeaders(reply,
			"Authentication-Results: "+gateway+"; dkim=pass header.d=mailer.example.net; dmarc=none"),
			cfg, false, "", "", "not aligned"},
		{"gateway: dmarc=pass for another From domain", withHeaders(reply,
			"Authentication-Results: "+gateway+"; dmarc=pass header.from=evil.example"),
			cfg, false, "", "", "not the From domain"},
		{"untrusted authserv-id", withHeaders(reply,
			"Authentication-Results: mx.evil.example; dkim=pass header.d=police.example.uk; dmarc=pass header.from=police.example.uk"),
			cfg, false, "", "", "no Authentication-Results from a trusted gateway"},
		{"no trusted gateways configured", withHeaders(reply,
			"Authentication-Results: "+gateway+"; dmarc=pass header.from=police.example.uk"),
			AuthConfig{Resolver: resolver}, false, "", "", "no DKIM signature"},
		{"forged pass below the gateway's fail", withHeaders(reply,
			"Authentication-Results: "+gateway+"; dkim=none; dmarc=fail header.from=police.example.uk",
			"Received: from relay.evil.example (relay.evil.example [203.0.113.9]) by "+gateway,
			"Authentication-Results: "+gateway+"; dkim=pass header.d=police.example.uk; dmarc=pass header.from=police.example.uk"),
			cfg, false, "", "", "dmarc=fail"},
		{"forged pass directly below the gateway's fail", withHeaders(reply,
			"Authentication-Results: "+gateway+"; dmarc=fail header.from=police.example.uk",
			"Authentication-Results: "+gateway+"; dmarc=pass header.from=police.example.uk"),
			cfg, false, "", "", "dmarc=fail"},
		{"gateway writing two fields, the second passes", withHeaders(reply,
			"Authentication-Results: "+gateway+"; dmarc=pass header.from=police.example.uk",
			"Authentication-Results: "+gateway+"; dkim=pass header.d=police.example.uk",
			"Authentication-Results: "+gateway+"; spf=pass smtp.mailfrom=police.example.uk"),
			AuthConfig{TrustedAuthServIDs: []string{gateway}, GatewayFields: 2, Resolver: resolver}, true, AuthGatewayDMARC, "police.example.uk", ""},
		{"gateway's fail, but our own DKIM check passes", withHeaders(signed,
			"Authentication-Results: "+gateway+"; dkim=temperror header.d=police.example.uk"),
			cfg, true, AuthDKIM, "police.example.uk", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := Authenticate(context.Background(), tt.raw, tt.cfg)
			if got.Pass != tt.pass || got.Method != tt.method || got.Domain != tt.domain {
				t.Errorf("Authenticate = pass %v by %q for %q (%s); want pass %v by %q for %q",
					got.Pass, got.Method, got.Domain, got.Reason, tt.pass, tt.method, tt.domain)
			}
			if !strings.Contains(got.Reason, tt.reason) {
				t.Errorf("Reason %q does not say %q", got.Reason, tt.reason)
			}
			if got.Reason == "" {
				t.Errorf("no Reason")
			}
			if got.Temporary {
				t.Errorf("a permanent failure is marked temporary: %s", got.Reason)
			}
		})
	}

	// A DNS server that does not answer is a temporary failure: the
	// sender should try again, not lose the reply.
	deadPort := freeUDPPort(t)
	dead := &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, net.JoinHostPort("127.0.0.1", strconv.Itoa(deadPort)))
	}}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if got := Authenticate(ctx, signed, AuthConfig{Resolver: dead}); got.Pass || !got.Temporary {
		t.Errorf("DNS down: pass %v, temporary %v (%s); want a temporary failure", got.Pass, got.Temporary, got.Reason)
	}

	// A message over the size limit is refused before anything is parsed.
	if got := Authenticate(context.Background(), signed, AuthConfig{Resolver: resolver, MaxMessageBytes: 100}); got.Pass {
		t.Errorf("an oversized message passed")
	}
}

func TestWithoutLengthLimited(t *testing.T) {
	t.Parallel()
	raw := "DKIM-Signature: v=1; a=ed25519-sha256; d=police.example.uk; s=a; l=120; h=from; bh=x; b=y\r\n" +
		"DKIM-Signature: v=1; a=ed25519-sha256; d=police.example.uk; s=b; h=from; bh=x; b=y\r\n" +
		"From: a@police.example.uk\r\n\r\nbody\r\n"
	h, err := textproto.ReadHeader(bufio.NewReader(strings.NewReader(raw)))
	if err != nil {
		t.Fatal(err)
	}
	h2, n := withoutLengthLimited(h)
	if n != 1 || h2.FieldsByKey("DKIM-Signature").Len() != 1 || !strings.Contains(h2.Get("DKIM-Signature"), "s=b") {
		t.Errorf("dropped %d, kept %q", n, h2.Values("DKIM-Signature"))
	}
	if h.FieldsByKey("DKIM-Signature").Len() != 2 {
		t.Errorf("the original header was changed")
	}
}

func TestStripComments(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"dkim=pass (2048-bit key) header.d=a.example", "dkim=pass   header.d=a.example"},
		{"x (nested (comment) here) y", "x   y"},
		{`x "quoted (not a comment)" y`, `x "quoted (not a comment)" y`},
		{`x (escaped \) paren) y`, "x   y"},
		{"unclosed (comment", "unclosed "},
	}
	for _, tt := range tests {
		if got := stripComments(tt.in); strings.Join(strings.Fields(got), " ") != strings.Join(strings.Fields(tt.want), " ") {
			t.Errorf("stripComments(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestAligned(t *testing.T) {
	t.Parallel()
	tests := []struct {
		d, from string
		want    bool
	}{
		{"police.example.uk", "police.example.uk", true},
		{"mail.police.example.uk", "police.example.uk", true},
		{"police.example.uk", "mail.police.example.uk", true},
		{"POLICE.example.uk.", "police.example.uk", true},
		{"police.example.com", "police.example.uk", false},
		{"example.co.uk", "other.co.uk", false},
		{"co.uk", "police.co.uk", false},
		{"", "police.example.uk", false},
	}
	for _, tt := range tests {
		if got := aligned(tt.d, tt.from); got != tt.want {
			t.Errorf("aligned(%q, %q) = %v, want %v", tt.d, tt.from, got, tt.want)
		}
	}
}
