package service

import (
	"time"

	"github.com/convene/convene/service/errs"
)

// IdempotencyKey ties a client's Idempotency-Key to the discussion its first
// request created, so a retry returns that discussion and never a second.
type IdempotencyKey struct {
	// ID is the caller's subject and the key.
	ID           string    `json:"id"`
	DiscussionID string    `json:"discussion_id"`
	RequestHash  string    `json:"request_hash"`
	CreatedAt    time.Time `json:"created_at"`
	// ExpiresAt is when a claim that never produced a discussion (its
	// request crashed) lapses, so the key can be used again.
	ExpiresAt time.Time `json:"expires_at"`
}

// Hold reserves a quarter-hour of someone's time for a booking (see
// errs.Hold, where it lives so a conflict can name it).
type Hold = errs.Hold

// holdGranule is the unit of a hold.
const holdGranule = 15 * time.Minute

// holdsFor returns the holds covering [start, end) for a person.
func holdsFor(person, discussionID, bookingID string, start, end, now time.Time) []Hold {
	var out []Hold
	for t := start.UTC().Truncate(holdGranule); t.Before(end); t = t.Add(holdGranule) {
		out = append(out, Hold{
			ID: person + "|" + t.Format("20060102T1504Z"), Person: person, DiscussionID: discussionID,
			BookingID: bookingID, Start: t, CreatedAt: now,
		})
	}
	return out
}

// MessageState is where an outbox message is in delivery.
type MessageState string

// The states.
const (
	MessageQueued     MessageState = "queued"
	MessageSending    MessageState = "sending"
	MessageSent       MessageState = "sent"
	MessageFailed     MessageState = "failed"
	MessageSuperseded MessageState = "superseded"
)

// OutboxMessage is one email in the durable outbox: recorded before it is
// sent, sent at least once with retries and backoff, leased to one sender
// at a time.
type OutboxMessage struct {
	ID           string       `json:"id"`
	DiscussionID string       `json:"discussion_id"`
	Method       string       `json:"method"`
	To           string       `json:"to"`
	Sequence     int          `json:"sequence"`
	MessageID    string       `json:"message_id"`
	EnvelopeFrom string       `json:"envelope_from"`
	Raw          []byte       `json:"raw"`
	State        MessageState `json:"state"`
	Attempts     int          `json:"attempts"`
	NextAttempt  time.Time    `json:"next_attempt_at"`
	LeaseOwner   string       `json:"lease_owner,omitempty"`
	LeaseUntil   time.Time    `json:"lease_until"`
	// LastError is the last failure: the SMTP reply or the network error.
	LastError string     `json:"last_error,omitempty"`
	Permanent bool       `json:"permanent,omitempty"`
	Delivery  string     `json:"delivery,omitempty"`
	CreatedAt time.Time  `json:"created_at"`
	SentAt    *time.Time `json:"sent_at,omitempty"`
}

// InboundRecord is what became of one inbound message: recorded, ignored,
// held, or rejected (malformed, spoofed, unknown meeting).
type InboundRecord struct {
	ID           string    `json:"id"`
	At           time.Time `json:"at"`
	Channel      string    `json:"channel"` // http, smtp, rsvp
	From         string    `json:"from,omitempty"`
	EnvelopeFrom string    `json:"envelope_from,omitempty"`
	MessageID    string    `json:"message_id,omitempty"`
	UID          string    `json:"uid,omitempty"`
	Method       string    `json:"method,omitempty"`
	Attendee     string    `json:"attendee,omitempty"`
	DiscussionID string    `json:"discussion_id,omitempty"`
	Result       string    `json:"result"`
	Detail       string    `json:"detail,omitempty"`
}
