// Package httpapi is Convene's REST API on echo: every route in routes.go,
// bearer JWTs, requests validated against the OpenAPI contract in openapi/,
// and one error handler writing RFC 9457 application/problem+json.
package httpapi

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/otel/trace"

	"github.com/convene/convene/openapi"
	"github.com/convene/convene/service"
)

// Config wires a Server.
type Config struct {
	App  *service.App
	Auth *Authenticator
	Log  *slog.Logger
	// BodyLimit bounds request bodies, in bytes (default 1 MiB).
	BodyLimit int64
	// Metrics is where HTTP metrics are registered and what /metrics
	// serves.
	Metrics *prometheus.Registry
	// StoreName says which store is in use, for /readyz.
	StoreName string

	// MetricsOnMainRouter says whether /metrics is served beside the API.
	// Nil means yes (as before); false leaves it off the main router, and
	// cmd serves MetricsHandler on a separate address instead.
	MetricsOnMainRouter *bool
	// MetricsToken, when set, is the bearer token /metrics requires,
	// wherever it is served.
	MetricsToken string

	// TrustedProxies are the reverse proxies whose X-Forwarded-For names
	// the client. Without any, the client is the address that connected,
	// which behind a proxy is the proxy for every client.
	TrustedProxies []netip.Prefix
	// TracerProvider traces each request (otel.go); nil traces nothing.
	TracerProvider trace.TracerProvider
	// AuthFailuresPerMinute is how many failed authentications one client
	// address may make in a minute before it is refused for the rest of
	// it (429); 20 if zero.
	AuthFailuresPerMinute int
	// RSVPPerMinute is how many RSVP link requests one client address, and
	// one link, may make in a minute; 30 if zero.
	RSVPPerMinute int
}

// Server is the HTTP API.
type Server struct {
	app       *service.App
	auth      *Authenticator
	log       *slog.Logger
	echo      *echo.Echo
	doc       *openapi3.T
	metrics   *httpMetrics
	registry  *prometheus.Registry
	bodyLimit int64
	storeName string

	metricsOnMain bool
	metricsToken  string
	// authFailures counts failed authentications per client address;
	// rsvp counts RSVP link requests per client address and per link.
	authFailures *limiter
	rsvp         *limiter
}

// New builds the server and its routes.
func New(cfg Config) (*Server, error) {
	doc, err := openapi3.NewLoader().LoadFromData(openapi.Document)
	if err != nil {
		return nil, err
	}
	if err := doc.Validate(context.Background()); err != nil {
		return nil, err
	}
	if cfg.BodyLimit <= 0 {
		cfg.BodyLimit = 1 << 20
	}
	if cfg.Metrics == nil {
		cfg.Metrics = prometheus.NewRegistry()
	}
	if cfg.App == nil || cfg.Auth == nil || cfg.Log == nil {
		return nil, errors.New("httpapi: App, Auth and Log are required")
	}
	if cfg.AuthFailuresPerMinute <= 0 {
		cfg.AuthFailuresPerMinute = 20
	}
	if cfg.RSVPPerMinute <= 0 {
		cfg.RSVPPerMinute = 30
	}
	s := &Server{
		app: cfg.App, auth: cfg.Auth, log: cfg.Log, doc: doc,
		metrics: newHTTPMetrics(cfg.Metrics), registry: cfg.Metrics,
		bodyLimit: cfg.BodyLimit, storeName: cfg.StoreName,
		metricsOnMain: cfg.MetricsOnMainRouter == nil || *cfg.MetricsOnMainRouter,
		metricsToken:  cfg.MetricsToken,
		authFailures:  newLimiter(cfg.AuthFailuresPerMinute, time.Minute),
		rsvp:          newLimiter(cfg.RSVPPerMinute, time.Minute),
	}
	e := s.newEcho(cfg.TrustedProxies)
	e.Use(s.requestID, tracing(cfg.TracerProvider), s.secureHeaders, s.observe, middleware.Recover(), s.limitBody)
	s.echo = e
	s.routes()
	return s, nil
}

// newEcho is an echo instance with the server's error handler, reading
// the client's address as trustedProxies allow.
func (s *Server) newEcho(trustedProxies []netip.Prefix) *echo.Echo {
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = s.handleError
	e.IPExtractor = echo.ExtractIPDirect()
	if len(trustedProxies) > 0 {
		// Only the proxies named: echo would otherwise believe any
		// loopback or private address that sends X-Forwarded-For.
		opts := []echo.TrustOption{echo.TrustLoopback(false), echo.TrustLinkLocal(false), echo.TrustPrivateNet(false)}
		for _, p := range trustedProxies {
			p = p.Masked()
			opts = append(opts, echo.TrustIPRange(&net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}))
		}
		e.IPExtractor = echo.ExtractIPFromXFFHeader(opts...)
	}
	return e
}

// MetricsHandler serves /metrics (behind MetricsToken, if set) on its
// own, for cmd to listen on a separate address when MetricsOnMainRouter is
// false.
func (s *Server) MetricsHandler() http.Handler {
	e := s.newEcho(nil)
	e.Use(s.requestID, s.secureHeaders)
	e.GET("/metrics", s.serveMetrics)
	return e
}

// serveMetrics serves the registry, to the bearer of the metrics token
// when one is configured: metrics name routes, counts and timings, which
// are no business of the Internet's.
func (s *Server) serveMetrics(c echo.Context) error {
	if s.metricsToken != "" {
		client := clientKey(c)
		if limited, retry := s.authFailures.limited(client); limited {
			return tooMany(c, retry, "failed sign-ins")
		}
		scheme, tok, _ := strings.Cut(c.Request().Header.Get("Authorization"), " ")
		// Compared as hashes, so the comparison takes the same time
		// whatever the length of what was sent.
		want, got := sha256.Sum256([]byte(s.metricsToken)), sha256.Sum256([]byte(strings.TrimSpace(tok)))
		if !strings.EqualFold(scheme, "Bearer") || subtle.ConstantTimeCompare(want[:], got[:]) != 1 {
			s.authFailures.add(client)
			return service.Errorf(service.EUNAUTHORIZED, "send the metrics token as a bearer token")
		}
	}
	promhttp.HandlerFor(s.registry, promhttp.HandlerOpts{}).ServeHTTP(c.Response(), c.Request())
	return nil
}

// secureHeaders marks every response as not to be stored (API answers
// carry case data; a shared cache or a browser's disk must not keep them)
// and its media type as final (no sniffing a JSON body into HTML).
func (s *Server) secureHeaders(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		h := c.Response().Header()
		h.Set("Cache-Control", "no-store")
		h.Set("X-Content-Type-Options", "nosniff")
		return next(c)
	}
}

// clientKey is who a rate limit counts: the client's address, an IPv6
// client by its /64 (one household or host gets a whole /64, so single
// addresses would let it through).
func clientKey(c echo.Context) string {
	a, err := netip.ParseAddr(c.RealIP())
	if err != nil {
		return "ip:" + c.RealIP()
	}
	a = a.Unmap()
	if a.Is6() {
		p, _ := a.Prefix(64)
		return "ip:" + p.String()
	}
	return "ip:" + a.String()
}

// tooMany refuses a request over a rate limit, saying when to try again.
func tooMany(c echo.Context, retry time.Duration, what string) error {
	secs := int((retry + time.Second - 1) / time.Second)
	secs = max(secs, 1)
	c.Response().Header().Set("Retry-After", strconv.Itoa(secs))
	return service.Errorf(service.ETOOMANY, "too many %s from this address; try again in %d seconds", what, secs)
}

// ServeHTTP makes Server an http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.echo.ServeHTTP(w, r) }

// Routes lists method and path (in the document's {param} form) of every
// route, so tests can hold it against the contract.
func (s *Server) Routes() []string {
	var out []string
	for _, r := range s.echo.Routes() {
		out = append(out, r.Method+" "+openapiPath(r.Path))
	}
	return out
}

var safeRequestID = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,64}$`)

// requestID takes the caller's X-Request-Id when it is safe to log, or
// makes one, and carries it in the response and the request context.
func (s *Server) requestID(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		id := c.Request().Header.Get(echo.HeaderXRequestID)
		if !safeRequestID.MatchString(id) {
			id = service.NewID()
		}
		c.Response().Header().Set(echo.HeaderXRequestID, id)
		c.Set("request_id", id)
		r := c.Request()
		c.SetRequest(r.WithContext(service.WithRequestID(r.Context(), id)))
		return next(c)
	}
}

func requestID(c echo.Context) string {
	id, _ := c.Get("request_id").(string)
	return id
}

// limitBody refuses bodies over the limit: at once when Content-Length says
// so, and while reading otherwise.
func (s *Server) limitBody(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := c.Request()
		if r.ContentLength > s.bodyLimit {
			return service.Errorf(service.ETOOLARGE, "the request body is larger than this service accepts (%d bytes at most)", s.bodyLimit)
		}
		r.Body = http.MaxBytesReader(c.Response(), r.Body, s.bodyLimit)
		return next(c)
	}
}
