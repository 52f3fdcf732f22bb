package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/convene/convene/calendar"
	"github.com/convene/convene/calendar/caltest"
	"github.com/convene/convene/invites"
	"github.com/convene/convene/invites/smtptest"
	"github.com/convene/convene/service"
	"github.com/convene/convene/service/outbox"
	"github.com/convene/convene/service/policy"
	"github.com/convene/convene/service/sqlite"
	"github.com/convene/convene/service/web"
)

// The staff pages against the real thing: the web app over TLS on the
// embedded SQLite store, with a real CalDAV server (Radicale) holding the
// directory's calendars and a real SMTP server taking the invitations.

var ukZone, _ = time.LoadLocation("Europe/London")

// staffGateway is the authserv-id whose Authentication-Results the App
// believes: replies "from Outlook" in these tests come through it.
const staffGateway = "mx.staff.example"

// staffPerson is someone in the test directory, with a calendar on
// Radicale.
type staffPerson struct {
	Name, Email, Agency, Role string
	Seniority                 int
	Chair                     bool
	User                      string
	ID                        string
	Cal                       *caltest.Calendar
}

// staffWorld is a running web app with its App, store, directory,
// calendars and mail.
type staffWorld struct {
	t      testing.TB
	URL    string
	App    *service.App
	Store  *sqlite.Store
	People map[string]*staffPerson
	Venue  string
	Mail   *smtptest.Server
	Rad    *caltest.Radicale
	srv    *httptest.Server
}

// staffDemo are the people who can sign in: business support, a chair and
// an administrator (demo sign-in).
var staffDemo = []service.Principal{
	{Subject: "bea", Name: "Bea Support", Email: "bea.support@council.example.org", Roles: []service.Role{service.RoleBusinessSupport}, Agency: "social_care"},
	{Subject: "chris", Name: "Chris Chair", Email: "chris.chair@council.example.org", Roles: []service.Role{service.RoleChair}, Agency: "social_care"},
	{Subject: "ada", Name: "Ada Admin", Email: "ada.admin@council.example.org", Roles: []service.Role{service.RoleAdmin}, Agency: "social_care"},
	{Subject: "dana", Name: "Dana Inspector", Email: "dana.inspector@police.example.org", Roles: []service.Role{service.RoleAgencyRep}, Agency: "police"},
}

func newStaffWorld(t testing.TB) *staffWorld {
	t.Helper()
	ctx := context.Background()
	rad := caltest.StartRadicale(t)
	mail := smtptest.Start(t, smtptest.Options{})
	store, err := sqlite.Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close() })
	env := map[string]string{}
	app := newStaffApp(t, store, env)
	log := app.Log
	w := &staffWorld{t: t, App: app, Store: store, Mail: mail, Rad: rad, People: map[string]*staffPerson{}}
	admin := service.WithPrincipal(ctx, &staffDemo[2])
	for _, p := range []*staffPerson{
		{Name: "Chris Chair", Email: "chris.chair@council.example.org", Agency: "social_care", Role: "team_manager", Seniority: 3, Chair: true, User: "chris"},
		{Name: "Sam Social", Email: "sam.social@council.example.org", Agency: "social_care", Role: "social_worker", Seniority: 1, User: "sam"},
		{Name: "Dana Inspector", Email: "dana.inspector@police.example.org", Agency: "police", Role: "police_officer", Seniority: 3, User: "dana"},
		{Name: "Pat Constable", Email: "pat.constable@police.example.org", Agency: "police", Role: "police_officer", Seniority: 1, User: "pat"},
		{Name: "Nina Named-Nurse", Email: "nina.named@nhs.example.org", Agency: "health", Role: "safeguarding_nurse", Seniority: 3, User: "nina"},
		{Name: "Ed Lead", Email: "ed.lead@school.example.org", Agency: "education", Role: "designated_safeguarding_lead", Seniority: 2},
	} {
		person := service.Person{Name: p.Name, Email: p.Email, Agency: policy.Agency(p.Agency), Role: p.Role, Seniority: p.Seniority, Chair: p.Chair}
		if p.User != "" {
			rad.AddUser(t, p.User, p.User+"-pw")
			p.Cal = rad.CreateCalendar(t, p.User, "work")
			key := "CONVENE_CRED_" + strings.ToUpper(p.User)
			env[key] = p.User + ":" + p.User + "-pw"
			person.Calendar = &service.CalendarSource{Type: "caldav", URL: rad.URL, CredentialRef: "env:" + key}
		}
		created, err := app.CreatePerson(admin, person)
		if err != nil {
			t.Fatalf("directory: %s: %v", p.Name, err)
		}
		p.ID = created.ID
		w.People[strings.Fields(p.Name)[0]] = p
	}
	v, err := app.CreateVenue(admin, service.Venue{Name: "MASH meeting room 2", Address: "Civic Centre, Town Square"})
	if err != nil {
		t.Fatal(err)
	}
	w.Venue = v.ID

	// Invitations leave through the real outbox to the real SMTP server.
	sender := &invites.SMTPSender{Config: invites.SMTPConfig{Addr: mail.Addr, TLS: invites.NoTLS, LocalName: "council.example.org"}}
	wctx, cancel := context.WithCancel(ctx)
	worker := &outbox.Worker{App: app, Sender: sender, Owner: "web-test", Log: log, Lease: 30 * time.Second,
		RetryBase: 100 * time.Millisecond, RetryMax: 400 * time.Millisecond, MaxAttempts: 100}
	done := make(chan struct{})
	go func() { defer close(done); worker.Run(wctx) }()
	t.Cleanup(func() { cancel(); <-done })

	site, err := web.New(web.Config{App: app, Log: log, Demo: staffDemo})
	if err != nil {
		t.Fatal(err)
	}
	w.srv = httptest.NewTLSServer(site)
	t.Cleanup(w.srv.Close)
	w.URL = w.srv.URL
	return w
}

// firstWorkingDay is the next working day after now, at the hour, UK time.
func (w *staffWorld) firstWorkingDay(hour int) time.Time {
	d := w.App.Calendar.NextWorkingDay("england-and-wales", time.Now().In(ukZone))
	return time.Date(d.Year(), d.Month(), d.Day(), hour, 0, 0, 0, ukZone)
}

// when is a time as the pages say it.
func sayWhen(t time.Time) string { return web.When(t, ukZone) }

// newStaffApp is the App as the binary builds it, on store: the default
// procedure profile, UK working days, calendars on loopback allowed,
// replies believed from the test gateway, invitations composed for the
// council. env holds the calendar credentials.
func newStaffApp(t testing.TB, store service.Store, env map[string]string) *service.App {
	t.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	wd, err := calendar.NewWorkingDays(calendar.WorkingDaysOptions{})
	if err != nil {
		t.Fatal(err)
	}
	app := service.NewApp(store, log)
	app.Calendar, app.Region, app.Zone = wd, "england-and-wales", ukZone
	app.Getenv = func(k string) string { return env[k] }
	app.CredentialsDir = t.TempDir()
	app.AvailabilityOptions = calendar.AvailabilityOptions{SourceTimeout: 5 * time.Second, Budget: 8 * time.Second}
	app.SourceOptions = calendar.SourceOptions{Policy: calendar.OutboundPolicy{
		AllowNetworks: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}}
	app.OnlineMeetingHosts = []string{"teams.microsoft.com"}
	app.InboundAuth = invites.AuthConfig{TrustedAuthServIDs: []string{staffGateway},
		LookupTXT: func(_ context.Context, name string) ([]string, error) {
			return nil, &net.DNSError{Err: "no such host", Name: name, IsNotFound: true}
		}}
	if app.Profiles, err = policy.NewRegistry(wd, ""); err != nil {
		t.Fatal(err)
	}
	app.UseMailer(&service.Mailer{
		Organizer: invites.Person{Name: "Business Support (Convene)", Email: "convene@council.example.org"},
		Composer: &invites.Composer{Builder: invites.Builder{ProdID: "-//Convene//Strategy discussions//EN", Now: app.Now},
			Domain: "council.example.org", EnvelopeFrom: "convene@council.example.org"},
		RSVPKey: []byte("rsvp-test-key-0123456789abcdef-0123456789"),
	})
	return app
}

// busy puts an event in someone's calendar.
func (w *staffWorld) busy(who string, start, end time.Time) {
	w.t.Helper()
	p := w.People[who]
	uid := fmt.Sprintf("busy-%d", start.Unix())
	ics := "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VEVENT\r\nUID:" + uid + "\r\nDTSTAMP:20260101T000000Z\r\n" +
		"DTSTART:" + start.UTC().Format("20060102T150405Z") + "\r\nDTEND:" + end.UTC().Format("20060102T150405Z") + "\r\n" +
		"SUMMARY:Court\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
	p.Cal.Put(w.t, uid+".ics", []byte(ics))
}

// reply delivers an attendee's answer as their mail client sends it (an
// iMIP REPLY), through the council's gateway, which vouches for the sender.
func (w *staffWorld) reply(d *service.Discussion, who, partstat string) {
	w.t.Helper()
	p := w.People[who]
	cal := "BEGIN:VCALENDAR\r\nMETHOD:REPLY\r\nPRODID:-//Test Mail//EN\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\n" +
		"ATTENDEE;PARTSTAT=" + partstat + ";CN=" + p.Name + ":mailto:" + p.Email + "\r\n" +
		"ORGANIZER:mailto:convene@council.example.org\r\nUID:" + d.UID + "\r\n" + fmt.Sprintf("SEQUENCE:%d\r\n", d.Sequence) +
		"DTSTAMP:" + time.Now().UTC().Format("20060102T150405Z") + "\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
	_, domain, _ := strings.Cut(p.Email, "@")
	msg := "Authentication-Results: " + staffGateway + "; dmarc=pass header.from=" + domain + "\r\n" +
		"From: " + p.Name + " <" + p.Email + ">\r\nTo: convene@council.example.org\r\nSubject: Declined: Strategy discussion\r\n" +
		"Date: " + time.Now().Format(time.RFC1123Z) + "\r\nMessage-ID: <" + fmt.Sprint(time.Now().UnixNano()) + "@" + domain + ">\r\n" +
		"MIME-Version: 1.0\r\nContent-Type: text/calendar; method=REPLY; charset=utf-8\r\n\r\n" + cal
	if _, err := w.App.IngestMessage(context.Background(), []byte(msg), "smtp", p.Email); err != nil {
		w.t.Fatalf("%s's reply: %v", p.Name, err)
	}
}

// discussion reads a discussion as business support.
func (w *staffWorld) discussion(id string) *service.Discussion {
	w.t.Helper()
	d, err := w.App.Discussion(service.WithPrincipal(context.Background(), &staffDemo[0]), id)
	if err != nil {
		w.t.Fatal(err)
	}
	return d
}

// outcomeAnswers are the chair's answers on the outcome form, by field.
var outcomeAnswers = [][2]string{
	{"signs_of_safety.concerns", "Unexplained bruising"},
	{"signs_of_safety.working_well", "Engaged grandparent"},
	{"signs_of_safety.need_to_know", "Medical opinion"},
	{"signs_of_safety.needs_to_be_done", "Joint visit"},
	{"decisions[0].decision", "Start a section 47 enquiry"},
	{"decisions[0].rationale", "Reasonable cause to suspect significant harm"},
	{"child_seen.by", "Sam Social"},
}

// inputID is the id the pages give a field's control ("a.b[0]" → "a-b-0").
func inputID(field string) string {
	return strings.NewReplacer(".", "-", "[", "-", "]", "", "_", "-").Replace(field)
}

// staffClient is a browser without JavaScript: cookies, forms, redirects.
type staffClient struct {
	w    *staffWorld
	c    *http.Client
	csrf string
	body string
	at   string
}

var csrfInput = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

// signIn signs in as a demo person (by subject) with a fresh client.
func (w *staffWorld) signIn(subject string) *staffClient {
	w.t.Helper()
	jar, _ := cookiejar.New(nil)
	sc := &staffClient{w: w, c: &http.Client{Transport: w.srv.Client().Transport, Jar: jar}}
	sc.get("/sign-in", http.StatusOK)
	sc.post("/sign-in/demo", url.Values{"person": {subject}}, http.StatusOK)
	if !strings.Contains(sc.at, "/today") && !strings.Contains(sc.at, "/directory") {
		w.t.Fatalf("signed in as %s, landed on %s", subject, sc.at)
	}
	return sc
}

func (c *staffClient) do(req *http.Request, want int) string {
	c.w.t.Helper()
	res, err := c.c.Do(req)
	if err != nil {
		c.w.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	c.body, c.at = string(b), res.Request.URL.Path+"?"+res.Request.URL.RawQuery
	if m := csrfInput.FindStringSubmatch(c.body); m != nil {
		c.csrf = m[1]
	}
	if res.StatusCode != want {
		c.w.t.Fatalf("%s %s: %d, want %d\n%s", req.Method, req.URL.Path, res.StatusCode, want, visibleText(c.body))
	}
	return c.body
}

func (c *staffClient) get(path string, want int) string {
	c.w.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, c.w.URL+path, nil)
	return c.do(req, want)
}

func (c *staffClient) post(path string, form url.Values, want int) string {
	c.w.t.Helper()
	form.Set("csrf_token", c.csrf)
	req, _ := http.NewRequest(http.MethodPost, c.w.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return c.do(req, want)
}

// hiddenAndChecked are the form's values as a browser would send them
// without changes: hidden inputs, checked boxes and radios, selected
// options and text inputs' values.
var (
	inputTag   = regexp.MustCompile(`<input [^>]*>`)
	attrRE     = regexp.MustCompile(`(\w[\w-]*)="([^"]*)"`)
	selectTag  = regexp.MustCompile(`(?s)<select [^>]*name="([^"]+)"[^>]*>(.*?)</select>`)
	selectedRE = regexp.MustCompile(`<option value="([^"]*)" selected>`)
	firstOptRE = regexp.MustCompile(`<option value="([^"]*)"`)
	tagRE      = regexp.MustCompile(`(?s)<script.*?</script>|<[^>]+>`)
	spaceRE    = regexp.MustCompile(`\s+`)
)

// formValues reads the first form on the page whose action is action.
func formValues(page, action string) url.Values {
	i := strings.Index(page, `action="`+action+`"`)
	if i < 0 {
		return nil
	}
	page = page[i:]
	if j := strings.Index(page, "</form>"); j >= 0 {
		page = page[:j]
	}
	out := url.Values{}
	for _, tag := range inputTag.FindAllString(page, -1) {
		a := map[string]string{}
		for _, m := range attrRE.FindAllStringSubmatch(tag, -1) {
			a[m[1]] = htmlUnescape(m[2])
		}
		if a["name"] == "" || a["name"] == "csrf_token" {
			continue
		}
		switch a["type"] {
		case "checkbox", "radio":
			if strings.Contains(tag, " checked") {
				out.Add(a["name"], a["value"])
			}
		default:
			out.Add(a["name"], a["value"])
		}
	}
	for _, m := range selectTag.FindAllStringSubmatch(page, -1) {
		if s := selectedRE.FindStringSubmatch(m[2]); s != nil {
			out.Set(m[1], htmlUnescape(s[1]))
		} else if f := firstOptRE.FindStringSubmatch(m[2]); f != nil {
			out.Set(m[1], htmlUnescape(f[1]))
		}
	}
	return out
}

func htmlUnescape(s string) string {
	return strings.NewReplacer("&amp;", "&", "&lt;", "<", "&gt;", ">", "&#34;", `"`, "&#39;", "'", "&quot;", `"`).Replace(s)
}

// visibleText is a page's text as a person reads it.
func visibleText(page string) string {
	if i := strings.Index(page, `id="main-content"`); i >= 0 {
		page = page[i:]
	}
	return strings.TrimSpace(spaceRE.ReplaceAllString(htmlUnescape(tagRE.ReplaceAllString(page, " ")), " "))
}

// rfc3339Shown finds a machine time shown to a person.
var rfc3339Shown = regexp.MustCompile(`\d{4}-\d\d-\d\dT\d\d:\d\d`)

// readable fails if a page shows RFC 3339 times or raw codes.
func readable(t testing.TB, name, page string) {
	t.Helper()
	text := visibleText(page)
	if m := rfc3339Shown.FindString(text); m != "" {
		t.Errorf("%s shows a machine time %q: %s", name, m, text)
	}
	for _, code := range []string{"needs_action", "social_care", "in_progress", "s47_enquiry", "no_further_action"} {
		if strings.Contains(text, code) {
			t.Errorf("%s shows the code %q: %s", name, code, text)
		}
	}
}

// listAll lists every discussion as business support.
func (w *staffWorld) listAll() []service.Discussion {
	w.t.Helper()
	ds, err := w.App.Discussions(service.WithPrincipal(context.Background(), &staffDemo[0]), service.DiscussionFilter{})
	if err != nil {
		w.t.Fatal(err)
	}
	return ds
}

// TestStaffDayWithoutJavaScript walks business support's and the chair's
// day through the pages as a browser without JavaScript would: plain
// forms, redirects and cookies, against the real store, Radicale and SMTP.
func TestStaffDayWithoutJavaScript(t *testing.T) {
	w := newStaffWorld(t)
	// Dana is in court until noon on the next working day.
	w.busy("Dana", time.Now().Add(-time.Hour), w.firstWorkingDay(12))

	bea := w.signIn("bea")
	readable(t, "today", bea.get("/today", http.StatusOK))

	// Convene: the question pages, then the check page with the deadline
	// and the rule, before anything is saved.
	page := bea.get("/convene", http.StatusOK)
	f := formValues(page, "/convene")
	f.Set("case_reference", "Jayden Smith")
	f.Set("rag", "amber")
	page = bea.post("/convene", f, http.StatusUnprocessableEntity)
	if !strings.Contains(page, `href="#case-reference"`) || !strings.Contains(page, `value="Jayden Smith"`) {
		t.Errorf("a name as case reference: want the error summary linking the field and the value kept:\n%s", visibleText(page))
	}
	f = formValues(page, "/convene")
	f.Set("case_reference", "CR-2026-0042")
	page = bea.post("/convene", f, http.StatusOK)
	f = formValues(page, "/convene")
	f.Set("concerns", "other")
	page = bea.post("/convene", f, http.StatusOK)
	f = formValues(page, "/convene")
	f.Set("child.age_years", "9")
	f.Set("child.school_or_nursery", "Hillside Primary")
	page = bea.post("/convene", f, http.StatusOK)
	text := visibleText(page)
	for _, want := range []string{"Must be held by", "G1", "002 §6, 003 §3", "Nothing is saved yet"} {
		if !strings.Contains(text, want) {
			t.Errorf("check page: no %q in %s", want, text)
		}
	}
	readable(t, "check page", page)
	if ds := w.listAll(); len(ds) != 0 {
		t.Fatalf("the check page saved %d discussions", len(ds))
	}
	// Change an answer from the check page, and come back to it.
	f = formValues(page, "/convene")
	f.Set("change", "concerns")
	page = bea.post("/convene", f, http.StatusOK)
	if !strings.Contains(visibleText(page), "Back to the check page") {
		t.Errorf("changing the concerns from the check page: %s", visibleText(page))
	}
	page = bea.post("/convene", formValues(page, "/convene"), http.StatusOK)
	if !strings.Contains(visibleText(page), "Nothing is saved yet") {
		t.Errorf("after changing an answer, not back on the check page: %s", visibleText(page))
	}
	page = bea.post("/convene", formValues(page, "/convene"), http.StatusOK)
	f = formValues(page, "/convene")
	f.Set("req.police", w.People["Dana"].ID)
	f.Set("knows_child", w.People["Sam"].ID)
	f.Set("venue_id", w.Venue)
	page = bea.post("/convene", f, http.StatusOK)
	if !strings.Contains(bea.at, "/slots") {
		t.Fatalf("after convening, at %s: %s", bea.at, visibleText(page))
	}
	readable(t, "slots", page)
	text = visibleText(page)
	first := sayWhen(w.firstWorkingDay(12)) + " to 13:00"
	for _, want := range []string{first, "Free Dana Inspector", "Ed Lead (Education): no calendar is set up for them in the directory"} {
		if !strings.Contains(text, want) {
			t.Errorf("slots page: no %q in %s", want, text)
		}
	}
	ds := w.listAll()
	if len(ds) != 1 {
		t.Fatalf("%d discussions convened", len(ds))
	}
	id := ds[0].ID

	// Book: Ed's calendar is unknown, so the booking asks to name him.
	f = formValues(page, "/discussions/"+id+"/book")
	f.Del("confirm_unknown")
	page = bea.post("/discussions/"+id+"/book", f, http.StatusUnprocessableEntity)
	if !strings.Contains(visibleText(page), "Ed Lead") || !strings.Contains(page, `href="#confirm-unknown"`) {
		t.Errorf("booking on an unknown calendar: want it named: %s", visibleText(page))
	}
	f = formValues(page, "/discussions/"+id+"/book")
	f.Set("confirm_unknown", "ed.lead@school.example.org")
	page = bea.post("/discussions/"+id+"/book", f, http.StatusOK)
	if !strings.Contains(visibleText(page), "The discussion is booked") {
		t.Fatalf("booking: %s", visibleText(page))
	}
	readable(t, "discussion", page)
	for _, want := range []string{"Police At least Sergeant", "Dana Inspector (Inspector)", "Health At least Named or designated professional"} {
		if !strings.Contains(visibleText(page), want) {
			t.Errorf("the discussion does not say who fills what: no %q in %s", want, visibleText(page))
		}
	}

	// Nina declines from her mail client; Today shows it.
	w.reply(w.discussion(id), "Nina", "DECLINED")
	page = bea.get("/today", http.StatusOK)
	if !strings.Contains(visibleText(page), "Nina Named-Nurse (Health) declined") {
		t.Errorf("today after Nina's decline: %s", visibleText(page))
	}
	readable(t, "today", page)

	// The chair ticks people in and starts (early, so with a reason).
	chris := w.signIn("chris")
	page = chris.get("/discussions/"+id+"/quorum", http.StatusOK)
	if !strings.Contains(visibleText(page), "Quorum not met") {
		t.Errorf("quorum before anyone is here: %s", visibleText(page))
	}
	f = formValues(page, "/discussions/"+id+"/attendance")
	for _, e := range []string{"chris.chair@council.example.org", "sam.social@council.example.org", "dana.inspector@police.example.org"} {
		f.Add("present", e)
	}
	f.Add("knows_child", "sam.social@council.example.org")
	page = chris.post("/discussions/"+id+"/attendance", f, http.StatusOK)
	readable(t, "quorum", page)
	// A walk-in: refused without their details, each named; then added.
	page = chris.post("/discussions/"+id+"/walk-in", url.Values{"walk_in.name": {""}, "walk_in.agency": {""}}, http.StatusUnprocessableEntity)
	for _, field := range []string{"walk-in-name", "walk-in-agency", "walk-in-role"} {
		if !strings.Contains(page, `href="#`+field+`"`) {
			t.Errorf("a walk-in without details: no error for %s: %s", field, visibleText(page))
		}
	}
	page = chris.post("/discussions/"+id+"/walk-in", url.Values{"walk_in.name": {"Wendy Walker"}, "walk_in.agency": {"health"},
		"walk_in.role": {"health visitor"}, "walk_in.seniority": {"2"}, "walk_in.knows_child": {"yes"}}, http.StatusOK)
	if !strings.Contains(visibleText(page), "Wendy Walker") {
		t.Errorf("the walk-in is not listed: %s", visibleText(page))
	}
	page = chris.post("/discussions/"+id+"/start", formValues(page, "/discussions/"+id+"/start"), http.StatusUnprocessableEntity)
	if !strings.Contains(page, `href="#override-reason"`) {
		t.Errorf("starting without quorum and early: want the reason asked for: %s", visibleText(page))
	}
	f = formValues(page, "/discussions/"+id+"/start")
	f.Set("override_reason", "Health could not come; everyone else is here now")
	page = chris.post("/discussions/"+id+"/start", f, http.StatusOK)
	if !strings.Contains(chris.at, "/outcome") {
		t.Fatalf("after starting, at %s: %s", chris.at, visibleText(page))
	}

	// The outcome, with an action added on its own first.
	f = formValues(page, "/discussions/"+id+"/outcome")
	in := func(d time.Duration) time.Time { return time.Now().In(ukZone).Add(d) }
	date := func(prefix string, t time.Time) {
		f.Set(prefix+"-day", t.Format("2"))
		f.Set(prefix+"-month", t.Format("1"))
		f.Set(prefix+"-year", t.Format("2006"))
	}
	f.Set("new_action.description", "Joint visit")
	f.Set("new_action.owner", "Sam Social")
	f.Set("new_action.agency", "social_care")
	f.Set("new_action.purpose", "See the child alone")
	date("new_action.due", in(48*time.Hour))
	f.Set("add", "action")
	page = chris.post("/discussions/"+id+"/outcome", f, http.StatusOK)
	if !strings.Contains(visibleText(page), "Joint visit") {
		t.Fatalf("the action added is not listed: %s", visibleText(page))
	}
	f = formValues(page, "/discussions/"+id+"/outcome")
	f.Set("outcome", "s47_enquiry")
	for _, a := range outcomeAnswers {
		f.Set(a[0], a[1])
	}
	date("child_seen.at", in(4*time.Hour))
	f.Set("child_seen.at-hour", "15")
	f.Set("child_seen.at-minute", "00")
	date("review.date", in(10*24*time.Hour))
	f.Set("review.mechanism", "Review strategy discussion")
	page = chris.post("/discussions/"+id+"/outcome", f, http.StatusOK)
	if !strings.Contains(visibleText(page), "The outcome is recorded") {
		t.Fatalf("recording the outcome: %s", visibleText(page))
	}
	readable(t, "concluded discussion", page)
	if d := w.discussion(id); d.Outcome == nil || len(d.Outcome.Actions) != 1 || d.Outcome.Actions[0].Owner != "Sam Social" {
		t.Errorf("recorded outcome: %+v", d.Outcome)
	}

	// The record, circulated by the chair.
	page = chris.get("/discussions/"+id+"/record", http.StatusOK)
	readable(t, "record", page)
	for _, want := range []string{"Record of Strategy Discussion", "Joint visit", "Sent apologies", "Health could not come"} {
		if !strings.Contains(visibleText(page), want) {
			t.Errorf("record: no %q in %s", want, visibleText(page))
		}
	}
	page = chris.post("/discussions/"+id+"/record/circulate", formValues(page, "/discussions/"+id+"/record/circulate"), http.StatusOK)
	if !strings.Contains(visibleText(page), "The record is circulated") {
		t.Errorf("circulating the record: %s", visibleText(page))
	}

	// The directory shows calendars, never credentials.
	ada := w.signIn("ada")
	page = ada.get("/directory", http.StatusOK)
	if strings.Contains(page, "CONVENE_CRED") || !strings.Contains(visibleText(page), "CalDAV calendar, with a credential") {
		t.Errorf("directory: %s", visibleText(page))
	}
}

// The users' days in a real browser: Debian's Chromium, headless, driven
// over the DevTools protocol, with axe-core run on every page shown.

const chromium = "/usr/bin/chromium"

// axeTags are the rules every page must pass: WCAG 2.2 A and AA.
var axeTags = []string{"wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"}

// chrome is a browser tab for one person, with its own cookies.
type chrome struct {
	t      *testing.T
	w      *staffWorld
	ctx    context.Context
	axe    string
	checks int
}

// newChrome starts Chromium (failing loudly if it is not installed) with a
// fresh profile, so each person has their own cookies, and a viewport of
// the given size (a phone's below 600 pixels).
func (w *staffWorld) newChrome(t *testing.T, width, height int) *chrome {
	t.Helper()
	if _, err := os.Stat(chromium); err != nil {
		t.Fatalf("Chromium is needed for the browser tests (apt-get install chromium): %v", err)
	}
	axe, err := os.ReadFile("assets/node_modules/axe-core/axe.min.js")
	if err != nil {
		t.Fatalf("axe-core is needed for the accessibility checks (npm ci --prefix service/web/assets): %v", err)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium), chromedp.NoSandbox, chromedp.Flag("ignore-certificate-errors", true),
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(width, height))
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	c := &chrome{t: t, w: w, ctx: ctx, axe: string(axe)}
	// The first run starts the browser, which lives as long as the
	// context of that run: no timeout on it.
	viewport := chromedp.EmulateViewport(int64(width), int64(height))
	if width < 600 {
		viewport = chromedp.EmulateViewport(int64(width), int64(height), chromedp.EmulateMobile)
	}
	if err := chromedp.Do(ctx, viewport); err != nil {
		t.Fatalf("starting Chromium: %v", err)
	}
	return c
}

// do runs the steps; a failure shows where the browser was and what the
// page said.
func (c *chrome) do(steps ...chromedp.Action[chromedp.Void]) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(c.ctx, time.Minute)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		c.t.Fatalf("browser at %s: %v\n%s", c.location(), err, c.text())
	}
}

// open goes to a path and waits for the page's main content.
func (c *chrome) open(path string) {
	c.t.Helper()
	c.do(chromedp.Navigate(c.w.URL+path), chromedp.WaitReady(chromedp.CSS("#main-content")))
}

// submit clicks a button or link and waits for the next page to load. The click
// runs under RunResponse, which returns once the navigation it starts has
// loaded, so no query meets the page being left (whose nodes are gone).
func (c *chrome) submit(button string) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(c.ctx, time.Minute)
	defer cancel()
	if _, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS(button))); err != nil {
		c.t.Fatalf("browser at %s: submitting %s: %v\n%s", c.location(), button, err, c.text())
	}
	c.do(chromedp.WaitReady(chromedp.CSS("#main-content")))
}

// text is what the page's main content says.
func (c *chrome) text() string {
	s, _ := chromedp.Run(c.ctx, chromedp.Text(chromedp.CSS("main")))
	return spaceRE.ReplaceAllString(s, " ")
}

// see fails unless the page says each of want.
func (c *chrome) see(name string, want ...string) {
	c.t.Helper()
	text := c.text()
	for _, w := range want {
		if !strings.Contains(text, w) {
			c.t.Errorf("%s: the page does not say %q:\n%s", name, w, text)
		}
	}
}

// axeViolation is what axe-core reports of a rule a page breaks.
type axeViolation struct {
	ID, Impact, Help string
	Nodes            []struct{ Target []any }
}

// check runs axe-core on the page (no violations of WCAG 2.2 A and AA),
// checks it shows no machine times or codes, and saves a screenshot as
// NAME.png in the screenshots directory (see screenshotDir).
func (c *chrome) check(name string) {
	c.t.Helper()
	tags, _ := json.Marshal(axeTags)
	run := `axe.run(document, {runOnly: {type: "tag", values: ` + string(tags) + `}}).then(r => r.violations.map(v => ` +
		`({id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map(n => ({target: n.target}))})))`
	if _, err := chromedp.Run(c.ctx, chromedp.Evaluate[any](c.axe)); err != nil {
		c.t.Fatalf("%s: injecting axe-core: %v", name, err)
	}
	violations, err := chromedp.Run(c.ctx, chromedp.Evaluate[[]axeViolation](run, chromedp.EvalAwaitPromise))
	if err != nil {
		c.t.Fatalf("%s: running axe-core: %v", name, err)
	}
	for _, v := range violations {
		c.t.Errorf("%s: accessibility: %s (%s, %s) at %v", name, v.Help, v.ID, v.Impact, v.Nodes)
	}
	c.checks++
	html, err := chromedp.Run(c.ctx, chromedp.OuterHTML(chromedp.CSS("html")))
	if err != nil {
		c.t.Fatal(err)
	}
	readable(c.t, name, html)
	png, err := chromedp.Run(c.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		c.t.Fatal(err)
	}
	dir := screenshotDir(c.t)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		c.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
		c.t.Fatal(err)
	}
}

// signIn signs in on the demo sign-in page.
func (c *chrome) signIn(subject string) {
	c.t.Helper()
	c.open("/sign-in")
	c.click(`input[name="person"][value="` + subject + `"]`)
	c.submit(`form[action="/sign-in/demo"] button[type="submit"]`)
}

func (c *chrome) fill(sel, value string) {
	c.t.Helper()
	q, _ := json.Marshal(sel)
	c.do(chromedp.WaitReady(chromedp.CSS(sel)))
	if _, err := chromedp.Run(c.ctx, chromedp.Evaluate[any](`document.querySelector(`+string(q)+`).value = ""`)); err != nil {
		c.t.Fatalf("clearing %s: %v", sel, err)
	}
	c.do(chromedp.SendKeys(chromedp.CSS(sel), value))
}

func (c *chrome) choose(sel, value string) {
	c.t.Helper()
	c.do(chromedp.SetValue(chromedp.CSS(sel), value))
}

func (c *chrome) click(sel string) {
	c.t.Helper()
	c.do(chromedp.Click(chromedp.CSS(sel)))
}

func (c *chrome) location() string {
	loc, _ := chromedp.Run(c.ctx, chromedp.Location())
	return loc
}

// TestUsersDayInBrowser: business support signs in, convenes, books and
// sees a decline arrive; the chair, on a phone-sized screen, ticks people
// in and starts; the outcome is recorded and the record circulated. Every
// page passes axe-core's WCAG 2.2 A and AA rules, and is saved as a
// screenshot for the README.
func TestUsersDayInBrowser(t *testing.T) {
	w := newStaffWorld(t)
	w.busy("Dana", time.Now().Add(-time.Hour), w.firstWorkingDay(12))

	bea := w.newChrome(t, 1280, 900)
	bea.signIn("bea")
	bea.see("today", "Today", "No discussions match")
	bea.submit(`a[href="/convene"].govuk-button`)
	bea.do(chromedp.WaitReady(chromedp.CSS("#case-reference")))
	bea.check("convene-case")
	// A name where the case reference goes is refused, naming the field
	// and keeping what was typed.
	bea.fill("#case-reference", "Jayden Smith")
	bea.click("#rag-1")
	bea.submit(`form[action="/convene"] button.govuk-button:not([name])`)
	bea.see("convene refused", "There is a problem")
	bea.check("convene-error")
	bea.fill("#case-reference", "CR-2026-0042")
	bea.submit(`form[action="/convene"] button.govuk-button:not([name])`)
	bea.click(`input[name="concerns"][value="other"]`)
	bea.check("convene-concerns")
	bea.submit(`form[action="/convene"] button.govuk-button:not([name])`)
	bea.fill("#child-age-years", "9")
	bea.fill("#child-school-or-nursery", "Hillside Primary")
	bea.check("convene-circumstances")
	bea.submit(`form[action="/convene"] button.govuk-button:not([name])`)
	bea.see("check page", "Must be held by", "G1", "002 §6, 003 §3", "Nothing is saved yet")
	bea.check("convene-check")
	if n := len(w.listAll()); n != 0 {
		t.Fatalf("the check page saved %d discussions", n)
	}
	bea.submit(`form[action="/convene"] button.govuk-button:not([name])`)
	bea.choose("#req-police", w.People["Dana"].ID)
	bea.choose("#knows-child", w.People["Sam"].ID)
	bea.choose("#venue-id", w.Venue)
	bea.check("convene-people")
	bea.submit(`form[action="/convene"] button.govuk-button:not([name])`)
	if !strings.Contains(bea.location(), "/slots") {
		t.Fatalf("after convening: at %s: %s", bea.location(), bea.text())
	}
	bea.see("slots", sayWhen(w.firstWorkingDay(12))+" to 13:00", "Ed Lead (Education): no calendar is set up for them in the directory")
	bea.check("slots")
	id := w.listAll()[0].ID
	// Booking on Ed's unknown calendar needs him named.
	bea.submit(`form[action="/discussions/` + id + `/book"] button.govuk-button`)
	bea.see("booking refused", "There is a problem", "Ed Lead")
	bea.check("slots-error")
	bea.click(`input[name="confirm_unknown"]`)
	bea.submit(`form[action="/discussions/` + id + `/book"] button.govuk-button`)
	bea.see("booked", "The discussion is booked", "MASH meeting room 2")
	bea.check("discussion")

	// Nina declines from her mail client; it arrives on Today.
	w.reply(w.discussion(id), "Nina", "DECLINED")
	bea.open("/today")
	bea.see("today", "CR-2026-0042", "Nina Named-Nurse (Health) declined")
	bea.check("today")

	// The chair, on a phone.
	chris := w.newChrome(t, 375, 812)
	chris.signIn("chris")
	chris.see("chair's today", "Case CR-2026-0042", "Quorum forecast")
	chris.check("today-chair-phone")
	chris.submit(`a[href="/discussions/` + id + `/quorum"]`)
	chris.do(chromedp.WaitReady(chromedp.CSS("#quorum-state")))
	chris.see("quorum", "Quorum not met")
	chris.check("quorum-phone-not-met")
	for _, i := range []int{0, 1, 2} {
		chris.click(fmt.Sprintf("#present-%d", i))
	}
	chris.click("#knows-child-1")
	chris.submit(`form[action="/discussions/` + id + `/attendance"] button`)
	chris.see("quorum after check-in", "Attendance is recorded")
	chris.check("quorum-phone")
	// Starting without quorum, and early, is refused until a reason is
	// given.
	chris.submit(`form[action="/discussions/` + id + `/start"] button`)
	chris.see("start refused", "There is a problem", "give the reason below")
	chris.check("quorum-phone-error")
	chris.fill("#override-reason", "Health could not come; everyone else is here now")
	chris.submit(`form[action="/discussions/` + id + `/start"] button`)
	if !strings.Contains(chris.location(), "/outcome") {
		t.Fatalf("after starting: at %s: %s", chris.location(), chris.text())
	}
	chris.check("outcome-phone")

	// The outcome, with an action added on its own first.
	in := func(d time.Duration) time.Time { return time.Now().In(ukZone).Add(d) }
	date := func(c *chrome, prefix string, t time.Time) {
		c.fill("#"+prefix, t.Format("2")) // the day: the date input's own id
		c.fill("#"+prefix+"-month", t.Format("1"))
		c.fill("#"+prefix+"-year", t.Format("2006"))
	}
	chris.fill("#new-action-description", "Joint visit")
	chris.fill("#new-action-owner", "Sam Social")
	chris.choose("#new-action-agency", "social_care")
	date(chris, "new-action-due", in(48*time.Hour))
	chris.fill("#new-action-purpose", "See the child alone")
	chris.submit(`button[name="add"][value="action"]`)
	chris.see("action added", "Joint visit")
	chris.click(`input[name="outcome"][value="s47_enquiry"]`)
	for _, a := range outcomeAnswers {
		chris.fill("#"+inputID(a[0]), a[1])
	}
	date(chris, "child-seen-at", in(4*time.Hour))
	chris.fill("#child-seen-at-hour", "15")
	chris.fill("#child-seen-at-minute", "00")
	date(chris, "review-date", in(10*24*time.Hour))
	chris.fill("#review-mechanism", "Review strategy discussion")
	chris.submit(`form[action="/discussions/` + id + `/outcome"] button.govuk-button:not([name])`)
	chris.see("outcome recorded", "The outcome is recorded", "Section 47 enquiry")
	chris.open("/discussions/" + id + "/record")
	chris.see("record", "Record of Strategy Discussion", "Joint visit", "Sent apologies")
	chris.check("record")
	if d := w.discussion(id); d.Status != service.StatusConcluded || d.Outcome == nil || len(d.Outcome.Actions) != 1 {
		t.Errorf("after the outcome: status %s, outcome %+v", d.Status, d.Outcome)
	}

	ada := w.newChrome(t, 1280, 900)
	ada.signIn("ada")
	ada.see("directory", "Directory", "CalDAV calendar, with a credential")
	ada.check("directory")
	if got := bea.checks + chris.checks + ada.checks; got < 12 {
		t.Errorf("axe ran on %d pages", got)
	}
}

// counter delivers an attendee's proposal of a new time (iTIP COUNTER, as
// Outlook's Propose New Time sends it) through the gateway.
func (w *staffWorld) counter(d *service.Discussion, who string, start time.Time) {
	w.t.Helper()
	p := w.People[who]
	stamp := func(t time.Time) string { return t.UTC().Format("20060102T150405Z") }
	cal := "BEGIN:VCALENDAR\r\nMETHOD:COUNTER\r\nPRODID:-//Test Mail//EN\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\n" +
		"ATTENDEE;PARTSTAT=TENTATIVE;CN=" + p.Name + ":mailto:" + p.Email + "\r\n" +
		"ORGANIZER:mailto:convene@council.example.org\r\nUID:" + d.UID + "\r\n" + fmt.Sprintf("SEQUENCE:%d\r\n", d.Sequence) +
		"DTSTART:" + stamp(start) + "\r\nDTEND:" + stamp(start.Add(time.Hour)) + "\r\nCOMMENT:In court that morning.\r\n" +
		"DTSTAMP:" + stamp(time.Now()) + "\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
	w.deliver(p.Name, p.Email, "New Time Proposed: Strategy discussion", "COUNTER", cal)
}

// deliver passes a message with a calendar part to the App as the SMTP
// listener does, with the gateway's verdict on the sender's domain.
func (w *staffWorld) deliver(name, email, subject, method, cal string) {
	w.t.Helper()
	_, domain, _ := strings.Cut(email, "@")
	msg := "Authentication-Results: " + staffGateway + "; dmarc=pass header.from=" + domain + "\r\n" +
		"From: " + name + " <" + email + ">\r\nTo: convene@council.example.org\r\nSubject: " + subject + "\r\n" +
		"Date: " + time.Now().Format(time.RFC1123Z) + "\r\nMessage-ID: <" + fmt.Sprint(time.Now().UnixNano()) + "@" + domain + ">\r\n" +
		"MIME-Version: 1.0\r\nContent-Type: text/calendar; method=" + method + "; charset=utf-8\r\n\r\n" + cal
	if _, err := w.App.IngestMessage(context.Background(), []byte(msg), "smtp", email); err != nil {
		w.t.Fatalf("%s's %s: %v", name, method, err)
	}
}

// convened convenes and books a discussion through the App, as business
// support, at the first slot on the first working day from hour.
func (w *staffWorld) convened(ref string, hour int) *service.Discussion {
	w.t.Helper()
	ctx := service.WithPrincipal(context.Background(), &staffDemo[0])
	age := 9
	d, _, err := w.App.Convene(ctx, service.ConveneRequest{CaseReference: ref, ChooseInvitees: true, ChairID: w.People["Chris"].ID,
		Case: policy.Case{TimescaleRequest: policy.TimescaleRequest{RAG: policy.RAGAmber, Concerns: []policy.Concern{policy.ConcernOther},
			ReferralReceivedAt: time.Now()}, Child: policy.Child{AgeYears: &age, SchoolOrNursery: "Hillside Primary"}}})
	if err != nil {
		w.t.Fatal(err)
	}
	d, err = w.App.Book(ctx, d.ID, service.BookRequest{Start: w.firstWorkingDay(hour), VenueID: w.Venue,
		ConfirmUnknown: []string{"ed.lead@school.example.org"}})
	if err != nil {
		w.t.Fatal(err)
	}
	return d
}

// TestDiscussionChanges: what business support change on the discussion
// page, each through the App: someone added and removed, a new time
// proposed and accepted, a held reply admitted, a cancellation refused
// without a reason (naming the field, keeping nothing lost) and then made.
func TestDiscussionChanges(t *testing.T) {
	w := newStaffWorld(t)
	d := w.convened("CR-2026-0101", 14)
	bea := w.signIn("bea")
	path := "/discussions/" + d.ID
	page := bea.get(path, http.StatusOK)
	readable(t, "discussion", page)

	// Add Pat, then remove him.
	page = bea.post(path+"/attendees", url.Values{"person_id": {w.People["Pat"].ID}}, http.StatusOK)
	if !strings.Contains(visibleText(page), "They are invited") || !strings.Contains(visibleText(page), "Pat Constable") {
		t.Errorf("adding Pat: %s", visibleText(page))
	}
	page = bea.post(path+"/attendees/remove", url.Values{"email": {"pat.constable@police.example.org"}}, http.StatusOK)
	if !strings.Contains(visibleText(page), "They are removed") {
		t.Errorf("removing Pat: %s", visibleText(page))
	}
	if got := w.discussion(d.ID); slices.ContainsFunc(got.Invitees, func(inv service.Invitee) bool { return inv.Email == "pat.constable@police.example.org" && !inv.Removed }) {
		t.Error("Pat is still invited")
	}

	// Dana proposes the afternoon; business support accept it.
	w.counter(w.discussion(d.ID), "Dana", w.firstWorkingDay(16))
	page = bea.get(path, http.StatusOK)
	text := visibleText(page)
	if !strings.Contains(text, "Dana Inspector proposes "+sayWhen(w.firstWorkingDay(16))) || !strings.Contains(text, "In court that morning") {
		t.Errorf("the counter proposal: %s", text)
	}
	cs := w.discussion(d.ID).Counters
	if len(cs) != 1 {
		t.Fatalf("%d counters", len(cs))
	}
	page = bea.post(path+"/counters/"+cs[0].ID+"/accept", url.Values{"confirm_unknown": {"ed.lead@school.example.org"}}, http.StatusOK)
	if !strings.Contains(visibleText(page), "The proposed time is decided") {
		t.Errorf("accepting: %s", visibleText(page))
	}
	if got := w.discussion(d.ID); !got.Booking.Start.Equal(w.firstWorkingDay(16)) {
		t.Errorf("after accepting, booked at %s", got.Booking.Start)
	}

	// Move it again from the slots page.
	page = bea.get(path+"/slots", http.StatusOK)
	f := formValues(page, path+"/book")
	f.Set("start", "other")
	later := w.firstWorkingDay(10)
	for _, part := range [][2]string{{"day", "2"}, {"month", "1"}, {"year", "2006"}, {"hour", "15"}, {"minute", "04"}} {
		f.Set("other-"+part[0], later.Format(part[1]))
	}
	f.Set("confirm_unknown", "ed.lead@school.example.org")
	page = bea.post(path+"/book", f, http.StatusOK)
	if !strings.Contains(visibleText(page), "The discussion is moved") {
		t.Errorf("rescheduling: %s", visibleText(page))
	}
	if got := w.discussion(d.ID); !got.Booking.Start.Equal(later) {
		t.Errorf("after rescheduling, booked at %s, want %s", got.Booking.Start, later)
	}

	// A reply from someone not invited is held; business support admit it.
	cal := "BEGIN:VCALENDAR\r\nMETHOD:REPLY\r\nPRODID:-//Test Mail//EN\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\n" +
		"ATTENDEE;PARTSTAT=ACCEPTED;CN=Pat Constable:mailto:pat.constable@police.example.org\r\n" +
		"UID:" + d.UID + "\r\nSEQUENCE:" + strconv.Itoa(w.discussion(d.ID).Sequence) + "\r\nDTSTAMP:" + time.Now().UTC().Format("20060102T150405Z") +
		"\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
	w.deliver("Pat Constable", "pat.constable@police.example.org", "Accepted: Strategy discussion", "REPLY", cal)
	page = bea.get(path, http.StatusOK)
	if !strings.Contains(visibleText(page), "Replies held for you") {
		t.Fatalf("the held reply is not shown: %s", visibleText(page))
	}
	held := w.discussion(d.ID).HeldReplies
	if len(held) != 1 {
		t.Fatalf("%d held replies", len(held))
	}
	page = bea.post(path+"/held/"+held[0].ID+"/reject", url.Values{}, http.StatusOK)
	if !strings.Contains(visibleText(page), "The held reply is decided") {
		t.Errorf("rejecting: %s", visibleText(page))
	}
	readable(t, "discussion after changes", page)

	// Cancelling needs a reason.
	page = bea.post(path+"/cancel", url.Values{"reason": {""}}, http.StatusUnprocessableEntity)
	if !strings.Contains(page, `href="#reason"`) {
		t.Errorf("cancelling without a reason: want the error summary linking the field: %s", visibleText(page))
	}
	page = bea.post(path+"/cancel", url.Values{"reason": {"Merged with CR-2026-0042"}}, http.StatusOK)
	if w.discussion(d.ID).Status != service.StatusCancelled || !strings.Contains(visibleText(page), "The discussion is cancelled") {
		t.Errorf("after cancelling: %s", visibleText(page))
	}
}

// TestTodayCountdownFiltersAndSearch: a same-day discussion counts down,
// the search finds one case by its reference, and the filters narrow the
// list.
func TestTodayCountdownFiltersAndSearch(t *testing.T) {
	w := newStaffWorld(t)
	ctx := service.WithPrincipal(context.Background(), &staffDemo[0])
	w.convened("CR-2026-0201", 14)
	// Serious physical injury: the same calendar day (S1).
	urgent, _, err := w.App.Convene(ctx, service.ConveneRequest{CaseReference: "CR-2026-0202", ChooseInvitees: true,
		Case: policy.Case{TimescaleRequest: policy.TimescaleRequest{RAG: policy.RAGRed, Concerns: []policy.Concern{policy.ConcernSeriousPhysicalInjury},
			ReferralReceivedAt: time.Now()}}})
	if err != nil {
		t.Fatal(err)
	}
	if urgent.Timescale.BindingRule.ID != "S1" {
		t.Fatalf("binding rule %s, want S1", urgent.Timescale.BindingRule.ID)
	}
	bea := w.signIn("bea")
	// The list, after the inbox above it.
	list := func(path string) string {
		text := visibleText(bea.get(path, http.StatusOK))
		if _, after, ok := strings.Cut(text, "Case Must be held by"); ok {
			return after
		}
		return ""
	}
	text := list("/today")
	if !strings.Contains(text, "CR-2026-0201") || !strings.Contains(text, "CR-2026-0202") {
		t.Fatalf("today: %s", text)
	}
	if i, j := strings.Index(text, "CR-2026-0202"), strings.Index(text, "CR-2026-0201"); i > j {
		t.Errorf("the same-day discussion is not first: %s", text)
	}
	if !strings.Contains(text, "left today") {
		t.Errorf("no countdown for the same-day discussion: %s", text)
	}
	text = list("/today?case=CR-2026-0201&show=all")
	if !strings.Contains(text, "CR-2026-0201") || strings.Contains(text, "CR-2026-0202") {
		t.Errorf("search by case reference: %s", text)
	}
	text = list("/today?show=booked")
	if !strings.Contains(text, "CR-2026-0201") || strings.Contains(text, "CR-2026-0202") {
		t.Errorf("only booked: %s", text)
	}
	text = list("/today?show=proposed")
	if strings.Contains(text, "CR-2026-0201") || !strings.Contains(text, "CR-2026-0202") {
		t.Errorf("only not booked: %s", text)
	}
	// The chair sees the discussions they chair, and goes to the quorum.
	chris := w.signIn("chris")
	page := chris.get("/today", http.StatusOK)
	if !strings.Contains(page, "/quorum\">Case CR-2026-0201") {
		t.Errorf("the chair's Today does not lead to the quorum: %s", visibleText(page))
	}
}

// TestDiscussionDecisionsInBrowser: the discussion page with a new time
// proposed and a reply held, as business support see it in Chromium, passes
// axe-core; accepting the new time moves the discussion.
func TestDiscussionDecisionsInBrowser(t *testing.T) {
	w := newStaffWorld(t)
	d := w.convened("CR-2026-0301", 14)
	w.counter(w.discussion(d.ID), "Dana", w.firstWorkingDay(16))
	cal := "BEGIN:VCALENDAR\r\nMETHOD:REPLY\r\nPRODID:-//Test Mail//EN\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\n" +
		"ATTENDEE;PARTSTAT=ACCEPTED;CN=Pat Constable:mailto:pat.constable@police.example.org\r\n" +
		"UID:" + d.UID + "\r\nSEQUENCE:" + strconv.Itoa(d.Sequence) + "\r\nDTSTAMP:" + time.Now().UTC().Format("20060102T150405Z") +
		"\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
	w.deliver("Pat Constable", "pat.constable@police.example.org", "Accepted: Strategy discussion", "REPLY", cal)

	bea := w.newChrome(t, 1280, 900)
	bea.signIn("bea")
	bea.open("/discussions/" + d.ID)
	bea.see("discussion", "New times proposed", "Dana Inspector proposes", "Replies held for you", "pat.constable@police.example.org")
	bea.check("discussion-decisions")
	// Ed's calendar could not be read: accepting without naming him is
	// refused, in words, and then done.
	bea.submit(`form[action$="/accept"] button`)
	bea.see("accept refused", "There is a problem", "Ed Lead")
	bea.check("discussion-error")
	bea.click(`form[action$="/accept"] input[name="confirm_unknown"]`)
	bea.submit(`form[action$="/accept"] button`)
	bea.see("accepted", "The proposed time is decided")
	if got := w.discussion(d.ID); !got.Booking.Start.Equal(w.firstWorkingDay(16)) {
		t.Errorf("after accepting, booked at %s", got.Booking.Start)
	}
}

// TestBookingConflictInWords: booking the chair into a time another
// discussion holds is refused, saying who is booked and when, and nothing
// typed is lost.
func TestBookingConflictInWords(t *testing.T) {
	w := newStaffWorld(t)
	w.convened("CR-2026-0401", 14)
	ctx := service.WithPrincipal(context.Background(), &staffDemo[0])
	age := 7
	second, _, err := w.App.Convene(ctx, service.ConveneRequest{CaseReference: "CR-2026-0402", ChooseInvitees: true, ChairID: w.People["Chris"].ID,
		Case: policy.Case{TimescaleRequest: policy.TimescaleRequest{RAG: policy.RAGAmber, Concerns: []policy.Concern{policy.ConcernOther},
			ReferralReceivedAt: time.Now()}, Child: policy.Child{AgeYears: &age}}})
	if err != nil {
		t.Fatal(err)
	}
	bea := w.signIn("bea")
	path := "/discussions/" + second.ID
	f := formValues(bea.get(path+"/slots", http.StatusOK), path+"/book")
	at := w.firstWorkingDay(14)
	f.Set("start", "other")
	for _, part := range [][2]string{{"day", "2"}, {"month", "1"}, {"year", "2006"}, {"hour", "15"}, {"minute", "04"}} {
		f.Set("other-"+part[0], at.Format(part[1]))
	}
	f.Set("online_url", "https://teams.microsoft.com/l/meetup-join/abc")
	f.Set("confirm_unknown", "ed.lead@school.example.org")
	page := bea.post(path+"/book", f, http.StatusUnprocessableEntity)
	text := visibleText(page)
	if !strings.Contains(text, "Chris Chair is already booked at 14:00") || !strings.Contains(text, "for another discussion") {
		t.Errorf("the conflict is not said in words: %s", text)
	}
	if !strings.Contains(page, `value="https://teams.microsoft.com/l/meetup-join/abc"`) {
		t.Errorf("the join link typed was lost: %s", text)
	}
	readable(t, "refused booking", page)
}

// screenshotDir is where the browser tests save what they saw:
// CONVENE_SCREENSHOTS when set (make screenshots sets it to the
// repository's service/web/screenshots, which README.md shows), otherwise a
// directory under the system's temporary one, so a test run leaves the
// working tree as it was.
func screenshotDir(t *testing.T) string {
	if dir := os.Getenv("CONVENE_SCREENSHOTS"); dir != "" {
		abs, err := filepath.Abs(dir)
		if err != nil {
			t.Fatal(err)
		}
		return abs
	}
	return filepath.Join(os.TempDir(), "convene-screenshots")
}
