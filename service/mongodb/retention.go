package mongodb

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/convene/convene/service"
)

// purges holds a tombstone for each discussion being purged. MongoDB
// writes one document atomically, not the discussion and everything kept
// for it in other collections: the tombstone is written before the
// discussion is deleted and removed after the rest is, so a purge stopped
// half way (a crash, a lost connection) is finished by the next one.
func (s *Store) purges() *mongo.Collection { return s.db.Collection("purges") }

// RetentionCandidates lists concluded or cancelled discussions last
// changed before changedBefore, oldest change first, after the cursor.
func (s *Store) RetentionCandidates(ctx context.Context, changedBefore, afterUpdated time.Time, afterID string, limit int) ([]service.Discussion, error) {
	filter := bson.D{
		{Key: "status", Value: bson.D{{Key: "$in", Value: bson.A{string(service.StatusConcluded), string(service.StatusCancelled)}}}},
		{Key: "updated_at", Value: bson.D{{Key: "$lt", Value: changedBefore}}},
		{Key: "$or", Value: bson.A{
			bson.D{{Key: "updated_at", Value: bson.D{{Key: "$gt", Value: afterUpdated}}}},
			bson.D{{Key: "updated_at", Value: afterUpdated}, {Key: "_id", Value: bson.D{{Key: "$gt", Value: afterID}}}},
		}},
	}
	if afterID == "" {
		// A pass begins: make sure its queries and the audit purge run
		// off indexes (creating an index that exists does nothing).
		if err := s.retentionIndexes(ctx); err != nil {
			return nil, err
		}
	}
	cur, err := s.discussions.Find(ctx, filter, options.Find().
		SetSort(bson.D{{Key: "updated_at", Value: 1}, {Key: "_id", Value: 1}}).
		SetProjection(bson.D{{Key: "_id", Value: 1}}).SetLimit(int64(max(limit, 0))))
	if err != nil {
		return nil, translate(err, "retention candidates")
	}
	var docs []struct {
		ID string `bson:"_id"`
	}
	if err := cur.All(ctx, &docs); err != nil {
		return nil, translate(err, "retention candidates")
	}
	if len(docs) == 0 {
		return nil, nil
	}
	ids := make([]string, len(docs))
	for i, d := range docs {
		ids[i] = d.ID
	}
	ds, err := s.Discussions(ctx, service.DiscussionFilter{IDs: ids, Summary: true, Limit: len(ids)})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(ds, func(a, b service.Discussion) int {
		if c := a.UpdatedAt.Compare(b.UpdatedAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return ds, nil
}

// PurgeDiscussion removes the discussion, if its version is still
// version, and then everything kept for it; purges left half done are
// finished first.
func (s *Store) PurgeDiscussion(ctx context.Context, id string, version int64) error {
	if err := s.finishPurges(ctx); err != nil {
		return err
	}
	var d struct {
		Outbox []service.MessageRef `bson:"outbox"`
	}
	err := s.discussions.FindOne(ctx, bson.D{{Key: "_id", Value: id}}, options.FindOne().SetProjection(bson.D{{Key: "outbox", Value: 1}})).Decode(&d)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return service.Errorf(service.ENOTFOUND, "discussion not found")
	} else if err != nil {
		return translate(err, "discussion")
	}
	msgs := bson.A{}
	for _, m := range d.Outbox {
		msgs = append(msgs, m.ID)
	}
	if _, err := s.purges().UpdateOne(ctx, bson.D{{Key: "_id", Value: id}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "messages", Value: msgs}, {Key: "at", Value: time.Now().UTC()}}}},
		options.UpdateOne().SetUpsert(true)); err != nil {
		return translate(err, "purge")
	}
	res, err := s.discussions.DeleteOne(ctx, bson.D{{Key: "_id", Value: id}, {Key: "version", Value: version}})
	if err != nil {
		return translate(err, "discussion")
	}
	if res.DeletedCount == 0 {
		// Changed since it was read: nothing of it is touched.
		if _, err := s.purges().DeleteOne(ctx, bson.D{{Key: "_id", Value: id}}); err != nil {
			return translate(err, "purge")
		}
		return missed(ctx, s.discussions, id, "discussion", "discussion changed since it was read")
	}
	return s.finishPurges(ctx)
}

// finishPurges deletes what is kept for each discussion whose tombstone
// is in purges (the discussion itself is gone), then the tombstone.
func (s *Store) finishPurges(ctx context.Context) error {
	cur, err := s.purges().Find(ctx, bson.D{})
	if err != nil {
		return translate(err, "purge")
	}
	var tombs []struct {
		ID       string   `bson:"_id"`
		Messages []string `bson:"messages"`
	}
	if err := cur.All(ctx, &tombs); err != nil {
		return translate(err, "purge")
	}
	for _, t := range tombs {
		if present, err := exists(ctx, s.discussions, t.ID); err != nil {
			return translate(err, "purge")
		} else if present {
			continue // a purge still deciding (or refused): not ours to finish
		}
		byDiscussion := bson.D{{Key: "discussion_id", Value: t.ID}}
		msgs := bson.A{}
		for _, m := range t.Messages {
			msgs = append(msgs, m)
		}
		for _, del := range []struct {
			coll   *mongo.Collection
			filter bson.D
		}{
			{s.outbox, bson.D{{Key: "$or", Value: bson.A{byDiscussion, bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: msgs}}}}}}}},
			{s.events, byDiscussion},
			{s.holds, byDiscussion},
			{s.inbound, byDiscussion},
			{s.idempotency, byDiscussion},
			{s.notices(), byDiscussion},
			{s.purges(), bson.D{{Key: "_id", Value: t.ID}}},
		} {
			if _, err := del.coll.DeleteMany(ctx, del.filter); err != nil {
				return translate(err, "purge")
			}
		}
	}
	return nil
}

// retentionIndexes are the indexes retention's queries use: finished
// discussions by last change, and audit entries by time.
func (s *Store) retentionIndexes(ctx context.Context) error {
	if _, err := s.discussions.Indexes().CreateOne(ctx, mongo.IndexModel{
		Keys: bson.D{{Key: "updated_at", Value: 1}, {Key: "_id", Value: 1}}}); err != nil {
		return translate(err, "retention index")
	}
	if _, err := s.audit.Indexes().CreateOne(ctx, mongo.IndexModel{Keys: bson.D{{Key: "at", Value: 1}}}); err != nil {
		return translate(err, "retention index")
	}
	return nil
}

// PurgeAudit removes the audit entries written before the time.
func (s *Store) PurgeAudit(ctx context.Context, before time.Time) (int64, error) {
	res, err := s.audit.DeleteMany(ctx, bson.D{{Key: "at", Value: bson.D{{Key: "$lt", Value: before}}}})
	if err != nil {
		return 0, translate(err, "audit entry")
	}
	return res.DeletedCount, nil
}
