package service

import "context"

// What the external tests (package service_test) need of the package's
// insides. The group commit is tested there, not in an internal test,
// because it is tested against the real SQLite store and service/sqlite
// imports this package.

// GroupCommit is the audit log's group commit.
type GroupCommit = groupCommit

// MaxAuditBatch bounds one write of the group commit.
const MaxAuditBatch = maxAuditBatch

// Append is append.
func (g *groupCommit) Append(ctx context.Context, store Store, e AuditEntry) error {
	return g.append(ctx, store, e)
}

// Waiting is how many entries wait for the batch after the one being
// written.
func (g *groupCommit) Waiting() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.next == nil {
		return 0
	}
	return len(g.next.entries)
}
