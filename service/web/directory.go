package web

import (
	"net/http"
	"strings"

	"github.com/convene/convene/service"
	"github.com/convene/convene/service/policy"
)

// The directory, read only, for administrators and business support:
// people with their agency, role and seniority, whether their calendar is
// connected (never its address's credentials), and the venues.

type directoryView struct {
	People  []directoryPerson
	Venues  []service.Venue
	Agency  string
	Filters []option
	More    string
}

type directoryPerson struct {
	Name, Email, Agency, Role, Seniority, Calendar string
	Chair, Active                                  bool
	Expertise                                      string
}

func (s *Server) directoryPage(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	agency := policy.Agency(r.URL.Query().Get("agency"))
	if agency != "" && !service.ValidAgency(agency) {
		agency = ""
	}
	after := r.URL.Query().Get("after")
	if len(after) > 64 {
		after = ""
	}
	people, err := s.app.People(ctx, service.PersonFilter{Agency: agency, After: after, Limit: 100})
	if err != nil {
		return err
	}
	venues, err := s.app.Venues(ctx, true)
	if err != nil {
		return err
	}
	profile := s.profile()
	v := &directoryView{Venues: venues, Agency: string(agency)}
	v.Filters = append(v.Filters, option{Text: "All agencies", Selected: agency == ""})
	for _, a := range policy.Agencies {
		v.Filters = append(v.Filters, option{Value: string(a), Text: profile.AgencyLabel(a), Selected: a == agency})
	}
	for _, p := range people {
		dp := directoryPerson{Name: p.Name, Email: p.Email, Agency: profile.AgencyLabel(p.Agency), Role: Words(p.Role),
			Seniority: profile.SeniorityLabel(p.Agency, p.Seniority), Chair: p.Chair, Active: p.Active,
			Expertise: strings.Join(p.Expertise, ", "), Calendar: "None"}
		if c := p.Calendar; c != nil {
			// What kind of calendar and where, never the credential nor
			// its reference.
			dp.Calendar = map[string]string{"caldav": "CalDAV calendar", "ics": "Calendar feed (ICS)"}[c.Type]
			if dp.Calendar == "" {
				dp.Calendar = "Calendar"
			}
			if c.CredentialRef != "" {
				dp.Calendar += ", with a credential"
			}
		}
		v.People = append(v.People, dp)
	}
	if len(people) == 100 {
		v.More = "/directory?after=" + people[len(people)-1].ID
		if agency != "" {
			v.More += "&agency=" + string(agency)
		}
	}
	return s.render(w, r, http.StatusOK, "directory.html", &Page{Title: "Directory", Nav: "/directory", Data: v})
}
