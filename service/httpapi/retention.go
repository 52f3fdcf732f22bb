package httpapi

import (
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
)

// caseSearch finds every discussion touching a case reference, for a
// subject-access or erasure request (administrators; the App audits it).
func (s *Server) caseSearch(c echo.Context) error {
	ref := strings.TrimSpace(c.QueryParam("case_reference"))
	ds, err := s.app.CaseSearch(c.Request().Context(), ref)
	if err != nil {
		return err
	}
	type item struct {
		ID            string    `json:"id"`
		CaseReference string    `json:"case_reference"`
		Status        string    `json:"status"`
		CreatedAt     time.Time `json:"created_at"`
		UpdatedAt     time.Time `json:"updated_at"`
	}
	out := struct {
		CaseReference string `json:"case_reference"`
		Items         []item `json:"items"`
	}{CaseReference: ref, Items: []item{}}
	for _, d := range ds {
		out.Items = append(out.Items, item{ID: d.ID, CaseReference: d.CaseReference, Status: string(d.Status), CreatedAt: d.CreatedAt, UpdatedAt: d.UpdatedAt})
	}
	return c.JSON(http.StatusOK, out)
}
