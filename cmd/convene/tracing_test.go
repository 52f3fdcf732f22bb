package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/convene/convene/invites"
	"github.com/convene/convene/service/httpapi"
	"github.com/convene/convene/service/sqlite"
)

// TestTracesOfAConveneRequest wires the service as serve does, with the
// SDK's in-memory span recorder as the exporter, and convenes a discussion
// over HTTP with a caller's traceparent: one trace comes back, rooted in
// the caller's span, with the request's server span and, beneath it, the
// store calls of the use case and the read of an attendee's calendar. A
// message sent is traced too.
func TestTracesOfAConveneRequest(t *testing.T) {
	t.Parallel()
	rec := tracetest.NewSpanRecorder()
	served := &spanEnded{name: "POST /v1/discussions", ended: make(chan struct{}, 1)}
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec), sdktrace.WithSpanProcessor(served))
	env := testEnv(t)
	getenv := func(k string) string { return env[k] }
	cfg, err := loadConfig(getenv)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	st, err := sqlite.Open(ctx, cfg.DataDir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	app, err := newApp(ctx, cfg, traceStore(st, tp, "sqlite"), getenv, log)
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	app.AvailabilityOptions.Tracer, app.AvailabilityOptions.Observe = tp.Tracer(tracerName), calendarMetrics(reg)
	auth, err := httpapi.NewAuthenticator(httpapi.AuthConfig{Issuer: cfg.JWTIssuer, Audience: cfg.JWTAudience, Secret: []byte(cfg.JWTSecret)})
	if err != nil {
		t.Fatal(err)
	}
	api, err := httpapi.New(httpapi.Config{App: app, Auth: auth, Log: log, Metrics: reg, StoreName: "sqlite", TracerProvider: tp})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(api)
	defer srv.Close()

	bso := mint(t, env, "business_support", "bea", "bea@council.example.org", "social_care")
	admin := mint(t, env, "admin", "ada", "ada@council.example.org", "")
	chair, others := directory(t, srv.URL, admin)
	// One attendee's calendar is on a server that refuses the connection.
	code, p := call(t, "POST", srv.URL+"/v1/people", admin, map[string]any{"name": "Hana Health", "email": "hana@nhs.example.org",
		"agency": "health", "role": "safeguarding_nurse", "seniority": 3,
		"calendar": map[string]any{"type": "caldav", "url": "http://127.0.0.1:1/dav/hana/"}})
	if code != 201 {
		t.Fatalf("person: %d %v", code, p)
	}
	rec.Reset()

	caller := trace.NewSpanContext(trace.SpanContextConfig{TraceID: trace.TraceID{1, 2, 3}, SpanID: trace.SpanID{4, 5, 6}, TraceFlags: trace.FlagsSampled})
	code, d, _ := callWith(t, "POST", srv.URL+"/v1/discussions", bso, map[string]any{
		"case_reference": "CR-2026-5001", "rag": "amber", "concerns": []string{"other"},
		"referral_received_at": time.Now().Format(time.RFC3339), "chair_id": chair, "choose_invitees": false,
		"invitees": []map[string]any{{"person_id": others[0], "knows_child": true}, {"person_id": others[1]}, {"person_id": p["id"]}},
	}, "traceparent", fmt.Sprintf("00-%s-%s-01", caller.TraceID(), caller.SpanID()))
	if code != 201 {
		t.Fatalf("convene: %d %v", code, d)
	}
	// The server span ends once the response has gone, which can be just
	// after the client has it: wait for it to end.
	select {
	case <-served.ended:
	case <-time.After(5 * time.Second):
		t.Fatalf("the request's server span did not end; ended: %v", names(rec.Ended()))
	}
	spans := rec.Ended()
	byID := map[trace.SpanID]sdktrace.ReadOnlySpan{}
	var root sdktrace.ReadOnlySpan
	for _, s := range spans {
		byID[s.SpanContext().SpanID()] = s
		if s.Name() == "POST /v1/discussions" {
			root = s
		}
	}
	if root == nil {
		t.Fatalf("no server span for the request among %v", names(spans))
	}
	if root.SpanKind() != trace.SpanKindServer || root.Parent().SpanID() != caller.SpanID() || root.SpanContext().TraceID() != caller.TraceID() {
		t.Errorf("the server span does not continue the caller's trace: parent %s, trace %s", root.Parent().SpanID(), root.SpanContext().TraceID())
	}
	under := func(s sdktrace.ReadOnlySpan) bool {
		for p := s.Parent(); p.IsValid(); {
			if p.SpanID() == root.SpanContext().SpanID() {
				return true
			}
			parent, ok := byID[p.SpanID()]
			if !ok {
				return false
			}
			p = parent.Parent()
		}
		return false
	}
	found := map[string]int{}
	for _, s := range spans {
		if s != root && under(s) {
			found[s.Name()]++
		}
	}
	for _, want := range []string{"store.CreateDiscussion", "store.PatchDiscussion", "store.Person", "calendar.read"} {
		if found[want] == 0 {
			t.Errorf("no %s span beneath the request's; beneath it: %v", want, found)
		}
	}
	for _, s := range spans {
		if s.Name() == "calendar.read" {
			for _, a := range s.Attributes() {
				if a.Key == "server.address" && a.Value.AsString() != "127.0.0.1:1" {
					t.Errorf("calendar span names server %q", a.Value.AsString())
				}
				if strings.Contains(a.Value.Emit(), "hana") {
					t.Errorf("calendar span carries the calendar's path or owner: %s=%s", a.Key, a.Value.Emit())
				}
			}
		}
	}

	// A message sent is a span of its own beneath the caller's.
	sender := tracedSender{Sender: &invites.DirSender{Dir: filepath.Join(t.TempDir(), "outbox")}, tracer: tp.Tracer(tracerName)}
	pctx, parent := tp.Tracer("test").Start(ctx, "outbox.send")
	if _, err := sender.Send(pctx, &invites.Message{ID: "m1@convene", From: "convene@council.example.org", To: []string{"sam@council.example.org"},
		Raw: []byte("Subject: x\r\n\r\ny\r\n")}); err != nil {
		t.Fatal(err)
	}
	parent.End()
	var sent bool
	for _, s := range rec.Ended() {
		sent = sent || s.Name() == "mail.send" && s.Parent().SpanID() == parent.SpanContext().SpanID()
	}
	if !sent {
		t.Errorf("no mail.send span beneath the sender's")
	}
	// The calendar read is counted by server and outcome.
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var reads float64
	for _, mf := range mfs {
		if mf.GetName() == "convene_calendar_reads_total" {
			for _, m := range mf.GetMetric() {
				reads += m.GetCounter().GetValue()
			}
		}
	}
	if reads == 0 {
		t.Error("convene_calendar_reads_total counted no read")
	}
}

// spanEnded is a span processor that says when a span of the name ends.
type spanEnded struct {
	name  string
	ended chan struct{}
}

func (p *spanEnded) OnStart(context.Context, sdktrace.ReadWriteSpan) {}
func (p *spanEnded) OnEnd(s sdktrace.ReadOnlySpan) {
	if s.Name() == p.name {
		select {
		case p.ended <- struct{}{}:
		default:
		}
	}
}
func (p *spanEnded) Shutdown(context.Context) error   { return nil }
func (p *spanEnded) ForceFlush(context.Context) error { return nil }

func names(spans []sdktrace.ReadOnlySpan) []string {
	var out []string
	for _, s := range spans {
		out = append(out, s.Name())
	}
	return out
}
