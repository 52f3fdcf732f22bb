package invites

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// Sender delivers one composed message. Implementations: SMTPSender, which
// hands it to a mail server, and DirSender, which writes it to a directory
// when no server is configured.
type Sender interface {
	// Send delivers msg and returns where it went: the server's final
	// reply, or the file written. A failure is a *SendError that says
	// whether trying again may help.
	Send(ctx context.Context, msg *Message) (string, error)
}

// SendError reports a failed delivery: the SMTP reply if the server gave
// one, and whether the failure is permanent (a 5xx reply, or a message or
// configuration that cannot work) or temporary (4xx, network, timeout).
type SendError struct {
	// Code and EnhancedCode are the SMTP reply (RFC 5321 §4.2, RFC 3463);
	// 0 and "" when no reply was received.
	Code         int
	EnhancedCode string
	Message      string
	Permanent    bool
	Err          error
}

// Error gives the reply code and text, and whether to retry.
func (e *SendError) Error() string {
	kind := "temporary"
	if e.Permanent {
		kind = "permanent"
	}
	if e.Code != 0 {
		s := fmt.Sprintf("invites: send failed (%s): %d", kind, e.Code)
		if e.EnhancedCode != "" {
			s += " " + e.EnhancedCode
		}
		return s + " " + e.Message
	}
	return fmt.Sprintf("invites: send failed (%s): %s", kind, e.Message)
}

// Unwrap returns the underlying error.
func (e *SendError) Unwrap() error { return e.Err }

// Temporary reports whether a later attempt may succeed.
func (e *SendError) Temporary() bool { return !e.Permanent }

// DirSender writes each message as an .eml file in Dir, named after its
// Message-ID. The write is atomic (a temporary file, synced, then renamed),
// so a reader of the directory never sees half a message, and sending the
// same message again overwrites the same file rather than adding one.
type DirSender struct {
	Dir string
}

var _ Sender = (*DirSender)(nil)

// Send writes msg to Dir and returns the file's path.
func (d *DirSender) Send(ctx context.Context, msg *Message) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", &SendError{Message: err.Error(), Err: err}
	}
	if err := checkMessage(msg); err != nil {
		return "", err
	}
	if err := os.MkdirAll(d.Dir, 0o750); err != nil {
		return "", &SendError{Message: "creating outbox directory", Err: err}
	}
	path := filepath.Join(d.Dir, fileName(msg.ID)+".eml")
	tmp, err := os.CreateTemp(d.Dir, ".tmp-*.eml")
	if err != nil {
		return "", &SendError{Message: "creating outbox file", Err: err}
	}
	defer os.Remove(tmp.Name()) // a no-op once renamed
	if _, err := tmp.Write(msg.Raw); err != nil {
		tmp.Close()
		return "", &SendError{Message: "writing outbox file", Err: err}
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return "", &SendError{Message: "syncing outbox file", Err: err}
	}
	if err := tmp.Close(); err != nil {
		return "", &SendError{Message: "closing outbox file", Err: err}
	}
	if err := os.Chmod(tmp.Name(), 0o640); err != nil {
		return "", &SendError{Message: "outbox file mode", Err: err}
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return "", &SendError{Message: "renaming outbox file", Err: err}
	}
	return path, nil
}

// fileName makes a Message-ID safe as a file name: anything but letters,
// digits, '.', '-', '_' and '@' becomes '_'.
func fileName(id string) string {
	b := []byte(id)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-' || c == '_' || c == '@') {
			b[i] = '_'
		}
	}
	s := strings.TrimLeft(string(b), ".")
	if s == "" {
		s = "message"
	}
	if len(s) > 200 {
		s = s[:200]
	}
	return s
}

func checkMessage(msg *Message) error {
	switch {
	case msg == nil || len(msg.Raw) == 0:
		return &SendError{Permanent: true, Message: "empty message"}
	case msg.ID == "":
		return &SendError{Permanent: true, Message: "message has no ID"}
	case msg.From == "" || len(msg.To) == 0:
		return &SendError{Permanent: true, Message: "message has no envelope sender or recipient"}
	}
	return nil
}

// TLSMode says how SMTPSender secures the connection.
type TLSMode int

// TLS modes.
const (
	// StartTLSOpportunistic upgrades with STARTTLS when the server offers
	// it and sends in clear otherwise. The default.
	StartTLSOpportunistic TLSMode = iota
	// StartTLSRequired fails unless the server offers STARTTLS.
	StartTLSRequired
	// ImplicitTLS connects with TLS from the start (port 465, RFC 8314).
	ImplicitTLS
	// NoTLS never uses TLS. For tests and local relays only.
	NoTLS
)

// SMTPConfig configures an SMTPSender.
type SMTPConfig struct {
	// Addr is host:port of the submission server.
	Addr string
	TLS  TLSMode
	// TLSConfig verifies the server; nil uses the system roots and the
	// host of Addr.
	TLSConfig *tls.Config
	// Username and Password enable AUTH (PLAIN if offered, else LOGIN).
	// Credentials are only sent over TLS unless AllowInsecureAuth is set.
	Username, Password string
	AllowInsecureAuth  bool
	// LocalName is the EHLO name; "localhost" if empty.
	LocalName string
	// DialTimeout bounds connecting (10s if 0); CommandTimeout each
	// command (1m if 0); SubmissionTimeout the reply to the final dot (5m
	// if 0).
	DialTimeout       time.Duration
	CommandTimeout    time.Duration
	SubmissionTimeout time.Duration
}

// SMTPSender submits messages to a mail server (RFC 5321, RFC 6409), one
// connection per message.
type SMTPSender struct {
	Config SMTPConfig
}

var _ Sender = (*SMTPSender)(nil)

// errNoStartTLS is the text go-smtp gives when STARTTLS is not offered.
const errNoStartTLS = "doesn't support STARTTLS"

// Send submits msg and returns the server's reply to the final dot.
func (s *SMTPSender) Send(ctx context.Context, msg *Message) (string, error) {
	if err := checkMessage(msg); err != nil {
		return "", err
	}
	c, err := s.connect(ctx)
	if err != nil {
		return "", classify(err)
	}
	defer c.Close()
	// Close the connection if ctx ends mid-transaction, so a stuck server
	// cannot hold the caller past its deadline.
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()

	reply, err := s.transact(c, msg)
	if err != nil {
		if ctx.Err() != nil {
			return "", &SendError{Message: ctx.Err().Error(), Err: err}
		}
		return "", classify(err)
	}
	_ = c.Quit()
	return reply, nil
}

func (s *SMTPSender) connect(ctx context.Context) (*smtp.Client, error) {
	cfg := s.Config
	host, _, err := net.SplitHostPort(cfg.Addr)
	if err != nil {
		return nil, &SendError{Permanent: true, Message: "invalid SMTP address", Err: err}
	}
	tlsConfig := cfg.TLSConfig
	if tlsConfig == nil {
		tlsConfig = &tls.Config{}
	}
	if tlsConfig.ServerName == "" {
		tlsConfig = tlsConfig.Clone()
		tlsConfig.ServerName = host
	}
	dialTimeout := cfg.DialTimeout
	if dialTimeout == 0 {
		dialTimeout = 10 * time.Second
	}
	dial := func() (net.Conn, error) {
		d := net.Dialer{Timeout: dialTimeout}
		if cfg.TLS == ImplicitTLS {
			td := tls.Dialer{NetDialer: &d, Config: tlsConfig}
			return td.DialContext(ctx, "tcp", cfg.Addr)
		}
		return d.DialContext(ctx, "tcp", cfg.Addr)
	}
	conn, err := dial()
	if err != nil {
		return nil, err
	}

	var c *smtp.Client
	switch cfg.TLS {
	case ImplicitTLS, NoTLS:
		c = smtp.NewClient(conn)
	default:
		c, err = smtp.NewClientStartTLS(conn, tlsConfig)
		if err != nil && cfg.TLS == StartTLSOpportunistic && strings.Contains(err.Error(), errNoStartTLS) {
			// Not offered: go-smtp has closed the connection, so dial again
			// and carry on in clear.
			if conn, err = dial(); err != nil {
				return nil, err
			}
			c, err = smtp.NewClient(conn), nil
		}
		if err != nil {
			if strings.Contains(err.Error(), errNoStartTLS) {
				return nil, &SendError{Permanent: true, Message: "server does not offer STARTTLS, which the configuration requires", Err: err}
			}
			return nil, err
		}
	}
	c.CommandTimeout = orDefault(cfg.CommandTimeout, time.Minute)
	c.SubmissionTimeout = orDefault(cfg.SubmissionTimeout, 5*time.Minute)
	name := cfg.LocalName
	if name == "" {
		name = "localhost"
	}
	if err := c.Hello(name); err != nil {
		c.Close()
		return nil, err
	}
	if cfg.Username != "" {
		if err := s.auth(c); err != nil {
			c.Close()
			return nil, err
		}
	}
	return c, nil
}

func (s *SMTPSender) auth(c *smtp.Client) error {
	cfg := s.Config
	if _, isTLS := c.TLSConnectionState(); !isTLS && !cfg.AllowInsecureAuth {
		return &SendError{Permanent: true, Message: "refusing to send credentials without TLS"}
	}
	if ok, _ := c.Extension("AUTH"); !ok {
		return &SendError{Permanent: true, Message: "server does not offer AUTH"}
	}
	var client sasl.Client
	switch {
	case c.SupportsAuth(sasl.Plain):
		client = sasl.NewPlainClient("", cfg.Username, cfg.Password)
	case c.SupportsAuth(sasl.Login):
		client = sasl.NewLoginClient(cfg.Username, cfg.Password)
	default:
		return &SendError{Permanent: true, Message: "server offers neither AUTH PLAIN nor AUTH LOGIN"}
	}
	return c.Auth(client)
}

func (s *SMTPSender) transact(c *smtp.Client, msg *Message) (string, error) {
	if err := c.Mail(msg.From, nil); err != nil {
		return "", err
	}
	for _, to := range msg.To {
		if err := c.Rcpt(to, nil); err != nil {
			return "", err
		}
	}
	w, err := c.Data()
	if err != nil {
		return "", err
	}
	if _, err := w.Write(msg.Raw); err != nil {
		w.Close()
		return "", err
	}
	resp, err := w.CloseWithResponse()
	if err != nil {
		return "", err
	}
	reply := "250"
	if resp != nil && resp.StatusText != "" {
		reply += " " + resp.StatusText
	}
	return reply, nil
}

// classify turns an error from go-smtp or the network into a *SendError.
func classify(err error) error {
	var se *SendError
	if errors.As(err, &se) {
		return se
	}
	var smtpErr *smtp.SMTPError
	if errors.As(err, &smtpErr) {
		out := &SendError{Code: smtpErr.Code, Message: smtpErr.Message, Permanent: smtpErr.Code >= 500, Err: err}
		if ec := smtpErr.EnhancedCode; ec != (smtp.EnhancedCode{}) && ec != smtp.NoEnhancedCode {
			out.EnhancedCode = fmt.Sprintf("%d.%d.%d", ec[0], ec[1], ec[2])
		}
		return out
	}
	var certErr *tls.CertificateVerificationError
	if errors.As(err, &certErr) {
		return &SendError{Permanent: true, Message: "server certificate not trusted", Err: err}
	}
	return &SendError{Message: err.Error(), Err: err}
}

func orDefault(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}
