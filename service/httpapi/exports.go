package httpapi

import (
	"encoding/csv"
	"encoding/json"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/convene/convene/service"
)

// period reads from and to: a date-time, or a date (midnight in the area's
// time zone).
func (s *Server) period(c echo.Context) (service.PeriodFilter, error) {
	zone := s.app.Zone
	if zone == nil {
		zone = time.UTC
	}
	var f service.PeriodFilter
	var fe service.Fields
	for _, p := range []struct {
		name string
		into *time.Time
	}{{"from", &f.From}, {"to", &f.To}} {
		v := c.QueryParam(p.name)
		if v == "" {
			continue // the domain says it is required
		}
		if t, err := time.Parse(time.RFC3339, v); err == nil {
			*p.into = t
		} else if t, err := time.ParseInLocation(time.DateOnly, v, zone); err == nil {
			*p.into = t
		} else {
			fe.Add(p.name, "must be a date (2026-03-01) or a date-time (RFC 3339)")
		}
	}
	return f, fe.Err("the period is not valid")
}

// exportDiscussions is GET /v1/exports/discussions: every discussion whose
// statutory deadline is in the period, with its outcome, as JSON or CSV,
// written as it is read (a page of discussions at a time), so an export of
// 100,000 holds one page in memory. A failure part way aborts the
// response, so a client never takes a cut-off export for a whole one.
func (s *Server) exportDiscussions(c echo.Context) error {
	f, err := s.period(c)
	if err != nil {
		return err
	}
	csvOut := c.QueryParam("format") == "csv"
	w := c.Response()
	started := false
	var cw *csv.Writer
	enc := json.NewEncoder(w)
	n := 0
	err = s.app.ExportDiscussions(c.Request().Context(), f, func(r *service.ExportRow) error {
		if !started {
			started = true
			s.startExport(c, csvOut, "discussions")
			if csvOut {
				cw = csv.NewWriter(w)
				if err := cw.Write(service.ExportColumns); err != nil {
					return err
				}
			}
		}
		if csvOut {
			return cw.Write(r.Record())
		}
		if n > 0 {
			if _, err := w.Write([]byte(",")); err != nil {
				return err
			}
		}
		n++
		return enc.Encode(r)
	})
	if err != nil && !started {
		return err
	}
	if err != nil {
		s.log.ErrorContext(c.Request().Context(), "export cut off", "err", err)
		panic(http.ErrAbortHandler)
	}
	if !started {
		s.startExport(c, csvOut, "discussions")
		if csvOut {
			cw = csv.NewWriter(w)
			_ = cw.Write(service.ExportColumns)
		}
	}
	if csvOut {
		cw.Flush()
		return cw.Error()
	}
	_, err = w.Write([]byte("]}\n"))
	return err
}

// startExport writes the headers and, for JSON, the opening of the list.
func (s *Server) startExport(c echo.Context, csvOut bool, name string) {
	h := c.Response().Header()
	h.Set("Cache-Control", "no-store")
	if csvOut {
		h.Set("Content-Type", "text/csv; charset=utf-8")
		h.Set("Content-Disposition", `attachment; filename="`+name+`.csv"`)
		c.Response().WriteHeader(http.StatusOK)
		return
	}
	h.Set("Content-Type", "application/json")
	c.Response().WriteHeader(http.StatusOK)
	_, _ = c.Response().Write([]byte(`{"items":[`))
}
