package mongodb

import (
	"context"
	"errors"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/convene/convene/service"
)

type auditDoc struct {
	ID        string         `bson:"_id"`
	At        time.Time      `bson:"at"`
	Actor     actorDoc       `bson:"actor"`
	Action    string         `bson:"action"`
	Resource  string         `bson:"resource"`
	RequestID string         `bson:"request_id,omitempty"`
	Detail    map[string]any `bson:"detail,omitempty"`
}

type actorDoc struct {
	Subject string `bson:"sub"`
	Name    string `bson:"name,omitempty"`
	Email   string `bson:"email,omitempty"`
}

// AppendAudit inserts e. There is no method to change or delete entries.
func (s *Store) AppendAudit(ctx context.Context, e *service.AuditEntry) error {
	_, err := s.audit.InsertOne(ctx, auditDoc{
		ID: e.ID, At: e.At, Actor: actorDoc(e.Actor), Action: e.Action,
		Resource: e.Resource, RequestID: e.RequestID, Detail: e.Detail,
	})
	return translate(err, "audit entry")
}

// Audit lists entries newest first.
func (s *Store) Audit(ctx context.Context, f service.AuditFilter) ([]service.AuditEntry, error) {
	filter := bson.D{}
	if f.Resource != "" {
		filter = append(filter, bson.E{Key: "resource", Value: f.Resource})
	}
	if f.Actor != "" {
		filter = append(filter, bson.E{Key: "actor.sub", Value: f.Actor})
	}
	if f.Before != "" {
		filter = append(filter, bson.E{Key: "_id", Value: bson.D{{Key: "$lt", Value: f.Before}}})
	}
	return findAll(ctx, s.audit, filter, options.Find().SetSort(bson.D{{Key: "_id", Value: -1}}).SetLimit(int64(f.Limit)),
		func(d *auditDoc) service.AuditEntry {
			return service.AuditEntry{ID: d.ID, At: d.At.UTC(), Actor: service.Actor(d.Actor), Action: d.Action,
				Resource: d.Resource, RequestID: d.RequestID, Detail: d.Detail}
		}, "audit")
}

// replaceVersioned replaces the document with the id if its stored version
// is version: ENOTFOUND if it is gone, ECONFLICT if someone changed it
// first. MongoDB checks and replaces atomically in one filtered replace.
// FerretDB v1's SQLite backend turns any filter but a lone _id into a scan
// of the whole collection, and does not re-check the filter when it writes;
// so there the version is read and compared by _id under this process's
// lock on the collection, and the replace is by _id.
func (s *Store) replaceVersioned(ctx context.Context, coll *mongo.Collection, id string, version int64, doc any, what string) error {
	if !s.ferret {
		res, err := coll.ReplaceOne(ctx, bson.D{{Key: "_id", Value: id}, {Key: "version", Value: version}}, doc)
		if err != nil {
			return translate(err, what)
		}
		if res.MatchedCount == 1 {
			return nil
		}
		n, err := coll.CountDocuments(ctx, bson.D{{Key: "_id", Value: id}})
		if err != nil {
			return translate(err, what)
		}
		if n == 0 {
			return service.Errorf(service.ENOTFOUND, "%s %s not found", what, id)
		}
		return service.Errorf(service.ECONFLICT, "the %s was changed by someone else; reload it and try again", what)
	}
	defer s.conditional(coll)()
	var cur struct {
		Version int64 `bson:"version"`
	}
	if err := coll.FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&cur); err != nil {
		if errors.Is(err, mongo.ErrNoDocuments) {
			return service.Errorf(service.ENOTFOUND, "%s %s not found", what, id)
		}
		return translate(err, what)
	}
	if cur.Version != version {
		return service.Errorf(service.ECONFLICT, "the %s was changed by someone else; reload it and try again", what)
	}
	_, err := coll.ReplaceOne(ctx, bson.D{{Key: "_id", Value: id}}, doc)
	return translate(err, what)
}
