package sqlite

import (
	"context"
	"encoding/json"
	"strings"
	"time"

	"github.com/convene/convene/service"
)

// AddNotice stores n; an item with its id already there is kept.
func (s *Store) AddNotice(ctx context.Context, n *service.Notice) error {
	b, err := json.Marshal(n)
	if err != nil {
		return service.Internal(err, "encode notice")
	}
	return s.write(ctx, "notice", func(tx *txn) error {
		_, err := tx.exec(`INSERT INTO notices (id, recipient, discussion_id, kind, key, created_at, cleared_at, notice)
			VALUES (?, ?, ?, ?, ?, ?, NULL, ?) ON CONFLICT (id) DO NOTHING`,
			n.ID, n.Recipient, n.DiscussionID, string(n.Kind), n.Key, ts(n.CreatedAt), b)
		return err
	})
}

// Inbox lists items newest first.
func (s *Store) Inbox(ctx context.Context, f service.InboxFilter) ([]service.Notice, error) {
	out := []service.Notice{}
	if len(f.Recipients) == 0 {
		return out, nil
	}
	q := `SELECT notice, cleared_at FROM notices WHERE recipient IN (?` + strings.Repeat(", ?", len(f.Recipients)-1) + `)`
	var args []any
	for _, r := range f.Recipients {
		args = append(args, r)
	}
	if !f.All {
		q += ` AND cleared_at IS NULL`
	}
	if !f.CreatedFrom.IsZero() {
		q += ` AND created_at >= ?`
		args = append(args, ts(f.CreatedFrom))
	}
	if !f.CreatedTo.IsZero() {
		q += ` AND created_at < ?`
		args = append(args, ts(f.CreatedTo))
	}
	if !f.BeforeAt.IsZero() {
		q += ` AND (created_at < ? OR created_at = ? AND id < ?)`
		args = append(args, ts(f.BeforeAt), ts(f.BeforeAt), f.BeforeID)
	}
	q += ` ORDER BY created_at DESC, id DESC LIMIT ?`
	args = append(args, max(f.Limit, 1))
	rows, err := s.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, s.translate(ctx, err, "inbox")
	}
	defer rows.Close()
	for rows.Next() {
		var b []byte
		var cleared *string
		if err := rows.Scan(&b, &cleared); err != nil {
			return nil, s.translate(ctx, err, "inbox")
		}
		var n service.Notice
		if err := json.Unmarshal(b, &n); err != nil {
			return nil, service.Internal(err, "decode notice")
		}
		out = append(out, n)
	}
	return out, s.translate(ctx, rows.Err(), "inbox")
}

// ClearNotice marks one open item of the recipients cleared.
func (s *Store) ClearNotice(ctx context.Context, id string, recipients []string, at time.Time, by string) error {
	if len(recipients) == 0 {
		return service.Errorf(service.ENOTFOUND, "no inbox item %s", id)
	}
	return s.write(ctx, "notice", func(tx *txn) error {
		args := []any{ts(at), by, ts(at), id}
		for _, r := range recipients {
			args = append(args, r)
		}
		res, err := tx.exec(`UPDATE notices SET cleared_at = ?, notice = json_set(notice, '$.cleared_by', ?, '$.cleared_at', ?)
			WHERE id = ? AND cleared_at IS NULL AND recipient IN (?`+strings.Repeat(", ?", len(recipients)-1)+`)`, args...)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return service.Errorf(service.ENOTFOUND, "no open inbox item %s", id)
		}
		return nil
	})
}

// ResolveNotices clears the open items of the discussion, kind and key.
func (s *Store) ResolveNotices(ctx context.Context, discussionID string, kind service.NoticeKind, key string, at time.Time) error {
	return s.write(ctx, "notice", func(tx *txn) error {
		_, err := tx.exec(`UPDATE notices SET cleared_at = ?, notice = json_set(notice, '$.cleared_by', 'resolved', '$.cleared_at', ?)
			WHERE discussion_id = ? AND kind = ? AND key = ? AND cleared_at IS NULL`, ts(at), ts(at), discussionID, string(kind), key)
		return err
	})
}

// SetNoticePreference stores p in place of the email's preference.
func (s *Store) SetNoticePreference(ctx context.Context, p *service.NoticePreference) error {
	b, err := json.Marshal(p)
	if err != nil {
		return service.Internal(err, "encode preference")
	}
	return s.write(ctx, "preference", func(tx *txn) error {
		_, err := tx.exec(`INSERT INTO notice_preferences (email, preference) VALUES (?, ?)
			ON CONFLICT (email) DO UPDATE SET preference = excluded.preference`, p.Email, b)
		return err
	})
}

// NoticePreferences returns the emails' preferences, or all.
func (s *Store) NoticePreferences(ctx context.Context, emails []string) ([]service.NoticePreference, error) {
	q, args := `SELECT preference FROM notice_preferences ORDER BY email`, []any(nil)
	if emails != nil {
		if len(emails) == 0 {
			return []service.NoticePreference{}, nil
		}
		q = `SELECT preference FROM notice_preferences WHERE email IN (?` + strings.Repeat(", ?", len(emails)-1) + `) ORDER BY email`
		for _, e := range emails {
			args = append(args, e)
		}
	}
	rows, err := s.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, s.translate(ctx, err, "preferences")
	}
	defer rows.Close()
	out := []service.NoticePreference{}
	for rows.Next() {
		var b []byte
		var p service.NoticePreference
		if err := rows.Scan(&b); err != nil {
			return nil, s.translate(ctx, err, "preferences")
		}
		if err := json.Unmarshal(b, &p); err != nil {
			return nil, service.Internal(err, "decode preference")
		}
		out = append(out, p)
	}
	return out, s.translate(ctx, rows.Err(), "preferences")
}

// DiscussionsRaisedDue lists discussions flagged with notices not moved,
// through the partial index on the flag.
func (s *Store) DiscussionsRaisedDue(ctx context.Context, limit int) ([]string, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT id FROM discussions WHERE json_extract(head, '$.raised_due') = 1 ORDER BY id LIMIT ?`, max(limit, 1))
	if err != nil {
		return nil, s.translate(ctx, err, "discussions")
	}
	defer rows.Close()
	out := []string{}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, s.translate(ctx, err, "discussions")
		}
		out = append(out, id)
	}
	return out, s.translate(ctx, rows.Err(), "discussions")
}
