package main

import (
	"fmt"
	"net/url"
	"os"
	"strconv"
	"strings"

	"github.com/convene/convene/calendar"
	"github.com/convene/convene/service"
	"github.com/convene/convene/service/outbox"
)

// notifyConfig is how notices and webhooks leave (issue 14).
type notifyConfig struct {
	// WebhookURL is the case system's receiver (CONVENE_WEBHOOK_URL);
	// none, no webhooks. WebhookSecret signs them
	// (CONVENE_WEBHOOK_SECRET, or a file named by
	// CONVENE_WEBHOOK_SECRET_FILE).
	WebhookURL    string
	WebhookSecret []byte
	// DigestHour is the hour (area time) the daily digests go out
	// (CONVENE_DIGEST_HOUR, 0 to 23, default 7).
	DigestHour int
	// BusinessSupport is business support's team mailbox, emailed each of
	// their notices at once (CONVENE_BUSINESS_SUPPORT_EMAIL).
	BusinessSupport string
}

func loadNotifyConfig(c *config, getenv func(string) string) []error {
	var errs []error
	n := &c.Notify
	n.WebhookURL = strings.TrimSpace(getenv("CONVENE_WEBHOOK_URL"))
	secret := getenv("CONVENE_WEBHOOK_SECRET")
	if f := getenv("CONVENE_WEBHOOK_SECRET_FILE"); f != "" {
		b, err := os.ReadFile(f)
		if err != nil {
			errs = append(errs, fmt.Errorf("CONVENE_WEBHOOK_SECRET_FILE: %w", err))
		}
		secret = strings.TrimSpace(string(b))
	}
	n.WebhookSecret = []byte(secret)
	if n.WebhookURL != "" && len(n.WebhookSecret) < 16 {
		errs = append(errs, fmt.Errorf("CONVENE_WEBHOOK_URL needs CONVENE_WEBHOOK_SECRET (or _FILE) of at least 16 characters"))
	}
	n.DigestHour = 7
	if v := getenv("CONVENE_DIGEST_HOUR"); v != "" {
		h, err := strconv.Atoi(v)
		if err != nil || h < 0 || h > 23 {
			errs = append(errs, fmt.Errorf("CONVENE_DIGEST_HOUR: %q is not an hour from 0 to 23", v))
		}
		n.DigestHour = h
	}
	n.BusinessSupport = strings.ToLower(strings.TrimSpace(getenv("CONVENE_BUSINESS_SUPPORT_EMAIL")))
	return errs
}

// useNotify sets how the App sends notices and events, and returns the
// webhook receiver (nil when none is configured). The receiver's host is
// allowed by the outbound policy: the operator named it.
func useNotify(cfg config, app *service.App) (*outbox.Hook, error) {
	n := cfg.Notify
	app.Mail.Notify = service.NotifyOptions{BusinessSupport: n.BusinessSupport, DigestHour: n.DigestHour, Hooks: n.WebhookURL != ""}
	if n.WebhookURL == "" {
		return nil, nil
	}
	u, err := url.Parse(n.WebhookURL)
	if err != nil {
		return nil, fmt.Errorf("CONVENE_WEBHOOK_URL: %w", err)
	}
	policy := calendar.OutboundPolicy{AllowHosts: append([]string{u.Hostname()}, cfg.CalendarAllowHosts...), AllowNetworks: cfg.CalendarAllowNetworks}
	hook, err := outbox.NewHook(n.WebhookURL, n.WebhookSecret, policy)
	if err != nil {
		return nil, fmt.Errorf("CONVENE_WEBHOOK_URL: %w", err)
	}
	return hook, nil
}
