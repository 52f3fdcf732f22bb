package service

import (
	"context"
	"time"
)

// Store is the persistence the domain needs. Every method is a
// single-document atomic operation: no method relies on multi-document
// transactions, so the same code runs on FerretDB, a MongoDB replica set or a
// sharded cluster.
//
// Updates take the version the caller read; a stale version gets ECONFLICT,
// never a silent overwrite. Missing documents give ENOTFOUND; unique-key
// violations give ECONFLICT.
type Store interface {
	// Ping reports whether the store answers.
	Ping(ctx context.Context) error

	CreatePerson(ctx context.Context, p *Person) error
	Person(ctx context.Context, id string) (*Person, error)
	PersonByEmail(ctx context.Context, email string) (*Person, error)
	People(ctx context.Context, f PersonFilter) ([]Person, error)
	// UpdatePerson replaces p if its stored version is p.Version, and
	// increments p.Version.
	UpdatePerson(ctx context.Context, p *Person) error

	AppendAudit(ctx context.Context, e *AuditEntry) error
	Audit(ctx context.Context, f AuditFilter) ([]AuditEntry, error)

	DiscussionStore
}

// DiscussionStore persists strategy discussions and what hangs off them.
// Changes to a discussion are whole-document replaces guarded by Version;
// cross-document invariants (no double booking, one discussion per
// idempotency key, one send per message) rest on unique keys and leases, not
// transactions.
type DiscussionStore interface {
	CreateDiscussion(ctx context.Context, d *Discussion) error
	Discussion(ctx context.Context, id string) (*Discussion, error)
	Discussions(ctx context.Context, f DiscussionFilter) ([]Discussion, error)
	// UpdateDiscussion replaces d if its stored version is d.Version, and
	// increments d.Version; otherwise ECONFLICT (or ENOTFOUND).
	UpdateDiscussion(ctx context.Context, d *Discussion) error
	// DiscussionsWithPending lists discussions with messages not yet moved
	// to the outbox.
	DiscussionsWithPending(ctx context.Context, limit int) ([]Discussion, error)

	// ClaimIdempotencyKey records k; if the key is taken it returns the
	// record that holds it.
	ClaimIdempotencyKey(ctx context.Context, k *IdempotencyKey) (existing *IdempotencyKey, err error)

	// HoldTime records every hold or none: when one is already taken it
	// returns ECONFLICT with the taken hold in Error.Detail["hold"].
	HoldTime(ctx context.Context, holds []Hold) error
	// ReleaseHolds removes a booking's holds (of one person, if given).
	ReleaseHolds(ctx context.Context, bookingID, person string) error
	// ReleaseHold removes one hold if it still belongs to bookingID.
	ReleaseHold(ctx context.Context, id, bookingID string) error
	// PruneHolds removes holds that started before the time.
	PruneHolds(ctx context.Context, before time.Time) error
	// Holds lists the holds of the persons between from and to.
	Holds(ctx context.Context, persons []string, from, to time.Time) ([]Hold, error)

	// EnqueueMessage adds a message to the outbox and, if it is queued, to
	// the send queue. Enqueueing the same message again adds nothing, so a
	// move interrupted half way can simply be done again.
	EnqueueMessage(ctx context.Context, m *OutboxMessage) error
	// ClaimMessage leases the next message due to owner until the lease
	// ends, or returns ENOTFOUND.
	ClaimMessage(ctx context.Context, owner string, now time.Time, lease time.Duration) (*OutboxMessage, error)
	// UpdateMessage records m if owner still holds its lease; a message no
	// longer queued leaves the send queue.
	UpdateMessage(ctx context.Context, m *OutboxMessage, owner string) error
	// SupersedeMessage marks a queued message superseded and takes it off
	// the send queue, unless a sender holds it (then the sender decides).
	SupersedeMessage(ctx context.Context, id string, now time.Time) error
	// Messages returns the outbox messages with the ids, in that order;
	// ids not found are left out.
	Messages(ctx context.Context, ids []string) ([]OutboxMessage, error)

	// AcquireLease takes or renews a named lease for owner until now+ttl,
	// reporting whether owner holds it.
	AcquireLease(ctx context.Context, name, owner string, now time.Time, ttl time.Duration) (bool, error)

	// RecordInbound keeps a record of every inbound message and what became
	// of it, accepted or not.
	RecordInbound(ctx context.Context, r *InboundRecord) error
	InboundRecords(ctx context.Context, discussionID string, limit int) ([]InboundRecord, error)
}
