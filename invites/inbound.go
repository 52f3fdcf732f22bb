package invites

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/netip"
	"time"

	"github.com/emersion/go-smtp"
)

// DeliverFunc receives one message accepted by an InboundServer: the
// envelope sender, the recipients and the raw RFC 5322 text. An error makes
// the server refuse the message: a *smtp.SMTPError as it is, anything else
// as 451 (try again later), so the sending server keeps the message.
type DeliverFunc func(ctx context.Context, envelopeFrom string, rcpts []string, raw []byte) error

// InboundServer is an SMTP server (RFC 5321) that accepts replies to
// invitations and passes each to a DeliverFunc. It speaks SMTP on its own
// port for the council's mail gateway to relay to: it takes connections
// only from RelayNetworks, offers STARTTLS when configured, and does no
// relaying. Who sent a message is judged afterwards (Authenticate), not
// from the connection.
type InboundServer struct {
	srv     *smtp.Server
	addr    string
	ln      net.Listener
	deliver DeliverFunc
	ctx     context.Context
	cancel  context.CancelFunc

	// Timeout bounds each DeliverFunc call; 30s if 0. Set before Start.
	Timeout time.Duration
	// RelayNetworks are the networks mail is taken from: the council's
	// mail gateway. A connection from anywhere else is refused before it
	// can send anything. Empty: loopback only. Set before Start.
	RelayNetworks []netip.Prefix
	// RequireTLS refuses MAIL FROM until the session is under STARTTLS
	// (SetTLS must be called). Set before Start.
	RequireTLS bool
}

// fromRelay reports whether addr is on one of the relay networks (loopback
// when none are configured).
func (s *InboundServer) fromRelay(addr net.Addr) bool {
	ta, ok := addr.(*net.TCPAddr)
	if !ok {
		return false
	}
	ip, ok := netip.AddrFromSlice(ta.IP)
	if !ok {
		return false
	}
	ip = ip.Unmap()
	if len(s.RelayNetworks) == 0 {
		return ip.IsLoopback()
	}
	for _, p := range s.RelayNetworks {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// NewInboundServer prepares a server listening on addr (host:port; port 0
// picks one) that accepts messages up to maxBytes (larger ones get 552) and
// hands them to deliver. Use SetDomain, SetTLS, SetErrorLog and Timeout
// before Start.
func NewInboundServer(addr string, maxBytes int64, deliver DeliverFunc) *InboundServer {
	s := &InboundServer{addr: addr, deliver: deliver}
	be := smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		if !s.fromRelay(c.Conn().RemoteAddr()) {
			return nil, &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 7, 1}, Message: "mail is taken only from the council's mail gateway"}
		}
		return &inboundSession{s: s, conn: c}, nil
	})
	srv := smtp.NewServer(be)
	srv.Domain = "localhost"
	srv.MaxMessageBytes = maxBytes
	srv.MaxRecipients = 50
	srv.ReadTimeout = time.Minute
	srv.WriteTimeout = time.Minute
	srv.ErrorLog = log.New(io.Discard, "", 0)
	s.srv = srv
	return s
}

// SetDomain sets the name the server greets with.
func (s *InboundServer) SetDomain(d string) { s.srv.Domain = d }

// SetTLS offers STARTTLS with the given configuration.
func (s *InboundServer) SetTLS(c *tls.Config) { s.srv.TLSConfig = c }

// SetErrorLog sets where the server logs connection errors; discarded by
// default.
func (s *InboundServer) SetErrorLog(l *log.Logger) { s.srv.ErrorLog = l }

// Start listens and serves in the background. It returns once the listener
// is bound, so Addr is known.
func (s *InboundServer) Start() error {
	ln, err := net.Listen("tcp", s.addr)
	if err != nil {
		return fmt.Errorf("invites: inbound SMTP listen on %s: %w", s.addr, err)
	}
	s.ln = ln
	s.ctx, s.cancel = context.WithCancel(context.Background())
	go s.srv.Serve(ln) // returns when Shutdown or Close closes ln
	return nil
}

// Addr is the address the server listens on, after Start.
func (s *InboundServer) Addr() net.Addr {
	if s.ln == nil {
		return nil
	}
	return s.ln.Addr()
}

// Shutdown stops accepting connections and waits for the open ones to
// finish, or for ctx to end.
func (s *InboundServer) Shutdown(ctx context.Context) error {
	if s.cancel == nil {
		return nil
	}
	err := s.srv.Shutdown(ctx)
	s.cancel()
	if errors.Is(err, smtp.ErrServerClosed) {
		return nil
	}
	return err
}

// Close stops the server at once, dropping open connections.
func (s *InboundServer) Close() error {
	if s.cancel == nil {
		return nil
	}
	s.cancel()
	err := s.srv.Close()
	if errors.Is(err, smtp.ErrServerClosed) {
		return nil
	}
	return err
}

type inboundSession struct {
	s     *InboundServer
	conn  *smtp.Conn
	from  string
	rcpts []string
}

func (ss *inboundSession) Reset()        { ss.from, ss.rcpts = "", nil }
func (ss *inboundSession) Logout() error { return nil }

func (ss *inboundSession) Mail(from string, opts *smtp.MailOptions) error {
	if opts != nil && opts.Size > 0 && ss.s.srv.MaxMessageBytes > 0 && opts.Size > ss.s.srv.MaxMessageBytes {
		return smtp.ErrDataTooLarge
	}
	if ss.s.RequireTLS {
		if _, ok := ss.conn.TLSConnectionState(); !ok {
			return &smtp.SMTPError{Code: 530, EnhancedCode: smtp.EnhancedCode{5, 7, 0}, Message: "issue STARTTLS first"}
		}
	}
	ss.from = from
	return nil
}

func (ss *inboundSession) Rcpt(to string, opts *smtp.RcptOptions) error {
	ss.rcpts = append(ss.rcpts, to)
	return nil
}

func (ss *inboundSession) Data(r io.Reader) error {
	raw, err := io.ReadAll(r)
	if err != nil {
		return err // go-smtp's own 552 when the message is too large
	}
	timeout := ss.s.Timeout
	if timeout == 0 {
		timeout = 30 * time.Second
	}
	ctx, cancel := context.WithTimeout(ss.s.ctx, timeout)
	defer cancel()
	if err := ss.s.deliver(ctx, ss.from, append([]string(nil), ss.rcpts...), raw); err != nil {
		var smtpErr *smtp.SMTPError
		if errors.As(err, &smtpErr) {
			return smtpErr
		}
		return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "Message not accepted, try again later"}
	}
	return nil
}
