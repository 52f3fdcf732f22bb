package mongodb_test

import (
	"context"
	"testing"

	"github.com/convene/convene/service"
	"github.com/convene/convene/service/mongodb"
	"github.com/convene/convene/service/mongodb/mongodbtest"
	"github.com/convene/convene/service/storetest"
)

func TestMain(m *testing.M) { mongodbtest.Main(m) }

// TestStore runs the conformance suite on a fresh database per check: on
// MongoDB (MONGODB_URI) everything, on FerretDB all but the races, which
// FerretDB v1 cannot win (it does not re-check an update's filter when it
// writes).
func TestStore(t *testing.T) {
	probe := mongodbtest.Store(t)
	if probe.IsFerretDB() {
		t.Log("server: FerretDB (set MONGODB_URI to a MongoDB to run the concurrency checks too)")
	}
	storetest.Run(t, func(t *testing.T) service.Store { return mongodbtest.Store(t) }, storetest.Caps{
		Atomic: !probe.IsFerretDB(),
		Reopen: func(t *testing.T, s service.Store) service.Store {
			st := s.(*mongodb.Store)
			if err := st.Close(context.Background()); err != nil {
				t.Fatal(err)
			}
			// Creating indexes that exist already must succeed and keep
			// the data.
			again, err := mongodb.Open(context.Background(), mongodbtest.URI(), st.Database())
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = again.Close(context.Background()) })
			return again
		},
	})
}
