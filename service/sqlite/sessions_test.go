package sqlite_test

import (
	"testing"

	"github.com/convene/convene/service"
	"github.com/convene/convene/service/storetest"
)

// TestSessions runs the web sessions' conformance checks.
func TestSessions(t *testing.T) {
	storetest.RunSessions(t, func(t *testing.T) service.Store { return open(t, t.TempDir()) })
}
