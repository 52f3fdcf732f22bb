package httpapi_test

// Convening and booking as business support does it: what may travel in
// an invitation (case references, agenda headings, venues), who may chair,
// a case convened twice, calendars nobody could read, the note for those
// who run the discussion, and the timeline a page at a time.

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/convene/convene/service"
)

// conveneBody is the request convene sends for the core team, for tests
// that send it themselves.
func (m *meeting) conveneBody(change map[string]any) map[string]any {
	body := map[string]any{
		"case_reference": "CR-2026-0101", "rag": "amber", "referral_received_at": time.Now().UTC().Format(time.RFC3339),
		"child": map[string]any{"age_years": 1}, "chair_id": m.ids["chair"], "choose_invitees": false,
		"invitees": []map[string]any{{"person_id": m.ids["social_worker"], "knows_child": true}, {"person_id": m.ids["sergeant"]}, {"person_id": m.ids["named_nurse"]}},
	}
	for k, v := range change {
		body[k] = v
	}
	return body
}

func TestWhatInvitationsMayCarryIsRefusedUpFront(t *testing.T) {
	t.Parallel()
	m := convene(t, coreTeam, nil)
	tests := []struct {
		name   string
		change map[string]any
		field  string
	}{
		{"a name as case reference", map[string]any{"case_reference": "Smith-family"}, "case_reference"},
		{"a name with a space", map[string]any{"case_reference": "Jane Smith 2026"}, "case_reference"},
		{"too few digits", map[string]any{"case_reference": "CR-042"}, "case_reference"},
		{"too many letters", map[string]any{"case_reference": "SMITH-2026-0042"}, "case_reference"},
		{"an agenda heading of one's own", map[string]any{"agenda": []string{"Share information", "Concerns about the Smith children"}}, "agenda[1]"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := m.h.at(t).do("POST", "/v1/discussions", m.bso, m.conveneBody(tc.change))
			conforms(t, "POST", "/v1/discussions", r)
			p := problemOf(t, r, http.StatusUnprocessableEntity)
			if diff := cmp.Diff([]string{tc.field}, fieldsOf(p)); diff != "" {
				t.Errorf("fields (-want +got):\n%s", diff)
			}
		})
	}
	// The profile's headings are taken, and are the default.
	if !slices.Contains(m.d.Agenda, "Share information") {
		t.Errorf("default agenda %v, want the profile's headings", m.d.Agenda)
	}
}

func TestOnlyAManagerMayChair(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	admin := token(t, service.RoleAdmin, "social_care")
	for _, tc := range []struct {
		name   string
		person map[string]any
		status int
	}{
		{"a social worker", map[string]any{"name": "Tom", "email": "tom@council.example.gov.uk", "agency": "social_care", "role": "social_worker", "seniority": 1, "chair": true}, http.StatusUnprocessableEntity},
		{"a police inspector", map[string]any{"name": "Ken", "email": "ken@police.example.org", "agency": "police", "role": "police_officer", "seniority": 3, "chair": true}, http.StatusUnprocessableEntity},
		{"a team manager", map[string]any{"name": "Priya", "email": "priya@council.example.gov.uk", "agency": "social_care", "role": "team_manager", "seniority": 3, "chair": true}, http.StatusCreated},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := h.at(t).do("POST", "/v1/people", admin, tc.person)
			conforms(t, "POST", "/v1/people", r)
			if tc.status == http.StatusCreated {
				if r.Status != tc.status {
					t.Fatalf("%d %s", r.Status, r.Body)
				}
				return
			}
			if p := problemOf(t, r, tc.status); !slices.Equal(fieldsOf(p), []string{"chair"}) {
				t.Errorf("fields %v, want chair", fieldsOf(p))
			}
		})
	}

	// Nor can a convene request name as chair someone not flagged as one.
	m := convene(t, coreTeam, nil)
	r := m.h.do("POST", "/v1/discussions", m.bso, m.conveneBody(map[string]any{"case_reference": "CR-2026-0777", "chair_id": m.ids["sergeant"]}))
	if p := problemOf(t, r, http.StatusUnprocessableEntity); !slices.Equal(fieldsOf(p), []string{"chair_id"}) {
		t.Errorf("fields %v, want chair_id", fieldsOf(p))
	}
}

func TestACaseConvenedTwiceLinksTheOpenDiscussion(t *testing.T) {
	t.Parallel()
	m := convene(t, coreTeam, nil)
	for _, key := range []string{"", "a-new-key"} {
		var header []string
		if key != "" {
			header = []string{"Idempotency-Key", key}
		}
		r := m.h.do("POST", "/v1/discussions", m.bso, m.conveneBody(nil), header...)
		conforms(t, "POST", "/v1/discussions", r)
		p := problemOf(t, r, http.StatusConflict)
		if got, want := p["link"], "/v1/discussions/"+m.d.ID; got != want {
			t.Errorf("key %q: link %v, want %s", key, got, want)
		}
		if !slices.Contains(fieldsOf(p), "case_reference") || !strings.Contains(p["detail"].(string), "confirm_duplicate") {
			t.Errorf("key %q: problem %v, want case_reference named and confirm_duplicate offered", key, p)
		}
		if l, _ := p["link"].(string); l != "" {
			if r := m.h.do("GET", l, m.bso, nil); r.Status != http.StatusOK {
				t.Errorf("GET the link: %d", r.Status)
			}
		}
	}
	r := m.h.do("POST", "/v1/discussions", m.bso, m.conveneBody(map[string]any{"confirm_duplicate": true}))
	if r.Status != http.StatusCreated {
		t.Fatalf("with confirm_duplicate: %d %s", r.Status, r.Body)
	}
	var page struct{ Items []struct{ ID string } }
	decodeInto(t, m.h.do("GET", "/v1/discussions?case_reference=CR-2026-0101", m.bso, nil).Body, &page)
	if len(page.Items) != 2 {
		t.Errorf("the case's discussions: %+v, want both", page.Items)
	}
}

func TestBookingWhereCalendarsAreUnknownNeedsThemConfirmed(t *testing.T) {
	t.Parallel()
	m := convene(t, coreTeam, nil)
	path := "/v1/discussions/" + m.d.ID + "/book"
	start := m.d.Deadline.Add(-2 * time.Hour)
	var everyone []string
	for _, a := range m.d.Attendees {
		everyone = append(everyone, a.Email)
	}
	before := m.h.do("GET", "/v1/discussions/"+m.d.ID, m.bso, nil)

	for _, tc := range []struct {
		name      string
		confirmed []string
		missing   []string
	}{
		{"nobody confirmed", nil, everyone},
		{"some confirmed", everyone[:2], everyone[2:]},
	} {
		body := map[string]any{"start": start, "venue_id": m.venue}
		if tc.confirmed != nil {
			body["confirm_unknown"] = tc.confirmed
		}
		r := m.h.do("POST", path, m.bso, body)
		conforms(t, "POST", "/v1/discussions/{id}/book", r)
		p := problemOf(t, r, http.StatusUnprocessableEntity)
		if !slices.Equal(fieldsOf(p), []string{"confirm_unknown"}) {
			t.Errorf("%s: fields %v, want confirm_unknown", tc.name, fieldsOf(p))
		}
		for _, e := range everyone {
			if named := strings.Contains(string(r.Body), e); named != slices.Contains(tc.missing, e) {
				t.Errorf("%s: %s named %v, want %v", tc.name, e, named, !named)
			}
		}
	}
	// Refused bookings change nothing.
	after := m.h.do("GET", "/v1/discussions/"+m.d.ID, m.bso, nil)
	var b, a discussionDoc
	decodeInto(t, before.Body, &b)
	decodeInto(t, after.Body, &a)
	if a.Status != "proposed" || len(a.Attendees) != len(b.Attendees) {
		t.Errorf("after refused bookings: %s", after.Body)
	}

	// Confirmed, it is booked and says whose availability was unknown.
	r := m.h.do("POST", path, m.bso, map[string]any{"start": start, "venue_id": m.venue, "confirm_unknown": everyone})
	if r.Status != http.StatusOK {
		t.Fatalf("book: %d %s", r.Status, r.Body)
	}
	var d struct {
		Booking struct {
			Location string   `json:"location"`
			Unknown  []string `json:"unknown"`
		} `json:"booking"`
		Timeline []struct{ Kind, Detail string } `json:"timeline"`
	}
	decodeInto(t, r.Body, &d)
	if !slices.Equal(d.Booking.Unknown, everyone) || d.Booking.Location != "Meeting room 2, Civic Centre" {
		t.Errorf("booking %+v, want everyone unknown, at the venue", d.Booking)
	}
	if !slices.ContainsFunc(d.Timeline, func(e struct{ Kind, Detail string }) bool { return e.Kind == "availability_unknown" }) {
		t.Errorf("the timeline does not record booking without knowing: %+v", d.Timeline)
	}
}

func TestBookingTakesTheLocationFromTheVenues(t *testing.T) {
	t.Parallel()
	m := convene(t, coreTeam, nil)
	admin := token(t, service.RoleAdmin, "social_care")
	start := m.d.Deadline.Add(-2 * time.Hour)
	var everyone []string
	for _, a := range m.d.Attendees {
		everyone = append(everyone, a.Email)
	}
	closed := m.h.do("POST", "/v1/venues", admin, map[string]any{"name": "Old annexe"})
	if closed.Status != http.StatusCreated {
		t.Fatalf("create: %d %s", closed.Status, closed.Body)
	}
	if r := m.h.do("PUT", "/v1/venues/"+closed.JSON(t)["id"].(string), admin, map[string]any{"name": "Old annexe", "active": false, "version": 1}); r.Status != http.StatusOK {
		t.Fatalf("close the annexe: %d %s", r.Status, r.Body)
	}
	for _, tc := range []struct {
		name  string
		body  map[string]any
		field string
	}{
		{"free text", map[string]any{"start": start, "location": "The family home", "confirm_unknown": everyone}, "location"},
		{"no such venue", map[string]any{"start": start, "venue_id": strings.Repeat("a", 32), "confirm_unknown": everyone}, "venue_id"},
		{"a venue no longer used", map[string]any{"start": start, "venue_id": closed.JSON(t)["id"], "confirm_unknown": everyone}, "venue_id"},
		{"a join link elsewhere", map[string]any{"start": start, "online_url": "https://meet.evil.example/x", "confirm_unknown": everyone}, "online_url"},
	} {
		r := m.h.do("POST", "/v1/discussions/"+m.d.ID+"/book", m.bso, tc.body)
		if p := problemOf(t, r, http.StatusUnprocessableEntity); !slices.Equal(fieldsOf(p), []string{tc.field}) {
			t.Errorf("%s: fields %v, want %s", tc.name, fieldsOf(p), tc.field)
		}
	}
}

func TestVenues(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	admin := token(t, service.RoleAdmin, "social_care")
	bso := token(t, service.RoleBusinessSupport, "social_care")
	chair := token(t, service.RoleChair, "social_care")

	problemOf(t, h.do("POST", "/v1/venues", bso, map[string]any{"name": "Room 1"}), http.StatusForbidden)
	problemOf(t, h.do("GET", "/v1/venues", token(t, service.RoleAgencyRep, "police"), nil), http.StatusForbidden)
	p := problemOf(t, h.do("POST", "/v1/venues", admin, map[string]any{"name": "Room 1", "capacity": 12}), http.StatusUnprocessableEntity)
	if !slices.Equal(fieldsOf(p), []string{"capacity"}) {
		t.Errorf("fields %v, want capacity", fieldsOf(p))
	}

	r := h.do("POST", "/v1/venues", admin, map[string]any{"name": "Meeting room 2", "address": "Civic Centre, Town Square"})
	if r.Status != http.StatusCreated {
		t.Fatalf("create: %d %s", r.Status, r.Body)
	}
	conforms(t, "POST", "/v1/venues", r)
	id := r.JSON(t)["id"].(string)
	if r.Header.Get("Location") != "/v1/venues/"+id || r.Header.Get("ETag") != `"1"` {
		t.Errorf("Location %q, ETag %q", r.Header.Get("Location"), r.Header.Get("ETag"))
	}

	list := func(tok, query string) []string {
		t.Helper()
		r := h.do("GET", "/v1/venues"+query, tok, nil)
		if r.Status != http.StatusOK {
			t.Fatalf("list: %d %s", r.Status, r.Body)
		}
		conforms(t, "GET", "/v1/venues", r)
		var page struct{ Items []struct{ Name string } }
		decodeInto(t, r.Body, &page)
		var names []string
		for _, v := range page.Items {
			names = append(names, v.Name)
		}
		return names
	}
	if got := list(chair, ""); !slices.Equal(got, []string{"Meeting room 2"}) {
		t.Errorf("venues a chair sees: %v", got)
	}

	r = h.do("PUT", "/v1/venues/"+id, admin, map[string]any{"name": "Meeting room 2", "address": "Civic Centre", "active": false, "version": 1})
	if r.Status != http.StatusOK || r.Header.Get("ETag") != `"2"` {
		t.Fatalf("update: %d %s", r.Status, r.Body)
	}
	conforms(t, "PUT", "/v1/venues/{id}", r)
	problemOf(t, h.do("PUT", "/v1/venues/"+id, admin, map[string]any{"name": "Stale", "version": 1}), http.StatusConflict)
	if got := list(bso, ""); len(got) != 0 {
		t.Errorf("active venues after closing the only one: %v", got)
	}
	if got := list(bso, "?include_inactive=true"); !slices.Equal(got, []string{"Meeting room 2"}) {
		t.Errorf("all venues: %v", got)
	}
}

func TestTheNoteStaysWithThoseWhoRunTheDiscussion(t *testing.T) {
	t.Parallel()
	m := convene(t, coreTeam, nil)
	path := "/v1/discussions/" + m.d.ID
	const note = "Mother has asked that the school is not told before Thursday"
	rep := token(t, service.RoleAgencyRep, "police", as("sergeant"))

	problemOf(t, m.h.do("PUT", path+"/note", rep, map[string]any{"note": note}), http.StatusForbidden)
	p := problemOf(t, m.h.do("PUT", path+"/note", m.bso, map[string]any{"note": strings.Repeat("x", 4001)}), http.StatusUnprocessableEntity)
	if !slices.Equal(fieldsOf(p), []string{"note"}) {
		t.Errorf("fields %v, want note", fieldsOf(p))
	}
	r := m.h.do("PUT", path+"/note", m.bso, map[string]any{"note": note})
	if r.Status != http.StatusOK {
		t.Fatalf("note: %d %s", r.Status, r.Body)
	}
	conforms(t, "PUT", "/v1/discussions/{id}/note", r)
	for _, tc := range []struct {
		name, tok string
		sees      bool
	}{{"business support", m.bso, true}, {"the chair", m.chair, true}, {"the police", rep, false}} {
		var d struct {
			Note string `json:"note"`
		}
		decodeInto(t, m.h.do("GET", path, tc.tok, nil).Body, &d)
		if got := d.Note == note; got != tc.sees {
			t.Errorf("%s sees the note: %v, want %v", tc.name, got, tc.sees)
		}
	}
	// And it goes into no invitation.
	m.book()
	ms, err := m.h.store.Messages(t.Context(), outboxIDs(t, m))
	if err != nil || len(ms) == 0 {
		t.Fatalf("messages: %v, %d", err, len(ms))
	}
	for _, msg := range ms {
		if strings.Contains(string(msg.Raw), "Thursday") {
			t.Errorf("the invitation to %s carries the note", msg.To)
		}
	}
}

// outboxIDs lists the ids of the discussion's outbox messages, as stored.
func outboxIDs(t *testing.T, m *meeting) []string {
	t.Helper()
	d, err := m.h.store.Discussion(t.Context(), m.d.ID)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, r := range d.Outbox {
		ids = append(ids, r.ID)
	}
	return ids
}

func TestTimelinePages(t *testing.T) {
	t.Parallel()
	m := convene(t, coreTeam, nil)
	m.book()
	for _, k := range []string{"chair", "social_worker", "sergeant"} {
		m.checkIn(k)
	}
	path := "/v1/discussions/" + m.d.ID + "/timeline"
	type page struct {
		Items []struct {
			Seq  int64  `json:"seq"`
			Kind string `json:"kind"`
		} `json:"items"`
		Next string `json:"next"`
	}
	var all []int64
	var kinds []string
	next := ""
	for pages := 0; pages < 20; pages++ {
		q := "?limit=2"
		if next != "" {
			q += "&before=" + url.QueryEscape(next)
		}
		r := m.h.do("GET", path+q, m.chair, nil)
		if r.Status != http.StatusOK {
			t.Fatalf("timeline%s: %d %s", q, r.Status, r.Body)
		}
		conforms(t, "GET", "/v1/discussions/{id}/timeline", r)
		var p page
		decodeInto(t, r.Body, &p)
		for _, e := range p.Items {
			all = append(all, e.Seq)
			kinds = append(kinds, e.Kind)
		}
		if next = p.Next; next == "" {
			break
		}
		if n, err := strconv.ParseInt(next, 10, 64); err != nil || n != p.Items[len(p.Items)-1].Seq {
			t.Fatalf("next %q, want the last event's number", next)
		}
	}
	// Newest first, each once, down to the first.
	if len(all) < 5 || all[len(all)-1] != 1 || !slices.IsSortedFunc(all, func(a, b int64) int { return int(b - a) }) || len(slices.Compact(slices.Clone(all))) != len(all) {
		t.Errorf("event numbers %v, want every event once, newest first", all)
	}
	if kinds[len(kinds)-1] != "chair_chosen" && kinds[len(kinds)-1] != "convened" {
		t.Errorf("oldest event %q, want the convening", kinds[len(kinds)-1])
	}

	// As the discussion: 404 to whoever may not see it, and audited.
	outsider := token(t, service.RoleAgencyRep, "police", as("inspector"))
	problemOf(t, m.h.do("GET", path, outsider, nil), http.StatusNotFound)
	problemOf(t, m.h.do("GET", path+"?before=0", m.chair, nil), http.StatusUnprocessableEntity)
	reads := 0
	for _, e := range auditEntries(t, m.h, m.d.ID) {
		if e.Action == "discussion.timeline.read" && e.Actor.Email == member("chair").email {
			reads++
		}
	}
	if reads == 0 {
		t.Errorf("timeline reads not audited")
	}
}

func TestDoubleBookingNamesThePersonNotTheOtherCase(t *testing.T) {
	t.Parallel()
	// Two discussions with the same chair, booked at overlapping times:
	// the second is refused, saying who is already booked, and nothing
	// about the other case (its id, its reference) rides out with it.
	m := convene(t, coreTeam, nil)
	m.book()
	r := m.h.do("POST", "/v1/discussions", m.bso, m.conveneBody(map[string]any{"case_reference": "CR-2026-0202"}))
	if r.Status != http.StatusCreated {
		t.Fatalf("convene the second: %d %s", r.Status, r.Body)
	}
	var second discussionDoc
	decodeInto(t, r.Body, &second)
	var everyone []string
	for _, a := range second.Attendees {
		everyone = append(everyone, a.Email)
	}
	start := m.d.Deadline.Add(-2*time.Hour + 30*time.Minute)
	r = m.h.do("POST", "/v1/discussions/"+second.ID+"/book", m.bso, map[string]any{"start": start, "venue_id": m.venue, "confirm_unknown": everyone})
	conforms(t, "POST", "/v1/discussions/{id}/book", r)
	p := problemOf(t, r, http.StatusConflict)
	if d := p["detail"].(string); !strings.Contains(d, "Priya Shah") || !strings.Contains(d, "already booked") {
		t.Errorf("detail %q, want it to say the chair is already booked", d)
	}
	for _, leak := range []string{m.d.ID, "CR-2026-0101"} {
		if strings.Contains(string(r.Body), leak) {
			t.Errorf("the problem carries the other discussion's %s: %s", leak, r.Body)
		}
	}
	for _, k := range []string{"conflicting_discussion", "busy", "link"} {
		if _, ok := p[k]; ok {
			t.Errorf("the problem has a %q member: %s", k, r.Body)
		}
	}
	var after discussionDoc
	decodeInto(t, m.h.do("GET", "/v1/discussions/"+second.ID, m.bso, nil).Body, &after)
	if after.Status != "proposed" {
		t.Errorf("the refused booking left the discussion %s", after.Status)
	}
}
