package mongodb

import (
	"context"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/convene/convene/service"
)

// noticeDoc is one inbox item; cleared_at is null while it is open.
type noticeDoc struct {
	ID             string `bson:"_id"`
	service.Notice `bson:",inline"`
}

type preferenceDoc struct {
	ID                       string `bson:"_id"`
	service.NoticePreference `bson:",inline"`
}

func (s *Store) notices() *mongo.Collection     { return s.db.Collection("notices") }
func (s *Store) preferences() *mongo.Collection { return s.db.Collection("notice_preferences") }

// noticeIndexes are the inbox's indexes (see ensureIndexes).
func noticeIndexes() []mongo.IndexModel {
	return []mongo.IndexModel{
		index("recipient_created", false, "recipient", "-created_at", "-_id"),
		index("subject", false, "discussion_id", "kind", "key"),
	}
}

// AddNotice stores n; an item with its id already there is kept.
func (s *Store) AddNotice(ctx context.Context, n *service.Notice) error {
	_, err := s.notices().InsertOne(ctx, noticeDoc{ID: n.ID, Notice: *n})
	if isDuplicate(err) {
		return nil
	}
	return translate(err, "notice")
}

// Inbox lists items newest first.
func (s *Store) Inbox(ctx context.Context, f service.InboxFilter) ([]service.Notice, error) {
	out := []service.Notice{}
	if len(f.Recipients) == 0 {
		return out, nil
	}
	filter := bson.D{{Key: "recipient", Value: bson.D{{Key: "$in", Value: f.Recipients}}}}
	if !f.All {
		filter = append(filter, bson.E{Key: "cleared_at", Value: nil})
	}
	created := bson.D{}
	if !f.CreatedFrom.IsZero() {
		created = append(created, bson.E{Key: "$gte", Value: f.CreatedFrom.UTC()})
	}
	if !f.CreatedTo.IsZero() {
		created = append(created, bson.E{Key: "$lt", Value: f.CreatedTo.UTC()})
	}
	if len(created) > 0 {
		filter = append(filter, bson.E{Key: "created_at", Value: created})
	}
	if !f.BeforeAt.IsZero() {
		filter = append(filter, bson.E{Key: "$or", Value: bson.A{
			bson.D{{Key: "created_at", Value: bson.D{{Key: "$lt", Value: f.BeforeAt.UTC()}}}},
			bson.D{{Key: "created_at", Value: f.BeforeAt.UTC()}, {Key: "_id", Value: bson.D{{Key: "$lt", Value: f.BeforeID}}}},
		}})
	}
	cur, err := s.notices().Find(ctx, filter, options.Find().
		SetSort(bson.D{{Key: "created_at", Value: -1}, {Key: "_id", Value: -1}}).SetLimit(int64(max(f.Limit, 1))))
	if err != nil {
		return nil, translate(err, "inbox")
	}
	var docs []noticeDoc
	if err := cur.All(ctx, &docs); err != nil {
		return nil, translate(err, "inbox")
	}
	for _, d := range docs {
		d.Notice.ID = d.ID
		out = append(out, d.Notice)
	}
	return out, nil
}

// ClearNotice marks one open item of the recipients cleared.
func (s *Store) ClearNotice(ctx context.Context, id string, recipients []string, at time.Time, by string) error {
	if len(recipients) == 0 {
		return service.Errorf(service.ENOTFOUND, "no inbox item %s", id)
	}
	res, err := s.notices().UpdateOne(ctx,
		bson.D{{Key: "_id", Value: id}, {Key: "cleared_at", Value: nil}, {Key: "recipient", Value: bson.D{{Key: "$in", Value: recipients}}}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "cleared_at", Value: at.UTC()}, {Key: "cleared_by", Value: by}}}})
	if err != nil {
		return translate(err, "notice")
	}
	if res.MatchedCount == 0 {
		return service.Errorf(service.ENOTFOUND, "no open inbox item %s", id)
	}
	return nil
}

// ResolveNotices clears the open items of the discussion, kind and key.
func (s *Store) ResolveNotices(ctx context.Context, discussionID string, kind service.NoticeKind, key string, at time.Time) error {
	_, err := s.notices().UpdateMany(ctx,
		bson.D{{Key: "discussion_id", Value: discussionID}, {Key: "kind", Value: string(kind)}, {Key: "key", Value: key}, {Key: "cleared_at", Value: nil}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "cleared_at", Value: at.UTC()}, {Key: "cleared_by", Value: "resolved"}}}})
	return translate(err, "notice")
}

// SetNoticePreference stores p in place of the email's preference.
func (s *Store) SetNoticePreference(ctx context.Context, p *service.NoticePreference) error {
	_, err := s.preferences().ReplaceOne(ctx, bson.D{{Key: "_id", Value: p.Email}}, preferenceDoc{ID: p.Email, NoticePreference: *p},
		options.Replace().SetUpsert(true))
	return translate(err, "preference")
}

// NoticePreferences returns the emails' preferences, or all.
func (s *Store) NoticePreferences(ctx context.Context, emails []string) ([]service.NoticePreference, error) {
	out := []service.NoticePreference{}
	filter := bson.D{}
	if emails != nil {
		if len(emails) == 0 {
			return out, nil
		}
		filter = bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: emails}}}}
	}
	cur, err := s.preferences().Find(ctx, filter, options.Find().SetSort(bson.D{{Key: "_id", Value: 1}}))
	if err != nil {
		return nil, translate(err, "preferences")
	}
	var docs []preferenceDoc
	if err := cur.All(ctx, &docs); err != nil {
		return nil, translate(err, "preferences")
	}
	for _, d := range docs {
		out = append(out, d.NoticePreference)
	}
	return out, nil
}

// DiscussionsRaisedDue lists discussions flagged with notices not moved.
func (s *Store) DiscussionsRaisedDue(ctx context.Context, limit int) ([]string, error) {
	cur, err := s.discussions.Find(ctx, bson.D{{Key: "head.raised_due", Value: true}},
		options.Find().SetProjection(bson.D{{Key: "_id", Value: 1}}).SetSort(bson.D{{Key: "_id", Value: 1}}).SetLimit(int64(max(limit, 1))))
	if err != nil {
		return nil, translate(err, "discussions")
	}
	var docs []struct {
		ID string `bson:"_id"`
	}
	if err := cur.All(ctx, &docs); err != nil {
		return nil, translate(err, "discussions")
	}
	out := make([]string, len(docs))
	for i, d := range docs {
		out[i] = d.ID
	}
	return out, nil
}
