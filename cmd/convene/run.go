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
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/convene/convene/calendar"
	"github.com/convene/convene/service"
	"github.com/convene/convene/service/httpapi"
	"github.com/convene/convene/service/mongodb"
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
	api, err := httpapi.New(httpapi.Config{App: app, Auth: auth, Log: log, BodyLimit: cfg.BodyLimit, Metrics: reg, StoreName: storeName})
	if err != nil {
		return err
	}

	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return err
	}
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
	app := service.NewApp(store, log)
	app.CredentialsDir = cfg.CredentialsDir
	app.Getenv = getenv
	app.Calendar, app.Region, app.Zone = cal, calendar.Region(cfg.Region), london
	app.AvailabilityOptions = calendar.AvailabilityOptions{SourceTimeout: cfg.CalendarTimeout, Budget: cfg.AvailabilityBudget}
	return app, nil
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
