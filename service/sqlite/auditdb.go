package sqlite

import (
	"context"
	"database/sql"
	"path/filepath"
)

// auditMigrations is migrations for audit.db, the audit log's own file.
// Its audit table is convene.db's as it stood at schema version 8 (issue
// 16's retention included): append-only by trigger, except entries older
// than the bound the retention purge sets in its own transaction.
var auditMigrations = []string{
	// 1: the audit log moves out of convene.db.
	`
CREATE TABLE health (
	id INTEGER PRIMARY KEY CHECK (id = 1),
	at TEXT NOT NULL
);
CREATE TABLE audit (
	id       TEXT PRIMARY KEY,
	at       TEXT NOT NULL,
	actor    TEXT NOT NULL,
	resource TEXT NOT NULL,
	entry    TEXT NOT NULL -- JSON
);
CREATE INDEX audit_resource ON audit (resource, id);
CREATE INDEX audit_actor ON audit (actor, id);
CREATE INDEX audit_at ON audit (at);
CREATE TABLE audit_retention (
	id     INTEGER PRIMARY KEY CHECK (id = 1),
	before TEXT NOT NULL
);
CREATE TRIGGER audit_append_only_update BEFORE UPDATE ON audit
BEGIN SELECT RAISE(ABORT, 'audit entries are append-only'); END;
CREATE TRIGGER audit_append_only_delete BEFORE DELETE ON audit
WHEN OLD.at >= coalesce((SELECT before FROM audit_retention WHERE id = 1), '')
BEGIN SELECT RAISE(ABORT, 'audit entries are append-only until their retention ends'); END;
`,
}

func migrateAudit(ctx context.Context, db *sql.DB) error {
	return applyMigrations(ctx, db, auditMigrations)
}

// moveAudit moves the audit entries that convene.db holds into audit.db
// and drops them from convene.db. They are there in a database written
// before the audit log had a file of its own, and in a restored backup
// (a backup is one file, carrying the log in an audit table). The copy
// skips entries already moved, and the drop follows it, so a move cut
// short is finished at the next open.
func (s *Store) moveAudit(ctx context.Context) error {
	var n int
	if err := s.w.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = 'audit'`).Scan(&n); err != nil {
		return err
	}
	if n == 0 {
		return nil
	}
	conn, err := s.audit.w.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "ATTACH DATABASE ? AS legacy", filepath.Join(s.dir, dbFile)); err != nil {
		return err
	}
	defer func() { _, _ = conn.ExecContext(context.WithoutCancel(ctx), "DETACH DATABASE legacy") }()
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }()
	if _, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO main.audit (id, at, actor, resource, entry)
		SELECT id, at, actor, resource, entry FROM legacy.audit`); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	return s.write(ctx, "audit move", func(tx *txn) error {
		_, err := tx.ExecContext(ctx, `DROP TRIGGER IF EXISTS audit_append_only_update;
DROP TRIGGER IF EXISTS audit_append_only_delete;
DROP TABLE audit;
DROP TABLE IF EXISTS audit_retention;`)
		return err
	})
}
