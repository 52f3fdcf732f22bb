package web

import (
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/convene/convene/service"
	"github.com/convene/convene/service/policy"
)

// The discussion page: when, where and how to join, who is invited with
// their answers and delegations, what needs deciding (counter proposals,
// held replies), the messages sent and whether they went, the timeline;
// and the changes business support make: reschedule, cancel, add or remove
// someone, accept or decline a new time, admit or reject a held reply.

type discussionView struct {
	D           *service.Discussion
	Status      string
	StatusClass string
	Deadline    string
	Left        string
	Rule        policy.RuleRef
	When        string
	Where       string
	Join        string
	Format      string
	Open        bool
	Manages     bool
	IsChair     bool
	Invitees    []inviteeView
	Counters    []counterView
	Held        []heldView
	Messages    []messageView
	Timeline    []eventView
	Attention   []string
	Unfilled    []string
	Candidates  []option
	Outcome     string
	Breach      string
	Agenda      []string
	FollowOns   []followOnView
	// Requirements are who must take part, with who is invited for each.
	Requirements []requirementFill
}

// requirementFill is a requirement with who was invited to fill it and
// their seniority against the minimum.
type requirementFill struct {
	Name, Minimum, Who, Citation string
	Essential, Filled            bool
}

type inviteeView struct {
	Name, Email, Agency, Role, Seniority string
	Reply, ReplyClass, Comment           string
	Delegation                           string
	Chair, Essential, KnowsChild         bool
	Removable                            bool
}

type counterView struct {
	ID, From, When, Comment, Status string
	Pending                         bool
	// Unknown are the people whose calendars could not be read: moving
	// the discussion to the new time names them, as any booking does.
	Unknown []option
}

type heldView struct {
	ID, From, Why, Answer, Received, Status string
	Pending                                 bool
}

type messageView struct {
	What, To, State, StateClass, When, Error string
}

type eventView struct {
	When, Who, What, Detail string
}

type followOnView struct {
	What, Due, Citation string
	Done                bool
}

func (s *Server) discussionPage(w http.ResponseWriter, r *http.Request) error {
	return s.showDiscussion(w, r, http.StatusOK, nil, nil)
}

// showDiscussion renders the discussion (again, with a refused change's
// errors and what was typed).
func (s *Server) showDiscussion(w http.ResponseWriter, r *http.Request, status int, form url.Values, errs []FieldError) error {
	ctx := r.Context()
	d, err := s.app.Discussion(ctx, r.PathValue("id"))
	if err != nil {
		return err
	}
	now, zone := s.cfg.Now(), s.cfg.Zone
	v := &discussionView{D: d, Status: say(statusWords, d.Status), StatusClass: statusTag[d.Status],
		Deadline: When(d.Deadline, zone) + " " + ZoneName(d.Deadline, zone), Left: TimeLeft(d.Deadline, now),
		Rule: d.Timescale.BindingRule, Format: say(formatWords, d.Format.Format), Agenda: d.Agenda,
		Open: d.Status == service.StatusProposed || d.Status == service.StatusBooked, Manages: s.app.Manages(ctx, d)}
	if p := service.PrincipalFrom(ctx); p != nil {
		for _, inv := range d.Invitees {
			if inv.Chair && !inv.Removed && strings.EqualFold(inv.Email, p.Email) {
				v.IsChair = true
			}
		}
	}
	if b := d.Booking; b != nil {
		v.When = WhenRange(b.Start, b.End, zone)
		v.Where, v.Join = b.Location, b.OnlineURL
	}
	if d.Breach != nil {
		v.Breach = humanise(d.Breach.Reason, zone, s.agency)
	}
	if d.Outcome != nil {
		v.Outcome = say(outcomeWords, d.Outcome.Outcome)
	}
	for _, fo := range d.FollowOns {
		v.FollowOns = append(v.FollowOns, followOnView{What: fo.Summary, Due: When(fo.Due, zone), Citation: fo.Citation, Done: fo.Done})
	}
	v.Attention = attention(d, s.agency)
	for _, r := range d.Attendance.Requirements {
		rf := requirementFill{Name: capital(r.Name), Minimum: or(r.MinSeniority.Label, "any level"), Citation: r.Citation, Essential: r.Essential}
		if r.Detail != "" {
			rf.Name += ": " + r.Detail
		}
		var who []string
		for _, inv := range d.Invitees {
			if !inv.Removed && slices.Contains(inv.Requirements, r.ID) {
				who = append(who, inv.Name+" ("+s.profile().SeniorityLabel(inv.Agency, inv.Seniority)+")")
			}
		}
		rf.Filled, rf.Who = len(who) > 0, strings.Join(who, ", ")
		v.Requirements = append(v.Requirements, rf)
	}
	for _, u := range d.Unfilled {
		v.Unfilled = append(v.Unfilled, requirementName(d, u))
	}
	profile := s.profile()
	for _, inv := range d.Invitees {
		if inv.Removed {
			continue
		}
		iv := inviteeView{Name: inv.Name, Email: inv.Email, Agency: s.agency(inv.Agency), Role: Words(inv.Role),
			Seniority: profile.SeniorityLabel(inv.Agency, inv.Seniority), Reply: Words(string(inv.Reply)), ReplyClass: replyClass[inv.Reply],
			Comment: inv.Comment, Chair: inv.Chair, Essential: inv.Essential, KnowsChild: inv.KnowsChild,
			Removable: v.Open && v.Manages && !inv.Chair}
		if inv.DelegatedTo != "" {
			iv.Delegation = "Delegated to " + nameOf(d, inv.DelegatedTo)
		}
		if inv.DelegatedFrom != "" {
			iv.Delegation = "Delegate for " + nameOf(d, inv.DelegatedFrom)
		}
		v.Invitees = append(v.Invitees, iv)
	}
	var unknown []option
	if d.Booking != nil {
		for _, e := range d.Booking.Unknown {
			unknown = append(unknown, option{Value: e, Text: nameOf(d, e), Selected: slices.Contains(form["confirm_unknown"], e)})
		}
	}
	for _, c := range d.Counters {
		v.Counters = append(v.Counters, counterView{ID: c.ID, From: nameOf(d, c.From), When: WhenRange(c.Start, c.End, zone),
			Comment: c.Comment, Status: Words(c.Status), Pending: c.Status == "pending", Unknown: unknown})
	}
	if v.Manages {
		for _, h := range d.HeldReplies {
			hv := heldView{ID: h.ID, From: h.From, Why: say(heldWords, h.Kind), Answer: Words(string(h.Reply)),
				Received: When(h.ReceivedAt, zone), Status: Words(h.Status), Pending: h.Status == "held"}
			if h.Name != "" {
				hv.From = h.Name + " (" + h.From + ")"
			}
			if h.Reason != "" {
				hv.Why += ": " + humanise(h.Reason, zone, s.agency)
			}
			if h.DelegatedTo != "" {
				hv.Answer += " to " + or(h.DelegateName, h.DelegatedTo)
			}
			v.Held = append(v.Held, hv)
		}
		msgs, err := s.app.DiscussionMessages(ctx, d)
		if err != nil {
			return err
		}
		for _, m := range msgs {
			mv := messageView{What: or(methodWords[m.Method], Words(m.Method)), To: nameOf(d, m.To) + " (" + m.To + ")",
				State: say(messageWords, m.State), StateClass: messageClass[m.State], When: When(m.CreatedAt, zone), Error: m.LastError}
			if m.SentAt != nil {
				mv.When = When(*m.SentAt, zone)
			}
			v.Messages = append(v.Messages, mv)
		}
		// People to add: the directory's, not already invited.
		invited := map[string]bool{}
		for _, inv := range d.Invitees {
			if !inv.Removed {
				invited[inv.PersonID] = true
			}
		}
		if v.Open {
			people, err := s.app.People(ctx, service.PersonFilter{Limit: 200})
			if err != nil {
				return err
			}
			v.Candidates = append(v.Candidates, option{Text: "Choose someone"})
			for _, p := range people {
				if p.Active && !invited[p.ID] {
					v.Candidates = append(v.Candidates, option{Value: p.ID, Selected: form.Get("person_id") == p.ID,
						Text: p.Name + " — " + s.agency(p.Agency) + ", " + profile.SeniorityLabel(p.Agency, p.Seniority)})
				}
			}
		}
	}
	for i := len(d.Timeline) - 1; i >= 0; i-- {
		e := d.Timeline[i]
		v.Timeline = append(v.Timeline, eventView{When: When(e.At, zone), Who: or(e.Actor.Name, e.Actor.Email),
			What: Words(e.Kind), Detail: humanise(e.Detail, zone, s.agency)})
	}
	p := &Page{Title: "Case " + d.CaseReference, Nav: "/today", Back: "/today", Banner: banner(r), Form: form, Errors: s.plain(d, errs), Data: v}
	return s.render(w, r, status, "discussion.html", p)
}

var replyClass = map[policy.ReplyStatus]string{
	policy.ReplyAccepted:    "govuk-tag--green",
	policy.ReplyTentative:   "govuk-tag--yellow",
	policy.ReplyDeclined:    "govuk-tag--red",
	policy.ReplyNeedsAction: "govuk-tag--grey",
	policy.ReplyDelegated:   "govuk-tag--blue",
}

var messageClass = map[service.MessageState]string{
	service.MessageQueued:     "govuk-tag--yellow",
	service.MessageSending:    "govuk-tag--yellow",
	service.MessageSent:       "govuk-tag--green",
	service.MessageFailed:     "govuk-tag--red",
	service.MessageSuperseded: "govuk-tag--grey",
}

var (
	rfc3339  = regexp.MustCompile(`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:\d\d)`)
	codeWord = regexp.MustCompile(`\(([a-z]+(?:_[a-z]+)*)\)`)
	snake    = regexp.MustCompile(`\b[a-z0-9]+(?:_[a-z0-9]+)+\b`)
)

// humanise says a timeline detail in words: times as people say them and
// agency codes as the agencies' names.
func humanise(s string, zone *time.Location, agency func(policy.Agency) string) string {
	s = rfc3339.ReplaceAllStringFunc(s, func(m string) string {
		t, err := time.Parse(time.RFC3339, m)
		if err != nil {
			return m
		}
		return When(t, zone) + " " + ZoneName(t, zone)
	})
	s = codeWord.ReplaceAllStringFunc(s, func(m string) string {
		return "(" + agency(policy.Agency(m[1:len(m)-1])) + ")"
	})
	// Any other code (an outcome, an answer) in words.
	return snake.ReplaceAllStringFunc(s, func(m string) string {
		if w, ok := outcomeWords[policy.Outcome(m)]; ok {
			return w
		}
		return strings.ToLower(Words(m))
	})
}

// change runs a change to the discussion from a form: on success back to
// the discussion with a banner; refused, the discussion again with the
// errors and what was typed.
func (s *Server) change(w http.ResponseWriter, r *http.Request, bannerKey string, fn func(form url.Values) error) error {
	if err := r.ParseForm(); err != nil {
		return err
	}
	if err := fn(r.PostForm); err != nil {
		switch service.ErrorCode(err) {
		case service.EINTERNAL, service.ENOTFOUND, service.EUNAUTHORIZED:
			return err
		}
		return s.showDiscussion(w, r, http.StatusUnprocessableEntity, r.PostForm, fieldErrors(err))
	}
	return done(w, r, "/discussions/"+r.PathValue("id"), bannerKey)
}

func (s *Server) cancelPost(w http.ResponseWriter, r *http.Request) error {
	return s.change(w, r, "cancelled", func(form url.Values) error {
		_, err := s.app.Cancel(r.Context(), r.PathValue("id"), form.Get("reason"))
		return err
	})
}

func (s *Server) addPost(w http.ResponseWriter, r *http.Request) error {
	return s.change(w, r, "added", func(form url.Values) error {
		if form.Get("person_id") == "" {
			return service.Invalid("choose someone", service.FieldError{Field: "person_id", Message: "choose who to invite"})
		}
		_, err := s.app.AddAttendee(r.Context(), r.PathValue("id"), service.InviteeRequest{PersonID: form.Get("person_id"),
			KnowsChild: form.Get("knows_child") == "yes"})
		return err
	})
}

func (s *Server) removePost(w http.ResponseWriter, r *http.Request) error {
	return s.change(w, r, "removed", func(form url.Values) error {
		_, err := s.app.RemoveAttendee(r.Context(), r.PathValue("id"), form.Get("email"))
		return err
	})
}

func (s *Server) counterPost(w http.ResponseWriter, r *http.Request) error {
	return s.change(w, r, "counter", func(form url.Values) error {
		var err error
		switch r.PathValue("decision") {
		case "accept":
			_, err = s.app.AcceptCounter(r.Context(), r.PathValue("id"), r.PathValue("counter"), strings.TrimSpace(form.Get("override_reason")), form["confirm_unknown"])
		case "decline":
			_, err = s.app.DeclineCounter(r.Context(), r.PathValue("id"), r.PathValue("counter"), strings.TrimSpace(form.Get("comment")))
		default:
			err = service.Errorf(service.ENOTFOUND, "no such decision")
		}
		return err
	})
}

func (s *Server) heldPost(w http.ResponseWriter, r *http.Request) error {
	return s.change(w, r, "held", func(form url.Values) error {
		var err error
		switch r.PathValue("decision") {
		case "admit", "reject":
			_, err = s.app.DecideHeldReply(r.Context(), r.PathValue("id"), r.PathValue("held"), r.PathValue("decision") == "admit")
		default:
			err = service.Errorf(service.ENOTFOUND, "no such decision")
		}
		return err
	})
}
