package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"strconv"
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
	"github.com/convene/convene/service/admit"
	"github.com/convene/convene/service/httpapi"
	"github.com/convene/convene/service/mongodb"
	"github.com/convene/convene/service/outbox"
	"github.com/convene/convene/service/policy"
	"github.com/convene/convene/service/sqlite"
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
	case "backup":
		return backupCmd(ctx, cfg, args, stdout)
	case "restore":
		return restoreCmd(ctx, cfg, args, stdout)
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
  convene backup FILE             snapshot the embedded store, while the service runs
  convene restore [--replace] FILE  restore a snapshot into a stopped data directory
`

func serve(ctx context.Context, cfg config, getenv func(string) string, stdout io.Writer) error {
	log := serviceLogger(cfg, os.Stderr)
	tuneGC(getenv, containerMemoryLimit, log)
	store, storeName, closeStore, err := openStore(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer closeStore()
	// Traces: off unless an OTLP endpoint is configured.
	tp, stopTracing, err := setupTracing(ctx, getenv)
	if err != nil {
		return fmt.Errorf("tracing: %w", err)
	}
	defer func() { _ = stopTracing(context.WithoutCancel(ctx)) }()
	store = traceStore(store, tp, storeName)

	secret, err := cfg.devSecret()
	if err != nil {
		return fmt.Errorf("development JWT secret: %w", err)
	}
	if secret == nil && cfg.JWTKeys == "" {
		return errors.New("no token signing keys: set CONVENE_JWT_KEYS (the identity provider's PEM or JWKS) or CONVENE_JWT_SECRET; " +
			"only demo mode (CONVENE_DEMO=on, or the embedded store with CONVENE_DEMO=auto) invents a development secret")
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
	mailSender, err := newSender(cfg, log)
	if err != nil {
		return err
	}
	mailSender = tracedSender{Sender: mailSender, tracer: tp.Tracer(tracerName)}

	if cfg.demo() {
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
	registerFollowOnMetrics(reg, app)
	app.AvailabilityOptions.Tracer, app.AvailabilityOptions.Observe = tp.Tracer(tracerName), calendarMetrics(reg)
	onMain := cfg.MetricsAddr == ""
	api, err := httpapi.New(httpapi.Config{App: app, Auth: auth, Log: log, BodyLimit: cfg.BodyLimit, Metrics: reg, StoreName: storeName,
		MetricsOnMainRouter: &onMain, MetricsToken: cfg.MetricsToken, TrustedProxies: cfg.TrustedProxies, TracerProvider: tp})
	if err != nil {
		return err
	}
	site, err := newWebApp(cfg, app, log)
	if err != nil {
		return err
	}
	if !onMain {
		// Metrics on their own address, for the monitoring network only.
		mln, err := net.Listen("tcp", cfg.MetricsAddr)
		if err != nil {
			return fmt.Errorf("metrics listener on %s: %w", cfg.MetricsAddr, err)
		}
		msrv := &http.Server{Handler: api.MetricsHandler(), ReadHeaderTimeout: 10 * time.Second}
		go func() { _ = msrv.Serve(mln) }()
		defer msrv.Close()
		fmt.Fprintf(stdout, "Metrics on http://%s/metrics\n", displayAddr(mln.Addr().String()))
	}

	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return err
	}
	defer ln.Close()
	// At most MaxActiveRequests are served at once; the rest wait their
	// turn (see service/admit). Health checks, metrics and the web app's
	// static files go straight in, and so do exports, which stream for as
	// long as the client reads.
	door := admit.New(cfg.MaxActiveRequests, 16*cfg.MaxActiveRequests, cfg.RequestQueueWait)
	door.BodyLimit = cfg.BodyLimit
	registerAdmissionMetrics(reg, door)
	srv := &http.Server{
		Handler:           door.Handler(mount(api, site), straightIn),
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

	hook, err := useNotify(cfg, app)
	if err != nil {
		return err
	}
	// Background work: the outbox and the deadline watch. Both take leases
	// in the store, so several instances can run them.
	workCtx, stopWork := context.WithCancel(ctx)
	var work sync.WaitGroup
	instance := instanceID()
	work.Add(2)
	sender := &outbox.Worker{App: app, Sender: mailSender, Log: log, Owner: instance, Workers: cfg.OutboxWorkers,
		Lease: cfg.OutboxLease, RetryBase: cfg.OutboxRetryBase, Hook: hook}
	registerOutboxMetrics(reg, app, sender)
	go func() { defer work.Done(); sender.Run(workCtx) }()
	go func() {
		defer work.Done()
		app.RunWatch(workCtx, instance, service.Watch{Interval: cfg.WatchInterval, AtRiskFraction: cfg.AtRiskFraction, ReminderAfter: cfg.ReminderAfter})
	}()
	// Retention: purges what the area profiles no longer let Convene keep.
	retention := &service.RetentionWorker{App: app, Owner: instance, Interval: cfg.RetentionInterval}
	registerRetentionMetrics(reg, retention)
	work.Add(1)
	go func() { defer work.Done(); retention.Run(workCtx) }()
	defer func() { stopWork(); work.Wait() }()

	var listeners []net.Addr
	if cfg.SMTPListen != "" {
		inbound := invites.NewInboundServer(cfg.SMTPListen, 1<<20, func(ctx context.Context, from string, _ []string, raw []byte) error {
			_, err := app.IngestMessage(ctx, raw, "smtp", from)
			switch service.ErrorCode(err) {
			case service.ECONFLICT, service.EUNAVAILABLE:
				// Transient (a write that collided, DNS not answering
				// for DKIM): ask the sender's server to try again.
				return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try again later"}
			}
			if err != nil && service.ErrorCode(err) != service.EINTERNAL {
				// Refused for what it is (malformed, spoofed, unknown):
				// logged and recorded already; say so, and do not ask the
				// sender's server to try again.
				return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 7, 1}, Message: service.ErrorMessage(err)}
			}
			return err
		})
		inbound.RelayNetworks, inbound.RequireTLS = cfg.SMTPRelayNetworks, cfg.SMTPListenRequireTLS
		if cfg.SMTPListenCert != "" {
			cert, err := tls.LoadX509KeyPair(cfg.SMTPListenCert, cfg.SMTPListenKey)
			if err != nil {
				return fmt.Errorf("inbound SMTP certificate: %w", err)
			}
			inbound.SetTLS(&tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})
		}
		if err := inbound.Start(); err != nil {
			return fmt.Errorf("inbound SMTP on %s: %w", cfg.SMTPListen, err)
		}
		defer inbound.Close()
		listeners = append(listeners, inbound.Addr())
		fmt.Fprintf(stdout, "Inbound SMTP for replies on %s\n", inbound.Addr())
	}

	app.SourceOptions.Policy.DenyAddrs = ownAddrs(append(listeners, ln.Addr())...)
	fmt.Fprintf(stdout, "Convene listening on http://%s (store: %s)\n", displayAddr(addr), storeName)
	if secret != nil && cfg.demo() {
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
	shutdownCtx, cancel := context.WithTimeout(context.Background(), cfg.shutdownGrace())
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
	mailer, err := newMailer(cfg)
	if err != nil {
		return nil, err
	}
	app.UseMailer(mailer)
	// Calendar fetches reach public addresses, and what the operator
	// allows; never this service's own listeners.
	app.SourceOptions = calendar.SourceOptions{Policy: calendar.OutboundPolicy{
		AllowHosts: cfg.CalendarAllowHosts, AllowNetworks: cfg.CalendarAllowNetworks}}
	app.InboundAuth = invites.AuthConfig{TrustedAuthServIDs: cfg.MailAuthServIDs, GatewayFields: cfg.MailAuthFields}
	if cfg.demo() && len(cfg.MailAuthServIDs) == 0 {
		// The demo has no mail gateway: trust the walk-through's.
		app.InboundAuth.TrustedAuthServIDs = []string{demoGateway}
		log.Info("demo mode: replies are authenticated by Authentication-Results from " + demoGateway)
	}
	app.OnlineMeetingHosts = cfg.OnlineMeetingHosts
	app.StartMargin = cfg.StartMargin
	return app, nil
}

// ownAddrs are the addresses this service listens on, which calendar
// fetches must never reach (a calendar URL pointing back at Convene).
func ownAddrs(addrs ...net.Addr) []netip.AddrPort {
	var out []netip.AddrPort
	for _, addr := range addrs {
		if addr == nil {
			continue
		}
		host, port, err := net.SplitHostPort(addr.String())
		if err != nil {
			continue
		}
		n, _ := strconv.Atoi(port)
		ip, err := netip.ParseAddr(host)
		if host == "" || err != nil {
			ip = netip.IPv4Unspecified()
		}
		out = append(out, netip.AddrPortFrom(ip, uint16(n)))
	}
	return out
}

// demoGateway is the authserv-id demo mode trusts, as the README's replies
// carry it.
const demoGateway = "gateway.demo.example"

// openStore opens the embedded SQLite store under the data directory, or
// MongoDB when MONGODB_URI is set (a replica set or sharded cluster, for
// several Convene instances).
func openStore(ctx context.Context, cfg config, log *slog.Logger) (service.Store, string, func(), error) {
	if cfg.MongoURI != "" {
		store, err := mongodb.Open(ctx, cfg.MongoURI, cfg.MongoDB)
		if err != nil {
			return nil, "", nil, err
		}
		log.Info("store: MongoDB from MONGODB_URI", "database", cfg.MongoDB)
		return store, "mongodb", func() { _ = store.Close(context.Background()) }, nil
	}
	store, err := sqlite.Open(ctx, cfg.DataDir)
	if err != nil {
		return nil, "", nil, err
	}
	log.Info("store: embedded SQLite", "data_dir", cfg.DataDir)
	return store, "sqlite", func() { _ = store.Close() }, nil
}

// newMailer sends through SMTP when CONVENE_SMTP_ADDR is set, and otherwise
// writes each message as an .eml file into the outbox directory, so the
// embedded default works end to end with nothing else installed.
func newMailer(cfg config) (*service.Mailer, error) {
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
	}
	return m, nil
}

// newSender sends through SMTP when CONVENE_SMTP_ADDR is set, and otherwise
// writes each message as an .eml file into the outbox directory, so the
// embedded default works end to end with nothing else installed.
func newSender(cfg config, log *slog.Logger) (invites.Sender, error) {
	if cfg.SMTPAddr == "" {
		if err := os.MkdirAll(cfg.OutboxDir, 0o700); err != nil {
			return nil, fmt.Errorf("outbox directory: %w", err)
		}
		log.Info("mail: no SMTP server configured; invitations are written to the outbox directory", "dir", cfg.OutboxDir)
		return &invites.DirSender{Dir: cfg.OutboxDir}, nil
	}
	_, domain, _ := strings.Cut(cfg.MailFrom, "@")
	mode := map[string]invites.TLSMode{"starttls": invites.StartTLSOpportunistic, "required": invites.StartTLSRequired,
		"implicit": invites.ImplicitTLS, "none": invites.NoTLS}[cfg.SMTPTLS]
	log.Info("mail: SMTP", "addr", cfg.SMTPAddr, "tls", cfg.SMTPTLS)
	return &invites.SMTPSender{Config: invites.SMTPConfig{
		Addr: cfg.SMTPAddr, TLS: mode, Username: cfg.SMTPUsername, Password: cfg.SMTPPassword,
		AllowInsecureAuth: cfg.SMTPInsecureAuth, LocalName: domain,
		CommandTimeout: 30 * time.Second, SubmissionTimeout: 60 * time.Second,
	}}, nil
}

// registerOutboxMetrics exposes the outbox: messages by state, the age of
// the oldest still queued, and sends and failures by this instance.
// shutdownGrace is how long a stopping server lets requests finish: long
// enough for the longest, one that waited its longest at the door, then a
// convene or booking that reads every calendar within its budget.
func (c config) shutdownGrace() time.Duration {
	return c.RequestQueueWait + c.AvailabilityBudget + c.CalendarTimeout + 15*time.Second
}

// straightIn are the requests the door does not hold: cheap ones that must
// answer when the service is busy (health, metrics, static files), and
// exports, which stream for as long as the client reads.
func straightIn(r *http.Request) bool {
	p := r.URL.Path
	return p == "/healthz" || p == "/readyz" || p == "/metrics" ||
		strings.HasPrefix(p, "/assets/") || strings.HasPrefix(p, "/static/") || strings.HasPrefix(p, "/v1/exports/")
}

// registerAdmissionMetrics counts the requests being served, waiting, and
// turned away (a rising count says the service needs more processors or
// instances).
func registerAdmissionMetrics(reg *prometheus.Registry, door *admit.Limiter) {
	reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "convene_http_requests_active", Help: "Requests being served now (at most CONVENE_MAX_ACTIVE_REQUESTS)."},
			func() float64 { return float64(door.Active()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "convene_http_requests_waiting", Help: "Requests waiting their turn now."},
			func() float64 { return float64(door.Waiting()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "convene_http_requests_shed_total", Help: "Requests answered 503 because the service was busy."},
			func() float64 { return float64(door.Shed()) }),
	)
}

func registerOutboxMetrics(reg *prometheus.Registry, app *service.App, w *outbox.Worker) {
	// One query per scrape, not one per gauge: the figures are kept for a
	// few seconds.
	var mu sync.Mutex
	var cached service.OutboxStats
	var at time.Time
	stats := func() service.OutboxStats {
		mu.Lock()
		defer mu.Unlock()
		if time.Since(at) < 5*time.Second {
			return cached
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if s, err := app.Store.OutboxStats(ctx); err == nil {
			cached, at = s, time.Now()
		}
		return cached
	}
	for _, st := range []service.MessageState{service.MessageQueued, service.MessageSending, service.MessageSent, service.MessageFailed, service.MessageSuperseded} {
		reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "convene_outbox_messages", Help: "Outbox messages by state.",
			ConstLabels: prometheus.Labels{"state": string(st)}}, func() float64 { return float64(stats().ByState[st]) }))
	}
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "convene_outbox_oldest_queued_age_seconds",
		Help: "How long the oldest message still queued has waited."}, func() float64 {
		s := stats()
		if s.OldestQueued.IsZero() {
			return 0
		}
		return time.Since(s.OldestQueued).Seconds()
	}))
	reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "convene_mail_sent_total", Help: "Messages delivered by this instance."},
		func() float64 { return float64(w.Sent.Load()) }))
	reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "convene_mail_failed_total", Help: "Messages given up on by this instance (retries exhausted or refused for good)."},
		func() float64 { return float64(w.Failed.Load()) }))
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
		return errors.New("token: mints development tokens only: in demo mode, or with CONVENE_JWT_SECRET set (and this is neither)")
	}
	tok, err := httpapi.Mint(secret, cfg.JWTIssuer, cfg.JWTAudience, p, *ttl, time.Now())
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(stdout, tok)
	return err
}
