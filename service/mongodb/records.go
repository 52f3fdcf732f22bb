package mongodb

import (
	"context"
	"errors"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/convene/convene/service"
)

type idempotencyDoc struct {
	ID                     string `bson:"_id"`
	service.IdempotencyKey `bson:",inline"`
}

// ClaimIdempotencyKey records k, or returns the record holding its id: the
// unique _id decides.
func (s *Store) ClaimIdempotencyKey(ctx context.Context, k *service.IdempotencyKey) (*service.IdempotencyKey, error) {
	_, err := s.idempotency.InsertOne(ctx, idempotencyDoc{ID: k.ID, IdempotencyKey: *k})
	if err == nil {
		return nil, nil
	}
	if !isDuplicate(err) {
		return nil, translate(err, "idempotency key")
	}
	var d idempotencyDoc
	if err := s.idempotency.FindOne(ctx, bson.D{{Key: "_id", Value: k.ID}}).Decode(&d); err != nil {
		if errors.Is(err, mongo.ErrNoDocuments) {
			// Released in between: the caller may try again.
			return nil, service.Errorf(service.ECONFLICT, "the idempotency key was just released; try again")
		}
		return nil, translate(err, "idempotency key")
	}
	d.IdempotencyKey.CreatedAt = d.CreatedAt.UTC()
	d.IdempotencyKey.ExpiresAt = d.ExpiresAt.UTC()
	return &d.IdempotencyKey, nil
}

// ReleaseIdempotencyKey removes the key if it is still the claim made at
// claimedAt (to the millisecond, as stored).
func (s *Store) ReleaseIdempotencyKey(ctx context.Context, id string, claimedAt time.Time) error {
	_, err := s.idempotency.DeleteOne(ctx, bson.D{{Key: "_id", Value: id}, {Key: "created_at", Value: claimedAt}})
	return translate(err, "idempotency key")
}

type holdDoc struct {
	ID           string `bson:"_id"`
	service.Hold `bson:",inline"`
}

// HoldTime inserts the holds in order. A hold already taken by the same
// discussion is taken over (its booking id set to the new one, guarded by
// the discussion id in the filter); one taken by another discussion undoes
// what this call wrote and reports the taken hold in the error's Conflict.
func (s *Store) HoldTime(ctx context.Context, holds []service.Hold) error {
	type takenOver struct{ id, booking string }
	var inserted []string
	var over []takenOver
	undo := func(cause error) error {
		bg := context.WithoutCancel(ctx)
		var errs []error
		if len(inserted) > 0 {
			ids := bson.A{}
			for _, id := range inserted {
				ids = append(ids, id)
			}
			if _, err := s.holds.DeleteMany(bg, bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: ids}}}}); err != nil {
				errs = append(errs, err)
			}
		}
		for _, o := range over {
			if _, err := s.holds.UpdateOne(bg, bson.D{{Key: "_id", Value: o.id}}, bson.D{{Key: "$set", Value: bson.D{{Key: "booking_id", Value: o.booking}}}}); err != nil {
				errs = append(errs, err)
			}
		}
		if len(errs) > 0 {
			return service.Internal(errors.Join(append(errs, cause)...), "holds partly taken")
		}
		return cause
	}
	for i := 0; i < len(holds); {
		docs := make([]any, 0, len(holds)-i)
		for _, h := range holds[i:] {
			docs = append(docs, holdDoc{ID: h.ID, Hold: h})
		}
		_, err := s.holds.InsertMany(ctx, docs, options.InsertMany().SetOrdered(true))
		if err == nil {
			return nil
		}
		var bwe mongo.BulkWriteException
		if !errors.As(err, &bwe) || len(bwe.WriteErrors) == 0 || !isDuplicate(bwe.WriteErrors[0]) {
			// Which were written is unknown: undo by what this call wrote.
			for _, h := range holds[i:] {
				inserted = append(inserted, h.ID)
			}
			return undo(translate(err, "hold"))
		}
		at := i + bwe.WriteErrors[0].Index
		for _, h := range holds[i:at] {
			inserted = append(inserted, h.ID)
		}
		var taken holdDoc
		if err := s.holds.FindOne(ctx, bson.D{{Key: "_id", Value: holds[at].ID}}).Decode(&taken); err != nil {
			if errors.Is(err, mongo.ErrNoDocuments) {
				i = at // released meanwhile: try it again
				continue
			}
			return undo(translate(err, "hold"))
		}
		if taken.Hold.DiscussionID == holds[at].DiscussionID {
			res, err := s.holds.UpdateOne(ctx, bson.D{{Key: "_id", Value: holds[at].ID}, {Key: "discussion_id", Value: holds[at].DiscussionID}},
				bson.D{{Key: "$set", Value: bson.D{{Key: "booking_id", Value: holds[at].BookingID}, {Key: "created_at", Value: holds[at].CreatedAt}}}})
			if err != nil {
				return undo(translate(err, "hold"))
			}
			if res.MatchedCount == 1 {
				over = append(over, takenOver{id: holds[at].ID, booking: taken.Hold.BookingID})
				i = at + 1
				continue
			}
			i = at // changed hands meanwhile: look again
			continue
		}
		h := taken.Hold
		h.Start, h.CreatedAt = h.Start.UTC(), h.CreatedAt.UTC()
		return undo(&service.Error{Code: service.ECONFLICT, Message: "time already held", Conflict: &service.Conflict{Hold: &h}})
	}
	return nil
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

// PruneHolds removes holds that started before the time.
func (s *Store) PruneHolds(ctx context.Context, before time.Time) error {
	_, err := s.holds.DeleteMany(ctx, bson.D{{Key: "start", Value: bson.D{{Key: "$lt", Value: before}}}})
	return translate(err, "holds")
}

// Holds lists the persons' holds starting in [from, to), by person and
// start.
func (s *Store) Holds(ctx context.Context, persons []string, from, to time.Time) ([]service.Hold, error) {
	if len(persons) == 0 {
		return nil, nil
	}
	return findAll(ctx, s.holds, bson.D{
		{Key: "person", Value: bson.D{{Key: "$in", Value: persons}}},
		{Key: "start", Value: bson.D{{Key: "$gte", Value: from}, {Key: "$lt", Value: to}}},
	}, options.Find().SetSort(bson.D{{Key: "person", Value: 1}, {Key: "start", Value: 1}}),
		func(d *holdDoc) service.Hold {
			h := d.Hold
			h.Start, h.CreatedAt = h.Start.UTC(), h.CreatedAt.UTC()
			return h
		}, "holds")
}

// outboxDoc is an outbox message as stored. Messages queued or being sent
// form the send queue (index on state and next_attempt_at).
type outboxDoc struct {
	ID                    string `bson:"_id"`
	service.OutboxMessage `bson:",inline"`
}

func (d *outboxDoc) message() service.OutboxMessage {
	m := d.OutboxMessage
	m.NextAttempt, m.LeaseUntil, m.CreatedAt = m.NextAttempt.UTC(), m.LeaseUntil.UTC(), m.CreatedAt.UTC()
	if m.SentAt != nil {
		t := m.SentAt.UTC()
		m.SentAt = &t
	}
	return m
}

var onQueue = bson.D{{Key: "$in", Value: bson.A{service.MessageQueued, service.MessageSending}}}

// EnqueueMessage adds m to the outbox; a message already there is left as
// it is.
func (s *Store) EnqueueMessage(ctx context.Context, ms ...*service.OutboxMessage) error {
	if len(ms) == 0 {
		return nil
	}
	docs := make([]outboxDoc, len(ms))
	for i, m := range ms {
		docs[i] = outboxDoc{ID: m.ID, OutboxMessage: *m}
	}
	// Unordered: every new message is inserted even when others were
	// enqueued before (a move done again), whose duplicates are not errors.
	_, err := s.outbox.InsertMany(ctx, docs, options.InsertMany().SetOrdered(false))
	if onlyDuplicates(err) {
		return nil
	}
	return translate(err, "outbox message")
}

// onlyDuplicates reports whether err is a bulk insert's, every one of its
// failures a duplicate key.
func onlyDuplicates(err error) bool {
	var bwe mongo.BulkWriteException
	if !errors.As(err, &bwe) {
		return isDuplicate(err)
	}
	if bwe.WriteConcernError != nil || len(bwe.WriteErrors) == 0 {
		return false
	}
	for _, we := range bwe.WriteErrors {
		if we.Code != 11000 && !strings.Contains(we.Message, "UNIQUE constraint failed") {
			return false
		}
	}
	return true
}

// ClaimMessage leases the message due soonest to owner with one
// findAndModify: its state becomes sending and its attempts go up by one.
func (s *Store) ClaimMessage(ctx context.Context, owner string, now time.Time, lease time.Duration) (*service.OutboxMessage, error) {
	filter := bson.D{
		{Key: "state", Value: onQueue},
		{Key: "next_attempt_at", Value: bson.D{{Key: "$lte", Value: now}}},
		{Key: "lease_until", Value: bson.D{{Key: "$lte", Value: now}}},
	}
	update := bson.D{
		{Key: "$set", Value: bson.D{{Key: "state", Value: service.MessageSending}, {Key: "lease_owner", Value: owner}, {Key: "lease_until", Value: now.Add(lease)}}},
		{Key: "$inc", Value: bson.D{{Key: "attempts", Value: 1}}},
	}
	opts := options.FindOneAndUpdate().SetSort(bson.D{{Key: "next_attempt_at", Value: 1}}).SetReturnDocument(options.After)
	var d outboxDoc
	if err := s.outbox.FindOneAndUpdate(ctx, filter, update, opts).Decode(&d); errors.Is(err, mongo.ErrNoDocuments) {
		return nil, service.Errorf(service.ENOTFOUND, "no outbox message is due")
	} else if err != nil {
		return nil, translate(err, "outbox message")
	}
	m := d.message()
	return &m, nil
}

// UpdateMessage records m if owner still holds its lease: one replace
// whose filter is the id, the owner, and the message still on the queue.
func (s *Store) UpdateMessage(ctx context.Context, m *service.OutboxMessage, owner string) error {
	stored := *m
	stored.LeaseOwner = owner
	res, err := s.outbox.ReplaceOne(ctx, bson.D{{Key: "_id", Value: m.ID}, {Key: "lease_owner", Value: owner}, {Key: "attempts", Value: m.Attempts}, {Key: "state", Value: onQueue}},
		outboxDoc{ID: m.ID, OutboxMessage: stored})
	if err != nil {
		return translate(err, "outbox message")
	}
	if res.MatchedCount == 0 {
		return missed(ctx, s.outbox, m.ID, "outbox message", "the lease on message "+m.ID+" was lost")
	}
	return nil
}

// SupersedeMessage marks a queued message no sender holds superseded.
func (s *Store) SupersedeMessage(ctx context.Context, id string, now time.Time) error {
	_, err := s.outbox.UpdateOne(ctx, bson.D{{Key: "_id", Value: id}, {Key: "state", Value: onQueue}, {Key: "lease_until", Value: bson.D{{Key: "$lte", Value: now}}}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "state", Value: service.MessageSuperseded}}}})
	return translate(err, "outbox message")
}

// RequeueMessage puts a failed message back on the send queue, due now,
// with no attempts and no lease.
func (s *Store) RequeueMessage(ctx context.Context, id string, now time.Time) error {
	res, err := s.outbox.UpdateOne(ctx, bson.D{{Key: "_id", Value: id}, {Key: "state", Value: service.MessageFailed}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "state", Value: service.MessageQueued}, {Key: "next_attempt_at", Value: now},
			{Key: "attempts", Value: 0}, {Key: "lease_owner", Value: ""}, {Key: "lease_until", Value: time.Time{}}}}})
	if err != nil {
		return translate(err, "outbox message")
	}
	if res.MatchedCount == 0 {
		return missed(ctx, s.outbox, id, "outbox message", "message "+id+" has not failed: only a failed message is re-queued")
	}
	return nil
}

// Messages returns the messages with the ids, in that order.
func (s *Store) Messages(ctx context.Context, ids []string) ([]service.OutboxMessage, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	found, err := findAll(ctx, s.outbox, bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: ids}}}}, options.Find(),
		(*outboxDoc).message, "outbox")
	if err != nil {
		return nil, err
	}
	byID := make(map[string]service.OutboxMessage, len(found))
	for _, m := range found {
		byID[m.ID] = m
	}
	out := make([]service.OutboxMessage, 0, len(ids))
	for _, id := range ids {
		if m, ok := byID[id]; ok {
			out = append(out, m)
		}
	}
	return out, nil
}

// OutboxStats counts messages by state (every state, zeros included) and
// gives the creation time of the oldest message on the send queue.
func (s *Store) OutboxStats(ctx context.Context) (service.OutboxStats, error) {
	st := service.OutboxStats{ByState: map[service.MessageState]int{}}
	for _, state := range []service.MessageState{service.MessageQueued, service.MessageSending, service.MessageSent, service.MessageFailed, service.MessageSuperseded} {
		n, err := s.outbox.CountDocuments(ctx, bson.D{{Key: "state", Value: state}})
		if err != nil {
			return st, translate(err, "outbox")
		}
		st.ByState[state] = int(n)
	}
	var oldest struct {
		CreatedAt time.Time `bson:"created_at"`
	}
	err := s.outbox.FindOne(ctx, bson.D{{Key: "state", Value: onQueue}},
		options.FindOne().SetSort(bson.D{{Key: "created_at", Value: 1}}).SetProjection(bson.D{{Key: "created_at", Value: 1}})).Decode(&oldest)
	if err != nil && !errors.Is(err, mongo.ErrNoDocuments) {
		return st, translate(err, "outbox")
	}
	if err == nil {
		st.OldestQueued = oldest.CreatedAt.UTC()
	}
	return st, nil
}

// AcquireLease takes or renews a named lease: an update whose filter is
// the owner or a lapsed lease, or, for a lease not yet stored, an insert
// that the unique _id lets only one owner make.
func (s *Store) AcquireLease(ctx context.Context, name, owner string, now time.Time, ttl time.Duration) (bool, error) {
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
	if isDuplicate(err) {
		return false, nil
	}
	return err == nil, translate(err, "lease")
}

// ReleaseLease gives up a lease owner holds.
func (s *Store) ReleaseLease(ctx context.Context, name, owner string) error {
	_, err := s.leases.DeleteOne(ctx, bson.D{{Key: "_id", Value: name}, {Key: "owner", Value: owner}})
	return translate(err, "lease")
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
	return findAll(ctx, s.inbound, filter, options.Find().SetSort(bson.D{{Key: "_id", Value: -1}}).SetLimit(int64(max(limit, 0))),
		func(d *inboundDoc) service.InboundRecord {
			r := d.InboundRecord
			r.At = r.At.UTC()
			return r
		}, "inbound records")
}
