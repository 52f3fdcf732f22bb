package httpapi

import (
	"encoding/csv"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/convene/convene/service"
)

// getFigures is GET /v1/figures: the management figures over a period, as
// JSON (all three tables) or as CSV (one table, by table=).
func (s *Server) getFigures(c echo.Context) error {
	f, err := s.period(c)
	if err != nil {
		return err
	}
	figs, err := s.app.ManagementFigures(c.Request().Context(), f)
	if err != nil {
		return err
	}
	if c.QueryParam("format") != "csv" {
		c.Response().Header().Set("Cache-Control", "no-store")
		return c.JSON(http.StatusOK, figs)
	}
	table := c.QueryParam("table")
	if table == "" {
		table = "timeliness"
	}
	var rows [][]string
	i := strconv.Itoa
	i64 := func(n int64) string { return strconv.FormatInt(n, 10) }
	switch table {
	case "timeliness":
		rows = append(rows, []string{"period", "area", "rag", "discussions", "held_within", "held_late", "overdue", "pending", "cancelled",
			"median_late_minutes", "max_late_minutes", "late_up_to_1h", "late_1h_to_24h", "late_24h_to_72h", "late_over_72h"})
		for _, t := range figs.Timeliness {
			rows = append(rows, []string{t.Period, t.Area, t.RAG, i(t.Discussions), i(t.HeldWithin), i(t.HeldLate), i(t.Overdue), i(t.Pending),
				i(t.Cancelled), i64(t.MedianLateMinutes), i64(t.MaxLateMinutes), i(t.LateUpTo1h), i(t.LateUpTo24h), i(t.LateUpTo72h), i(t.LateOver72h)})
		}
	case "attendance":
		rows = append(rows, []string{"period", "area", "agency", "required", "present_at_seniority", "present_below_seniority", "absent"})
		for _, a := range figs.Attendance {
			rows = append(rows, []string{a.Period, a.Area, a.Agency, i(a.Required), i(a.PresentAtSeniority), i(a.PresentBelow), i(a.Absent)})
		}
	case "follow_ons":
		rows = append(rows, []string{"period", "area", "follow_on", "total", "met_on_time", "met_late", "missed", "overdue", "open"})
		for _, x := range figs.FollowOns {
			rows = append(rows, []string{x.Period, x.Area, x.FollowOn, i(x.Total), i(x.MetOnTime), i(x.MetLate), i(x.Missed), i(x.Overdue), i(x.Open)})
		}
	default:
		return service.Invalid("the table is not valid", service.FieldError{Field: "table", Message: "must be timeliness, attendance or follow_ons"})
	}
	h := c.Response().Header()
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Type", "text/csv; charset=utf-8")
	h.Set("Content-Disposition", `attachment; filename="figures-`+table+`.csv"`)
	c.Response().WriteHeader(http.StatusOK)
	w := csv.NewWriter(c.Response())
	if err := w.WriteAll(rows); err != nil {
		s.log.ErrorContext(c.Request().Context(), "figures cut off", "err", err)
	}
	return nil
}
