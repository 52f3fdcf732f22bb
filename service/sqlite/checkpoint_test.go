package sqlite_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/convene/convene/service"
	"github.com/convene/convene/service/sqlite"
)

// writeAudit appends batches of audit entries of about a kilobyte each:
// roughly 4 MiB of WAL in all.
func writeAudit(t *testing.T, s *sqlite.Store) int {
	t.Helper()
	n := 0
	for range 40 {
		var batch []service.AuditEntry
		for range 100 {
			batch = append(batch, service.AuditEntry{ID: service.NewID(), At: time.Now(), Actor: service.Actor{Subject: "bea"},
				Action: "discussion.read", Resource: "discussions/" + service.NewID(), Detail: map[string]any{"note": strings.Repeat("x", 900)}})
		}
		if err := s.AppendAudit(context.Background(), batch); err != nil {
			t.Fatal(err)
		}
		n += len(batch)
	}
	return n
}

// walSize is the size of the audit log's WAL, where writeAudit writes.
func walSize(t *testing.T, dir string) int64 {
	t.Helper()
	fi, err := os.Stat(filepath.Join(dir, "audit.db-wal"))
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

// TestWALFoldedInBackground: commits never checkpoint (a request would
// wait for the copy and its fsyncs); the store's checkpointer does, in the
// background, so the WAL file stays bounded under sustained writes and
// nothing written is lost.
func TestWALFoldedInBackground(t *testing.T) {
	const limit = 256 << 10
	t.Run("without the checkpointer the WAL only grows", func(t *testing.T) {
		dir := t.TempDir()
		s := open(t, dir, sqlite.CheckpointEvery(time.Hour), sqlite.WALLimit(limit))
		writeAudit(t, s)
		if size := walSize(t, dir); size < 4<<20 {
			t.Fatalf("the WAL is %d bytes after 4 MiB of writes with no checkpoints: a commit checkpointed", size)
		}
	})
	t.Run("the checkpointer folds it back", func(t *testing.T) {
		dir := t.TempDir()
		s := open(t, dir, sqlite.CheckpointEvery(10*time.Millisecond), sqlite.WALLimit(limit))
		n := writeAudit(t, s)
		// Once a pass has copied every frame, the next write starts the
		// WAL again and cuts it back to the limit.
		deadline := time.Now().Add(30 * time.Second)
		for walSize(t, dir) > limit {
			if time.Now().After(deadline) {
				t.Fatalf("the WAL is still %d bytes 30 s after the writes (limit %d)", walSize(t, dir), limit)
			}
			if err := s.Ping(context.Background()); err != nil {
				t.Fatal(err)
			}
			time.Sleep(20 * time.Millisecond) // poll interval, not synchronisation
		}
		got, err := s.Audit(context.Background(), service.AuditFilter{Actor: "bea", Limit: 10000})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != n {
			t.Fatalf("%d audit entries read back, %d written", len(got), n)
		}
	})
}
