package service

import (
	"context"
	"time"
)

// Store is the persistence the domain needs. Two implementations pass one
// conformance suite (service/storetest): service/sqlite, the embedded default,
// and service/mongodb, the scale-out engine.
//
// A discussion is changed by a DiscussionPatch as small as the change: a
// reply rewrites that invitee, a check-in appends that participant, never the
// whole discussion, so concurrent replies all land. Every patch is applied
// atomically (one SQL transaction; one single-document update on MongoDB).
//
// Missing records give ENOTFOUND; a stale version or revision, or a unique
// key already taken, gives ECONFLICT, never a silent overwrite.
type Store interface {
	// Ping reports whether the store answers and can write.
	Ping(ctx context.Context) error

	CreatePerson(ctx context.Context, p *Person) error
	Person(ctx context.Context, id string) (*Person, error)
	PersonByEmail(ctx context.Context, email string) (*Person, error)
	People(ctx context.Context, f PersonFilter) ([]Person, error)
	// UpdatePerson replaces p if its stored version is p.Version, and
	// increments p.Version.
	UpdatePerson(ctx context.Context, p *Person) error

	// Venues are where discussions are held: an invitation's location
	// comes only from them. UpdateVenue is guarded by Version like
	// UpdatePerson.
	CreateVenue(ctx context.Context, v *Venue) error
	Venue(ctx context.Context, id string) (*Venue, error)
	Venues(ctx context.Context, includeInactive bool) ([]Venue, error)
	UpdateVenue(ctx context.Context, v *Venue) error

	// AppendAudit writes the entries, all or none (a group commit).
	AppendAudit(ctx context.Context, entries []AuditEntry) error
	// Audit lists entries newest first.
	Audit(ctx context.Context, f AuditFilter) ([]AuditEntry, error)

	DiscussionStore
	SessionStore
	NoticeStore
	RetentionStore
}

// SessionStore keeps the web app's sign-in sessions server-side, so that
// several instances share them (service/web). A session is stored under the
// hash of its cookie's token, never the token itself.
type SessionStore interface {
	// CreateSession stores a new session (Version 1); ECONFLICT if the id
	// is taken.
	CreateSession(ctx context.Context, s *Session) error
	// Session returns a session; ENOTFOUND if there is none.
	Session(ctx context.Context, id string) (*Session, error)
	// UpdateSession replaces s if its stored version is s.Version, and
	// increments s.Version: ECONFLICT otherwise, so two requests counting
	// attempts at a code cannot both win.
	UpdateSession(ctx context.Context, s *Session) error
	// DeleteSession removes a session (none there is no error).
	DeleteSession(ctx context.Context, id string) error
	// PruneSessions removes sessions that expired before the time.
	PruneSessions(ctx context.Context, before time.Time) error
}

// Session is a browser's sign-in, kept server-side. A partner's session is
// bound to one person and one discussion, and is usable only once the
// one-time code sent to their address has been confirmed.
type Session struct {
	ID        string    `json:"id"` // hex SHA-256 of the cookie's token
	Principal Principal `json:"principal"`
	// DiscussionID binds a partner's session to one discussion.
	DiscussionID string `json:"discussion_id,omitempty"`
	Partner      bool   `json:"partner,omitempty"`
	// Confirmed is set once the person is who they say: signed in by the
	// identity provider or demo sign-in, or a partner's code confirmed.
	Confirmed bool   `json:"confirmed"`
	CSRF      string `json:"csrf"`
	// CreatedAt starts the absolute timeout, SeenAt the idle one;
	// ExpiresAt is when the store may forget the session.
	CreatedAt time.Time `json:"created_at"`
	SeenAt    time.Time `json:"seen_at"`
	ExpiresAt time.Time `json:"expires_at"`
	// A partner's one-time code while they confirm their address: only
	// its hash is kept.
	CodeHash      string    `json:"code_hash,omitempty"`
	CodeExpiresAt time.Time `json:"code_expires_at,omitzero"`
	CodeAttempts  int       `json:"code_attempts,omitempty"`
	CodeSends     int       `json:"code_sends,omitempty"`
	CodeSentAt    time.Time `json:"code_sent_at,omitzero"`
	// An OpenID Connect sign-in under way: state, nonce and PKCE verifier.
	OIDCState    string `json:"oidc_state,omitempty"`
	OIDCNonce    string `json:"oidc_nonce,omitempty"`
	OIDCVerifier string `json:"oidc_verifier,omitempty"`
	ReturnTo     string `json:"return_to,omitempty"`
	Version      int64  `json:"version"`
}

// DiscussionStore persists strategy discussions and what hangs off them.
// Cross-record invariants (no double booking, one discussion per idempotency
// key, one send per message) rest on unique keys and leases.
type DiscussionStore interface {
	// CreateDiscussion stores a new discussion (Version 1, every element at
	// Rev 1); its Timeline is stored as its first events. ECONFLICT if the
	// id or UID is taken.
	CreateDiscussion(ctx context.Context, d *Discussion) error
	// Discussion returns the discussion with the newest TimelineWindow
	// events of its timeline (oldest first) in Timeline.
	Discussion(ctx context.Context, id string) (*Discussion, error)
	// DiscussionOutbox returns the discussion's Outbox alone (the outbox
	// worker's check that a message is not superseded, made for each
	// message, needs no more), or ENOTFOUND.
	DiscussionOutbox(ctx context.Context, id string) ([]MessageRef, error)
	// Discussions lists discussions matching f, sorted by deadline then id,
	// with the newest TimelineWindow events each.
	Discussions(ctx context.Context, f DiscussionFilter) ([]Discussion, error)
	// PatchDiscussion applies p atomically, or nothing (ECONFLICT) when a
	// guard fails: the stored Version differs from p.Version, an element's
	// stored Key or Rev differs from the patch's, or an appended element's
	// Key is already in its list. A patch with a Head increments Version;
	// each element written gets Rev+1 (appended ones Rev 1). The patched
	// discussion is not returned: callers reload.
	PatchDiscussion(ctx context.Context, p *DiscussionPatch) error
	// Timeline pages through a discussion's events, newest first, before
	// the sequence number given (0: from the newest).
	Timeline(ctx context.Context, discussionID string, before int64, limit int) ([]Event, error)
	// DiscussionsWithPending lists discussions with messages not yet moved
	// to the outbox.
	DiscussionsWithPending(ctx context.Context, limit int) ([]Discussion, error)

	// ClaimIdempotencyKey records k if its id is free; if the key is
	// taken it returns the record that holds it (k is not recorded).
	ClaimIdempotencyKey(ctx context.Context, k *IdempotencyKey) (existing *IdempotencyKey, err error)
	// ReleaseIdempotencyKey removes the key if it is still the claim made
	// at claimedAt (a later claim is left alone), so a request that failed,
	// or crashed and expired, can be retried.
	ReleaseIdempotencyKey(ctx context.Context, id string, claimedAt time.Time) error

	// HoldTime records every hold or none. A hold already taken by the
	// same discussion (a reschedule overlapping its old time, or a retried
	// booking) is taken over: it gets the new booking id. One taken by
	// another discussion refuses them all with ECONFLICT, Error.Conflict
	// naming the taken hold.
	HoldTime(ctx context.Context, holds []Hold) error
	// ReleaseHolds removes a booking's holds (of one person, if given).
	ReleaseHolds(ctx context.Context, bookingID, person string) error
	// PruneHolds removes holds that started before the time.
	PruneHolds(ctx context.Context, before time.Time) error
	// Holds lists the holds of the persons between from and to.
	Holds(ctx context.Context, persons []string, from, to time.Time) ([]Hold, error)

	// EnqueueMessage adds messages to the outbox and, those queued, to the
	// send queue, in one write. Enqueueing a message again adds nothing,
	// so a move interrupted half way can simply be done again.
	EnqueueMessage(ctx context.Context, ms ...*OutboxMessage) error
	// ClaimMessage leases the next message due to owner until the lease
	// ends, or returns ENOTFOUND.
	ClaimMessage(ctx context.Context, owner string, now time.Time, lease time.Duration) (*OutboxMessage, error)
	// UpdateMessage records m if owner still holds the lease of the claim
	// that returned m: the claim's attempt number is its fencing token, so
	// a sender whose lease lapsed cannot overwrite a later claim, even one
	// by its own instance. A message no longer queued leaves the send
	// queue. The result is recorded, not the content: a message's bytes
	// are as enqueued.
	UpdateMessage(ctx context.Context, m *OutboxMessage, owner string) error
	// SupersedeMessage marks a queued message superseded and takes it off
	// the send queue, unless a sender holds it (then the sender decides).
	SupersedeMessage(ctx context.Context, id string, now time.Time) error
	// RequeueMessage puts a failed message back on the send queue, due now,
	// with its attempts reset. ECONFLICT unless it is failed.
	RequeueMessage(ctx context.Context, id string, now time.Time) error
	// Messages returns the outbox messages with the ids, in that order;
	// ids not found are left out.
	Messages(ctx context.Context, ids []string) ([]OutboxMessage, error)
	// OutboxStats counts messages by state, and gives the creation time of
	// the oldest message still queued (zero when none is).
	OutboxStats(ctx context.Context) (OutboxStats, error)

	// AcquireLease takes or renews a named lease for owner until now+ttl,
	// reporting whether owner holds it.
	AcquireLease(ctx context.Context, name, owner string, now time.Time, ttl time.Duration) (bool, error)
	// ReleaseLease gives up a lease owner holds, so another instance can
	// take it at once.
	ReleaseLease(ctx context.Context, name, owner string) error

	// RecordInbound keeps a record of every inbound message and what became
	// of it, accepted or not.
	RecordInbound(ctx context.Context, r *InboundRecord) error
	InboundRecords(ctx context.Context, discussionID string, limit int) ([]InboundRecord, error)
}

// TimelineWindow is how many of the newest timeline events a loaded
// discussion carries; older ones are paged with Store.Timeline.
const TimelineWindow = 200

// DiscussionPatch is one atomic change to a stored discussion, as small as
// the change itself. Build it with Diff from the discussion as loaded and as
// changed.
type DiscussionPatch struct {
	ID string
	// Version is the discussion's version the change was computed from:
	// every patch is guarded by it. Element-only patches leave it as it is,
	// so they do not collide with each other.
	Version int64
	// Head, when set, replaces the discussion's own fields: everything but
	// its element lists, Timeline, Pending and Outbox (see Discussion.head).
	Head *Discussion
	// The element lists' changes. Elements are never removed (a removed
	// invitee keeps its place, flagged), so an index names one element for
	// good.
	Invitees    []Element[Invitee]
	CheckIns    []Element[CheckIn]
	Counters    []Element[Counter]
	HeldReplies []Element[HeldReply]
	// Events are appended to the timeline.
	Events []Event
	// AddPending are messages decided on by this change; MovedPending
	// names pending messages now in the outbox: they leave Pending and are
	// appended to Outbox.
	AddPending   []PendingMessage
	MovedPending []MessageRef
	// At is when the change was made (the discussion's UpdatedAt).
	At time.Time
}

// Empty reports whether the patch changes nothing.
func (p *DiscussionPatch) Empty() bool {
	return p.Head == nil && len(p.Invitees) == 0 && len(p.CheckIns) == 0 && len(p.Counters) == 0 &&
		len(p.HeldReplies) == 0 && len(p.Events) == 0 && len(p.AddPending) == 0 && len(p.MovedPending) == 0
}

// Element is one change to an element list of a discussion: Value written
// at Index, guarded by the Key and Rev the element had when loaded. Append
// is set for a new element (its Index is where it was appended in memory;
// stores append it at the end and refuse a Key already in the list).
type Element[T any] struct {
	Index  int
	Key    string
	Rev    int64
	Append bool
	Value  T
}

// OutboxStats is the outbox at a glance, for metrics and alerts.
type OutboxStats struct {
	ByState      map[MessageState]int
	OldestQueued time.Time
}
