package policy

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// QuorumMode says what a quorum is evaluated from.
type QuorumMode string

// The modes.
const (
	// QuorumForecast evaluates invitation replies: who has said they will
	// come.
	QuorumForecast QuorumMode = "forecast"
	// QuorumActual evaluates check-ins: who is present.
	QuorumActual QuorumMode = "actual"
)

// ReplyStatus is an invitee's reply (iTIP PARTSTAT, RFC 5546).
type ReplyStatus string

// The replies.
const (
	ReplyAccepted    ReplyStatus = "accepted"
	ReplyTentative   ReplyStatus = "tentative"
	ReplyDeclined    ReplyStatus = "declined"
	ReplyNeedsAction ReplyStatus = "needs_action"
	ReplyDelegated   ReplyStatus = "delegated"
)

// Participant is an invitee or a walk-in, as the quorum sees them.
type Participant struct {
	PersonID string `json:"person_id,omitempty"`
	Name     string `json:"name"`
	Email    string `json:"email,omitempty"`
	Agency   Agency `json:"agency"`
	Role     string `json:"role,omitempty"`
	// Seniority is the level on the agency's scale (1 most junior);
	// SeniorityLabel its label, used in the summary ("Practitioner").
	Seniority      int    `json:"seniority"`
	SeniorityLabel string `json:"seniority_label,omitempty"`
	KnowsChild     bool   `json:"knows_child,omitempty"`
	Chair          bool   `json:"chair,omitempty"`
	// Status is the invitation reply (forecast mode).
	Status ReplyStatus `json:"status,omitempty"`
	// Delegate is who the invitee delegated to, with their own details and
	// reply, when Status is "delegated".
	Delegate *Participant `json:"delegate,omitempty"`
	// Present is set when the participant has checked in (actual mode).
	Present bool `json:"present,omitempty"`
	// Expertise lists the participant's areas of expertise, from the
	// directory.
	Expertise []string `json:"expertise,omitempty"`
}

// ParticipantRef names a participant in a quorum result.
type ParticipantRef struct {
	PersonID  string    `json:"person_id,omitempty"`
	Name      string    `json:"name"`
	Agency    Agency    `json:"agency"`
	Role      string    `json:"role,omitempty"`
	Seniority Seniority `json:"seniority"`
	// DelegateFor names the invitee who delegated to this participant.
	DelegateFor string `json:"delegate_for,omitempty"`
}

// RequirementState is how far a requirement is met.
type RequirementState string

// The states.
const (
	StateSatisfied      RequirementState = "satisfied"
	StateMissing        RequirementState = "missing"
	StateBelowSeniority RequirementState = "below_seniority"
)

// RequirementStatus is one requirement's state in a quorum.
type RequirementStatus struct {
	ID          string           `json:"id"`
	Name        string           `json:"name"`
	Essential   bool             `json:"essential"`
	Status      RequirementState `json:"status"`
	SatisfiedBy *ParticipantRef  `json:"satisfied_by,omitempty"`
	// Needed is the minimum seniority; Present, for below_seniority, the
	// most senior matching participant's.
	Needed  Seniority  `json:"needed"`
	Present *Seniority `json:"present,omitempty"`
}

// KnowsChildStatus says whether someone counted knows the child.
type KnowsChildStatus struct {
	Required  bool             `json:"required"`
	Satisfied bool             `json:"satisfied"`
	By        []ParticipantRef `json:"by,omitempty"`
}

// Quorum is the result a chair checks before starting.
type Quorum struct {
	Mode         QuorumMode          `json:"mode"`
	Met          bool                `json:"met"`
	Requirements []RequirementStatus `json:"requirements"`
	KnowsChild   KnowsChildStatus    `json:"knows_child"`
	// Counted are the participants the quorum counts: those accepted (and
	// delegates) in a forecast, those present in actual mode.
	Counted   []ParticipantRef `json:"counted"`
	Tentative []ParticipantRef `json:"tentative,omitempty"`
	Declined  []ParticipantRef `json:"declined,omitempty"`
	NoReply   []ParticipantRef `json:"no_reply,omitempty"`
	// Absent lists invitees not checked in (actual mode).
	Absent []ParticipantRef `json:"absent,omitempty"`
	// Summary is one line a chair can read aloud.
	Summary string `json:"summary"`
}

func refOf(p *Participant, delegateFor string) ParticipantRef {
	label := p.SeniorityLabel
	switch {
	case label != "":
	case p.Seniority < 1:
		// A delegate who is not in the directory: there is no level 0 for
		// a chair to read out.
		label = "no known level"
	default:
		label = "level " + strconv.Itoa(p.Seniority)
	}
	return ParticipantRef{
		PersonID: p.PersonID, Name: p.Name, Agency: p.Agency, Role: p.Role,
		Seniority: Seniority{Level: p.Seniority, Label: label}, DelegateFor: delegateFor,
	}
}

// EvaluateQuorum says whether the requirements are met by the participants.
// It is pure: the same inputs give the same result.
//
// In forecast mode (any mode but QuorumActual) an accepted invitee counts,
// and so does the delegate of a delegated invitation unless the delegate has
// declined or is tentative; tentative invitees are listed separately and do
// not count; declined and unanswered ones are listed. In actual mode those
// checked in (Present) count, or an absent invitee's delegate who checked
// in; the others are listed as absent.
//
// A counted participant satisfies a requirement when their agency and role
// are among those it accepts and their seniority is at least its minimum; a
// delegate must meet the same minimum. Each participant fills at most one
// requirement (a seat), so quorum cannot be met by fewer people than the
// procedure expects: in particular the chair fills only the chair's seat,
// and only a participant flagged as chair fills it. Shared requirements
// (the referring agency, a hospital consultant who may also be the
// examining paediatrician) are the exception: anyone counted who qualifies
// satisfies them, whatever seat they fill. Seats are assigned to satisfy as
// many essential requirements as possible, then advisory ones.
//
// Quorum is met when every essential requirement is satisfied and, if
// knowsChildRequired, someone counted knows the child.
func EvaluateQuorum(mode QuorumMode, reqs []Requirement, participants []Participant, knowsChildRequired bool) Quorum {
	if mode != QuorumActual {
		mode = QuorumForecast
	}
	// Counted is always a list (the contract's array), even when nobody
	// is counted yet.
	q := Quorum{Mode: mode, Requirements: make([]RequirementStatus, len(reqs)), KnowsChild: KnowsChildStatus{Required: knowsChildRequired},
		Counted: []ParticipantRef{}}

	// Who counts.
	var counted []*Participant
	for i := range participants {
		p := &participants[i]
		if mode == QuorumActual {
			switch {
			case p.Present:
				counted = append(counted, p)
				q.Counted = append(q.Counted, refOf(p, ""))
			case p.Delegate != nil && p.Delegate.Present:
				counted = append(counted, p.Delegate)
				q.Counted = append(q.Counted, refOf(p.Delegate, p.Name))
			default:
				q.Absent = append(q.Absent, refOf(p, ""))
			}
			continue
		}
		switch p.Status {
		case ReplyAccepted:
			counted = append(counted, p)
			q.Counted = append(q.Counted, refOf(p, ""))
		case ReplyTentative:
			q.Tentative = append(q.Tentative, refOf(p, ""))
		case ReplyDeclined:
			q.Declined = append(q.Declined, refOf(p, ""))
		case ReplyDelegated:
			d := p.Delegate
			// A delegate counts once they have accepted themselves; until
			// they answer, their coming is unknown (a delegation is not
			// an acceptance).
			switch {
			case d == nil:
				q.NoReply = append(q.NoReply, refOf(p, ""))
			case d.Status == ReplyDeclined:
				q.Declined = append(q.Declined, refOf(d, p.Name))
			case d.Status == ReplyTentative:
				q.Tentative = append(q.Tentative, refOf(d, p.Name))
			case d.Status == ReplyAccepted:
				counted = append(counted, d)
				q.Counted = append(q.Counted, refOf(d, p.Name))
			default:
				q.NoReply = append(q.NoReply, refOf(d, p.Name))
			}
		default:
			q.NoReply = append(q.NoReply, refOf(p, ""))
		}
	}

	matches := func(p *Participant, r *Requirement) bool {
		if len(r.Agencies) > 0 && !slices.Contains(r.Agencies, p.Agency) {
			return false
		}
		if r.Expertise != "" && (p.Chair || !HasExpertise(p.Expertise, r.Expertise)) {
			return false
		}
		return len(r.Roles) == 0 || slices.ContainsFunc(r.Roles, func(role string) bool { return strings.EqualFold(role, p.Role) })
	}
	seatFits := func(p *Participant, r *Requirement) bool { return p.Chair == r.Chair && matches(p, r) }
	qualifies := func(p *Participant, r *Requirement) bool { return p.Seniority >= r.MinSeniority.Level }

	// Seats: non-shared requirements, matched to participants by
	// augmenting paths, essential seats first.
	seatOf := make([]int, len(counted)) // requirement index, or -1
	holder := make([]int, len(reqs))    // participant index, or -1
	for i := range seatOf {
		seatOf[i] = -1
	}
	for i := range holder {
		holder[i] = -1
	}
	seen := make([]bool, len(counted))
	var augment func(ri int) bool
	augment = func(ri int) bool {
		for pi, p := range counted {
			if seen[pi] || !seatFits(p, &reqs[ri]) || !qualifies(p, &reqs[ri]) {
				continue
			}
			seen[pi] = true
			if seatOf[pi] < 0 || augment(seatOf[pi]) {
				seatOf[pi], holder[ri] = ri, pi
				return true
			}
		}
		return false
	}
	for _, essential := range []bool{true, false} {
		for ri := range reqs {
			if reqs[ri].Shared || reqs[ri].Essential != essential {
				continue
			}
			clear(seen)
			augment(ri)
		}
	}

	q.Met = true
	for ri := range reqs {
		r := &reqs[ri]
		st := RequirementStatus{ID: r.ID, Name: r.Name, Essential: r.Essential, Status: StateMissing, Needed: r.MinSeniority}
		by := holder[ri]
		if r.Shared {
			by = slices.IndexFunc(counted, func(p *Participant) bool { return matches(p, r) && qualifies(p, r) })
		}
		if by >= 0 {
			st.Status = StateSatisfied
			ref := q.Counted[by]
			st.SatisfiedBy = &ref
		} else {
			// The most senior participant who would fit but for seniority.
			best := -1
			for pi, p := range counted {
				fits := matches(p, r)
				if !r.Shared {
					fits = seatFits(p, r)
				}
				if fits && !qualifies(p, r) && (best < 0 || p.Seniority > counted[best].Seniority) {
					best = pi
				}
			}
			if best >= 0 {
				st.Status = StateBelowSeniority
				s := q.Counted[best].Seniority
				st.Present = &s
			}
		}
		if r.Essential && st.Status != StateSatisfied {
			q.Met = false
		}
		q.Requirements[ri] = st
	}
	for pi, p := range counted {
		if p.KnowsChild {
			q.KnowsChild.Satisfied = true
			q.KnowsChild.By = append(q.KnowsChild.By, q.Counted[pi])
		}
	}
	if knowsChildRequired && !q.KnowsChild.Satisfied {
		q.Met = false
	}
	q.Summary = q.summary()
	return q
}

// HasExpertise reports whether the areas listed include want, compared as
// people type them: case, spaces, hyphens and underscores aside.
func HasExpertise(areas []string, want string) bool {
	w := expertiseKey(want)
	return w != "" && slices.ContainsFunc(areas, func(a string) bool { return expertiseKey(a) == w })
}

func expertiseKey(s string) string {
	return strings.Join(strings.FieldsFunc(strings.ToLower(s), func(r rune) bool {
		return r == ' ' || r == '-' || r == '_' || r == '\t'
	}), " ")
}

func (q *Quorum) summary() string {
	var short, advisory []string
	for _, s := range q.Requirements {
		if s.Status == StateSatisfied {
			continue
		}
		if !s.Essential {
			advisory = append(advisory, s.Name)
			continue
		}
		if s.Status == StateBelowSeniority {
			short = append(short, fmt.Sprintf("%s below seniority (needs %s, has %s)", s.Name, s.Needed.Label, s.Present.Label))
		} else {
			short = append(short, s.Name+" missing")
		}
	}
	if q.KnowsChild.Required && !q.KnowsChild.Satisfied {
		if q.Mode == QuorumActual {
			short = append(short, "nobody present knows the child")
		} else {
			short = append(short, "nobody attending knows the child")
		}
	}
	var b strings.Builder
	if len(short) == 0 {
		b.WriteString("Quorum met.")
	} else {
		b.WriteString("Quorum not met: " + strings.Join(short, "; ") + ".")
	}
	if len(advisory) > 0 {
		b.WriteString(" Advisory not present: " + strings.Join(advisory, ", ") + ".")
	}
	if q.Mode == QuorumForecast {
		fmt.Fprintf(&b, " Forecast from replies: %d attending, %d tentative, %d declined, %d no reply.", len(q.Counted), len(q.Tentative), len(q.Declined), len(q.NoReply))
	}
	return b.String()
}
