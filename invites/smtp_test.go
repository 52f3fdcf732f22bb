package invites

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"net/netip"
	netsmtp "net/smtp"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-message/mail"
	"github.com/google/go-cmp/cmp"

	"github.com/convene/convene/invites/smtptest"
)

// smtpd is a running aiosmtpd server started by a test.
type smtpd struct {
	*smtptest.Server
	addr string
}

type smtpdOptions struct {
	cert, key       string
	requireStartTLS bool
	implicitTLS     bool
	user, password  string
}

// startSMTPD starts the test SMTP server (smtptest, on Debian's
// python3-aiosmtpd).
func startSMTPD(t *testing.T, o smtpdOptions) *smtpd {
	t.Helper()
	s := smtptest.Start(t, smtptest.Options{Cert: o.cert, Key: o.key, RequireStartTLS: o.requireStartTLS,
		ImplicitTLS: o.implicitTLS, User: o.user, Password: o.password})
	return &smtpd{Server: s, addr: s.Addr}
}

func freePort(t *testing.T) int { return smtptest.FreePort(t) }

// received is one message the server accepted.
type received struct {
	smtptest.Received
	raw []byte
}

// message waits for the server's nth message.
func (s *smtpd) message(t *testing.T, n int) received {
	t.Helper()
	r := s.Message(t, n)
	return received{Received: r, raw: r.Raw}
}

// selfSigned writes a certificate for 127.0.0.1 and returns its files and
// a pool that trusts it.
func selfSigned(t *testing.T) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "smtp.test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		DNSNames:     []string{"smtp.test"},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

func composeFor(t *testing.T, method Method, to Person) *Message {
	t.Helper()
	m := summerMeeting(t)
	if method == MethodCancel {
		m.Sequence = 1
	}
	c := Composer{Builder: Builder{Now: fixedClock(goldenNow)}}
	msg, err := c.Compose(Invitation{Method: method, Meeting: m, To: to})
	if err != nil {
		t.Fatal(err)
	}
	return msg
}

var priya = Person{Name: "DS Priya Patel", Email: "priya.patel@police.example.uk"}

// TestSMTPDelivery sends an invitation and a cancellation to a real SMTP
// server and checks what arrived. The server offers no STARTTLS, so this
// also takes the opportunistic path's fallback to plain SMTP.
func TestSMTPDelivery(t *testing.T) {
	srv := startSMTPD(t, smtpdOptions{})
	s := &SMTPSender{Config: SMTPConfig{Addr: srv.addr, LocalName: "convene.test"}}
	ctx := context.Background()

	for n, method := range []Method{MethodRequest, MethodCancel} {
		msg := composeFor(t, method, priya)
		reply, err := s.Send(ctx, msg)
		if err != nil {
			t.Fatalf("%s: Send: %v", method, err)
		}
		if want := "queued as " + strconv.Itoa(n+1); !strings.Contains(reply, want) {
			t.Errorf("%s: reply %q does not say %q", method, reply, want)
		}
		got := srv.message(t, n+1)
		if diff := cmp.Diff([]string{priya.Email}, got.RcptTos); diff != "" {
			t.Errorf("%s: RCPT TO (-want +got):\n%s", method, diff)
		}
		if got, want := got.MailFrom, "convene@council.example.gov.uk"; got != want {
			t.Errorf("%s: MAIL FROM %q, want %q", method, got, want)
		}

		in, err := mail.CreateReader(strings.NewReader(string(got.raw)))
		if err != nil {
			t.Fatal(err)
		}
		subject, _ := in.Header.Subject()
		wantSubject := "Strategy discussion — case CR-2026-0042"
		if method == MethodCancel {
			wantSubject = "Cancelled: " + wantSubject
		}
		if subject != wantSubject {
			t.Errorf("%s: Subject %q, want %q", method, subject, wantSubject)
		}
		if id, _ := in.Header.MessageID(); id != msg.ID {
			t.Errorf("%s: Message-ID %q, want %q", method, id, msg.ID)
		}
		for _, h := range []string{"From", "To", "Date", "Mime-Version"} {
			if in.Header.Get(h) == "" {
				t.Errorf("%s: no %s header", method, h)
			}
		}
		parts := mimeParts(t, got.raw)
		cal := parts[2]
		if cal.mediaType != "text/calendar" || cal.params["method"] != string(method) {
			t.Errorf("%s: calendar part %s method=%q", method, cal.mediaType, cal.params["method"])
		}
		body := string(cal.body)
		if !strings.Contains(body, "\r\nMETHOD:"+string(method)+"\r\n") {
			t.Errorf("%s: calendar has no METHOD:%s", method, method)
		}
		if !strings.Contains(strings.ReplaceAll(body, "\r\n ", ""), "ATTENDEE;CN=DS Priya Patel;CUTYPE=INDIVIDUAL;") {
			t.Errorf("%s: calendar has no ATTENDEE for Priya:\n%s", method, body)
		}
		if got.TLS {
			t.Errorf("%s: TLS on a server without STARTTLS?", method)
		}
	}
}

// TestSMTPStartTLSAuth proves the secure path: STARTTLS required by the
// server, certificate verified, AUTH over the encrypted connection.
func TestSMTPStartTLSAuth(t *testing.T) {
	cert, key, pool := selfSigned(t)
	srv := startSMTPD(t, smtpdOptions{cert: cert, key: key, requireStartTLS: true, user: "convene", password: "s3cret-for-tests"})
	ctx := context.Background()
	good := SMTPConfig{
		Addr: srv.addr, TLS: StartTLSRequired, TLSConfig: &tls.Config{RootCAs: pool},
		Username: "convene", Password: "s3cret-for-tests",
	}

	for _, mode := range []TLSMode{StartTLSRequired, StartTLSOpportunistic} {
		cfg := good
		cfg.TLS = mode
		if _, err := (&SMTPSender{Config: cfg}).Send(ctx, composeFor(t, MethodRequest, priya)); err != nil {
			t.Fatalf("mode %d: Send: %v", mode, err)
		}
	}
	for n := 1; n <= 2; n++ {
		got := srv.message(t, n)
		if !got.TLS || !got.Auth || got.Login == nil || *got.Login != "convene" {
			t.Errorf("message %d: tls=%v auth=%v login=%v, want TLS and AUTH as convene", n, got.TLS, got.Auth, got.Login)
		}
	}

	t.Run("wrong password", func(t *testing.T) {
		cfg := good
		cfg.Password = "wrong"
		_, err := (&SMTPSender{Config: cfg}).Send(ctx, composeFor(t, MethodRequest, priya))
		se := sendError(t, err)
		if !se.Permanent || se.Code != 535 {
			t.Errorf("error %v: want permanent 535", se)
		}
	})
	t.Run("no credentials", func(t *testing.T) {
		cfg := good
		cfg.Username, cfg.Password = "", ""
		_, err := (&SMTPSender{Config: cfg}).Send(ctx, composeFor(t, MethodRequest, priya))
		se := sendError(t, err)
		if !se.Permanent || se.Code != 530 {
			t.Errorf("error %v: want permanent 530 (authentication required)", se)
		}
	})
	t.Run("untrusted certificate", func(t *testing.T) {
		cfg := good
		cfg.TLSConfig = &tls.Config{}
		_, err := (&SMTPSender{Config: cfg}).Send(ctx, composeFor(t, MethodRequest, priya))
		if se := sendError(t, err); !se.Permanent {
			t.Errorf("error %v: want permanent", se)
		}
	})
}

func TestSMTPStartTLSRequiredButNotOffered(t *testing.T) {
	srv := startSMTPD(t, smtpdOptions{})
	s := &SMTPSender{Config: SMTPConfig{Addr: srv.addr, TLS: StartTLSRequired}}
	_, err := s.Send(context.Background(), composeFor(t, MethodRequest, priya))
	if se := sendError(t, err); !se.Permanent {
		t.Errorf("error %v: want permanent", se)
	}
	// Credentials are never sent in clear unless allowed.
	s = &SMTPSender{Config: SMTPConfig{Addr: srv.addr, Username: "u", Password: "p"}}
	_, err = s.Send(context.Background(), composeFor(t, MethodRequest, priya))
	if se := sendError(t, err); !se.Permanent || !strings.Contains(se.Message, "without TLS") {
		t.Errorf("error %v: want a permanent refusal to send credentials without TLS", se)
	}
}

func TestSMTPImplicitTLS(t *testing.T) {
	cert, key, pool := selfSigned(t)
	srv := startSMTPD(t, smtpdOptions{cert: cert, key: key, implicitTLS: true})
	s := &SMTPSender{Config: SMTPConfig{Addr: srv.addr, TLS: ImplicitTLS, TLSConfig: &tls.Config{RootCAs: pool}}}
	if _, err := s.Send(context.Background(), composeFor(t, MethodRequest, priya)); err != nil {
		t.Fatal(err)
	}
	if got := srv.message(t, 1); !got.TLS {
		t.Errorf("message arrived without TLS")
	}
}

func TestSMTPFailures(t *testing.T) {
	srv := startSMTPD(t, smtpdOptions{})
	s := &SMTPSender{Config: SMTPConfig{Addr: srv.addr}}
	ctx := context.Background()
	tests := []struct {
		to        string
		code      int
		enhanced  string
		permanent bool
	}{
		{"reject.me@police.example.uk", 550, "5.1.1", true},
		{"later@police.example.uk", 451, "4.3.0", false},
	}
	for _, tt := range tests {
		t.Run(tt.to, func(t *testing.T) {
			_, err := s.Send(ctx, composeFor(t, MethodRequest, Person{Email: tt.to}))
			se := sendError(t, err)
			if se.Code != tt.code || se.EnhancedCode != tt.enhanced || se.Permanent != tt.permanent || se.Temporary() == tt.permanent {
				t.Errorf("got code %d %q permanent=%v, want %d %q permanent=%v", se.Code, se.EnhancedCode, se.Permanent, tt.code, tt.enhanced, tt.permanent)
			}
			if se.Message == "" {
				t.Errorf("no server message in %v", se)
			}
		})
	}
	t.Run("connection refused", func(t *testing.T) {
		s := &SMTPSender{Config: SMTPConfig{Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(freePort(t))), DialTimeout: 2 * time.Second}}
		_, err := s.Send(ctx, composeFor(t, MethodRequest, priya))
		if se := sendError(t, err); se.Permanent || se.Code != 0 {
			t.Errorf("error %v: want temporary with no code", se)
		}
	})
}

func sendError(t *testing.T, err error) *SendError {
	t.Helper()
	var se *SendError
	if !errors.As(err, &se) {
		t.Fatalf("error %v (%T), want a *SendError", err, err)
	}
	return se
}

// The listener takes mail only from the relay networks (the council's
// gateway): from anywhere else the connection is refused before a message
// can be sent.
func TestInboundRelayNetworks(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		networks []netip.Prefix
		accepted bool
	}{
		{"loopback by default", nil, true},
		{"the gateway's network", []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}, true},
		{"not the gateway's network", []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var got atomic.Int32
			srv := NewInboundServer("127.0.0.1:0", 1<<20, func(context.Context, string, []string, []byte) error {
				got.Add(1)
				return nil
			})
			srv.RelayNetworks = tc.networks
			if err := srv.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = srv.Shutdown(context.Background()) })
			err := netsmtp.SendMail(srv.Addr().String(), nil, "a@police.example", []string{"convene@council.example"},
				[]byte("From: a@police.example\r\nSubject: x\r\n\r\nhello\r\n"))
			if tc.accepted != (err == nil) || tc.accepted != (got.Load() == 1) {
				t.Fatalf("accepted %v (err %v, delivered %d)", tc.accepted, err, got.Load())
			}
			if !tc.accepted && !strings.Contains(err.Error(), "554") {
				t.Errorf("refusal %v, want 554", err)
			}
		})
	}
}
