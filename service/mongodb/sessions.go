package mongodb

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/convene/convene/service"
)

// sessionDoc keeps a web session as its JSON beside the fields queries
// use: the session changes shape with the web app, not with the store.
type sessionDoc struct {
	ID        string    `bson:"_id"`
	Version   int64     `bson:"version"`
	ExpiresAt time.Time `bson:"expires_at"`
	Session   string    `bson:"session"`
}

func (s *Store) sessions() *mongo.Collection { return s.db.Collection("sessions") }

func sessionDocOf(sess *service.Session) (sessionDoc, error) {
	b, err := json.Marshal(sess)
	if err != nil {
		return sessionDoc{}, service.Internal(err, "encode session")
	}
	return sessionDoc{ID: sess.ID, Version: sess.Version, ExpiresAt: sess.ExpiresAt.UTC(), Session: string(b)}, nil
}

// CreateSession stores a new web session.
func (s *Store) CreateSession(ctx context.Context, sess *service.Session) error {
	sess.Version = 1
	d, err := sessionDocOf(sess)
	if err != nil {
		return err
	}
	_, err = s.sessions().InsertOne(ctx, d)
	if isDuplicate(err) {
		return service.Errorf(service.ECONFLICT, "session exists")
	}
	return translate(err, "session")
}

// Session returns one web session.
func (s *Store) Session(ctx context.Context, id string) (*service.Session, error) {
	var d sessionDoc
	err := s.sessions().FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&d)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return nil, service.Errorf(service.ENOTFOUND, "session not found")
	} else if err != nil {
		return nil, translate(err, "session")
	}
	var sess service.Session
	if err := json.Unmarshal([]byte(d.Session), &sess); err != nil {
		return nil, service.Internal(err, "decode session")
	}
	sess.Version = d.Version
	return &sess, nil
}

// UpdateSession replaces sess if its stored version is sess.Version.
func (s *Store) UpdateSession(ctx context.Context, sess *service.Session) error {
	next := *sess
	next.Version = sess.Version + 1
	d, err := sessionDocOf(&next)
	if err != nil {
		return err
	}
	res, err := s.sessions().ReplaceOne(ctx, bson.D{{Key: "_id", Value: sess.ID}, {Key: "version", Value: sess.Version}}, d)
	if err != nil {
		return translate(err, "session")
	}
	if res.MatchedCount == 0 {
		return missed(ctx, s.sessions(), sess.ID, "session", "the session changed meanwhile")
	}
	sess.Version = next.Version
	return nil
}

// DeleteSession removes a web session.
func (s *Store) DeleteSession(ctx context.Context, id string) error {
	_, err := s.sessions().DeleteOne(ctx, bson.D{{Key: "_id", Value: id}})
	return translate(err, "session")
}

// PruneSessions removes sessions that expired before the time, by their
// expiry index (asked for here, where it is used: creating an index that
// exists does nothing, and the web app prunes every ten minutes at most).
func (s *Store) PruneSessions(ctx context.Context, before time.Time) error {
	if _, err := s.sessions().Indexes().CreateOne(ctx, index("sessions_expiry", false, "expires_at")); err != nil {
		return translate(err, "sessions index")
	}
	_, err := s.sessions().DeleteMany(ctx, bson.D{{Key: "expires_at", Value: bson.D{{Key: "$lt", Value: before.UTC()}}}})
	return translate(err, "sessions")
}
