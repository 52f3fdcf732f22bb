package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	json "github.com/goccy/go-json"

	"github.com/convene/convene/service"
)

// The element lists as named in discussion_elements.list.
const (
	listInvitees    = "invitees"
	listCheckIns    = "check_ins"
	listCounters    = "counters"
	listHeldReplies = "held_replies"
)

// element is one element to write: at idx (updates) or at the end of its
// list (appends), guarded by key and rev.
type element struct {
	list   string
	idx    int
	key    string
	rev    int64 // as loaded; the stored one becomes rev+1 (1 when appended)
	append bool
	value  []byte
	// invitee is set for the invitees list: members follow it.
	invitee *service.Invitee
}

func elements[T any](list string, es []service.Element[T], setRev func(*T, int64), inv func(*T) *service.Invitee) ([]element, error) {
	out := make([]element, 0, len(es))
	for _, e := range es {
		v := e.Value
		rev := e.Rev + 1
		if e.Append {
			rev = 1
		}
		setRev(&v, rev)
		b, err := json.Marshal(&v)
		if err != nil {
			return nil, service.Internal(err, "encode "+list)
		}
		el := element{list: list, idx: e.Index, key: e.Key, rev: e.Rev, append: e.Append, value: b}
		if inv != nil {
			el.invitee = inv(&v)
		}
		out = append(out, el)
	}
	return out, nil
}

func inviteeOf(v *service.Invitee) *service.Invitee { return v }

// patchElements encodes the element changes of a patch, lists in a fixed
// order.
func patchElements(p *service.DiscussionPatch) ([]element, error) {
	var all []element
	add := func(es []element, err error) error {
		all = append(all, es...)
		return err
	}
	if err := add(elements(listInvitees, p.Invitees, func(v *service.Invitee, r int64) { v.Rev = r }, inviteeOf)); err != nil {
		return nil, err
	}
	if err := add(elements(listCheckIns, p.CheckIns, func(v *service.CheckIn, r int64) { v.Rev = r }, nil)); err != nil {
		return nil, err
	}
	if err := add(elements(listCounters, p.Counters, func(v *service.Counter, r int64) { v.Rev = r }, nil)); err != nil {
		return nil, err
	}
	if err := add(elements(listHeldReplies, p.HeldReplies, func(v *service.HeldReply, r int64) { v.Rev = r }, nil)); err != nil {
		return nil, err
	}
	return all, nil
}

// headJSON encodes a discussion's own fields: everything but its element
// lists, timeline, pending messages, outbox index, version and update time,
// which are stored beside it.
func headJSON(d *service.Discussion, id string) ([]byte, error) {
	h := *d
	h.ID = id
	h.Invitees, h.CheckIns, h.Counters, h.HeldReplies = nil, nil, nil, nil
	h.Timeline, h.Pending, h.Outbox = nil, nil, nil
	h.Version, h.UpdatedAt = 0, time.Time{}
	b, err := json.Marshal(&h)
	if err != nil {
		return nil, service.Internal(err, "encode discussion")
	}
	return b, nil
}

func marshalAll[T any](vs []T, what string) ([][]byte, error) {
	out := make([][]byte, len(vs))
	for i := range vs {
		b, err := json.Marshal(&vs[i])
		if err != nil {
			return nil, service.Internal(err, "encode "+what)
		}
		out[i] = b
	}
	return out, nil
}

// CreateDiscussion stores a new discussion at Version 1 with every element
// at Rev 1 and its Timeline as events 1…n, and sets those on d.
func (s *Store) CreateDiscussion(ctx context.Context, d *service.Discussion) error {
	d.Numbered()
	c, err := encodeDiscussion(d)
	if err != nil {
		return err
	}
	return s.write(ctx, "discussion", func(tx *txn) error { return insertDiscussion(ctx, tx, d, c) })
}

// encoded is a discussion's JSON, made before the write transaction so the
// writer connection is held no longer than the SQL takes.
type encoded struct {
	head                   []byte
	elements               []element
	events, pending, refs  [][]byte
	chair                  string
	deadline, created, upd string
}

func encodeDiscussion(d *service.Discussion) (*encoded, error) {
	p := &service.DiscussionPatch{}
	for i, v := range d.Invitees {
		p.Invitees = append(p.Invitees, service.Element[service.Invitee]{Index: i, Key: v.Email, Rev: 0, Value: v})
	}
	for i, v := range d.CheckIns {
		p.CheckIns = append(p.CheckIns, service.Element[service.CheckIn]{Index: i, Key: v.ID, Value: v})
	}
	for i, v := range d.Counters {
		p.Counters = append(p.Counters, service.Element[service.Counter]{Index: i, Key: v.ID, Value: v})
	}
	for i, v := range d.HeldReplies {
		p.HeldReplies = append(p.HeldReplies, service.Element[service.HeldReply]{Index: i, Key: v.ID, Value: v})
	}
	c := &encoded{deadline: ts(d.Deadline), created: ts(d.CreatedAt), upd: ts(d.UpdatedAt)}
	var err error
	if c.head, err = headJSON(d, d.ID); err != nil {
		return nil, err
	}
	if c.elements, err = patchElements(p); err != nil {
		return nil, err
	}
	if c.events, err = marshalAll(d.Timeline, "event"); err != nil {
		return nil, err
	}
	if c.pending, err = marshalAll(d.Pending, "pending message"); err != nil {
		return nil, err
	}
	if c.refs, err = marshalAll(d.Outbox, "outbox reference"); err != nil {
		return nil, err
	}
	for _, inv := range d.Invitees {
		if inv.Chair && !inv.Removed {
			c.chair = inv.Email
			break
		}
	}
	return c, nil
}

func insertDiscussion(ctx context.Context, tx *txn, d *service.Discussion, c *encoded) error {
	_, err := tx.exec(`INSERT INTO discussions (id, version, uid, status, deadline, case_reference, chair_email,
		breached, at_risk, pending, events, created_at, updated_at, head) VALUES (?, 1, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		d.ID, d.UID, string(d.Status), c.deadline, d.CaseReference, c.chair, boolInt(d.Breach != nil), boolInt(d.AtRisk),
		len(d.Pending), len(d.Timeline), c.created, c.upd, c.head)
	if isUnique(err) {
		return &service.Error{Code: service.ECONFLICT, Message: "a discussion with this id or UID already exists", Err: err}
	} else if err != nil {
		return err
	}
	for _, e := range c.elements {
		if _, err := tx.exec(`INSERT INTO discussion_elements (discussion_id, list, idx, key, rev, value) VALUES (?, ?, ?, ?, 1, ?)`,
			d.ID, e.list, e.idx, e.key, e.value); isUnique(err) {
			return &service.Error{Code: service.ECONFLICT, Message: fmt.Sprintf("%s: %q appears twice", e.list, e.key), Err: err}
		} else if err != nil {
			return err
		}
		if e.invitee != nil && !e.invitee.Removed {
			if err := upsertMember(ctx, tx, d.ID, e.idx, e.invitee, c.deadline, string(d.Status)); err != nil {
				return err
			}
		}
	}
	for i, b := range c.events {
		if _, err := tx.exec(`INSERT INTO discussion_events (discussion_id, seq, event) VALUES (?, ?, ?)`, d.ID, i+1, b); err != nil {
			return err
		}
	}
	for i, b := range c.pending {
		if _, err := tx.exec(`INSERT INTO discussion_pending (discussion_id, id, pos, message) VALUES (?, ?, ?, ?)`,
			d.ID, d.Pending[i].ID, i, b); err != nil {
			return err
		}
	}
	for i, b := range c.refs {
		if _, err := tx.exec(`INSERT INTO discussion_outbox (discussion_id, idx, ref) VALUES (?, ?, ?)`, d.ID, i, b); err != nil {
			return err
		}
	}
	return nil
}

// upsertMember writes a current invitee's membership, with the
// discussion's deadline and status (which the head's writes keep in step).
func upsertMember(ctx context.Context, tx *txn, id string, idx int, inv *service.Invitee, deadline, status string) error {
	_, err := tx.exec(`INSERT INTO discussion_members (discussion_id, email, idx, agency, chair, deadline, status) VALUES (?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (discussion_id, email) DO UPDATE SET idx = excluded.idx, agency = excluded.agency, chair = excluded.chair`,
		id, inv.Email, idx, string(inv.Agency), boolInt(inv.Chair), deadline, status)
	return err
}

// PatchDiscussion applies p in one transaction. The version guard, each
// element's key and revision, and each appended key's absence from its
// list are checked by the statements that write (UPDATE … WHERE, and the
// list's unique key), so whatever fails rolls the whole patch back.
func (s *Store) PatchDiscussion(ctx context.Context, p *service.DiscussionPatch) error {
	els, err := patchElements(p)
	if err != nil {
		return err
	}
	var head []byte
	if p.Head != nil {
		if head, err = headJSON(p.Head, p.ID); err != nil {
			return err
		}
	}
	pending, err := marshalAll(p.AddPending, "pending message")
	if err != nil {
		return err
	}
	refs, err := marshalAll(p.MovedPending, "outbox reference")
	if err != nil {
		return err
	}
	var last int64
	err = s.write(ctx, "discussion", func(tx *txn) error {
		var deadline, status string
		var row *sql.Row
		if h := p.Head; h != nil {
			row = tx.queryRow(`UPDATE discussions SET version = version + 1, uid = ?, status = ?, deadline = ?,
				case_reference = ?, breached = ?, at_risk = ?, created_at = ?, head = ?, updated_at = ?,
				events = events + ?, pending = pending + ?
				WHERE id = ? AND version = ? RETURNING events, deadline, status`,
				h.UID, string(h.Status), ts(h.Deadline), h.CaseReference, boolInt(h.Breach != nil), boolInt(h.AtRisk),
				ts(h.CreatedAt), head, ts(p.At), len(p.Events), len(pending)-len(refs), p.ID, p.Version)
		} else {
			row = tx.queryRow(`UPDATE discussions SET updated_at = ?, events = events + ?, pending = pending + ?
				WHERE id = ? AND version = ? RETURNING events, deadline, status`,
				ts(p.At), len(p.Events), len(pending)-len(refs), p.ID, p.Version)
		}
		err := row.Scan(&last, &deadline, &status)
		if errors.Is(err, sql.ErrNoRows) {
			return discussionGone(ctx, tx, p.ID)
		} else if isUnique(err) {
			return &service.Error{Code: service.ECONFLICT, Message: "another discussion has this UID", Err: err}
		} else if err != nil {
			return err
		}
		if p.Head != nil {
			if _, err := tx.exec(`UPDATE discussion_members SET deadline = ?1, status = ?2 WHERE discussion_id = ?3 AND (deadline <> ?1 OR status <> ?2)`,
				deadline, status, p.ID); err != nil {
				return err
			}
		}
		if err := writeElements(ctx, tx, p.ID, deadline, status, els); err != nil {
			return err
		}
		// Events are stored with their seq, now known.
		for i, ev := range p.Events {
			ev.Seq = last - int64(len(p.Events)-i-1)
			b, err := json.Marshal(&ev)
			if err != nil {
				return service.Internal(err, "encode event")
			}
			if _, err := tx.exec(`INSERT INTO discussion_events (discussion_id, seq, event) VALUES (?, ?, ?)`, p.ID, ev.Seq, b); err != nil {
				return err
			}
		}
		for i, b := range pending {
			_, err := tx.exec(`INSERT INTO discussion_pending (discussion_id, id, pos, message)
				SELECT ?, ?, COALESCE(MAX(pos) + 1, 0), ? FROM discussion_pending WHERE discussion_id = ?`,
				p.ID, p.AddPending[i].ID, b, p.ID)
			if isUnique(err) {
				return service.Errorf(service.ECONFLICT, "message %s is already pending", p.AddPending[i].ID)
			} else if err != nil {
				return err
			}
		}
		for i, b := range refs {
			res, err := tx.exec(`DELETE FROM discussion_pending WHERE discussion_id = ? AND id = ?`, p.ID, p.MovedPending[i].ID)
			if err != nil {
				return err
			}
			if n, err := res.RowsAffected(); err != nil {
				return err
			} else if n == 0 {
				return service.Errorf(service.ECONFLICT, "message %s is no longer pending", p.MovedPending[i].ID)
			}
			if _, err := tx.exec(`INSERT INTO discussion_outbox (discussion_id, idx, ref)
				SELECT ?, COALESCE(MAX(idx) + 1, 0), ? FROM discussion_outbox WHERE discussion_id = ?`, p.ID, b, p.ID); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	for i := range p.Events {
		p.Events[i].Seq = last - int64(len(p.Events)-i-1)
	}
	return nil
}

// discussionGone explains a version-guarded update that matched nothing.
func discussionGone(ctx context.Context, tx *txn, id string) error {
	var one int
	err := tx.queryRow("SELECT 1 FROM discussions WHERE id = ?", id).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return service.Errorf(service.ENOTFOUND, "discussion %s not found", id)
	} else if err != nil {
		return err
	}
	return service.Errorf(service.ECONFLICT, "the discussion was changed by someone else; reload it and try again")
}

// writeElements writes each element under its guard and keeps the
// members (and the chair) in step with the invitees written.
func writeElements(ctx context.Context, tx *txn, id, deadline, status string, els []element) error {
	invitees := false
	for _, e := range els {
		idx := e.idx
		if e.append {
			// At the end of the list, wherever the caller appended it in
			// memory; a key already in the list breaks the unique key.
			err := tx.queryRow(`INSERT INTO discussion_elements (discussion_id, list, idx, key, rev, value)
				SELECT ?, ?, COALESCE(MAX(idx) + 1, 0), ?, 1, ? FROM discussion_elements WHERE discussion_id = ? AND list = ?
				RETURNING idx`, id, e.list, e.key, e.value, id, e.list).Scan(&idx)
			if isUnique(err) {
				return service.Errorf(service.ECONFLICT, "%s: %q is already in the list", e.list, e.key)
			} else if err != nil {
				return err
			}
		} else {
			newKey := e.key
			if e.invitee != nil {
				newKey = e.invitee.Email
			}
			res, err := tx.exec(`UPDATE discussion_elements SET key = ?, rev = rev + 1, value = ?
				WHERE discussion_id = ? AND list = ? AND idx = ? AND key = ? AND rev = ?`,
				newKey, e.value, id, e.list, e.idx, e.key, e.rev)
			if isUnique(err) {
				return service.Errorf(service.ECONFLICT, "%s: %q is already in the list", e.list, newKey)
			} else if err != nil {
				return err
			}
			if n, err := res.RowsAffected(); err != nil {
				return err
			} else if n == 0 {
				return service.Errorf(service.ECONFLICT, "%s %d (%s) was changed by someone else; reload it and try again", e.list, e.idx, e.key)
			}
			if e.invitee != nil && newKey != e.key {
				if _, err := tx.exec(`DELETE FROM discussion_members WHERE discussion_id = ? AND email = ?`, id, e.key); err != nil {
					return err
				}
			}
		}
		if inv := e.invitee; inv != nil {
			invitees = true
			var err error
			if inv.Removed {
				_, err = tx.exec(`DELETE FROM discussion_members WHERE discussion_id = ? AND email = ?`, id, inv.Email)
			} else {
				err = upsertMember(ctx, tx, id, idx, inv, deadline, status)
			}
			if err != nil {
				return err
			}
		}
	}
	if invitees {
		_, err := tx.exec(`UPDATE discussions SET chair_email = COALESCE((SELECT email FROM discussion_members
			WHERE discussion_id = ?1 AND chair = 1 ORDER BY idx LIMIT 1), '') WHERE id = ?1`, id)
		return err
	}
	return nil
}

// Discussion returns the discussion with its newest TimelineWindow events.
func (s *Store) Discussion(ctx context.Context, id string) (*service.Discussion, error) {
	var out []service.Discussion
	err := s.read(ctx, "discussion", func(tx *txn) (err error) {
		out, err = page(tx, []string{id})
		return err
	})
	if err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, service.Errorf(service.ENOTFOUND, "discussion %s not found", id)
	}
	return &out[0], nil
}

// DiscussionOutbox reads the discussion's outbox index alone.
func (s *Store) DiscussionOutbox(ctx context.Context, id string) ([]service.MessageRef, error) {
	var refs []service.MessageRef
	err := s.read(ctx, "discussion", func(tx *txn) error {
		var list sql.NullString
		err := tx.queryRow(`SELECT (SELECT group_concat(ref, ',') FROM (SELECT ref FROM discussion_outbox WHERE discussion_id = d.id ORDER BY idx))
			FROM discussions d WHERE d.id = ?`, id).Scan(&list)
		if errors.Is(err, sql.ErrNoRows) {
			return service.Errorf(service.ENOTFOUND, "discussion %s not found", id)
		}
		if err != nil || !list.Valid {
			return err
		}
		if err := json.Unmarshal([]byte("["+list.String+"]"), &refs); err != nil {
			return service.Internal(err, "decode the outbox of discussion "+id)
		}
		return nil
	})
	return refs, err
}

// Discussions lists discussions matching f by deadline, then id, a page at
// a time (keyset on deadline and id): the ids come off an index, and only
// the page's discussions are read whole.
func (s *Store) Discussions(ctx context.Context, f service.DiscussionFilter) ([]service.Discussion, error) {
	if len(f.IDs) > 0 {
		var out []service.Discussion
		err := s.read(ctx, "discussions", func(tx *txn) (err error) {
			out, err = page(tx, f.IDs, !f.Summary)
			return err
		})
		return out, err
	}
	q, args := listQuery(f)
	var out []service.Discussion
	err := s.read(ctx, "discussions", func(tx *txn) error {
		ids, err := column(tx, q, args...)
		if err != nil {
			return err
		}
		out, err = page(tx, ids, !f.Summary)
		return err
	})
	return out, err
}

// column runs a query of one text column.
func column(tx *txn, q string, args ...any) ([]string, error) {
	rows, err := tx.query(q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// listQuery builds the list query so that SQLite walks an index in
// (deadline, id) order and stops at the page's end: one person's
// memberships for VisibleTo, the case reference's or chair's discussions,
// or one index range per status, merged.
func listQuery(f service.DiscussionFilter) (string, []any) {
	var conds []string
	var args []any
	cond := func(c string, a ...any) {
		conds = append(conds, c)
		args = append(args, a...)
	}
	statuses := slices.Compact(slices.Sorted(slices.Values(f.Status)))
	// One person's discussions are filtered by date on the membership's
	// deadline (the discussion's, kept in step): the index walked.
	deadline := "d.deadline"
	if f.VisibleTo != "" {
		deadline = "m.deadline"
	}
	if !f.DueBefore.IsZero() {
		cond(deadline+" < ?", ts(f.DueBefore))
	}
	if !f.DeadlineFrom.IsZero() {
		cond(deadline+" >= ?", ts(f.DeadlineFrom))
	}
	if f.ChairEmail != "" {
		cond("d.chair_email = ?", f.ChairEmail)
	}
	if f.CaseReference != "" {
		cond("d.case_reference = ?", f.CaseReference)
	}
	if f.Breached != nil {
		cond("d.breached = ?", boolInt(*f.Breached))
	}
	if f.AtRisk != nil {
		cond("d.at_risk = ?", boolInt(*f.AtRisk))
	}
	if f.FollowOnBreach != nil {
		// Written as the partial index discussions_follow_on_breach's
		// condition, so that true walks that index in deadline order.
		if *f.FollowOnBreach {
			cond(followOnBreached)
		} else {
			cond("NOT " + followOnBreached)
		}
	}
	if f.Agency != "" {
		cond("EXISTS (SELECT 1 FROM discussion_members a WHERE a.discussion_id = d.id AND a.agency = ?)", string(f.Agency))
	}
	statusCond := func() {
		if len(statuses) > 0 {
			cond("d.status IN ("+placeholders(len(statuses))+")", anys(statuses)...)
		}
	}
	after := f.AfterID != "" || !f.AfterDeadline.IsZero()
	lim := limit(f.Limit)
	where := func() string {
		if len(conds) == 0 {
			return ""
		}
		return " WHERE " + strings.Join(conds, " AND ")
	}

	if f.VisibleTo != "" {
		// From the person's memberships, in deadline order, to their
		// discussions: CROSS JOIN keeps SQLite to that order.
		if after {
			cond("(m.deadline, m.discussion_id) > (?, ?)", ts(f.AfterDeadline), f.AfterID)
		}
		from := "FROM discussion_members m CROSS JOIN discussions d ON d.id = m.discussion_id"
		if len(statuses) == 0 {
			conds = append([]string{"m.email = ?"}, conds...)
			args = append([]any{f.VisibleTo}, args...)
			return "SELECT d.id " + from + where() + " ORDER BY m.deadline, m.discussion_id LIMIT ?", append(args, lim)
		}
		// With statuses, one ordered, limited range of the person's
		// memberships per status (members_email_status), then the first
		// page of their merge: an agency representative's open
		// invitations do not walk the years of their concluded ones.
		rest, restArgs := "", args
		if len(conds) > 0 {
			rest = " AND " + strings.Join(conds, " AND ")
		}
		var arms []string
		args = nil
		for _, st := range statuses {
			arms = append(arms, "SELECT * FROM (SELECT m.discussion_id AS id, m.deadline AS deadline "+from+
				" WHERE m.email = ? AND m.status = ? AND d.status = m.status"+rest+" ORDER BY m.deadline, m.discussion_id LIMIT ?)")
			args = append(append(append(args, f.VisibleTo, string(st)), restArgs...), lim)
		}
		q := "SELECT id FROM (" + strings.Join(arms, " UNION ALL ") + " ORDER BY deadline, id LIMIT ?)"
		return q, append(args, lim)
	}
	if after {
		cond("(d.deadline, d.id) > (?, ?)", ts(f.AfterDeadline), f.AfterID)
	}
	if f.FollowOnBreach != nil && *f.FollowOnBreach {
		// Few discussions have a missed follow-on: walk those, in
		// deadline order, and check the rest on each (a status index
		// would walk every concluded discussion).
		statusCond()
		q := "SELECT d.id FROM discussions d INDEXED BY discussions_follow_on_breach" + where() + " ORDER BY d.deadline, d.id LIMIT ?"
		return q, append(args, lim)
	}
	if len(statuses) <= 1 || f.ChairEmail != "" || f.CaseReference != "" {
		statusCond()
		q := "SELECT d.id FROM discussions d" + where() + " ORDER BY d.deadline, d.id LIMIT ?"
		return q, append(args, lim)
	}
	// Several statuses: one ordered, limited index range per status, then
	// the first page of their merge.
	base, baseArgs := where(), args
	var arms []string
	args = nil
	for _, st := range statuses {
		w := " WHERE d.status = ?"
		if base != "" {
			w += " AND " + strings.TrimPrefix(base, " WHERE ")
		}
		arms = append(arms, "SELECT * FROM (SELECT d.id, d.deadline FROM discussions d"+w+" ORDER BY d.deadline, d.id LIMIT ?)")
		args = append(append(append(args, string(st)), baseArgs...), lim)
	}
	q := "SELECT id FROM (" + strings.Join(arms, " UNION ALL ") + " ORDER BY deadline, id LIMIT ?)"
	return q, append(args, lim)
}

// followOnBreached is the condition of the partial index
// discussions_follow_on_breach (schema.go), word for word.
const followOnBreached = "json_extract(d.head, '$.follow_on_breach') IS NOT NULL"

func anys[T ~string](vs []T) []any {
	out := make([]any, len(vs))
	for i, v := range vs {
		out[i] = string(v)
	}
	return out
}

// pageQuery reads discussions whole, one row each: the head, and each list
// as its elements' JSON joined with commas, in order (the newest
// TimelineWindow events only). One row per discussion, not one per
// element, is what keeps a page of fifty quick. Each list is aggregated
// from a subquery ordered by its primary key: SQLite aggregates it in that
// order without sorting (group_concat's own ORDER BY would sort).
var pageQuery = `SELECT j.key, d.id, d.version, d.updated_at, d.head,
	(SELECT group_concat(value, ',') FROM (SELECT value FROM discussion_elements WHERE discussion_id = d.id AND list = 'invitees' ORDER BY idx)),
	(SELECT group_concat(value, ',') FROM (SELECT value FROM discussion_elements WHERE discussion_id = d.id AND list = 'check_ins' ORDER BY idx)),
	(SELECT group_concat(value, ',') FROM (SELECT value FROM discussion_elements WHERE discussion_id = d.id AND list = 'counters' ORDER BY idx)),
	(SELECT group_concat(value, ',') FROM (SELECT value FROM discussion_elements WHERE discussion_id = d.id AND list = 'held_replies' ORDER BY idx)),
	(SELECT group_concat(event, ',') FROM (SELECT event FROM discussion_events WHERE discussion_id = d.id AND seq > d.events - ` + strconv.Itoa(service.TimelineWindow) + ` ORDER BY seq)),
	(SELECT group_concat(message, ',') FROM (SELECT message FROM discussion_pending WHERE discussion_id = d.id ORDER BY pos)),
	(SELECT group_concat(ref, ',') FROM (SELECT ref FROM discussion_outbox WHERE discussion_id = d.id ORDER BY idx))
FROM json_each(?) j CROSS JOIN discussions d ON d.id = j.value`

// summaryQuery is pageQuery with only the head and the invitees, for
// lists: a summary shows the chair, the replies, the booking and the flags.
var summaryQuery = func() string {
	q := pageQuery
	for _, sub := range []string{
		`(SELECT group_concat(value, ',') FROM (SELECT value FROM discussion_elements WHERE discussion_id = d.id AND list = 'check_ins' ORDER BY idx))`,
		`(SELECT group_concat(value, ',') FROM (SELECT value FROM discussion_elements WHERE discussion_id = d.id AND list = 'counters' ORDER BY idx))`,
		`(SELECT group_concat(value, ',') FROM (SELECT value FROM discussion_elements WHERE discussion_id = d.id AND list = 'held_replies' ORDER BY idx))`,
		`(SELECT group_concat(event, ',') FROM (SELECT event FROM discussion_events WHERE discussion_id = d.id AND seq > d.events - ` + strconv.Itoa(service.TimelineWindow) + ` ORDER BY seq))`,
		`(SELECT group_concat(message, ',') FROM (SELECT message FROM discussion_pending WHERE discussion_id = d.id ORDER BY pos))`,
		`(SELECT group_concat(ref, ',') FROM (SELECT ref FROM discussion_outbox WHERE discussion_id = d.id ORDER BY idx))`,
	} {
		if !strings.Contains(q, sub) {
			panic("sqlite: summaryQuery: pageQuery changed")
		}
		q = strings.Replace(q, sub, "NULL", 1)
	}
	return q
}()

// page reads the discussions with the ids, in that order; ids not found
// are left out. With timeline false it leaves the timelines out.
func page(tx *txn, ids []string, timeline ...bool) ([]service.Discussion, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	// JSON as text: SQLite reads a BLOB argument as JSONB.
	q := pageQuery
	if len(timeline) > 0 && !timeline[0] {
		q = summaryQuery
	}
	rows, err := tx.query(q, jsonText(ids))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	type row struct {
		at int
		d  service.Discussion
	}
	var out []row
	var buf []byte
	for rows.Next() {
		var r row
		var updated string
		var head sql.RawBytes
		var lists [7]sql.RawBytes
		if err := rows.Scan(&r.at, &r.d.ID, &r.d.Version, &updated, &head,
			&lists[0], &lists[1], &lists[2], &lists[3], &lists[4], &lists[5], &lists[6]); err != nil {
			return nil, err
		}
		id, version := r.d.ID, r.d.Version
		if err := json.Unmarshal(head, &r.d); err != nil {
			return nil, service.Internal(err, "decode discussion "+id)
		}
		r.d.ID, r.d.Version, r.d.UpdatedAt = id, version, parseTS(updated)
		for i, dst := range []any{&r.d.Invitees, &r.d.CheckIns, &r.d.Counters, &r.d.HeldReplies, &r.d.Timeline, &r.d.Pending, &r.d.Outbox} {
			if lists[i] == nil {
				continue
			}
			buf = append(append(append(buf[:0], '['), lists[i]...), ']')
			if err := json.Unmarshal(buf, dst); err != nil {
				return nil, service.Internal(err, "decode the lists of discussion "+id)
			}
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	slices.SortFunc(out, func(a, b row) int { return cmp.Compare(a.at, b.at) })
	ds := make([]service.Discussion, len(out))
	for i := range out {
		ds[i] = out[i].d
	}
	return ds, nil
}

func jsonText(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic("sqlite: " + err.Error()) // only strings and numbers
	}
	return string(b)
}

// Timeline pages through a discussion's events, newest first, before the
// sequence number given (0: from the newest).
func (s *Store) Timeline(ctx context.Context, discussionID string, before int64, limitN int) ([]service.Event, error) {
	if before <= 0 {
		before = math.MaxInt64
	}
	var out []service.Event
	err := s.read(ctx, "timeline", func(tx *txn) error {
		rows, err := tx.query(`SELECT seq, event FROM discussion_events WHERE discussion_id = ? AND seq < ?
			ORDER BY seq DESC LIMIT ?`, discussionID, before, limit(limitN))
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var seq int64
			var b []byte
			if err := rows.Scan(&seq, &b); err != nil {
				return err
			}
			var ev service.Event
			if err := json.Unmarshal(b, &ev); err != nil {
				return service.Internal(err, "decode event")
			}
			ev.Seq = seq
			out = append(out, ev)
		}
		if err := rows.Err(); err != nil {
			return err
		}
		if len(out) == 0 {
			var one int
			if err := tx.queryRow("SELECT 1 FROM discussions WHERE id = ?", discussionID).Scan(&one); errors.Is(err, sql.ErrNoRows) {
				return service.Errorf(service.ENOTFOUND, "discussion %s not found", discussionID)
			} else if err != nil {
				return err
			}
		}
		return nil
	})
	return out, err
}

// DiscussionsWithPending lists discussions with messages not yet moved to
// the outbox.
func (s *Store) DiscussionsWithPending(ctx context.Context, limitN int) ([]service.Discussion, error) {
	var out []service.Discussion
	err := s.read(ctx, "discussions", func(tx *txn) error {
		ids, err := column(tx, `SELECT id FROM discussions WHERE pending > 0 ORDER BY id LIMIT ?`, limit(limitN))
		if err != nil {
			return err
		}
		out, err = page(tx, ids)
		return err
	})
	return out, err
}
