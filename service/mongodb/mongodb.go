// Package mongodb implements service.Store on MongoDB through the official Go
// driver (go.mongodb.org/mongo-driver/v2), speaking the wire protocol to a
// real MongoDB or to FerretDB. With no URI configured it runs FerretDB's
// embeddable server in-process over SQLite, so one command runs Convene on a
// fresh machine and tests exercise the real driver and wire protocol.
//
// FerretDB has no multi-document transactions, so every write here is one
// single-document atomic operation; optimistic concurrency uses a version
// field in the filter of each replace.
package mongodb

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/FerretDB/FerretDB/ferretdb"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/convene/convene/service"
)

var _ service.Store = (*Store)(nil)

// Store is the service.Store on a MongoDB database.
type Store struct {
	client *mongo.Client
	db     *mongo.Database

	people, audit, discussions, idempotency, holds, outbox, queue, leases, inbound *mongo.Collection

	// ferret is set when the server is FerretDB. FerretDB v1 evaluates an
	// update's filter, then writes by _id alone, so two version-guarded
	// replaces racing on one document can both succeed. On FerretDB we
	// therefore serialise conditional writes per collection in this process;
	// the embedded server is single-process by construction. MongoDB applies
	// the filter and the write atomically and needs no lock.
	ferret bool
	locks  sync.Map // collection name → *sync.Mutex
}

// conditional serialises a filter-guarded write on coll when the server
// cannot make it atomic itself; call the returned func when done.
func (s *Store) conditional(coll *mongo.Collection) (unlock func()) {
	if !s.ferret {
		return func() {}
	}
	m, _ := s.locks.LoadOrStore(coll.Name(), new(sync.Mutex))
	m.(*sync.Mutex).Lock()
	return m.(*sync.Mutex).Unlock
}

// IsFerretDB reports whether the server is FerretDB rather than MongoDB.
func (s *Store) IsFerretDB() bool { return s.ferret }

// Open connects to uri, checks the server answers, and creates the indexes
// the store relies on (the unique email index among them).
func Open(ctx context.Context, uri, database string) (*Store, error) {
	client, err := mongo.Connect(options.Client().ApplyURI(uri).
		SetServerSelectionTimeout(10 * time.Second).
		SetTimeout(30 * time.Second).
		// Domain types carry JSON tags only; stored documents use the same
		// snake_case names as the API. Free-form details (audit entries)
		// decode as maps, not bson.D, so they encode to JSON objects.
		SetBSONOptions(&options.BSONOptions{UseJSONStructTags: true, DefaultDocumentM: true}))
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", redact(uri), err)
	}
	if err := client.Ping(ctx, nil); err != nil {
		_ = client.Disconnect(context.Background())
		return nil, fmt.Errorf("ping %s: %w", redact(uri), err)
	}
	db := client.Database(database)
	s := &Store{
		client:      client,
		db:          db,
		people:      db.Collection("people"),
		audit:       db.Collection("audit"),
		discussions: db.Collection("discussions"),
		idempotency: db.Collection("idempotency_keys"),
		holds:       db.Collection("holds"),
		outbox:      db.Collection("outbox"),
		queue:       db.Collection("outbox_queue"),
		leases:      db.Collection("leases"),
		inbound:     db.Collection("inbound"),
	}
	var info bson.M
	if err := db.RunCommand(ctx, bson.D{{Key: "buildInfo", Value: 1}}).Decode(&info); err != nil {
		_ = client.Disconnect(context.Background())
		return nil, fmt.Errorf("buildInfo: %w", err)
	}
	_, s.ferret = info["ferretdbVersion"]
	if err := s.ensureIndexes(ctx); err != nil {
		_ = client.Disconnect(context.Background())
		return nil, err
	}
	return s, nil
}

// Close disconnects from the server.
func (s *Store) Close(ctx context.Context) error { return s.client.Disconnect(ctx) }

// Ping reports whether the server answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.client.Ping(ctx, nil); err != nil {
		return &service.Error{Code: service.EUNAVAILABLE, Message: "the store is not reachable", Err: err}
	}
	return nil
}

func (s *Store) ensureIndexes(ctx context.Context) error {
	for coll, models := range map[*mongo.Collection][]mongo.IndexModel{
		s.people: {
			{Keys: bson.D{{Key: "email", Value: 1}}, Options: options.Index().SetUnique(true).SetName("email_unique")},
			{Keys: bson.D{{Key: "agency", Value: 1}, {Key: "_id", Value: 1}}, Options: options.Index().SetName("agency_id")},
		},
		s.audit: {
			{Keys: bson.D{{Key: "resource", Value: 1}, {Key: "_id", Value: -1}}, Options: options.Index().SetName("resource_id")},
			{Keys: bson.D{{Key: "actor.sub", Value: 1}, {Key: "_id", Value: -1}}, Options: options.Index().SetName("actor_id")},
		},
		s.discussions: {
			{Keys: bson.D{{Key: "uid", Value: 1}}, Options: options.Index().SetUnique(true).SetName("uid_unique")},
			{Keys: bson.D{{Key: "deadline", Value: 1}, {Key: "_id", Value: 1}}, Options: options.Index().SetName("deadline_id")},
			{Keys: bson.D{{Key: "status", Value: 1}, {Key: "deadline", Value: 1}}, Options: options.Index().SetName("status_deadline")},
			{Keys: bson.D{{Key: "x_participants", Value: 1}}, Options: options.Index().SetName("participants")},
			{Keys: bson.D{{Key: "x_chair", Value: 1}, {Key: "deadline", Value: 1}}, Options: options.Index().SetName("chair_deadline")},
		},
		s.holds: {
			{Keys: bson.D{{Key: "booking_id", Value: 1}}, Options: options.Index().SetName("booking")},
			{Keys: bson.D{{Key: "person", Value: 1}, {Key: "start", Value: 1}}, Options: options.Index().SetName("person_start")},
		},
		s.queue: {
			{Keys: bson.D{{Key: "next_attempt_at", Value: 1}}, Options: options.Index().SetName("due")},
		},
		s.inbound: {
			{Keys: bson.D{{Key: "discussion_id", Value: 1}, {Key: "_id", Value: -1}}, Options: options.Index().SetName("discussion")},
		},
	} {
		// One index per command: FerretDB v1.24 panics when a createIndexes
		// command lists several indexes that already exist (it deletes from
		// its to-do list by a stale position), which is every restart.
		for _, m := range models {
			if _, err := coll.Indexes().CreateOne(ctx, m); err != nil {
				return fmt.Errorf("create indexes on %s: %w", coll.Name(), err)
			}
		}
	}
	return nil
}

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
// unsupported endSessions is a warning); the store reports what matters.
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

// redact drops credentials from a connection string before it is logged.
func redact(uri string) string {
	u, err := url.Parse(uri)
	if err != nil {
		return "(unparseable MongoDB URI)"
	}
	u.User = nil
	return u.String()
}

// findAll runs a find and converts each stored document with conv.
func findAll[D, T any](ctx context.Context, coll *mongo.Collection, filter bson.D, opts *options.FindOptionsBuilder, conv func(*D) T, what string) ([]T, error) {
	cur, err := coll.Find(ctx, filter, opts)
	if err != nil {
		return nil, translate(err, what)
	}
	var docs []D
	if err := cur.All(ctx, &docs); err != nil {
		return nil, translate(err, what)
	}
	out := make([]T, len(docs))
	for i := range docs {
		out[i] = conv(&docs[i])
	}
	return out, nil
}

// translate turns driver errors into service errors at the boundary.
func translate(err error, what string) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, mongo.ErrNoDocuments):
		return service.Errorf(service.ENOTFOUND, "%s not found", what)
	case mongo.IsDuplicateKeyError(err), strings.Contains(err.Error(), "UNIQUE constraint failed"):
		// FerretDB's SQLite backend reports a unique-index violation on
		// update as an InternalError with SQLite's text, not E11000.
		return service.Errorf(service.ECONFLICT, "%s already exists", what)
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded), mongo.IsTimeout(err), mongo.IsNetworkError(err):
		return &service.Error{Code: service.EUNAVAILABLE, Message: "the store did not answer in time", Err: err}
	}
	return service.Internal(err, what)
}
