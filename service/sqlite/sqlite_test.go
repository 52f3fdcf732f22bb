package sqlite_test

import (
	"context"
	"testing"

	"github.com/convene/convene/service"
	"github.com/convene/convene/service/sqlite"
	"github.com/convene/convene/service/storetest"
)

func open(t *testing.T, dir string) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(context.Background(), dir)
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
