package httpapi

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/convene/convene/calendar"
	"github.com/convene/convene/service"
	"github.com/convene/convene/service/policy"
)

// zone is where times are shown: the area's, so deadlines carry its offset.
func (s *Server) zone() *time.Location {
	if s.app.Zone != nil {
		return s.app.Zone
	}
	return time.UTC
}

func (s *Server) timescales(c echo.Context) error {
	var in policy.TimescaleRequest
	if err := decode(c, &in); err != nil {
		return err
	}
	ts, err := s.app.Timescale(c.Request().Context(), in)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, s.viewTimescale(*ts))
}

// viewTimescale shows every time in the area's zone.
func (s *Server) viewTimescale(ts policy.Timescale) policy.Timescale {
	z := s.zone()
	ts.Deadline = ts.Deadline.In(z)
	rules := make([]policy.RuleDeadline, len(ts.Rules))
	for i, r := range ts.Rules {
		r.Deadline, r.TriggerAt = r.Deadline.In(z), r.TriggerAt.In(z)
		rules[i] = r
	}
	ts.Rules = rules
	if ts.DecisionDue != nil {
		dd := *ts.DecisionDue
		dd.Due = dd.Due.In(z)
		ts.DecisionDue = &dd
	}
	if ts.FollowOn == nil {
		ts.FollowOn = []policy.FollowOnRule{}
	}
	return ts
}

// conveneInput is the body of POST /v1/discussions: the circumstances (the
// clock's and the attendance rules' fields, at the top level) and what
// business support chooses.
type conveneInput struct {
	policy.Case
	CaseReference    string         `json:"case_reference"`
	ChairID          string         `json:"chair_id"`
	Invitees         []inviteeInput `json:"invitees"`
	ChooseInvitees   *bool          `json:"choose_invitees"`
	DurationMinutes  int            `json:"duration_minutes"`
	FormatPreference policy.Format  `json:"format_preference"`
	Agenda           []string       `json:"agenda"`
	Earliest         time.Time      `json:"earliest"`
	ConfirmDuplicate bool           `json:"confirm_duplicate"`
}

type inviteeInput struct {
	PersonID   string `json:"person_id"`
	KnowsChild bool   `json:"knows_child"`
}

func (s *Server) convene(c echo.Context) error {
	body, err := readBody(c)
	if err != nil {
		return err
	}
	var in conveneInput
	if err := decodeBytes(body, &in); err != nil {
		return err
	}
	key, err := idempotencyKey(c)
	if err != nil {
		return err
	}
	sum := sha256.Sum256(body)
	req := service.ConveneRequest{
		CaseReference: in.CaseReference, Case: in.Case, ChairID: in.ChairID,
		ChooseInvitees: in.ChooseInvitees == nil || *in.ChooseInvitees, Duration: minutes(in.DurationMinutes),
		FormatPreference: in.FormatPreference, Agenda: in.Agenda, Earliest: in.Earliest,
		ConfirmDuplicate: in.ConfirmDuplicate, IdempotencyKey: key, RequestHash: hex.EncodeToString(sum[:]),
	}
	for _, inv := range in.Invitees {
		req.Invitees = append(req.Invitees, service.InviteeRequest{PersonID: inv.PersonID, KnowsChild: inv.KnowsChild})
	}
	d, created, err := s.app.Convene(c.Request().Context(), req)
	if err != nil {
		return err
	}
	c.Response().Header().Set("Location", "/v1/discussions/"+d.ID)
	status := http.StatusCreated
	if !created {
		status = http.StatusOK
		c.Response().Header().Set("Idempotent-Replayed", "true")
	}
	return c.JSON(status, s.viewDiscussion(c, d))
}

// idempotencyKey is the request's Idempotency-Key, if any.
func idempotencyKey(c echo.Context) (string, error) {
	key := c.Request().Header.Get("Idempotency-Key")
	if len(key) > 200 {
		return "", service.Invalid("the request is not valid", service.FieldError{Field: "Idempotency-Key", Message: "must be at most 200 characters"})
	}
	return key, nil
}

// conveneSeparate convenes a separate discussion for another child in the
// same circumstances (002 §3, 004), linked both ways.
func (s *Server) conveneSeparate(c echo.Context) error {
	var in struct {
		CaseReference string `json:"case_reference"`
		Relation      string `json:"relation"`
	}
	if err := decode(c, &in); err != nil {
		return err
	}
	key, err := idempotencyKey(c)
	if err != nil {
		return err
	}
	d, err := s.app.ConveneSeparate(c.Request().Context(), c.Param("id"), in.CaseReference, in.Relation, key)
	if err != nil {
		return err
	}
	c.Response().Header().Set("Location", "/v1/discussions/"+d.ID)
	return c.JSON(http.StatusCreated, s.viewDiscussion(c, d))
}

func (s *Server) setNote(c echo.Context) error {
	var in struct {
		Note string `json:"note"`
	}
	if err := decode(c, &in); err != nil {
		return err
	}
	d, err := s.app.SetNote(c.Request().Context(), c.Param("id"), in.Note)
	return s.respond(c, d, err)
}

// timeline pages through a discussion's timeline, newest first: the
// discussion itself carries only the newest events.
func (s *Server) timeline(c echo.Context) error {
	var before int64
	if v := c.QueryParam("before"); v != "" {
		before, _ = strconv.ParseInt(v, 10, 64) // the contract has checked it
	}
	limit := queryInt(c, "limit")
	events, err := s.app.Timeline(c.Request().Context(), c.Param("id"), before, limit)
	if err != nil {
		return err
	}
	page := struct {
		Items []service.Event `json:"items"`
		Next  string          `json:"next,omitempty"`
	}{Items: orEmpty(events)}
	if n := len(events); n > 0 && n == service.PageLimit(limit) && events[n-1].Seq > 1 {
		page.Next = strconv.FormatInt(events[n-1].Seq, 10)
	}
	return c.JSON(http.StatusOK, page)
}

// requeueMessage puts a message that failed back on the send queue.
func (s *Server) requeueMessage(c echo.Context) error {
	m, err := s.app.RequeueMessage(c.Request().Context(), c.Param("id"), pathParam(c, "message"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, viewMessage(*m))
}

// pathParam is a path parameter, percent-decoded: echo matches the raw
// path, so an address sent as name%40example.org arrives encoded.
func pathParam(c echo.Context, name string) string {
	v := c.Param(name)
	if u, err := url.PathUnescape(v); err == nil {
		return u
	}
	return v
}

func (s *Server) listDiscussions(c echo.Context) error {
	f := service.DiscussionFilter{Agency: policy.Agency(c.QueryParam("agency")), Limit: queryInt(c, "limit"),
		CaseReference: strings.TrimSpace(c.QueryParam("case_reference"))}
	for _, st := range strings.Split(c.QueryParam("status"), ",") {
		if st = strings.TrimSpace(st); st != "" {
			f.Status = append(f.Status, service.DiscussionStatus(st))
		}
	}
	if v := c.QueryParam("due_before"); v != "" {
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			return service.Invalid("the request is not valid", service.FieldError{Field: "due_before", Message: "must be an RFC 3339 time"})
		}
		f.DueBefore = t
	}
	if v := c.QueryParam("chair"); v != "" {
		if strings.Contains(v, "@") {
			f.ChairEmail = strings.ToLower(v)
		} else if p, err := s.app.Person(c.Request().Context(), v); err == nil {
			f.ChairEmail = p.Email
		} else {
			f.ChairEmail = "\x00none"
		}
	}
	for _, b := range []struct {
		name string
		into **bool
	}{{"breached", &f.Breached}, {"at_risk", &f.AtRisk}, {"follow_on_breach", &f.FollowOnBreach}} {
		if v := c.QueryParam(b.name); v != "" {
			x := v == "true"
			*b.into = &x
		}
	}
	if v := c.QueryParam("after"); v != "" {
		raw, err := base64.RawURLEncoding.DecodeString(v)
		nanos, id, ok := strings.Cut(string(raw), ":")
		n, perr := strconv.ParseInt(nanos, 10, 64)
		if err != nil || !ok || perr != nil {
			return service.Invalid("the request is not valid", service.FieldError{Field: "after", Message: "is not a cursor from a previous page"})
		}
		f.AfterDeadline, f.AfterID = time.Unix(0, n).UTC(), id
	}
	ds, err := s.app.Discussions(c.Request().Context(), f)
	if err != nil {
		return err
	}
	page := struct {
		Items []discussionSummary `json:"items"`
		Next  string              `json:"next,omitempty"`
	}{Items: make([]discussionSummary, len(ds))}
	for i := range ds {
		page.Items[i] = s.summarise(&ds[i])
	}
	if n := len(ds); n > 0 && n == service.PageLimit(f.Limit) {
		last := ds[n-1]
		page.Next = base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(last.Deadline.UnixNano(), 10) + ":" + last.ID))
	}
	return c.JSON(http.StatusOK, page)
}

func (s *Server) getDiscussion(c echo.Context) error {
	d, err := s.app.Discussion(c.Request().Context(), c.Param("id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, s.viewDiscussion(c, d))
}

type bookInput struct {
	Start          time.Time `json:"start"`
	Earliest       bool      `json:"earliest"`
	VenueID        string    `json:"venue_id"`
	OnlineURL      string    `json:"online_url"`
	OverrideReason string    `json:"override_reason"`
	ConfirmUnknown []string  `json:"confirm_unknown"`
}

func (s *Server) book(c echo.Context) error { return s.booking(c, false) }

func (s *Server) reschedule(c echo.Context) error { return s.booking(c, true) }

func (s *Server) booking(c echo.Context, reschedule bool) error {
	var in bookInput
	if err := decode(c, &in); err != nil {
		return err
	}
	req := service.BookRequest{Start: in.Start, Earliest: in.Earliest, VenueID: in.VenueID, OnlineURL: in.OnlineURL,
		OverrideReason: in.OverrideReason, ConfirmUnknown: in.ConfirmUnknown}
	var d *service.Discussion
	var err error
	if reschedule {
		d, err = s.app.Reschedule(c.Request().Context(), c.Param("id"), req)
	} else {
		d, err = s.app.Book(c.Request().Context(), c.Param("id"), req)
	}
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, s.viewDiscussion(c, d))
}

func (s *Server) cancel(c echo.Context) error {
	var in struct {
		Reason string `json:"reason"`
	}
	if err := decode(c, &in); err != nil {
		return err
	}
	d, err := s.app.Cancel(c.Request().Context(), c.Param("id"), in.Reason)
	return s.respond(c, d, err)
}

func (s *Server) addAttendee(c echo.Context) error {
	var in inviteeInput
	if err := decode(c, &in); err != nil {
		return err
	}
	d, err := s.app.AddAttendee(c.Request().Context(), c.Param("id"), service.InviteeRequest{PersonID: in.PersonID, KnowsChild: in.KnowsChild})
	return s.respond(c, d, err)
}

func (s *Server) removeAttendee(c echo.Context) error {
	d, err := s.app.RemoveAttendee(c.Request().Context(), c.Param("id"), pathParam(c, "email"))
	return s.respond(c, d, err)
}

func (s *Server) acceptCounter(c echo.Context) error {
	var in struct {
		OverrideReason string   `json:"override_reason"`
		ConfirmUnknown []string `json:"confirm_unknown"`
	}
	if err := decodeOptional(c, &in); err != nil {
		return err
	}
	d, err := s.app.AcceptCounter(c.Request().Context(), c.Param("id"), c.Param("counter"), in.OverrideReason, in.ConfirmUnknown)
	return s.respond(c, d, err)
}

func (s *Server) declineCounter(c echo.Context) error {
	var in struct {
		Comment string `json:"comment"`
	}
	if err := decodeOptional(c, &in); err != nil {
		return err
	}
	d, err := s.app.DeclineCounter(c.Request().Context(), c.Param("id"), c.Param("counter"), in.Comment)
	return s.respond(c, d, err)
}

func (s *Server) admitReply(c echo.Context) error {
	d, err := s.app.DecideHeldReply(c.Request().Context(), c.Param("id"), c.Param("held"), true)
	return s.respond(c, d, err)
}

func (s *Server) rejectReply(c echo.Context) error {
	d, err := s.app.DecideHeldReply(c.Request().Context(), c.Param("id"), c.Param("held"), false)
	return s.respond(c, d, err)
}

func (s *Server) quorum(c echo.Context) error {
	q, err := s.app.Quorum(c.Request().Context(), c.Param("id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, q)
}

type checkInInput struct {
	PersonID string `json:"person_id"`
	Email    string `json:"email"`
	WalkIn   *struct {
		Name      string        `json:"name"`
		Agency    policy.Agency `json:"agency"`
		Role      string        `json:"role"`
		Seniority int           `json:"seniority"`
	} `json:"walk_in"`
	KnowsChild  *bool      `json:"knows_child"`
	PresentFrom time.Time  `json:"present_from"`
	PresentTo   *time.Time `json:"present_to"`
}

func (s *Server) attendance(c echo.Context) error {
	var in checkInInput
	if err := decode(c, &in); err != nil {
		return err
	}
	req := service.CheckInRequest{PersonID: in.PersonID, Email: strings.ToLower(in.Email), KnowsChild: in.KnowsChild,
		PresentFrom: in.PresentFrom, PresentTo: in.PresentTo}
	if w := in.WalkIn; w != nil {
		req.WalkIn = &service.WalkIn{Name: w.Name, Agency: w.Agency, Role: w.Role, Seniority: w.Seniority}
	}
	d, err := s.app.RecordAttendance(c.Request().Context(), c.Param("id"), req)
	return s.respond(c, d, err)
}

func (s *Server) start(c echo.Context) error {
	var in struct {
		OverrideReason string `json:"override_reason"`
	}
	if err := decodeOptional(c, &in); err != nil {
		return err
	}
	d, err := s.app.StartDiscussion(c.Request().Context(), c.Param("id"), in.OverrideReason)
	return s.respond(c, d, err)
}

// outcomeInput is an outcome as the chair records it: what was decided
// and why. Who authorised it is not taken from the request: each
// authorisation is given by its person (POST .../authorisations), and the
// chair's own by recording it.
type outcomeInput struct {
	Outcome           policy.Outcome        `json:"outcome"`
	SignsOfSafety     service.SignsOfSafety `json:"signs_of_safety"`
	Decisions         []service.Decision    `json:"decisions"`
	Actions           []service.Action      `json:"actions"`
	HarmSubstantiated bool                  `json:"harm_substantiated"`
	Deferral          *service.Deferral     `json:"deferral"`
	ChildSeen         *service.ChildSeen    `json:"child_seen"`
	Review            *service.Review       `json:"review"`
	OtherChildren     []service.OtherChild  `json:"other_children"`
	EPO               *epoInput             `json:"epo"`
	SupportConsidered string                `json:"support_considered"`
	Dissent           []service.Dissent     `json:"dissent"`
	SafetyPlan        *service.SafetyPlan   `json:"safety_plan"`
}

// epoInput is an Emergency Protection Order decision as recorded; the
// approving manager comes from their own authorisation, never the request.
type epoInput struct {
	Decision     string `json:"decision"`
	LegalAdvice  string `json:"legal_advice"`
	LegalAdviser string `json:"legal_adviser"`
}

func (in outcomeInput) outcome() service.Outcome {
	o := service.Outcome{
		Outcome: in.Outcome, SignsOfSafety: in.SignsOfSafety, Decisions: in.Decisions, Actions: in.Actions,
		HarmSubstantiated: in.HarmSubstantiated, Deferral: in.Deferral, ChildSeen: in.ChildSeen, Review: in.Review,
		OtherChildren: in.OtherChildren, SupportConsidered: in.SupportConsidered, Dissent: in.Dissent, SafetyPlan: in.SafetyPlan,
	}
	if e := in.EPO; e != nil {
		o.EPO = &service.EPODecision{Decision: e.Decision, LegalAdvice: e.LegalAdvice, LegalAdviser: e.LegalAdviser}
	}
	return o
}

func (s *Server) outcome(c echo.Context) error {
	var in outcomeInput
	if err := decode(c, &in); err != nil {
		return err
	}
	d, err := s.app.RecordOutcome(c.Request().Context(), c.Param("id"), in.outcome())
	return s.respond(c, d, err)
}

// amendOutcome corrects a recorded outcome; the version it replaces stays
// readable in outcome_history.
func (s *Server) amendOutcome(c echo.Context) error {
	var in struct {
		Outcome outcomeInput `json:"outcome"`
		Reason  string       `json:"reason"`
	}
	if err := decode(c, &in); err != nil {
		return err
	}
	d, err := s.app.AmendOutcome(c.Request().Context(), c.Param("id"), in.Outcome.outcome(), in.Reason)
	return s.respond(c, d, err)
}

// authorise records the caller's own authorisation of an outcome (000 §6):
// whoever is signed in authorises for themselves, never for anyone else.
func (s *Server) authorise(c echo.Context) error {
	var in struct {
		Outcome policy.Outcome `json:"outcome"`
	}
	if err := decode(c, &in); err != nil {
		return err
	}
	d, err := s.app.AuthoriseOutcome(c.Request().Context(), c.Param("id"), in.Outcome)
	return s.respond(c, d, err)
}

// respond writes the discussion after a change.
func (s *Server) respond(c echo.Context, d *service.Discussion, err error) error {
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, s.viewDiscussion(c, d))
}

// discussionSummary is a discussion in a list.
type discussionSummary struct {
	ID            string                   `json:"id"`
	CaseReference string                   `json:"case_reference"`
	Status        service.DiscussionStatus `json:"status"`
	Deadline      time.Time                `json:"deadline"`
	BindingRule   policy.RuleRef           `json:"binding_rule"`
	Format        policy.Format            `json:"format"`
	Chair         string                   `json:"chair,omitempty"`
	Start         *time.Time               `json:"start,omitempty"`
	Breached      bool                     `json:"breached"`
	AtRisk        bool                     `json:"at_risk"`
	// FollowOnBreach: a follow-on deadline was missed (issue 14).
	FollowOnBreach bool           `json:"follow_on_breach"`
	Replies        map[string]int `json:"replies"`
}

func (s *Server) summarise(d *service.Discussion) discussionSummary {
	v := discussionSummary{ID: d.ID, CaseReference: d.CaseReference, Status: d.Status, Deadline: d.Deadline.In(s.zone()),
		BindingRule: d.Timescale.BindingRule, Format: d.Format.Format, Breached: d.Breach != nil, AtRisk: d.AtRisk,
		FollowOnBreach: d.FollowOnBreach != nil, Replies: map[string]int{}}
	for _, inv := range d.Invitees {
		if inv.Removed {
			continue
		}
		if inv.Chair {
			v.Chair = inv.Name
		}
		v.Replies[string(inv.Reply)]++
	}
	if d.Booking != nil {
		t := d.Booking.Start.In(s.zone())
		v.Start = &t
	}
	return v
}

// discussionView is a discussion as its participants see it; the outbox
// and inbound records are shown to those who manage it.
type discussionView struct {
	ID              string                       `json:"id"`
	CaseReference   string                       `json:"case_reference"`
	Status          service.DiscussionStatus     `json:"status"`
	Deadline        time.Time                    `json:"deadline"`
	BindingRule     policy.RuleRef               `json:"binding_rule"`
	Timescale       policy.Timescale             `json:"timescale"`
	Requirements    []policy.Requirement         `json:"requirements"`
	KnowsChild      policy.KnowsChildRule        `json:"knows_child"`
	UrgentMinimum   *policy.UrgentMinimumApplied `json:"urgent_minimum,omitempty"`
	Format          policy.FormatDecision        `json:"format"`
	Unfilled        []string                     `json:"unfilled_requirements"`
	Case            policy.Case                  `json:"case"`
	DurationMinutes int                          `json:"duration_minutes"`
	Agenda          []string                     `json:"agenda"`
	Attendees       []service.Invitee            `json:"attendees"`
	ProposedSlots   []slotView                   `json:"proposed_slots"`
	SlotReason      calendar.SlotReason          `json:"slot_reason,omitempty"`
	Booking         *service.Booking             `json:"booking,omitempty"`
	Breach          *service.Breach              `json:"breach,omitempty"`
	AtRisk          bool                         `json:"at_risk"`
	UID             string                       `json:"uid"`
	Sequence        int                          `json:"sequence"`
	Counters        []service.Counter            `json:"counters"`
	HeldReplies     []heldReplyView              `json:"held_replies,omitempty"`
	Note            string                       `json:"note,omitempty"`
	CheckIns        []service.CheckIn            `json:"check_ins"`
	Started         *service.Start               `json:"started,omitempty"`
	Outcome         *service.Outcome             `json:"outcome,omitempty"`
	OutcomeHistory  []service.OutcomeVersion     `json:"outcome_history"`
	Authorisations  []service.Authorisation      `json:"authorisations"`
	FollowOns       []service.FollowOn           `json:"follow_ons"`
	Circulation     *service.Circulation         `json:"circulation,omitempty"`
	Signups         []service.Signup             `json:"signups"`
	FollowOnBreach  *service.Breach              `json:"follow_on_breach,omitempty"`
	Linked          []service.Link               `json:"linked"`
	ParentID        string                       `json:"parent_id,omitempty"`
	FollowUpID      string                       `json:"follow_up_id,omitempty"`
	Outbox          []messageView                `json:"outbox,omitempty"`
	Timeline        []service.Event              `json:"timeline"`
	CreatedBy       service.Actor                `json:"created_by"`
	CreatedAt       time.Time                    `json:"created_at"`
	UpdatedAt       time.Time                    `json:"updated_at"`
	Version         int64                        `json:"version"`
}

// heldReplyView is a reply Convene would not apply on its own, and why.
type heldReplyView struct {
	ID           string             `json:"id"`
	Kind         string             `json:"kind"`
	Reason       string             `json:"reason,omitempty"`
	From         string             `json:"from"`
	Name         string             `json:"name,omitempty"`
	Reply        policy.ReplyStatus `json:"reply"`
	DelegatedTo  string             `json:"delegated_to,omitempty"`
	DelegateName string             `json:"delegate_name,omitempty"`
	ReceivedAt   time.Time          `json:"received_at"`
	Status       string             `json:"status"`
	DecidedBy    *service.Actor     `json:"decided_by,omitempty"`
}

type messageView struct {
	ID          string               `json:"id"`
	Method      string               `json:"method"`
	To          string               `json:"to"`
	Sequence    int                  `json:"sequence"`
	State       service.MessageState `json:"state"`
	Attempts    int                  `json:"attempts"`
	NextAttempt *time.Time           `json:"next_attempt_at,omitempty"`
	LastError   string               `json:"last_error,omitempty"`
	SentAt      *time.Time           `json:"sent_at,omitempty"`
	CreatedAt   time.Time            `json:"created_at"`
}

func (s *Server) viewDiscussion(c echo.Context, d *service.Discussion) discussionView {
	z := s.zone()
	v := discussionView{
		ID: d.ID, CaseReference: d.CaseReference, Status: d.Status, Deadline: d.Deadline.In(z),
		BindingRule: d.Timescale.BindingRule, Timescale: s.viewTimescale(d.Timescale),
		Requirements: d.Attendance.Requirements, KnowsChild: d.Attendance.KnowsChild, UrgentMinimum: d.Attendance.UrgentMinimum,
		Format: d.Format, Unfilled: orEmpty(d.Unfilled), Case: d.Case, DurationMinutes: int(d.Duration.Minutes()),
		Agenda: d.Agenda, Attendees: []service.Invitee{}, ProposedSlots: viewSlots(d.ProposedSlots), SlotReason: d.SlotReason,
		Booking: d.Booking, Breach: d.Breach, AtRisk: d.AtRisk, UID: d.UID, Sequence: d.Sequence, Counters: orEmpty(d.Counters),
		CheckIns: orEmpty(d.CheckIns), Started: d.Started, Outcome: d.Outcome, OutcomeHistory: orEmpty(d.OutcomeHistory),
		Authorisations: orEmpty(d.Authorisations), FollowOns: orEmpty(d.FollowOns), Linked: orEmpty(d.Linked),
		Circulation: d.Circulation, Signups: orEmpty(d.Signups), FollowOnBreach: d.FollowOnBreach,
		ParentID: d.ParentID, FollowUpID: d.FollowUpID, Timeline: orEmpty(d.Timeline),
		CreatedBy: d.CreatedBy, CreatedAt: d.CreatedAt, UpdatedAt: d.UpdatedAt, Version: d.Version,
	}
	for i := range v.ProposedSlots {
		v.ProposedSlots[i].Start, v.ProposedSlots[i].End = v.ProposedSlots[i].Start.In(z), v.ProposedSlots[i].End.In(z)
	}
	if v.Booking != nil {
		b := *v.Booking
		b.Start, b.End = b.Start.In(z), b.End.In(z)
		v.Booking = &b
	}
	for i := range v.FollowOns {
		v.FollowOns[i].Due = v.FollowOns[i].Due.In(z)
	}
	if v.Circulation != nil {
		circ := *v.Circulation
		circ.At = circ.At.In(z)
		v.Circulation = &circ
	}
	for _, inv := range d.Invitees {
		if !inv.Removed {
			v.Attendees = append(v.Attendees, inv)
		}
	}
	// Held replies and the note are for those who run the discussion.
	if s.app.Manages(c.Request().Context(), d) {
		v.Note = d.Note
		for _, h := range d.HeldReplies {
			v.HeldReplies = append(v.HeldReplies, heldReplyView{ID: h.ID, Kind: h.Kind, Reason: h.Reason, From: h.From, Name: h.Name,
				Reply: h.Reply, DelegatedTo: h.DelegatedTo, DelegateName: h.DelegateName, ReceivedAt: h.ReceivedAt, Status: h.Status,
				DecidedBy: h.DecidedBy})
		}
	}
	msgs, err := s.app.DiscussionMessages(c.Request().Context(), d)
	if err != nil {
		s.log.WarnContext(c.Request().Context(), "outbox not read for the discussion view", "discussion", d.ID, "err", err)
	}
	for _, m := range msgs {
		v.Outbox = append(v.Outbox, viewMessage(m))
	}
	return v
}

func viewMessage(m service.OutboxMessage) messageView {
	mv := messageView{ID: m.ID, Method: m.Method, To: m.To, Sequence: m.Sequence, State: m.State, Attempts: m.Attempts,
		LastError: m.LastError, SentAt: m.SentAt, CreatedAt: m.CreatedAt}
	if m.State == service.MessageQueued {
		t := m.NextAttempt
		mv.NextAttempt = &t
	}
	return mv
}

func orEmpty[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
