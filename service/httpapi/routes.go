package httpapi

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/convene/convene/service"
)

// Roles, for reading the table below.
const (
	admin     = service.RoleAdmin
	support   = service.RoleBusinessSupport
	chair     = service.RoleChair
	agencyRep = service.RoleAgencyRep
	gateway   = service.RoleMailGateway
)

// routes is every route the service answers. Each /v1 route authenticates
// (optionally requiring roles: the domain checks again, and also checks
// per-resource access) and then validates against the contract.
func (s *Server) routes() {
	e := s.echo
	e.GET("/healthz", s.health)
	e.GET("/readyz", s.ready)
	if s.metricsOnMain {
		e.GET("/metrics", s.serveMetrics)
	}
	e.GET("/openapi.yaml", s.openapiDocument)

	api := func(method, path string, h echo.HandlerFunc, roles ...service.Role) {
		e.Add(method, path, h, s.authenticate(roles...), s.validate)
	}
	api(http.MethodGet, "/v1/people", s.listPeople)
	api(http.MethodPost, "/v1/people", s.createPerson, admin, support)
	api(http.MethodGet, "/v1/people/:id", s.getPerson)
	api(http.MethodPut, "/v1/people/:id", s.updatePerson, admin, support)

	api(http.MethodGet, "/v1/venues", s.listVenues, admin, support, chair)
	api(http.MethodPost, "/v1/venues", s.createVenue, admin)
	api(http.MethodPut, "/v1/venues/:id", s.updateVenue, admin)

	api(http.MethodGet, "/v1/audit", s.listAudit, admin)
	api(http.MethodGet, "/v1/admin/case-search", s.caseSearch, admin)

	api(http.MethodPost, "/v1/availability", s.checkAvailability, support, chair)
	api(http.MethodPost, "/v1/timescales", s.timescales)

	api(http.MethodPost, "/v1/discussions", s.convene, support, chair)
	api(http.MethodGet, "/v1/discussions", s.listDiscussions)
	api(http.MethodGet, "/v1/discussions/:id", s.getDiscussion)
	api(http.MethodGet, "/v1/discussions/:id/timeline", s.timeline)
	api(http.MethodPut, "/v1/discussions/:id/note", s.setNote, support, chair)
	api(http.MethodPost, "/v1/discussions/:id/separate", s.conveneSeparate, support, chair)
	api(http.MethodPost, "/v1/discussions/:id/book", s.book, support, chair)
	api(http.MethodPost, "/v1/discussions/:id/reschedule", s.reschedule, support, chair)
	api(http.MethodPost, "/v1/discussions/:id/cancel", s.cancel, support, chair)
	api(http.MethodPost, "/v1/discussions/:id/attendees", s.addAttendee, support, chair)
	api(http.MethodDelete, "/v1/discussions/:id/attendees/:email", s.removeAttendee, support, chair)
	api(http.MethodPost, "/v1/discussions/:id/counters/:counter/accept", s.acceptCounter, support, chair)
	api(http.MethodPost, "/v1/discussions/:id/counters/:counter/decline", s.declineCounter, support, chair)
	api(http.MethodPost, "/v1/discussions/:id/held-replies/:held/admit", s.admitReply, support, chair)
	api(http.MethodPost, "/v1/discussions/:id/held-replies/:held/reject", s.rejectReply, support, chair)
	api(http.MethodPost, "/v1/discussions/:id/messages/:message/requeue", s.requeueMessage, support, chair)
	api(http.MethodGet, "/v1/discussions/:id/quorum", s.quorum)
	api(http.MethodPost, "/v1/discussions/:id/attendance", s.attendance, support, chair)
	// Not gated by role: the domain answers 404 to anyone not invited
	// (so existence does not leak) and 403 to invitees who are not its
	// chair. Authorisations are given by whoever takes part, each for
	// themselves, whatever their role.
	api(http.MethodPost, "/v1/discussions/:id/start", s.start)
	api(http.MethodPost, "/v1/discussions/:id/outcome", s.outcome)
	api(http.MethodPost, "/v1/discussions/:id/outcome/amendments", s.amendOutcome)
	api(http.MethodPost, "/v1/discussions/:id/authorisations", s.authorise)
	// The record and follow-ons (records.go, followons.go): the domain
	// decides who may, per discussion (participants read and sign; business
	// support or the chair circulate; follow-ons by their owners too).
	api(http.MethodGet, "/v1/discussions/:id/record", s.getRecord)
	api(http.MethodGet, "/v1/discussions/:id/record.pdf", s.getRecordPDF)
	api(http.MethodPost, "/v1/discussions/:id/record/circulate", s.circulateRecord, support, chair)
	api(http.MethodPost, "/v1/discussions/:id/record/signatures", s.signRecord)
	api(http.MethodPost, "/v1/discussions/:id/follow-ons/:followon/met", s.meetFollowOn)

	// Notices (inbox.go, preferences.go), the case system's export and the
	// management figures (exports.go, figures.go).
	api(http.MethodGet, "/v1/inbox", s.listInbox, support, chair)
	api(http.MethodPost, "/v1/inbox/:notice/dismiss", s.dismissNotice, support, chair)
	api(http.MethodGet, "/v1/me/notification-preference", s.getPreference, support, chair)
	api(http.MethodPut, "/v1/me/notification-preference", s.setPreference, support, chair)
	api(http.MethodGet, "/v1/exports/discussions", s.exportDiscussions, support, admin)
	api(http.MethodGet, "/v1/figures", s.getFigures, support, admin)

	// The mail gateway's service account only: an administrator must not
	// be able to post a reply and take someone's place.
	api(http.MethodPost, "/v1/imip", s.imip, gateway)

	// RSVP links in invitation emails: the signed token is the credential.
	public := func(method, path string, h echo.HandlerFunc) { e.Add(method, path, h, s.validate) }
	public(http.MethodGet, "/v1/rsvp/:token", s.rsvpShow)
	public(http.MethodPost, "/v1/rsvp/:token", s.rsvpAnswer)
}
