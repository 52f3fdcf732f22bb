package httpapi

import (
	"net/http"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/convene/convene/service"
)

// Roles, for reading the table below.
const (
	admin     = service.RoleAdmin
	support   = service.RoleBusinessSupport
	chair     = service.RoleChair
	agencyRep = service.RoleAgencyRep
)

// routes is every route the service answers. Each /v1 route authenticates
// (optionally requiring roles: the domain checks again, and also checks
// per-resource access) and then validates against the contract.
func (s *Server) routes() {
	e := s.echo
	e.GET("/healthz", s.health)
	e.GET("/readyz", s.ready)
	e.GET("/metrics", echo.WrapHandler(promhttp.HandlerFor(s.registry, promhttp.HandlerOpts{})))
	e.GET("/openapi.yaml", s.openapiDocument)

	api := func(method, path string, h echo.HandlerFunc, roles ...service.Role) {
		e.Add(method, path, h, s.authenticate(roles...), s.validate)
	}
	api(http.MethodGet, "/v1/people", s.listPeople)
	api(http.MethodPost, "/v1/people", s.createPerson, admin, support)
	api(http.MethodGet, "/v1/people/:id", s.getPerson)
	api(http.MethodPut, "/v1/people/:id", s.updatePerson, admin, support)

	api(http.MethodGet, "/v1/audit", s.listAudit, admin)

	api(http.MethodPost, "/v1/availability", s.checkAvailability, support, chair)
}
