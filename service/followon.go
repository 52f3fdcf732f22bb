package service

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/convene/convene/service/policy"
)

// Follow-ons as work (issue 14): each deadline that follows a discussion
// (record circulated, ICPC, s47 completed, LADO referral, child seen,
// reconvene: DOMAIN.md "After the discussion", seeds 000 §7, 001, 002 §6,
// 003 §4, 004) has an owner, a due time and a state. It is met, with when,
// by whom and a note, by an audited action of the right role; the RECORD
// follow-on is met by circulating the record and the ICPC by recording the
// conference date. The deadline watch reminds the owner before it is due
// and, once it has passed unmet, marks it missed and flags the discussion.

// FollowOnState is where a follow-on is.
type FollowOnState string

// The states of a follow-on.
const (
	FollowOnOpen   FollowOnState = "open"
	FollowOnMet    FollowOnState = "met"
	FollowOnMissed FollowOnState = "missed"
)

// The follow-ons of the default profile that Convene treats specially.
const (
	FollowOnRecord = "RECORD"
	FollowOnICPC   = "ICPC"
)

// FollowOnOwner is who is answerable for a follow-on: an agency, and the
// person where known.
type FollowOnOwner struct {
	Agency policy.Agency `json:"agency"`
	Name   string        `json:"name,omitempty"`
	Email  string        `json:"email,omitempty"`
}

// state is the follow-on's state; follow-ons recorded before states had
// only Done.
func (f *FollowOn) state() FollowOnState {
	switch {
	case f.Done:
		return FollowOnMet
	case f.State != "":
		return f.State
	}
	return FollowOnOpen
}

// followOn returns the follow-on with the id, or nil.
func (d *Discussion) followOn(id string) *FollowOn {
	for i := range d.FollowOns {
		if d.FollowOns[i].ID == id {
			return &d.FollowOns[i]
		}
	}
	return nil
}

// assignFollowOnOwners gives each follow-on without one its owner and its
// open state. Every default follow-on is children's social care's work
// (the seeds put the record, the conference, the enquiry, the LADO
// referral and the reconvening on CSC: 000 §2, §7; 001; 003 §4): the chair,
// a CSC manager, answers for them, except that seeing the child, and the
// s47 enquiry that starts with it, are the social worker's named in the
// outcome (001, 003 §4).
func (d *Discussion) assignFollowOnOwners() {
	chair := FollowOnOwner{Agency: policy.AgencySocialCare}
	if c := d.chair(); c != nil {
		chair.Name, chair.Email = c.Name, c.Email
	}
	for i := range d.FollowOns {
		fo := &d.FollowOns[i]
		if fo.State == "" {
			fo.State = fo.state()
		}
		if fo.Owner != nil {
			continue
		}
		owner := chair
		if (fo.ID == "SEEN" || fo.ID == "S47") && d.Outcome != nil && d.Outcome.ChildSeen != nil && strings.TrimSpace(d.Outcome.ChildSeen.By) != "" {
			owner = FollowOnOwner{Agency: policy.AgencySocialCare, Name: d.Outcome.ChildSeen.By}
			for _, p := range d.participants() {
				if strings.EqualFold(p.Name, owner.Name) {
					owner.Email = p.Email
				}
			}
		}
		fo.Owner = &owner
	}
}

// mayMeetFollowOn reports whether p may mark the follow-on met: business
// support, who keep the discussion's record; the chair, who answers for
// it; or someone of the owning agency who took part (the social worker who
// saw the child, the police officer who completed their part). Others of
// other agencies may not close another agency's work.
func (d *Discussion) mayMeetFollowOn(p *Principal, fo *FollowOn) bool {
	if p.Has(RoleBusinessSupport) || isChairOf(p, d) {
		return true
	}
	if fo.Owner == nil || p.Email == "" {
		return false
	}
	part, ok := d.participant(p.Email)
	return ok && part.Agency == fo.Owner.Agency && (p.Agency == "" || p.Agency == fo.Owner.Agency)
}

// MeetFollowOn marks a follow-on met at the time it was done, with a note.
// The record's circulation and the ICPC are met by their own actions
// (Circulate, RecordConference), which say what was done.
func (d *Discussion) MeetFollowOn(id string, at time.Time, note string, by Actor, now time.Time) (Effects, error) {
	fo := d.followOn(id)
	if fo == nil {
		return Effects{}, Errorf(ENOTFOUND, "no follow-on %s on this discussion", id)
	}
	switch fo.ID {
	case FollowOnRecord:
		return Effects{}, Errorf(EPRECONDITION, "the RECORD follow-on is met by circulating the record")
	case FollowOnICPC:
		return Effects{}, Errorf(EPRECONDITION, "the ICPC follow-on is met by recording the conference date")
	}
	now = now.UTC()
	if at.IsZero() {
		at = now
	}
	at = at.UTC()
	var f Fields
	if at.After(now.Add(time.Minute)) {
		f.Add("at", "is in the future: a follow-on is met once it is done")
	}
	if d.Started != nil && at.Before(d.Started.At) {
		f.Add("at", "is before the discussion started")
	}
	note = strings.TrimSpace(note)
	if len(note) > 1000 {
		f.Add("note", "must be at most 1,000 characters")
	}
	if err := f.Err("the follow-on is not valid"); err != nil {
		return Effects{}, err
	}
	if fo.state() == FollowOnMet {
		return Effects{}, Errorf(EPRECONDITION, "follow-on %s is already met", id)
	}
	d.meet(fo, at, note, by, now)
	return Effects{Detail: map[string]any{"follow_on": id, "at": at, "late": at.After(fo.Due)}}, nil
}

// meet marks fo met at at; met after its due time, it was missed as well,
// and the discussion is flagged.
func (d *Discussion) meet(fo *FollowOn, at time.Time, note string, by Actor, now time.Time) {
	if at.After(fo.Due) && fo.MissedAt == nil {
		d.miss(fo, fo.Due, by, now)
	}
	fo.State, fo.Done = FollowOnMet, true
	fo.MetAt, fo.DoneAt, fo.MetBy, fo.Note = &at, &at, &by, note
	d.Publish(HookFollowOnMet, fo.ID, now)
	// Dealt with: the reminder, and a miss (the flag stays on the record).
	d.Resolved(NoticeFollowOnDue, fo.ID, now)
	d.Resolved(NoticeFollowOnMissed, fo.ID, now)
	detail := fo.ID + " met at " + at.Format(time.RFC3339)
	if note != "" {
		detail += ": " + note
	}
	d.record(now, by, "follow_on_met", detail)
}

// miss records that fo's deadline passed unmet (at is when; by is who
// found it: the deadline watch, or whoever recorded it late), flags the
// discussion, and tells the owner's managers and the case system.
func (d *Discussion) miss(fo *FollowOn, at time.Time, by Actor, now time.Time) {
	at = at.UTC()
	fo.MissedAt = &at
	if fo.State != FollowOnMet {
		fo.State = FollowOnMissed
	}
	reason := "follow-on missed: " + fo.ID
	if d.FollowOnBreach == nil {
		d.FollowOnBreach = &Breach{At: now, Reason: reason, By: by}
	} else if !strings.Contains(d.FollowOnBreach.Reason, " "+fo.ID) {
		d.FollowOnBreach.Reason += ", " + fo.ID
	}
	d.Resolved(NoticeFollowOnDue, fo.ID, now)
	d.Notify(NoticeFollowOnMissed, fo.ID, now)
	d.Publish(HookFollowOnMissed, fo.ID, now)
	d.record(now, by, "follow_on_missed", fo.ID+" was due "+fo.Due.Format(time.RFC3339)+": "+fo.Summary)
}

// RecordConference records the initial child protection conference's date,
// which meets the ICPC follow-on (000 §2, 002 §6: within 15 working days of
// the discussion that started the enquiry). A date after the deadline
// means the deadline is missed, and is flagged now rather than when it
// passes.
func (d *Discussion) RecordConference(date time.Time, note string, by Actor, now time.Time) (Effects, error) {
	fo := d.followOn(FollowOnICPC)
	if fo == nil {
		return Effects{}, Errorf(EPRECONDITION, "this discussion's outcome did not start an enquiry: there is no conference to record")
	}
	now = now.UTC()
	var f Fields
	if date.IsZero() {
		f.Add("date", "is required")
	} else if d.Started != nil && date.Before(d.Started.At) {
		f.Add("date", "is before the discussion")
	} else if date.After(now.AddDate(0, 3, 0)) {
		f.Add("date", "is more than three months away")
	}
	note = strings.TrimSpace(note)
	if len(note) > 1000 {
		f.Add("note", "must be at most 1,000 characters")
	}
	if err := f.Err("the conference is not valid"); err != nil {
		return Effects{}, err
	}
	if fo.state() == FollowOnMet {
		return Effects{}, Errorf(EPRECONDITION, "the ICPC follow-on is already met")
	}
	date = date.UTC()
	fo.ConferenceDate = &date
	if date.After(fo.Due) {
		// Known to be late: the deadline is missed, and flagged now rather
		// than when it passes.
		fo.Note = note
		d.miss(fo, now, by, now)
		d.record(now, by, "conference_recorded", "ICPC on "+date.Format(time.RFC3339)+", after its deadline")
		return Effects{Detail: map[string]any{"follow_on": fo.ID, "conference_date": date, "late": true}}, nil
	}
	d.meet(fo, date, note, by, now)
	return Effects{Detail: map[string]any{"follow_on": fo.ID, "conference_date": date, "late": false}}, nil
}

// FollowOnFindings are what the deadline watch found on a concluded
// discussion's follow-ons and record.
type FollowOnFindings struct {
	// Missed are open follow-ons past their due time; DueSoon those
	// falling due within the reminder lead, not yet reminded.
	Missed, DueSoon []string
	// Chase: agencies have not signed up to the record version
	// circulated, and the chase time has come.
	Chase bool
}

func (f FollowOnFindings) empty() bool {
	return len(f.Missed) == 0 && len(f.DueSoon) == 0 && !f.Chase
}

// followOnFindings is what is due on d at now: follow-ons missed or due
// within soon, and whether to chase non-signers (chaseAt is when, from the
// profile; zero when not circulated).
func (d *Discussion) followOnFindings(now time.Time, soon time.Duration, chaseAt time.Time) FollowOnFindings {
	var f FollowOnFindings
	for _, fo := range d.FollowOns {
		if fo.state() != FollowOnOpen {
			continue
		}
		switch {
		case now.After(fo.Due):
			f.Missed = append(f.Missed, fo.ID)
		case fo.RemindedAt == nil && !now.Before(fo.Due.Add(-soon)):
			f.DueSoon = append(f.DueSoon, fo.ID)
		}
	}
	if c := d.Circulation; c != nil && !chaseAt.IsZero() && c.ChasedVersion < c.Version && !now.Before(chaseAt) &&
		slices.ContainsFunc(d.Signups, func(s Signup) bool { return s.State == SignupPending }) {
		f.Chase = true
	}
	return f
}

// applyFollowOnFindings applies the watch's findings on follow-ons.
func (d *Discussion) applyFollowOnFindings(f FollowOnFindings, now time.Time, detail map[string]any) {
	system := Actor{Subject: "deadline-watch", Name: "Deadline watch"}
	for _, id := range f.Missed {
		if fo := d.followOn(id); fo != nil && fo.state() == FollowOnOpen {
			d.miss(fo, now, system, now)
		}
	}
	for _, id := range f.DueSoon {
		if fo := d.followOn(id); fo != nil && fo.state() == FollowOnOpen && fo.RemindedAt == nil {
			fo.RemindedAt = &now
			d.Notify(NoticeFollowOnDue, fo.ID, now)
			d.record(now, system, "follow_on_due", fo.ID+" is due "+fo.Due.Format(time.RFC3339))
		}
	}
	if f.Chase {
		d.chase(now)
	}
	if len(f.Missed) > 0 {
		detail["follow_ons_missed"] = f.Missed
	}
	if len(f.DueSoon) > 0 {
		detail["follow_ons_due"] = f.DueSoon
	}
	if f.Chase {
		detail["record_chased"] = d.Circulation.Version
	}
}

// followOnWatch is what the watch must do about d's follow-ons and record.
func (a *App) followOnWatch(d *Discussion, w Watch, now time.Time) FollowOnFindings {
	if d.Status != StatusConcluded {
		return FollowOnFindings{}
	}
	soon := w.FollowOnDueSoon
	if soon <= 0 {
		soon = 24 * time.Hour
	}
	var chaseAt time.Time
	if d.Circulation != nil {
		chaseAt = a.recordChaseAt(d)
	}
	return d.followOnFindings(now, soon, chaseAt)
}

// recordChaseAt is when agencies that have not signed up to the record
// version circulated are chased: the profile's chase time after the
// circulation.
func (a *App) recordChaseAt(d *Discussion) time.Time {
	profile, err := a.profile(d.Timescale.Profile)
	if err != nil {
		return d.Circulation.At.Add(24 * time.Hour)
	}
	return profile.RecordChaseDue(d.Case.Region, d.Circulation.At)
}

// MeetFollowOn marks a follow-on met, by business support, the chair, or
// someone of the owning agency who took part. Audited.
func (a *App) MeetFollowOn(ctx context.Context, id, followOnID string, at time.Time, note string) (*Discussion, error) {
	return a.recordChange(ctx, id, "discussion.follow_on.met", func(d *Discussion, p *Principal) (Effects, error) {
		if fo := d.followOn(followOnID); fo != nil && !d.mayMeetFollowOn(p, fo) {
			return Effects{}, Errorf(EFORBIDDEN, "only business support, the chair or the owning agency's representative may mark %s met", followOnID)
		}
		return d.MeetFollowOn(followOnID, at, note, p.Actor(), a.Now())
	})
}

// RecordConference records the ICPC's date, meeting (or, if after its
// deadline, missing) the ICPC follow-on. Audited.
func (a *App) RecordConference(ctx context.Context, id string, date time.Time, note string) (*Discussion, error) {
	return a.recordChange(ctx, id, "discussion.follow_on.conference", func(d *Discussion, p *Principal) (Effects, error) {
		if fo := d.followOn(FollowOnICPC); fo != nil && !d.mayMeetFollowOn(p, fo) {
			return Effects{}, Errorf(EFORBIDDEN, "only business support, the chair or children's social care may record the conference")
		}
		return d.RecordConference(date, note, p.Actor(), a.Now())
	})
}
