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
	api(http.MethodPost, "/v1/timescales", s.timescales)

	api(http.MethodPost, "/v1/discussions", s.convene, support, chair)
	api(http.MethodGet, "/v1/discussions", s.listDiscussions)
	api(http.MethodGet, "/v1/discussions/:id", s.getDiscussion)
	api(http.MethodPost, "/v1/discussions/:id/book", s.book, support, chair)
	api(http.MethodPost, "/v1/discussions/:id/reschedule", s.reschedule, support, chair)
	api(http.MethodPost, "/v1/discussions/:id/cancel", s.cancel, support, chair)
	api(http.MethodPost, "/v1/discussions/:id/attendees", s.addAttendee, support, chair)
	api(http.MethodDelete, "/v1/discussions/:id/attendees/:email", s.removeAttendee, support, chair)
	api(http.MethodPost, "/v1/discussions/:id/counters/:counter/accept", s.acceptCounter, support, chair)
	api(http.MethodPost, "/v1/discussions/:id/counters/:counter/decline", s.declineCounter, support, chair)
	api(http.MethodPost, "/v1/discussions/:id/held-replies/:held/admit", s.admitReply, support, chair)
	api(http.MethodPost, "/v1/discussions/:id/held-replies/:held/reject", s.rejectReply, support, chair)
	api(http.MethodGet, "/v1/discussions/:id/quorum", s.quorum)
	api(http.MethodPost, "/v1/discussions/:id/attendance", s.attendance, support, chair)
	// Not gated by role: the domain answers 404 to anyone not invited
	// (so existence does not leak) and 403 to invitees who are not its chair.
	api(http.MethodPost, "/v1/discussions/:id/start", s.start)
	api(http.MethodPost, "/v1/discussions/:id/outcome", s.outcome)

	api(http.MethodPost, "/v1/imip", s.imip, service.RoleMailGateway, admin)

	// RSVP links in invitation emails: the signed token is the credential.
	public := func(method, path string, h echo.HandlerFunc) { e.Add(method, path, h, s.validate) }
	public(http.MethodGet, "/v1/rsvp/:token", s.rsvpShow)
	public(http.MethodPost, "/v1/rsvp/:token", s.rsvpAnswer)
}
