package service

import "context"

// Store is the persistence the domain needs. Every method is a
// single-document atomic operation: no method relies on multi-document
// transactions, so the same code runs on FerretDB, a MongoDB replica set or a
// sharded cluster.
//
// Updates take the version the caller read; a stale version gets ECONFLICT,
// never a silent overwrite. Missing documents give ENOTFOUND; unique-key
// violations give ECONFLICT.
type Store interface {
	// Ping reports whether the store answers.
	Ping(ctx context.Context) error

	CreatePerson(ctx context.Context, p *Person) error
	Person(ctx context.Context, id string) (*Person, error)
	PersonByEmail(ctx context.Context, email string) (*Person, error)
	People(ctx context.Context, f PersonFilter) ([]Person, error)
	// UpdatePerson replaces p if its stored version is p.Version, and
	// increments p.Version.
	UpdatePerson(ctx context.Context, p *Person) error

	AppendAudit(ctx context.Context, e *AuditEntry) error
	Audit(ctx context.Context, f AuditFilter) ([]AuditEntry, error)
}
