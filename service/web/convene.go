package web

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/convene/convene/service"
	"github.com/convene/convene/service/policy"
)

// Convene is a run of GOV.UK question pages: the case and referral, the
// concerns, the circumstances, then a check page showing the deadline and
// the rule that binds (with its citation) before anything is saved, then
// who takes part, and only then the discussion is convened. Answers travel
// from page to page in the form itself (hidden fields), so the pages work
// without JavaScript and nothing typed is lost when a page is refused.

// The question pages, in order.
const (
	stepCase          = "case"
	stepConcerns      = "concerns"
	stepCircumstances = "circumstances"
	stepCheck         = "check"
	stepPeople        = "people"
)

var conveneSteps = []string{stepCase, stepConcerns, stepCircumstances, stepCheck, stepPeople}

// stepFields are the form fields each question page asks; every other
// answer rides along hidden.
var stepFields = map[string][]string{
	stepCase: {"case_reference", "referral_received_at-day", "referral_received_at-month", "referral_received_at-year",
		"referral_received_at-hour", "referral_received_at-minute", "rag", "referring_agency"},
	stepConcerns: {"concerns", "forensic_evidence", "multiple_children"},
	stepCircumstances: {"child.age_years", "child.unborn", "child.school_or_nursery", "child.in_hospital", "child.looked_after",
		"medical_examination", "legal_action_contemplated", "person_works_with_children", "interpreter_language", "specialist_expertise"},
	stepCheck:  {},
	stepPeople: {"chair_id", "knows_child", "format_preference", "agenda", "venue_id", "duration_minutes", "confirm_duplicate"},
}

// stepOf is the question page that asks a field the domain refused.
func stepOf(field string) string {
	id := fieldID(field)
	for _, st := range conveneSteps {
		for _, f := range stepFields[st] {
			if fid := fieldID(f); id == fid || strings.HasPrefix(fid, id+"-") || strings.HasPrefix(id, fid+"-") {
				return st
			}
		}
	}
	switch {
	case strings.HasPrefix(field, "child"):
		return stepCircumstances
	case strings.HasPrefix(field, "concerns"):
		return stepConcerns
	case strings.HasPrefix(field, "req.") || strings.HasPrefix(field, "invitees"):
		return stepPeople
	}
	return stepCase
}

// conveneView is what the question pages show.
type conveneView struct {
	formKit
	Step string
	// Prev is the page before; Return is set when a page was opened
	// from the check page to change an answer.
	Prev   string
	Return bool
	Hidden []hiddenField
	// The case page.
	RAGs      []option
	Agencies  []option
	Concerns  []option
	Hospital  []option
	Medical   []option
	Formats   []option
	Agenda    []option
	Venues    []option
	Chairs    []option
	Knows     []option
	Durations []option
	// The check page.
	Timescale      *policy.Timescale
	Deadline       string
	Left           string
	Answers        []answer
	FormatDecision *policy.FormatDecision
	// The people page.
	Requirements []requirementView
	KnowsChild   policy.KnowsChildRule
	Urgent       *policy.UrgentMinimumApplied
	Duplicate    bool
	Key          string
}

type hiddenField struct{ Name, Value string }

// answer is a row of the check page's summary list, with the page to
// change it.
type answer struct {
	Key, Value, Step string
}

// requirementView is a requirement with the people who could fill it.
type requirementView struct {
	policy.Requirement
	Field   string // the select's name: req.<id>
	Minimum string
	People  []personOption
	Agency  string
}

type personOption struct {
	ID, Text string
	Selected bool
	Below    bool
}

// conveneForm reads the answers so far into a convene request. Problems
// with what was typed (a date that is not a date) are field errors in the
// domain's terms, before the App is asked.
func (s *Server) conveneForm(form url.Values) (service.ConveneRequest, []FieldError) {
	var errs []FieldError
	bad := func(field, msg string) { errs = append(errs, FieldError{Field: fieldID(field), Message: msg}) }
	req := service.ConveneRequest{CaseReference: strings.TrimSpace(form.Get("case_reference")), ChooseInvitees: true}
	c := &req.Case
	c.RAG = policy.RAG(form.Get("rag"))
	c.ReferringAgency = policy.Agency(form.Get("referring_agency"))
	if t, ok := s.dateTime(form, "referral_received_at"); ok {
		c.ReferralReceivedAt = t
	} else if form.Has("referral_received_at-day") {
		bad("referral_received_at", "Enter the date and time the referral was received, for example 27 11 2026 and 09 30")
	}
	for _, v := range form["concerns"] {
		c.Concerns = append(c.Concerns, policy.Concern(v))
	}
	c.ForensicEvidence = form.Get("forensic_evidence") == "yes"
	c.MultipleChildren = form.Get("multiple_children") == "yes"
	if v := strings.TrimSpace(form.Get("child.age_years")); v != "" {
		if n, err := strconv.Atoi(v); err == nil {
			c.Child.AgeYears = &n
		} else {
			bad("child.age_years", "Enter the child's age in years as a number, like 7")
		}
	}
	c.Child.Unborn = form.Get("child.unborn") == "yes"
	c.Child.SchoolOrNursery = strings.TrimSpace(form.Get("child.school_or_nursery"))
	c.Child.InHospital = form.Get("child.in_hospital")
	c.Child.LookedAfter = form.Get("child.looked_after") == "yes"
	c.MedicalExamination = form.Get("medical_examination")
	c.LegalActionContemplated = form.Get("legal_action_contemplated") == "yes"
	c.PersonWorksWithChildren = form.Get("person_works_with_children") == "yes"
	c.InterpreterLanguage = strings.TrimSpace(form.Get("interpreter_language"))
	c.SpecialistExpertise = strings.TrimSpace(form.Get("specialist_expertise"))

	req.ChairID = form.Get("chair_id")
	var knows []string
	for _, k := range form["knows_child"] {
		if k != "" {
			knows = append(knows, k)
		}
	}
	seen := map[string]bool{req.ChairID: req.ChairID != ""}
	var ids []string
	for k, vs := range form {
		if strings.HasPrefix(k, "req.") && len(vs) > 0 && vs[0] != "" {
			ids = append(ids, vs[0])
		}
	}
	ids = append(ids, knows...)
	sort.Strings(ids)
	for _, id := range ids {
		if seen[id] {
			continue
		}
		seen[id] = true
		req.Invitees = append(req.Invitees, service.InviteeRequest{PersonID: id, KnowsChild: slices.Contains(knows, id)})
	}
	if req.ChairID != "" && slices.Contains(knows, req.ChairID) {
		req.Invitees = append(req.Invitees, service.InviteeRequest{PersonID: req.ChairID, KnowsChild: true})
	}
	req.FormatPreference = policy.Format(form.Get("format_preference"))
	req.Agenda = form["agenda"]
	if v := form.Get("duration_minutes"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			bad("duration_minutes", "Choose how long the discussion needs")
		}
		req.Duration = time.Duration(n) * time.Minute
	}
	req.ConfirmDuplicate = form.Get("confirm_duplicate") == "yes"
	return req, errs
}

// dateTime reads a GOV.UK date input with hour and minute fields, in the
// area's zone.
func (s *Server) dateTime(form url.Values, name string) (time.Time, bool) {
	var n [5]int
	for i, part := range []string{"day", "month", "year", "hour", "minute"} {
		v, err := strconv.Atoi(strings.TrimSpace(form.Get(name + "-" + part)))
		if err != nil {
			return time.Time{}, false
		}
		n[i] = v
	}
	t := time.Date(n[2], time.Month(n[1]), n[0], n[3], n[4], 0, 0, s.cfg.Zone)
	if t.Day() != n[0] || int(t.Month()) != n[1] || n[3] > 23 || n[4] > 59 || n[2] < 2000 {
		return time.Time{}, false
	}
	return t, true
}

// date reads a GOV.UK date input (day, month, year), at the given time of
// day in the area's zone.
func (s *Server) date(form url.Values, name string, hour int) (time.Time, bool) {
	var n [3]int
	for i, part := range []string{"day", "month", "year"} {
		v, err := strconv.Atoi(strings.TrimSpace(form.Get(name + "-" + part)))
		if err != nil {
			return time.Time{}, false
		}
		n[i] = v
	}
	t := time.Date(n[2], time.Month(n[1]), n[0], hour, 0, 0, 0, s.cfg.Zone)
	if t.Day() != n[0] || int(t.Month()) != n[1] || n[2] < 2000 {
		return time.Time{}, false
	}
	return t, true
}

func (s *Server) conveneStart(w http.ResponseWriter, r *http.Request) error {
	now := s.cfg.Now().In(s.cfg.Zone)
	form := url.Values{}
	form.Set("referral_received_at-day", strconv.Itoa(now.Day()))
	form.Set("referral_received_at-month", strconv.Itoa(int(now.Month())))
	form.Set("referral_received_at-year", strconv.Itoa(now.Year()))
	form.Set("referral_received_at-hour", now.Format("15"))
	form.Set("referral_received_at-minute", now.Format("04"))
	return s.conveneShow(w, r, http.StatusOK, stepCase, form, nil)
}

// conveneNext takes a question page's answers and shows the next page, or
// the same one with what is wrong.
func (s *Server) conveneNext(w http.ResponseWriter, r *http.Request) error {
	if err := r.ParseForm(); err != nil {
		return err
	}
	form := r.PostForm
	step := form.Get("step")
	if !slices.Contains(conveneSteps, step) {
		step = stepCase
	}
	// "Change" on the check page goes back to a question page.
	if to := form.Get("change"); slices.Contains(conveneSteps, to) {
		if step == stepCheck {
			// Changed from the check page: back to it after.
			form.Set("return", stepCheck)
		} else {
			form.Del("return")
		}
		return s.conveneShow(w, r, http.StatusOK, to, form, nil)
	}
	req, errs := s.conveneForm(form)
	ctx := r.Context()
	switch step {
	case stepCase:
		if req.CaseReference == "" {
			errs = append(errs, FieldError{Field: fieldID("case_reference"), Message: "Enter the case reference (numbers, with at most a short letter prefix: never a name)"})
		} else if err := s.profile().CheckCaseReference(req.CaseReference); err != nil {
			errs = append(errs, fieldErrors(err)...)
		}
		if req.Case.RAG == "" {
			errs = append(errs, FieldError{Field: fieldID("rag"), Message: "Select the RAG rating the MASH duty manager gave"})
		}
	case stepConcerns:
		if len(req.Case.Concerns) == 0 {
			errs = append(errs, FieldError{Field: fieldID("concerns"), Message: `Select the concerns, or "Other concerns"`})
		}
	case stepPeople:
		if len(errs) == 0 {
			return s.conveneCreate(w, r, form, req)
		}
	}
	if len(errs) == 0 && step != stepCase {
		// Ask the App: the timescale and circumstances it would refuse.
		if _, err := s.app.Timescale(ctx, req.Case.TimescaleRequest); err != nil {
			errs = append(errs, fieldErrors(err)...)
		} else if err := req.Case.Validate(); err != nil {
			errs = append(errs, fieldErrors(err)...)
		}
	}
	if len(errs) > 0 {
		return s.conveneShow(w, r, http.StatusUnprocessableEntity, stepOf(errs[0].Field), form, errs)
	}
	next := conveneSteps[min(slices.Index(conveneSteps, step)+1, len(conveneSteps)-1)]
	if form.Get("return") == stepCheck && step != stepCheck {
		next = stepCheck
	}
	return s.conveneShow(w, r, http.StatusOK, next, form, nil)
}

// conveneCreate convenes the discussion, then shows its slots.
func (s *Server) conveneCreate(w http.ResponseWriter, r *http.Request, form url.Values, req service.ConveneRequest) error {
	// The key is minted on the people page, so a double-clicked submit
	// convenes one discussion.
	req.IdempotencyKey = form.Get("idempotency_key")
	sum := sha256.Sum256([]byte(form.Encode()))
	req.RequestHash = hex.EncodeToString(sum[:])
	if req.IdempotencyKey != "" {
		// Vary with the answers: a changed form is a new request.
		req.IdempotencyKey += ":" + req.RequestHash[:16]
	}
	d, _, err := s.app.Convene(r.Context(), req)
	if err != nil {
		if service.ErrorCode(err) == service.EINTERNAL {
			return err
		}
		errs := fieldErrors(err)
		return s.conveneShow(w, r, http.StatusUnprocessableEntity, stepOf(errs[0].Field), form, errs)
	}
	to := "/discussions/" + d.ID + "/slots"
	if v := form.Get("venue_id"); v != "" {
		to += "?venue=" + url.QueryEscape(v)
	}
	return done(w, r, to, "convened")
}

// conveneShow renders a question page with every other answer hidden.
func (s *Server) conveneShow(w http.ResponseWriter, r *http.Request, status int, step string, form url.Values, errs []FieldError) error {
	ctx := r.Context()
	v := &conveneView{Step: step, Return: form.Get("return") == stepCheck && step != stepCheck && step != stepPeople}
	if i := slices.Index(conveneSteps, step); i > 0 {
		v.Prev = conveneSteps[i-1]
	}
	own := stepFields[step]
	keys := make([]string, 0, len(form))
	for k := range form {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if slices.Contains(own, k) || k == "csrf" || k == "step" || k == "change" || k == "return" || k == "idempotency_key" ||
			step == stepPeople && strings.HasPrefix(k, "req.") {
			continue
		}
		for _, val := range form[k] {
			v.Hidden = append(v.Hidden, hiddenField{Name: k, Value: val})
		}
	}
	p := &Page{Title: conveneTitles[step], Form: form, Errors: errs, Nav: "/convene", Data: v}
	v.Page = p
	profile := s.profile()
	req, _ := s.conveneForm(form)
	switch step {
	case stepCase:
		for _, g := range []policy.RAG{policy.RAGRed, policy.RAGAmber, policy.RAGGreen} {
			v.RAGs = append(v.RAGs, option{Value: string(g), Text: Words(string(g)), Selected: form.Get("rag") == string(g)})
		}
		v.Agencies = append(v.Agencies, option{Value: "", Text: "Not known"})
		for _, a := range policy.Agencies {
			v.Agencies = append(v.Agencies, option{Value: string(a), Text: profile.AgencyLabel(a), Selected: form.Get("referring_agency") == string(a)})
		}
	case stepConcerns:
		for _, c := range policy.Concerns {
			v.Concerns = append(v.Concerns, option{Value: string(c), Text: say(concernWords, c), Selected: slices.Contains(form["concerns"], string(c))})
		}
	case stepCircumstances:
		for _, o := range [][2]string{{"", "No"}, {policy.InHospitalInpatient, "Yes, as an in-patient"}, {policy.InHospitalOutpatient, "Yes, as an out-patient"}} {
			v.Hospital = append(v.Hospital, option{Value: o[0], Text: o[1], Selected: form.Get("child.in_hospital") == o[0]})
		}
		for _, o := range [][2]string{{"", "No"}, {policy.MedicalExamPossible, "Possibly"}, {policy.MedicalExamDone, "Yes, it has been done"}} {
			v.Medical = append(v.Medical, option{Value: o[0], Text: o[1], Selected: form.Get("medical_examination") == o[0]})
		}
	case stepCheck:
		ts, err := s.app.Timescale(ctx, req.Case.TimescaleRequest)
		if err != nil {
			return s.conveneShow(w, r, http.StatusUnprocessableEntity, stepCase, form, fieldErrors(err))
		}
		v.Timescale = ts
		v.Deadline = When(ts.Deadline, s.cfg.Zone)
		v.Left = TimeLeft(ts.Deadline, s.cfg.Now())
		v.Answers = s.answers(form, req)
		if fd, err := profile.Format(req.Case); err == nil {
			v.FormatDecision = &fd
		}
	case stepPeople:
		if err := s.peopleStep(ctx, v, form, req); err != nil {
			return err
		}
	}
	return s.render(w, r, status, "convene.html", p)
}

var conveneTitles = map[string]string{
	stepCase:          "Convene a strategy discussion",
	stepConcerns:      "What are the concerns?",
	stepCircumstances: "About the child and the circumstances",
	stepCheck:         "Check the deadline before you continue",
	stepPeople:        "Who takes part",
}

// answers are the check page's summary of what was given.
func (s *Server) answers(form url.Values, req service.ConveneRequest) []answer {
	c := req.Case
	yes := func(b bool) string {
		if b {
			return "Yes"
		}
		return "No"
	}
	var concerns []string
	for _, x := range c.Concerns {
		concerns = append(concerns, say(concernWords, x))
	}
	age := "Not given"
	switch {
	case c.Child.Unborn:
		age = "Unborn"
	case c.Child.AgeYears != nil:
		age = plural(*c.Child.AgeYears, "year", "years")
	}
	referring := "Not known"
	if c.ReferringAgency != "" {
		referring = s.profile().AgencyLabel(c.ReferringAgency)
	}
	return []answer{
		{"Case reference", req.CaseReference, stepCase},
		{"Referral received", When(c.ReferralReceivedAt, s.cfg.Zone) + " " + ZoneName(c.ReferralReceivedAt, s.cfg.Zone), stepCase},
		{"RAG rating", Words(string(c.RAG)), stepCase},
		{"Referring agency", referring, stepCase},
		{"Concerns", strings.Join(concerns, "; "), stepConcerns},
		{"Forensic evidence may need securing", yes(c.ForensicEvidence), stepConcerns},
		{"More than one child", yes(c.MultipleChildren), stepConcerns},
		{"Child's age", age, stepCircumstances},
		{"School or nursery", orNone(c.Child.SchoolOrNursery), stepCircumstances},
		{"In hospital", map[string]string{"": "No", "inpatient": "In-patient", "outpatient": "Out-patient"}[c.Child.InHospital], stepCircumstances},
		{"Looked after", yes(c.Child.LookedAfter), stepCircumstances},
		{"Legal action may be needed", yes(c.LegalActionContemplated), stepCircumstances},
		{"Concerns someone who works with children", yes(c.PersonWorksWithChildren), stepCircumstances},
		{"Interpreter", orNone(c.InterpreterLanguage), stepCircumstances},
	}
}

func orNone(s string) string {
	if s == "" {
		return "None"
	}
	return s
}

// peopleStep fills the people page: each requirement from the profile
// with the directory's people who could fill it (seniority shown against
// the minimum), the chair, format, agenda headings and venue from the
// allowed lists.
func (s *Server) peopleStep(ctx context.Context, v *conveneView, form url.Values, req service.ConveneRequest) error {
	profile := s.profile()
	att, err := profile.Requirements(req.Case)
	if err != nil {
		return err
	}
	v.KnowsChild, v.Urgent = att.KnowsChild, att.UrgentMinimum
	byAgency := map[policy.Agency][]service.Person{}
	people := func(a policy.Agency) ([]service.Person, error) {
		if ps, ok := byAgency[a]; ok {
			return ps, nil
		}
		ps, err := s.app.People(ctx, service.PersonFilter{Agency: a, Limit: 200})
		byAgency[a] = ps
		return ps, err
	}
	for _, r := range att.Requirements {
		rv := requirementView{Requirement: r, Field: "req." + r.ID, Minimum: r.MinSeniority.Label}
		var names []string
		for _, a := range r.Agencies {
			names = append(names, profile.AgencyLabel(a))
		}
		rv.Agency = strings.Join(names, " or ")
		if r.Chair {
			// The chair is chosen below.
			v.Requirements = append(v.Requirements, rv)
			continue
		}
		rv.People = append(rv.People, personOption{Text: "Let Convene choose (the least senior who meets it)"})
		for _, a := range r.Agencies {
			ps, err := people(a)
			if err != nil {
				return err
			}
			for _, p := range ps {
				if !p.Active {
					continue
				}
				below := p.Seniority < r.MinSeniority.Level
				text := p.Name + " — " + profile.SeniorityLabel(p.Agency, p.Seniority)
				if below {
					text += " (below the minimum, " + r.MinSeniority.Label + ")"
				}
				rv.People = append(rv.People, personOption{ID: p.ID, Text: text, Below: below, Selected: form.Get(rv.Field) == p.ID})
			}
		}
		v.Requirements = append(v.Requirements, rv)
	}
	// The chair: the directory's chairs for the chair requirement; by
	// default Convene chooses.
	v.Chairs = append(v.Chairs, option{Text: "Let Convene choose (the least senior chair who meets the requirement)"})
	if cr, ok := profile.ChairRequirement(); ok {
		for _, a := range cr.Agencies {
			ps, err := people(a)
			if err != nil {
				return err
			}
			for _, p := range ps {
				if p.Active && p.Chair {
					v.Chairs = append(v.Chairs, option{Value: p.ID, Text: p.Name + " — " + profile.SeniorityLabel(p.Agency, p.Seniority), Selected: form.Get("chair_id") == p.ID})
				}
			}
		}
	}
	// Who knows the child: anyone in the directory (004: the Climbié
	// lesson); they are invited if not already.
	v.Knows = append(v.Knows, option{Text: "Nobody chosen yet"})
	for _, a := range policy.Agencies {
		ps, err := people(a)
		if err != nil {
			return err
		}
		for _, p := range ps {
			if p.Active {
				v.Knows = append(v.Knows, option{Value: p.ID, Text: p.Name + " (" + profile.AgencyLabel(p.Agency) + ")", Selected: slices.Contains(form["knows_child"], p.ID)})
			}
		}
	}
	for _, f := range []policy.Format{"", policy.FormatMeeting, policy.FormatDiscussion} {
		text := "As the procedure decides"
		if f != "" {
			text = say(formatWords, f)
		}
		v.Formats = append(v.Formats, option{Value: string(f), Text: text, Selected: form.Get("format_preference") == string(f)})
	}
	chosen := form["agenda"]
	for _, h := range profile.Agenda() {
		v.Agenda = append(v.Agenda, option{Value: h, Text: h, Selected: len(chosen) == 0 || slices.Contains(chosen, h)})
	}
	venues, err := s.app.Venues(ctx, false)
	if err != nil {
		return err
	}
	v.Venues = append(v.Venues, option{Text: "Choose when booking"})
	for _, vn := range venues {
		v.Venues = append(v.Venues, option{Value: vn.ID, Text: vn.Location(), Selected: form.Get("venue_id") == vn.ID})
	}
	for _, m := range []int{30, 45, 60, 90, 120} {
		sel := form.Get("duration_minutes") == strconv.Itoa(m) || form.Get("duration_minutes") == "" && m == 60
		v.Durations = append(v.Durations, option{Value: strconv.Itoa(m), Text: minutesText(m), Selected: sel})
	}
	v.Key = form.Get("idempotency_key")
	if v.Key == "" {
		v.Key = rand.Text()
	}
	return nil
}

// minutesText says a duration in minutes as people do: "45 minutes",
// "1 hour", "1 hour 30 minutes".
func minutesText(m int) string {
	h, r := m/60, m%60
	switch {
	case h == 0:
		return plural(r, "minute", "minutes")
	case r == 0:
		return plural(h, "hour", "hours")
	}
	return plural(h, "hour", "hours") + " " + plural(r, "minute", "minutes")
}
