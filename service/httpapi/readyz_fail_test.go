package httpapi_test

// Readiness follows the store: when the data directory is full, so that
// nothing can be written (not even the audit entry of a read), /readyz
// answers 503, and once there is room again it answers 200.

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/convene/convene/service"
	"github.com/convene/convene/service/httpapi"
	"github.com/convene/convene/service/sqlite"
)

func TestReadyzFollowsTheStore(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	// The store is allowed 512 KiB a database: the size limit stands in
	// for a disk that fills up.
	store, err := sqlite.Open(ctx, t.TempDir(), sqlite.MaxSize(512<<10))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close() })
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	auth, err := httpapi.NewAuthenticator(httpapi.AuthConfig{Issuer: issuer, Audience: audience, Secret: secret})
	if err != nil {
		t.Fatal(err)
	}
	api, err := httpapi.New(httpapi.Config{App: service.NewApp(store, log), Auth: auth, Log: log, Metrics: prometheus.NewRegistry(), StoreName: "sqlite"})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(api)
	t.Cleanup(srv.Close)
	h := &harness{t: t, url: srv.URL}
	bso := token(t, service.RoleBusinessSupport, "social_care")

	ready := func(t *testing.T) {
		t.Helper()
		r := h.at(t).do("GET", "/readyz", "", nil)
		if got := r.JSON(t); r.Status != http.StatusOK || got["status"] != "ready" || got["store"] != "sqlite" {
			t.Fatalf("readyz: %d %s, want 200 ready on sqlite", r.Status, r.Body)
		}
		conforms(t, "GET", "/readyz", r)
		if r := h.at(t).do("GET", "/v1/people", bso, nil); r.Status != http.StatusOK {
			t.Errorf("ready, but listing the directory answers %d %s", r.Status, r.Body)
		}
	}
	ready(t)

	// The audit log fills the store: nothing more can be written.
	for i := 0; ; i++ {
		err = store.AppendAudit(ctx, []service.AuditEntry{{ID: fmt.Sprintf("a%06d", i), Resource: "people/p1",
			Action: strings.Repeat("x", 1000), At: time.Now()}})
		if err != nil {
			break
		}
		if i == 10000 {
			t.Fatal("10,000 audit entries of 1 KB fitted in 512 KiB")
		}
	}
	if service.ErrorCode(err) != service.EUNAVAILABLE {
		t.Fatalf("writing to the full store: %v, want %s", err, service.EUNAVAILABLE)
	}
	// Users cannot be served (each read is audited): they are told the
	// service is unavailable, to try later, not that something broke; and
	// the probe says so, as a problem document.
	if r := h.do("GET", "/v1/people", bso, nil); r.Status != http.StatusServiceUnavailable {
		t.Fatalf("listing the directory with the store full: %d %s, want 503", r.Status, r.Body)
	} else if p := problemOf(t, r, http.StatusServiceUnavailable); p["code"] != service.EUNAVAILABLE {
		t.Errorf("listing the directory with the store full: %v, want %s", p, service.EUNAVAILABLE)
	}
	r := h.do("GET", "/readyz", "", nil)
	p := problemOf(t, r, http.StatusServiceUnavailable)
	conforms(t, "GET", "/readyz", r)
	if p["code"] != service.EUNAVAILABLE || !strings.Contains(fmt.Sprint(p["detail"]), "full") {
		t.Errorf("readyz on a full store: %v, want %s saying the store is full", p, service.EUNAVAILABLE)
	}

	// Retention purges the audit entries: there is room again.
	if n, err := store.PurgeAudit(ctx, time.Now().Add(time.Hour)); err != nil || n == 0 {
		t.Fatalf("purging the audit log: %d entries, %v", n, err)
	}
	ready(t)
}
