// Package mongodbtest gives tests a real Mongo-wire store: MONGODB_URI when
// set, otherwise one FerretDB v1.24 per test binary, embedded in the test
// process on SQLite and reached over the wire. Each test gets a database of
// its own. Import it only from _test.go files: it is what keeps FerretDB
// out of the production binary.
package mongodbtest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/FerretDB/FerretDB/ferretdb"

	"github.com/convene/convene/service/mongodb"
)

var (
	uri string
	seq atomic.Int64
)

// Main starts the server for the package's tests; call it from TestMain.
// It exits the process with the tests' status, and fails loudly when the
// server cannot start.
func Main(m *testing.M) {
	os.Exit(func() int {
		uri = os.Getenv("MONGODB_URI")
		if uri != "" {
			return m.Run()
		}
		dir, err := os.MkdirTemp("", "convene-store-test-")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer os.RemoveAll(dir)
		e, err := StartEmbedded(context.Background(), dir, "", slog.Default())
		if err != nil {
			fmt.Fprintln(os.Stderr, "embedded FerretDB did not start:", err)
			return 1
		}
		defer e.Close()
		uri = e.URI
		return m.Run()
	}())
}

// Store opens a store on a fresh database, closed when the test ends.
func Store(t testing.TB) *mongodb.Store {
	t.Helper()
	if uri == "" {
		t.Fatal("mongodbtest.Main was not called from TestMain")
	}
	s, err := mongodb.Open(context.Background(), uri, fmt.Sprintf("test_%d_%d", os.Getpid(), seq.Add(1)))
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { _ = s.Close(context.Background()) })
	return s
}

// URI is the server's connection string.
func URI() string { return uri }

// Embedded is FerretDB running in this process, storing under a directory.
type Embedded struct {
	URI    string
	cancel context.CancelFunc
	done   chan struct{}
}

// StartEmbedded runs FerretDB in-process with its SQLite backend, data under
// dir, listening on addr (loopback only; port 0 picks a free port).
func StartEmbedded(ctx context.Context, dir, addr string, log *slog.Logger) (*Embedded, error) {
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create data directory: %w", err)
	}
	if log == nil {
		log = slog.Default()
	}
	f, err := ferretdb.New(&ferretdb.Config{
		Listener:  ferretdb.ListenerConfig{TCP: addr},
		Handler:   "sqlite",
		SQLiteURL: "file:" + dir + "/",
		Logger:    quiet(log),
	})
	if err != nil {
		return nil, fmt.Errorf("start embedded FerretDB: %w", err)
	}
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	e := &Embedded{URI: f.MongoDBURI(), cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(e.done)
		if err := f.Run(runCtx); err != nil && !errors.Is(err, context.Canceled) {
			log.Error("embedded FerretDB stopped", "err", err)
		}
	}()
	return e, nil
}

// Close stops the embedded server and waits for it to finish.
func (e *Embedded) Close() {
	e.cancel()
	<-e.done
}

// quiet passes on FerretDB's errors only: its info and warning logs are
// per-connection and per-failed-command noise (every duplicate key and every
// unsupported endSessions is a warning).
func quiet(log *slog.Logger) *slog.Logger {
	return slog.New(levelFilter{log.Handler(), slog.LevelError})
}

type levelFilter struct {
	slog.Handler
	min slog.Level
}

func (h levelFilter) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= h.min && h.Handler.Enabled(ctx, l)
}

func (h levelFilter) WithAttrs(a []slog.Attr) slog.Handler {
	return levelFilter{h.Handler.WithAttrs(a), h.min}
}

func (h levelFilter) WithGroup(n string) slog.Handler {
	return levelFilter{h.Handler.WithGroup(n), h.min}
}
