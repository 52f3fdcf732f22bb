package web

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/convene/convene/calendar"
	"github.com/convene/convene/service"
)

// Slots shows the earliest times before the deadline with, for each
// essential person, whether they are free, busy or unknown and why; and
// books one. A booking where someone's calendar could not be read asks for
// confirmation naming them (the App refuses it otherwise), and a conflict
// is explained in words.

type slotsView struct {
	formKit
	D          *service.Discussion
	Reschedule bool
	Deadline   string
	Left       string
	Reason     string
	Slots      []slotView
	People     []personAvailability
	Unknown    []personAvailability
	Venues     []option
	OnlineURL  string
	Other      bool
	Late       bool
}

// slotView is one time on offer.
type slotView struct {
	Value, When string
	AllFree     bool
	Late        bool
	Checked     bool
	People      []slotPerson
}

type slotPerson struct {
	Name, State, Why, Class string
}

// personAvailability is what is known of someone's calendar.
type personAvailability struct {
	Name, Email, Agency string
	Essential, Known    bool
	Why                 string
}

func (s *Server) slotsPage(w http.ResponseWriter, r *http.Request) error {
	form := url.Values{}
	if v := r.URL.Query().Get("venue"); v != "" {
		form.Set("venue_id", v)
	}
	return s.showSlots(w, r, http.StatusOK, form, nil)
}

// showSlots renders the slots page (again, with errors, after a refused
// booking).
func (s *Server) showSlots(w http.ResponseWriter, r *http.Request, status int, form url.Values, errs []FieldError) error {
	ctx := r.Context()
	d, err := s.app.Discussion(ctx, r.PathValue("id"))
	if err != nil {
		return err
	}
	v, err := s.slots(ctx, d, form)
	if err != nil {
		return err
	}
	title := "Choose a time"
	if v.Reschedule {
		title = "Move the discussion to another time"
	}
	p := &Page{Title: title + " for case " + d.CaseReference, Back: "/discussions/" + d.ID, Nav: "/today", Banner: banner(r),
		Form: form, Errors: errs, Data: v}
	v.Page = p
	return s.render(w, r, status, "slots.html", p)
}

func (s *Server) slots(ctx context.Context, d *service.Discussion, form url.Values) (*slotsView, error) {
	now, zone := s.cfg.Now(), s.cfg.Zone
	v := &slotsView{D: d, Reschedule: d.Status == service.StatusBooked, Deadline: When(d.Deadline, zone) + " " + ZoneName(d.Deadline, zone),
		Left: TimeLeft(d.Deadline, now), OnlineURL: form.Get("online_url"), Other: form.Get("start") == "other"}
	// What each invitee's calendar says, and why it could not be read.
	var ask []service.AvailabilityAttendee
	var whom []service.Invitee
	for _, inv := range d.Invitees {
		if inv.Removed || inv.Reply == "declined" || inv.Reply == "delegated" {
			continue
		}
		if inv.PersonID != "" {
			ask = append(ask, service.AvailabilityAttendee{PersonID: inv.PersonID, Essential: inv.Essential || inv.Chair})
		} else {
			ask = append(ask, service.AvailabilityAttendee{Email: inv.Email, Name: inv.Name, Essential: inv.Essential})
		}
		whom = append(whom, inv)
	}
	earliest := now.Truncate(15 * time.Minute).Add(15 * time.Minute)
	until := d.Deadline
	if until.Sub(earliest) < d.Duration {
		// No time left before the deadline: the times after it, which
		// need a reason to book.
		until, v.Late = earliest.Add(3*24*time.Hour), true
	}
	var slots []calendar.Slot
	var reason calendar.SlotReason
	if len(ask) > 0 {
		avail, err := s.app.CheckAvailability(ctx, service.AvailabilityRequest{Attendees: ask, Duration: d.Duration,
			Earliest: earliest, Deadline: until, Region: d.Timescale.Region, MaxSlots: 5})
		if err != nil {
			return nil, err
		}
		slots, reason = avail.Slots, avail.Reason
		for i, a := range avail.Attendees {
			pa := personAvailability{Name: a.Name, Email: a.Email, Essential: a.Essential, Known: a.Availability == calendar.Known}
			if i < len(whom) {
				pa.Name, pa.Agency = whom[i].Name, s.agency(whom[i].Agency)
			}
			if !pa.Known {
				pa.Why = say(unknownWords, a.Reason)
				v.Unknown = append(v.Unknown, pa)
			}
			v.People = append(v.People, pa)
		}
	}
	if d.Status == service.StatusProposed && len(d.ProposedSlots) > 0 && !v.Late {
		// The times the App proposed when convening, while they are
		// still ahead.
		var ahead []calendar.Slot
		for _, sl := range d.ProposedSlots {
			if sl.Start.After(now) {
				ahead = append(ahead, sl)
			}
		}
		if len(ahead) > 0 {
			slots = ahead[:min(len(ahead), 5)]
		}
	}
	v.Reason = say(slotReasonWords, reason)
	why := map[string]string{}
	for _, pa := range v.People {
		why[pa.Email] = pa.Why
	}
	for i, sl := range slots {
		sv := slotView{Value: sl.Start.UTC().Format(time.RFC3339), When: WhenRange(sl.Start, sl.End, zone), Late: sl.End.After(d.Deadline),
			AllFree: true}
		sv.Checked = form.Get("start") == sv.Value || form.Get("start") == "" && i == 0
		for _, inv := range whom {
			if !inv.Essential && !inv.Chair {
				continue
			}
			sp := slotPerson{Name: inv.Name}
			switch {
			case slices.Contains(sl.Busy, inv.Email):
				sp.State, sp.Class, sp.Why = "Busy", "govuk-tag--red", "their calendar shows them busy then"
			case slices.Contains(sl.Unknown, inv.Email):
				sp.State, sp.Class, sp.Why = "Unknown", "govuk-tag--yellow", why[inv.Email]
			default:
				sp.State, sp.Class = "Free", "govuk-tag--green"
			}
			sv.People = append(sv.People, sp)
			sv.AllFree = sv.AllFree && sp.State == "Free"
		}
		v.Slots = append(v.Slots, sv)
	}
	venues, err := s.app.Venues(ctx, false)
	if err != nil {
		return nil, err
	}
	current := form.Get("venue_id")
	v.Venues = append(v.Venues, option{Text: "No venue: online or by phone"})
	for _, vn := range venues {
		v.Venues = append(v.Venues, option{Value: vn.ID, Text: vn.Location(), Selected: current == vn.ID})
	}
	return v, nil
}

// bookPost books (or moves) the discussion at the chosen time.
func (s *Server) bookPost(w http.ResponseWriter, r *http.Request) error {
	if err := r.ParseForm(); err != nil {
		return err
	}
	ctx, form, id := r.Context(), r.PostForm, r.PathValue("id")
	req := service.BookRequest{VenueID: form.Get("venue_id"), OnlineURL: strings.TrimSpace(form.Get("online_url")),
		OverrideReason: strings.TrimSpace(form.Get("override_reason")), ConfirmUnknown: form["confirm_unknown"]}
	var errs []FieldError
	switch v := form.Get("start"); v {
	case "":
		errs = append(errs, FieldError{Field: "start", Message: "Choose a time"})
	case "other":
		t, ok := s.dateTime(form, "other")
		if !ok {
			errs = append(errs, FieldError{Field: "other", Message: "Enter the other time as a real date, hour and minute"})
		}
		req.Start = t
	default:
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			errs = append(errs, FieldError{Field: "start", Message: "Choose one of the times shown"})
		}
		req.Start = t
	}
	if len(errs) > 0 {
		return s.showSlots(w, r, http.StatusUnprocessableEntity, form, errs)
	}
	current, err := s.app.Discussion(ctx, id)
	if err != nil {
		return err
	}
	verb := "booked"
	if current.Status == service.StatusBooked {
		_, err = s.app.Reschedule(ctx, id, req)
		verb = "rescheduled"
	} else {
		_, err = s.app.Book(ctx, id, req)
	}
	if err != nil {
		if service.ErrorCode(err) == service.EINTERNAL || service.ErrorCode(err) == service.ENOTFOUND {
			return err
		}
		return s.showSlots(w, r, http.StatusUnprocessableEntity, form, named(current, fieldErrors(err)))
	}
	return done(w, r, "/discussions/"+id, verb)
}

// oneAreFree is "whether Ed Lead are free": one person, so "is".
var oneAreFree = regexp.MustCompile(`whether ([^,]+?) are free`)

// named puts people's names where the App's messages give their
// addresses ("essential attendees are busy then: dana@…").
func named(d *service.Discussion, errs []FieldError) []FieldError {
	for i := range errs {
		for _, inv := range d.Invitees {
			if inv.Email != "" && inv.Name != "" {
				errs[i].Message = strings.ReplaceAll(errs[i].Message, inv.Email, inv.Name)
			}
		}
		errs[i].Message = strings.ReplaceAll(errs[i].Message, " by listing them in confirm_unknown", ": tick them below")
		errs[i].Message = oneAreFree.ReplaceAllString(errs[i].Message, "whether $1 is free")
	}
	return errs
}
