package web

import (
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/convene/convene/service"
	"github.com/convene/convene/service/policy"
)

// The chair's quorum page, made for a phone first: a large "met" or "not
// met" with the App's one-line reason, each requirement with who fills it
// and their seniority against the minimum, the roster to tick people in as
// they join (who knows the child, walk-ins, delegates), and the start,
// with an override reason when quorum is not met.

type quorumView struct {
	D            *service.Discussion
	Met          bool
	Summary      string
	Urgent       string
	Requirements []requirementState
	KnowsChild   string
	KnowsMet     bool
	Roster       []rosterEntry
	WalkIns      []rosterEntry
	Agencies     []option
	Levels       []option
	CanRecord    bool
	CanStart     bool
	Started      bool
	When         string
	IsChair      bool
}

type requirementState struct {
	Name, State, Class, Who, Needed, Present string
	Essential, Met                           bool
}

type rosterEntry struct {
	Name, Email, Agency, Seniority, Reply, Note string
	Present, KnowsChild                         bool
}

func (s *Server) quorumPage(w http.ResponseWriter, r *http.Request) error {
	return s.showQuorum(w, r, http.StatusOK, nil, nil)
}

func (s *Server) showQuorum(w http.ResponseWriter, r *http.Request, status int, form url.Values, errs []FieldError) error {
	ctx, id := r.Context(), r.PathValue("id")
	d, err := s.app.Discussion(ctx, id)
	if err != nil {
		return err
	}
	q, err := s.app.Quorum(ctx, id)
	if err != nil {
		return err
	}
	zone := s.cfg.Zone
	profile := s.profile()
	v := &quorumView{D: d, Met: q.Met, Summary: q.Summary, KnowsMet: q.Actual.KnowsChild.Satisfied,
		CanRecord: (d.Status == service.StatusBooked || d.Status == service.StatusInProgress) && s.app.Manages(ctx, d),
		Started:   d.Status == service.StatusInProgress || d.Status == service.StatusConcluded}
	if p := service.PrincipalFrom(ctx); p != nil {
		for _, inv := range d.Invitees {
			if inv.Chair && !inv.Removed && strings.EqualFold(inv.Email, p.Email) {
				v.IsChair = true
			}
		}
	}
	v.CanStart = v.IsChair && d.Status == service.StatusBooked
	if d.Booking != nil {
		v.When = WhenRange(d.Booking.Start, d.Booking.End, zone)
	}
	if u := q.UrgentMinimum; u != nil {
		v.Urgent = u.Summary + " (" + u.Citation + "): " + u.Reason
	}
	switch k := q.Actual.KnowsChild; {
	case !k.Required:
		v.KnowsChild = "Not required by the procedure"
	case k.Satisfied:
		var names []string
		for _, b := range k.By {
			names = append(names, b.Name)
		}
		v.KnowsChild = "Yes: " + strings.Join(names, ", ")
	default:
		v.KnowsChild = "Nobody present is marked as knowing the child"
	}
	for _, rs := range q.Actual.Requirements {
		st := requirementState{Name: capital(rs.Name), Essential: rs.Essential, Needed: or(rs.Needed.Label, "any level"),
			Met: rs.Status == policy.StateSatisfied}
		switch rs.Status {
		case policy.StateSatisfied:
			st.State, st.Class = "Filled", "govuk-tag--green"
		case policy.StateBelowSeniority:
			st.State, st.Class = "Below the seniority needed", "govuk-tag--orange"
		default:
			st.State, st.Class = "Nobody present", "govuk-tag--red"
		}
		if !rs.Essential {
			st.State += " (advisory)"
		}
		if b := rs.SatisfiedBy; b != nil {
			st.Who = b.Name + ", " + b.Seniority.Label
			if b.DelegateFor != "" {
				st.Who += " (delegate for " + b.DelegateFor + ")"
			}
		}
		if p := rs.Present; p != nil {
			st.Present = p.Label
		}
		v.Requirements = append(v.Requirements, st)
	}
	present := map[string]service.CheckIn{}
	for _, c := range d.CheckIns {
		if c.PresentTo == nil && c.Email != "" {
			present[c.Email] = c
		}
	}
	for _, inv := range d.Invitees {
		if inv.Removed {
			continue
		}
		c, here := present[inv.Email]
		e := rosterEntry{Name: inv.Name, Email: inv.Email, Agency: s.agency(inv.Agency), Seniority: profile.SeniorityLabel(inv.Agency, inv.Seniority),
			Reply: Words(string(inv.Reply)), Present: here, KnowsChild: inv.KnowsChild || here && c.KnowsChild}
		switch {
		case inv.Chair:
			e.Note = "Chair"
		case inv.DelegatedFrom != "":
			e.Note = "Delegate for " + nameOf(d, inv.DelegatedFrom)
		case inv.DelegatedTo != "":
			e.Note = "Delegated to " + nameOf(d, inv.DelegatedTo)
		}
		if form.Get("roster") == "1" {
			// A refused roster: what was ticked.
			e.Present = slices.Contains(form["present"], inv.Email)
			e.KnowsChild = slices.Contains(form["knows_child"], inv.Email)
		}
		v.Roster = append(v.Roster, e)
	}
	for _, c := range d.CheckIns {
		if c.WalkIn && c.PresentTo == nil {
			v.WalkIns = append(v.WalkIns, rosterEntry{Name: c.Name, Agency: s.agency(c.Agency), Seniority: or(c.SeniorityLabel, profile.SeniorityLabel(c.Agency, c.Seniority)),
				KnowsChild: c.KnowsChild, Present: true})
		}
	}
	v.Agencies = append(v.Agencies, option{Text: "Choose the agency"})
	for _, a := range policy.Agencies {
		v.Agencies = append(v.Agencies, option{Value: string(a), Text: profile.AgencyLabel(a), Selected: form.Get("walk_in.agency") == string(a)})
	}
	agency := policy.Agency(form.Get("walk_in.agency"))
	for i, l := range profile.Seniority(agency) {
		n := strconv.Itoa(i + 1)
		v.Levels = append(v.Levels, option{Value: n, Text: l.Label, Selected: form.Get("walk_in.seniority") == n})
	}
	if len(v.Levels) == 0 {
		for i := 1; i <= 5; i++ {
			n := strconv.Itoa(i)
			v.Levels = append(v.Levels, option{Value: n, Text: "Level " + n + " on their agency's scale", Selected: form.Get("walk_in.seniority") == n})
		}
	}
	title := "Quorum for case " + d.CaseReference
	p := &Page{Title: title, Nav: "/today", Back: "/discussions/" + d.ID, Banner: banner(r), Form: form, Errors: s.plain(d, errs), Data: v}
	return s.render(w, r, status, "quorum.html", p)
}

// attendancePost ticks in everyone ticked who was not yet: each is one
// check-in through the App.
func (s *Server) attendancePost(w http.ResponseWriter, r *http.Request) error {
	if err := r.ParseForm(); err != nil {
		return err
	}
	ctx, id, form := r.Context(), r.PathValue("id"), r.PostForm
	d, err := s.app.Discussion(ctx, id)
	if err != nil {
		return err
	}
	present := map[string]service.CheckIn{}
	for _, c := range d.CheckIns {
		if c.PresentTo == nil && c.Email != "" {
			present[c.Email] = c
		}
	}
	knows := form["knows_child"]
	for _, email := range form["present"] {
		k := slices.Contains(knows, email)
		if c, ok := present[email]; ok && c.KnowsChild == k {
			continue
		}
		if _, err := s.app.RecordAttendance(ctx, id, service.CheckInRequest{Email: email, KnowsChild: &k}); err != nil {
			if service.ErrorCode(err) == service.EINTERNAL {
				return err
			}
			return s.showQuorum(w, r, http.StatusUnprocessableEntity, form, fieldErrors(err))
		}
	}
	return done(w, r, "/discussions/"+id+"/quorum", "checked-in")
}

// walkInPost checks in someone who is not on the invitation list.
func (s *Server) walkInPost(w http.ResponseWriter, r *http.Request) error {
	if err := r.ParseForm(); err != nil {
		return err
	}
	ctx, id, form := r.Context(), r.PathValue("id"), r.PostForm
	level, _ := strconv.Atoi(form.Get("walk_in.seniority"))
	k := form.Get("walk_in.knows_child") == "yes"
	_, err := s.app.RecordAttendance(ctx, id, service.CheckInRequest{KnowsChild: &k, WalkIn: &service.WalkIn{
		Name: strings.TrimSpace(form.Get("walk_in.name")), Agency: policy.Agency(form.Get("walk_in.agency")),
		Role: strings.TrimSpace(form.Get("walk_in.role")), Seniority: level}})
	if err != nil {
		if service.ErrorCode(err) == service.EINTERNAL {
			return err
		}
		return s.showQuorum(w, r, http.StatusUnprocessableEntity, form, fieldErrors(err))
	}
	return done(w, r, "/discussions/"+id+"/quorum", "checked-in")
}

// startPost starts the discussion; without quorum (or early) the App asks
// for the override reason, which the page then shows as its error.
func (s *Server) startPost(w http.ResponseWriter, r *http.Request) error {
	if err := r.ParseForm(); err != nil {
		return err
	}
	ctx, id, form := r.Context(), r.PathValue("id"), r.PostForm
	if _, err := s.app.StartDiscussion(ctx, id, form.Get("override_reason")); err != nil {
		if service.ErrorCode(err) == service.EINTERNAL {
			return err
		}
		errs := fieldErrors(err)
		for i := range errs {
			if errs[i].Field == "" {
				errs[i].Field = "override-reason"
			}
		}
		return s.showQuorum(w, r, http.StatusUnprocessableEntity, form, errs)
	}
	return done(w, r, "/discussions/"+id+"/outcome", "started")
}

// goDuration is a duration as Go prints it ("15m0s").
var goDuration = regexp.MustCompile(`\b\d+h\d+m0s\b|\b\d+m0s\b`)

// plain says the App's messages without API words: times as people say
// them, agencies by name, field names as what to do.
func (s *Server) plain(d *service.Discussion, errs []FieldError) []FieldError {
	errs = named(d, errs)
	for i := range errs {
		m := errs[i].Message
		m = strings.ReplaceAll(m, "Start with override_reason to proceed without quorum.", "To start anyway, give the reason below.")
		m = strings.ReplaceAll(m, "needs override_reason", "needs a reason: give the reason below")
		m = goDuration.ReplaceAllStringFunc(m, func(d string) string {
			if v, err := time.ParseDuration(d); err == nil {
				return minutesText(int(v.Minutes()))
			}
			return d
		})
		errs[i].Message = humanise(m, s.cfg.Zone, s.agency)
	}
	return errs
}

// capital starts a name with a capital letter ("police" → "Police").
func capital(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
