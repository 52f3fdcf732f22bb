package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"time"

	json "github.com/goccy/go-json"

	"github.com/convene/convene/service"
)

// ClaimIdempotencyKey records k, or returns the record holding its id.
func (s *Store) ClaimIdempotencyKey(ctx context.Context, k *service.IdempotencyKey) (*service.IdempotencyKey, error) {
	b, err := json.Marshal(k)
	if err != nil {
		return nil, service.Internal(err, "encode idempotency key")
	}
	var existing *service.IdempotencyKey
	err = s.write(ctx, "idempotency key", func(tx *txn) error {
		res, err := tx.exec(`INSERT INTO idempotency_keys (id, created_at, record) VALUES (?, ?, ?)
			ON CONFLICT (id) DO NOTHING`, k.ID, ts(k.CreatedAt), b)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 1 {
			return err
		}
		var held []byte
		if err := tx.queryRow(`SELECT record FROM idempotency_keys WHERE id = ?`, k.ID).Scan(&held); err != nil {
			return err
		}
		existing = new(service.IdempotencyKey)
		if err := json.Unmarshal(held, existing); err != nil {
			return service.Internal(err, "decode idempotency key")
		}
		return nil
	})
	return existing, err
}

// ReleaseIdempotencyKey removes the key if it is still the claim made at
// claimedAt.
func (s *Store) ReleaseIdempotencyKey(ctx context.Context, id string, claimedAt time.Time) error {
	return s.write(ctx, "idempotency key", func(tx *txn) error {
		_, err := tx.exec(`DELETE FROM idempotency_keys WHERE id = ? AND created_at = ?`, id, ts(claimedAt))
		return err
	})
}

// HoldTime inserts every hold in one transaction; a hold already taken by
// the same discussion is taken over by the new booking; on the first hold
// taken by another discussion it rolls back and reports that hold in the
// error's Conflict.
func (s *Store) HoldTime(ctx context.Context, holds []service.Hold) error {
	if len(holds) == 0 {
		return nil
	}
	return s.write(ctx, "hold", func(tx *txn) error {
		for _, h := range holds {
			res, err := tx.exec(`INSERT INTO holds (id, person, discussion_id, booking_id, start, created_at) VALUES (?, ?, ?, ?, ?, ?)
				ON CONFLICT (id) DO UPDATE SET booking_id = excluded.booking_id, created_at = excluded.created_at
				WHERE holds.discussion_id = excluded.discussion_id`,
				h.ID, h.Person, h.DiscussionID, h.BookingID, ts(h.Start), ts(h.CreatedAt))
			if err != nil {
				return err
			}
			if n, err := res.RowsAffected(); err != nil || n == 1 {
				if err != nil {
					return err
				}
				continue
			}
			var taken service.Hold
			var start, created string
			if err := tx.queryRow(`SELECT id, person, discussion_id, booking_id, start, created_at FROM holds WHERE id = ?`, h.ID).
				Scan(&taken.ID, &taken.Person, &taken.DiscussionID, &taken.BookingID, &start, &created); err != nil {
				return err
			}
			taken.Start, taken.CreatedAt = parseTS(start), parseTS(created)
			return &service.Error{Code: service.ECONFLICT, Message: "time already held", Conflict: &service.Conflict{Hold: &taken}}
		}
		return nil
	})
}

// ReleaseHolds removes a booking's holds, or one person's of them.
func (s *Store) ReleaseHolds(ctx context.Context, bookingID, person string) error {
	return s.write(ctx, "holds", func(tx *txn) error {
		var err error
		if person == "" {
			_, err = tx.exec(`DELETE FROM holds WHERE booking_id = ?`, bookingID)
		} else {
			_, err = tx.exec(`DELETE FROM holds WHERE booking_id = ? AND person = ?`, bookingID, person)
		}
		return err
	})
}

// PruneHolds removes holds that started before the time.
func (s *Store) PruneHolds(ctx context.Context, before time.Time) error {
	return s.write(ctx, "holds", func(tx *txn) error {
		_, err := tx.exec(`DELETE FROM holds WHERE start < ?`, ts(before))
		return err
	})
}

// Holds lists the persons' holds starting in [from, to), by person and
// start.
func (s *Store) Holds(ctx context.Context, persons []string, from, to time.Time) ([]service.Hold, error) {
	if len(persons) == 0 {
		return nil, nil
	}
	rows, err := s.r.QueryContext(ctx, `SELECT h.id, h.person, h.discussion_id, h.booking_id, h.start, h.created_at
		FROM json_each(?) j CROSS JOIN holds h ON h.person = j.value AND h.start >= ? AND h.start < ?
		ORDER BY h.person, h.start`, jsonText(persons), ts(from), ts(to))
	if err != nil {
		return nil, s.translate(ctx, err, "holds")
	}
	defer rows.Close()
	var out []service.Hold
	for rows.Next() {
		var h service.Hold
		var start, created string
		if err := rows.Scan(&h.ID, &h.Person, &h.DiscussionID, &h.BookingID, &start, &created); err != nil {
			return nil, s.translate(ctx, err, "holds")
		}
		h.Start, h.CreatedAt = parseTS(start), parseTS(created)
		out = append(out, h)
	}
	return out, s.translate(ctx, rows.Err(), "holds")
}

// messageJSON is a message as stored: raw goes in its own BLOB column, and
// the columns the queue works on are authoritative over the JSON.
func messageJSON(m *service.OutboxMessage) ([]byte, error) {
	c := *m
	c.Raw = nil
	b, err := json.Marshal(&c)
	if err != nil {
		return nil, service.Internal(err, "encode outbox message")
	}
	return b, nil
}

const messageCols = "message, raw, state, next_attempt, lease_owner, lease_until, attempts"

func scanMessage(sc interface{ Scan(...any) error }) (*service.OutboxMessage, error) {
	var b, raw []byte
	var state, next, owner, until string
	var attempts int
	if err := sc.Scan(&b, &raw, &state, &next, &owner, &until, &attempts); err != nil {
		return nil, err
	}
	var m service.OutboxMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, service.Internal(err, "decode outbox message")
	}
	m.Raw = raw
	m.State, m.NextAttempt, m.LeaseOwner, m.LeaseUntil, m.Attempts = service.MessageState(state), parseTS(next), owner, parseTS(until), attempts
	return &m, nil
}

// EnqueueMessage adds m to the outbox (on the send queue if it is queued);
// a message already there is left as it is.
func (s *Store) EnqueueMessage(ctx context.Context, ms ...*service.OutboxMessage) error {
	if len(ms) == 0 {
		return nil
	}
	bs := make([][]byte, len(ms))
	for i, m := range ms {
		b, err := messageJSON(m)
		if err != nil {
			return err
		}
		bs[i] = b
	}
	// One transaction: the outbox's pages are written to the WAL once
	// for a booking's invitations, not once for each.
	return s.write(ctx, "outbox message", func(tx *txn) error {
		for i, m := range ms {
			if _, err := tx.exec(`INSERT INTO outbox (id, state, next_attempt, lease_owner, lease_until, attempts, created_at, message, raw)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`,
				m.ID, string(m.State), ts(m.NextAttempt), m.LeaseOwner, ts(m.LeaseUntil), m.Attempts, ts(m.CreatedAt), bs[i], m.Raw); err != nil {
				return err
			}
		}
		return nil
	})
}

// claimQuery leases the send queue's first message due whose lease has
// lapsed. It walks the partial index of the send queue in due order and
// stops at the first such message; INDEXED BY holds it to that. Without
// statistics on the outbox (a new database, or one analysed while the
// outbox was empty) SQLite chose the index on state instead, and read and
// sorted every queued message at each claim: with a morning's bookings
// queued, claims were a quarter of the server's CPU.
const claimQuery = `UPDATE outbox SET state = 'sending', lease_owner = ?2, lease_until = ?3, attempts = attempts + 1
	WHERE id = (SELECT id FROM outbox INDEXED BY outbox_queue
		WHERE state IN ('queued', 'sending') AND next_attempt <= ?1 AND lease_until <= ?1
		ORDER BY next_attempt LIMIT 1)
	RETURNING ` + messageCols

// ClaimMessage leases the message due soonest to owner: its state becomes
// sending and its attempts go up by one.
func (s *Store) ClaimMessage(ctx context.Context, owner string, now time.Time, lease time.Duration) (*service.OutboxMessage, error) {
	var m *service.OutboxMessage
	err := s.write(ctx, "outbox message", func(tx *txn) error {
		var err error
		m, err = scanMessage(tx.queryRow(claimQuery, ts(now), owner, ts(now.Add(lease))))
		if errors.Is(err, sql.ErrNoRows) {
			return service.Errorf(service.ENOTFOUND, "no outbox message is due")
		}
		return err
	})
	return m, err
}

// UpdateMessage records m if owner still holds the lease of the claim that
// returned m (the message is still on the send queue, leased to owner, at
// the same attempt: the attempt number is the claim's fencing token).
func (s *Store) UpdateMessage(ctx context.Context, m *service.OutboxMessage, owner string) error {
	c := *m
	c.LeaseOwner = owner
	b, err := messageJSON(&c)
	if err != nil {
		return err
	}
	return s.write(ctx, "outbox message", func(tx *txn) error {
		// The message's bytes (raw) are as enqueued: they are not written
		// again with each result.
		res, err := tx.exec(`UPDATE outbox SET state = ?, next_attempt = ?, lease_until = ?, attempts = ?, message = ?
			WHERE id = ? AND lease_owner = ? AND attempts = ? AND state IN ('queued', 'sending')`,
			string(m.State), ts(m.NextAttempt), ts(m.LeaseUntil), m.Attempts, b, m.ID, owner, m.Attempts)
		if err != nil {
			return err
		}
		return guarded(ctx, tx, res, "SELECT 1 FROM outbox WHERE id = ?", m.ID, "outbox message "+m.ID,
			"the lease on message "+m.ID+" was lost")
	})
}

// SupersedeMessage marks a queued message no sender holds superseded.
func (s *Store) SupersedeMessage(ctx context.Context, id string, now time.Time) error {
	return s.write(ctx, "outbox message", func(tx *txn) error {
		_, err := tx.exec(`UPDATE outbox SET state = 'superseded'
			WHERE id = ? AND state IN ('queued', 'sending') AND lease_until <= ?`, id, ts(now))
		return err
	})
}

// RequeueMessage puts a failed message back on the send queue, due now,
// with no attempts and no lease.
func (s *Store) RequeueMessage(ctx context.Context, id string, now time.Time) error {
	return s.write(ctx, "outbox message", func(tx *txn) error {
		res, err := tx.exec(`UPDATE outbox SET state = 'queued', next_attempt = ?, attempts = 0, lease_owner = '', lease_until = ?
			WHERE id = ? AND state = 'failed'`, ts(now), ts(time.Time{}), id)
		if err != nil {
			return err
		}
		return guarded(ctx, tx, res, "SELECT 1 FROM outbox WHERE id = ?", id, "outbox message "+id,
			"message "+id+" has not failed: only a failed message is re-queued")
	})
}

// Messages returns the messages with the ids, in that order.
func (s *Store) Messages(ctx context.Context, ids []string) ([]service.OutboxMessage, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	rows, err := s.r.QueryContext(ctx, `SELECT `+messageCols+` FROM json_each(?) j CROSS JOIN outbox o ON o.id = j.value ORDER BY j.key`, jsonText(ids))
	if err != nil {
		return nil, s.translate(ctx, err, "outbox")
	}
	defer rows.Close()
	out := make([]service.OutboxMessage, 0, len(ids))
	for rows.Next() {
		m, err := scanMessage(rows)
		if err != nil {
			return nil, s.translate(ctx, err, "outbox")
		}
		out = append(out, *m)
	}
	return out, s.translate(ctx, rows.Err(), "outbox")
}

// OutboxStats counts messages by state (every state, zeros included) and
// gives the creation time of the oldest message on the send queue.
func (s *Store) OutboxStats(ctx context.Context) (service.OutboxStats, error) {
	st := service.OutboxStats{ByState: map[service.MessageState]int{}}
	for _, state := range []service.MessageState{service.MessageQueued, service.MessageSending, service.MessageSent, service.MessageFailed, service.MessageSuperseded} {
		st.ByState[state] = 0
	}
	err := s.read(ctx, "outbox", func(tx *txn) error {
		rows, err := tx.query(`SELECT state, COUNT(*) FROM outbox GROUP BY state`)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var state string
			var n int
			if err := rows.Scan(&state, &n); err != nil {
				return err
			}
			st.ByState[service.MessageState(state)] = n
		}
		if err := rows.Err(); err != nil {
			return err
		}
		var oldest sql.NullString
		if err := tx.queryRow(`SELECT MIN(created_at) FROM outbox WHERE state IN ('queued', 'sending')`).Scan(&oldest); err != nil {
			return err
		}
		if oldest.Valid {
			st.OldestQueued = parseTS(oldest.String)
		}
		return nil
	})
	return st, err
}

// AcquireLease takes or renews a named lease for owner: one upsert that
// changes the row only if owner holds it or it has lapsed.
func (s *Store) AcquireLease(ctx context.Context, name, owner string, now time.Time, ttl time.Duration) (bool, error) {
	var ok bool
	err := s.write(ctx, "lease", func(tx *txn) error {
		res, err := tx.exec(`INSERT INTO leases (name, owner, until) VALUES (?, ?, ?)
			ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, until = excluded.until
			WHERE leases.owner = excluded.owner OR leases.until <= ?`, name, owner, ts(now.Add(ttl)), ts(now))
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		ok = n == 1
		return err
	})
	return ok, err
}

// ReleaseLease gives up a lease owner holds.
func (s *Store) ReleaseLease(ctx context.Context, name, owner string) error {
	return s.write(ctx, "lease", func(tx *txn) error {
		_, err := tx.exec(`DELETE FROM leases WHERE name = ? AND owner = ?`, name, owner)
		return err
	})
}

// RecordInbound keeps what became of an inbound message.
func (s *Store) RecordInbound(ctx context.Context, r *service.InboundRecord) error {
	b, err := json.Marshal(r)
	if err != nil {
		return service.Internal(err, "encode inbound record")
	}
	return s.write(ctx, "inbound record", func(tx *txn) error {
		_, err := tx.exec(`INSERT INTO inbound (id, discussion_id, record) VALUES (?, ?, ?)`, r.ID, r.DiscussionID, b)
		return err
	})
}

// InboundRecords lists a discussion's inbound records newest first (all
// discussions' when discussionID is empty).
func (s *Store) InboundRecords(ctx context.Context, discussionID string, limitN int) ([]service.InboundRecord, error) {
	q, args := `SELECT record FROM inbound ORDER BY id DESC LIMIT ?`, []any{limit(limitN)}
	if discussionID != "" {
		q, args = `SELECT record FROM inbound WHERE discussion_id = ? ORDER BY id DESC LIMIT ?`, []any{discussionID, limit(limitN)}
	}
	rows, err := s.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, s.translate(ctx, err, "inbound records")
	}
	defer rows.Close()
	var out []service.InboundRecord
	for rows.Next() {
		var b []byte
		if err := rows.Scan(&b); err != nil {
			return nil, s.translate(ctx, err, "inbound records")
		}
		var r service.InboundRecord
		if err := json.Unmarshal(b, &r); err != nil {
			return nil, service.Internal(err, "decode inbound record")
		}
		out = append(out, r)
	}
	return out, s.translate(ctx, rows.Err(), "inbound records")
}
