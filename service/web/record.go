package web

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/convene/convene/service"
)

// The Record of Strategy Discussion (000 §7, 001, 003 §5, 004): what was
// decided, who was there, the actions and what follows, and where each
// agency is with signing up to it. Business support or the chair
// circulate it; each agency signs up for itself.

type recordView struct {
	R            *service.Record
	When         string
	Duration     string
	Outcome      string
	Format       string
	Attendance   []recordLine
	Actions      []actionView
	FollowOns    []followOnView
	Signups      []recordLine
	ChildSeen    string
	Review       string
	Circulated   string
	CanCirculate bool
	// Partner is set on the page for someone who came by the record's
	// link (no staff pages to link to); CanSign when they may give their
	// agency's answer, SignAgency naming the agency.
	Partner    bool
	CanSign    bool
	SignAgency string
}

type recordLine struct {
	Name, Agency, Detail, State string
}

func (s *Server) recordPage(w http.ResponseWriter, r *http.Request) error {
	ctx, id := r.Context(), r.PathValue("id")
	rec, err := s.app.Record(ctx, id)
	if err != nil {
		return err
	}
	v := s.recordViewOf(rec)
	if d, err := s.app.Discussion(ctx, id); err == nil {
		v.CanCirculate = s.app.Manages(ctx, d) && (rec.Circulation == nil || rec.Circulation.Version < rec.Version)
	}
	p := &Page{Title: "Record of Strategy Discussion, case " + rec.CaseReference, Nav: "/today", Back: "/discussions/" + id, Banner: banner(r), Data: v}
	return s.render(w, r, http.StatusOK, "record.html", p)
}

// recordViewOf is the record in words, as the record pages show it.
func (s *Server) recordViewOf(rec *service.Record) *recordView {
	zone := s.cfg.Zone
	profile := s.profile()
	v := &recordView{R: rec, When: WhenRange(rec.Start, rec.End, zone), Duration: minutesText(int(rec.Duration.Minutes())),
		Outcome: say(outcomeWords, rec.Outcome), Format: say(formatWords, rec.Format)}
	for _, a := range rec.Attendance {
		l := recordLine{Name: a.Name, Agency: s.agency(a.Agency), Detail: strings.TrimSpace(Words(a.Role) + ", " + a.Seniority)}
		switch {
		case a.Present:
			l.State = "Present"
		default:
			l.State = "Sent apologies"
		}
		if a.Chair {
			l.Name += " (chair)"
		}
		if a.KnowsChild {
			l.Detail += "; knows the child"
		}
		v.Attendance = append(v.Attendance, l)
	}
	for i, a := range rec.Actions {
		v.Actions = append(v.Actions, actionView{Index: i, Description: a.Description, Owner: a.Owner, Agency: s.agency(a.Agency), Due: Day(a.Due, zone), Purpose: a.Purpose})
	}
	for _, fo := range rec.FollowOns {
		v.FollowOns = append(v.FollowOns, followOnView{What: fo.Summary, Due: When(fo.Due, zone), Citation: fo.Citation, Done: fo.Done})
	}
	for _, su := range rec.Signups {
		l := recordLine{Agency: profile.AgencyLabel(su.Agency), Name: su.By, State: Words(string(su.State)), Detail: su.Reason}
		v.Signups = append(v.Signups, l)
	}
	if cs := rec.ChildSeen; cs != nil {
		v.ChildSeen = cs.By + ", " + When(cs.At, zone)
	}
	if rv := rec.Review; rv != nil {
		v.Review = Day(rv.Date, zone) + ": " + rv.Mechanism
	}
	if c := rec.Circulation; c != nil {
		v.Circulated = "Version " + strconv.Itoa(c.Version) + " circulated " + When(c.At, zone) + " by " + c.By.Name
	}
	return v
}

// circulatePost sends the record's link to everyone who took part.
func (s *Server) circulatePost(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	if _, err := s.app.CirculateRecord(r.Context(), id); err != nil {
		return err
	}
	return done(w, r, "/discussions/"+id+"/record", "circulated")
}
