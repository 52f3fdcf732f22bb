package service_test

// An instance shutting down gives back the leases of its background
// workers, so that another instance takes over the deadline watch and
// retention at once, instead of after the lease (two intervals) runs out.
// On both stores.

import (
	"context"
	"testing"
	"time"

	"github.com/convene/convene/service"
)

func TestStoppedWorkersGiveTheirLeasesBack(t *testing.T) {
	t.Parallel()
	// The leases the workers take in the store, by name: every instance
	// on the store takes the same ones.
	workers := []struct {
		name, lease string
		// run runs the worker as owner until ctx ends; ran reports
		// whether it has finished a pass (it held the lease).
		run func(ctx context.Context, app *service.App, owner string) (ran func() bool, done <-chan struct{})
	}{
		{"the deadline watch", "deadline-watch", func(ctx context.Context, app *service.App, owner string) (func() bool, <-chan struct{}) {
			done := make(chan struct{})
			go func() {
				defer close(done)
				app.RunWatch(ctx, owner, service.Watch{Interval: time.Hour})
			}()
			return func() bool { return app.Stats.LastRun.Load() != 0 }, done
		}},
		{"retention", "retention", func(ctx context.Context, app *service.App, owner string) (func() bool, <-chan struct{}) {
			w := &service.RetentionWorker{App: app, Owner: owner, Interval: time.Hour}
			done := make(chan struct{})
			go func() {
				defer close(done)
				w.Run(ctx)
			}()
			return func() bool { return w.Stats.LastRun.Load() != 0 }, done
		}},
	}
	for _, st := range stores {
		for _, wk := range workers {
			t.Run(st.name+"/"+wk.name, func(t *testing.T) {
				t.Parallel()
				store := st.open(t)
				e := newEnv(t, store)
				// The clock stands still: the lease, taken for two hours,
				// cannot lapse while the test runs.
				now := e.now
				e.app.Now = func() time.Time { return now }
				e.convene(t, true) // something for the watch to look at

				ctx, shutdown := context.WithCancel(context.Background())
				defer shutdown()
				ran, done := wk.run(ctx, e.app, "instance-a")
				deadline := time.Now().Add(30 * time.Second)
				for !ran() { // no event says a pass is over: polled, with a deadline
					if time.Now().After(deadline) {
						shutdown()
						<-done
						t.Fatalf("%s made no pass within 30s", wk.name)
					}
					time.Sleep(20 * time.Millisecond)
				}
				// While it runs, another instance cannot take its lease.
				if ok, err := store.AcquireLease(context.Background(), wk.lease, "instance-b", now, time.Hour); err != nil || ok {
					t.Fatalf("instance-b took the %s lease while instance-a held it (%v, %v)", wk.lease, ok, err)
				}

				// Instance A shuts down (its context cancelled, as on
				// SIGTERM): once the worker has returned, B takes the
				// lease at the same moment, long before it would lapse.
				shutdown()
				select {
				case <-done:
				case <-time.After(30 * time.Second):
					t.Fatalf("%s did not return within 30s of its context ending", wk.name)
				}
				ok, err := store.AcquireLease(context.Background(), wk.lease, "instance-b", now, time.Hour)
				if err != nil || !ok {
					t.Errorf("after instance-a stopped, instance-b could not take the %s lease (%v, %v): it was not given back", wk.lease, ok, err)
				}
			})
		}
	}
}
