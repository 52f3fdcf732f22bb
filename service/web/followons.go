package web

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/convene/convene/service"
)

// Follow-ons as work (issue 14): each deadline that follows the discussion
// (the record circulated, the ICPC, the s47 enquiry, the child seen...)
// with its owner, when it is due, and where it is: open, met (when, by
// whom, with a note) or missed. Whoever may (the App decides: business
// support, the chair, or the owning agency's representative) marks one
// met with a note; the ICPC is met by recording the conference's date
// (000 §2, 002 §6). The record is met by circulating it, on the record
// page.

type followOnsView struct {
	formKit
	D         *service.Discussion
	FollowOns []followOnWork
}

// followOnWork is one follow-on as the page shows it.
type followOnWork struct {
	ID, What, Citation, Owner, Due, State, StateClass, Detail string
	// Follow-ons not yet met take a form: MeetForm marks one met; Conference
	// records the ICPC's date; Record points to the record page.
	MeetForm, Conference, Record bool
	// Note and At are the form's field names for this follow-on.
	Note, At string
}

// followOnWords are the states of a follow-on in words, and their tags.
var (
	followOnWords = map[service.FollowOnState]string{
		service.FollowOnOpen: "Open", service.FollowOnMet: "Met", service.FollowOnMissed: "Missed",
	}
	followOnTag = map[service.FollowOnState]string{
		service.FollowOnOpen: "govuk-tag--blue", service.FollowOnMet: "govuk-tag--green", service.FollowOnMissed: "govuk-tag--red",
	}
)

// followOnBanners are what the follow-ons page may say after a change.
var followOnBanners = map[string]string{
	"met":        "The follow-on is marked met.",
	"conference": "The conference date is recorded.",
}

func (s *Server) followOnsPage(w http.ResponseWriter, r *http.Request) error {
	return s.showFollowOns(w, r, http.StatusOK, nil, nil)
}

// showFollowOns renders the follow-ons (again, after a refused change,
// with its errors and what was typed).
func (s *Server) showFollowOns(w http.ResponseWriter, r *http.Request, status int, form url.Values, errs []FieldError) error {
	d, err := s.app.Discussion(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	zone := s.cfg.Zone
	v := &followOnsView{D: d}
	for _, fo := range d.FollowOns {
		state := fo.State
		switch {
		case fo.Done:
			state = service.FollowOnMet
		case state == "":
			state = service.FollowOnOpen
		}
		fw := followOnWork{ID: fo.ID, What: capital(fo.Summary), Citation: fo.Citation, Due: When(fo.Due, zone) + " " + ZoneName(fo.Due, zone),
			State: say(followOnWords, state), StateClass: followOnTag[state],
			Note: fo.ID + ".note", At: fo.ID + ".at"}
		if o := fo.Owner; o != nil {
			fw.Owner = s.agency(o.Agency)
			if o.Name != "" {
				fw.Owner = o.Name + ", " + fw.Owner
			}
		}
		switch state {
		case service.FollowOnMet:
			var parts []string
			if fo.MetAt != nil {
				parts = append(parts, "Met "+When(*fo.MetAt, zone))
			} else if fo.DoneAt != nil {
				parts = append(parts, "Met "+When(*fo.DoneAt, zone))
			}
			if fo.MetBy != nil {
				parts = append(parts, "by "+or(fo.MetBy.Name, fo.MetBy.Email))
			}
			fw.Detail = strings.Join(parts, " ")
			if fo.MissedAt != nil {
				fw.State, fw.StateClass = "Met late", "govuk-tag--orange"
				fw.Detail = "Met late: " + strings.TrimPrefix(fw.Detail, "Met ")
			}
		case service.FollowOnMissed:
			fw.Detail = "Missed: not met by " + When(fo.Due, zone)
			if fo.ConferenceDate != nil {
				fw.Detail = "Missed: the conference is on " + When(*fo.ConferenceDate, zone) + ", after its deadline"
			}
		}
		if fw.Detail == "" {
			fw.Detail = fw.State
		}
		if fo.Note != "" {
			fw.Detail += ". Note: “" + fo.Note + "”"
		}
		// Missed is not the end: it can still be met, late.
		if state != service.FollowOnMet {
			switch fo.ID {
			case service.FollowOnRecord:
				fw.Record = true
			case service.FollowOnICPC:
				fw.Conference, fw.Note, fw.At = true, "conference.note", "conference.date"
			default:
				fw.MeetForm = true
			}
		}
		v.FollowOns = append(v.FollowOns, fw)
	}
	if errs != nil && form != nil {
		errs = s.plain(d, errs)
	}
	p := &Page{Title: "Follow-ons for case " + d.CaseReference, Nav: "/today", Back: "/discussions/" + d.ID,
		Banner: followOnBanners[r.URL.Query().Get("done")], Form: form, Errors: errs, Data: v}
	v.Page = p
	return s.render(w, r, status, "followons.html", p)
}

// dateTimeField reads a GOV.UK date input with hour and minute (name-day,
// name-month, name-year, name-hour, name-minute) in the area's zone:
// the zero time when left empty, false when it is not a real date and
// time.
func (s *Server) dateTimeField(form url.Values, name string) (time.Time, bool) {
	parts := []string{"day", "month", "year", "hour", "minute"}
	empty := true
	for _, p := range parts {
		if strings.TrimSpace(form.Get(name+"-"+p)) != "" {
			empty = false
		}
	}
	if empty {
		return time.Time{}, true
	}
	t, ok := s.date(form, name, 0)
	if !ok {
		return time.Time{}, false
	}
	h, herr := strconv.Atoi(strings.TrimSpace(form.Get(name + "-hour")))
	m, merr := strconv.Atoi(strings.TrimSpace(form.Get(name + "-minute")))
	if herr != nil || merr != nil || h < 0 || h > 23 || m < 0 || m > 59 {
		return time.Time{}, false
	}
	return time.Date(t.Year(), t.Month(), t.Day(), h, m, 0, 0, s.cfg.Zone), true
}

// followOnChange runs a change to a follow-on from its form: on success,
// back to the follow-ons with a banner; refused, the follow-ons again
// with the errors against this form's fields, and what was typed. The
// domain names its fields "at", "date" and "note"; prefix is this form's.
func (s *Server) followOnChange(w http.ResponseWriter, r *http.Request, prefix, bannerKey string, fn func(form url.Values) ([]FieldError, error)) error {
	if err := r.ParseForm(); err != nil {
		return err
	}
	errs, err := fn(r.PostForm)
	if err == nil && len(errs) == 0 {
		return done(w, r, "/discussions/"+r.PathValue("id")+"/follow-ons", bannerKey)
	}
	status := http.StatusUnprocessableEntity
	if err != nil {
		switch service.ErrorCode(err) {
		case service.EINTERNAL, service.ENOTFOUND, service.EUNAUTHORIZED, service.EUNAVAILABLE:
			return err
		case service.EFORBIDDEN:
			status = http.StatusForbidden
		}
		for _, fe := range fieldErrors(err) {
			if subject, ok := followOnFields[fe.Field]; ok {
				// "Is in the future" says what is: the time it was done.
				fe.Message = subject + " " + strings.ToLower(fe.Message[:1]) + fe.Message[1:]
			}
			if fe.Field != "" {
				fe.Field = fieldID(prefix + "." + fe.Field)
			}
			errs = append(errs, fe)
		}
	}
	return s.showFollowOns(w, r, status, r.PostForm, errs)
}

// followOnFields name what the domain's fields are, for its messages.
var followOnFields = map[string]string{
	"at":   "The time it was done",
	"date": "The conference date",
	"note": "The note",
}

// meetPost marks a follow-on met, with a note and when it was done.
func (s *Server) meetPost(w http.ResponseWriter, r *http.Request) error {
	fid := r.PathValue("followon")
	return s.followOnChange(w, r, fid, "met", func(form url.Values) ([]FieldError, error) {
		at, ok := s.dateTimeField(form, fid+".at")
		if !ok {
			return []FieldError{{Field: fieldID(fid + ".at"), Message: "Enter when it was done as a real date and time, or leave it empty for now"}}, nil
		}
		_, err := s.app.MeetFollowOn(r.Context(), r.PathValue("id"), fid, at, form.Get(fid+".note"))
		return nil, err
	})
}

// conferencePost records the ICPC's date, which meets the ICPC follow-on.
func (s *Server) conferencePost(w http.ResponseWriter, r *http.Request) error {
	return s.followOnChange(w, r, "conference", "conference", func(form url.Values) ([]FieldError, error) {
		at, ok := s.dateTimeField(form, "conference.date")
		if !ok {
			return []FieldError{{Field: "conference-date", Message: "Enter the conference's date and time as a real date and time"}}, nil
		}
		_, err := s.app.RecordConference(r.Context(), r.PathValue("id"), at, form.Get("conference.note"))
		return nil, err
	})
}
