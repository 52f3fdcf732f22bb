// Package mongodbtest gives tests a real Mongo-wire store: MONGODB_URI when
// set, otherwise one embedded FerretDB per test binary. Each test gets a
// database of its own.
package mongodbtest

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"sync/atomic"
	"testing"

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
		e, err := mongodb.StartEmbedded(context.Background(), dir, "", slog.Default())
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
