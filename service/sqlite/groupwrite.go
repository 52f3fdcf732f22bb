package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"sync"
	"sync/atomic"
)

// writeQueue commits writes in groups. SQLite has one writer, and a
// commit's cost is mostly writing the pages it changed to the WAL: under
// load, writes that queue for the writer run together in one transaction,
// each in a savepoint of its own, and are committed once. A write that
// fails is rolled back to its savepoint and leaves the others alone; each
// caller waits for the commit of its group, so nothing is reported done
// before it is durable, and a write's effects are as if the group's writes
// had run one after the other. With no queue a write runs alone, as a
// transaction of its own.
//
// Measured with BenchmarkScale's mixed load at 100,000 discussions, where
// the outbox workers' claims and updates, replies, convenes and the audit
// all write: see BENCHMARKS.md.
type writeQueue struct {
	mu      sync.Mutex
	waiting []*writeReq
	running bool
	// grouped counts the writes that ran in a group of more than one.
	grouped atomic.Int64
}

type writeReq struct {
	ctx  context.Context
	fn   func(tx *txn) error
	err  error
	done chan struct{}
}

// maxGroup bounds a group, and so how long its first writer waits.
const maxGroup = 64

// write runs fn in a transaction of d's writer and returns once it is
// committed (or has failed). It does not return early when ctx ends while
// the write is queued: the write is then not run, and says so.
func (q *writeQueue) write(ctx context.Context, d *database, fn func(tx *txn) error) error {
	r := &writeReq{ctx: ctx, fn: fn, done: make(chan struct{})}
	q.mu.Lock()
	q.waiting = append(q.waiting, r)
	if q.running {
		q.mu.Unlock()
		<-r.done
		return r.err
	}
	q.running = true
	q.mu.Unlock()
	// This caller writes the group it is in; later arrivals are written
	// by another goroutine, so that its own wait is one group long.
	q.next(d)
	<-r.done
	return r.err
}

// next writes the next group, then hands on to a goroutine while more
// wait.
func (q *writeQueue) next(d *database) {
	q.mu.Lock()
	group := q.take()
	q.mu.Unlock()
	q.run(d, group)
	q.mu.Lock()
	more := len(q.waiting) > 0
	q.running = more
	q.mu.Unlock()
	if more {
		go q.drain(d)
	}
}

// drain writes groups until none wait.
func (q *writeQueue) drain(d *database) {
	for {
		q.mu.Lock()
		if len(q.waiting) == 0 {
			q.running = false
			q.mu.Unlock()
			return
		}
		group := q.take()
		q.mu.Unlock()
		q.run(d, group)
	}
}

// take removes the next group from the queue; q.mu is held.
func (q *writeQueue) take() []*writeReq {
	n := min(len(q.waiting), maxGroup)
	group := q.waiting[:n:n]
	q.waiting = q.waiting[n:]
	return group
}

func (q *writeQueue) run(d *database, group []*writeReq) {
	if len(group) > 1 {
		q.grouped.Add(int64(len(group)))
	}
	runGroup(d, group)
}

// runGroup runs the writes in one IMMEDIATE transaction, each in its own
// savepoint when there are several, and commits what succeeded.
func runGroup(d *database, group []*writeReq) {
	defer func() {
		for _, r := range group {
			close(r.done)
		}
	}()
	// The transaction belongs to the group, not to any one caller: one
	// going away must not roll back the others. Each write's statements
	// run under its own caller's context.
	bg := context.Background()
	sqltx, err := d.w.BeginTx(bg, nil)
	if err != nil {
		for _, r := range group {
			r.err = err
		}
		return
	}
	var missed []string
	if len(group) == 1 {
		r := group[0]
		tx := &txn{Tx: sqltx, ctx: r.ctx, cache: d.wstmts}
		if r.err = run(r, tx); r.err != nil {
			_ = sqltx.Rollback()
			return
		}
		r.err = sqltx.Commit()
		d.wstmts.add(bg, tx.missed)
		return
	}
	var ok []*writeReq
	for i, r := range group {
		if _, err := sqltx.ExecContext(bg, "SAVEPOINT w"); err != nil {
			abort(sqltx, group[:i], group[i:], err)
			return
		}
		// Once started, a write runs to its end even if its caller goes:
		// SQLite answers an interrupted change by rolling back the whole
		// transaction, the other writes' work with it.
		tx := &txn{Tx: sqltx, ctx: context.WithoutCancel(r.ctx), cache: d.wstmts}
		r.err = run(r, tx)
		missed = append(missed, tx.missed...)
		if r.err == nil {
			if _, err := sqltx.ExecContext(bg, "RELEASE w"); err != nil {
				abort(sqltx, group[:i+1], group[i+1:], err)
				return
			}
			ok = append(ok, r)
			continue
		}
		// Some errors (a full disk, an I/O error) end the whole
		// transaction in SQLite; the savepoint is then gone, and so is
		// the work of the writes before this one.
		if _, err := sqltx.ExecContext(bg, "ROLLBACK TO w"); err != nil {
			abort(sqltx, group[:i], group[i+1:], r.err)
			return
		}
		if _, err := sqltx.ExecContext(bg, "RELEASE w"); err != nil {
			abort(sqltx, group[:i], group[i+1:], r.err)
			return
		}
	}
	if len(ok) == 0 {
		_ = sqltx.Rollback()
		return
	}
	if err := sqltx.Commit(); err != nil {
		for _, r := range ok {
			r.err = err
		}
		return
	}
	d.wstmts.add(bg, missed)
}

// run runs one write, turning a panic into its error so that it cannot
// take the group's other writers with it.
func run(r *writeReq, tx *txn) (err error) {
	if err := r.ctx.Err(); err != nil {
		return err // its caller has gone: not run
	}
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("sqlite: write panicked: %v", p)
		}
	}()
	return r.fn(tx)
}

// abort rolls the group's transaction back: the writes already run (done)
// lose their work and, those that had succeeded, get err; the rest
// (notRun) are not run and get err.
func abort(sqltx *sql.Tx, done, notRun []*writeReq, err error) {
	_ = sqltx.Rollback()
	for _, r := range done {
		if r.err == nil {
			r.err = err
		}
	}
	for _, r := range notRun {
		r.err = err
	}
}
