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

// AppendAudit inserts the entries with one ordered insertMany. All or none:
// an insert stops at the first entry that fails (an id already written is
// ECONFLICT), and the entries of this batch inserted before it are removed
// again, so a refused batch leaves nothing. There is no method to change or
// delete entries.
func (s *Store) AppendAudit(ctx context.Context, entries []service.AuditEntry) error {
	if len(entries) == 0 {
		return nil
	}
	docs := make([]any, len(entries))
	for i, e := range entries {
		docs[i] = auditDoc{ID: e.ID, At: e.At, Actor: actorDoc(e.Actor), Action: e.Action,
			Resource: e.Resource, RequestID: e.RequestID, Detail: e.Detail}
	}
	_, err := s.audit.InsertMany(ctx, docs, options.InsertMany().SetOrdered(true))
	if err == nil {
		return nil
	}
	// Undo what this batch inserted: the entries before the one that
	// failed, or, when the error names none (the connection failed
	// midway), those stored exactly as this batch wrote them.
	var undo bson.A
	var bwe mongo.BulkWriteException
	if errors.As(err, &bwe) && len(bwe.WriteErrors) > 0 {
		for _, e := range entries[:bwe.WriteErrors[0].Index] {
			undo = append(undo, bson.D{{Key: "_id", Value: e.ID}})
		}
	} else {
		for _, e := range entries {
			undo = append(undo, bson.D{{Key: "_id", Value: e.ID}, {Key: "at", Value: e.At}, {Key: "action", Value: e.Action},
				{Key: "resource", Value: e.Resource}, {Key: "actor.sub", Value: e.Actor.Subject}})
		}
	}
	if len(undo) > 0 {
		if _, derr := s.audit.DeleteMany(context.WithoutCancel(ctx), bson.D{{Key: "$or", Value: undo}}); derr != nil {
			return service.Internal(errors.Join(err, derr), "audit batch partly written")
		}
	}
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
