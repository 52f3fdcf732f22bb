package mongodb

import (
	"context"
	"errors"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/convene/convene/service"
)

type venueDoc struct {
	ID            string `bson:"_id"`
	service.Venue `bson:",inline"`
}

// CreateVenue stores a new venue.
func (s *Store) CreateVenue(ctx context.Context, v *service.Venue) error {
	_, err := s.venues.InsertOne(ctx, venueDoc{ID: v.ID, Venue: *v})
	if isDuplicate(err) {
		return service.Errorf(service.ECONFLICT, "venue %s exists", v.ID)
	}
	return translate(err, "venue")
}

// Venue returns one venue.
func (s *Store) Venue(ctx context.Context, id string) (*service.Venue, error) {
	var d venueDoc
	err := s.venues.FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&d)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return nil, service.Errorf(service.ENOTFOUND, "venue %s not found", id)
	} else if err != nil {
		return nil, translate(err, "venue")
	}
	d.Venue.ID = d.ID
	return &d.Venue, nil
}

// Venues lists venues by name.
func (s *Store) Venues(ctx context.Context, includeInactive bool) ([]service.Venue, error) {
	filter := bson.D{}
	if !includeInactive {
		filter = bson.D{{Key: "active", Value: true}}
	}
	cur, err := s.venues.Find(ctx, filter, options.Find().SetSort(bson.D{{Key: "name", Value: 1}, {Key: "_id", Value: 1}}))
	if err != nil {
		return nil, translate(err, "venues")
	}
	var docs []venueDoc
	if err := cur.All(ctx, &docs); err != nil {
		return nil, translate(err, "venues")
	}
	out := make([]service.Venue, len(docs))
	for i, d := range docs {
		d.Venue.ID = d.ID
		out[i] = d.Venue
	}
	return out, nil
}

// UpdateVenue replaces v if its stored version is v.Version, and
// increments v.Version.
func (s *Store) UpdateVenue(ctx context.Context, v *service.Venue) error {
	next := *v
	next.Version = v.Version + 1
	res, err := s.venues.ReplaceOne(ctx, bson.D{{Key: "_id", Value: v.ID}, {Key: "version", Value: v.Version}}, venueDoc{ID: v.ID, Venue: next})
	if err != nil {
		return translate(err, "venue")
	}
	if res.MatchedCount == 0 {
		return missed(ctx, s.venues, v.ID, "venue", "the venue was changed by someone else; reload it and try again")
	}
	v.Version = next.Version
	return nil
}
