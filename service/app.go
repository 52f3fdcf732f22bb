// Package service is Convene's domain: convene requests and strategy
// discussions, the people who take part, requirements and quorum, outcomes,
// the audit log, the one Error type, and the Store interface the domain needs.
// It does no I/O itself; adapters (service/mongodb, calendar, invites) do.
//
// The rules it applies come from service/policy, which reads the area's
// procedure profile (see ../shared/DOMAIN.md and its seeds).
package service

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"time"

	"github.com/convene/convene/calendar"
	"github.com/convene/convene/invites"
	"github.com/convene/convene/service/policy"
)

// App carries out what users ask of Convene: it checks who may do what,
// validates, applies the domain rules, persists through the Store and writes
// the audit log.
type App struct {
	Store Store
	Log   *slog.Logger
	// Now is the clock; tests stand it on Christmas Eve or a clock change.
	Now func() time.Time
	// NewID returns a fresh, time-ordered identifier.
	NewID func() string
	// CredentialsDir is the only directory file: credential references
	// may point into; empty refuses file references.
	CredentialsDir string
	// Getenv is the environment credential references are resolved from.
	Getenv func(string) string

	// Profiles are the procedure profiles: the clock, who must attend, the
	// format and the follow-on deadlines.
	Profiles *policy.Registry
	// Calendar knows the working days of each UK region.
	Calendar *calendar.WorkingDays
	// Region and Zone are the area's: its bank holidays and time zone.
	Region calendar.Region
	Zone   *time.Location
	// AvailabilityOptions bound calendar reads: per source and overall.
	AvailabilityOptions calendar.AvailabilityOptions
	// SourceOptions are what calendar sources may reach (the outbound
	// policy), their limits and HTTP client.
	SourceOptions calendar.SourceOptions

	// OnlineMeetingHosts are the hosts join links may be on (Teams,
	// Google Meet, Zoom, the council's own).
	OnlineMeetingHosts []string

	// StartMargin is how long before the booked time the chair may start
	// without an override reason; 15 minutes if zero.
	StartMargin time.Duration

	// InboundAuth says whom inbound replies are believed from: which
	// gateways' Authentication-Results count, and how DKIM keys are
	// looked up.
	InboundAuth invites.AuthConfig

	// Mail sends invitations; nil sends none.
	Mail *Mailer
	wake chan struct{}

	// Stats are the deadline watch's counts, read by the metrics.
	Stats WatchStats

	sources calendar.SourceCache
	audits  groupCommit
}

func (a *App) startMargin() time.Duration {
	if a.StartMargin > 0 {
		return a.StartMargin
	}
	return 15 * time.Minute
}

// UseMailer sets how invitations are sent, filling defaults.
func (a *App) UseMailer(m *Mailer) {
	m.defaults()
	a.Mail = m
}

// NewApp returns an App with a real clock and id generator.
func NewApp(store Store, log *slog.Logger) *App {
	return &App{Store: store, Log: log, Now: time.Now, NewID: NewID, wake: make(chan struct{}, 1)}
}

// NewID returns a 128-bit identifier whose first 48 bits are the Unix time in
// milliseconds (like a UUIDv7), so ids sort by creation and index well.
func NewID() string {
	var b [16]byte
	ms := uint64(time.Now().UnixMilli())
	for i := 5; i >= 0; i-- {
		b[i] = byte(ms)
		ms >>= 8
	}
	_, _ = rand.Read(b[6:])
	b[6] = b[6]&0x0f | 0x70 // version 7
	b[8] = b[8]&0x3f | 0x80 // RFC 9562 variant
	return hex.EncodeToString(b[:])
}

// audit appends an entry for what the caller in ctx just did. An entry that
// cannot be written is an error: an unaudited change to case data must not
// look like success.
func (a *App) audit(ctx context.Context, action, resource string, detail map[string]any) error {
	e := &AuditEntry{
		ID:        a.NewID(),
		At:        a.Now().UTC(),
		Actor:     PrincipalFrom(ctx).Actor(),
		Action:    action,
		Resource:  resource,
		RequestID: RequestIDFrom(ctx),
		Detail:    detail,
	}
	if err := a.audits.append(ctx, a.Store, *e); err != nil {
		a.Log.ErrorContext(ctx, "audit entry not written", "action", action, "resource", resource, "err", err)
		if ErrorCode(err) == EUNAVAILABLE {
			// The store cannot write (its disk is full, say): the
			// caller is told to try again later, as for any write.
			return err
		}
		return Internal(err, "append audit")
	}
	return nil
}

// ListAudit returns audit entries, newest first. Administrators only.
func (a *App) ListAudit(ctx context.Context, f AuditFilter) ([]AuditEntry, error) {
	if _, err := require(ctx, RoleAdmin); err != nil {
		return nil, err
	}
	f.Limit = PageLimit(f.Limit)
	entries, err := a.Store.Audit(ctx, f)
	if err != nil {
		return nil, err
	}
	// Reading the audit log is itself audited.
	if err := a.audit(ctx, "audit.read", "audit", map[string]any{"resource": f.Resource, "actor": f.Actor, "count": len(entries)}); err != nil {
		return nil, err
	}
	return entries, nil
}

// PageLimit is the page size for a requested limit: 50 by default, 200 at
// most.
func PageLimit(n int) int {
	switch {
	case n <= 0:
		return 50
	case n > 200:
		return 200
	}
	return n
}
