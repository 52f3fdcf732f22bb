package main

import (
	"context"
	"io"
	"log/slog"
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/convene/convene/service"
)

// serviceLogger is the service's logger: JSON lines by default
// (CONVENE_LOG_FORMAT=text for people), every record logged with a
// request's context carrying its request id, and attributes that could
// carry case content dropped whatever the caller passed (see redactedKeys).
func serviceLogger(cfg config, w io.Writer) *slog.Logger {
	var level slog.Level
	if err := level.UnmarshalText([]byte(cfg.LogLevel)); err != nil {
		level = slog.LevelInfo
	}
	opts := &slog.HandlerOptions{Level: level, ReplaceAttr: redact}
	var h slog.Handler = slog.NewJSONHandler(w, opts)
	if cfg.LogFormat == "text" {
		h = slog.NewTextHandler(w, opts)
	}
	return slog.New(requestIDHandler{h})
}

// redactedKeys are attribute names whose values are case content or a
// person's identity: logs go to collectors and people a case's data must
// not reach, so they are dropped however they got there.
var redactedKeys = map[string]bool{
	"case_reference": true, "case": true, "child": true, "note": true, "comment": true,
	"concerns": true, "signs_of_safety": true, "outcome": true, "decision": true, "name": true,
	"body": true, "subject": true,
}

func redact(_ []string, a slog.Attr) slog.Attr {
	if redactedKeys[strings.ToLower(a.Key)] {
		return slog.String(a.Key, "[redacted]")
	}
	return a
}

// requestIDHandler adds the request id of the record's context.
type requestIDHandler struct{ slog.Handler }

func (h requestIDHandler) Handle(ctx context.Context, r slog.Record) error {
	if id := service.RequestIDFrom(ctx); id != "" {
		has := false
		r.Attrs(func(a slog.Attr) bool { has = a.Key == "request_id"; return !has })
		if !has {
			r.AddAttrs(slog.String("request_id", id))
		}
	}
	return h.Handler.Handle(ctx, r)
}

func (h requestIDHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return requestIDHandler{h.Handler.WithAttrs(as)}
}

func (h requestIDHandler) WithGroup(name string) slog.Handler {
	return requestIDHandler{h.Handler.WithGroup(name)}
}

// registerRetentionMetrics exposes the retention worker's counts.
func registerRetentionMetrics(reg *prometheus.Registry, w *service.RetentionWorker) {
	reg.MustRegister(
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "convene_retention_discussions_purged_total",
			Help: "Discussions purged by this instance's retention worker."}, func() float64 { return float64(w.Stats.Purged.Load()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "convene_retention_audit_entries_purged_total",
			Help: "Audit entries past their retention purged by this instance."}, func() float64 { return float64(w.Stats.AuditPurged.Load()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "convene_retention_held",
			Help: "Discussions past their retention period kept because the record is not circulated or a follow-on is open."},
			func() float64 { return float64(w.Stats.Held.Load()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "convene_retention_last_run_timestamp_seconds",
			Help: "When this instance last finished a retention pass."}, func() float64 { return float64(w.Stats.LastRun.Load()) }),
	)
}
