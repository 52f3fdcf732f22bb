package httpapi_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/google/go-cmp/cmp"

	"github.com/convene/convene/openapi"
	"github.com/convene/convene/service"
)

// staffMember is someone in the directory of a test area. Roles and
// seniority levels are from the default profile's vocabulary
// (service/policy/profiles/default.yaml).
type staffMember struct {
	key, name, email string
	agency, role     string
	seniority        int
	chair            bool
}

// staff is the directory the quorum tests convene from. Health's scale:
// practitioner 1, senior nurse 2, named professional 3, consultant 4.
var staff = []staffMember{
	{"chair", "Priya Shah", "priya.shah@council.example.gov.uk", "social_care", "team_manager", 3, true},
	{"other_chair", "Rob Evans", "rob.evans@council.example.gov.uk", "social_care", "practice_manager", 3, true},
	{"social_worker", "Tom Okafor", "tom.okafor@council.example.gov.uk", "social_care", "social_worker", 1, false},
	{"sergeant", "DS Dana Reid", "dana.reid@police.example.org", "police", "police_officer", 2, false},
	{"inspector", "DI Ken Lowe", "ken.lowe@police.example.org", "police", "child_abuse_investigation", 3, false},
	{"constable", "PC Lee Marsh", "lee.marsh@police.example.org", "police", "police_officer", 1, false},
	{"named_nurse", "Hana Patel", "hana.patel@nhs.example.net", "health", "safeguarding_nurse", 3, false},
	{"named_nurse_2", "Jo Adams", "jo.adams@nhs.example.net", "health", "safeguarding_nurse", 3, false},
	{"health_visitor", "Chris Byrne", "chris.byrne@nhs.example.net", "health", "health_visitor", 1, false},
	{"staff_nurse", "Sam Deputy", "sam.deputy@nhs.example.net", "health", "nurse", 1, false},
	{"ward_sister", "Wen Ward", "wen.ward@nhs.example.net", "health", "nurse", 2, false},
	{"consultant", "Dr Ola Adeyemi", "ola.adeyemi@nhs.example.net", "health", "paediatrician", 4, false},
	{"midwife", "Mia Khan", "mia.khan@nhs.example.net", "midwifery", "safeguarding_midwife", 2, false},
	{"dsl", "Ann Green", "ann.green@oakfield.example.sch.uk", "education", "designated_safeguarding_lead", 2, false},
	{"lado", "Lara Dean", "lara.dean@council.example.gov.uk", "lado", "designated_officer", 1, false},
	{"solicitor", "Sol Wright", "sol.wright@council.example.gov.uk", "legal", "solicitor", 1, false},
	{"fostering", "Fay Moss", "fay.moss@council.example.gov.uk", "fostering", "supervising_social_worker", 1, false},
	{"interpreter", "Ivo Nowak", "ivo.nowak@language.example.com", "interpreting", "interpreter", 1, false},
}

// locum is a colleague who is not (yet) in the directory.
var locum = staffMember{"locum", "Dr Lou Cum", "lou.locum@nhs.example.net", "health", "doctor", 0, false}

func member(key string) staffMember {
	if key == locum.key {
		return locum
	}
	i := slices.IndexFunc(staff, func(s staffMember) bool { return s.key == key })
	if i < 0 {
		panic("no staff member " + key)
	}
	return staff[i]
}

// as sets a token's principal to a directory person.
func as(key string) func(*service.Principal) {
	m := member(key)
	return func(p *service.Principal) { p.Subject, p.Name, p.Email = "user-"+key, m.name, m.email }
}

// seedDirectory creates the staff through the API, returning their ids.
func seedDirectory(t *testing.T, h *harness) map[string]string {
	t.Helper()
	admin := token(t, service.RoleAdmin, "social_care")
	ids := map[string]string{}
	for _, s := range staff {
		r := h.do("POST", "/v1/people", admin, map[string]any{"name": s.name, "email": s.email, "agency": s.agency,
			"role": s.role, "seniority": s.seniority, "chair": s.chair})
		if r.Status != http.StatusCreated {
			t.Fatalf("create %s: %d %s", s.name, r.Status, r.Body)
		}
		ids[s.key] = r.JSON(t)["id"].(string)
	}
	return ids
}

// discussionDoc is a discussion as a client reads it.
type discussionDoc struct {
	ID          string    `json:"id"`
	Agenda      []string  `json:"agenda"`
	Status      string    `json:"status"`
	Deadline    time.Time `json:"deadline"`
	BindingRule struct {
		ID, Citation string
	} `json:"binding_rule"`
	Requirements []requirementDoc `json:"requirements"`
	KnowsChild   struct {
		Required bool
		Citation string
	} `json:"knows_child"`
	UrgentMinimum *struct {
		Reason            string   `json:"reason"`
		Citation          string   `json:"citation"`
		EssentialAgencies []string `json:"essential_agencies"`
	} `json:"urgent_minimum"`
	Format struct {
		Format string `json:"format"`
		Rule   struct {
			ID, Summary, Citation string
		} `json:"rule"`
		Rules               []struct{ ID, Citation string } `json:"rules"`
		SeparateDiscussions []struct {
			ID, Discussion, Reason, Citation string
		} `json:"separate_discussions"`
	} `json:"format"`
	Attendees []struct {
		Name          string `json:"name"`
		Email         string `json:"email"`
		Chair         bool   `json:"chair"`
		Reply         string `json:"reply"`
		DelegatedTo   string `json:"delegated_to"`
		DelegatedFrom string `json:"delegated_from"`
	} `json:"attendees"`
	Started *struct {
		OverrideReason string   `json:"override_reason"`
		Missing        []string `json:"missing"`
	} `json:"started"`
}

type requirementDoc struct {
	ID           string   `json:"id"`
	Name         string   `json:"name"`
	Agencies     []string `json:"agencies"`
	MinSeniority struct {
		Level int
		Label string
	} `json:"min_seniority"`
	Essential bool   `json:"essential"`
	Detail    string `json:"detail"`
	Reason    string `json:"reason"`
	Citation  string `json:"citation"`
	Note      string `json:"note"`
}

func (d discussionDoc) requirement(t *testing.T, id string) requirementDoc {
	t.Helper()
	i := slices.IndexFunc(d.Requirements, func(r requirementDoc) bool { return r.ID == id })
	if i < 0 {
		t.Fatalf("no requirement %q among %v", id, d.requirementIDs())
	}
	return d.Requirements[i]
}

func (d discussionDoc) requirementIDs() []string {
	var ids []string
	for _, r := range d.Requirements {
		ids = append(ids, r.ID)
	}
	return ids
}

// quorumDoc is GET /v1/discussions/{id}/quorum as a client reads it.
type quorumDoc struct {
	Met           bool       `json:"met"`
	Summary       string     `json:"summary"`
	Forecast      quorumSide `json:"forecast"`
	Actual        quorumSide `json:"actual"`
	UrgentMinimum *struct {
		Reason string `json:"reason"`
	} `json:"urgent_minimum"`
}

type quorumSide struct {
	Mode         string           `json:"mode"`
	Met          bool             `json:"met"`
	Requirements []statusDoc      `json:"requirements"`
	Counted      []participantDoc `json:"counted"`
	Tentative    []participantDoc `json:"tentative"`
	Declined     []participantDoc `json:"declined"`
	NoReply      []participantDoc `json:"no_reply"`
	Absent       []participantDoc `json:"absent"`
	KnowsChild   struct {
		Required, Satisfied bool
		By                  []participantDoc
	} `json:"knows_child"`
	Summary string `json:"summary"`
}

type seniorityDoc struct {
	Level int    `json:"level"`
	Label string `json:"label"`
}

type participantDoc struct {
	Name        string       `json:"name"`
	Agency      string       `json:"agency"`
	Seniority   seniorityDoc `json:"seniority"`
	DelegateFor string       `json:"delegate_for"`
}

type statusDoc struct {
	ID          string          `json:"id"`
	Name        string          `json:"name"`
	Essential   bool            `json:"essential"`
	Status      string          `json:"status"`
	SatisfiedBy *participantDoc `json:"satisfied_by"`
	Needed      seniorityDoc    `json:"needed"`
	Present     *seniorityDoc   `json:"present"`
}

func (q quorumSide) status(t *testing.T, id string) statusDoc {
	t.Helper()
	i := slices.IndexFunc(q.Requirements, func(s statusDoc) bool { return s.ID == id })
	if i < 0 {
		t.Fatalf("no requirement %q in the %s quorum", id, q.Mode)
	}
	return q.Requirements[i]
}

// who is each requirement's state, and by whom it is satisfied: what a
// chair reads down.
func (q quorumSide) who() map[string]string {
	out := map[string]string{}
	for _, s := range q.Requirements {
		out[s.ID] = s.Status
		if s.SatisfiedBy != nil {
			out[s.ID] += " by " + s.SatisfiedBy.Name
		}
	}
	return out
}

func names(ps []participantDoc) []string {
	out := []string{}
	for _, p := range ps {
		out = append(out, p.Name)
	}
	slices.Sort(out)
	return out
}

// meeting is one discussion under test: a harness with the directory
// seeded, business support's and the chair's tokens, a venue, and the
// discussion.
type meeting struct {
	t     *testing.T
	h     *harness
	ids   map[string]string
	bso   string
	chair string
	venue string
	d     discussionDoc
}

// invite names a directory person to invite, and whether they know the
// child.
type invite struct {
	key        string
	knowsChild bool
}

// convene seeds a fresh area and convenes a discussion chaired by Priya
// with exactly the invitees given; extra adds circumstances.
func convene(t *testing.T, invitees []invite, extra map[string]any) *meeting {
	t.Helper()
	h := newHarness(t)
	m := &meeting{t: t, h: h, ids: seedDirectory(t, h), bso: token(t, service.RoleBusinessSupport, "social_care"),
		chair: token(t, service.RoleChair, "social_care", as("chair"))}
	r := h.do("POST", "/v1/venues", token(t, service.RoleAdmin, ""), map[string]any{"name": "Meeting room 2", "address": "Civic Centre"})
	if r.Status != http.StatusCreated {
		t.Fatalf("create venue: %d %s", r.Status, r.Body)
	}
	conforms(t, "POST", "/v1/venues", r)
	m.venue = r.JSON(t)["id"].(string)
	body := map[string]any{
		"case_reference": "CR-2026-0101", "rag": "amber", "referral_received_at": time.Now().UTC().Format(time.RFC3339),
		"child": map[string]any{"age_years": 1}, "chair_id": m.ids["chair"], "choose_invitees": false,
	}
	var list []map[string]any
	for _, inv := range invitees {
		list = append(list, map[string]any{"person_id": m.ids[inv.key], "knows_child": inv.knowsChild})
	}
	body["invitees"] = list
	for k, v := range extra {
		body[k] = v
	}
	r = h.do("POST", "/v1/discussions", m.bso, body)
	if r.Status != http.StatusCreated {
		t.Fatalf("convene: %d %s", r.Status, r.Body)
	}
	conforms(t, "POST", "/v1/discussions", r)
	decodeInto(t, r.Body, &m.d)
	return m
}

// book fixes the discussion two hours before its deadline (17:00 on a
// working day for the working-day rules these tests use), at the venue;
// nobody in the directory publishes a calendar, so business support
// confirm booking everyone unseen.
func (m *meeting) book() {
	m.t.Helper()
	start := m.d.Deadline.Add(-2 * time.Hour)
	var everyone []string
	for _, a := range m.d.Attendees {
		everyone = append(everyone, a.Email)
	}
	r := m.h.do("POST", "/v1/discussions/"+m.d.ID+"/book", m.bso, map[string]any{"start": start, "venue_id": m.venue, "confirm_unknown": everyone})
	if r.Status != http.StatusOK {
		m.t.Fatalf("book at %s: %d %s", start, r.Status, r.Body)
	}
	conforms(m.t, "POST", "/v1/discussions/{id}/book", r)
	decodeInto(m.t, r.Body, &m.d)
	if m.d.Status != "booked" {
		m.t.Fatalf("status after booking = %q", m.d.Status)
	}
}

// at moves the clock to the booked time (minus before): the chair may
// start within a quarter of an hour of it without saying why.
func (m *meeting) at(before time.Duration) {
	m.t.Helper()
	r := m.h.do("GET", "/v1/discussions/"+m.d.ID, m.bso, nil)
	var d struct {
		Booking struct{ Start time.Time } `json:"booking"`
	}
	decodeInto(m.t, r.Body, &d)
	m.h.clock.Advance(d.Booking.Start.Add(-before).Sub(m.h.clock.Now()))
}

// checkIn records a directory person as present, through the chair.
func (m *meeting) checkIn(key string, extra ...any) {
	m.t.Helper()
	body := map[string]any{"email": member(key).email}
	for i := 0; i+1 < len(extra); i += 2 {
		body[extra[i].(string)] = extra[i+1]
	}
	r := m.h.do("POST", "/v1/discussions/"+m.d.ID+"/attendance", m.chair, body)
	if r.Status != http.StatusOK {
		m.t.Fatalf("check in %s: %d %s", key, r.Status, r.Body)
	}
	conforms(m.t, "POST", "/v1/discussions/{id}/attendance", r)
}

func (m *meeting) quorum(tok string) quorumDoc {
	m.t.Helper()
	r := m.h.do("GET", "/v1/discussions/"+m.d.ID+"/quorum", tok, nil)
	if r.Status != http.StatusOK {
		m.t.Fatalf("quorum: %d %s", r.Status, r.Body)
	}
	conforms(m.t, "GET", "/v1/discussions/{id}/quorum", r)
	var q quorumDoc
	decodeInto(m.t, r.Body, &q)
	return q
}

var messageSeq atomic.Int64

// reply sends what an attendee's mail client sends to answer the
// invitation: an iMIP REPLY (RFC 6047) through the mail gateway, which
// vouches that DMARC passed, shaped like Apple Mail's
// (invites/testdata/replies/apple-delegated.eml). A delegation names the
// delegate in DELEGATED-TO and lists them with DELEGATED-FROM, as Apple
// and Outlook do. The reply must be recorded.
func (m *meeting) reply(key, partstat, delegateTo string) {
	m.t.Helper()
	if got := m.send(key, partstat, delegateTo); got != "recorded" {
		m.t.Fatalf("reply from %s: result %s, want recorded", key, got)
	}
}

// send is reply without expectations: it returns what became of it.
func (m *meeting) send(key, partstat, delegateTo string) string {
	m.t.Helper()
	s := member(key)
	// The UID is the one the invitation carried; the API does not show it.
	stored, err := m.h.store.Discussion(context.Background(), m.d.ID)
	if err != nil {
		m.t.Fatal(err)
	}
	attendees := fmt.Sprintf("ATTENDEE;CN=\"%s\";PARTSTAT=%s;ROLE=REQ-PARTICIPANT:mailto:%s\r\n", s.name, partstat, s.email)
	if delegateTo != "" {
		d := member(delegateTo)
		attendees = fmt.Sprintf("ATTENDEE;CN=\"%s\";CUTYPE=INDIVIDUAL;DELEGATED-TO=\"mailto:%s\";PARTSTAT=DELEGATED;ROLE=REQ-PARTICIPANT:mailto:%s\r\n", s.name, d.email, s.email) +
			fmt.Sprintf("ATTENDEE;CN=\"%s\";CUTYPE=INDIVIDUAL;DELEGATED-FROM=\"mailto:%s\";PARTSTAT=NEEDS-ACTION;ROLE=REQ-PARTICIPANT;RSVP=TRUE:mailto:%s\r\n", d.name, s.email, d.email)
	}
	now := time.Now().UTC()
	raw := fmt.Sprintf("Authentication-Results: "+gatewayID+"; dmarc=pass header.from=%s\r\n"+
		"From: %s <%s>\r\n"+
		"To: convene@council.example.gov.uk\r\n"+
		"Subject: Strategy discussion - case CR-2026-0101\r\n"+
		"Date: %s\r\n"+
		"Message-Id: <reply-%d@client.example>\r\n"+
		"Mime-Version: 1.0\r\n"+
		"Content-Type: multipart/alternative; boundary=\"Apple-Mail=_B0C9\"\r\n"+
		"\r\n"+
		"--Apple-Mail=_B0C9\r\n"+
		"Content-Transfer-Encoding: 7bit\r\n"+
		"Content-Type: text/plain; charset=us-ascii\r\n"+
		"\r\n"+
		"%s has replied to this event.\r\n"+
		"\r\n"+
		"--Apple-Mail=_B0C9\r\n"+
		"Content-Transfer-Encoding: 7bit\r\n"+
		"Content-Type: text/calendar; charset=utf-8; method=REPLY; name=reply.ics\r\n"+
		"\r\n"+
		"BEGIN:VCALENDAR\r\n"+
		"METHOD:REPLY\r\n"+
		"VERSION:2.0\r\n"+
		"PRODID:-//Apple Inc.//macOS 14.5//EN\r\n"+
		"BEGIN:VEVENT\r\n"+
		"%s"+
		"DTSTAMP:%s\r\n"+
		"DTSTART:%s\r\n"+
		"ORGANIZER;CN=\"Business Support (Convene)\":mailto:convene@council.example.gov.uk\r\n"+
		"SEQUENCE:%d\r\n"+
		"UID:%s\r\n"+
		"END:VEVENT\r\n"+
		"END:VCALENDAR\r\n"+
		"\r\n"+
		"--Apple-Mail=_B0C9--\r\n",
		s.email[strings.IndexByte(s.email, '@')+1:], s.name, s.email, now.Format(time.RFC1123Z), messageSeq.Add(1), s.name, attendees,
		now.Format("20060102T150405Z"), stored.Booking.Start.UTC().Format("20060102T150405Z"), stored.Sequence, stored.UID)
	gateway := token(m.t, service.RoleMailGateway, "")
	r := m.h.do("POST", "/v1/imip", gateway, raw, "Content-Type", "message/rfc822", "X-Envelope-From", s.email)
	if r.Status != http.StatusOK {
		m.t.Fatalf("reply from %s: %d %s", key, r.Status, r.Body)
	}
	conforms(m.t, "POST", "/v1/imip", r)
	result, _ := r.JSON(m.t)["result"].(string)
	return result
}

// admitHeld admits the one held reply from the attendee, as business
// support.
func (m *meeting) admitHeld(key, kind string) {
	m.t.Helper()
	var d struct {
		HeldReplies []struct{ ID, Kind, From, Status string } `json:"held_replies"`
	}
	decodeInto(m.t, m.h.do("GET", "/v1/discussions/"+m.d.ID, m.bso, nil).Body, &d)
	for _, h := range d.HeldReplies {
		if h.From == member(key).email && h.Status == "held" {
			if h.Kind != kind {
				m.t.Errorf("%s's reply is held as %s, want %s", key, h.Kind, kind)
			}
			r := m.h.do("POST", "/v1/discussions/"+m.d.ID+"/held-replies/"+h.ID+"/admit", m.bso, nil)
			if r.Status != http.StatusOK {
				m.t.Fatalf("admit %s's reply: %d %s", key, r.Status, r.Body)
			}
			conforms(m.t, "POST", "/v1/discussions/{id}/held-replies/{held}/admit", r)
			return
		}
	}
	m.t.Fatalf("no reply from %s held: %+v", key, d.HeldReplies)
}

// coreTeam is a strategy discussion's usual members besides the chair:
// the social worker (who knows the child), a police sergeant and a named
// safeguarding nurse.
var coreTeam = []invite{{"social_worker", true}, {"sergeant", false}, {"named_nurse", false}}

// TestQuorum checks in people through the chair and reads the actual
// quorum, case by case (issue 4's quorum cases).
func TestQuorum(t *testing.T) {
	t.Parallel()
	t.Run("all present", func(t *testing.T) {
		t.Parallel()
		m := convene(t, coreTeam, nil)
		m.book()
		for _, k := range []string{"chair", "social_worker", "sergeant", "named_nurse"} {
			m.checkIn(k)
		}
		q := m.quorum(m.chair)
		if !q.Met || !q.Actual.Met {
			t.Errorf("met = %v (actual %v), want true: %s", q.Met, q.Actual.Met, q.Summary)
		}
		want := map[string]string{
			"csc_chair":         "satisfied by Priya Shah",
			"csc_social_worker": "satisfied by Tom Okafor",
			"police":            "satisfied by DS Dana Reid",
			"health":            "satisfied by Hana Patel",
		}
		if diff := cmp.Diff(want, q.Actual.who()); diff != "" {
			t.Errorf("requirements (-want +got):\n%s", diff)
		}
		if !q.Actual.KnowsChild.Satisfied || !slices.Equal(names(q.Actual.KnowsChild.By), []string{"Tom Okafor"}) {
			t.Errorf("knows the child = %+v, want satisfied by Tom Okafor", q.Actual.KnowsChild)
		}
		if !strings.HasPrefix(q.Summary, "Quorum met") {
			t.Errorf("summary = %q, want it to say quorum is met", q.Summary)
		}
	})

	t.Run("police missing", func(t *testing.T) {
		t.Parallel()
		m := convene(t, coreTeam, nil)
		m.book()
		for _, k := range []string{"chair", "social_worker", "named_nurse"} {
			m.checkIn(k)
		}
		q := m.quorum(m.chair)
		if q.Met {
			t.Errorf("met with no police present: %s", q.Summary)
		}
		if st := q.Actual.status(t, "police"); st.Status != "missing" || st.SatisfiedBy != nil {
			t.Errorf("police = %+v, want missing", st)
		}
		if got, want := names(q.Actual.Absent), []string{"DS Dana Reid"}; !slices.Equal(got, want) {
			t.Errorf("absent = %v, want %v", got, want)
		}
		if !strings.Contains(q.Summary, "police") || strings.Contains(q.Summary, "health") {
			t.Errorf("summary = %q, want it to name police (and only police)", q.Summary)
		}
	})

	t.Run("health below seniority", func(t *testing.T) {
		t.Parallel()
		m := convene(t, []invite{{"social_worker", true}, {"sergeant", false}, {"health_visitor", false}}, nil)
		m.book()
		for _, k := range []string{"chair", "social_worker", "sergeant", "health_visitor"} {
			m.checkIn(k)
		}
		q := m.quorum(m.chair)
		if q.Met {
			t.Errorf("met with a health practitioner for health: %s", q.Summary)
		}
		st := q.Actual.status(t, "health")
		if st.Status != "below_seniority" {
			t.Fatalf("health = %+v, want below_seniority", st)
		}
		// Labels from the profile's health scale: practitioner < senior
		// nurse < named or designated professional < consultant.
		if want := (seniorityDoc{3, "Named or designated professional"}); st.Needed != want {
			t.Errorf("needed = %+v, want %+v", st.Needed, want)
		}
		if want := (seniorityDoc{1, "Practitioner"}); st.Present == nil || *st.Present != want {
			t.Errorf("present = %+v, want %+v", st.Present, want)
		}
		for _, s := range []string{"health", "Named or designated professional", "Practitioner"} {
			if !strings.Contains(q.Summary, s) {
				t.Errorf("summary %q does not mention %q", q.Summary, s)
			}
		}
	})

	// Hana Patel, the named nurse, delegates by email to a colleague, who
	// accepts and comes in her place. A delegation to someone who could
	// not fill her place is held for business support; admitted, the
	// delegate is invited but still does not count.
	for _, tt := range []struct {
		name, delegate string
		held           bool
		status         string
		present        *seniorityDoc
	}{
		{"delegate above the minimum", "named_nurse_2", false, "satisfied", nil},
		{"delegate below the minimum", "staff_nurse", true, "below_seniority", &seniorityDoc{1, "Practitioner"}},
		// A delegate business support has not yet added to the directory
		// has no known seniority, so cannot count until they are added.
		{"delegate not in the directory", "locum", true, "below_seniority", &seniorityDoc{0, "no known level"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m := convene(t, coreTeam, nil)
			m.book()
			if got, want := m.send("named_nurse", "DELEGATED", tt.delegate), map[bool]string{true: "held", false: "recorded"}[tt.held]; got != want {
				t.Fatalf("Hana's delegation: %s, want %s", got, want)
			}
			if tt.held {
				m.admitHeld("named_nurse", "delegation")
			}
			m.reply(tt.delegate, "ACCEPTED", "")
			delegate := member(tt.delegate)

			// The forecast counts the delegate for health if senior enough.
			q := m.quorum(m.chair)
			// Someone not in the directory is known by their address.
			i := slices.IndexFunc(q.Forecast.Counted, func(p participantDoc) bool { return p.Name == delegate.name || p.Name == delegate.email })
			if i < 0 || q.Forecast.Counted[i].DelegateFor != "Hana Patel" {
				t.Errorf("forecast counted = %+v, want %s counted for Hana Patel", q.Forecast.Counted, delegate.name)
			}
			if got := q.Forecast.status(t, "health").Status; got != tt.status {
				t.Errorf("forecast health = %s, want %s", got, tt.status)
			}

			for _, k := range []string{"chair", "social_worker", "sergeant", tt.delegate} {
				m.checkIn(k)
			}
			q = m.quorum(m.chair)
			st := q.Actual.status(t, "health")
			if st.Status != tt.status {
				t.Errorf("health = %+v, want %s", st, tt.status)
			}
			if tt.status == "satisfied" {
				if st.SatisfiedBy == nil || st.SatisfiedBy.Name != delegate.name || st.SatisfiedBy.DelegateFor != "Hana Patel" {
					t.Errorf("health satisfied by %+v, want %s as Hana Patel's delegate", st.SatisfiedBy, delegate.name)
				}
				if !q.Met {
					t.Errorf("not met with a senior enough delegate: %s", q.Summary)
				}
			} else {
				if st.Present == nil || *st.Present != *tt.present {
					t.Errorf("present = %+v, want %+v", st.Present, *tt.present)
				}
				if q.Met {
					t.Errorf("met with a delegate below the minimum: %s", q.Summary)
				}
				if !strings.Contains(q.Summary, "has "+tt.present.Label+")") {
					t.Errorf("summary %q does not say what the delegate has (%s)", q.Summary, tt.present.Label)
				}
			}
		})
	}

	t.Run("nobody who knows the child", func(t *testing.T) {
		t.Parallel()
		m := convene(t, []invite{{"social_worker", false}, {"sergeant", false}, {"named_nurse", false}}, nil)
		m.book()
		for _, k := range []string{"chair", "social_worker", "sergeant", "named_nurse"} {
			m.checkIn(k)
		}
		q := m.quorum(m.chair)
		if q.Met || q.Actual.KnowsChild.Satisfied {
			t.Errorf("met = %v, knows child = %+v; want not met", q.Met, q.Actual.KnowsChild)
		}
		for _, st := range q.Actual.Requirements {
			if st.Essential && st.Status != "satisfied" {
				t.Errorf("%s = %s; want every agency's requirement satisfied, so only the child is missing", st.ID, st.Status)
			}
		}
		if !strings.Contains(q.Summary, "knows the child") {
			t.Errorf("summary = %q, want it to say nobody knows the child", q.Summary)
		}
		// The social worker says at check-in that she knows the child.
		m.checkIn("social_worker", "knows_child", true)
		if q := m.quorum(m.chair); !q.Met {
			t.Errorf("not met once the social worker knows the child: %s", q.Summary)
		}
	})

	t.Run("urgent minimum with reason", func(t *testing.T) {
		t.Parallel()
		reason := "Child to be discharged tonight; health on-call not reachable"
		// Allowed at a red rating (003 §2: an urgent discussion).
		m := convene(t, coreTeam, map[string]any{"rag": "red", "urgent_minimum": map[string]any{"reason": reason}})
		m.book()
		for _, k := range []string{"chair", "social_worker", "sergeant"} {
			m.checkIn(k)
		}
		q := m.quorum(m.chair)
		if !q.Met {
			t.Errorf("not met with CSC and police under the urgent minimum: %s", q.Summary)
		}
		if q.UrgentMinimum == nil || q.UrgentMinimum.Reason != reason {
			t.Errorf("urgent_minimum = %+v, want the reason %q", q.UrgentMinimum, reason)
		}
		st := q.Actual.status(t, "health")
		if st.Essential || st.Status != "missing" {
			t.Errorf("health = %+v, want missing and advisory", st)
		}
		if !strings.Contains(q.Summary, "health") {
			t.Errorf("summary = %q, want it to note health as advisory and absent", q.Summary)
		}
		// Police stay essential even so.
		m.checkIn("sergeant", "present_to", time.Now().Add(-time.Second).UTC(), "present_from", time.Now().Add(-time.Minute).UTC())
		if q := m.quorum(m.chair); q.Met {
			t.Errorf("met under the urgent minimum without the police: %s", q.Summary)
		}
	})

	t.Run("forecast from replies", func(t *testing.T) {
		t.Parallel()
		m := convene(t, coreTeam, nil)
		m.book()
		m.reply("social_worker", "ACCEPTED", "")
		m.reply("sergeant", "TENTATIVE", "")
		m.reply("named_nurse", "DECLINED", "")
		q := m.quorum(m.bso)
		f := q.Forecast
		if f.Mode != "forecast" || f.Met {
			t.Errorf("forecast mode %q met %v, want forecast, not met", f.Mode, f.Met)
		}
		for _, c := range []struct {
			what      string
			got, want []string
		}{
			{"counted", names(f.Counted), []string{"Tom Okafor"}},
			{"tentative", names(f.Tentative), []string{"DS Dana Reid"}},
			{"declined", names(f.Declined), []string{"Hana Patel"}},
			{"no reply", names(f.NoReply), []string{"Priya Shah"}},
		} {
			if !slices.Equal(c.got, c.want) {
				t.Errorf("%s = %v, want %v", c.what, c.got, c.want)
			}
		}
		if got := f.status(t, "police").Status; got != "missing" {
			t.Errorf("forecast police = %s, want missing: a tentative reply does not count", got)
		}
		for _, s := range []string{"1 attending", "1 tentative", "1 declined", "1 no reply"} {
			if !strings.Contains(f.Summary, s) {
				t.Errorf("forecast summary %q does not say %q", f.Summary, s)
			}
		}
		// Nobody has checked in: the actual quorum is not met either way.
		if q.Met || len(q.Actual.Counted) != 0 {
			t.Errorf("actual quorum met %v with %v counted, before anyone checked in", q.Met, q.Actual.Counted)
		}

		m.reply("sergeant", "ACCEPTED", "")
		m.reply("chair", "ACCEPTED", "")
		q = m.quorum(m.bso)
		if got := q.Forecast.status(t, "police"); got.Status != "satisfied" || got.SatisfiedBy.Name != "DS Dana Reid" {
			t.Errorf("forecast police = %+v, want satisfied by DS Dana Reid once she accepts", got)
		}
		if got := q.Forecast.status(t, "health").Status; got != "missing" {
			t.Errorf("forecast health = %s, want missing (declined)", got)
		}
	})
}

// auditEntries reads the audit log of a discussion as an administrator.
func auditEntries(t *testing.T, h *harness, id string) []service.AuditEntry {
	t.Helper()
	r := h.do("GET", "/v1/audit?limit=200&resource=discussions/"+id, token(t, service.RoleAdmin, "social_care"), nil)
	if r.Status != http.StatusOK {
		t.Fatalf("audit: %d %s", r.Status, r.Body)
	}
	conforms(t, "GET", "/v1/audit", r)
	var page struct{ Items []service.AuditEntry }
	decodeInto(t, r.Body, &page)
	return page.Items
}

// TestStart: the chair starts only with quorum, or with an override whose
// reason and missing requirements are audited.
func TestStart(t *testing.T) {
	t.Parallel()
	t.Run("refused without quorum, allowed with an audited override", func(t *testing.T) {
		t.Parallel()
		m := convene(t, coreTeam, nil)
		m.book()
		m.at(0)
		for _, k := range []string{"chair", "social_worker", "named_nurse"} {
			m.checkIn(k)
		}
		r := m.h.do("POST", "/v1/discussions/"+m.d.ID+"/start", m.chair, map[string]any{})
		conforms(t, "POST", "/v1/discussions/{id}/start", r)
		p := problemOf(t, r, http.StatusConflict)
		if detail, _ := p["detail"].(string); !strings.Contains(detail, "police") || !strings.Contains(detail, "override_reason") {
			t.Errorf("detail = %q, want the quorum summary naming police, and how to proceed", detail)
		}
		// The problem carries no other resource's state: the chair reads
		// the quorum itself.
		if q := m.quorum(m.chair); q.Met || q.Actual.status(t, "police").Status != "missing" {
			t.Errorf("quorum after a refused start: met %v, police %+v; want not met, police missing", q.Met, q.Actual.status(t, "police"))
		}
		var d discussionDoc
		decodeInto(t, m.h.do("GET", "/v1/discussions/"+m.d.ID, m.bso, nil).Body, &d)
		if d.Status != "booked" || d.Started != nil {
			t.Errorf("after a refused start: status %q, started %+v; want booked, not started", d.Status, d.Started)
		}

		reason := "DS Reid delayed at court; police view taken by phone beforehand"
		r = m.h.do("POST", "/v1/discussions/"+m.d.ID+"/start", m.chair, map[string]any{"override_reason": reason})
		if r.Status != http.StatusOK {
			t.Fatalf("start with override: %d %s", r.Status, r.Body)
		}
		conforms(t, "POST", "/v1/discussions/{id}/start", r)
		decodeInto(t, r.Body, &d)
		if d.Status != "in_progress" || d.Started == nil || d.Started.OverrideReason != reason {
			t.Fatalf("after override: status %q, started %+v", d.Status, d.Started)
		}
		if !slices.ContainsFunc(d.Started.Missing, func(s string) bool { return strings.Contains(s, "police") }) {
			t.Errorf("started.missing = %v, want police", d.Started.Missing)
		}

		entries := auditEntries(t, m.h, m.d.ID)
		i := slices.IndexFunc(entries, func(e service.AuditEntry) bool { return e.Action == "discussion.start" })
		if i < 0 {
			t.Fatalf("no discussion.start in the audit log: %+v", entries)
		}
		e := entries[i]
		if e.Actor.Email != member("chair").email {
			t.Errorf("start audited as %+v, want the chair", e.Actor)
		}
		if got := e.Detail["override_reason"]; got != reason {
			t.Errorf("audited override_reason = %v, want %q", got, reason)
		}
		missing, _ := e.Detail["missing"].([]any)
		if !slices.ContainsFunc(missing, func(s any) bool { str, _ := s.(string); return strings.Contains(str, "police") }) {
			t.Errorf("audited missing = %v, want police", e.Detail["missing"])
		}
	})

	t.Run("allowed when quorum is met", func(t *testing.T) {
		t.Parallel()
		m := convene(t, coreTeam, nil)
		m.book()
		m.at(0)
		for _, k := range []string{"chair", "social_worker", "sergeant", "named_nurse"} {
			m.checkIn(k)
		}
		r := m.h.do("POST", "/v1/discussions/"+m.d.ID+"/start", m.chair, nil)
		if r.Status != http.StatusOK {
			t.Fatalf("start: %d %s", r.Status, r.Body)
		}
		var d discussionDoc
		decodeInto(t, r.Body, &d)
		if d.Status != "in_progress" || d.Started == nil || d.Started.OverrideReason != "" || len(d.Started.Missing) != 0 {
			t.Errorf("status %q, started %+v; want in progress with no override", d.Status, d.Started)
		}
		entries := auditEntries(t, m.h, m.d.ID)
		i := slices.IndexFunc(entries, func(e service.AuditEntry) bool { return e.Action == "discussion.start" })
		if i < 0 || entries[i].Detail["quorum_met"] != true {
			t.Errorf("audit of the start = %+v, want quorum_met true", entries)
		}
	})

	t.Run("more than a quarter of an hour early needs a reason", func(t *testing.T) {
		t.Parallel()
		m := convene(t, coreTeam, nil)
		m.book()
		for _, k := range []string{"chair", "social_worker", "sergeant", "named_nurse"} {
			m.checkIn(k)
		}
		// Quorum is met, but the discussion is booked for later: starting
		// now would start the follow-on clocks before the others expect.
		m.at(20 * time.Minute)
		r := m.h.do("POST", "/v1/discussions/"+m.d.ID+"/start", m.chair, nil)
		conforms(t, "POST", "/v1/discussions/{id}/start", r)
		if p := problemOf(t, r, http.StatusConflict); !strings.Contains(p["detail"].(string), "override_reason") {
			t.Errorf("detail = %q, want it to ask for override_reason", p["detail"])
		}
		reason := "Everyone has joined early; the police need to leave at the hour"
		r = m.h.do("POST", "/v1/discussions/"+m.d.ID+"/start", m.chair, map[string]any{"override_reason": reason})
		if r.Status != http.StatusOK {
			t.Fatalf("early start with a reason: %d %s", r.Status, r.Body)
		}
		var d struct {
			Started struct {
				OverrideReason string `json:"override_reason"`
			} `json:"started"`
			Timeline []struct{ Kind, Detail string } `json:"timeline"`
		}
		decodeInto(t, r.Body, &d)
		if d.Started.OverrideReason != reason || !slices.ContainsFunc(d.Timeline, func(e struct{ Kind, Detail string }) bool {
			return e.Kind == "started_early" && e.Detail == reason
		}) {
			t.Errorf("started %+v, timeline %+v: want the early start and its reason recorded", d.Started, d.Timeline)
		}

		// Within the quarter hour, no reason is needed.
		m2 := convene(t, coreTeam, nil)
		m2.book()
		for _, k := range []string{"chair", "social_worker", "sergeant", "named_nurse"} {
			m2.checkIn(k)
		}
		m2.at(10 * time.Minute)
		if r := m2.h.do("POST", "/v1/discussions/"+m2.d.ID+"/start", m2.chair, nil); r.Status != http.StatusOK {
			t.Errorf("start ten minutes early: %d %s", r.Status, r.Body)
		}
	})
}

// TestDiscussionAccess: who may read a discussion and its quorum, and who
// may start it. Those not invited are told it does not exist.
func TestDiscussionAccess(t *testing.T) {
	t.Parallel()
	m := convene(t, coreTeam, nil)
	m.book()
	id := m.d.ID
	path := "/v1/discussions/" + id
	chair := m.chair
	rep := token(t, service.RoleAgencyRep, "police", as("sergeant"))
	outsider := token(t, service.RoleAgencyRep, "police", as("inspector"))
	otherChair := token(t, service.RoleChair, "social_care", as("other_chair"))
	missing := "/v1/discussions/" + strings.Repeat("0", 32)

	// The invited agency representative reads the discussion and its
	// quorum, but cannot start it.
	for _, p := range []string{path, path + "/quorum"} {
		if r := m.h.do("GET", p, rep, nil); r.Status != http.StatusOK {
			t.Errorf("agency rep GET %s: %d %s", p, r.Status, r.Body)
		}
	}
	problemOf(t, m.h.do("POST", path+"/start", rep, map[string]any{"override_reason": "I am not the chair"}), http.StatusForbidden)
	// Nor can business support, who run it but do not chair it.
	problemOf(t, m.h.do("POST", path+"/start", m.bso, map[string]any{"override_reason": "Chair running late"}), http.StatusForbidden)

	// Someone not invited: as if it did not exist.
	for _, who := range []struct {
		name, tok string
	}{{"agency rep not invited", outsider}, {"chair of other discussions", otherChair}} {
		for _, req := range []struct{ method, path string }{{"GET", path}, {"GET", path + "/quorum"}, {"POST", path + "/start"}} {
			var body any
			if req.method == "POST" {
				body = map[string]any{"override_reason": "let me in"}
			}
			r := m.h.do(req.method, req.path, who.tok, body)
			ghost := m.h.do(req.method, strings.Replace(req.path, path, missing, 1), who.tok, body)
			conforms(t, req.method, strings.Replace(req.path, path, "/v1/discussions/{id}", 1), r)
			p := problemOf(t, r, http.StatusNotFound)
			g := problemOf(t, ghost, http.StatusNotFound)
			if p["detail"] != strings.Replace(g["detail"].(string), strings.Repeat("0", 32), id, 1) {
				t.Errorf("%s %s %s: detail %q differs from a missing discussion's %q", who.name, req.method, req.path, p["detail"], g["detail"])
			}
		}
	}

	// Lists show the discussion to its invitees only.
	for _, c := range []struct {
		name, tok string
		see       bool
	}{{"invited agency rep", rep, true}, {"agency rep not invited", outsider, false}, {"chair of other discussions", otherChair, false}} {
		var page struct{ Items []struct{ ID string } }
		decodeInto(t, m.h.do("GET", "/v1/discussions", c.tok, nil).Body, &page)
		if got := slices.ContainsFunc(page.Items, func(i struct{ ID string }) bool { return i.ID == id }); got != c.see {
			t.Errorf("%s: discussion listed = %v, want %v", c.name, got, c.see)
		}
	}

	// The chair reads the quorum and starts (with an override: nobody has
	// checked in).
	if r := m.h.do("GET", path+"/quorum", chair, nil); r.Status != http.StatusOK {
		t.Errorf("chair GET quorum: %d %s", r.Status, r.Body)
	}
	if r := m.h.do("GET", path, chair, nil); r.Status != http.StatusOK {
		t.Errorf("chair GET discussion: %d %s", r.Status, r.Body)
	}
	if r := m.h.do("POST", path+"/start", chair, map[string]any{"override_reason": "Test of access: starting without quorum"}); r.Status != http.StatusOK {
		t.Errorf("chair start: %d %s", r.Status, r.Body)
	}

	// Every read is in the audit log, by whom; refused reads change
	// nothing and leave nobody else's name on it.
	reads := map[string]int{}
	for _, e := range auditEntries(t, m.h, id) {
		if strings.HasPrefix(e.Action, "discussion.") && strings.HasSuffix(e.Action, "read") {
			reads[e.Actor.Email+" "+e.Action]++
		}
	}
	want := map[string]int{
		member("sergeant").email + " discussion.read":        1,
		member("sergeant").email + " discussion.quorum.read": 1,
		member("chair").email + " discussion.read":           1,
		member("chair").email + " discussion.quorum.read":    1,
	}
	if diff := cmp.Diff(want, reads); diff != "" {
		t.Errorf("audited reads (-want +got):\n%s", diff)
	}
}

// TestConveneRequirements convenes through the API and reads who must take
// part and how, with the citations DOMAIN.md's tables give for each row.
func TestConveneRequirements(t *testing.T) {
	t.Parallel()
	type row struct {
		Citation  string
		Essential bool
		Detail    string
	}
	read := func(d discussionDoc) map[string]row {
		out := map[string]row{}
		for _, r := range d.Requirements {
			out[r.ID] = row{r.Citation, r.Essential, r.Detail}
		}
		return out
	}
	always := map[string]row{
		"csc_social_worker": {"000 §3, 001, 002 §4, 004", true, ""},
		"csc_chair":         {"000 §3, 001, 002 §4, 004", true, ""},
		"police":            {"000 §4, 001, 002 §4, 003 §2", true, ""},
		"health":            {"001, 002 §4, 003 §2", true, ""},
	}
	with := func(extra map[string]row) map[string]row {
		out := map[string]row{}
		for k, v := range always {
			out[k] = v
		}
		for k, v := range extra {
			out[k] = v
		}
		return out
	}

	t.Run("hospital, looked after, LADO, legal, interpreter, school", func(t *testing.T) {
		t.Parallel()
		m := convene(t, coreTeam, map[string]any{
			"child":               map[string]any{"age_years": 9, "in_hospital": "inpatient", "looked_after": true, "school_or_nursery": "Oakfield Primary"},
			"medical_examination": "possible", "legal_action_contemplated": true, "person_works_with_children": true,
			"interpreter_language": "Polish", "referring_agency": "education", "specialist_expertise": "Criminal exploitation",
			"choose_invitees": true,
		})
		want := with(map[string]row{
			"referring_agency":    {"000 §4, 002 §4, 003 §2", true, ""},
			"school_or_nursery":   {"002 §4, 003 §2", false, "Oakfield Primary"},
			"hospital_consultant": {"000 §4, 002 §4", true, ""},
			"ward_nurse":          {"000 §4, 002 §4", true, ""},
			"paediatrician":       {"000 §4, 002 §4", true, ""},
			"looked_after":        {"001", true, ""},
			"lado":                {"001, 003 §4", true, ""},
			"legal_adviser":       {"000 §4", false, ""},
			"specialist":          {"000 §4, 002 §4", false, "Criminal exploitation"},
			"interpreter":         {"000 §6, 002 §2, 004", false, "Polish"},
		})
		if diff := cmp.Diff(want, read(m.d)); diff != "" {
			t.Errorf("requirements (-want +got):\n%s", diff)
		}
		if r := m.d.requirement(t, "hospital_consultant"); r.MinSeniority.Label != "Consultant" {
			t.Errorf("hospital consultant's minimum = %+v, want Consultant", r.MinSeniority)
		}
		if r := m.d.requirement(t, "looked_after"); !slices.Equal(r.Agencies, []string{"residential", "fostering"}) {
			t.Errorf("looked after agencies = %v, want the residential or fostering service", r.Agencies)
		}
		if r := m.d.requirement(t, "referring_agency"); !slices.Equal(r.Agencies, []string{"education"}) {
			t.Errorf("referring agency = %v, want education", r.Agencies)
		}
		for _, r := range m.d.Requirements {
			if r.Reason == "" {
				t.Errorf("requirement %s has no reason", r.ID)
			}
		}
		if !m.d.KnowsChild.Required || m.d.KnowsChild.Citation != "004" {
			t.Errorf("knows_child = %+v, want required under 004", m.d.KnowsChild)
		}
		if m.d.Format.Format != "discussion" || m.d.Format.Rule.ID != "phone_or_video" {
			t.Errorf("format = %+v, want a phone or video discussion", m.d.Format)
		}
		// The service invited someone from the directory for each
		// requirement nobody named could meet.
		var invited []string
		for _, a := range m.d.Attendees {
			invited = append(invited, a.Name)
		}
		for _, who := range []string{"Lara Dean", "Fay Moss", "Sol Wright", "Ivo Nowak", "Dr Ola Adeyemi", "Wen Ward", "Ann Green"} {
			if !slices.Contains(invited, who) {
				t.Errorf("%s not invited; attendees %v", who, invited)
			}
		}

		// The deadline is the one the timescale preview gives for the same
		// circumstances: one computation.
		var doc map[string]any
		decodeInto(t, m.h.do("GET", "/v1/discussions/"+m.d.ID, m.bso, nil).Body, &doc)
		c := doc["case"].(map[string]any)
		r := m.h.do("POST", "/v1/timescales", m.bso, map[string]any{"rag": c["rag"], "referral_received_at": c["referral_received_at"]})
		var ts timescaleView
		decodeInto(t, r.Body, &ts)
		if got, err := time.Parse(time.RFC3339, ts.Deadline); err != nil || !got.Equal(m.d.Deadline) || ts.BindingRule.ID != m.d.BindingRule.ID {
			t.Errorf("timescale preview %s (%s), discussion %s (%s): want the same", ts.Deadline, ts.BindingRule.ID, m.d.Deadline, m.d.BindingRule.ID)
		}
	})

	t.Run("unborn child", func(t *testing.T) {
		t.Parallel()
		m := convene(t, coreTeam, map[string]any{"child": map[string]any{"unborn": true}, "concerns": []string{"unborn_child"}})
		want := with(map[string]row{"midwifery": {"000 §4", true, ""}})
		if diff := cmp.Diff(want, read(m.d)); diff != "" {
			t.Errorf("requirements (-want +got):\n%s", diff)
		}
		if f := m.d.Format; f.Format != "meeting" || f.Rule.ID != "unborn_child" || f.Rule.Citation != "002 §3" {
			t.Errorf("format = %+v, want a meeting under the unborn-child rule (002 §3)", f)
		}
	})

	t.Run("child on child", func(t *testing.T) {
		t.Parallel()
		m := convene(t, coreTeam, map[string]any{"child": map[string]any{"age_years": 13}, "concerns": []string{"child_on_child"},
			"alleged_abuser_under_18": true})
		f := m.d.Format
		if f.Format != "meeting" || f.Rule.ID != "child_on_child" || f.Rule.Citation != "002 §3" || f.Rule.Summary == "" {
			t.Errorf("format = %+v, want a meeting under the child-on-child rule (002 §3)", f)
		}
		type sep struct{ ID, Citation string }
		var got []sep
		for _, s := range f.SeparateDiscussions {
			got = append(got, sep{s.ID, s.Citation})
			if s.Discussion == "" || s.Reason == "" {
				t.Errorf("separate discussion %+v does not say which discussion and why", s)
			}
		}
		// One for each child (002 §3), and one for the alleged abuser's
		// own needs (004).
		want := []sep{{"child_on_child", "002 §3"}, {"child_on_child", "002 §3"}, {"abuser_under_18", "004"}}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("separate discussions (-want +got):\n%s", diff)
		}
		if _, ok := read(m.d)["school_or_nursery"]; !ok {
			t.Error("a 13-year-old's school is not among the requirements")
		}
	})

	t.Run("urgent minimum", func(t *testing.T) {
		t.Parallel()
		reason := "Child to be discharged tonight; health on-call not reachable"
		m := convene(t, coreTeam, map[string]any{"rag": "red", "urgent_minimum": map[string]any{"reason": reason},
			"child": map[string]any{"age_years": 4, "in_hospital": "outpatient"}})
		if u := m.d.UrgentMinimum; u == nil || u.Reason != reason || u.Citation != "003 §2" {
			t.Errorf("urgent_minimum = %+v, want the reason recorded under 003 §2", u)
		}
		for _, r := range m.d.Requirements {
			cscOrPolice := slices.Equal(r.Agencies, []string{"social_care"}) || slices.Equal(r.Agencies, []string{"police"})
			if r.Essential != cscOrPolice {
				t.Errorf("%s essential = %v under the urgent minimum", r.ID, r.Essential)
			}
			if r.Essential {
				continue
			}
			if wasEssential := r.ID == "health" || r.ID == "hospital_consultant"; wasEssential && !strings.Contains(r.Note, reason) {
				t.Errorf("%s note = %q, want it to record why it became advisory", r.ID, r.Note)
			}
		}
		// A reason is required.
		h := m.h
		p := problemOf(t, h.do("POST", "/v1/discussions", m.bso, map[string]any{"case_reference": "CR-2026-0102",
			"referral_received_at": time.Now().UTC(), "urgent_minimum": map[string]any{"reason": "  "}, "chair_id": m.ids["chair"]}),
			http.StatusUnprocessableEntity)
		if diff := cmp.Diff([]string{"urgent_minimum.reason"}, fieldsOf(p)); diff != "" {
			t.Errorf("fields (-want +got):\n%s", diff)
		}
	})
}

var contract = sync.OnceValues(func() (*openapi3.T, error) {
	return openapi3.NewLoader().LoadFromData(openapi.Document)
})

// conforms checks a response against what the contract promises for the
// operation at path (the document's template, such as
// "/v1/discussions/{id}/quorum"): status, media type and body schema.
func conforms(t *testing.T, method, path string, r response) {
	t.Helper()
	doc, err := contract()
	if err != nil {
		t.Fatal(err)
	}
	item := doc.Paths.Value(path)
	if item == nil || item.GetOperation(method) == nil {
		t.Fatalf("%s %s is not in the contract", method, path)
	}
	req := httptest.NewRequest(method, path, nil)
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req,
			Route: &routers.Route{Spec: doc, Path: path, PathItem: item, Method: method, Operation: item.GetOperation(method)}},
		Status: r.Status, Header: r.Header, Options: &openapi3filter.Options{MultiError: true, IncludeResponseStatus: true},
	}
	in.SetBodyBytes(r.Body)
	if err := openapi3filter.ValidateResponse(context.Background(), in); err != nil {
		t.Errorf("%s %s: the %d response does not match the contract: %v", method, path, r.Status, err)
	}
}
