package service

import (
	"slices"
	"strings"
	"time"

	"github.com/convene/convene/calendar"
	"github.com/convene/convene/service/policy"
)

// DiscussionStatus is where a strategy discussion is in its life.
type DiscussionStatus string

// The statuses, in order.
const (
	// StatusProposed: convened, with proposed slots, not yet booked.
	StatusProposed DiscussionStatus = "proposed"
	// StatusBooked: a time is fixed and invitations are out.
	StatusBooked DiscussionStatus = "booked"
	// StatusInProgress: the chair has started it.
	StatusInProgress DiscussionStatus = "in_progress"
	// StatusConcluded: the outcome is recorded.
	StatusConcluded DiscussionStatus = "concluded"
	// StatusCancelled: called off; attendees were sent a CANCEL.
	StatusCancelled DiscussionStatus = "cancelled"
)

// DiscussionStatuses lists every status.
var DiscussionStatuses = []DiscussionStatus{StatusProposed, StatusBooked, StatusInProgress, StatusConcluded, StatusCancelled}

// Discussion is one strategy discussion: the case's circumstances (never a
// child's name), the statutory deadline and the rule behind it, who must
// take part, the booking, the replies, attendance, and the outcome. It is
// stored as its own fields (the head) and element lists (invitees,
// check-ins, counters, held replies), and changed by DiscussionPatch.
type Discussion struct {
	ID            string           `json:"id"`
	CaseReference string           `json:"case_reference"`
	Status        DiscussionStatus `json:"status"`
	// Case is the convene request's circumstances.
	Case policy.Case `json:"case"`
	// Timescale is the statutory clock's answer; Deadline is its binding
	// deadline, kept at the top for queries.
	Timescale  policy.Timescale      `json:"timescale"`
	Deadline   time.Time             `json:"deadline"`
	Attendance policy.Attendance     `json:"attendance"`
	Format     policy.FormatDecision `json:"format"`
	// FormatPreference is what business support asked for; a meeting
	// rule overrides a preference for a call.
	FormatPreference policy.Format `json:"format_preference,omitempty"`
	Duration         time.Duration `json:"duration"`
	Agenda           []string      `json:"agenda"`
	// Note is business support's free text for those who run the
	// discussion: kept inside Convene, behind sign-in, never in an
	// invitation or notification.
	Note string `json:"note,omitempty"`
	// Invitees includes the chair (Chair set) and delegates.
	Invitees []Invitee `json:"invitees"`
	// Unfilled lists requirements nobody in the invitation list can meet.
	Unfilled []string `json:"unfilled,omitempty"`

	ProposedSlots []calendar.Slot     `json:"proposed_slots"`
	SlotReason    calendar.SlotReason `json:"slot_reason,omitempty"`
	Booking       *Booking            `json:"booking,omitempty"`
	// Breach is set when the discussion is, or is booked, after its
	// deadline.
	Breach *Breach `json:"breach,omitempty"`
	// AtRisk is set by the deadline watch when too little time is left
	// and nothing is booked.
	AtRisk bool `json:"at_risk,omitempty"`

	// UID identifies the meeting in every iCalendar message; Sequence is
	// its iTIP revision.
	UID      string `json:"uid"`
	Sequence int    `json:"sequence"`
	// Roster counts changes to who is invited: it tells apart the updated
	// invitations such changes send, which keep the SEQUENCE.
	Roster int `json:"roster,omitempty"`

	Counters    []Counter   `json:"counters,omitempty"`
	HeldReplies []HeldReply `json:"held_replies,omitempty"`
	CheckIns    []CheckIn   `json:"check_ins,omitempty"`
	Started     *Start      `json:"started,omitempty"`
	Outcome     *Outcome    `json:"outcome,omitempty"`
	FollowOns   []FollowOn  `json:"follow_ons,omitempty"`
	// Authorisations are participants' own agreements to an outcome;
	// OutcomeHistory the earlier versions of an amended outcome.
	Authorisations []Authorisation  `json:"authorisations,omitempty"`
	OutcomeHistory []OutcomeVersion `json:"outcome_history,omitempty"`
	// Linked are the separate discussions convened from this one, or the
	// one this was convened from.
	Linked []Link `json:"linked,omitempty"`

	// Circulation is the Record of Strategy Discussion's circulation, and
	// Signups each participating agency's agreement or dissent with the
	// version circulated (see signup.go); FollowOnBreach is set when a
	// follow-on deadline is missed (followon.go).
	Circulation    *Circulation `json:"circulation,omitempty"`
	Signups        []Signup     `json:"signups,omitempty"`
	FollowOnBreach *Breach      `json:"follow_on_breach,omitempty"`

	// ParentID is the discussion this one reconvenes (after a deferral);
	// FollowUpID the one convened to follow this.
	ParentID   string `json:"parent_id,omitempty"`
	FollowUpID string `json:"follow_up_id,omitempty"`

	// Pending are messages decided on but not yet in the outbox; they are
	// written with the change that causes them, so a crash cannot lose
	// them, and moved to the outbox afterwards.
	Pending []PendingMessage `json:"pending,omitempty"`
	// Outbox lists, in order, the messages moved to the outbox: the
	// discussion's own index of what it sent.
	Outbox []MessageRef `json:"outbox,omitempty"`
	// Raised are the notices and webhook events its changes raised (see
	// notify.go); RaisedDue is set while some are not yet moved.
	Raised    []Raised `json:"raised,omitempty"`
	RaisedDue bool     `json:"raised_due,omitempty"`

	Timeline  []Event   `json:"timeline"`
	CreatedBy Actor     `json:"created_by"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
	Version   int64     `json:"version"`
}

// Invitee is someone asked to take part, with their reply.
type Invitee struct {
	PersonID       string        `json:"person_id,omitempty"`
	Name           string        `json:"name"`
	Email          string        `json:"email"`
	Agency         policy.Agency `json:"agency"`
	Role           string        `json:"role"`
	Seniority      int           `json:"seniority"`
	SeniorityLabel string        `json:"seniority_label,omitempty"`
	Chair          bool          `json:"chair,omitempty"`
	// Essential: invited to fill an essential requirement. Requirements
	// lists the requirement ids they were chosen for.
	Essential    bool     `json:"essential"`
	Requirements []string `json:"requirements,omitempty"`
	KnowsChild   bool     `json:"knows_child,omitempty"`
	// Expertise is the directory entry's areas of expertise.
	Expertise []string `json:"expertise,omitempty"`

	Reply         policy.ReplyStatus `json:"reply"`
	RepliedAt     *time.Time         `json:"replied_at,omitempty"`
	ReplySequence int                `json:"reply_sequence,omitempty"`
	// ReplyStamp is the answer's own time (its DTSTAMP), which orders
	// answers that arrive out of order.
	ReplyStamp    *time.Time `json:"reply_stamp,omitempty"`
	Comment       string     `json:"comment,omitempty"`
	DelegatedTo   string     `json:"delegated_to,omitempty"`
	DelegatedFrom string     `json:"delegated_from,omitempty"`
	// Removed invitees stay on the record (they were sent a CANCEL).
	Removed    bool       `json:"removed,omitempty"`
	AddedAt    time.Time  `json:"added_at"`
	RemindedAt *time.Time `json:"reminded_at,omitempty"`
	// RefreshDay and Refreshes count the day's REFRESH requests, which
	// are rate-limited; RefreshTotal numbers the re-sent invitations.
	RefreshDay   string `json:"refresh_day,omitempty"`
	Refreshes    int    `json:"refreshes,omitempty"`
	RefreshTotal int    `json:"refresh_total,omitempty"`
	// Rev counts the stored changes to this invitee (see DiscussionPatch).
	Rev int64 `json:"rev"`
}

// Booking is the time fixed for the discussion.
type Booking struct {
	// ID names this booking's holds on people's time.
	ID        string    `json:"id"`
	Start     time.Time `json:"start"`
	End       time.Time `json:"end"`
	Location  string    `json:"location,omitempty"`
	OnlineURL string    `json:"online_url,omitempty"`
	BookedBy  Actor     `json:"booked_by"`
	BookedAt  time.Time `json:"booked_at"`
	// Unknown lists invitees whose calendars could not be read at booking.
	Unknown []string `json:"unknown,omitempty"`
}

// Breach records that the statutory deadline is not met, and why.
type Breach struct {
	At       time.Time `json:"at"`
	Reason   string    `json:"reason"`
	Override bool      `json:"override"`
	By       Actor     `json:"by"`
}

// Counter is an attendee's proposal of a new time (iTIP COUNTER, Outlook's
// Propose New Time).
type Counter struct {
	ID         string     `json:"id"`
	From       string     `json:"from"`
	Start      time.Time  `json:"start"`
	End        time.Time  `json:"end"`
	Comment    string     `json:"comment,omitempty"`
	Sequence   int        `json:"sequence"`
	ReceivedAt time.Time  `json:"received_at"`
	Status     string     `json:"status"` // pending, accepted, declined
	DecidedBy  *Actor     `json:"decided_by,omitempty"`
	DecidedAt  *time.Time `json:"decided_at,omitempty"`
	// Decision is business support's note on declining: kept inside
	// Convene, never mailed on.
	Decision string `json:"decision_note,omitempty"`
	Rev      int64  `json:"rev"`
}

// HeldReply is a reply Convene will not apply on its own: from someone
// not on the invitation list (a forwarded invitation), from a sender whose
// mail could not be authenticated, or delegating a place to someone who is
// not in the directory, from another agency, or below the seniority the
// place needs. Business support admit it (it is then applied) or reject it:
// nobody gains access to a case by sending an email.
type HeldReply struct {
	ID string `json:"id"`
	// Kind is why it is held: uninvited, unauthenticated or delegation.
	Kind   string             `json:"kind"`
	Reason string             `json:"reason,omitempty"`
	From   string             `json:"from"`
	Name   string             `json:"name,omitempty"`
	Reply  policy.ReplyStatus `json:"reply"`
	// DelegatedTo (and DelegateName) is the delegate a held delegation
	// names; Sequence and Stamp order the answer when it is applied.
	DelegatedTo  string     `json:"delegated_to,omitempty"`
	DelegateName string     `json:"delegate_name,omitempty"`
	Sequence     int        `json:"sequence,omitempty"`
	Stamp        *time.Time `json:"stamp,omitempty"`
	ReceivedAt   time.Time  `json:"received_at"`
	Status       string     `json:"status"` // held, admitted, rejected
	DecidedBy    *Actor     `json:"decided_by,omitempty"`
	Rev          int64      `json:"rev"`
}

// Kinds of held reply.
const (
	HeldUninvited       = "uninvited"
	HeldUnauthenticated = "unauthenticated"
	HeldDelegation      = "delegation"
)

// CheckIn records someone present at the discussion: an invitee or a
// walk-in.
type CheckIn struct {
	ID             string        `json:"id"`
	PersonID       string        `json:"person_id,omitempty"`
	Name           string        `json:"name"`
	Email          string        `json:"email,omitempty"`
	Agency         policy.Agency `json:"agency"`
	Role           string        `json:"role"`
	Seniority      int           `json:"seniority"`
	SeniorityLabel string        `json:"seniority_label,omitempty"`
	KnowsChild     bool          `json:"knows_child,omitempty"`
	WalkIn         bool          `json:"walk_in,omitempty"`
	// Expertise is the person's areas of expertise, from the directory.
	Expertise   []string   `json:"expertise,omitempty"`
	PresentFrom time.Time  `json:"present_from"`
	PresentTo   *time.Time `json:"present_to,omitempty"`
	RecordedBy  Actor      `json:"recorded_by"`
	RecordedAt  time.Time  `json:"recorded_at"`
	Rev         int64      `json:"rev"`
}

// Start records the chair starting the discussion, and any override of an
// unmet quorum.
type Start struct {
	At       time.Time `json:"at"`
	By       Actor     `json:"by"`
	Override string    `json:"override_reason,omitempty"`
	// Missing lists what the quorum lacked when overridden.
	Missing []string `json:"missing,omitempty"`
}

// Outcome is what the discussion decided (seed 001's seven outcomes), the
// information shared under the Signs of Safety headings, the decisions and
// the SMART actions (003 §5).
type Outcome struct {
	Outcome           policy.Outcome `json:"outcome"`
	SignsOfSafety     SignsOfSafety  `json:"signs_of_safety"`
	Decisions         []Decision     `json:"decisions"`
	Actions           []Action       `json:"actions"`
	AuthorisedBy      []Authoriser   `json:"authorised_by"`
	HarmSubstantiated bool           `json:"harm_substantiated,omitempty"`
	Deferral          *Deferral      `json:"deferral,omitempty"`
	ChildSeen         *ChildSeen     `json:"child_seen,omitempty"`
	Review            *Review        `json:"review,omitempty"`
	OtherChildren     []OtherChild   `json:"other_children,omitempty"`
	EPO               *EPODecision   `json:"epo,omitempty"`
	SupportConsidered string         `json:"support_considered,omitempty"`
	Dissent           []Dissent      `json:"dissent,omitempty"`
	SafetyPlan        *SafetyPlan    `json:"safety_plan,omitempty"`
	// Version counts amendments from 1.
	Version    int        `json:"version"`
	RecordedBy Actor      `json:"recorded_by"`
	RecordedAt time.Time  `json:"recorded_at"`
	AmendedBy  *Actor     `json:"amended_by,omitempty"`
	AmendedAt  *time.Time `json:"amended_at,omitempty"`
}

// SignsOfSafety are the headings information is recorded under (001).
type SignsOfSafety struct {
	Concerns      string `json:"concerns"`
	WorkingWell   string `json:"working_well"`
	NeedToKnow    string `json:"need_to_know"`
	NeedsToBeDone string `json:"needs_to_be_done"`
}

// Decision is one decision with its rationale.
type Decision struct {
	Decision  string `json:"decision"`
	Rationale string `json:"rationale"`
}

// Action is a SMART action: who, which agency, by when, and why.
type Action struct {
	Description string        `json:"description"`
	Owner       string        `json:"owner"`
	Agency      policy.Agency `json:"agency"`
	Due         time.Time     `json:"due"`
	Purpose     string        `json:"purpose"`
}

// Authoriser is someone who authorised the outcome themselves, when and
// how (signed in, or by the link sent to them).
type Authoriser struct {
	PersonID  string        `json:"person_id,omitempty"`
	Name      string        `json:"name"`
	Email     string        `json:"email,omitempty"`
	Agency    policy.Agency `json:"agency"`
	Role      string        `json:"role"`
	Seniority string        `json:"seniority,omitempty"`
	At        time.Time     `json:"at"`
	Method    string        `json:"method"`
}

// Deferral is why a discussion's outcome was deferred and what happens
// meanwhile (001: reconvene within 72 hours, with a safety plan).
type Deferral struct {
	Reason            string `json:"reason"`
	InformationNeeded string `json:"information_needed"`
	SafetyPlan        string `json:"safety_plan"`
}

// FollowOn is a deadline that follows the discussion, and whether it is
// done.
type FollowOn struct {
	policy.FollowOn
	Done   bool       `json:"done,omitempty"`
	DoneAt *time.Time `json:"done_at,omitempty"`
	// The follow-on as work (see followon.go): who owns it, its state
	// (open, met, missed), when and by whom it was met and the note, when
	// it was found missed, when its owner was reminded, and for the ICPC
	// the conference date recorded.
	Owner          *FollowOnOwner `json:"owner,omitempty"`
	State          FollowOnState  `json:"state,omitempty"`
	MetAt          *time.Time     `json:"met_at,omitempty"`
	MetBy          *Actor         `json:"met_by,omitempty"`
	Note           string         `json:"note,omitempty"`
	MissedAt       *time.Time     `json:"missed_at,omitempty"`
	RemindedAt     *time.Time     `json:"reminded_at,omitempty"`
	ConferenceDate *time.Time     `json:"conference_date,omitempty"`
}

// Event is one entry on a discussion's timeline.
type Event struct {
	// Seq numbers the discussion's events from 1, in order; stores set it.
	Seq    int64     `json:"seq,omitempty"`
	At     time.Time `json:"at"`
	Actor  Actor     `json:"actor"`
	Kind   string    `json:"kind"`
	Detail string    `json:"detail,omitempty"`
}

// PendingMessage is an invitation message decided on by a change to the
// discussion, not yet moved to the outbox.
type PendingMessage struct {
	// ID is the outbox message id: deterministic, so moving the same
	// pending message twice creates one outbox message.
	ID       string `json:"id"`
	Method   string `json:"method"` // REQUEST, CANCEL, DECLINECOUNTER
	To       string `json:"to"`
	Sequence int    `json:"sequence"`
	Uninvite bool   `json:"uninvite,omitempty"`
	Comment  string `json:"comment,omitempty"`
	// CounterID names the counter proposal a DECLINECOUNTER, or the
	// REQUEST sent with it, answers.
	CounterID string `json:"counter_id,omitempty"`
	// Reminder marks a REQUEST re-sent to chase a reply.
	Reminder bool `json:"reminder,omitempty"`
}

// MessageRef names an outbox message of the discussion.
type MessageRef struct {
	ID       string `json:"id"`
	Method   string `json:"method"`
	To       string `json:"to"`
	Sequence int    `json:"sequence"`
}

// supersedes reports whether a later message to the same person makes m
// pointless: a REQUEST with a higher sequence says it all, and so does a
// CANCEL for every REQUEST up to its own sequence. Otherwise an invitation
// still waiting for a retry could arrive after the newer message and put an
// old time, or a cancelled meeting, back in a calendar.
func (d *Discussion) supersedes(m *OutboxMessage) bool { return superseded(d.Outbox, m) }

// superseded reports whether a message after m in outbox (a discussion's
// Outbox) says all m says: see Discussion.supersedes.
func superseded(outbox []MessageRef, m *OutboxMessage) bool {
	if m.Method != "REQUEST" {
		return false
	}
	i := slices.IndexFunc(outbox, func(r MessageRef) bool { return r.ID == m.ID })
	if i < 0 {
		return false
	}
	for _, r := range outbox[i+1:] {
		if r.To == m.To && (r.Method == "REQUEST" && r.Sequence > m.Sequence || r.Method == "CANCEL" && r.Sequence >= m.Sequence) {
			return true
		}
	}
	return false
}

// invitee returns the current (not removed) invitee with the email, or nil.
func (d *Discussion) invitee(email string) *Invitee {
	email = strings.ToLower(email)
	for i := range d.Invitees {
		if inv := &d.Invitees[i]; !inv.Removed && inv.Email == email {
			return inv
		}
	}
	return nil
}

// chair returns the chair invitee, or nil.
func (d *Discussion) chair() *Invitee {
	for i := range d.Invitees {
		if inv := &d.Invitees[i]; !inv.Removed && inv.Chair {
			return inv
		}
	}
	return nil
}

// current returns the invitees not removed.
func (d *Discussion) current() []Invitee {
	out := make([]Invitee, 0, len(d.Invitees))
	for _, inv := range d.Invitees {
		if !inv.Removed {
			out = append(out, inv)
		}
	}
	return out
}

// record appends a timeline event.
func (d *Discussion) record(at time.Time, actor Actor, kind, detail string) {
	d.Timeline = append(d.Timeline, Event{At: at, Actor: actor, Kind: kind, Detail: detail})
}

// queue decides on a message to an invitee, with an id unique to the
// discussion, method, sequence and recipient (and n, for repeats such as
// reminders and refreshes).
func (d *Discussion) queue(method, to string, n int, opts ...func(*PendingMessage)) {
	m := PendingMessage{
		ID:     d.ID + ":" + method + ":" + itoa(d.Sequence) + ":" + to + ":" + itoa(n),
		Method: method, To: to, Sequence: d.Sequence,
	}
	for _, o := range opts {
		o(&m)
	}
	if !slices.ContainsFunc(d.Pending, func(p PendingMessage) bool { return p.ID == m.ID }) {
		d.Pending = append(d.Pending, m)
	}
}

// live reports whether the discussion can still be changed by booking,
// replies and attendance.
func (d *Discussion) live() bool {
	return d.Status == StatusProposed || d.Status == StatusBooked
}

// DiscussionFilter selects discussions for the list, sorted by deadline.
type DiscussionFilter struct {
	Status    []DiscussionStatus
	DueBefore time.Time
	// DeadlineFrom selects discussions whose deadline is at or after it.
	DeadlineFrom time.Time
	// ChairEmail and Agency filter on invitees; VisibleTo limits to
	// discussions the email is invited to (agency representatives, chairs).
	ChairEmail string
	Agency     policy.Agency
	// CaseReference selects the discussions of one case reference.
	CaseReference string
	// IDs, when set, selects the discussions with these ids (at most a
	// page of them; the other fields are ignored), in no set order.
	IDs []string
	// Summary leaves each discussion's timeline out: a list shows
	// summaries, and the events are the bulk of a discussion.
	Summary   bool
	VisibleTo string
	Breached  *bool
	AtRisk    *bool
	// FollowOnBreach selects discussions with (or without) a missed
	// follow-on deadline (FollowOnBreach set), for business support.
	FollowOnBreach *bool
	// After is the cursor: the deadline and id of the previous page's last
	// discussion.
	AfterDeadline time.Time
	AfterID       string
	Limit         int
}
