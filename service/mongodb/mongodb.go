// Package mongodb implements service.Store on MongoDB through the official Go
// driver (go.mongodb.org/mongo-driver/v2): the scale-out engine, for several
// Convene instances sharing one database.
//
// Every change is single-document atomic: a discussion is one document, and
// a DiscussionPatch is one update of it whose filter carries the patch's
// guards (the version, each written element's key and revision, the absence
// of each appended key), so a stale change matches nothing and is refused.
// There are no multi-document transactions and no locks in the process;
// where a change spans documents (a discussion and its timeline events, a
// batch of holds or audit entries) the doc comment says what happens when it
// is cut short.
//
// The tests run on a real MongoDB when MONGODB_URI is set, and otherwise on
// FerretDB v1.24 over the wire (service/mongodb/mongodbtest). Everything here
// is written in the subset of the query language both accept; where FerretDB
// differs, the code says so.
package mongodb

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

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

	people, audit, discussions, events, idempotency, holds, outbox, leases, inbound, health, venues *mongo.Collection

	// ferret is set when the server is FerretDB, which lacks a few things
	// MongoDB has (see the callers).
	ferret bool
}

// IsFerretDB reports whether the server is FerretDB rather than MongoDB.
// FerretDB v1 evaluates an update's filter, then writes by _id: two guarded
// updates racing on one document can both succeed there.
func (s *Store) IsFerretDB() bool { return s.ferret }

// Open connects to uri, checks the server answers, and creates the indexes
// the store relies on (the unique ones among them).
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
		events:      db.Collection("discussion_events"),
		idempotency: db.Collection("idempotency_keys"),
		holds:       db.Collection("holds"),
		outbox:      db.Collection("outbox"),
		leases:      db.Collection("leases"),
		inbound:     db.Collection("inbound"),
		health:      db.Collection("health"),
		venues:      db.Collection("venues"),
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

// Database returns the name of the store's database.
func (s *Store) Database() string { return s.db.Name() }

// Close disconnects from the server.
func (s *Store) Close(ctx context.Context) error { return s.client.Disconnect(ctx) }

// Ping reports whether the server answers and takes a write.
func (s *Store) Ping(ctx context.Context) error {
	_, err := s.health.UpdateOne(ctx, bson.D{{Key: "_id", Value: "ping"}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "at", Value: time.Now()}}}}, options.UpdateOne().SetUpsert(true))
	if err != nil {
		return &service.Error{Code: service.EUNAVAILABLE, Message: "the store is not reachable or not writable", Err: err}
	}
	return nil
}

// index names an index on the keys, "-" before a key for descending.
func index(name string, unique bool, keys ...string) mongo.IndexModel {
	var d bson.D
	for _, k := range keys {
		if field, desc := strings.CutPrefix(k, "-"); desc {
			d = append(d, bson.E{Key: field, Value: -1})
		} else {
			d = append(d, bson.E{Key: k, Value: 1})
		}
	}
	o := options.Index().SetName(name)
	if unique {
		o.SetUnique(true)
	}
	return mongo.IndexModel{Keys: d, Options: o}
}

func (s *Store) ensureIndexes(ctx context.Context) error {
	for _, ci := range []struct {
		coll   *mongo.Collection
		models []mongo.IndexModel
	}{
		{s.people, []mongo.IndexModel{
			index("email_unique", true, "email"),
			index("agency_id", false, "agency", "_id"),
		}},
		{s.audit, []mongo.IndexModel{
			index("resource_id", false, "resource", "-_id"),
			index("actor_id", false, "actor.sub", "-_id"),
		}},
		{s.discussions, []mongo.IndexModel{
			index("uid_unique", true, "uid"),
			index("deadline_id", false, "deadline", "_id"),
			index("status_deadline_id", false, "status", "deadline", "_id"),
			index("case_deadline_id", false, "case_reference", "deadline", "_id"),
			index("participants_deadline_id", false, "x_participants", "deadline", "_id"),
			index("agencies_deadline_id", false, "x_agencies", "deadline", "_id"),
			index("chair_deadline_id", false, "x_chair", "deadline", "_id"),
			index("pending_id", false, "x_pending", "_id"),
		}},
		{s.events, []mongo.IndexModel{
			index("discussion_seq_unique", true, "discussion_id", "seq"),
		}},
		{s.holds, []mongo.IndexModel{
			index("booking_person", false, "booking_id", "person"),
			index("person_start", false, "person", "start"),
			index("start", false, "start"),
		}},
		{s.outbox, []mongo.IndexModel{
			index("queue", false, "state", "next_attempt_at"),
			index("state_created", false, "state", "created_at"),
		}},
		{s.inbound, []mongo.IndexModel{
			index("discussion_id", false, "discussion_id", "-_id"),
		}},
		{s.notices(), noticeIndexes()},
		{s.discussions, []mongo.IndexModel{index("raised_due", false, "head.raised_due")}},
		{s.discussions, []mongo.IndexModel{index("follow_on_breach_deadline_id", false, "head.follow_on_breach", "deadline", "_id")}},
		// One person's discussions of some statuses (an agency
		// representative's open invitations), a range per status merged in
		// deadline order, not a walk of all their years.
		{s.discussions, []mongo.IndexModel{index("participants_status_deadline_id", false, "x_participants", "status", "deadline", "_id")}},
	} {
		// One index per command: FerretDB v1.24 panics when a createIndexes
		// command lists several indexes that already exist (it deletes from
		// its to-do list by a stale position), which is every restart.
		for _, m := range ci.models {
			if _, err := ci.coll.Indexes().CreateOne(ctx, m); err != nil {
				return fmt.Errorf("create indexes on %s: %w", ci.coll.Name(), err)
			}
		}
	}
	return nil
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

// isDuplicate reports a unique index violation.
func isDuplicate(err error) bool {
	// FerretDB's SQLite backend reports a unique-index violation on
	// update as an InternalError with SQLite's text, not E11000.
	return err != nil && (mongo.IsDuplicateKeyError(err) || strings.Contains(err.Error(), "UNIQUE constraint failed"))
}

// translate turns driver errors into service errors at the boundary; a
// *service.Error passes through.
func translate(err error, what string) error {
	var se *service.Error
	switch {
	case err == nil:
		return nil
	case errors.As(err, &se):
		return err
	case errors.Is(err, mongo.ErrNoDocuments):
		return service.Errorf(service.ENOTFOUND, "%s not found", what)
	case isDuplicate(err):
		return &service.Error{Code: service.ECONFLICT, Message: what + " already exists", Err: err}
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded), mongo.IsTimeout(err), mongo.IsNetworkError(err):
		return &service.Error{Code: service.EUNAVAILABLE, Message: "the store did not answer in time", Err: err}
	}
	return service.Internal(err, what)
}

// exists reports whether coll has a document with the id.
func exists(ctx context.Context, coll *mongo.Collection, id string) (bool, error) {
	n, err := coll.CountDocuments(ctx, bson.D{{Key: "_id", Value: id}})
	return n > 0, err
}

// missed explains a guarded write that matched nothing: ENOTFOUND when the
// document is gone, else ECONFLICT with the message given.
func missed(ctx context.Context, coll *mongo.Collection, id, what, conflict string) error {
	ok, err := exists(ctx, coll, id)
	if err != nil {
		return translate(err, what)
	}
	if !ok {
		return service.Errorf(service.ENOTFOUND, "%s %s not found", what, id)
	}
	return service.Errorf(service.ECONFLICT, "%s", conflict)
}
