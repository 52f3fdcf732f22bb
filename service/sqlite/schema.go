package sqlite

import (
	"context"
	"database/sql"
	"fmt"
)

// migrations[i] takes the schema from version i to i+1 (PRAGMA
// user_version). Append to the list; never edit a migration that has
// shipped.
var migrations = []string{
	// 1: the first schema.
	`
CREATE TABLE health (
	id INTEGER PRIMARY KEY CHECK (id = 1),
	at TEXT NOT NULL
);

CREATE TABLE people (
	id      TEXT PRIMARY KEY,
	email   TEXT NOT NULL UNIQUE,
	agency  TEXT NOT NULL,
	chair   INTEGER NOT NULL,
	version INTEGER NOT NULL,
	person  TEXT NOT NULL -- JSON
);
CREATE INDEX people_agency ON people (agency, id);

CREATE TABLE audit (
	id       TEXT PRIMARY KEY,
	at       TEXT NOT NULL,
	actor    TEXT NOT NULL,
	resource TEXT NOT NULL,
	entry    TEXT NOT NULL -- JSON
);
CREATE INDEX audit_resource ON audit (resource, id);
CREATE INDEX audit_actor ON audit (actor, id);
CREATE TRIGGER audit_append_only_update BEFORE UPDATE ON audit
BEGIN SELECT RAISE(ABORT, 'audit entries are append-only'); END;
CREATE TRIGGER audit_append_only_delete BEFORE DELETE ON audit
BEGIN SELECT RAISE(ABORT, 'audit entries are append-only'); END;

-- A discussion's own fields (head, JSON) with the ones queries filter and
-- sort on beside it. chair_email is the current chair's; pending counts
-- messages not yet in the outbox; events is the last event's seq.
CREATE TABLE discussions (
	id             TEXT PRIMARY KEY,
	version        INTEGER NOT NULL,
	uid            TEXT NOT NULL UNIQUE,
	status         TEXT NOT NULL,
	deadline       TEXT NOT NULL,
	case_reference TEXT NOT NULL,
	chair_email    TEXT NOT NULL DEFAULT '',
	breached       INTEGER NOT NULL,
	at_risk        INTEGER NOT NULL,
	pending        INTEGER NOT NULL DEFAULT 0,
	events         INTEGER NOT NULL DEFAULT 0,
	created_at     TEXT NOT NULL,
	updated_at     TEXT NOT NULL,
	head           TEXT NOT NULL -- JSON
);
CREATE INDEX discussions_deadline ON discussions (deadline, id);
CREATE INDEX discussions_status ON discussions (status, deadline, id);
CREATE INDEX discussions_case ON discussions (case_reference, deadline, id);
CREATE INDEX discussions_chair ON discussions (chair_email, deadline, id) WHERE chair_email <> '';
CREATE INDEX discussions_pending ON discussions (id) WHERE pending > 0;

-- The element lists: invitees, check_ins, counters, held_replies. An
-- element keeps its index for good; key is its identity in the list.
CREATE TABLE discussion_elements (
	discussion_id TEXT NOT NULL REFERENCES discussions (id) ON DELETE CASCADE,
	list          TEXT NOT NULL,
	idx           INTEGER NOT NULL,
	key           TEXT NOT NULL,
	rev           INTEGER NOT NULL,
	value         TEXT NOT NULL, -- JSON
	PRIMARY KEY (discussion_id, list, idx),
	UNIQUE (discussion_id, list, key)
) WITHOUT ROWID;

-- The current (not removed) invitees, for the VisibleTo, Agency and chair
-- filters; idx is the invitee's; deadline is the discussion's, so one
-- person's discussions come off the index in deadline order.
CREATE TABLE discussion_members (
	discussion_id TEXT NOT NULL REFERENCES discussions (id) ON DELETE CASCADE,
	email         TEXT NOT NULL,
	idx           INTEGER NOT NULL,
	agency        TEXT NOT NULL,
	chair         INTEGER NOT NULL,
	deadline      TEXT NOT NULL,
	PRIMARY KEY (discussion_id, email)
) WITHOUT ROWID;
CREATE INDEX members_email ON discussion_members (email, deadline, discussion_id);

CREATE TABLE discussion_events (
	discussion_id TEXT NOT NULL REFERENCES discussions (id) ON DELETE CASCADE,
	seq           INTEGER NOT NULL,
	event         TEXT NOT NULL, -- JSON
	PRIMARY KEY (discussion_id, seq)
) WITHOUT ROWID;

CREATE TABLE discussion_pending (
	discussion_id TEXT NOT NULL REFERENCES discussions (id) ON DELETE CASCADE,
	pos           INTEGER NOT NULL,
	id            TEXT NOT NULL,
	message       TEXT NOT NULL, -- JSON
	PRIMARY KEY (discussion_id, pos),
	UNIQUE (discussion_id, id)
) WITHOUT ROWID;

CREATE TABLE discussion_outbox (
	discussion_id TEXT NOT NULL REFERENCES discussions (id) ON DELETE CASCADE,
	idx           INTEGER NOT NULL,
	ref           TEXT NOT NULL, -- JSON
	PRIMARY KEY (discussion_id, idx)
) WITHOUT ROWID;

CREATE TABLE idempotency_keys (
	id         TEXT PRIMARY KEY,
	created_at TEXT NOT NULL,
	record     TEXT NOT NULL -- JSON
) WITHOUT ROWID;

-- A hold's id is the person and the quarter-hour: the primary key is what
-- prevents double booking.
CREATE TABLE holds (
	id            TEXT PRIMARY KEY,
	person        TEXT NOT NULL,
	discussion_id TEXT NOT NULL,
	booking_id    TEXT NOT NULL,
	start         TEXT NOT NULL,
	created_at    TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX holds_booking ON holds (booking_id, person);
CREATE INDEX holds_person ON holds (person, start);
CREATE INDEX holds_start ON holds (start);

-- The outbox; messages queued or being sent form the send queue.
CREATE TABLE outbox (
	id           TEXT PRIMARY KEY,
	state        TEXT NOT NULL,
	next_attempt TEXT NOT NULL,
	lease_owner  TEXT NOT NULL,
	lease_until  TEXT NOT NULL,
	attempts     INTEGER NOT NULL,
	created_at   TEXT NOT NULL,
	message      TEXT NOT NULL, -- JSON, without raw
	raw          BLOB
);
CREATE INDEX outbox_queue ON outbox (next_attempt) WHERE state IN ('queued', 'sending');
CREATE INDEX outbox_state ON outbox (state, created_at);

CREATE TABLE leases (
	name  TEXT PRIMARY KEY,
	owner TEXT NOT NULL,
	until TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE inbound (
	id            TEXT PRIMARY KEY,
	discussion_id TEXT NOT NULL,
	record        TEXT NOT NULL -- JSON
);
CREATE INDEX inbound_discussion ON inbound (discussion_id, id);
`,
	// 2: the directory of venues.
	`
CREATE TABLE venues (
	id      TEXT PRIMARY KEY,
	active  INTEGER NOT NULL,
	version INTEGER NOT NULL,
	venue   TEXT NOT NULL -- JSON
);
`,
	// 3: the web app's sign-in sessions, by the hash of their token.
	`
CREATE TABLE sessions (
	id         TEXT PRIMARY KEY,
	version    INTEGER NOT NULL,
	expires_at TEXT NOT NULL,
	session    TEXT NOT NULL -- JSON
) WITHOUT ROWID;
CREATE INDEX sessions_expiry ON sessions (expires_at);
`,
	// 4: the inbox of notices, each person's notification preference,
	// and the discussions whose raised notices are not yet moved.
	`
CREATE TABLE notices (
	id            TEXT PRIMARY KEY,
	recipient     TEXT NOT NULL,
	discussion_id TEXT NOT NULL,
	kind          TEXT NOT NULL,
	key           TEXT NOT NULL,
	created_at    TEXT NOT NULL,
	cleared_at    TEXT,
	notice        TEXT NOT NULL -- JSON
) WITHOUT ROWID;
CREATE INDEX notices_inbox ON notices (recipient, created_at, id);
CREATE INDEX notices_subject ON notices (discussion_id, kind, key);
CREATE TABLE notice_preferences (
	email      TEXT PRIMARY KEY,
	preference TEXT NOT NULL -- JSON
) WITHOUT ROWID;
CREATE INDEX discussions_raised_due ON discussions (id) WHERE json_extract(head, '$.raised_due') = 1;
`,
	// 5: retention (issue 16). Audit entries may be deleted only when
	// older than the bound the retention purge sets in audit_retention
	// inside its own transaction; every other delete is still refused.
	// Retention candidates come off an index of the finished discussions
	// by last change.
	`
DROP TRIGGER audit_append_only_delete;
CREATE TABLE audit_retention (
	id     INTEGER PRIMARY KEY CHECK (id = 1),
	before TEXT NOT NULL
);
CREATE TRIGGER audit_append_only_delete BEFORE DELETE ON audit
WHEN OLD.at >= coalesce((SELECT before FROM audit_retention WHERE id = 1), '')
BEGIN SELECT RAISE(ABORT, 'audit entries are append-only until their retention ends'); END;
CREATE INDEX audit_at ON audit (at);
CREATE INDEX discussions_finished ON discussions (updated_at, id) WHERE status IN ('concluded', 'cancelled');
`,
	// 6: discussions with a missed follow-on deadline (issue 14), for
	// the list's follow_on_breach filter, in deadline order.
	`
CREATE INDEX discussions_follow_on_breach ON discussions (deadline, id) WHERE json_extract(head, '$.follow_on_breach') IS NOT NULL;
`,
	// 7: a purge finds a discussion's outbox messages and idempotency
	// keys by index, not by reading every one (issue 16).
	`
CREATE INDEX outbox_discussion ON outbox (json_extract(message, '$.discussion_id'));
CREATE INDEX idempotency_discussion ON idempotency_keys (json_extract(record, '$.discussion_id'));
`,
	// 8: a membership carries its discussion's status beside its
	// deadline, so one person's discussions of a status (an agency
	// representative's open invitations) come off an index in deadline
	// order, without walking their concluded ones (issue 15).
	`
ALTER TABLE discussion_members ADD COLUMN status TEXT NOT NULL DEFAULT '';
UPDATE discussion_members SET status = (SELECT d.status FROM discussions d WHERE d.id = discussion_members.discussion_id);
CREATE INDEX members_email_status ON discussion_members (email, status, deadline, discussion_id);
`,
}

// migrate brings convene.db's schema up to date.
func (s *Store) migrate(ctx context.Context, db *sql.DB) error {
	return applyMigrations(ctx, db, migrations)
}

// applyMigrations brings a database's schema up to date with ms in one
// transaction, and refuses a database written by a newer Convene.
func applyMigrations(ctx context.Context, db *sql.DB, ms []string) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }()
	var version int
	if err := tx.QueryRowContext(ctx, "PRAGMA user_version").Scan(&version); err != nil {
		return err
	}
	if version > len(ms) {
		return fmt.Errorf("the database schema is version %d, newer than this Convene knows (%d): run a newer Convene", version, len(ms))
	}
	if version == len(ms) {
		return nil
	}
	for i := version; i < len(ms); i++ {
		if _, err := tx.ExecContext(ctx, ms[i]); err != nil {
			return fmt.Errorf("migration %d: %w", i+1, err)
		}
	}
	// PRAGMA takes no parameters; the number is ours.
	if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", len(ms))); err != nil {
		return err
	}
	return tx.Commit()
}

// SchemaVersion returns the database's schema version.
func (s *Store) SchemaVersion(ctx context.Context) (int, error) {
	var v int
	err := s.r.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v)
	return v, err
}
