package main

import (
	"context"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/convene/convene/calendar"
	"github.com/convene/convene/invites"
	"github.com/convene/convene/service"
)

// setupTracing returns the tracer provider: OpenTelemetry traces exported
// over OTLP/HTTP when OTEL_EXPORTER_OTLP_ENDPOINT (or
// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) is set, the exporter reading the
// other OTEL_EXPORTER_OTLP_* variables itself; otherwise none, at no cost.
func setupTracing(ctx context.Context, getenv func(string) string) (trace.TracerProvider, func(context.Context) error, error) {
	if getenv("OTEL_EXPORTER_OTLP_ENDPOINT") == "" && getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") == "" {
		return noop.NewTracerProvider(), func(context.Context) error { return nil }, nil
	}
	exp, err := otlptracehttp.New(ctx)
	if err != nil {
		return nil, nil, err
	}
	name := getenv("OTEL_SERVICE_NAME")
	if name == "" {
		name = "convene"
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp),
		sdktrace.WithResource(resource.NewSchemaless(attribute.String("service.name", name))))
	return tp, tp.Shutdown, nil
}

const tracerName = "github.com/convene/convene/cmd/convene"

// tracedStore traces the store calls a request or background job makes
// (the App's load, guarded patch and audit in App.transition among them):
// a client span each, naming the operation and the engine, never a key.
type tracedStore struct {
	service.Store
	tracer trace.Tracer
	engine string
}

func traceStore(s service.Store, tp trace.TracerProvider, engine string) service.Store {
	return &tracedStore{Store: s, tracer: tp.Tracer(tracerName), engine: engine}
}

func (s *tracedStore) span(ctx context.Context, op string) (context.Context, func(error)) {
	ctx, span := s.tracer.Start(ctx, "store."+op, trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(attribute.String("db.system", s.engine), attribute.String("db.operation.name", op)))
	return ctx, func(err error) {
		if err != nil && service.ErrorCode(err) != service.ENOTFOUND {
			span.SetStatus(codes.Error, service.ErrorCode(err))
		}
		span.End()
	}
}

func (s *tracedStore) Discussion(ctx context.Context, id string) (d *service.Discussion, err error) {
	ctx, end := s.span(ctx, "Discussion")
	defer func() { end(err) }()
	return s.Store.Discussion(ctx, id)
}

func (s *tracedStore) Discussions(ctx context.Context, f service.DiscussionFilter) (ds []service.Discussion, err error) {
	ctx, end := s.span(ctx, "Discussions")
	defer func() { end(err) }()
	return s.Store.Discussions(ctx, f)
}

func (s *tracedStore) CreateDiscussion(ctx context.Context, d *service.Discussion) (err error) {
	ctx, end := s.span(ctx, "CreateDiscussion")
	defer func() { end(err) }()
	return s.Store.CreateDiscussion(ctx, d)
}

func (s *tracedStore) PatchDiscussion(ctx context.Context, p *service.DiscussionPatch) (err error) {
	ctx, end := s.span(ctx, "PatchDiscussion")
	defer func() { end(err) }()
	return s.Store.PatchDiscussion(ctx, p)
}

func (s *tracedStore) HoldTime(ctx context.Context, holds []service.Hold) (err error) {
	ctx, end := s.span(ctx, "HoldTime")
	defer func() { end(err) }()
	return s.Store.HoldTime(ctx, holds)
}

func (s *tracedStore) AppendAudit(ctx context.Context, entries []service.AuditEntry) (err error) {
	ctx, end := s.span(ctx, "AppendAudit")
	defer func() { end(err) }()
	return s.Store.AppendAudit(ctx, entries)
}

func (s *tracedStore) EnqueueMessage(ctx context.Context, ms ...*service.OutboxMessage) (err error) {
	ctx, end := s.span(ctx, "EnqueueMessage")
	defer func() { end(err) }()
	return s.Store.EnqueueMessage(ctx, ms...)
}

func (s *tracedStore) Person(ctx context.Context, id string) (p *service.Person, err error) {
	ctx, end := s.span(ctx, "Person")
	defer func() { end(err) }()
	return s.Store.Person(ctx, id)
}

// tracedSender traces each message sent: the mail server's answer is the
// span's outcome; the recipients and content stay out of it.
type tracedSender struct {
	invites.Sender
	tracer trace.Tracer
}

func (s tracedSender) Send(ctx context.Context, msg *invites.Message) (string, error) {
	ctx, span := s.tracer.Start(ctx, "mail.send", trace.WithSpanKind(trace.SpanKindClient))
	defer span.End()
	where, err := s.Sender.Send(ctx, msg)
	if err != nil {
		span.SetStatus(codes.Error, "not delivered")
	}
	return where, err
}

// calendarMetrics counts calendar reads by server and outcome, and is the
// App's calendar read observer.
func calendarMetrics(reg prometheus.Registerer) calendar.ReadObserver {
	reads := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "convene_calendar_reads_total",
		Help: "Calendar reads by server (host) and outcome (known, or why unknown)."}, []string{"server", "outcome"})
	dur := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "convene_calendar_read_duration_seconds",
		Help: "How long calendar reads took, by server.", Buckets: []float64{.05, .1, .25, .5, 1, 2.5, 5, 10, 15}}, []string{"server"})
	reg.MustRegister(reads, dur)
	return func(_ context.Context, server string, res calendar.AttendeeBusy) {
		if server == "" {
			server = "unknown"
		}
		reads.WithLabelValues(server, res.Outcome()).Inc()
		dur.WithLabelValues(server).Observe(res.Elapsed.Seconds())
	}
}

// registerFollowOnMetrics exposes the follow-ons missed, counted from the
// discussions concluded within the follow-on horizon (as the deadline watch
// reads them), at most once a minute.
func registerFollowOnMetrics(reg prometheus.Registerer, app *service.App) {
	var mu sync.Mutex
	var missed, open float64
	var at time.Time
	count := func() {
		mu.Lock()
		defer mu.Unlock()
		if time.Since(at) < time.Minute {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		f := service.DiscussionFilter{Status: []service.DiscussionStatus{service.StatusConcluded},
			DeadlineFrom: time.Now().Add(-90 * 24 * time.Hour), Summary: true, Limit: 200}
		var m, o float64
		for {
			page, err := app.Store.Discussions(ctx, f)
			if err != nil {
				return
			}
			for _, d := range page {
				for _, fo := range d.FollowOns {
					switch {
					case fo.State == service.FollowOnMissed:
						m++
					case !fo.Done && fo.State != service.FollowOnMet:
						o++
					}
				}
			}
			if len(page) < f.Limit {
				break
			}
			f.AfterDeadline, f.AfterID = page[len(page)-1].Deadline, page[len(page)-1].ID
		}
		missed, open, at = m, o, time.Now()
	}
	reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "convene_follow_ons_missed",
			Help: "Follow-ons of discussions concluded in the last 90 days that were missed."},
			func() float64 { count(); mu.Lock(); defer mu.Unlock(); return missed }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "convene_follow_ons_open",
			Help: "Follow-ons of discussions concluded in the last 90 days still open."},
			func() float64 { count(); mu.Lock(); defer mu.Unlock(); return open }),
	)
}
