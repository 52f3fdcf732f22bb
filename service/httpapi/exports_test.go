package httpapi_test

// The export for the case system and the management figures over HTTP
// (issue 14): JSON and CSV, paged through the store, for business support
// and administrators, audited.

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/convene/convene/service"
	"github.com/convene/convene/service/storetest"
)

func TestExportDiscussions(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	ctx := context.Background()
	// 450 discussions due in March 2026 (more than two of the export's
	// pages), and one in April, outside the period.
	base := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	for i := range 450 {
		d := storetest.Discussion(fmt.Sprintf("d%04d", i), base.Add(time.Duration(i)*time.Hour))
		if err := h.store.CreateDiscussion(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	if err := h.store.CreateDiscussion(ctx, storetest.Discussion("april", time.Date(2026, 4, 2, 9, 0, 0, 0, time.UTC))); err != nil {
		t.Fatal(err)
	}
	bso := token(t, service.RoleBusinessSupport, "social_care")
	r := h.do("GET", "/v1/exports/discussions?from=2026-03-01&to=2026-04-01", bso, nil)
	if r.Status != http.StatusOK || r.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("json export: %d %s", r.Status, r.Header.Get("Content-Type"))
	}
	conforms(t, "GET", "/v1/exports/discussions", r)
	var doc struct {
		Items []service.ExportRow `json:"items"`
	}
	decodeInto(t, r.Body, &doc)
	if len(doc.Items) != 450 || doc.Items[0].ID != "d0000" || doc.Items[449].ID != "d0449" {
		t.Fatalf("%d rows, first %+v", len(doc.Items), doc.Items[0])
	}
	first := doc.Items[0]
	if first.CaseReference != "CR-d0000" || first.RAG != "red" || first.BindingRule != "S1" || first.Area != "default" || first.Status != "proposed" {
		t.Errorf("row %+v", first)
	}
	if bytes.Contains(r.Body, []byte("inpatient")) || bytes.Contains(r.Body, []byte("serious_physical_injury")) {
		t.Error("the export carries the case's circumstances")
	}

	r = h.do("GET", "/v1/exports/discussions?from=2026-03-01T00:00:00Z&to=2026-04-01T00:00:00Z&format=csv", bso, nil)
	if r.Status != http.StatusOK || r.Header.Get("Content-Type") != "text/csv; charset=utf-8" {
		t.Fatalf("csv export: %d %s", r.Status, r.Header.Get("Content-Type"))
	}
	rows, err := csv.NewReader(bytes.NewReader(r.Body)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 451 || !slices.Equal(rows[0], service.ExportColumns) || rows[1][0] != "d0000" || rows[1][1] != "CR-d0000" {
		t.Errorf("%d csv rows, header %v, first %v", len(rows), rows[0], rows[1])
	}
	// An empty period is a header (CSV) or an empty list (JSON).
	if r = h.do("GET", "/v1/exports/discussions?from=2027-01-01&to=2027-02-01", bso, nil); r.Status != 200 || r.JSON(t)["items"] == nil {
		t.Errorf("empty: %d %s", r.Status, r.Body)
	}
	audits, err := h.store.Audit(ctx, service.AuditFilter{Resource: "discussions", Limit: 50})
	if err != nil || !slices.ContainsFunc(audits, func(e service.AuditEntry) bool { return e.Action == "discussion.export" }) {
		t.Errorf("the export is not audited: %v", err)
	}

	problemOf(t, h.do("GET", "/v1/exports/discussions?from=2026-03-01&to=2026-04-01", token(t, service.RoleChair, "social_care"), nil), http.StatusForbidden)
	if p := problemOf(t, h.do("GET", "/v1/exports/discussions?from=2026-04-01&to=2026-03-01", bso, nil), http.StatusUnprocessableEntity); !slices.Contains(fieldsOf(p), "to") {
		t.Errorf("to before from: %v", p)
	}
	if p := problemOf(t, h.do("GET", "/v1/exports/discussions?from=March&to=2026-03-01", bso, nil), http.StatusUnprocessableEntity); !slices.Contains(fieldsOf(p), "from") {
		t.Errorf("a from that is not a date: %v", p)
	}
	problemOf(t, h.do("GET", "/v1/exports/discussions?from=2015-01-01&to=2026-01-01", bso, nil), http.StatusUnprocessableEntity)
	problemOf(t, h.do("GET", "/v1/exports/discussions?to=2026-01-01", bso, nil), http.StatusUnprocessableEntity)
}

func TestFigures(t *testing.T) {
	t.Parallel()
	m := started(t)
	r := m.h.do("POST", "/v1/discussions/"+m.d.ID+"/outcome", m.chair, outcomeBody(m, "s17_assessment"))
	if r.Status != http.StatusOK {
		t.Fatalf("outcome: %d %s", r.Status, r.Body)
	}
	from := m.d.Deadline.Add(-24 * time.Hour).UTC().Format(time.RFC3339)
	to := m.d.Deadline.Add(24 * time.Hour).UTC().Format(time.RFC3339)
	r = m.h.do("GET", "/v1/figures?from="+from+"&to="+to, m.bso, nil)
	if r.Status != http.StatusOK {
		t.Fatalf("figures: %d %s", r.Status, r.Body)
	}
	conforms(t, "GET", "/v1/figures", r)
	var f service.Figures
	decodeInto(t, r.Body, &f)
	if len(f.Timeliness) != 1 || f.Timeliness[0].Discussions != 1 || f.Timeliness[0].HeldWithin != 1 || f.Timeliness[0].RAG != "amber" {
		t.Errorf("timeliness %+v", f.Timeliness)
	}
	// The core team: police and health places, each filled at seniority.
	for _, a := range f.Attendance {
		if a.Required != 1 || a.PresentAtSeniority != 1 {
			t.Errorf("attendance %+v", a)
		}
	}
	if len(f.Attendance) == 0 || len(f.FollowOns) == 0 {
		t.Errorf("attendance %+v follow-ons %+v", f.Attendance, f.FollowOns)
	}
	for _, table := range []string{"timeliness", "attendance", "follow_ons"} {
		r = m.h.do("GET", "/v1/figures?format=csv&table="+table+"&from="+from+"&to="+to, m.bso, nil)
		rows, err := csv.NewReader(bytes.NewReader(r.Body)).ReadAll()
		if r.Status != http.StatusOK || err != nil || len(rows) < 2 || rows[0][0] != "period" {
			t.Errorf("%s csv: %d %v %v", table, r.Status, err, rows)
		}
	}
	problemOf(t, m.h.do("GET", "/v1/figures?from="+from+"&to="+to, m.chair, nil), http.StatusForbidden)
}
