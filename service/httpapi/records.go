package httpapi

import (
	"bytes"
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/convene/convene/service"
	"github.com/convene/convene/service/recordpdf"
)

// The Record of Strategy Discussion (issue 14): read as JSON or PDF,
// circulated, and signed up to by the partner agencies.

// getRecord answers the record as JSON, or as a PDF when the client
// prefers application/pdf.
func (s *Server) getRecord(c echo.Context) error {
	if wantsPDF(c.Request().Header.Get("Accept")) {
		return s.getRecordPDF(c)
	}
	r, err := s.app.Record(c.Request().Context(), c.Param("id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, s.viewRecord(r))
}

// wantsPDF reports whether an Accept header asks for the PDF before JSON.
func wantsPDF(accept string) bool {
	for _, part := range strings.Split(accept, ",") {
		mt, _, _ := strings.Cut(strings.TrimSpace(part), ";")
		switch strings.ToLower(strings.TrimSpace(mt)) {
		case "application/pdf":
			return true
		case "application/json", "application/*", "*/*":
			return false
		}
	}
	return false
}

// getRecordPDF answers the record as a PDF for the case file.
func (s *Server) getRecordPDF(c echo.Context) error {
	r, err := s.app.Record(c.Request().Context(), c.Param("id"))
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := recordpdf.Render(&buf, r); err != nil {
		return service.Internal(err, "render the record")
	}
	h := c.Response().Header()
	h.Set("Content-Disposition", `attachment; filename="record-`+r.CaseReference+`-v`+strconv.Itoa(r.Version)+`.pdf"`)
	h.Set("Cache-Control", "no-store")
	return c.Blob(http.StatusOK, "application/pdf", buf.Bytes())
}

// circulateRecord sends the record to every participant.
func (s *Server) circulateRecord(c echo.Context) error {
	d, err := s.app.CirculateRecord(c.Request().Context(), c.Param("id"))
	return s.respondRecord(c, d, err)
}

// signRecord records the caller's agreement or dissent for their agency.
func (s *Server) signRecord(c echo.Context) error {
	var in struct {
		Agency   service.Agency `json:"agency"`
		Decision string         `json:"decision"`
		Reason   string         `json:"reason"`
	}
	if err := decode(c, &in); err != nil {
		return err
	}
	d, err := s.app.SignRecord(c.Request().Context(), c.Param("id"), in.Agency, in.Decision, in.Reason)
	return s.respondRecord(c, d, err)
}

// respondRecord writes the record of a discussion after a change to it.
func (s *Server) respondRecord(c echo.Context, d *service.Discussion, err error) error {
	if err != nil {
		return err
	}
	r, err := s.app.RecordFor(d)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, s.viewRecord(r))
}

// viewRecord shows the record's times in the area's zone.
func (s *Server) viewRecord(r *service.Record) *service.Record {
	z := s.zone()
	v := *r
	v.Start, v.End, v.GeneratedAt = r.Start.In(z), r.End.In(z), r.GeneratedAt.In(z)
	v.FollowOns = make([]service.FollowOn, len(r.FollowOns))
	for i, fo := range r.FollowOns {
		fo.Due = fo.Due.In(z)
		v.FollowOns[i] = fo
	}
	return &v
}
