package main

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/mail"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/convene/convene/calendar"
	"github.com/convene/convene/service/web"
)

// config is everything the service reads from its environment, with
// defaults that run on a fresh machine.
type config struct {
	// Notify is how notices, digests and webhooks leave (notify.go).
	Notify notifyConfig

	Addr        string // CONVENE_ADDR
	DataDir     string // CONVENE_DATA_DIR
	MongoURI    string // MONGODB_URI; empty runs the embedded store
	MongoDB     string // CONVENE_MONGODB_DATABASE
	JWTSecret   string // CONVENE_JWT_SECRET (development, HS256)
	JWTKeys     string // CONVENE_JWT_KEYS (PEM or JWKS file)
	JWTIssuer   string // CONVENE_JWT_ISSUER
	JWTAudience string // CONVENE_JWT_AUDIENCE
	BodyLimit   int64  // CONVENE_BODY_LIMIT, bytes
	Demo        string // CONVENE_DEMO: auto (seed an empty embedded store), on, off
	LogLevel    string // CONVENE_LOG_LEVEL: debug, info, warn, error
	// CredentialsDir is where file: calendar credential references may
	// point (CONVENE_CREDENTIALS_DIR, default DATA_DIR/credentials).
	CredentialsDir string
	// BankHolidays refreshes the embedded bank-holiday snapshot from the
	// government's JSON (https://www.gov.uk/bank-holidays.json): a file
	// path or an https URL (CONVENE_BANK_HOLIDAYS).
	BankHolidays string
	// Region is the area's default bank-holiday region (CONVENE_REGION);
	// a procedure profile's region takes precedence where one is used.
	Region string
	// CalendarTimeout bounds each calendar read; AvailabilityBudget the
	// whole fan-out (CONVENE_CALENDAR_TIMEOUT, CONVENE_AVAILABILITY_BUDGET).
	CalendarTimeout, AvailabilityBudget time.Duration
	// CalendarPerServer bounds queries in flight to one calendar server
	// (CONVENE_CALENDAR_PER_SERVER, default 4).
	CalendarPerServer int

	// ProfilesDir holds procedure profiles beside the embedded default
	// (CONVENE_PROFILES_DIR).
	ProfilesDir string

	// Mail. With no SMTPAddr, messages are written to OutboxDir as .eml
	// files.
	SMTPAddr, SMTPUsername, SMTPPassword, SMTPTLS string
	SMTPInsecureAuth                              bool
	MailFrom, MailFromName                        string
	OutboxDir                                     string
	OutboxLease, OutboxRetryBase                  time.Duration
	// OutboxWorkers send side by side (CONVENE_OUTBOX_WORKERS, default 4).
	OutboxWorkers int
	// MaxActiveRequests are served at once (CONVENE_MAX_ACTIVE_REQUESTS,
	// default four for each processor); the rest wait their turn, up to
	// RequestQueueWait (CONVENE_REQUEST_QUEUE_WAIT, default 10s), and then
	// get 503. See service/admit.
	MaxActiveRequests int
	RequestQueueWait  time.Duration
	// SMTPListen, when set, runs the inbound SMTP listener for replies.
	SMTPListen string
	// MetricsAddr, when set, serves /metrics on its own address rather
	// than beside the API (CONVENE_METRICS_ADDR); MetricsToken, when set,
	// is the bearer token /metrics requires (CONVENE_METRICS_TOKEN).
	MetricsAddr, MetricsToken string
	// TrustedProxies are the reverse proxies whose X-Forwarded-For is
	// believed, for rate limits and logs (CONVENE_TRUSTED_PROXIES, CIDRs).
	TrustedProxies []netip.Prefix
	// CalendarAllowHosts and CalendarAllowNetworks let calendar fetches
	// reach hosts and networks the outbound policy otherwise refuses
	// (loopback, link-local, private ranges): CONVENE_CALENDAR_ALLOW_HOSTS
	// and CONVENE_CALENDAR_ALLOW_NETWORKS, comma-separated.
	CalendarAllowHosts    []string
	CalendarAllowNetworks []netip.Prefix
	// SMTPRelayNetworks are the networks the inbound listener takes mail
	// from (CONVENE_SMTP_RELAY_NETWORKS, CIDRs, comma-separated; default
	// loopback). SMTPListenCert and SMTPListenKey offer STARTTLS
	// (CONVENE_SMTP_LISTEN_CERT, CONVENE_SMTP_LISTEN_KEY), and
	// SMTPListenRequireTLS refuses mail without it
	// (CONVENE_SMTP_LISTEN_REQUIRE_TLS=true).
	SMTPRelayNetworks             []netip.Prefix
	SMTPListenCert, SMTPListenKey string
	SMTPListenRequireTLS          bool
	// MailAuthServIDs are the authserv-ids of the mail gateways whose
	// Authentication-Results are believed (CONVENE_MAIL_AUTH_SERVIDS,
	// comma-separated); MailAuthFields how many such fields the gateway
	// adds to each message (CONVENE_MAIL_AUTH_FIELDS, default 1).
	MailAuthServIDs []string
	MailAuthFields  int
	// OnlineMeetingHosts are the hosts join links may be on
	// (CONVENE_ONLINE_MEETING_HOSTS, comma-separated).
	OnlineMeetingHosts []string
	// StartMargin is how early a chair may start without an override
	// reason (CONVENE_START_MARGIN, default 15m).
	StartMargin time.Duration
	// PublicURL is where RSVP links point; RSVPSecret signs them.
	PublicURL, RSVPSecret string

	// The deadline watch.
	WatchInterval, ReminderAfter time.Duration
	AtRiskFraction               float64

	// RetentionInterval is the time between retention passes
	// (CONVENE_RETENTION_INTERVAL, default 6h); the periods are the area
	// profiles' (retention:).
	RetentionInterval time.Duration
	// LogFormat is json (the default: one object a line, for a log
	// collector) or text (CONVENE_LOG_FORMAT).
	LogFormat string

	// The web app. WebAssets is GOV.UK Frontend's dist/govuk directory
	// (CONVENE_WEB_ASSETS; default found from the working directory).
	// OIDC is the council's identity provider for staff sign-in:
	// CONVENE_OIDC_ISSUER, CONVENE_OIDC_CLIENT_ID, CONVENE_OIDC_CLIENT_SECRET,
	// CONVENE_OIDC_REDIRECT_URL, CONVENE_OIDC_ROLES_CLAIM (default roles),
	// CONVENE_OIDC_AGENCY_CLAIM (default agency), and
	// CONVENE_OIDC_ROLE_MAP / CONVENE_OIDC_AGENCY_MAP
	// ("claim-value=role,..." and "claim-value=agency,...").
	WebAssets string
	OIDC      web.OIDCConfig
}

func loadConfig(getenv func(string) string) (config, error) {
	c := config{
		Addr:        or(getenv("CONVENE_ADDR"), ":8080"),
		DataDir:     or(getenv("CONVENE_DATA_DIR"), "./data"),
		MongoURI:    getenv("MONGODB_URI"),
		MongoDB:     or(getenv("CONVENE_MONGODB_DATABASE"), "convene"),
		JWTSecret:   getenv("CONVENE_JWT_SECRET"),
		JWTKeys:     getenv("CONVENE_JWT_KEYS"),
		JWTIssuer:   or(getenv("CONVENE_JWT_ISSUER"), "convene-dev"),
		JWTAudience: or(getenv("CONVENE_JWT_AUDIENCE"), "convene"),
		BodyLimit:   1 << 20,
		Demo:        or(getenv("CONVENE_DEMO"), "auto"),
		LogLevel:    or(getenv("CONVENE_LOG_LEVEL"), "info"),
	}
	c.BankHolidays = getenv("CONVENE_BANK_HOLIDAYS")
	c.ProfilesDir = getenv("CONVENE_PROFILES_DIR")
	c.SMTPAddr, c.SMTPUsername, c.SMTPPassword = getenv("CONVENE_SMTP_ADDR"), getenv("CONVENE_SMTP_USERNAME"), getenv("CONVENE_SMTP_PASSWORD")
	c.SMTPTLS = or(getenv("CONVENE_SMTP_TLS"), "starttls")
	c.SMTPInsecureAuth = getenv("CONVENE_SMTP_INSECURE_AUTH") == "true"
	c.MailFrom = or(getenv("CONVENE_MAIL_FROM"), "convene@council.example.org")
	c.MailFromName = or(getenv("CONVENE_MAIL_FROM_NAME"), "Convene (strategy discussions)")
	c.OutboxDir = or(getenv("CONVENE_OUTBOX_DIR"), filepath.Join(c.DataDir, "outbox"))
	c.SMTPListen = getenv("CONVENE_SMTP_LISTEN")
	c.PublicURL = strings.TrimRight(getenv("CONVENE_PUBLIC_URL"), "/")
	c.RSVPSecret = getenv("CONVENE_RSVP_SECRET")
	c.Region = or(getenv("CONVENE_REGION"), "england-and-wales")
	c.CredentialsDir = or(getenv("CONVENE_CREDENTIALS_DIR"), filepath.Join(c.DataDir, "credentials"))
	if abs, err := filepath.Abs(c.CredentialsDir); err == nil {
		c.CredentialsDir = abs
	}
	var errs []error
	errs = append(errs, loadWebConfig(&c, getenv)...)
	errs = append(errs, loadNotifyConfig(&c, getenv)...)
	if v := getenv("CONVENE_BODY_LIMIT"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 1024 {
			errs = append(errs, fmt.Errorf("CONVENE_BODY_LIMIT: %q is not a byte count of at least 1024", v))
		}
		c.BodyLimit = n
	}
	for _, d := range []struct {
		name string
		into *time.Duration
		def  time.Duration
	}{
		{"CONVENE_CALENDAR_TIMEOUT", &c.CalendarTimeout, 10 * time.Second},
		{"CONVENE_AVAILABILITY_BUDGET", &c.AvailabilityBudget, 15 * time.Second},
		{"CONVENE_OUTBOX_LEASE", &c.OutboxLease, 2 * time.Minute},
		{"CONVENE_OUTBOX_RETRY_BASE", &c.OutboxRetryBase, 30 * time.Second},
		{"CONVENE_WATCH_INTERVAL", &c.WatchInterval, time.Minute},
		{"CONVENE_REMINDER_AFTER", &c.ReminderAfter, 4 * time.Hour},
		{"CONVENE_START_MARGIN", &c.StartMargin, 15 * time.Minute},
		{"CONVENE_RETENTION_INTERVAL", &c.RetentionInterval, 6 * time.Hour},
		{"CONVENE_REQUEST_QUEUE_WAIT", &c.RequestQueueWait, 10 * time.Second},
	} {
		*d.into = d.def
		if v := getenv(d.name); v != "" {
			dur, err := time.ParseDuration(v)
			if err != nil || dur <= 0 {
				errs = append(errs, fmt.Errorf("%s: %q is not a duration such as 10s", d.name, v))
			}
			*d.into = dur
		}
	}
	c.MailAuthServIDs = splitList(getenv("CONVENE_MAIL_AUTH_SERVIDS"))
	for _, n := range splitList(getenv("CONVENE_SMTP_RELAY_NETWORKS")) {
		p, err := netip.ParsePrefix(n)
		if err != nil {
			errs = append(errs, fmt.Errorf("CONVENE_SMTP_RELAY_NETWORKS: %q is not a network such as 10.20.0.0/16", n))
			continue
		}
		c.SMTPRelayNetworks = append(c.SMTPRelayNetworks, p)
	}
	c.MetricsAddr, c.MetricsToken = getenv("CONVENE_METRICS_ADDR"), getenv("CONVENE_METRICS_TOKEN")
	for _, n := range splitList(getenv("CONVENE_TRUSTED_PROXIES")) {
		p, err := netip.ParsePrefix(n)
		if err != nil {
			errs = append(errs, fmt.Errorf("CONVENE_TRUSTED_PROXIES: %q is not a network such as 10.20.0.0/16", n))
			continue
		}
		c.TrustedProxies = append(c.TrustedProxies, p)
	}
	c.CalendarAllowHosts = splitList(getenv("CONVENE_CALENDAR_ALLOW_HOSTS"))
	for _, n := range splitList(getenv("CONVENE_CALENDAR_ALLOW_NETWORKS")) {
		p, err := netip.ParsePrefix(n)
		if err != nil {
			errs = append(errs, fmt.Errorf("CONVENE_CALENDAR_ALLOW_NETWORKS: %q is not a network such as 10.20.0.0/16", n))
			continue
		}
		c.CalendarAllowNetworks = append(c.CalendarAllowNetworks, p)
	}
	c.SMTPListenCert, c.SMTPListenKey = getenv("CONVENE_SMTP_LISTEN_CERT"), getenv("CONVENE_SMTP_LISTEN_KEY")
	c.SMTPListenRequireTLS = getenv("CONVENE_SMTP_LISTEN_REQUIRE_TLS") == "true"
	if (c.SMTPListenCert == "") != (c.SMTPListenKey == "") || c.SMTPListenRequireTLS && c.SMTPListenCert == "" {
		errs = append(errs, errors.New("CONVENE_SMTP_LISTEN_CERT and CONVENE_SMTP_LISTEN_KEY go together, and CONVENE_SMTP_LISTEN_REQUIRE_TLS needs them"))
	}
	c.OnlineMeetingHosts = splitList(or(getenv("CONVENE_ONLINE_MEETING_HOSTS"), "teams.microsoft.com,meet.google.com,zoom.us"))
	for name, into := range map[string]*int{"CONVENE_MAIL_AUTH_FIELDS": &c.MailAuthFields, "CONVENE_OUTBOX_WORKERS": &c.OutboxWorkers} {
		*into = map[string]int{"CONVENE_MAIL_AUTH_FIELDS": 1, "CONVENE_OUTBOX_WORKERS": 4}[name]
		if v := getenv(name); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > 32 {
				errs = append(errs, fmt.Errorf("%s: %q is not a number from 1 to 32", name, v))
			}
			*into = n
		}
	}
	c.MaxActiveRequests = 4 * runtime.GOMAXPROCS(0)
	if v := getenv("CONVENE_MAX_ACTIVE_REQUESTS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 4096 {
			errs = append(errs, fmt.Errorf("CONVENE_MAX_ACTIVE_REQUESTS: %q is not a number from 1 to 4096", v))
		}
		c.MaxActiveRequests = n
	}
	c.CalendarPerServer = 4
	if v := getenv("CONVENE_CALENDAR_PER_SERVER"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 64 {
			errs = append(errs, fmt.Errorf("CONVENE_CALENDAR_PER_SERVER: %q is not a number from 1 to 64", v))
		}
		c.CalendarPerServer = n
	}
	c.AtRiskFraction = 0.5
	if v := getenv("CONVENE_AT_RISK_FRACTION"); v != "" {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || f <= 0 || f >= 1 {
			errs = append(errs, fmt.Errorf("CONVENE_AT_RISK_FRACTION: %q is not a fraction between 0 and 1", v))
		}
		c.AtRiskFraction = f
	}
	if c.OutboxLease < 10*time.Second {
		errs = append(errs, fmt.Errorf("CONVENE_OUTBOX_LEASE: %s is shorter than 10s", c.OutboxLease))
	}
	switch c.SMTPTLS {
	case "starttls", "required", "implicit", "none":
	default:
		errs = append(errs, fmt.Errorf("CONVENE_SMTP_TLS: %q is not starttls, required, implicit or none", c.SMTPTLS))
	}
	if a, err := mail.ParseAddress(c.MailFrom); err != nil || a.Address != c.MailFrom {
		errs = append(errs, fmt.Errorf("CONVENE_MAIL_FROM: %q is not a plain email address", c.MailFrom))
	}
	if c.PublicURL != "" && !strings.HasPrefix(c.PublicURL, "http://") && !strings.HasPrefix(c.PublicURL, "https://") {
		errs = append(errs, fmt.Errorf("CONVENE_PUBLIC_URL: %q is not an http(s) URL", c.PublicURL))
	}
	if !calendar.Region(c.Region).Valid() {
		errs = append(errs, fmt.Errorf("CONVENE_REGION: %q is not england-and-wales, scotland or northern-ireland", c.Region))
	}
	c.LogFormat = or(getenv("CONVENE_LOG_FORMAT"), "json")
	if c.LogFormat != "json" && c.LogFormat != "text" {
		errs = append(errs, fmt.Errorf("CONVENE_LOG_FORMAT: %q is not json or text", c.LogFormat))
	}
	switch c.Demo {
	case "auto", "on", "off":
	default:
		errs = append(errs, fmt.Errorf("CONVENE_DEMO: %q is not auto, on or off", c.Demo))
	}
	return c, errors.Join(errs...)
}

// demo reports whether demo mode is on: CONVENE_DEMO=on, or auto with the
// embedded store. Only demo mode seeds the demo directory, invents a
// development signing secret and prints tokens.
func (c config) demo() bool {
	return c.Demo == "on" || c.Demo == "auto" && c.MongoURI == ""
}

func splitList(s string) []string {
	var out []string
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}

func or(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

// secret returns the secret in the environment variable, or one generated
// once and kept in the data directory under name.
func (c config) secret(value, name string) ([]byte, error) {
	if value != "" {
		return []byte(value), nil
	}
	path := filepath.Join(c.DataDir, name)
	if b, err := os.ReadFile(path); err == nil {
		return []byte(strings.TrimSpace(string(b))), nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	if err := os.MkdirAll(c.DataDir, 0o700); err != nil {
		return nil, err
	}
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, err
	}
	secret := hex.EncodeToString(b[:])
	// O_EXCL: if the server and `convene token` race on a fresh data
	// directory, one secret wins and both read it.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, os.ErrExist) {
		return c.secret(value, name)
	} else if err != nil {
		return nil, err
	}
	if _, err := f.WriteString(secret + "\n"); err != nil {
		f.Close()
		return nil, err
	}
	return []byte(secret), f.Close()
}

// devSecret returns the HS256 development secret: CONVENE_JWT_SECRET, or
// one generated once and kept in the data directory so that tokens minted by
// `convene token` work with the server. With only public keys configured
// there is no development secret.
func (c config) devSecret() ([]byte, error) {
	if c.JWTSecret != "" {
		return []byte(c.JWTSecret), nil
	}
	if c.JWTKeys != "" || !c.demo() {
		// Outside demo mode no secret is ever invented.
		return nil, nil
	}
	return c.secret("", "jwt-secret")
}
