package main

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/mail"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/convene/convene/calendar"
)

// config is everything the service reads from its environment, with
// defaults that run on a fresh machine.
type config struct {
	Addr         string // CONVENE_ADDR
	DataDir      string // CONVENE_DATA_DIR
	MongoURI     string // MONGODB_URI; empty runs the embedded store
	MongoDB      string // CONVENE_MONGODB_DATABASE
	EmbeddedAddr string // CONVENE_EMBEDDED_MONGO_ADDR (loopback)
	JWTSecret    string // CONVENE_JWT_SECRET (development, HS256)
	JWTKeys      string // CONVENE_JWT_KEYS (PEM or JWKS file)
	JWTIssuer    string // CONVENE_JWT_ISSUER
	JWTAudience  string // CONVENE_JWT_AUDIENCE
	BodyLimit    int64  // CONVENE_BODY_LIMIT, bytes
	Demo         string // CONVENE_DEMO: auto (seed an empty embedded store), on, off
	LogLevel     string // CONVENE_LOG_LEVEL: debug, info, warn, error
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
	// SMTPListen, when set, runs the inbound SMTP listener for replies.
	SMTPListen string
	// PublicURL is where RSVP links point; RSVPSecret signs them.
	PublicURL, RSVPSecret string

	// The deadline watch.
	WatchInterval, ReminderAfter time.Duration
	AtRiskFraction               float64
}

func loadConfig(getenv func(string) string) (config, error) {
	c := config{
		Addr:         or(getenv("CONVENE_ADDR"), ":8080"),
		DataDir:      or(getenv("CONVENE_DATA_DIR"), "./data"),
		MongoURI:     getenv("MONGODB_URI"),
		MongoDB:      or(getenv("CONVENE_MONGODB_DATABASE"), "convene"),
		EmbeddedAddr: or(getenv("CONVENE_EMBEDDED_MONGO_ADDR"), "127.0.0.1:0"),
		JWTSecret:    getenv("CONVENE_JWT_SECRET"),
		JWTKeys:      getenv("CONVENE_JWT_KEYS"),
		JWTIssuer:    or(getenv("CONVENE_JWT_ISSUER"), "convene-dev"),
		JWTAudience:  or(getenv("CONVENE_JWT_AUDIENCE"), "convene"),
		BodyLimit:    1 << 20,
		Demo:         or(getenv("CONVENE_DEMO"), "auto"),
		LogLevel:     or(getenv("CONVENE_LOG_LEVEL"), "info"),
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
	switch c.Demo {
	case "auto", "on", "off":
	default:
		errs = append(errs, fmt.Errorf("CONVENE_DEMO: %q is not auto, on or off", c.Demo))
	}
	if host, _, ok := strings.Cut(c.EmbeddedAddr, ":"); !ok || (host != "127.0.0.1" && host != "localhost" && host != "[::1]") {
		errs = append(errs, fmt.Errorf("CONVENE_EMBEDDED_MONGO_ADDR: %q must be a loopback address", c.EmbeddedAddr))
	}
	return c, errors.Join(errs...)
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
	if c.JWTKeys != "" {
		return nil, nil
	}
	return c.secret("", "jwt-secret")
}
