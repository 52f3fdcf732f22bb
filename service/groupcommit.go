package service

import (
	"context"
	"sync"
)

// groupCommit writes audit entries in batches: every request that audits
// while a batch is being written joins the next one, and waits for it to be
// written. Auditing every read then costs one write per batch, not per
// read, and no request returns before its entry is stored.
type groupCommit struct {
	mu      sync.Mutex
	writing bool
	next    *auditBatch
}

type auditBatch struct {
	entries []AuditEntry
	done    chan struct{}
	err     error
}

// maxAuditBatch bounds one write.
const maxAuditBatch = 500

// append stores e, in a batch with whatever else is waiting.
func (g *groupCommit) append(ctx context.Context, store Store, e AuditEntry) error {
	g.mu.Lock()
	if g.next == nil || len(g.next.entries) >= maxAuditBatch {
		if g.next != nil && g.writing {
			// The batch is full and a writer will take it; wait for a
			// place in the one after.
			full := g.next
			g.mu.Unlock()
			<-full.done
			return g.append(ctx, store, e)
		}
		if g.next == nil {
			g.next = &auditBatch{done: make(chan struct{})}
		}
	}
	b := g.next
	b.entries = append(b.entries, e)
	if g.writing {
		g.mu.Unlock()
		select {
		case <-b.done:
			return b.err
		case <-ctx.Done():
			// The entry is still written with its batch; the caller
			// just stops waiting.
			return ctx.Err()
		}
	}
	g.writing = true
	g.next = nil
	g.mu.Unlock()
	g.write(store, b)
	go g.drain(store)
	return b.err
}

// drain writes the batches that gathered while one was written.
func (g *groupCommit) drain(store Store) {
	for {
		g.mu.Lock()
		b := g.next
		if b == nil {
			g.writing = false
			g.mu.Unlock()
			return
		}
		g.next = nil
		g.mu.Unlock()
		g.write(store, b)
	}
}

func (g *groupCommit) write(store Store, b *auditBatch) {
	b.err = store.AppendAudit(context.Background(), b.entries)
	close(b.done)
}
