package service_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/convene/convene/service"
	"github.com/convene/convene/service/sqlite"
)

// The audit log's group commit (groupcommit.go) on the real SQLite store:
// entries appended while a batch is being written go together in the next
// write, nobody returns before their entry is stored, a failed write fails
// everyone in its batch, and a caller who stops waiting still has its entry
// written. (It is tested from outside the package, through export_test.go,
// because service/sqlite imports service.)

// heldAudit is a real SQLite store whose audit writes are counted, the
// first of them held back until the test lets it go, so that appends
// gather while a batch is being written.
type heldAudit struct {
	service.Store
	started chan struct{} // closed when the first write starts
	release chan struct{} // the first write goes ahead once this is closed
	letGo   func()

	mu    sync.Mutex
	sizes []int // entries per write, in order
}

func newHeldAudit(t *testing.T) *heldAudit {
	t.Helper()
	s, err := sqlite.Open(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	h := &heldAudit{Store: s, started: make(chan struct{}), release: make(chan struct{})}
	h.letGo = sync.OnceFunc(func() { close(h.release) })
	// A test that stops early must not leave the write held.
	t.Cleanup(h.letGo)
	return h
}

func (h *heldAudit) AppendAudit(ctx context.Context, entries []service.AuditEntry) error {
	h.mu.Lock()
	first := len(h.sizes) == 0
	h.sizes = append(h.sizes, len(entries))
	h.mu.Unlock()
	if first {
		close(h.started)
		<-h.release
	}
	return h.Store.AppendAudit(ctx, entries)
}

// writes are the sizes of the audit writes so far.
func (h *heldAudit) writes() []int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.sizes)
}

// stored reports whether the entry is in the store.
func stored(s service.Store, e service.AuditEntry) (bool, error) {
	got, err := s.Audit(context.Background(), service.AuditFilter{Resource: e.Resource, Limit: 10})
	return slices.ContainsFunc(got, func(g service.AuditEntry) bool { return g.ID == e.ID }), err
}

// readAudited is the i'th entry of a test: someone read someone's record.
func readAudited(i int) service.AuditEntry {
	return service.AuditEntry{ID: fmt.Sprintf("e%05d", i), At: time.Now().UTC(), Actor: service.Actor{Subject: "ada"},
		Action: "person.read", Resource: fmt.Sprintf("people/p%05d", i)}
}

// appended is what an append returned, and whether its entry was in the
// store when it did.
type appended struct {
	e      service.AuditEntry
	err    error
	stored bool
	check  error
}

// appendAll appends each entry from a goroutine of its own, and sends what
// each returned on the channel.
func appendAll(ctx context.Context, g *service.GroupCommit, s service.Store, entries []service.AuditEntry, out chan<- appended) {
	for _, e := range entries {
		go func() {
			err := g.Append(ctx, s, e)
			r := appended{e: e, err: err}
			if err == nil {
				r.stored, r.check = stored(s, e)
			}
			out <- r
		}()
	}
}

// waitInLine waits until n entries wait for the batch after the one being
// written. Joining a batch is no event anyone can wait for, so this polls,
// with a deadline.
// appendDuringAWrite appends one entry, and once the store has begun
// writing it (held until letGo), n more; the n+1 results come on the
// channel returned.
func appendDuringAWrite(ctx context.Context, g *service.GroupCommit, store *heldAudit, n int) chan appended {
	results := make(chan appended, n+1)
	appendAll(ctx, g, store, []service.AuditEntry{readAudited(0)}, results)
	<-store.started
	during := make([]service.AuditEntry, 0, n)
	for i := 1; i <= n; i++ {
		during = append(during, readAudited(i))
	}
	appendAll(ctx, g, store, during, results)
	return results
}

func waitInLine(t *testing.T, g *service.GroupCommit, n int) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for g.Waiting() < n {
		if time.Now().After(deadline) {
			t.Fatalf("after 20s %d of %d appends wait for the next batch", g.Waiting(), n)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestGroupCommitWritesWhatGathersDuringAWriteTogether(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store := newHeldAudit(t)
	var g service.GroupCommit
	const n = 200
	results := appendDuringAWrite(ctx, &g, store, n)
	waitInLine(t, &g, n)
	store.letGo()

	for range n + 1 {
		r := <-results
		switch {
		case r.err != nil:
			t.Errorf("append %s: %v", r.e.ID, r.err)
		case r.check != nil:
			t.Errorf("reading %s back: %v", r.e.ID, r.check)
		case !r.stored:
			t.Errorf("append %s returned before its entry was stored", r.e.ID)
		}
	}
	// The write that was under way, then everything that gathered
	// meanwhile, in batches of at most MaxAuditBatch.
	want := []int{1}
	for left := n; left > 0; left -= service.MaxAuditBatch {
		want = append(want, min(left, service.MaxAuditBatch))
	}
	if diff := cmp.Diff(want, store.writes()); diff != "" {
		t.Errorf("entries per store write, for %d entries (-want +got):\n%s", n+1, diff)
	}
}

func TestGroupCommitBoundsEachWrite(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store := newHeldAudit(t)
	var g service.GroupCommit
	n := 2*service.MaxAuditBatch + 100
	results := appendDuringAWrite(ctx, &g, store, n)
	// The next batch fills; the rest wait for a place in a later one.
	waitInLine(t, &g, service.MaxAuditBatch)
	store.letGo()

	for range n + 1 {
		if r := <-results; r.err != nil || r.check != nil || !r.stored {
			t.Errorf("append %s: %v, read back: %v, stored at return: %v", r.e.ID, r.err, r.check, r.stored)
		}
	}
	total := 0
	for _, size := range store.writes() {
		total += size
		if size > service.MaxAuditBatch {
			t.Errorf("a write of %d entries, more than %d", size, service.MaxAuditBatch)
		}
	}
	if total != n+1 {
		t.Errorf("%d entries written, want %d", total, n+1)
	}
}

func TestGroupCommitStoreErrorReachesEveryoneInTheBatch(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store := newHeldAudit(t)
	// An entry already written: a write of its id again is refused whole by
	// the store (entries are append-only, writes all or none).
	earlier := readAudited(0)
	if err := store.Store.AppendAudit(ctx, []service.AuditEntry{earlier}); err != nil {
		t.Fatal(err)
	}
	var g service.GroupCommit
	results := make(chan appended, 1)
	ok := readAudited(1)
	appendAll(ctx, &g, store, []service.AuditEntry{ok}, results)
	<-store.started

	var batch []service.AuditEntry
	for i := 2; i < 22; i++ {
		batch = append(batch, readAudited(i))
	}
	again := earlier
	again.Resource = "people/tampered"
	batch = append(batch, again)
	failed := make(chan appended, len(batch))
	appendAll(ctx, &g, store, batch, failed)
	waitInLine(t, &g, len(batch))
	store.letGo()

	if r := <-results; r.err != nil || !r.stored {
		t.Errorf("the write under way: %v (stored %v)", r.err, r.stored)
	}
	var first error
	for range batch {
		r := <-failed
		if first == nil {
			first = r.err
		}
		switch {
		case r.err == nil:
			t.Errorf("append %s in the refused batch returned no error", r.e.ID)
		case service.ErrorCode(r.err) != service.ECONFLICT || !errors.Is(r.err, first):
			t.Errorf("append %s: %v, want the store's conflict %v", r.e.ID, r.err, first)
		}
		if r.e.ID == earlier.ID {
			continue
		}
		if in, err := stored(store.Store, r.e); err != nil || in {
			t.Errorf("entry %s of the refused batch is stored (%v)", r.e.ID, err)
		}
	}
	// The log carries on after a failed write.
	after := readAudited(99)
	if err := g.Append(ctx, store, after); err != nil {
		t.Fatalf("an append after the failed batch: %v", err)
	}
	if in, err := stored(store.Store, after); err != nil || !in {
		t.Errorf("the entry appended after the failed batch is not stored (%v)", err)
	}
}

func TestGroupCommitCallerWhoStopsWaitingStillHasItsEntryWritten(t *testing.T) {
	t.Parallel()
	store := newHeldAudit(t)
	var g service.GroupCommit
	first := make(chan appended, 1)
	appendAll(context.Background(), &g, store, []service.AuditEntry{readAudited(0)}, first)
	<-store.started

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	impatient := readAudited(1)
	returned := make(chan error, 1)
	go func() { returned <- g.Append(ctx, store, impatient) }()
	waitInLine(t, &g, 1)
	cancel() // the request went away
	select {
	case err := <-returned:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("append whose context ended: %v, want %v", err, context.Canceled)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("an append whose context ended still waits 20s on")
	}
	// It stopped waiting: its batch cannot have been written, since the
	// write before it is still held.
	if in, err := stored(store.Store, impatient); err != nil || in {
		t.Errorf("stored before the write ahead of it finished (%v)", err)
	}
	store.letGo()
	if r := <-first; r.err != nil {
		t.Fatal(r.err)
	}
	// Batches are written one after another, so once a later append
	// returns, the batch the impatient caller left has been written.
	if err := g.Append(context.Background(), store, readAudited(2)); err != nil {
		t.Fatal(err)
	}
	if in, err := stored(store.Store, impatient); err != nil || !in {
		t.Errorf("the entry of a caller who stopped waiting was not written (%v)", err)
	}
}
