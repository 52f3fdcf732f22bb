package sqlite_test

import (
	"bufio"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/convene/convene/service"
	"github.com/convene/convene/service/sqlite"
	"github.com/convene/convene/service/storetest"
)

func open(t *testing.T, dir string, opts ...sqlite.Option) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(context.Background(), dir, opts...)
	if err != nil {
		t.Fatalf("open store in %s: %v", dir, err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// TestStore runs the conformance suite on a fresh database per check.
func TestStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) service.Store { return open(t, t.TempDir()) }, storetest.Caps{
		// Writes are serialised on one connection and every guard is in
		// the SQL that writes.
		Atomic: true,
		Reopen: func(t *testing.T, s service.Store) service.Store {
			st := s.(*sqlite.Store)
			if err := st.Close(); err != nil {
				t.Fatal(err)
			}
			return open(t, st.Dir())
		},
	})
}

// TestSecondProcessRefused starts a second process of this test binary on
// the data directory and checks that opening it here is refused, naming
// that process, until it exits.
func TestSecondProcessRefused(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), sqlite.HoldEnv+"="+dir)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || line != "ready\n" {
		t.Fatalf("helper process: %q %v", line, err)
	}

	_, err = sqlite.Open(context.Background(), dir)
	want := fmt.Sprintf("data directory %s is in use by another Convene process (pid %d)", dir, cmd.Process.Pid)
	if err == nil || !strings.Contains(err.Error(), want) || !errors.Is(err, sqlite.ErrLocked) {
		t.Fatalf("open beside another process: %v, want %q", err, want)
	}

	// Once it has gone, the directory is free.
	_ = stdin.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("helper process: %v", err)
	}
	open(t, dir)
}

func TestSecondOpenInProcessRefused(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := open(t, dir)
	_, err := sqlite.Open(context.Background(), dir)
	if want := fmt.Sprintf("is in use by another Convene process (pid %d)", os.Getpid()); err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("second open: %v, want %q", err, want)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	open(t, dir)
}

func TestFilesArePrivate(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "data")
	// A directory that exists already, readable by all, is made private.
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	s := open(t, dir)
	if err := s.Ping(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		want os.FileMode
	}{
		{".", 0o700 | os.ModeDir},
		{"convene.db", 0o600},
		{"convene.db-wal", 0o600},
		{"convene.db-shm", 0o600},
		{"audit.db", 0o600},
		{"audit.db-wal", 0o600},
		{"audit.db-shm", 0o600},
		{"convene.lock", 0o600},
	} {
		t.Run(tt.name, func(t *testing.T) {
			fi, err := os.Stat(filepath.Join(dir, tt.name))
			if err != nil {
				t.Fatal(err)
			}
			if got := fi.Mode(); got != tt.want {
				t.Errorf("mode %v, want %v", got, tt.want)
			}
		})
	}
}

// readOnly makes dir unwritable until the test ends: by its mode, or for
// root (whom modes do not stop) by the file system's immutable flag.
func readOnly(t *testing.T, dir string) {
	t.Helper()
	if os.Geteuid() == 0 {
		immutable(t, dir)
		return
	}
	if err := os.Chmod(dir, 0o500); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.Chmod(dir, 0o700) })
}

func TestReadOnlyDirectory(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name   string
		before func(t *testing.T, dir string)
	}{
		{"empty", func(*testing.T, string) {}},
		{"with a database", func(t *testing.T, dir string) {
			s := open(t, dir)
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "data")
			if err := os.Mkdir(dir, 0o700); err != nil {
				t.Fatal(err)
			}
			tt.before(t, dir)
			readOnly(t, dir)
			s, err := sqlite.Open(context.Background(), dir)
			if err == nil {
				s.Close()
				t.Fatal("opened a read-only data directory")
			}
			if want := "data directory " + dir + " is read-only or not writable by this user"; !strings.Contains(err.Error(), want) {
				t.Errorf("error %q, want it to say %q", err, want)
			}
		})
	}
}

func TestFullDirectory(t *testing.T) {
	t.Parallel()
	t.Run("at open", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		_, err := sqlite.Open(context.Background(), dir, sqlite.MaxSize(16<<10))
		if want := "data directory " + dir + " is full"; err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("open: %v, want %q", err, want)
		}
	})
	t.Run("when writing", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		s := open(t, dir, sqlite.MaxSize(512<<10))
		var err error
		for i := 0; err == nil && i < 10000; i++ {
			err = s.AppendAudit(context.Background(), []service.AuditEntry{{ID: fmt.Sprintf("a%05d", i), Resource: "people/p1",
				Action: strings.Repeat("x", 1000), At: time.Now()}})
		}
		if got, want := service.ErrorCode(err), service.EUNAVAILABLE; got != want {
			t.Fatalf("writing past the limit: %q (%v), want %q", got, err, want)
		}
		if want := "data directory " + dir + " is full"; !strings.Contains(err.Error(), want) || service.ErrorMessage(err) != "the data directory is full" {
			t.Errorf("error %q (message %q), want it to say %q", err, service.ErrorMessage(err), want)
		}
	})
}

func TestSchemaVersion(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	latest := len(sqlite.Migrations)
	s := open(t, t.TempDir())
	if v, err := s.SchemaVersion(ctx); err != nil || v != latest {
		t.Fatalf("schema version %d %v, want %d", v, err, latest)
	}

	// A database made by the first Convene (schema version 1, before the
	// venues) is brought up to date on open, every later migration in turn.
	dir := t.TempDir()
	db, err := sql.Open("sqlite", filepath.Join(dir, "convene.db"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(sqlite.Migrations[0] + "; PRAGMA user_version = 1"); err != nil {
		t.Fatal(err)
	}
	// Its audit log was a table of convene.db.
	for i, at := range []string{"2026-01-05T09:00:00Z", "2026-01-05T09:01:00Z"} {
		if _, err := db.Exec(`INSERT INTO audit (id, at, actor, resource, entry) VALUES (?, ?, 'bea', 'discussions/d1', ?)`,
			fmt.Sprintf("a%d", i), at, fmt.Sprintf(`{"id":"a%d","at":%q,"actor":{"sub":"bea"},"action":"discussion.read","resource":"discussions/d1"}`, i, at)); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()
	s = open(t, dir)
	if v, err := s.SchemaVersion(ctx); err != nil || v != latest {
		t.Fatalf("after upgrade: schema version %d %v, want %d", v, err, latest)
	}
	if _, err := s.Venues(ctx, true); err != nil {
		t.Fatalf("the upgrade did not add venues: %v", err)
	}
	// The audit log moved to audit.db, every entry, and out of convene.db.
	entries, err := s.Audit(ctx, service.AuditFilter{Resource: "discussions/d1"})
	if err != nil || len(entries) != 2 || entries[0].ID != "a1" || entries[1].ID != "a0" || entries[0].Actor.Subject != "bea" {
		t.Fatalf("the audit log after the upgrade: %+v %v, want a1 and a0 by bea", entries, err)
	}
	if db, err = sql.Open("sqlite", "file:"+filepath.Join(dir, "convene.db")+"?mode=ro"); err != nil {
		t.Fatal(err)
	}
	var tables int
	if err := db.QueryRow(`SELECT count(*) FROM sqlite_schema WHERE name LIKE 'audit%'`).Scan(&tables); err != nil || tables != 0 {
		t.Errorf("convene.db still has %d audit tables or indexes (%v)", tables, err)
	}
	db.Close()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	// A database from a newer Convene is left alone.
	if db, err = sql.Open("sqlite", filepath.Join(dir, "convene.db")); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec("PRAGMA user_version = 99"); err != nil {
		t.Fatal(err)
	}
	db.Close()
	_, err = sqlite.Open(ctx, dir)
	if want := fmt.Sprintf("the database schema is version 99, newer than this Convene knows (%d)", latest); err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("open a newer database: %v, want %q", err, want)
	}
}
