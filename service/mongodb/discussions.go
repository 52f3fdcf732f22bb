package mongodb

import (
	"context"
	"errors"
	"slices"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/convene/convene/service"
)

// discussionDoc stores a discussion under its own id; the domain type's
// JSON names are the field names (UseJSONStructTags). Participants, Agencies
// and ChairEmail are derived from the current invitees on every write, for
// queries and indexes (FerretDB's $elemMatch takes no field conditions).
type discussionDoc struct {
	ID                 string   `bson:"_id"`
	Participants       []string `bson:"x_participants"`
	Agencies           []string `bson:"x_agencies"`
	ChairEmail         string   `bson:"x_chair"`
	service.Discussion `bson:",inline"`
}

func toDiscussionDoc(d *service.Discussion) discussionDoc {
	doc := discussionDoc{ID: d.ID, Discussion: *d, Participants: []string{}, Agencies: []string{}}
	for _, inv := range d.Invitees {
		if inv.Removed {
			continue
		}
		doc.Participants = append(doc.Participants, inv.Email)
		if !slices.Contains(doc.Agencies, string(inv.Agency)) {
			doc.Agencies = append(doc.Agencies, string(inv.Agency))
		}
		if inv.Chair {
			doc.ChairEmail = inv.Email
		}
	}
	return doc
}

// CreateDiscussion inserts d; an existing id is ECONFLICT.
func (s *Store) CreateDiscussion(ctx context.Context, d *service.Discussion) error {
	_, err := s.discussions.InsertOne(ctx, toDiscussionDoc(d))
	return translate(err, "discussion")
}

// Discussion returns the discussion with the id.
func (s *Store) Discussion(ctx context.Context, id string) (*service.Discussion, error) {
	var d discussionDoc
	if err := s.discussions.FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&d); err != nil {
		return nil, translate(err, "discussion")
	}
	return &d.Discussion, nil
}

// Discussions lists discussions by deadline, then id.
func (s *Store) Discussions(ctx context.Context, f service.DiscussionFilter) ([]service.Discussion, error) {
	var and bson.A
	if len(f.Status) > 0 {
		and = append(and, bson.D{{Key: "status", Value: bson.D{{Key: "$in", Value: f.Status}}}})
	}
	if !f.DueBefore.IsZero() {
		and = append(and, bson.D{{Key: "deadline", Value: bson.D{{Key: "$lt", Value: f.DueBefore}}}})
	}
	if f.ChairEmail != "" {
		and = append(and, bson.D{{Key: "x_chair", Value: f.ChairEmail}})
	}
	if f.VisibleTo != "" {
		and = append(and, bson.D{{Key: "x_participants", Value: f.VisibleTo}})
	}
	if f.Agency != "" {
		and = append(and, bson.D{{Key: "x_agencies", Value: string(f.Agency)}})
	}
	if f.Breached != nil {
		and = append(and, bson.D{{Key: "breach", Value: bson.D{{Key: "$exists", Value: *f.Breached}}}})
	}
	if f.AtRisk != nil {
		if *f.AtRisk {
			and = append(and, bson.D{{Key: "at_risk", Value: true}})
		} else {
			and = append(and, bson.D{{Key: "at_risk", Value: bson.D{{Key: "$ne", Value: true}}}})
		}
	}
	if f.AfterID != "" {
		and = append(and, bson.D{{Key: "$or", Value: bson.A{
			bson.D{{Key: "deadline", Value: bson.D{{Key: "$gt", Value: f.AfterDeadline}}}},
			bson.D{{Key: "deadline", Value: f.AfterDeadline}, {Key: "_id", Value: bson.D{{Key: "$gt", Value: f.AfterID}}}},
		}}})
	}
	filter := bson.D{}
	if len(and) > 0 {
		filter = bson.D{{Key: "$and", Value: and}}
	}
	opts := options.Find().SetSort(bson.D{{Key: "deadline", Value: 1}, {Key: "_id", Value: 1}}).SetLimit(int64(f.Limit))
	return findAll(ctx, s.discussions, filter, opts, discussionOf, "discussions")
}

func discussionOf(d *discussionDoc) service.Discussion { return d.Discussion }

// UpdateDiscussion replaces d if the stored version is d.Version.
func (s *Store) UpdateDiscussion(ctx context.Context, d *service.Discussion) error {
	next := *d
	next.Version = d.Version + 1
	if err := s.replaceVersioned(ctx, s.discussions, d.ID, d.Version, toDiscussionDoc(&next), "discussion"); err != nil {
		return err
	}
	d.Version = next.Version
	return nil
}

// DiscussionsWithPending lists discussions whose messages are not yet in
// the outbox.
func (s *Store) DiscussionsWithPending(ctx context.Context, limit int) ([]service.Discussion, error) {
	return findAll(ctx, s.discussions, bson.D{{Key: "pending.0", Value: bson.D{{Key: "$exists", Value: true}}}},
		options.Find().SetLimit(int64(limit)), discussionOf, "discussions")
}

type idempotencyDoc struct {
	ID                     string `bson:"_id"`
	service.IdempotencyKey `bson:",inline"`
}

// ClaimIdempotencyKey records k, or returns the record holding its key.
func (s *Store) ClaimIdempotencyKey(ctx context.Context, k *service.IdempotencyKey) (*service.IdempotencyKey, error) {
	_, err := s.idempotency.InsertOne(ctx, idempotencyDoc{ID: k.ID, IdempotencyKey: *k})
	if err == nil {
		return nil, nil
	}
	if service.ErrorCode(translate(err, "")) != service.ECONFLICT {
		return nil, translate(err, "idempotency key")
	}
	var d idempotencyDoc
	if err := s.idempotency.FindOne(ctx, bson.D{{Key: "_id", Value: k.ID}}).Decode(&d); err != nil {
		return nil, translate(err, "idempotency key")
	}
	return &d.IdempotencyKey, nil
}

type holdDoc struct {
	ID           string `bson:"_id"`
	service.Hold `bson:",inline"`
}

// HoldTime inserts every hold, or none: on a collision it removes the ones
// this call inserted and reports the hold that was already there.
func (s *Store) HoldTime(ctx context.Context, holds []service.Hold) error {
	if len(holds) == 0 {
		return nil
	}
	docs := make([]any, len(holds))
	for i, h := range holds {
		docs[i] = holdDoc{ID: h.ID, Hold: h}
	}
	_, err := s.holds.InsertMany(ctx, docs, options.InsertMany().SetOrdered(true))
	if err == nil {
		return nil
	}
	if service.ErrorCode(translate(err, "")) != service.ECONFLICT {
		// Unknown state: remove whatever this booking inserted.
		_ = s.ReleaseHolds(context.WithoutCancel(ctx), holds[0].BookingID, "")
		return translate(err, "hold")
	}
	taken := holds[0]
	var bwe mongo.BulkWriteException
	if errors.As(err, &bwe) && len(bwe.WriteErrors) > 0 && bwe.WriteErrors[0].Index < len(holds) {
		taken = holds[bwe.WriteErrors[0].Index]
	}
	// Only this call inserts holds with this booking id for these ids, so
	// removing them by booking id undoes exactly this call.
	if err := s.ReleaseHolds(context.WithoutCancel(ctx), holds[0].BookingID, ""); err != nil {
		return err
	}
	var existing holdDoc
	if err := s.holds.FindOne(ctx, bson.D{{Key: "_id", Value: taken.ID}}).Decode(&existing); err != nil {
		if errors.Is(err, mongo.ErrNoDocuments) {
			// Released meanwhile: the caller may simply retry.
			return &service.Error{Code: service.ECONFLICT, Message: "time was held and has just been released; try again"}
		}
		return translate(err, "hold")
	}
	return &service.Error{Code: service.ECONFLICT, Message: "time already held",
		Detail: map[string]any{"hold": existing.Hold}}
}

// ReleaseHolds removes a booking's holds, or one person's of them.
func (s *Store) ReleaseHolds(ctx context.Context, bookingID, person string) error {
	filter := bson.D{{Key: "booking_id", Value: bookingID}}
	if person != "" {
		filter = append(filter, bson.E{Key: "person", Value: person})
	}
	_, err := s.holds.DeleteMany(ctx, filter)
	return translate(err, "holds")
}

// PruneHolds removes holds that started before the time: the past no longer
// needs holding, and on FerretDB every hold query reads them all.
func (s *Store) PruneHolds(ctx context.Context, before time.Time) error {
	_, err := s.holds.DeleteMany(ctx, bson.D{{Key: "start", Value: bson.D{{Key: "$lt", Value: before}}}})
	return translate(err, "holds")
}

// ReleaseHold removes one hold if it still belongs to bookingID.
func (s *Store) ReleaseHold(ctx context.Context, id, bookingID string) error {
	defer s.conditional(s.holds)()
	_, err := s.holds.DeleteOne(ctx, bson.D{{Key: "_id", Value: id}, {Key: "booking_id", Value: bookingID}})
	return translate(err, "hold")
}

// Holds lists the persons' holds starting in [from, to).
func (s *Store) Holds(ctx context.Context, persons []string, from, to time.Time) ([]service.Hold, error) {
	if len(persons) == 0 {
		return nil, nil
	}
	return findAll(ctx, s.holds, bson.D{
		{Key: "person", Value: bson.D{{Key: "$in", Value: persons}}},
		{Key: "start", Value: bson.D{{Key: "$gte", Value: from}, {Key: "$lt", Value: to}}},
	}, options.Find().SetLimit(100000),
		func(d *holdDoc) service.Hold { return d.Hold }, "holds")
}

type outboxDoc struct {
	ID                    string `bson:"_id"`
	service.OutboxMessage `bson:",inline"`
}

// queueDoc is a message waiting to be sent: the send queue holds only
// these, so claiming the next one reads a short collection (FerretDB reads
// every document of a collection for any query but one by _id), while sent
// messages stay in the outbox, read by _id.
type queueDoc struct {
	ID          string    `bson:"_id"`
	NextAttempt time.Time `bson:"next_attempt_at"`
	LeaseOwner  string    `bson:"lease_owner"`
	LeaseUntil  time.Time `bson:"lease_until"`
	Attempts    int       `bson:"attempts"`
}

// EnqueueMessage adds m to the outbox and, if queued, to the send queue;
// either already there is left as it is.
func (s *Store) EnqueueMessage(ctx context.Context, m *service.OutboxMessage) error {
	_, err := s.outbox.InsertOne(ctx, outboxDoc{ID: m.ID, OutboxMessage: *m})
	if err != nil && service.ErrorCode(translate(err, "")) != service.ECONFLICT {
		return translate(err, "outbox message")
	}
	if m.State != service.MessageQueued {
		return nil
	}
	_, err = s.queue.InsertOne(ctx, queueDoc{ID: m.ID, NextAttempt: m.NextAttempt, LeaseUntil: m.LeaseUntil, Attempts: m.Attempts})
	if err != nil && service.ErrorCode(translate(err, "")) != service.ECONFLICT {
		return translate(err, "outbox queue")
	}
	return nil
}

// ClaimMessage leases the queued message due soonest and returns it, with
// the lease and the attempt it is on.
func (s *Store) ClaimMessage(ctx context.Context, owner string, now time.Time, lease time.Duration) (*service.OutboxMessage, error) {
	filter := bson.D{
		{Key: "next_attempt_at", Value: bson.D{{Key: "$lte", Value: now}}},
		{Key: "lease_until", Value: bson.D{{Key: "$lte", Value: now}}},
	}
	update := bson.D{
		{Key: "$set", Value: bson.D{{Key: "lease_owner", Value: owner}, {Key: "lease_until", Value: now.Add(lease)}}},
		{Key: "$inc", Value: bson.D{{Key: "attempts", Value: 1}}},
	}
	opts := options.FindOneAndUpdate().SetSort(bson.D{{Key: "next_attempt_at", Value: 1}}).SetReturnDocument(options.After)
	var q queueDoc
	err := func() error {
		defer s.conditional(s.queue)()
		return s.queue.FindOneAndUpdate(ctx, filter, update, opts).Decode(&q)
	}()
	if err != nil {
		return nil, translate(err, "outbox message")
	}
	var d outboxDoc
	if err := s.outbox.FindOne(ctx, bson.D{{Key: "_id", Value: q.ID}}).Decode(&d); err != nil {
		if errors.Is(err, mongo.ErrNoDocuments) {
			// A queue entry without its message cannot be sent: drop it.
			_, _ = s.queue.DeleteOne(ctx, bson.D{{Key: "_id", Value: q.ID}})
		}
		return nil, translate(err, "outbox message")
	}
	m := d.OutboxMessage
	m.LeaseOwner, m.LeaseUntil, m.Attempts = q.LeaseOwner, q.LeaseUntil, q.Attempts
	if m.State == service.MessageQueued || m.State == service.MessageSending {
		m.State = service.MessageSending
	}
	return &m, nil
}

// UpdateMessage records m if owner still holds its lease: the message
// first, then its queue entry (removed once the message is no longer
// queued). A crash between the two leaves a queue entry whose message is
// already settled, which the next claim finds and clears.
func (s *Store) UpdateMessage(ctx context.Context, m *service.OutboxMessage, owner string) error {
	defer s.conditional(s.queue)()
	var q queueDoc
	if err := s.queue.FindOne(ctx, bson.D{{Key: "_id", Value: m.ID}}).Decode(&q); err != nil || q.LeaseOwner != owner {
		return service.Errorf(service.ECONFLICT, "the lease on message %s was lost", m.ID)
	}
	stored := *m
	stored.LeaseOwner = ""
	if _, err := s.outbox.ReplaceOne(ctx, bson.D{{Key: "_id", Value: m.ID}}, outboxDoc{ID: m.ID, OutboxMessage: stored}); err != nil {
		return translate(err, "outbox message")
	}
	if m.State != service.MessageQueued {
		_, err := s.queue.DeleteOne(ctx, bson.D{{Key: "_id", Value: m.ID}})
		return translate(err, "outbox queue")
	}
	_, err := s.queue.ReplaceOne(ctx, bson.D{{Key: "_id", Value: m.ID}},
		queueDoc{ID: m.ID, NextAttempt: m.NextAttempt, LeaseOwner: owner, LeaseUntil: m.LeaseUntil, Attempts: m.Attempts})
	return translate(err, "outbox queue")
}

// SupersedeMessage marks a queued, unleased message superseded.
func (s *Store) SupersedeMessage(ctx context.Context, id string, now time.Time) error {
	defer s.conditional(s.queue)()
	res, err := s.queue.DeleteOne(ctx, bson.D{{Key: "_id", Value: id}, {Key: "lease_until", Value: bson.D{{Key: "$lte", Value: now}}}})
	if err != nil || res.DeletedCount == 0 {
		return translate(err, "outbox queue")
	}
	_, err = s.outbox.UpdateOne(ctx, bson.D{{Key: "_id", Value: id}}, bson.D{{Key: "$set", Value: bson.D{{Key: "state", Value: service.MessageSuperseded}}}})
	return translate(err, "outbox message")
}

// Messages returns the messages with the ids, each read by _id.
func (s *Store) Messages(ctx context.Context, ids []string) ([]service.OutboxMessage, error) {
	out := make([]service.OutboxMessage, 0, len(ids))
	for _, id := range ids {
		var d outboxDoc
		err := s.outbox.FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&d)
		if errors.Is(err, mongo.ErrNoDocuments) {
			continue
		} else if err != nil {
			return nil, translate(err, "outbox")
		}
		out = append(out, d.OutboxMessage)
	}
	return out, nil
}

// AcquireLease takes or renews a named lease.
func (s *Store) AcquireLease(ctx context.Context, name, owner string, now time.Time, ttl time.Duration) (bool, error) {
	defer s.conditional(s.leases)()
	res, err := s.leases.UpdateOne(ctx, bson.D{{Key: "_id", Value: name}, {Key: "$or", Value: bson.A{
		bson.D{{Key: "owner", Value: owner}}, bson.D{{Key: "until", Value: bson.D{{Key: "$lte", Value: now}}}},
	}}}, bson.D{{Key: "$set", Value: bson.D{{Key: "owner", Value: owner}, {Key: "until", Value: now.Add(ttl)}}}})
	if err != nil {
		return false, translate(err, "lease")
	}
	if res.MatchedCount == 1 {
		return true, nil
	}
	_, err = s.leases.InsertOne(ctx, bson.D{{Key: "_id", Value: name}, {Key: "owner", Value: owner}, {Key: "until", Value: now.Add(ttl)}})
	if service.ErrorCode(translate(err, "")) == service.ECONFLICT {
		return false, nil
	}
	return err == nil, translate(err, "lease")
}

type inboundDoc struct {
	ID                    string `bson:"_id"`
	service.InboundRecord `bson:",inline"`
}

// RecordInbound keeps what became of an inbound message.
func (s *Store) RecordInbound(ctx context.Context, r *service.InboundRecord) error {
	_, err := s.inbound.InsertOne(ctx, inboundDoc{ID: r.ID, InboundRecord: *r})
	return translate(err, "inbound record")
}

// InboundRecords lists a discussion's inbound records, newest first (all
// discussions' when discussionID is empty).
func (s *Store) InboundRecords(ctx context.Context, discussionID string, limit int) ([]service.InboundRecord, error) {
	filter := bson.D{}
	if discussionID != "" {
		filter = bson.D{{Key: "discussion_id", Value: discussionID}}
	}
	return findAll(ctx, s.inbound, filter, options.Find().SetSort(bson.D{{Key: "_id", Value: -1}}).SetLimit(int64(limit)),
		func(d *inboundDoc) service.InboundRecord { return d.InboundRecord }, "inbound records")
}
