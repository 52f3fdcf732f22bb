package outbox

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"syscall"
	"time"

	"github.com/convene/convene/calendar"
	"github.com/convene/convene/service"
)

// Hook is the case system's webhook receiver: each event is POSTed to URL
// as a CloudEvents 1.0 structured JSON body, signed with Secret in the
// Convene-Signature header ("t=<unix>,v1=<hex HMAC-SHA256 of t.body>"), over
// connections the outbound policy allows (the same policy as calendar
// fetches: the operator allows the receiver's host or network). Only URL
// is ever reached: redirects are not followed. A receiver that is down or
// answers anything but 2xx is tried again with the outbox's backoff.
type Hook struct {
	URL    string
	Secret []byte
	Policy calendar.OutboundPolicy
	// Timeout bounds one delivery; 10 seconds if zero.
	Timeout time.Duration
	// Now is the clock the signature's timestamp is read from.
	Now func() time.Time

	client *http.Client
}

// NewHook checks the receiver's URL and builds its client.
func NewHook(rawURL string, secret []byte, policy calendar.OutboundPolicy) (*Hook, error) {
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("webhook URL %q: must be an http or https URL", rawURL)
	}
	if len(secret) < 16 {
		return nil, errors.New("webhook secret: must be at least 16 bytes")
	}
	h := &Hook{URL: rawURL, Secret: secret, Policy: policy, Now: time.Now}
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.Proxy = nil // the policy must see the receiver's own address
	host := u.Hostname()
	t.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		d := net.Dialer{Timeout: 10 * time.Second, ControlContext: func(_ context.Context, _, address string, _ syscall.RawConn) error {
			ap, err := netip.ParseAddrPort(address)
			if err != nil || !h.Policy.Allowed(host, ap) {
				return calendar.ErrRefusedByPolicy
			}
			return nil
		}}
		return d.DialContext(ctx, network, addr)
	}
	h.client = &http.Client{Transport: t, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return h, nil
}

// deliver POSTs one webhook, reporting where it went.
func (h *Hook) deliver(ctx context.Context, m *service.OutboxMessage) (string, error) {
	if h == nil || h.client == nil {
		return "", errors.New("no webhook receiver is configured")
	}
	timeout := h.Timeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.URL, bytes.NewReader(m.Raw))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/cloudevents+json")
	req.Header.Set(service.HookSignatureHeader, service.SignHook(h.Secret, h.Now(), m.Raw))
	req.Header.Set("User-Agent", "Convene-Webhook/1")
	resp, err := h.client.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return "", fmt.Errorf("webhook receiver answered %s", resp.Status)
	}
	return "webhook " + resp.Status, nil
}

// digests queues the day's digests once they are due, and then leaves
// them until the next day's are (another instance queueing the same ones
// adds nothing: their ids are the person and the day).
func (w *Worker) digests(ctx context.Context) {
	day := w.App.DigestDay()
	if day == w.digested {
		return
	}
	n, err := w.App.SendDigests(ctx)
	if err != nil {
		w.Log.WarnContext(ctx, "daily digests", "err", err)
		return
	}
	w.digested = day
	if n > 0 {
		w.Log.InfoContext(ctx, "daily digests queued", "count", n)
	}
}
