package sqlite

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/convene/convene/service"
)

// RetentionCandidates lists concluded or cancelled discussions last
// changed before changedBefore, oldest change first, after the cursor.
func (s *Store) RetentionCandidates(ctx context.Context, changedBefore, afterUpdated time.Time, afterID string, limitN int) ([]service.Discussion, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT id FROM discussions
		WHERE status IN ('concluded', 'cancelled') AND updated_at < ? AND (updated_at, id) > (?, ?)
		ORDER BY updated_at, id LIMIT ?`, ts(changedBefore), ts(afterUpdated), afterID, limit(limitN))
	if err != nil {
		return nil, s.translate(ctx, err, "retention candidates")
	}
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return nil, s.translate(ctx, err, "retention candidates")
		}
		ids = append(ids, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, s.translate(ctx, err, "retention candidates")
	}
	if len(ids) == 0 {
		return nil, nil
	}
	ds, err := s.Discussions(ctx, service.DiscussionFilter{IDs: ids, Summary: true, Limit: len(ids)})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(ds, func(a, b service.Discussion) int {
		if c := a.UpdatedAt.Compare(b.UpdatedAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return ds, nil
}

// PurgeDiscussion removes the discussion and everything kept for it in one
// transaction, if its version is still version. Its elements, members,
// events, pending messages and outbox references go with it (ON DELETE
// CASCADE); the rest is deleted here.
func (s *Store) PurgeDiscussion(ctx context.Context, id string, version int64) error {
	return s.write(ctx, "discussion", func(tx *txn) error {
		var stored int64
		if err := tx.queryRow(`SELECT version FROM discussions WHERE id = ?`, id).Scan(&stored); err != nil {
			return err // no rows: ENOTFOUND
		}
		if stored != version {
			return service.Errorf(service.ECONFLICT, "discussion changed since it was read")
		}
		for _, q := range []string{
			// Outbox messages, queued or sent, with their raw mail.
			`DELETE FROM outbox WHERE id IN (SELECT json_extract(ref, '$.id') FROM discussion_outbox WHERE discussion_id = ?1)
				OR json_extract(message, '$.discussion_id') = ?1`,
			`DELETE FROM holds WHERE discussion_id = ?`,
			`DELETE FROM inbound WHERE discussion_id = ?`,
			`DELETE FROM notices WHERE discussion_id = ?`,
			`DELETE FROM idempotency_keys WHERE json_extract(record, '$.discussion_id') = ?`,
			`DELETE FROM discussions WHERE id = ?`,
		} {
			if _, err := tx.ExecContext(ctx, q, id); err != nil {
				return err
			}
		}
		return nil
	})
}

// PurgeAudit removes the audit entries written before the time. The audit
// table's trigger refuses every other delete: it lets through only entries
// older than the bound this transaction sets in audit_retention, and the
// bound is cleared again before the transaction commits.
func (s *Store) PurgeAudit(ctx context.Context, before time.Time) (int64, error) {
	var n int64
	err := s.writeTo(ctx, s.audit, "audit entry", func(tx *txn) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO audit_retention (id, before) VALUES (1, ?)
			ON CONFLICT (id) DO UPDATE SET before = excluded.before`, ts(before)); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM audit WHERE at < ?`, ts(before))
		if err != nil {
			return err
		}
		n, _ = res.RowsAffected()
		_, err = tx.ExecContext(ctx, `DELETE FROM audit_retention`)
		return err
	})
	return n, err
}
