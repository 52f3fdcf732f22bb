package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/convene/convene/calendar"
	"github.com/convene/convene/invites"
	"github.com/convene/convene/service"
	"github.com/convene/convene/service/httpapi"
	"github.com/convene/convene/service/mongodb"
	"github.com/convene/convene/service/policy"
)

// run is the whole program: main only adds the process's context,
// arguments, environment and stdout. Logs go to stderr; stdout carries what
// a user asked for (tokens, the listening address).
func run(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	cmd := "serve"
	if len(args) > 1 {
		cmd, args = args[1], args[2:]
	} else {
		args = nil
	}
	cfg, err := loadConfig(getenv)
	if err != nil {
		return err
	}
	switch cmd {
	case "serve":
		return serve(ctx, cfg, getenv, stdout)
	case "token":
		return mintToken(cfg, args, stdout)
	case "profile":
		if len(args) != 2 || args[0] != "check" {
			return fmt.Errorf("usage: convene profile check FILE")
		}
		if err := policy.CheckFile(args[1]); err != nil {
			return err
		}
		_, err := fmt.Fprintf(stdout, "%s: valid\n", args[1])
		return err
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	return fmt.Errorf("unknown command %q\n%s", cmd, usage)
}

const usage = `usage:
  convene [serve]                 run the service (configured from CONVENE_* variables)
  convene token --role ROLE ...   print a development token
  convene profile check FILE      validate a procedure profile
`

func newLogger(level string) *slog.Logger {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		l = slog.LevelInfo
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: l}))
}

func serve(ctx context.Context, cfg config, getenv func(string) string, stdout io.Writer) error {
	log := newLogger(cfg.LogLevel)
	uri, storeName := cfg.MongoURI, "mongodb"
	if uri == "" {
		e, err := mongodb.StartEmbedded(ctx, cfg.DataDir, cfg.EmbeddedAddr, log)
		if err != nil {
			return err
		}
		defer e.Close()
		uri, storeName = e.URI, "embedded FerretDB"
		log.Info("store: embedded FerretDB (SQLite)", "data_dir", cfg.DataDir, "uri", e.URI)
	} else {
		log.Info("store: MongoDB from MONGODB_URI")
	}
	store, err := mongodb.Open(ctx, uri, cfg.MongoDB)
	if err != nil {
		return err
	}
	defer store.Close(context.Background())
	if cfg.MongoURI != "" && store.IsFerretDB() {
		log.Warn("MONGODB_URI points at FerretDB: conditional writes are serialised in this process only, so run a single Convene instance against it")
	}

	secret, err := cfg.devSecret()
	if err != nil {
		return fmt.Errorf("development JWT secret: %w", err)
	}
	auth, err := httpapi.NewAuthenticator(httpapi.AuthConfig{
		Issuer: cfg.JWTIssuer, Audience: cfg.JWTAudience, Secret: secret, KeysFile: cfg.JWTKeys,
	})
	if err != nil {
		return err
	}
	app, err := newApp(ctx, cfg, store, getenv, log)
	if err != nil {
		return err
	}

	if cfg.Demo == "on" || (cfg.Demo == "auto" && cfg.MongoURI == "") {
		n, err := seedDemo(ctx, app)
		if err != nil {
			return fmt.Errorf("seed demo directory: %w", err)
		}
		if n > 0 {
			log.Info("seeded the demo directory", "people", n)
		}
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	registerWatchGauges(reg, app)
	api, err := httpapi.New(httpapi.Config{App: app, Auth: auth, Log: log, BodyLimit: cfg.BodyLimit, Metrics: reg, StoreName: storeName})
	if err != nil {
		return err
	}

	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return err
	}
	defer ln.Close()
	srv := &http.Server{
		Handler:           api,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		WriteTimeout:      120 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	addr := ln.Addr().String()
	if app.Mail.PublicURL == "" {
		app.Mail.PublicURL = "http://" + displayAddr(addr)
	}

	// Background work: the outbox and the deadline watch. Both take leases
	// in the store, so several instances can run them.
	workCtx, stopWork := context.WithCancel(ctx)
	var work sync.WaitGroup
	instance := instanceID()
	work.Add(2)
	go func() { defer work.Done(); app.RunOutbox(workCtx, instance) }()
	go func() {
		defer work.Done()
		app.RunWatch(workCtx, instance, service.Watch{Interval: cfg.WatchInterval, AtRiskFraction: cfg.AtRiskFraction, ReminderAfter: cfg.ReminderAfter})
	}()
	defer func() { stopWork(); work.Wait() }()

	if cfg.SMTPListen != "" {
		inbound := invites.NewInboundServer(cfg.SMTPListen, 1<<20, func(ctx context.Context, from string, _ []string, raw []byte) error {
			_, err := app.IngestMessage(ctx, raw, "smtp", from)
			if err != nil && service.ErrorCode(err) != service.EINTERNAL && service.ErrorCode(err) != service.EUNAVAILABLE {
				// Refused for what it is (malformed, spoofed, unknown):
				// logged and recorded already; say so, and do not ask the
				// sender's server to try again.
				return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 7, 1}, Message: service.ErrorMessage(err)}
			}
			return err
		})
		if err := inbound.Start(); err != nil {
			return fmt.Errorf("inbound SMTP on %s: %w", cfg.SMTPListen, err)
		}
		defer inbound.Close()
		fmt.Fprintf(stdout, "Inbound SMTP for replies on %s\n", inbound.Addr())
	}

	fmt.Fprintf(stdout, "Convene listening on http://%s (store: %s)\n", displayAddr(addr), storeName)
	if secret != nil {
		printDevTokens(stdout, cfg, secret)
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// newApp wires the domain to its adapters and reference data.
func newApp(ctx context.Context, cfg config, store service.Store, getenv func(string) string, log *slog.Logger) (*service.App, error) {
	london, err := time.LoadLocation("Europe/London")
	if err != nil {
		return nil, err
	}
	var published []calendar.BankHoliday
	if cfg.BankHolidays != "" {
		if published, err = loadBankHolidays(ctx, cfg.BankHolidays); err != nil {
			return nil, fmt.Errorf("CONVENE_BANK_HOLIDAYS: %w", err)
		}
		log.Info("bank holidays refreshed", "from", cfg.BankHolidays, "days", len(published))
	}
	cal, err := calendar.NewWorkingDays(calendar.WorkingDaysOptions{Location: london, Published: published})
	if err != nil {
		return nil, err
	}
	profiles, err := policy.NewRegistry(cal, cfg.ProfilesDir)
	if err != nil {
		return nil, fmt.Errorf("procedure profiles: %w", err)
	}
	app := service.NewApp(store, log)
	app.Profiles = profiles
	app.CredentialsDir = cfg.CredentialsDir
	app.Getenv = getenv
	app.Calendar, app.Region, app.Zone = cal, calendar.Region(cfg.Region), london
	app.AvailabilityOptions = calendar.AvailabilityOptions{SourceTimeout: cfg.CalendarTimeout, Budget: cfg.AvailabilityBudget,
		PerServer: cfg.CalendarPerServer}
	mailer, err := newMailer(cfg, log)
	if err != nil {
		return nil, err
	}
	app.UseMailer(mailer)
	return app, nil
}

// newMailer sends through SMTP when CONVENE_SMTP_ADDR is set, and otherwise
// writes each message as an .eml file into the outbox directory, so the
// embedded default works end to end with nothing else installed.
func newMailer(cfg config, log *slog.Logger) (*service.Mailer, error) {
	organizer := invites.Person{Name: cfg.MailFromName, Email: cfg.MailFrom}
	_, domain, _ := strings.Cut(cfg.MailFrom, "@")
	rsvpKey, err := cfg.secret(cfg.RSVPSecret, "rsvp-secret")
	if err != nil {
		return nil, fmt.Errorf("RSVP secret: %w", err)
	}
	m := &service.Mailer{
		Organizer: organizer,
		Composer: &invites.Composer{Builder: invites.Builder{ProdID: "-//Convene//Strategy discussions//EN", Now: time.Now},
			Domain: domain, EnvelopeFrom: cfg.MailFrom},
		RSVPKey: rsvpKey, PublicURL: cfg.PublicURL,
		Lease: cfg.OutboxLease, RetryBase: cfg.OutboxRetryBase,
	}
	if cfg.SMTPAddr == "" {
		if err := os.MkdirAll(cfg.OutboxDir, 0o700); err != nil {
			return nil, fmt.Errorf("outbox directory: %w", err)
		}
		m.Sender = &invites.DirSender{Dir: cfg.OutboxDir}
		log.Info("mail: no SMTP server configured; invitations are written to the outbox directory", "dir", cfg.OutboxDir)
		return m, nil
	}
	mode := map[string]invites.TLSMode{"starttls": invites.StartTLSOpportunistic, "required": invites.StartTLSRequired,
		"implicit": invites.ImplicitTLS, "none": invites.NoTLS}[cfg.SMTPTLS]
	m.Sender = &invites.SMTPSender{Config: invites.SMTPConfig{
		Addr: cfg.SMTPAddr, TLS: mode, Username: cfg.SMTPUsername, Password: cfg.SMTPPassword,
		AllowInsecureAuth: cfg.SMTPInsecureAuth, LocalName: domain,
		CommandTimeout: 30 * time.Second, SubmissionTimeout: 60 * time.Second,
	}}
	log.Info("mail: SMTP", "addr", cfg.SMTPAddr, "tls", cfg.SMTPTLS)
	return m, nil
}

// loadBankHolidays reads the government's bank-holiday JSON from a file or
// an https URL.
func loadBankHolidays(ctx context.Context, from string) ([]calendar.BankHoliday, error) {
	if !strings.HasPrefix(from, "https://") {
		return calendar.ReadBankHolidaysFile(from)
	}
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, from, nil)
	if err != nil {
		return nil, err
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", from, res.Status)
	}
	return calendar.ParseBankHolidays(io.LimitReader(res.Body, 4<<20))
}

// instanceID names this process in leases.
func instanceID() string {
	host, _ := os.Hostname()
	return fmt.Sprintf("%s-%d-%s", host, os.Getpid(), service.NewID()[:8])
}

// registerWatchGauges exposes the deadline watch's counts.
func registerWatchGauges(reg *prometheus.Registry, app *service.App) {
	for _, g := range []struct {
		name, help string
		v          *atomic.Int64
	}{
		{"convene_discussions_at_risk", "Discussions not booked with too little time left to the deadline.", &app.Stats.AtRisk},
		{"convene_discussions_breached", "Open discussions whose statutory deadline is not met.", &app.Stats.Breached},
		{"convene_invitees_awaiting_reply", "Invitees of booked discussions who have not replied.", &app.Stats.AwaitingReply},
		{"convene_follow_ons_overdue", "Follow-on deadlines past due and not done.", &app.Stats.OverdueFollowOns},
		{"convene_deadline_watch_last_run_timestamp_seconds", "When the deadline watch last ran.", &app.Stats.LastRun},
	} {
		v := g.v
		reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: g.name, Help: g.help}, func() float64 { return float64(v.Load()) }))
	}
}

// displayAddr turns ":8080" or "[::]:8080" into something a browser takes.
func displayAddr(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil || host == "" || host == "::" || host == "0.0.0.0" {
		return "127.0.0.1:" + port
	}
	return net.JoinHostPort(host, port)
}

// printDevTokens prints a token per demo user, valid for 12 hours, so the
// README's curl walk-through works straight away.
func printDevTokens(w io.Writer, cfg config, secret []byte) {
	fmt.Fprintln(w, "Development tokens (12 hours; mint more with `convene token`):")
	for _, u := range demoUsers {
		tok, err := httpapi.Mint(secret, cfg.JWTIssuer, cfg.JWTAudience, u.Principal, 12*time.Hour, time.Now())
		if err != nil {
			continue
		}
		fmt.Fprintf(w, "  %-18s %s\n", u.Label, tok)
	}
}

func mintToken(cfg config, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("token", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	roles := fs.String("role", "", "comma-separated roles: business_support, chair, agency_rep, admin")
	sub := fs.String("sub", "", "subject (user id)")
	agency := fs.String("agency", "", "the user's agency")
	name := fs.String("name", "", "display name")
	email := fs.String("email", "", "email address")
	ttl := fs.Duration("ttl", 12*time.Hour, "lifetime")
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("token: %w", err)
	}
	if *roles == "" || *sub == "" {
		return errors.New("token: --role and --sub are required")
	}
	p := service.Principal{Subject: *sub, Name: *name, Email: *email, Agency: service.Agency(*agency)}
	for _, r := range strings.Split(*roles, ",") {
		role := service.Role(strings.TrimSpace(r))
		if !(&service.Principal{Roles: service.Roles}).Has(role) {
			return fmt.Errorf("token: unknown role %q", r)
		}
		p.Roles = append(p.Roles, role)
	}
	if p.Agency != "" && !service.ValidAgency(p.Agency) {
		return fmt.Errorf("token: unknown agency %q", *agency)
	}
	secret, err := cfg.devSecret()
	if err != nil {
		return err
	}
	if secret == nil {
		return errors.New("token: mints development tokens only, and CONVENE_JWT_KEYS is set without CONVENE_JWT_SECRET")
	}
	tok, err := httpapi.Mint(secret, cfg.JWTIssuer, cfg.JWTAudience, p, *ttl, time.Now())
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(stdout, tok)
	return err
}
