package sqlite

import (
	"bytes"
	"context"
	"strings"

	json "github.com/goccy/go-json"

	"github.com/convene/convene/service"
)

// AppendAudit writes the entries in one transaction of audit.db: all or
// none. An id
// already written is ECONFLICT; triggers refuse any UPDATE or DELETE of
// the audit table, so entries are append-only in the database too.
func (s *Store) AppendAudit(ctx context.Context, entries []service.AuditEntry) error {
	if len(entries) == 0 {
		return nil
	}
	bs := make([][]byte, len(entries))
	for i := range entries {
		b, err := json.Marshal(&entries[i])
		if err != nil {
			return service.Internal(err, "encode audit entry")
		}
		bs[i] = b
	}
	return s.writeTo(ctx, s.audit, "audit entry", func(tx *txn) error {
		for i, e := range entries {
			if _, err := tx.exec(`INSERT INTO audit (id, at, actor, resource, entry) VALUES (?, ?, ?, ?, ?)`,
				e.ID, ts(e.At), e.Actor.Subject, e.Resource, bs[i]); err != nil {
				return err
			}
		}
		return nil
	})
}

// Audit lists entries newest first (by id, which is time-ordered).
func (s *Store) Audit(ctx context.Context, f service.AuditFilter) ([]service.AuditEntry, error) {
	var where []string
	var args []any
	if f.Resource != "" {
		where, args = append(where, "resource = ?"), append(args, f.Resource)
	}
	if f.Actor != "" {
		where, args = append(where, "actor = ?"), append(args, f.Actor)
	}
	if f.Before != "" {
		where, args = append(where, "id < ?"), append(args, f.Before)
	}
	q := "SELECT entry FROM audit"
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY id DESC LIMIT ?"
	args = append(args, limit(f.Limit))
	rows, err := s.audit.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, s.translate(ctx, err, "audit")
	}
	defer rows.Close()
	var out []service.AuditEntry
	for rows.Next() {
		var b []byte
		if err := rows.Scan(&b); err != nil {
			return nil, s.translate(ctx, err, "audit")
		}
		var e service.AuditEntry
		// Numbers in details stay exact (json.Number), not float64.
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.UseNumber()
		if err := dec.Decode(&e); err != nil {
			return nil, service.Internal(err, "decode audit entry")
		}
		out = append(out, e)
	}
	return out, s.translate(ctx, rows.Err(), "audit")
}
