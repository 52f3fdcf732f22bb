// Package web is Convene's server-rendered web application: GOV.UK Frontend
// pages for business support, chairs and agency representatives, on the
// same domain core (service.App) as the API. Every decision is the App's;
// this package only asks and shows.
//
// Staff sign in with OpenID Connect (or, in demo mode, by choosing a demo
// person); partners from other agencies open the signed link from their
// invitation and confirm a one-time code sent to their address. Sessions
// are kept server-side in the store (service.SessionStore). Every POST is
// checked twice for cross-site forgery: http.CrossOriginProtection (Fetch
// metadata) and a per-session token in each form. Pages carry a strict
// Content-Security-Policy: no inline script or style.
package web

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/convene/convene/service"
)

// Config is what the web app needs; zero values take the defaults.
type Config struct {
	App *service.App
	Log *slog.Logger
	// Sessions keeps sign-ins; default the App's store.
	Sessions service.SessionStore
	// AssetsDir is GOV.UK Frontend's dist/govuk directory, served at
	// /assets/. Default: service/web/assets/node_modules/govuk-frontend/dist/govuk
	// found from the working directory upwards, or beside this source file.
	AssetsDir string
	// Demo, when set, offers a sign-in page listing these people (demo
	// mode only: anyone can be anyone).
	Demo []service.Principal
	// OIDC, when set, signs staff in through the identity provider.
	OIDC *OIDCConfig
	// PublicURL is where the app is reached (for redirect URIs and links).
	PublicURL string
	// IdleTimeout and AbsoluteTimeout end sessions (default 30 minutes and
	// 12 hours).
	IdleTimeout, AbsoluteTimeout time.Duration
	// Zone is the zone times are shown in (default Europe/London: "UK
	// time").
	Zone *time.Location
	// Now is the clock (default the App's).
	Now func() time.Time
}

// Server is the web app, an http.Handler.
type Server struct {
	cfg      Config
	app      *service.App
	log      *slog.Logger
	sessions service.SessionStore
	mux      *http.ServeMux
	handler  http.Handler
	pages    *pages
	assets   http.Handler
	oidc     *oidcClient
	codes    *codeLimiter

	pruneMu  sync.Mutex
	prunedAt time.Time
}

// New builds the web app.
func New(cfg Config) (*Server, error) {
	if cfg.App == nil {
		return nil, errors.New("web: Config.App is required")
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.Sessions == nil {
		cfg.Sessions = cfg.App.Store
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = 30 * time.Minute
	}
	if cfg.AbsoluteTimeout <= 0 {
		cfg.AbsoluteTimeout = 12 * time.Hour
	}
	if cfg.Zone == nil {
		z, err := time.LoadLocation("Europe/London")
		if err != nil {
			return nil, fmt.Errorf("web: %w", err)
		}
		cfg.Zone = z
	}
	if cfg.Now == nil {
		cfg.Now = cfg.App.Now
	}
	if cfg.AssetsDir == "" {
		cfg.AssetsDir = findAssets()
	}
	if st, err := os.Stat(filepath.Join(cfg.AssetsDir, "govuk-frontend.min.css")); err != nil || st.IsDir() {
		// The pages still work, unstyled; make run and .ci/deps build them.
		cfg.Log.Warn("web: GOV.UK Frontend is not built: run npm ci --prefix service/web/assets", "dir", cfg.AssetsDir)
	}
	p, err := loadPages(cfg.Zone)
	if err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, app: cfg.App, log: cfg.Log, sessions: cfg.Sessions, mux: http.NewServeMux(), pages: p,
		assets: assetHandler(cfg.AssetsDir), codes: newCodeLimiter()}
	if cfg.OIDC != nil {
		if s.oidc, err = newOIDCClient(context.Background(), *cfg.OIDC, cfg.PublicURL); err != nil {
			return nil, err
		}
	}
	s.routes()
	s.handler = s.secure(s.mux)
	return s, nil
}

// ServeHTTP serves the web app.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

// routes is every page the app serves. D2's staff pages are added in
// staffRoutes (staff.go).
func (s *Server) routes() {
	s.mux.Handle("GET /assets/", http.StripPrefix("/assets/", s.assets))
	s.mux.Handle("GET /static/", http.StripPrefix("/static/", staticHandler()))
	s.page("GET /{$}", s.home)
	s.page("GET /sign-in", s.signIn)
	s.page("POST /sign-in/demo", s.signInDemo)
	s.page("POST /sign-out", s.signOut)
	s.page("GET /sign-in/oidc", s.oidcStart)
	s.page("GET /sign-in/callback", s.oidcCallback)
	s.partnerRoutes()
	s.staffRoutes()
	s.page("/", s.notFound)
}

// findAssets looks for GOV.UK Frontend's built files from the working
// directory upwards (make run, tests in any package), then beside this
// source file.
func findAssets() string {
	const rel = "service/web/assets/node_modules/govuk-frontend/dist/govuk"
	if wd, err := os.Getwd(); err == nil {
		for dir := wd; ; dir = filepath.Dir(dir) {
			if _, err := os.Stat(filepath.Join(dir, rel)); err == nil {
				return filepath.Join(dir, rel)
			}
			if filepath.Dir(dir) == dir {
				break
			}
		}
	}
	if _, file, _, ok := runtime.Caller(0); ok {
		return filepath.Join(filepath.Dir(file), "assets/node_modules/govuk-frontend/dist/govuk")
	}
	return rel
}

//go:embed static
var staticFiles embed.FS

// staticHandler serves Convene's own small files (the script that starts
// GOV.UK Frontend's components: no inline script under the CSP).
func staticHandler() http.Handler {
	sub, _ := fs.Sub(staticFiles, "static")
	return cacheFor(time.Hour, http.FileServerFS(sub))
}

// assetHandler serves GOV.UK Frontend's built files: its CSS and JS from
// dist/govuk, its fonts and images from dist/govuk/assets (where its CSS
// expects them, at /assets/fonts and /assets/images).
func assetHandler(dir string) http.Handler {
	files := http.FileServerFS(os.DirFS(dir))
	nested := http.FileServerFS(os.DirFS(filepath.Join(dir, "assets")))
	return cacheFor(24*time.Hour, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := strings.TrimPrefix(r.URL.Path, "/")
		if strings.HasSuffix(p, "/") || p == "" {
			http.NotFound(w, r)
			return
		}
		if strings.HasPrefix(p, "fonts/") || strings.HasPrefix(p, "images/") || strings.HasPrefix(p, "rebrand/") || p == "manifest.json" {
			nested.ServeHTTP(w, r)
			return
		}
		if !strings.HasPrefix(p, "govuk-frontend.min.") {
			http.NotFound(w, r)
			return
		}
		files.ServeHTTP(w, r)
	}))
}

func cacheFor(d time.Duration, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", fmt.Sprintf("public, max-age=%d", int(d.Seconds())))
		h.ServeHTTP(w, r)
	})
}
