package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"time"

	"github.com/convene/convene/service"
)

// CreateSession stores a new web session.
func (s *Store) CreateSession(ctx context.Context, sess *service.Session) error {
	sess.Version = 1
	b, err := json.Marshal(sess)
	if err != nil {
		return service.Internal(err, "encode session")
	}
	return s.write(ctx, "session", func(tx *txn) error {
		_, err := tx.exec(`INSERT INTO sessions (id, version, expires_at, session) VALUES (?, ?, ?, ?)`,
			sess.ID, sess.Version, ts(sess.ExpiresAt), b)
		if isUnique(err) {
			return service.Errorf(service.ECONFLICT, "session exists")
		}
		return err
	})
}

// Session returns one web session.
func (s *Store) Session(ctx context.Context, id string) (*service.Session, error) {
	var b []byte
	err := s.r.QueryRowContext(ctx, `SELECT session FROM sessions WHERE id = ?`, id).Scan(&b)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, service.Errorf(service.ENOTFOUND, "session not found")
	} else if err != nil {
		return nil, s.translate(ctx, err, "session")
	}
	var sess service.Session
	if err := json.Unmarshal(b, &sess); err != nil {
		return nil, service.Internal(err, "decode session")
	}
	return &sess, nil
}

// UpdateSession replaces sess if its stored version is sess.Version.
func (s *Store) UpdateSession(ctx context.Context, sess *service.Session) error {
	next := *sess
	next.Version = sess.Version + 1
	b, err := json.Marshal(&next)
	if err != nil {
		return service.Internal(err, "encode session")
	}
	err = s.write(ctx, "session", func(tx *txn) error {
		res, err := tx.exec(`UPDATE sessions SET version = ?, expires_at = ?, session = ? WHERE id = ? AND version = ?`,
			next.Version, ts(next.ExpiresAt), b, sess.ID, sess.Version)
		if err != nil {
			return err
		}
		return guarded(ctx, tx, res, "SELECT 1 FROM sessions WHERE id = ?", sess.ID, "session",
			"the session changed meanwhile")
	})
	if err != nil {
		return err
	}
	sess.Version = next.Version
	return nil
}

// DeleteSession removes a web session.
func (s *Store) DeleteSession(ctx context.Context, id string) error {
	return s.write(ctx, "session", func(tx *txn) error {
		_, err := tx.exec(`DELETE FROM sessions WHERE id = ?`, id)
		return err
	})
}

// PruneSessions removes sessions that expired before the time.
func (s *Store) PruneSessions(ctx context.Context, before time.Time) error {
	return s.write(ctx, "sessions", func(tx *txn) error {
		_, err := tx.exec(`DELETE FROM sessions WHERE expires_at < ?`, ts(before))
		return err
	})
}
