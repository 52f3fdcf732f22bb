package calendar

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// ReadObserver is told of every calendar read Availability makes: the
// server (host) read, and what came of it. Metrics hang off it.
type ReadObserver func(ctx context.Context, server string, res AttendeeBusy)

// Outcome names what came of a read, for metrics and traces: "known", or
// the reason the attendee is unknown (timeout, unauthorized, ...).
func (a AttendeeBusy) Outcome() string {
	if a.Availability == Known {
		return string(Known)
	}
	if a.Reason == "" {
		return string(Unknown)
	}
	return string(a.Reason)
}

// startRead starts a span for one source's read, when opts has a tracer.
// The span names the server, never the attendee or the calendar's path.
func startRead(ctx context.Context, opts AvailabilityOptions, server string) (context.Context, func(AttendeeBusy)) {
	if opts.Tracer == nil {
		return ctx, func(AttendeeBusy) {}
	}
	ctx, span := opts.Tracer.Start(ctx, "calendar.read", trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(attribute.String("server.address", server)))
	return ctx, func(res AttendeeBusy) {
		span.SetAttributes(attribute.String("convene.calendar.outcome", res.Outcome()),
			attribute.Int("convene.calendar.skipped_objects", res.SkippedObjects))
		if res.Availability != Known {
			span.SetStatus(codes.Error, res.Outcome())
		}
		span.End()
	}
}

// observe tells opts.Observe of a read, if it is set.
func observe(ctx context.Context, opts AvailabilityOptions, server string, res AttendeeBusy) {
	if opts.Observe != nil {
		opts.Observe(ctx, server, res)
	}
}
