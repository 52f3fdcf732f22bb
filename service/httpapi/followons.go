package httpapi

import (
	"time"

	"github.com/labstack/echo/v4"

	"github.com/convene/convene/service"
)

// meetFollowOn marks a follow-on met; the ICPC is met by its conference
// date (issue 14: follow-ons as work).
func (s *Server) meetFollowOn(c echo.Context) error {
	var in struct {
		At             *time.Time `json:"at"`
		ConferenceDate *time.Time `json:"conference_date"`
		Note           string     `json:"note"`
	}
	if err := decodeOptional(c, &in); err != nil {
		return err
	}
	ctx, id, fid := c.Request().Context(), c.Param("id"), c.Param("followon")
	if fid == service.FollowOnICPC {
		if in.ConferenceDate == nil {
			return service.Invalid("the conference is not valid", service.FieldError{Field: "conference_date",
				Message: "the ICPC follow-on is met by recording the conference's date"})
		}
		d, err := s.app.RecordConference(ctx, id, *in.ConferenceDate, in.Note)
		return s.respondRecord(c, d, err)
	}
	if in.ConferenceDate != nil {
		return service.Invalid("the follow-on is not valid", service.FieldError{Field: "conference_date", Message: "only the ICPC follow-on has a conference date"})
	}
	var at time.Time
	if in.At != nil {
		at = *in.At
	}
	d, err := s.app.MeetFollowOn(ctx, id, fid, at, in.Note)
	return s.respondRecord(c, d, err)
}
