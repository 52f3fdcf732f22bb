package web

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/convene/convene/service"
	"github.com/convene/convene/service/policy"
)

// invitationData is the agency representative's invitation page: when,
// where or how to join, why they are invited, their answer, and the form.
type invitationData struct {
	ID            string
	CaseReference string
	Status        service.DiscussionStatus
	Start, End    time.Time
	Location      string
	OnlineURL     string
	Format        policy.Format
	Agency        policy.Agency
	// Why lists the places they fill: "Police (at least Detective
	// Sergeant)".
	Why           []string
	DelegatedFrom string
	Reply         policy.ReplyStatus
	Comment       string
	DelegatedTo   string
	// Proposals are their time proposals still waiting for a decision.
	Proposals []time.Time
	// Choice is the answer selected in the form.
	Choice string
	// Warning is why a delegation would wait for business support;
	// Confirm asks to send it anyway.
	Warning string
	Closed  bool
}

// invitationSession returns the request's session when it may see the
// discussion's invitation: confirmed, and, for a partner, bound to it.
// Otherwise it is nil, and the request is answered (sent to sign in) or
// the error says why not.
func (s *Server) invitationSession(w http.ResponseWriter, r *http.Request, id string) (*service.Session, error) {
	sess := sessionFrom(r.Context())
	if sess == nil || !sess.Confirmed {
		http.Redirect(w, r, "/sign-in?return="+url.QueryEscape(r.URL.Path), http.StatusSeeOther)
		return nil, nil
	}
	if sess.Partner && sess.DiscussionID != id {
		return nil, service.Errorf(service.ENOTFOUND, "discussion not found")
	}
	return sess, nil
}

// invitation shows the invitation to the signed-in invitee. GET changes
// nothing.
func (s *Server) invitation(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	sess, err := s.invitationSession(w, r, id)
	if sess == nil {
		return err
	}
	ctx := service.WithPrincipal(r.Context(), &sess.Principal)
	d, err := s.app.Discussion(ctx, id)
	if err != nil {
		return err
	}
	data, err := s.invitationView(d, sess.Principal.Email)
	if err != nil {
		return err
	}
	data.Choice = r.URL.Query().Get("answer")
	if !slices.Contains([]string{"accepted", "tentative", "declined", "counter", "delegated"}, data.Choice) {
		data.Choice = ""
	}
	p := &Page{Title: "Strategy discussion invitation", Data: data}
	switch r.URL.Query().Get("done") {
	case "answer":
		p.Banner = "Your answer is recorded. Thank you."
	case "counter":
		p.Banner = "Your proposed time is sent to business support and the chair."
	case "held":
		p.Banner = "Your delegation is waiting for business support to confirm it. Until then you remain invited."
	}
	return s.render(w, r, http.StatusOK, "invitation.html", p)
}

// invitationView reads the invitee's own part of the discussion.
func (s *Server) invitationView(d *service.Discussion, email string) (*invitationData, error) {
	var inv *service.Invitee
	for i := range d.Invitees {
		if !d.Invitees[i].Removed && strings.EqualFold(d.Invitees[i].Email, email) {
			inv = &d.Invitees[i]
		}
	}
	if inv == nil {
		return nil, service.Errorf(service.ENOTFOUND, "you are no longer invited to this discussion")
	}
	v := &invitationData{ID: d.ID, CaseReference: d.CaseReference, Status: d.Status, Format: d.Format.Format, Agency: inv.Agency,
		DelegatedFrom: inv.DelegatedFrom, Reply: inv.Reply, Comment: inv.Comment, DelegatedTo: inv.DelegatedTo,
		Closed: d.Status == service.StatusCancelled || d.Status == service.StatusConcluded}
	if b := d.Booking; b != nil {
		v.Start, v.End, v.Location, v.OnlineURL = b.Start, b.End, b.Location, b.OnlineURL
	}
	for _, req := range d.Attendance.Requirements {
		if slices.Contains(inv.Requirements, req.ID) {
			why := Words(req.Name)
			if req.MinSeniority.Label != "" {
				why += " (at least " + req.MinSeniority.Label + ")"
			}
			v.Why = append(v.Why, why)
		}
	}
	for _, c := range d.Counters {
		if strings.EqualFold(c.From, inv.Email) && c.Status == "pending" {
			v.Proposals = append(v.Proposals, c.Start)
		}
	}
	return v, nil
}

// answer records the invitee's answer. A delegation that would wait for
// business support (the colleague is below the seniority needed, from
// another agency, or not in the directory) is shown with a warning first,
// and sent only when confirmed.
func (s *Server) answer(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	sess, err := s.invitationSession(w, r, id)
	if sess == nil {
		return err
	}
	ctx := service.WithPrincipal(r.Context(), &sess.Principal)
	f := r.PostForm
	choice := f.Get("answer")
	in := service.InvitationAnswer{Answer: policy.ReplyStatus(choice)}
	var formErrs []FieldError
	done := "answer"
	switch choice {
	case "declined":
		in.Comment = f.Get("decline-reason")
		if len(in.Comment) > 500 {
			formErrs = append(formErrs, FieldError{Field: "decline-reason", Message: "Reason must be 500 characters or fewer."})
		}
	case "delegated":
		in.DelegateTo, in.DelegateName = f.Get("delegate-to"), f.Get("delegate-name")
	case "counter":
		in.Answer = ""
		in.Comment = f.Get("counter-comment")
		t, fe := parseDateTime(f, "proposed", s.cfg.Zone)
		formErrs = append(formErrs, fe...)
		in.ProposedStart = t
		done = "counter"
	case "accepted", "tentative":
	default:
		formErrs = append(formErrs, FieldError{Field: "answer", Message: "Select your answer."})
	}
	reshow := func(status int, p *Page) error {
		d, err := s.app.Discussion(ctx, id)
		if err != nil {
			return err
		}
		data, err := s.invitationView(d, sess.Principal.Email)
		if err != nil {
			return err
		}
		data.Choice = choice
		if warn, ok := p.Data.(string); ok {
			data.Warning = warn
		}
		p.Title, p.Data, p.Form = "Strategy discussion invitation", data, f
		return s.render(w, r, status, "invitation.html", p)
	}
	if len(formErrs) > 0 {
		return reshow(http.StatusUnprocessableEntity, &Page{Errors: formErrs})
	}
	if choice == "delegated" && f.Get("confirm-delegation") != "yes" {
		warning, err := s.app.DelegationWarning(ctx, id, in.DelegateTo)
		if err != nil {
			return s.refuseAnswer(reshow, err)
		}
		if warning != "" {
			return reshow(http.StatusOK, &Page{Data: sentence(warning)})
		}
	}
	if choice == "delegated" && f.Get("confirm-delegation") == "yes" {
		done = "held"
	}
	if _, err := s.app.AnswerInvitation(ctx, id, in); err != nil {
		return s.refuseAnswer(reshow, err)
	}
	http.Redirect(w, r, "/invitations/"+id+"?done="+done, http.StatusSeeOther)
	return nil
}

// refuseAnswer shows what the domain refused beside the form's fields
// ("delegate_to" is the form's "delegate-to"), or as the error page when
// it is not about the form.
func (s *Server) refuseAnswer(reshow func(int, *Page) error, err error) error {
	switch service.ErrorCode(err) {
	case service.EINVALID, service.EPRECONDITION, service.ECONFLICT:
		return reshow(http.StatusUnprocessableEntity, &Page{Errors: fieldErrors(err)})
	}
	return err
}

// parseDateTime reads a GOV.UK date input (NAME-day, NAME-month,
// NAME-year) and a time (NAME-time, "14:30"), in the zone.
func parseDateTime(f map[string][]string, name string, zone *time.Location) (time.Time, []FieldError) {
	get := func(k string) string {
		if v := f[name+"-"+k]; len(v) > 0 {
			return strings.TrimSpace(v[0])
		}
		return ""
	}
	day, e1 := strconv.Atoi(get("day"))
	month, e2 := strconv.Atoi(get("month"))
	year, e3 := strconv.Atoi(get("year"))
	if e1 != nil || e2 != nil || e3 != nil || month < 1 || month > 12 || day < 1 || day > 31 || year < 2000 || year > 2100 {
		return time.Time{}, []FieldError{{Field: name + "-day", Message: "Enter the date you propose, for example 27 3 2027."}}
	}
	hh, mm, ok := strings.Cut(strings.ReplaceAll(get("time"), ".", ":"), ":")
	h, e4 := strconv.Atoi(hh)
	m, e5 := strconv.Atoi(mm)
	if !ok || e4 != nil || e5 != nil || h < 0 || h > 23 || m < 0 || m > 59 {
		return time.Time{}, []FieldError{{Field: name + "-time", Message: "Enter the time you propose in 24-hour form, for example 14:30."}}
	}
	t := time.Date(year, time.Month(month), day, h, m, 0, 0, zone)
	if t.Day() != day {
		return time.Time{}, []FieldError{{Field: name + "-day", Message: "Enter a real date."}}
	}
	return t, nil
}

// invitationRow is one line of an agency representative's invitations.
type invitationRow struct {
	ID, CaseReference string
	Status            service.DiscussionStatus
	Start             time.Time
	Deadline          time.Time
	Reply             policy.ReplyStatus
}

// invitations lists the open discussions the signed-in person is invited
// to (the App lists only those for anyone but business support): where an
// agency representative with a council account starts.
func (s *Server) invitations(w http.ResponseWriter, r *http.Request) error {
	sess := sessionFrom(r.Context())
	if sess == nil || !sess.Confirmed {
		http.Redirect(w, r, "/sign-in?return=/invitations", http.StatusSeeOther)
		return nil
	}
	if sess.Partner {
		http.Redirect(w, r, "/invitations/"+sess.DiscussionID, http.StatusSeeOther)
		return nil
	}
	ctx := service.WithPrincipal(r.Context(), &sess.Principal)
	// Every open one, however old its deadline: the store reads the
	// person's memberships of each open status off an index, not their
	// years of concluded ones.
	ds, err := s.app.Discussions(ctx, service.DiscussionFilter{VisibleTo: sess.Principal.Email, Limit: 25,
		Status: []service.DiscussionStatus{service.StatusProposed, service.StatusBooked, service.StatusInProgress}})
	if err != nil {
		return err
	}
	var rows []invitationRow
	for _, d := range ds {
		row := invitationRow{ID: d.ID, CaseReference: d.CaseReference, Status: d.Status, Deadline: d.Deadline}
		if d.Booking != nil {
			row.Start = d.Booking.Start
		}
		for _, inv := range d.Invitees {
			if !inv.Removed && strings.EqualFold(inv.Email, sess.Principal.Email) {
				row.Reply = inv.Reply
			}
		}
		rows = append(rows, row)
	}
	return s.render(w, r, http.StatusOK, "invitations.html", &Page{Title: "Your invitations", Nav: "/invitations", Data: rows})
}
