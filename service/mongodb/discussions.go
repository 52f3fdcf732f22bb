package mongodb

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/convene/convene/service"
)

// discussionDoc is one discussion as stored: its own fields under head,
// the ones queries filter and sort on beside it, its element lists, pending
// messages and outbox index as arrays, and fields derived for the filters.
//
// x_participants, x_agencies and x_chair run parallel to invitees: at each
// invitee's index, their email, agency and (for the chair) email again, or
// "" once removed. A patch that writes invitee i writes index i of each, so
// they follow the invitees without reading the document. x_events counts
// the timeline's events (the last seq), x_pending the pending messages.
type discussionDoc struct {
	ID            string    `bson:"_id"`
	Version       int64     `bson:"version"`
	UID           string    `bson:"uid"`
	Status        string    `bson:"status"`
	Deadline      time.Time `bson:"deadline"`
	CaseReference string    `bson:"case_reference"`
	Breached      bool      `bson:"breached"`
	AtRisk        bool      `bson:"at_risk"`
	UpdatedAt     time.Time `bson:"updated_at"`

	Head        service.Discussion       `bson:"head"`
	Invitees    []service.Invitee        `bson:"invitees"`
	CheckIns    []service.CheckIn        `bson:"check_ins"`
	Counters    []service.Counter        `bson:"counters"`
	HeldReplies []service.HeldReply      `bson:"held_replies"`
	Pending     []service.PendingMessage `bson:"pending"`
	Outbox      []service.MessageRef     `bson:"outbox"`

	Participants []string `bson:"x_participants"`
	Agencies     []string `bson:"x_agencies"`
	Chairs       []string `bson:"x_chair"`
	Events       int64    `bson:"x_events"`
	PendingCount int      `bson:"x_pending"`
}

// eventDoc is one timeline event, in its own collection: _id is the
// discussion's id and the zero-padded seq.
type eventDoc struct {
	ID            string `bson:"_id"`
	DiscussionID  string `bson:"discussion_id"`
	service.Event `bson:",inline"`
}

func eventID(discussionID string, seq int64) string {
	return fmt.Sprintf("%s/%012d", discussionID, seq)
}

// list is an element list: its array and the field that is an element's
// key in it.
type list struct{ field, key string }

var (
	invitees    = list{"invitees", "email"}
	checkIns    = list{"check_ins", "id"}
	counters    = list{"counters", "id"}
	heldReplies = list{"held_replies", "id"}
)

// derived is what an invitee contributes to the filter arrays.
type derived struct{ participant, agency, chair string }

func derive(inv *service.Invitee) derived {
	if inv.Removed {
		return derived{}
	}
	d := derived{participant: inv.Email, agency: string(inv.Agency)}
	if inv.Chair {
		d.chair = inv.Email
	}
	return d
}

// head returns d's own fields: the lists, timeline, pending messages,
// outbox, version and update time live beside them.
func head(d *service.Discussion, id string) service.Discussion {
	h := *d
	h.ID = id
	h.Invitees, h.CheckIns, h.Counters, h.HeldReplies = nil, nil, nil, nil
	h.Timeline, h.Pending, h.Outbox = nil, nil, nil
	h.Version, h.UpdatedAt = 0, time.Time{}
	return h
}

func orEmpty[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func toDiscussionDoc(d *service.Discussion) *discussionDoc {
	doc := &discussionDoc{
		ID: d.ID, Version: d.Version, UID: d.UID, Status: string(d.Status), Deadline: d.Deadline,
		CaseReference: d.CaseReference, Breached: d.Breach != nil, AtRisk: d.AtRisk, UpdatedAt: d.UpdatedAt,
		Head:     head(d, d.ID),
		Invitees: orEmpty(d.Invitees), CheckIns: orEmpty(d.CheckIns), Counters: orEmpty(d.Counters),
		HeldReplies: orEmpty(d.HeldReplies), Pending: orEmpty(d.Pending), Outbox: orEmpty(d.Outbox),
		Participants: []string{}, Agencies: []string{}, Chairs: []string{},
		Events: int64(len(d.Timeline)), PendingCount: len(d.Pending),
	}
	for i := range d.Invitees {
		x := derive(&d.Invitees[i])
		doc.Participants = append(doc.Participants, x.participant)
		doc.Agencies = append(doc.Agencies, x.agency)
		doc.Chairs = append(doc.Chairs, x.chair)
	}
	return doc
}

func nilIfEmpty[T any](s []T) []T {
	if len(s) == 0 {
		return nil
	}
	return s
}

// discussion puts the stored discussion together, but for its timeline.
func (doc *discussionDoc) discussion() service.Discussion {
	d := doc.Head
	d.ID, d.Version, d.UpdatedAt = doc.ID, doc.Version, doc.UpdatedAt
	d.Invitees, d.CheckIns, d.Counters = nilIfEmpty(doc.Invitees), nilIfEmpty(doc.CheckIns), nilIfEmpty(doc.Counters)
	d.HeldReplies, d.Pending, d.Outbox = nilIfEmpty(doc.HeldReplies), nilIfEmpty(doc.Pending), nilIfEmpty(doc.Outbox)
	d.Timeline = nil
	return d
}

// CreateDiscussion inserts d at Version 1 with every element at Rev 1, then
// its Timeline as events 1…n (setting those on d). An id or UID already
// taken is ECONFLICT. The events are written after the discussion, not
// atomically with it.
func (s *Store) CreateDiscussion(ctx context.Context, d *service.Discussion) error {
	d.Numbered()
	if _, err := s.discussions.InsertOne(ctx, toDiscussionDoc(d)); isDuplicate(err) {
		return &service.Error{Code: service.ECONFLICT, Message: "a discussion with this id or UID already exists", Err: err}
	} else if err != nil {
		return translate(err, "discussion")
	}
	return s.insertEvents(ctx, d.ID, d.Timeline)
}

// insertEvents writes events whose Seq is set. An event already there
// (a retried write) is left as it is.
func (s *Store) insertEvents(ctx context.Context, id string, evs []service.Event) error {
	if len(evs) == 0 {
		return nil
	}
	docs := make([]any, len(evs))
	for i, e := range evs {
		docs[i] = eventDoc{ID: eventID(id, e.Seq), DiscussionID: id, Event: e}
	}
	_, err := s.events.InsertMany(ctx, docs, options.InsertMany().SetOrdered(false))
	var bwe mongo.BulkWriteException
	if errors.As(err, &bwe) && bwe.WriteConcernError == nil && !slices.ContainsFunc(bwe.WriteErrors, func(e mongo.BulkWriteError) bool { return !isDuplicate(e) }) {
		return nil
	}
	if err != nil {
		return &service.Error{Code: service.EUNAVAILABLE, Message: "the change was saved but its timeline events were not",
			Err: fmt.Errorf("discussion %s events: %w", id, err)}
	}
	return nil
}

// Discussion returns the discussion with its newest TimelineWindow events.
func (s *Store) Discussion(ctx context.Context, id string) (*service.Discussion, error) {
	var doc discussionDoc
	if err := s.discussions.FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&doc); err != nil {
		return nil, translate(err, "discussion")
	}
	ds, err := s.withTimelines(ctx, []discussionDoc{doc})
	if err != nil {
		return nil, err
	}
	return &ds[0], nil
}

// DiscussionOutbox reads the discussion's outbox index alone (a
// projection).
func (s *Store) DiscussionOutbox(ctx context.Context, id string) ([]service.MessageRef, error) {
	var doc struct {
		Outbox []service.MessageRef `bson:"outbox"`
	}
	err := s.discussions.FindOne(ctx, bson.D{{Key: "_id", Value: id}}, options.FindOne().SetProjection(bson.D{{Key: "outbox", Value: 1}})).Decode(&doc)
	if err != nil {
		return nil, translate(err, "discussion")
	}
	return doc.Outbox, nil
}

// withTimelines puts the discussions together with the newest
// TimelineWindow events of each, read with one query.
func (s *Store) withTimelines(ctx context.Context, docs []discussionDoc) ([]service.Discussion, error) {
	out := make([]service.Discussion, len(docs))
	at := make(map[string]*service.Discussion, len(docs))
	var or bson.A
	for i := range docs {
		out[i] = docs[i].discussion()
		at[docs[i].ID] = &out[i]
		if docs[i].Events > 0 {
			or = append(or, bson.D{{Key: "discussion_id", Value: docs[i].ID},
				{Key: "seq", Value: bson.D{{Key: "$gt", Value: docs[i].Events - service.TimelineWindow}}}})
		}
	}
	if len(or) == 0 {
		return out, nil
	}
	filter := bson.D{{Key: "$or", Value: or}}
	if len(or) == 1 {
		filter = or[0].(bson.D)
	}
	cur, err := s.events.Find(ctx, filter, options.Find().SetSort(bson.D{{Key: "discussion_id", Value: 1}, {Key: "seq", Value: 1}}))
	if err != nil {
		return nil, translate(err, "timeline")
	}
	var evs []eventDoc
	if err := cur.All(ctx, &evs); err != nil {
		return nil, translate(err, "timeline")
	}
	for _, e := range evs {
		if d := at[e.DiscussionID]; d != nil {
			d.Timeline = append(d.Timeline, e.Event)
		}
	}
	return out, nil
}

// Discussions lists discussions matching f by deadline, then id.
func (s *Store) Discussions(ctx context.Context, f service.DiscussionFilter) ([]service.Discussion, error) {
	if len(f.IDs) > 0 {
		ids := make(bson.A, len(f.IDs))
		for i, id := range f.IDs {
			ids[i] = id
		}
		filter := bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: ids}}}}
		if f.Summary {
			return s.findSummaries(ctx, filter, options.Find())
		}
		return s.findDiscussions(ctx, filter, options.Find())
	}
	var and bson.A
	add := func(k string, v any) { and = append(and, bson.D{{Key: k, Value: v}}) }
	if len(f.Status) > 0 {
		add("status", bson.D{{Key: "$in", Value: f.Status}})
	}
	if !f.DueBefore.IsZero() {
		add("deadline", bson.D{{Key: "$lt", Value: f.DueBefore}})
	}
	if !f.DeadlineFrom.IsZero() {
		add("deadline", bson.D{{Key: "$gte", Value: f.DeadlineFrom}})
	}
	if f.ChairEmail != "" {
		add("x_chair", f.ChairEmail)
	}
	if f.VisibleTo != "" {
		add("x_participants", f.VisibleTo)
	}
	if f.Agency != "" {
		add("x_agencies", string(f.Agency))
	}
	if f.CaseReference != "" {
		add("case_reference", f.CaseReference)
	}
	if f.Breached != nil {
		add("breached", *f.Breached)
	}
	if f.AtRisk != nil {
		add("at_risk", *f.AtRisk)
	}
	if f.FollowOnBreach != nil {
		if *f.FollowOnBreach {
			add("head.follow_on_breach", bson.D{{Key: "$ne", Value: nil}})
		} else {
			add("head.follow_on_breach", nil)
		}
	}
	if f.AfterID != "" || !f.AfterDeadline.IsZero() {
		add("$or", bson.A{
			bson.D{{Key: "deadline", Value: bson.D{{Key: "$gt", Value: f.AfterDeadline}}}},
			bson.D{{Key: "deadline", Value: f.AfterDeadline}, {Key: "_id", Value: bson.D{{Key: "$gt", Value: f.AfterID}}}},
		})
	}
	filter := bson.D{}
	if len(and) > 0 {
		filter = bson.D{{Key: "$and", Value: and}}
	}
	opts := options.Find().SetSort(bson.D{{Key: "deadline", Value: 1}, {Key: "_id", Value: 1}}).SetLimit(int64(max(f.Limit, 0)))
	if f.Summary {
		return s.findSummaries(ctx, filter, opts)
	}
	return s.findDiscussions(ctx, filter, opts)
}

// findSummaries is findDiscussions without the timelines.
func (s *Store) findSummaries(ctx context.Context, filter bson.D, opts *options.FindOptionsBuilder) ([]service.Discussion, error) {
	cur, err := s.discussions.Find(ctx, filter, opts)
	if err != nil {
		return nil, translate(err, "discussions")
	}
	var docs []discussionDoc
	if err := cur.All(ctx, &docs); err != nil {
		return nil, translate(err, "discussions")
	}
	out := make([]service.Discussion, len(docs))
	for i := range docs {
		out[i] = docs[i].discussion()
	}
	return out, nil
}

func (s *Store) findDiscussions(ctx context.Context, filter bson.D, opts *options.FindOptionsBuilder) ([]service.Discussion, error) {
	cur, err := s.discussions.Find(ctx, filter, opts)
	if err != nil {
		return nil, translate(err, "discussions")
	}
	var docs []discussionDoc
	if err := cur.All(ctx, &docs); err != nil {
		return nil, translate(err, "discussions")
	}
	if len(docs) == 0 {
		return nil, nil
	}
	return s.withTimelines(ctx, docs)
}

// DiscussionsWithPending lists discussions whose messages are not yet in
// the outbox.
func (s *Store) DiscussionsWithPending(ctx context.Context, limit int) ([]service.Discussion, error) {
	return s.findDiscussions(ctx, bson.D{{Key: "x_pending", Value: bson.D{{Key: "$gt", Value: 0}}}},
		options.Find().SetSort(bson.D{{Key: "_id", Value: 1}}).SetLimit(int64(max(limit, 0))))
}

// Timeline pages through a discussion's events, newest first, before the
// sequence number given (0: from the newest).
func (s *Store) Timeline(ctx context.Context, discussionID string, before int64, limit int) ([]service.Event, error) {
	if before <= 0 {
		before = math.MaxInt64
	}
	evs, err := findAll(ctx, s.events, bson.D{{Key: "discussion_id", Value: discussionID}, {Key: "seq", Value: bson.D{{Key: "$lt", Value: before}}}},
		options.Find().SetSort(bson.D{{Key: "discussion_id", Value: 1}, {Key: "seq", Value: -1}}).SetLimit(int64(max(limit, 0))),
		func(d *eventDoc) service.Event { return d.Event }, "timeline")
	if err != nil || len(evs) > 0 {
		return evs, err
	}
	if ok, err := exists(ctx, s.discussions, discussionID); err != nil {
		return nil, translate(err, "discussion")
	} else if !ok {
		return nil, service.Errorf(service.ENOTFOUND, "discussion %s not found", discussionID)
	}
	return nil, nil
}

// change is one element a patch writes.
type change struct {
	list   list
	idx    int
	key    string
	rev    int64 // as loaded
	append bool
	value  any // with its new Rev
	inv    *service.Invitee
}

func changes[T any](l list, es []service.Element[T], setRev func(*T, int64), inv func(*T) *service.Invitee) []change {
	out := make([]change, 0, len(es))
	for _, e := range es {
		v := e.Value
		rev := e.Rev + 1
		if e.Append {
			rev = 1
		}
		setRev(&v, rev)
		c := change{list: l, idx: e.Index, key: e.Key, rev: e.Rev, append: e.Append, value: v}
		if inv != nil {
			c.inv = inv(&v)
		}
		out = append(out, c)
	}
	return out
}

// patchPlan is a DiscussionPatch made ready to write.
type patchPlan struct {
	p      *service.DiscussionPatch
	byList [][]change // per list with changes, in a fixed order
	// mixed lists have updates and appends in one patch: MongoDB refuses
	// $set of an element and $push to its array in one update, so their
	// appends are $set at the positions after the list's current end.
	mixed   map[string]bool
	readPen bool // pending messages are moved: their stored form is read
}

func newPatchPlan(p *service.DiscussionPatch) (*patchPlan, error) {
	pl := &patchPlan{p: p, mixed: map[string]bool{}, readPen: len(p.MovedPending) > 0}
	for _, cs := range [][]change{
		changes(invitees, p.Invitees, func(v *service.Invitee, r int64) { v.Rev = r }, func(v *service.Invitee) *service.Invitee { return v }),
		changes(checkIns, p.CheckIns, func(v *service.CheckIn, r int64) { v.Rev = r }, nil),
		changes(counters, p.Counters, func(v *service.Counter, r int64) { v.Rev = r }, nil),
		changes(heldReplies, p.HeldReplies, func(v *service.HeldReply, r int64) { v.Rev = r }, nil),
	} {
		if len(cs) == 0 {
			continue
		}
		var ups, apps int
		keys := map[string]bool{}
		for _, c := range cs {
			if !c.append {
				ups++
				continue
			}
			apps++
			if keys[c.key] {
				return nil, service.Errorf(service.ECONFLICT, "%s: %q is appended twice", c.list.field, c.key)
			}
			keys[c.key] = true
		}
		if ups > 0 && apps > 0 {
			pl.mixed[cs[0].list.field] = true
		}
		pl.byList = append(pl.byList, cs)
	}
	seen := map[string]bool{}
	for _, m := range p.AddPending {
		if seen[m.ID] {
			return nil, service.Errorf(service.ECONFLICT, "message %s is already pending", m.ID)
		}
		seen[m.ID] = true
	}
	return pl, nil
}

// current is what a plan needs read from the stored discussion first.
type current struct {
	lens    map[string]int
	pending []bson.Raw
}

func (pl *patchPlan) needsRead() bool { return len(pl.mixed) > 0 || pl.readPen }

func (s *Store) readCurrent(ctx context.Context, pl *patchPlan) (*current, error) {
	proj := bson.D{{Key: "_id", Value: 1}}
	for f := range pl.mixed {
		proj = append(proj, bson.E{Key: f, Value: 1})
	}
	if pl.readPen {
		proj = append(proj, bson.E{Key: "pending", Value: 1})
	}
	var raw bson.Raw
	err := s.discussions.FindOne(ctx, bson.D{{Key: "_id", Value: pl.p.ID}}, options.FindOne().SetProjection(proj)).Decode(&raw)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return nil, service.Errorf(service.ENOTFOUND, "discussion %s not found", pl.p.ID)
	} else if err != nil {
		return nil, translate(err, "discussion")
	}
	cur := &current{lens: map[string]int{}}
	for f := range pl.mixed {
		vs, err := arrayOf(raw, f)
		if err != nil {
			return nil, err
		}
		cur.lens[f] = len(vs)
	}
	if pl.readPen {
		vs, err := arrayOf(raw, "pending")
		if err != nil {
			return nil, err
		}
		for _, v := range vs {
			cur.pending = append(cur.pending, v.Document())
		}
	}
	return cur, nil
}

func arrayOf(doc bson.Raw, field string) ([]bson.RawValue, error) {
	v, err := doc.LookupErr(field)
	if err != nil {
		return nil, nil // no such array yet: empty
	}
	a, ok := v.ArrayOK()
	if !ok {
		return nil, service.Internal(fmt.Errorf("%s is %s, not an array", field, v.Type), "read discussion")
	}
	vs, err := a.Values()
	if err != nil {
		return nil, service.Internal(err, "read discussion")
	}
	return vs, nil
}

func path(parts ...any) string {
	s := ""
	for i, p := range parts {
		if i > 0 {
			s += "."
		}
		switch p := p.(type) {
		case string:
			s += p
		case int:
			s += strconv.Itoa(p)
		}
	}
	return s
}

// build makes the update's filter and its operators.
func (pl *patchPlan) build(cur *current) (filter, update bson.D, err error) {
	p := pl.p
	filter = bson.D{{Key: "_id", Value: p.ID}, {Key: "version", Value: p.Version}}
	var nor bson.A
	set := bson.D{{Key: "updated_at", Value: p.At}}
	var push, inc, pullAll bson.D
	if h := p.Head; h != nil {
		set = append(set,
			bson.E{Key: "head", Value: head(h, p.ID)},
			bson.E{Key: "uid", Value: h.UID},
			bson.E{Key: "status", Value: string(h.Status)},
			bson.E{Key: "deadline", Value: h.Deadline},
			bson.E{Key: "case_reference", Value: h.CaseReference},
			bson.E{Key: "breached", Value: h.Breach != nil},
			bson.E{Key: "at_risk", Value: h.AtRisk})
		inc = append(inc, bson.E{Key: "version", Value: 1})
	}
	for _, cs := range pl.byList {
		l := cs[0].list
		end := -1 // where the next append goes, for a mixed list
		if pl.mixed[l.field] {
			end = cur.lens[l.field]
			// The list is exactly end long: nothing at end, something
			// just before it.
			filter = append(filter, bson.E{Key: path(l.field, end), Value: bson.D{{Key: "$exists", Value: false}}})
			if end > 0 {
				filter = append(filter, bson.E{Key: path(l.field, end-1), Value: bson.D{{Key: "$exists", Value: true}}})
			}
		}
		var pushed, xp, xa, xc bson.A
		for _, c := range cs {
			idx := c.idx
			if c.append {
				// FerretDB v1 ignores $ne and $nin on a path into an
				// array of documents; $nor of an equality works on both.
				nor = append(nor, bson.D{{Key: path(l.field, l.key), Value: c.key}})
				if end < 0 {
					pushed = append(pushed, c.value)
					if c.inv != nil {
						x := derive(c.inv)
						xp, xa, xc = append(xp, x.participant), append(xa, x.agency), append(xc, x.chair)
					}
					continue
				}
				idx = end
				end++
			} else {
				filter = append(filter,
					bson.E{Key: path(l.field, idx, "rev"), Value: c.rev},
					bson.E{Key: path(l.field, idx, l.key), Value: c.key})
			}
			set = append(set, bson.E{Key: path(l.field, idx), Value: c.value})
			if c.inv != nil {
				x := derive(c.inv)
				set = append(set,
					bson.E{Key: path("x_participants", idx), Value: x.participant},
					bson.E{Key: path("x_agencies", idx), Value: x.agency},
					bson.E{Key: path("x_chair", idx), Value: x.chair})
			}
		}
		if len(pushed) > 0 {
			each := func(a bson.A) bson.D { return bson.D{{Key: "$each", Value: a}} }
			push = append(push, bson.E{Key: l.field, Value: each(pushed)})
			if l == invitees {
				push = append(push, bson.E{Key: "x_participants", Value: each(xp)},
					bson.E{Key: "x_agencies", Value: each(xa)}, bson.E{Key: "x_chair", Value: each(xc)})
			}
		}
	}
	if n := len(p.Events); n > 0 {
		inc = append(inc, bson.E{Key: "x_events", Value: n})
	}
	if err := pl.buildPending(cur, &filter, &nor, &set, &push, &pullAll); err != nil {
		return nil, nil, err
	}
	if d := len(p.AddPending) - len(p.MovedPending); d != 0 {
		inc = append(inc, bson.E{Key: "x_pending", Value: d})
	}
	if len(nor) > 0 {
		filter = append(filter, bson.E{Key: "$nor", Value: nor})
	}
	update = bson.D{{Key: "$set", Value: set}}
	for _, op := range []struct {
		name string
		d    bson.D
	}{{"$push", push}, {"$inc", inc}, {"$pullAll", pullAll}} {
		if len(op.d) > 0 {
			update = append(update, bson.E{Key: op.name, Value: op.d})
		}
	}
	return filter, update, nil
}

// buildPending adds the pending messages' changes. FerretDB v1's $pull
// removes only elements equal to its value (no conditions, so not "the
// element whose id is X"), so moved messages are pulled with $pullAll of
// their stored form, read just before; the filter checks they are still
// pending. Adding and moving in one patch would $push and $pullAll one
// array, which MongoDB refuses: the array is then $set whole, guarded by
// its stored value.
func (pl *patchPlan) buildPending(cur *current, filter *bson.D, nor *bson.A, set, push, pullAll *bson.D) error {
	p := pl.p
	refs := make(bson.A, len(p.MovedPending))
	for i, r := range p.MovedPending {
		refs[i] = r
	}
	if len(refs) > 0 {
		*push = append(*push, bson.E{Key: "outbox", Value: bson.D{{Key: "$each", Value: refs}}})
	}
	if len(p.MovedPending) == 0 {
		for _, m := range p.AddPending {
			*nor = append(*nor, bson.D{{Key: "pending.id", Value: m.ID}})
		}
		if len(p.AddPending) > 0 {
			added := make(bson.A, len(p.AddPending))
			for i, m := range p.AddPending {
				added[i] = m
			}
			*push = append(*push, bson.E{Key: "pending", Value: bson.D{{Key: "$each", Value: added}}})
		}
		return nil
	}
	stored := map[string]bson.Raw{}
	for _, r := range cur.pending {
		id, _ := r.Lookup("id").StringValueOK()
		stored[id] = r
	}
	moved := map[string]bool{}
	var ids, raws bson.A
	for _, r := range p.MovedPending {
		raw, ok := stored[r.ID]
		if !ok || moved[r.ID] {
			return service.Errorf(service.ECONFLICT, "message %s is no longer pending", r.ID)
		}
		moved[r.ID] = true
		ids, raws = append(ids, r.ID), append(raws, raw)
	}
	if len(p.AddPending) == 0 {
		// Each still pending: an $and of equalities, since FerretDB v1
		// matches $all on a path into an array of documents only for a
		// single value.
		var all bson.A
		for _, id := range ids {
			all = append(all, bson.D{{Key: "pending.id", Value: id}})
		}
		*filter = append(*filter, bson.E{Key: "$and", Value: all})
		*pullAll = append(*pullAll, bson.E{Key: "pending", Value: raws})
		return nil
	}
	was, now := bson.A{}, bson.A{}
	for _, r := range cur.pending {
		was = append(was, r)
		if id, _ := r.Lookup("id").StringValueOK(); !moved[id] {
			now = append(now, r)
		}
	}
	for _, m := range p.AddPending {
		if _, ok := stored[m.ID]; ok {
			return service.Errorf(service.ECONFLICT, "message %s is already pending", m.ID)
		}
		now = append(now, m)
	}
	*filter = append(*filter, bson.E{Key: "pending", Value: was})
	*set = append(*set, bson.E{Key: "pending", Value: now})
	return nil
}

// maxPatchAttempts bounds the retries of a patch whose own guards held but
// whose positions (a list's end, the pending messages) moved on between
// the read and the write.
const maxPatchAttempts = 20

// PatchDiscussion applies p with one update of the discussion's document.
// Its filter guards the version, each written element's key and revision
// (<list>.<index>.<key> and .rev) and, for appends, that no element of the
// list has the key; $set writes updated elements (and the head, which also
// increments the version), $push with $each appends, $inc counts the
// events. A patch that updates and appends in one list, or moves pending
// messages, first reads the list's length or the pending messages, and the
// filter checks those too.
//
// The timeline's events are written to their collection right after the
// discussion's update, not atomically with it: the update numbers them
// (x_events), and a failure between the two leaves a gap in the timeline,
// reported as EUNAVAILABLE.
func (s *Store) PatchDiscussion(ctx context.Context, p *service.DiscussionPatch) error {
	pl, err := newPatchPlan(p)
	if err != nil {
		return err
	}
	for attempt := 1; ; attempt++ {
		var cur *current
		if pl.needsRead() {
			if cur, err = s.readCurrent(ctx, pl); err != nil {
				return err
			}
		}
		filter, update, err := pl.build(cur)
		if err != nil {
			return err
		}
		matched, last, err := s.update(ctx, filter, update, len(p.Events) > 0)
		if err != nil {
			if isDuplicate(err) {
				return &service.Error{Code: service.ECONFLICT, Message: "another discussion has this UID", Err: err}
			}
			return translate(err, "discussion")
		}
		if matched {
			for i := range p.Events {
				p.Events[i].Seq = last - int64(len(p.Events)-1-i)
			}
			return s.insertEvents(ctx, p.ID, p.Events)
		}
		if err := s.whyNot(ctx, pl); err != nil {
			return err
		}
		if attempt == maxPatchAttempts {
			return service.Errorf(service.ECONFLICT, "the discussion is changing too fast; try again")
		}
	}
}

// update runs the patch's update; when it has events, as findAndModify,
// to learn the new event count.
func (s *Store) update(ctx context.Context, filter, update bson.D, events bool) (matched bool, last int64, err error) {
	if !events {
		res, err := s.discussions.UpdateOne(ctx, filter, update)
		if err != nil {
			return false, 0, err
		}
		return res.MatchedCount == 1, 0, nil
	}
	opts := options.FindOneAndUpdate().SetReturnDocument(options.After)
	if !s.ferret {
		// FerretDB v1 does not implement findAndModify's fields.
		opts.SetProjection(bson.D{{Key: "x_events", Value: 1}})
	}
	var got struct {
		Events int64 `bson:"x_events"`
	}
	err = s.discussions.FindOneAndUpdate(ctx, filter, update, opts).Decode(&got)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return false, 0, nil
	}
	return err == nil, got.Events, err
}

// whyNot explains an update that matched nothing: ENOTFOUND, or ECONFLICT
// naming the guard of the patch that fails now, or nil when they all hold
// (what the plan read moved on: try again).
func (s *Store) whyNot(ctx context.Context, pl *patchPlan) error {
	p := pl.p
	proj := bson.D{{Key: "version", Value: 1}, {Key: "pending", Value: 1}}
	for _, cs := range pl.byList {
		proj = append(proj, bson.E{Key: cs[0].list.field, Value: 1})
	}
	var raw bson.Raw
	err := s.discussions.FindOne(ctx, bson.D{{Key: "_id", Value: p.ID}}, options.FindOne().SetProjection(proj)).Decode(&raw)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return service.Errorf(service.ENOTFOUND, "discussion %s not found", p.ID)
	} else if err != nil {
		return translate(err, "discussion")
	}
	if v, _ := raw.Lookup("version").AsInt64OK(); v != p.Version {
		return service.Errorf(service.ECONFLICT, "the discussion was changed by someone else; reload it and try again")
	}
	for _, cs := range pl.byList {
		l := cs[0].list
		vs, err := arrayOf(raw, l.field)
		if err != nil {
			return err
		}
		keys := map[string]bool{}
		for _, v := range vs {
			k, _ := v.Document().Lookup(l.key).StringValueOK()
			keys[k] = true
		}
		for _, c := range cs {
			if c.append {
				if keys[c.key] {
					return service.Errorf(service.ECONFLICT, "%s: %q is already in the list", l.field, c.key)
				}
				continue
			}
			if c.idx < 0 || c.idx >= len(vs) {
				return service.Errorf(service.ECONFLICT, "%s has no element %d", l.field, c.idx)
			}
			el := vs[c.idx].Document()
			k, _ := el.Lookup(l.key).StringValueOK()
			rev, _ := el.Lookup("rev").AsInt64OK()
			if k != c.key || rev != c.rev {
				return service.Errorf(service.ECONFLICT, "%s %d (%s) was changed by someone else; reload it and try again", l.field, c.idx, c.key)
			}
		}
	}
	pending := map[string]bool{}
	vs, err := arrayOf(raw, "pending")
	if err != nil {
		return err
	}
	for _, v := range vs {
		id, _ := v.Document().Lookup("id").StringValueOK()
		pending[id] = true
	}
	for _, m := range p.AddPending {
		if pending[m.ID] {
			return service.Errorf(service.ECONFLICT, "message %s is already pending", m.ID)
		}
	}
	for _, r := range p.MovedPending {
		if !pending[r.ID] {
			return service.Errorf(service.ECONFLICT, "message %s is no longer pending", r.ID)
		}
	}
	return nil
}
