package main

import (
	"net/http/httptest"
	"os"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestAdmissionConfig(t *testing.T) {
	cases := []struct {
		name    string
		env     map[string]string
		wantErr string
		active  int
		wait    time.Duration
	}{
		{"defaults: four for each processor, ten seconds in line", nil, "", 4 * runtime.GOMAXPROCS(0), 10 * time.Second},
		{"set", map[string]string{"CONVENE_MAX_ACTIVE_REQUESTS": "16", "CONVENE_REQUEST_QUEUE_WAIT": "2s"}, "", 16, 2 * time.Second},
		{"none at all", map[string]string{"CONVENE_MAX_ACTIVE_REQUESTS": "0"}, "CONVENE_MAX_ACTIVE_REQUESTS", 0, 0},
		{"not a number", map[string]string{"CONVENE_MAX_ACTIVE_REQUESTS": "lots"}, "CONVENE_MAX_ACTIVE_REQUESTS", 0, 0},
		{"not a duration", map[string]string{"CONVENE_REQUEST_QUEUE_WAIT": "10"}, "CONVENE_REQUEST_QUEUE_WAIT", 0, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg, ok := loadConfigCase(t, c.env, c.wantErr)
			if !ok {
				return
			}
			if cfg.MaxActiveRequests != c.active || cfg.RequestQueueWait != c.wait {
				t.Errorf("active %d, wait %s; want %d, %s", cfg.MaxActiveRequests, cfg.RequestQueueWait, c.active, c.wait)
			}
		})
	}
}

// The requests that pass the door without waiting: health and metrics
// (which must answer when the service is busy), static files, and exports
// (which stream for as long as the client reads).
func TestStraightIn(t *testing.T) {
	for path, want := range map[string]bool{
		"/healthz": true, "/readyz": true, "/metrics": true, "/assets/govuk-frontend.min.css": true, "/static/app.js": true,
		"/v1/exports/discussions": true,
		"/v1/discussions":         false, "/v1/imip": false, "/": false, "/discussions": false, "/v1/discussions/x/quorum": false,
	} {
		if got := straightIn(httptest.NewRequest("GET", path, nil)); got != want {
			t.Errorf("%s: straight in %v, want %v", path, got, want)
		}
	}
}

// loadConfigCase loads the configuration from env; with wantErr, it checks
// the error names it and reports false.
func loadConfigCase(t *testing.T, env map[string]string, wantErr string) (config, bool) {
	t.Helper()
	cfg, err := loadConfig(func(k string) string { return env[k] })
	if wantErr != "" {
		if err == nil || !strings.Contains(err.Error(), wantErr) {
			t.Fatalf("error %v, want one naming %s", err, wantErr)
		}
		return cfg, false
	}
	if err != nil {
		t.Fatal(err)
	}
	return cfg, true
}

// The shutdown grace covers a request that waited its longest at the door
// and then read every calendar, and Kubernetes waits longer than that
// before it kills the pod.
func TestShutdownGraceFitsThePod(t *testing.T) {
	cfg, _ := loadConfigCase(t, nil, "")
	grace := cfg.shutdownGrace()
	if longest := cfg.RequestQueueWait + cfg.AvailabilityBudget + cfg.CalendarTimeout; grace <= longest {
		t.Errorf("grace %s, not longer than the longest request (%s)", grace, longest)
	}
	b, err := os.ReadFile("../../deploy/kubernetes/deployment.yaml")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`terminationGracePeriodSeconds: (\d+)`).FindSubmatch(b)
	if m == nil {
		t.Fatal("deployment.yaml sets no terminationGracePeriodSeconds")
	}
	pod, _ := strconv.Atoi(string(m[1]))
	if time.Duration(pod)*time.Second <= grace {
		t.Errorf("the pod is killed after %ds, before the service's own grace of %s ends", pod, grace)
	}
}
