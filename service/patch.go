package service

import (
	"bytes"
	"encoding/json"
	"time"
)

// head returns a copy of d with only its own fields: the element lists,
// timeline, pending messages, outbox index and bookkeeping left out. Two
// discussions with equal heads differ at most in those.
func (d *Discussion) head() *Discussion {
	h := *d
	h.Invitees, h.CheckIns, h.Counters, h.HeldReplies = nil, nil, nil, nil
	h.Timeline, h.Pending, h.Outbox = nil, nil, nil
	h.UpdatedAt, h.Version = time.Time{}, 0
	return &h
}

// Numbered sets what a new discussion is stored with: Version 1, every
// element at Rev 1 and its timeline's events numbered from 1. Stores call
// it in CreateDiscussion.
func (d *Discussion) Numbered() {
	d.Version = 1
	for i := range d.Invitees {
		d.Invitees[i].Rev = 1
	}
	for i := range d.CheckIns {
		d.CheckIns[i].Rev = 1
	}
	for i := range d.Counters {
		d.Counters[i].Rev = 1
	}
	for i := range d.HeldReplies {
		d.HeldReplies[i].Rev = 1
	}
	for i := range d.Timeline {
		d.Timeline[i].Seq = int64(i + 1)
	}
}

// Clone returns a deep copy of d, so a transition can be compared with what
// was loaded.
func (d *Discussion) Clone() *Discussion {
	b, err := json.Marshal(d)
	if err != nil {
		panic("service: discussion does not encode: " + err.Error())
	}
	var c Discussion
	if err := json.Unmarshal(b, &c); err != nil {
		panic("service: discussion does not decode: " + err.Error())
	}
	return &c
}

// Diff returns the patch that turns before (as loaded) into after (as
// changed in memory by a transition): the head if any of its fields
// changed, each element that changed or was appended, the timeline events,
// and the pending messages added. It sets the new Rev on each element it
// writes, in after too.
func Diff(before, after *Discussion, at time.Time) *DiscussionPatch {
	p := &DiscussionPatch{ID: before.ID, Version: before.Version, At: at}
	if !sameJSON(before.head(), after.head()) {
		p.Head = after.head()
	}
	p.Invitees = diffList(before.Invitees, after.Invitees, func(v *Invitee) (string, *int64) { return v.Email, &v.Rev })
	p.CheckIns = diffList(before.CheckIns, after.CheckIns, func(v *CheckIn) (string, *int64) { return v.ID, &v.Rev })
	p.Counters = diffList(before.Counters, after.Counters, func(v *Counter) (string, *int64) { return v.ID, &v.Rev })
	p.HeldReplies = diffList(before.HeldReplies, after.HeldReplies, func(v *HeldReply) (string, *int64) { return v.ID, &v.Rev })
	if n := len(before.Timeline); len(after.Timeline) > n {
		p.Events = append(p.Events, after.Timeline[n:]...)
	}
	had := make(map[string]bool, len(before.Pending))
	for _, m := range before.Pending {
		had[m.ID] = true
	}
	for _, m := range after.Pending {
		if !had[m.ID] {
			p.AddPending = append(p.AddPending, m)
		}
	}
	return p
}

// diffList compares an element list element by element. Lists only grow,
// so an element at an index is the same element before and after.
func diffList[T any](before, after []T, keyRev func(*T) (string, *int64)) []Element[T] {
	var out []Element[T]
	for i := range after {
		key, rev := keyRev(&after[i])
		if i >= len(before) {
			*rev = 1
			out = append(out, Element[T]{Index: i, Key: key, Append: true, Value: after[i]})
			continue
		}
		if sameJSON(before[i], after[i]) {
			continue
		}
		_, old := keyRev(&before[i])
		*rev = *old + 1
		out = append(out, Element[T]{Index: i, Key: key, Rev: *old, Value: after[i]})
	}
	return out
}

func sameJSON(a, b any) bool {
	x, err1 := json.Marshal(a)
	y, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && bytes.Equal(x, y)
}
