// Package httpapi is Convene's REST API on echo: every route in routes.go,
// bearer JWTs, requests validated against the OpenAPI contract in openapi/,
// and one error handler writing RFC 9457 application/problem+json.
package httpapi

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"regexp"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
	"github.com/prometheus/client_golang/prometheus"

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
	s := &Server{
		app: cfg.App, auth: cfg.Auth, log: cfg.Log, doc: doc,
		metrics: newHTTPMetrics(cfg.Metrics), registry: cfg.Metrics,
		bodyLimit: cfg.BodyLimit, storeName: cfg.StoreName,
	}
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = s.handleError
	e.Use(s.requestID, s.observe, middleware.Recover(), s.limitBody)
	s.echo = e
	s.routes()
	return s, nil
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
