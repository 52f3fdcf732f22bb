// Package sqlite implements service.Store on SQLite (modernc.org/sqlite, pure
// Go, no cgo): the embedded default, one file under the data directory, for
// a single Convene process.
//
// The database runs in WAL mode with synchronous=NORMAL. Writes go through
// one connection, so they are serialised in the process and each is one
// IMMEDIATE transaction that never waits on another writer's lock; reads use
// a pool of read-only connections and never wait for writes. Guards
// (versions, element revisions, unique keys) are checked by the SQL that
// writes, so a stale change is refused however the callers interleave.
//
// The data directory is locked (flock on convene.lock) for as long as the
// store is open: a second process on the same directory refuses to start.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/convene/convene/service"
)

var _ service.Store = (*Store)(nil)

// File names under the data directory.
const (
	dbFile    = "convene.db"
	auditFile = "audit.db"
	lockFile  = "convene.lock"
)

// Store is the service.Store on a SQLite database under a data directory.
type Store struct {
	dir  string
	lock *os.File
	// main is convene.db, everything but the audit log; audit is
	// audit.db, the audit log alone, so that auditing a read neither
	// waits for the writes of discussions nor makes the readers of
	// convene.db drop their page caches (SQLite drops a connection's
	// cache whenever another has committed to its file).
	main, audit *database
	opened      []*database
	// w and r are main's writer and readers, wstmts and rstmts their
	// prepared statements.
	w, r           *sql.DB
	wstmts, rstmts *stmtCache
	// stopCkpt ends the checkpointer; ckptDone says it has ended.
	stopCkpt, ckptDone  chan struct{}
	stopOnce, closeOnce sync.Once
}

type config struct {
	readers         int
	busyTimeout     time.Duration
	maxPages        int64
	checkpointEvery time.Duration
	walLimit        int64
}

// An Option changes how Open opens the store.
type Option func(*config)

// Readers sets the number of read connections to convene.db (default:
// four for each CPU, at least 16). A request that reads several times
// (a convene reads the directory, each candidate and their holds) waits
// for a free one each time: with 4, convenes in BenchmarkScale's mixed
// load at 100,000 spent most of their time waiting (p99 221 ms; 112 ms
// with 16).
func Readers(n int) Option { return func(c *config) { c.readers = n } }

// BusyTimeout sets how long a connection waits for a lock held by another
// connection, such as a checkpoint, before failing (default 5s).
func BusyTimeout(d time.Duration) Option { return func(c *config) { c.busyTimeout = d } }

// MaxSize caps the database file at about n bytes: writes beyond it fail
// as if the disk were full. Zero (the default) leaves it unlimited.
func MaxSize(n int64) Option { return func(c *config) { c.maxPages = (n + pageSize - 1) / pageSize } }

// CheckpointEvery sets how often the WAL is folded into the database in
// the background (default 1s).
func CheckpointEvery(d time.Duration) Option { return func(c *config) { c.checkpointEvery = d } }

// WALLimit sets the size the WAL file is cut back to when it restarts
// (default 64 MiB).
func WALLimit(n int64) Option { return func(c *config) { c.walLimit = n } }

const pageSize = 4096

// Open opens (creating if need be) the store in dir: the directory is made
// 0700 and the database files 0600, the directory is locked against other
// processes, and the schema is brought up to date.
func Open(ctx context.Context, dir string, opts ...Option) (*Store, error) {
	c := config{readers: max(16, 4*runtime.GOMAXPROCS(0)), busyTimeout: 5 * time.Second, checkpointEvery: time.Second, walLimit: 64 << 20}
	for _, o := range opts {
		o(&c)
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("data directory %s: %w", dir, err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, dirError(dir, "cannot be created", err)
	}
	lock, err := lockDir(dir)
	if err != nil {
		return nil, err
	}
	s := &Store{dir: dir, lock: lock}
	if err := s.open(ctx, c); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

func (s *Store) open(ctx context.Context, c config) error {
	if fi, err := os.Stat(s.dir); err == nil && fi.Mode().Perm()&0o077 != 0 {
		// Case records: nobody but the service's own user reads them.
		if err := os.Chmod(s.dir, 0o700); err != nil {
			return dirError(s.dir, "cannot be made private (0700)", err)
		}
	}
	var err error
	if s.main, err = s.openFile(ctx, c, dbFile, c.readers, mainCache, s.migrate); err != nil {
		return err
	}
	s.w, s.r, s.wstmts, s.rstmts = s.main.w, s.main.r, s.main.wstmts, s.main.rstmts
	// The audit log is written all the time and read now and then (an
	// administrator's search): two readers, and small caches.
	if s.audit, err = s.openFile(ctx, c, auditFile, 2, auditCache, migrateAudit); err != nil {
		return err
	}
	if err := s.moveAudit(ctx); err != nil {
		return s.dbError(err, "cannot be opened")
	}
	s.stopCkpt, s.ckptDone = make(chan struct{}), make(chan struct{})
	go s.checkpoints(c.checkpointEvery, s.main.ckpt, s.audit.ckpt)
	return nil
}

// database is one SQLite file of the data directory: its one writer
// connection, its pool of read-only ones, the statements prepared for
// each, and the checkpointer's connection.
type database struct {
	w, r, ckpt     *sql.DB
	wstmts, rstmts *stmtCache
	queue          writeQueue
}

// openFile opens (creating if need be) the database file name under the
// data directory, private to the service's user, and brings its schema up
// to date with migrate.
func (s *Store) openFile(ctx context.Context, c config, name string, readers int, cacheKiB int, migrate func(context.Context, *sql.DB) error) (*database, error) {
	path := filepath.Join(s.dir, name)
	// SQLite gives the -wal and -shm files the database file's mode, so
	// creating it 0600 first keeps all three private.
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, dirError(s.dir, "cannot hold the database", err)
	}
	_ = f.Close()
	for _, n := range []string{name, name + "-wal", name + "-shm"} {
		if err := os.Chmod(filepath.Join(s.dir, n), 0o600); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, dirError(s.dir, "cannot make the database private (0600)", err)
		}
	}
	pragmas := []string{
		"busy_timeout(" + strconv.FormatInt(c.busyTimeout.Milliseconds(), 10) + ")",
		"foreign_keys(1)",
		"synchronous(NORMAL)",
		// Each connection keeps decoded pages in a cache of its own, and
		// there is no memory map: a page read through the map is parsed
		// again on every visit and never cached, which cost a get 2.5 ms
		// against 1.4 ms read into the cache (BenchmarkScale at 10,000,
		// with the checkpointer below). SQLite empties a connection's
		// cache whenever another commits, so a small one is enough.
		"cache_size(-" + strconv.Itoa(cacheKiB) + ")",
		// No commit checkpoints: the checkpointer folds the WAL into
		// the database in the background, so no request waits for the
		// copy and its fsyncs (at 500 requests a second they set the
		// p99: 9.9 ms with commit checkpoints, 4.8 ms without).
		"wal_autocheckpoint(0)",
		// A WAL that a burst of writes grew is cut back to this when it
		// restarts.
		"journal_size_limit(" + strconv.FormatInt(c.walLimit, 10) + ")",
	}
	if c.maxPages > 0 {
		pragmas = append(pragmas, "max_page_count("+strconv.FormatInt(c.maxPages, 10)+")")
	}
	dsn := func(extra ...string) string {
		q := url.Values{}
		for _, p := range append(pragmas, extra...) {
			q.Add("_pragma", p)
		}
		return "file:" + path + "?" + q.Encode()
	}
	d := &database{}
	// Whatever opened is closed with the store, even when this fails.
	s.opened = append(s.opened, d)
	if d.w, err = sql.Open("sqlite", dsn("journal_mode(WAL)")+"&_txlock=immediate"); err != nil {
		return nil, err
	}
	// One connection that never expires: writes queue for it in the
	// process instead of contending for SQLite's lock.
	d.w.SetMaxOpenConns(1)
	d.w.SetMaxIdleConns(1)
	d.w.SetConnMaxLifetime(0)
	d.w.SetConnMaxIdleTime(0)
	d.wstmts = newStmtCache(d.w)
	if err := migrate(ctx, d.w); err != nil {
		return nil, s.dbError(err, "cannot be opened")
	}
	// Start with the WAL folded into the database.
	_, _ = d.w.ExecContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)")
	if d.r, err = sql.Open("sqlite", dsn("query_only(1)")); err != nil {
		return nil, err
	}
	d.r.SetMaxOpenConns(readers)
	d.r.SetMaxIdleConns(readers)
	d.r.SetConnMaxLifetime(0)
	d.r.SetConnMaxIdleTime(0)
	d.rstmts = newStmtCache(d.r)
	if err := d.r.PingContext(ctx); err != nil {
		return nil, s.dbError(err, "cannot be read")
	}
	if d.ckpt, err = sql.Open("sqlite", dsn()); err != nil {
		return nil, err
	}
	d.ckpt.SetMaxOpenConns(1)
	d.ckpt.SetConnMaxLifetime(0)
	d.ckpt.SetConnMaxIdleTime(0)
	return d, nil
}

// checkpoints folds each database's WAL into it every interval until the
// store closes. A PASSIVE checkpoint takes neither the writer's lock nor
// the readers': it copies what no reader still needs and leaves the rest
// for the next pass, and once all is copied the next write starts the WAL
// again from its beginning (cut back to the WAL limit).
func (s *Store) checkpoints(every time.Duration, dbs ...*sql.DB) {
	defer close(s.ckptDone)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-s.stopCkpt:
			return
		case <-t.C:
			for _, db := range dbs {
				checkpoint(db)
			}
		}
	}
}

// Page caches per connection, in KiB: at most 16 readers and a writer on
// convene.db (272 MiB in all), 2 and 1 on audit.db.
const (
	mainCache  = 16 << 10
	auditCache = 4 << 10
)

// restartFrames is the WAL length (in pages) past which a checkpoint that
// has copied everything also starts the WAL again.
const restartFrames = 4096 // 16 MiB

// checkpoint folds db's WAL into it. Under a steady mix of reads and
// writes a PASSIVE checkpoint copies every frame but the WAL never starts
// again from its beginning: a writer restarts it only when no reader is
// using it, and with reads arriving all the time one always is. The WAL
// then grows without end (1.3 GB in two minutes of the mixed load at
// 100,000 discussions) and every commit extends the file. So once the
// WAL is long and all copied, a RESTART checkpoint waits for the readers
// of the moment (milliseconds: no read transaction is long) while holding
// new writers back, and the next write starts at the WAL's beginning.
func checkpoint(db *sql.DB) {
	var busy, frames, copied int
	if err := db.QueryRow("PRAGMA wal_checkpoint(PASSIVE)").Scan(&busy, &frames, &copied); err != nil {
		return
	}
	if frames >= restartFrames && copied == frames {
		_, _ = db.Exec("PRAGMA wal_checkpoint(RESTART)")
	}
}

// Close closes the databases and unlocks the data directory.
func (s *Store) Close() error {
	var errs []error
	if s.stopCkpt != nil {
		s.stopOnce.Do(func() { close(s.stopCkpt) })
		<-s.ckptDone
	}
	s.closeOnce.Do(func() {
		for _, d := range s.opened {
			if d.ckpt != nil {
				errs = append(errs, d.ckpt.Close())
			}
			if d.r != nil {
				d.rstmts.close()
				errs = append(errs, d.r.Close())
			}
			if d.w != nil {
				d.wstmts.close()
				// Keep the planner's statistics fresh for the next start.
				_, _ = d.w.Exec("PRAGMA optimize")
				errs = append(errs, d.w.Close())
			}
		}
		if s.lock != nil {
			errs = append(errs, s.lock.Close()) // closing releases the flock
		}
	})
	return errors.Join(errs...)
}

// Dir returns the data directory.
func (s *Store) Dir() string { return s.dir }

// Ping reports whether both databases answer and can be written: it
// writes the time to a one-row table in each. Rewriting that row needs no
// new page, so a full database would pass; the row first takes a value a
// page long, which needs a page of its own, as new rows do.
func (s *Store) Ping(ctx context.Context) error {
	for _, d := range []*database{s.main, s.audit} {
		if err := s.writeTo(ctx, d, "health check", func(tx *txn) error {
			for _, at := range []string{strings.Repeat(" ", pageSize), ts(time.Now())} {
				if _, err := tx.exec(`INSERT INTO health (id, at) VALUES (1, ?)
			ON CONFLICT (id) DO UPDATE SET at = excluded.at`, at); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			return err
		}
	}
	return nil
}

// write runs fn in one IMMEDIATE transaction on convene.db's writer
// connection and commits it, or rolls it back when fn fails.
func (s *Store) write(ctx context.Context, what string, fn func(tx *txn) error) error {
	return s.writeTo(ctx, s.main, what, fn)
}

// writeTo is write on the database d.
func (s *Store) writeTo(ctx context.Context, d *database, what string, fn func(tx *txn) error) error {
	return s.translate(ctx, d.queue.write(ctx, d, fn), what)
}

// read runs fn in one read transaction, so everything it reads is one
// snapshot.
func (s *Store) read(ctx context.Context, what string, fn func(tx *txn) error) error {
	sqltx, err := s.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return s.translate(ctx, err, what)
	}
	tx := &txn{Tx: sqltx, ctx: ctx, cache: s.rstmts}
	err = fn(tx)
	_ = sqltx.Rollback()
	tx.cache.add(ctx, tx.missed)
	return s.translate(ctx, err, what)
}

// txn is a transaction that runs statements prepared once for the
// connection pool: parsing SQL costs more than running most of these
// queries. A statement not yet prepared is prepared in the transaction
// and, once it is over, for the pool.
type txn struct {
	*sql.Tx
	ctx    context.Context
	cache  *stmtCache
	local  map[string]*sql.Stmt
	missed []string
}

func (t *txn) stmt(q string) (*sql.Stmt, error) {
	if st := t.local[q]; st != nil {
		return st, nil
	}
	var st *sql.Stmt
	if shared := t.cache.lookup(q); shared != nil {
		st = t.Tx.StmtContext(t.ctx, shared)
	} else {
		var err error
		if st, err = t.Tx.PrepareContext(t.ctx, q); err != nil {
			return nil, err
		}
		t.missed = append(t.missed, q)
	}
	if t.local == nil {
		t.local = map[string]*sql.Stmt{}
	}
	t.local[q] = st // closed with the transaction
	return st, nil
}

func (t *txn) exec(q string, args ...any) (sql.Result, error) {
	st, err := t.stmt(q)
	if err != nil {
		return nil, err
	}
	return st.ExecContext(t.ctx, args...)
}

func (t *txn) query(q string, args ...any) (*sql.Rows, error) {
	st, err := t.stmt(q)
	if err != nil {
		return nil, err
	}
	return st.QueryContext(t.ctx, args...)
}

// queryRow is QueryRowContext; a statement that cannot be prepared gives
// its error at Scan, by way of a query that fails the same way.
func (t *txn) queryRow(q string, args ...any) *sql.Row {
	st, err := t.stmt(q)
	if err != nil {
		return t.Tx.QueryRowContext(t.ctx, q, args...)
	}
	return st.QueryRowContext(t.ctx, args...)
}

// stmtCache holds statements prepared for a pool, by their text.
type stmtCache struct {
	db *sql.DB
	mu sync.Mutex
	m  map[string]*sql.Stmt
}

// maxStatements bounds the cache: list queries vary with their filters.
const maxStatements = 512

func newStmtCache(db *sql.DB) *stmtCache { return &stmtCache{db: db, m: map[string]*sql.Stmt{}} }

func (c *stmtCache) lookup(q string) *sql.Stmt {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.m[q]
}

// add prepares the statements for the pool. It takes a connection, so it
// runs outside any transaction (with one writer connection, inside one it
// would wait for itself). A failure is no matter: the next transaction
// prepares the statement for itself again.
func (c *stmtCache) add(ctx context.Context, qs []string) {
	for _, q := range qs {
		if c.lookup(q) != nil {
			continue
		}
		st, err := c.db.PrepareContext(ctx, q)
		if err != nil {
			continue
		}
		c.mu.Lock()
		if c.m[q] == nil && len(c.m) < maxStatements {
			c.m[q], st = st, nil
		}
		c.mu.Unlock()
		if st != nil {
			_ = st.Close()
		}
	}
}

func (c *stmtCache) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for q, st := range c.m {
		_ = st.Close()
		delete(c.m, q)
	}
}

// translate turns driver errors into service errors at the boundary; a
// *service.Error passes through.
func (s *Store) translate(ctx context.Context, err error, what string) error {
	var se *service.Error
	var le *sqlite.Error
	switch {
	case err == nil:
		return nil
	case errors.As(err, &se):
		return err
	case errors.Is(err, sql.ErrNoRows):
		return service.Errorf(service.ENOTFOUND, "%s not found", what)
	case isUnique(err):
		return &service.Error{Code: service.ECONFLICT, Message: what + " already exists", Err: err}
	case ctx.Err() != nil, errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return &service.Error{Code: service.EUNAVAILABLE, Message: "the store did not answer in time", Err: err}
	case errors.As(err, &le):
		switch le.Code() & 0xff {
		case sqlite3.SQLITE_FULL:
			return &service.Error{Code: service.EUNAVAILABLE, Message: "the data directory is full", Err: s.dbError(err, "is full")}
		case sqlite3.SQLITE_READONLY, sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_PERM:
			return &service.Error{Code: service.EUNAVAILABLE, Message: "the data directory cannot be written", Err: s.dbError(err, "cannot be written")}
		case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_INTERRUPT:
			return &service.Error{Code: service.EUNAVAILABLE, Message: "the store is busy; try again", Err: err}
		}
	}
	return service.Internal(err, what)
}

func isUnique(err error) bool {
	var le *sqlite.Error
	return errors.As(err, &le) && (le.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || le.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY)
}

// dbError says in an operator's words what is wrong with the data
// directory when SQLite fails for a reason of the file system.
func (s *Store) dbError(err error, what string) error {
	var le *sqlite.Error
	if errors.As(err, &le) {
		switch le.Code() & 0xff {
		case sqlite3.SQLITE_FULL:
			return fmt.Errorf("data directory %s is full (or the database reached its size limit): %w", s.dir, err)
		case sqlite3.SQLITE_READONLY, sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_PERM:
			return fmt.Errorf("data directory %s is read-only or not writable by this user: %w", s.dir, err)
		}
	}
	if errors.Is(err, syscall.ENOSPC) {
		return fmt.Errorf("data directory %s is full: %w", s.dir, err)
	}
	return fmt.Errorf("database in %s %s: %w", s.dir, what, err)
}

// dirError explains a failure of the file system on the data directory.
func dirError(dir, what string, err error) error {
	switch {
	case errors.Is(err, syscall.EROFS), errors.Is(err, syscall.EACCES), errors.Is(err, syscall.EPERM):
		return fmt.Errorf("data directory %s is read-only or not writable by this user (%s): %w", dir, what, err)
	case errors.Is(err, syscall.ENOSPC), errors.Is(err, syscall.EDQUOT):
		return fmt.Errorf("data directory %s is full (%s): %w", dir, what, err)
	}
	return fmt.Errorf("data directory %s %s: %w", dir, what, err)
}

// tsLayout is how times are stored: UTC, fixed width, so that text order
// is time order.
const tsLayout = "2006-01-02T15:04:05.000000000Z"

func ts(t time.Time) string { return t.UTC().Format(tsLayout) }

func parseTS(s string) time.Time {
	t, err := time.Parse(tsLayout, s)
	if err != nil {
		return time.Time{}
	}
	return t
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// limit maps the domain's "0: no limit" to SQLite's -1.
func limit(n int) int {
	if n <= 0 {
		return -1
	}
	return n
}

// placeholders returns "?, ?, ?" for n values.
func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}
