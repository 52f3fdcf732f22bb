package httpapi_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/convene/convene/service"
	"github.com/convene/convene/service/storetest"
)

// TestCaseSearch: an administrator finds every discussion of a case
// reference for a subject-access or erasure request; nobody else may; the
// search is audited.
func TestCaseSearch(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	ctx := context.Background()
	for _, id := range []string{"d1", "d2"} {
		d := storetest.Discussion(id, time.Now().Add(48*time.Hour))
		d.CaseReference = "CR-2026-0042"
		if err := h.store.CreateDiscussion(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	if err := h.store.CreateDiscussion(ctx, storetest.Discussion("other", time.Now().Add(48*time.Hour))); err != nil {
		t.Fatal(err)
	}
	admin := token(t, service.RoleAdmin, "social_care")
	r := h.do("GET", "/v1/admin/case-search?case_reference=CR-2026-0042", admin, nil)
	if r.Status != http.StatusOK {
		t.Fatalf("case search: %d %s", r.Status, r.Body)
	}
	items, _ := r.JSON(t)["items"].([]any)
	if len(items) != 2 {
		t.Errorf("found %d discussions, want 2: %s", len(items), r.Body)
	}
	problemOf(t, h.do("GET", "/v1/admin/case-search?case_reference=CR-2026-0042", token(t, service.RoleBusinessSupport, "social_care"), nil), http.StatusForbidden)
	if p := problemOf(t, h.do("GET", "/v1/admin/case-search", admin, nil), http.StatusUnprocessableEntity); len(fieldsOf(p)) != 1 || fieldsOf(p)[0] != "case_reference" {
		t.Errorf("a search without a case reference: fields at fault %v", fieldsOf(p))
	}
	entries, err := h.store.Audit(ctx, service.AuditFilter{Resource: "cases", Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].Action != "case.search" {
		t.Errorf("case searches audited: %+v, want one case.search", entries)
	}
}
