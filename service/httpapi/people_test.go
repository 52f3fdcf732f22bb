package httpapi_test

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/convene/convene/service"
)

func TestCreateAndReadPerson(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	bso := token(t, service.RoleBusinessSupport, "social_care")
	r := h.do("POST", "/v1/people", bso, validPerson("Dana.Inspector@Police.example.org"))
	if r.Status != http.StatusCreated {
		t.Fatalf("create: status %d: %s", r.Status, r.Body)
	}
	created := r.JSON(t)
	id, _ := created["id"].(string)
	if got, want := r.Header.Get("Location"), "/v1/people/"+id; got != want {
		t.Errorf("Location = %q, want %q", got, want)
	}
	if got, want := created["email"], "dana.inspector@police.example.org"; got != want {
		t.Errorf("email = %v, want it lower-cased to %v", got, want)
	}
	if strings.Contains(string(r.Body), "CONVENE_CRED_DANA") || strings.Contains(string(r.Body), "credential_ref") {
		t.Errorf("the credential reference leaked into the response: %s", r.Body)
	}
	cal, _ := created["calendar"].(map[string]any)
	if got, want := cal["credential_configured"], true; got != want {
		t.Errorf("calendar.credential_configured = %v, want %v", got, want)
	}

	// Police can read their own; education cannot see police people at all.
	if r := h.do("GET", "/v1/people/"+id, token(t, service.RoleAgencyRep, "police"), nil); r.Status != http.StatusOK {
		t.Errorf("police rep reading a police person: status %d", r.Status)
	} else if got, want := r.Header.Get("ETag"), `"1"`; got != want {
		t.Errorf("ETag = %q, want %q", got, want)
	}
	problemOf(t, h.do("GET", "/v1/people/"+id, token(t, service.RoleAgencyRep, "education"), nil), http.StatusNotFound)
	r = h.do("GET", "/v1/people", token(t, service.RoleAgencyRep, "education"), nil)
	if items := r.JSON(t)["items"].([]any); len(items) != 0 {
		t.Errorf("education rep listing people sees %d police entries, want 0", len(items))
	}

	// The write is audited with who, what, which resource and the request
	// id; so are the reads, and the refused one.
	entries, err := h.store.Audit(context.Background(), service.AuditFilter{Resource: "people/" + id, Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, e := range entries {
		actions = append(actions, e.Action+" by "+e.Actor.Subject)
		if e.RequestID == "" {
			t.Errorf("audit entry %+v has no request id", e)
		}
	}
	slices.Sort(actions)
	want := []string{"person.create by user-business_support-social_care", "person.read by user-agency_rep-police",
		"person.read.denied by user-agency_rep-education"}
	if diff := cmp.Diff(want, actions); diff != "" {
		t.Fatalf("audit of the person (-want +got):\n%s", diff)
	}
	i := slices.IndexFunc(entries, func(e service.AuditEntry) bool { return e.Action == "person.create" })
	e := entries[i]
	a := h.do("GET", "/v1/audit?resource=people/"+id, token(t, service.RoleAdmin, "social_care"), nil)
	if a.Status != http.StatusOK || !strings.Contains(string(a.Body), e.RequestID) {
		t.Errorf("admin reading the audit log: status %d body %s", a.Status, a.Body)
	}
	problemOf(t, h.do("GET", "/v1/audit", bso, nil), http.StatusForbidden)
}

func TestPersonEmailUniqueOverAPI(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	bso := token(t, service.RoleBusinessSupport, "social_care")
	if r := h.do("POST", "/v1/people", bso, validPerson("same@example.org")); r.Status != http.StatusCreated {
		t.Fatalf("first create: %d %s", r.Status, r.Body)
	}
	p := problemOf(t, h.do("POST", "/v1/people", bso, validPerson("SAME@example.org")), http.StatusConflict)
	if diff := cmp.Diff([]string{"email"}, fieldsOf(p)); diff != "" {
		t.Errorf("fields at fault (-want +got):\n%s", diff)
	}
	people, _ := h.store.People(context.Background(), service.PersonFilter{Limit: 10})
	if len(people) != 1 {
		t.Errorf("people stored = %d, want 1", len(people))
	}
}

func TestConcurrentUpdatesOneWins(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	bso := token(t, service.RoleBusinessSupport, "social_care")
	r := h.do("POST", "/v1/people", bso, validPerson("race@example.org"))
	id := r.JSON(t)["id"].(string)
	var wg sync.WaitGroup
	statuses := make([]int, 2)
	for i := range statuses {
		wg.Add(1)
		go func() {
			defer wg.Done()
			body := validPerson("race@example.org")
			body["role"] = fmt.Sprintf("role_%d", i)
			body["version"] = 1
			statuses[i] = h.do("PUT", "/v1/people/"+id, bso, body).Status
		}()
	}
	wg.Wait()
	slices.Sort(statuses)
	if diff := cmp.Diff([]int{http.StatusOK, http.StatusConflict}, statuses); diff != "" {
		t.Fatalf("two updates from version 1 (-want +got):\n%s", diff)
	}
	// A stale update after that is refused too, with a problem document.
	body := validPerson("race@example.org")
	body["version"] = 1
	problemOf(t, h.do("PUT", "/v1/people/"+id, bso, body), http.StatusConflict)
	got := h.do("GET", "/v1/people/"+id, bso, nil).JSON(t)
	if got["version"] != float64(2) {
		t.Errorf("version = %v, want 2", got["version"])
	}
	// The credential reference survives an update that sends back what the
	// API showed (no reference).
	p, _ := h.store.Person(context.Background(), id)
	if p.Calendar == nil || p.Calendar.CredentialRef != "env:CONVENE_CRED_DANA" {
		t.Errorf("stored calendar after update = %+v, want the reference kept", p.Calendar)
	}
}

func TestRoutesMatchContract(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	doc := h.do("GET", "/openapi.yaml", "", nil)
	if doc.Status != http.StatusOK || !strings.HasPrefix(string(doc.Body), "openapi: 3.") {
		t.Fatalf("GET /openapi.yaml: %d", doc.Status)
	}
	documented := documentedOperations(t, doc.Body)
	var routed []string
	for _, r := range h.api.Routes() {
		routed = append(routed, r)
	}
	slices.Sort(routed)
	routed = slices.Compact(routed)
	if diff := cmp.Diff(documented, routed); diff != "" {
		t.Errorf("routes served vs operations in openapi.yaml (-documented +served):\n%s", diff)
	}
}

func TestMetricsCountRequestsPerRoute(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	bso := token(t, service.RoleBusinessSupport, "social_care")
	h.do("GET", "/v1/people", bso, nil)
	h.do("GET", "/v1/people/0123456789abcdef0123456789abcdef", bso, nil)
	m := string(h.do("GET", "/metrics", "", nil).Body)
	for _, want := range []string{
		`convene_http_requests_total{method="GET",route="/v1/people",status="200"} 1`,
		`convene_http_requests_total{method="GET",route="/v1/people/:id",status="404"} 1`,
		`convene_http_request_duration_seconds_bucket{method="GET",route="/v1/people",le="+Inf"} 1`,
	} {
		if !strings.Contains(m, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

func TestReadyz(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	r := h.do("GET", "/readyz", "", nil)
	if got := r.JSON(t)["status"]; r.Status != http.StatusOK || got != "ready" {
		t.Errorf("readyz: %d %s", r.Status, r.Body)
	}
}
