package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"time"
)

// Backup writes a consistent snapshot of the database in the data directory
// dir to the file dest (which must not exist), while a Convene process may
// be running on dir and writing.
//
// It takes no lock on the data directory: the running service holds that.
// It opens its own read-only connection to the live database and runs
// VACUUM INTO, which reads in one transaction: in WAL mode that is a
// snapshot of the last committed state, taken without blocking the writer
// (https://sqlite.org/lang_vacuum.html#vacuuminto). The snapshot is written
// beside dest and renamed into place once complete, so a half-written
// backup never carries dest's name. Backup and service must be on the same
// machine (WAL readers share the -shm memory map), as they are when the
// backup is taken with `convene backup` in the service's container or pod.
func Backup(ctx context.Context, dir, dest string) error {
	path := filepath.Join(dir, dbFile)
	if _, err := os.Stat(path); err != nil {
		return fmt.Errorf("no Convene database in %s: %w", dir, err)
	}
	dest, err := filepath.Abs(dest)
	if err != nil {
		return err
	}
	if _, err := os.Stat(dest); err == nil {
		return fmt.Errorf("backup %s already exists: choose a new file", dest)
	}
	q := url.Values{}
	q.Add("mode", "ro")
	q.Add("_pragma", "busy_timeout(10000)")
	db, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	tmp := dest + ".partial"
	_ = os.Remove(tmp)
	defer os.Remove(tmp)
	if _, err := db.ExecContext(ctx, "VACUUM INTO ?", tmp); err != nil {
		return fmt.Errorf("backup of %s: %w", path, err)
	}
	if err := os.Chmod(tmp, 0o600); err != nil {
		return err
	}
	if err := backupAudit(ctx, filepath.Join(dir, auditFile), tmp); err != nil {
		return fmt.Errorf("backup of %s: %w", filepath.Join(dir, auditFile), err)
	}
	if err := check(ctx, tmp); err != nil {
		return fmt.Errorf("backup of %s failed its check: %w", path, err)
	}
	if err := syncFile(tmp); err != nil {
		return err
	}
	return os.Rename(tmp, dest)
}

// backupAudit copies the audit log of the live audit.db into the backup
// file, as an audit table: a backup is one file. The copy is one read
// transaction of audit.db, a snapshot taken without blocking its writer.
// On restore, opening the store moves the table into a new audit.db
// (moveAudit). A data directory from before audit.db has none; its log
// is in the backup already, copied with convene.db.
func backupAudit(ctx context.Context, live, backup string) error {
	if _, err := os.Stat(live); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	db, err := sql.Open("sqlite", "file:"+backup)
	if err != nil {
		return err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	q := url.Values{}
	q.Add("mode", "ro")
	if _, err := db.ExecContext(ctx, "ATTACH DATABASE ? AS live", "file:"+live+"?"+q.Encode()); err != nil {
		return err
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }()
	if _, err := tx.ExecContext(ctx, `CREATE TABLE main.audit (
	id       TEXT PRIMARY KEY,
	at       TEXT NOT NULL,
	actor    TEXT NOT NULL,
	resource TEXT NOT NULL,
	entry    TEXT NOT NULL
);
INSERT INTO main.audit (id, at, actor, resource, entry) SELECT id, at, actor, resource, entry FROM live.audit;`); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	_, err = db.ExecContext(ctx, "DETACH DATABASE live")
	return err
}

// Restore puts the backup src in place as the database of the data
// directory dir. It takes the directory's lock first, so it refuses while
// a Convene process runs on dir. A directory that already holds a database
// is refused unless replace is set; the database replaced is kept beside
// it as convene.db.replaced-<time>, never deleted.
func Restore(ctx context.Context, src, dir string, replace bool) error {
	if err := check(ctx, src); err != nil {
		return fmt.Errorf("%s is not a Convene backup this version can restore: %w", src, err)
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return dirError(dir, "cannot be created", err)
	}
	lock, err := lockDir(dir)
	if err != nil {
		return fmt.Errorf("restore refused: %w", err)
	}
	defer lock.Close()
	path := filepath.Join(dir, dbFile)
	if fi, err := os.Stat(path); err == nil && fi.Size() > 0 && !replace {
		return fmt.Errorf("data directory %s already holds a database: restore into a fresh directory, or pass --replace (the current one is kept beside it)", dir)
	}
	// The database replaced, and its audit log (the backup carries its
	// own), are kept beside the restored one.
	suffix := ".replaced-" + time.Now().UTC().Format("20060102T150405Z")
	for _, name := range []string{dbFile, auditFile} {
		p := filepath.Join(dir, name)
		if fi, err := os.Stat(p); err == nil && fi.Size() > 0 {
			if err := os.Rename(p, p+suffix); err != nil {
				return err
			}
		}
		// The old WAL and shared-memory files belong to the database
		// replaced: left in place, SQLite would replay them into the
		// restored one.
		for _, ext := range []string{"-wal", "-shm"} {
			if err := os.Remove(p + ext); err != nil && !errors.Is(err, os.ErrNotExist) {
				return err
			}
		}
	}
	tmp := path + ".restoring"
	if err := copyFile(src, tmp); err != nil {
		_ = os.Remove(tmp)
		return err
	}
	return os.Rename(tmp, path)
}

// check opens the database file read-only and verifies it is whole and a
// schema this version knows.
func check(ctx context.Context, file string) error {
	if _, err := os.Stat(file); err != nil {
		return err
	}
	db, err := sql.Open("sqlite", "file:"+file+"?mode=ro")
	if err != nil {
		return err
	}
	defer db.Close()
	var result string
	if err := db.QueryRowContext(ctx, "PRAGMA quick_check").Scan(&result); err != nil {
		return err
	}
	if result != "ok" {
		return fmt.Errorf("integrity check: %s", result)
	}
	var version int
	if err := db.QueryRowContext(ctx, "PRAGMA user_version").Scan(&version); err != nil {
		return err
	}
	if version == 0 || version > len(migrations) {
		return fmt.Errorf("schema version %d (this Convene knows 1 to %d)", version, len(migrations))
	}
	return nil
}

func copyFile(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	if err := out.Sync(); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

func syncFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}
