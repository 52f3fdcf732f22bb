package httpapi_test

// The harness the invitation tests share: the API with procedure profiles,
// a mailer and a clock standing on the day the fixtures' replies were sent,
// a directory holding the people those replies come from, and helpers to
// read the emails Convene writes.

import (
	"bytes"
	"context"
	"encoding/base64"
	"io"
	"mime"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-ical"
	"github.com/emersion/go-message"
	_ "github.com/emersion/go-message/charset" // windows-1252 and friends in replies

	"github.com/convene/convene/invites"
	"github.com/convene/convene/invites/smtptest"
	"github.com/convene/convene/service"
)

// testClock is the app's clock: it stands on a fixed day and moves on
// with real time, so leases and retry delays still pass, and Advance jumps
// it forward (past a lease, past a link's expiry).
type testClock struct {
	mu     sync.Mutex
	base   time.Time
	start  time.Time
	offset time.Duration
}

func newTestClock(base time.Time) *testClock { return &testClock{base: base, start: time.Now()} }

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.base.Add(time.Since(c.start) + c.offset)
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.offset += d
}

// replyDay is when the tests stand: Friday 10 July 2026, 09:00 BST, the
// morning the fixtures' replies were sent, four days before the meeting
// they answer.
var replyDay = time.Date(2026, 7, 10, 9, 0, 0, 0, london)

// fixtureUID is the UID every fixture in invites/testdata answers.
const fixtureUID = "b1f6c0de-5e1a-4c1e-9d7a-2f4d3c2b1a00@convene.example"

const (
	organizerEmail = "convene@council.example.gov.uk"
	samChair       = "sam.chair@council.example.gov.uk"
	kimSocial      = "kim.social@council.example.gov.uk"
	priya          = "priya.patel@police.example.uk"
	ola            = "ola.health@nhs.example.net"
	jordan         = "jordan@school.example.sch.uk"
	renee          = "renee.obrien@yjs.example.org.uk"
	samDeputy      = "sam.deputy@nhs.example.net"
	alexAssistant  = "alex.assistant@police.example.uk"
)

// The case's own words, which the convene request carries so that the
// right people are invited and which must never reach an email.
const (
	schoolName   = "Oakfield Primary"
	interpreting = "Tigrinya"
	specialism   = "Female genital mutilation"
)

// mailCast is the directory: the people the fixtures' replies come from, with
// the fixtures' addresses, plus a CSC social worker.
// Priya's assistant answers invitations for her (SENT-BY), so her entry
// names him.
var mailCast = []map[string]any{
	{"name": "Sam Chair", "email": samChair, "agency": "social_care", "role": "team_manager", "seniority": 3, "chair": true},
	{"name": "Kim Social", "email": kimSocial, "agency": "social_care", "role": "social_worker", "seniority": 1},
	{"name": "DS Priya Patel", "email": priya, "agency": "police", "role": "detective", "seniority": 2, "assistants": []string{alexAssistant}},
	{"name": "Dr Ola Health", "email": ola, "agency": "health", "role": "paediatrician", "seniority": 3},
	{"name": "Ms Jordan School", "email": jordan, "agency": "education", "role": "designated_safeguarding_lead", "seniority": 2},
	{"name": "Renée O'Brien", "email": renee, "agency": "other", "role": "practitioner", "seniority": 1},
}

// invitedEmails are everyone a convened discussion invites, chair first.
var invitedEmails = []string{samChair, kimSocial, priya, ola, jordan, renee}

// mailHarness is the API wired for invitations.
type mailHarness struct {
	*harness
	mailer  *service.Mailer
	sender  invites.Sender // where the outbox workers send
	support string         // business support's token
	gateway string         // the mail gateway's token
	admin   string
	people  map[string]string // email → directory id
	venue   string            // the venue bookings are made at
}

// newMailHarness is newHarness with its clock on replyDay, its mailer
// writing RSVP links to the test server, outbox workers sending through
// sender (into a temporary directory if nil), the cast in the directory and
// a venue to book.
func newMailHarness(t *testing.T, sender invites.Sender) *mailHarness {
	t.Helper()
	h := newHarness(t, standingAt(replyDay))
	if sender == nil {
		sender = &invites.DirSender{Dir: t.TempDir()}
	}
	m := newTestMailer(h.clock, h.url)
	h.app.UseMailer(m)
	mh := &mailHarness{harness: h, mailer: m, sender: sender, people: map[string]string{},
		support: token(t, service.RoleBusinessSupport, "social_care"),
		gateway: token(t, service.RoleMailGateway, ""),
		admin:   token(t, service.RoleAdmin, ""),
	}
	for _, p := range mailCast {
		mh.addPerson(t, p)
	}
	r := h.do("POST", "/v1/venues", mh.admin, map[string]any{"name": "Meeting room 2", "address": "Civic Centre, Town Square"})
	if r.Status != 201 {
		t.Fatalf("create venue: %d %s", r.Status, r.Body)
	}
	mh.venue = r.JSON(t)["id"].(string)
	return mh
}

func newTestMailer(clock *testClock, publicURL string) *service.Mailer {
	return &service.Mailer{
		Organizer: invites.Person{Name: "Business Support (Convene)", Email: organizerEmail},
		Composer: &invites.Composer{Builder: invites.Builder{ProdID: "-//Convene//Strategy discussions//EN", Now: clock.Now},
			Domain: "council.example.gov.uk", EnvelopeFrom: organizerEmail},
		RSVPKey: []byte("rsvp-test-key-0123456789abcdef-0123456789"), PublicURL: publicURL,
	}
}

func (m *mailHarness) addPerson(t *testing.T, p map[string]any) string {
	t.Helper()
	r := m.at(t).do("POST", "/v1/people", m.support, p)
	if r.Status != 201 {
		t.Fatalf("create %v: %d %s", p["email"], r.Status, r.Body)
	}
	id, _ := r.JSON(t)["id"].(string)
	m.people[p["email"].(string)] = id
	return id
}

// conveneRequest is a discussion of the case with the whole cast invited
// and nobody else chosen for it.
func (m *mailHarness) conveneRequest() map[string]any {
	var invitees []map[string]any
	for _, e := range invitedEmails[1:] {
		invitees = append(invitees, map[string]any{"person_id": m.people[e], "knows_child": e == kimSocial})
	}
	return map[string]any{
		"case_reference":       "CR-2026-0042",
		"referral_received_at": "2026-07-10T08:30:00+01:00",
		"concerns":             []string{"other"},
		"child":                map[string]any{"age_years": 9, "school_or_nursery": schoolName},
		"interpreter_language": interpreting,
		"specialist_expertise": specialism,
		"chair_id":             m.people[samChair],
		"invitees":             invitees,
		"choose_invitees":      false,
	}
}

// convene convenes the case and returns the discussion's id.
func (m *mailHarness) convene(t *testing.T, change ...func(map[string]any)) string {
	t.Helper()
	req := m.conveneRequest()
	for _, c := range change {
		c(req)
	}
	r := m.at(t).do("POST", "/v1/discussions", m.support, req)
	if r.Status != 201 {
		t.Fatalf("convene: %d %s", r.Status, r.Body)
	}
	id, _ := r.JSON(t)["id"].(string)
	return id
}

// meetingStart is when the fixtures' meeting is: Tuesday 14 July 2026,
// 10:00 BST.
const meetingStart = "2026-07-14T10:00:00+01:00"

// book books the discussion at start, at the venue, confirming that
// nobody's calendar could be read (nobody in the cast publishes one).
func (m *mailHarness) book(t *testing.T, id, start string) mailDiscussion {
	t.Helper()
	r := m.at(t).do("POST", "/v1/discussions/"+id+"/book", m.support,
		map[string]any{"start": start, "venue_id": m.venue, "confirm_unknown": m.everyone(t, id)})
	if r.Status != 200 {
		t.Fatalf("book %s at %s: %d %s", id, start, r.Status, r.Body)
	}
	var d mailDiscussion
	decodeInto(t, r.Body, &d)
	return d
}

// everyone lists the discussion's attendees' addresses: whom business
// support confirm booking without knowing whether they are free.
func (m *mailHarness) everyone(t *testing.T, id string) []string {
	t.Helper()
	var out []string
	for _, a := range m.discussion(t, id).Attendees {
		out = append(out, a.Email)
	}
	return out
}

// booked convenes and books the fixtures' meeting, returning its id and
// UID.
func (m *mailHarness) booked(t *testing.T) (id, uid string) {
	t.Helper()
	id = m.convene(t)
	m.book(t, id, meetingStart)
	return id, m.uid(t, id)
}

// uid is the discussion's iCalendar UID, as its invitations carry it.
func (m *mailHarness) uid(t *testing.T, id string) string {
	t.Helper()
	d, err := m.store.Discussion(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return d.UID
}

// discussion reads the discussion as business support sees it.
func (m *mailHarness) discussion(t *testing.T, id string) mailDiscussion {
	t.Helper()
	r := m.at(t).do("GET", "/v1/discussions/"+id, m.support, nil)
	if r.Status != 200 {
		t.Fatalf("GET discussion: %d %s", r.Status, r.Body)
	}
	var d mailDiscussion
	decodeInto(t, r.Body, &d)
	return d
}

// imip posts a raw email as the mail gateway does.
func (m *mailHarness) imip(t *testing.T, raw []byte) response {
	t.Helper()
	return m.at(t).do("POST", "/v1/imip", m.gateway, raw, "Content-Type", "message/rfc822", "X-Envelope-From", "bounces@mail.example")
}

// authenticated is raw as the mail gateway passes on mail whose From
// domain passed DMARC: with its Authentication-Results on top.
func authenticated(t *testing.T, raw []byte) []byte {
	t.Helper()
	m := regexp.MustCompile(`(?im)^From:[^\r\n]*?@([A-Za-z0-9.-]+)`).FindSubmatch(raw)
	if m == nil {
		return raw // nothing the gateway could vouch for
	}
	return withHeader(raw, "Authentication-Results: "+gatewayID+"; dmarc=pass header.from="+strings.ToLower(string(m[1])))
}

// withHeader puts a header field on top of raw, with raw's line ending.
func withHeader(raw []byte, field string) []byte {
	eol := "\r\n"
	if i := bytes.IndexByte(raw, '\n'); i > 0 && raw[i-1] != '\r' {
		eol = "\n"
	}
	return append([]byte(field+eol), raw...)
}

// imipOK posts raw as the gateway delivers authenticated mail and expects
// it taken with the result.
func (m *mailHarness) imipOK(t *testing.T, raw []byte, result string) inboundResult {
	t.Helper()
	r := m.imip(t, authenticated(t, raw))
	if r.Status != 200 {
		t.Fatalf("POST /v1/imip: %d %s", r.Status, r.Body)
	}
	var in inboundResult
	decodeInto(t, r.Body, &in)
	if in.Result != result {
		t.Fatalf("result = %q, want %q (%s)", in.Result, result, r.Body)
	}
	return in
}

// messages is the discussion's outbox as stored: what will be, or was,
// sent.
func (m *mailHarness) messages(t *testing.T, id string) []service.OutboxMessage {
	t.Helper()
	d, err := m.store.Discussion(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, r := range d.Outbox {
		ids = append(ids, r.ID)
	}
	ms, err := m.store.Messages(context.Background(), ids)
	if err != nil {
		t.Fatal(err)
	}
	return ms
}

// The discussion as the API shows it to business support; only what the
// tests look at.
type mailDiscussion struct {
	ID       string `json:"id"`
	Status   string `json:"status"`
	Sequence int    `json:"sequence"`
	Version  int64  `json:"version"`
	Booking  *struct {
		Start time.Time `json:"start"`
		End   time.Time `json:"end"`
	} `json:"booking"`
	Attendees   []mailAttendee `json:"attendees"`
	Counters    []mailCounter  `json:"counters"`
	HeldReplies []mailHeld     `json:"held_replies"`
	Outbox      []mailMessage  `json:"outbox"`
	Timeline    []struct {
		Kind   string `json:"kind"`
		Detail string `json:"detail"`
	} `json:"timeline"`
}

type mailAttendee struct {
	Email         string `json:"email"`
	Name          string `json:"name"`
	Agency        string `json:"agency"`
	Seniority     int    `json:"seniority"`
	Reply         string `json:"reply"`
	ReplySequence int    `json:"reply_sequence"`
	Comment       string `json:"comment"`
	DelegatedTo   string `json:"delegated_to"`
	DelegatedFrom string `json:"delegated_from"`
}

type mailCounter struct {
	ID      string    `json:"id"`
	From    string    `json:"from"`
	Start   time.Time `json:"start"`
	End     time.Time `json:"end"`
	Comment string    `json:"comment"`
	Status  string    `json:"status"`
}

type mailHeld struct {
	ID          string `json:"id"`
	Kind        string `json:"kind"`
	Reason      string `json:"reason"`
	From        string `json:"from"`
	Reply       string `json:"reply"`
	DelegatedTo string `json:"delegated_to"`
	Status      string `json:"status"`
}

type mailMessage struct {
	ID        string `json:"id"`
	Method    string `json:"method"`
	To        string `json:"to"`
	Sequence  int    `json:"sequence"`
	State     string `json:"state"`
	Attempts  int    `json:"attempts"`
	LastError string `json:"last_error"`
}

type inboundResult struct {
	Result       string `json:"result"`
	DiscussionID string `json:"discussion_id"`
	Attendee     string `json:"attendee"`
	Method       string `json:"method"`
}

func (d mailDiscussion) attendee(email string) *mailAttendee {
	for i := range d.Attendees {
		if d.Attendees[i].Email == email {
			return &d.Attendees[i]
		}
	}
	return nil
}

// replies maps each attendee to their reply.
func (d mailDiscussion) replies() map[string]string {
	out := map[string]string{}
	for _, a := range d.Attendees {
		out[a.Email] = a.Reply
	}
	return out
}

// outboxTo lists the outbox messages with the method to a recipient.
func (d mailDiscussion) outboxTo(method, to string) []mailMessage {
	var out []mailMessage
	for _, m := range d.Outbox {
		if m.Method == method && m.To == to {
			out = append(out, m)
		}
	}
	return out
}

// fixture reads an email from invites/testdata and points it at a
// discussion: each old string becomes its new one, in the text and inside
// base64 bodies (decoded, replaced, and encoded again at the original line
// length). Everything else stays byte for byte, so every quirk of the
// original is still exercised. It fails the test if an old string occurs
// nowhere.
func mailFixture(t *testing.T, name string, oldnew ...string) []byte {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "..", "invites", "testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	found := make([]bool, len(oldnew)/2)
	replace := func(b []byte) []byte {
		for i := 0; i+1 < len(oldnew); i += 2 {
			if bytes.Contains(b, []byte(oldnew[i])) {
				found[i/2] = true
				b = bytes.ReplaceAll(b, []byte(oldnew[i]), []byte(oldnew[i+1]))
			}
		}
		return b
	}
	lines := bytes.SplitAfter(raw, []byte("\n"))
	var out bytes.Buffer
	cte64 := regexp.MustCompile(`(?i)^content-transfer-encoding:\s*base64\s*$`)
	b64, inBody := false, false
	var block [][]byte
	flush := func() {
		if len(block) == 0 {
			return
		}
		eol := block[0][len(bytes.TrimRight(block[0], "\r\n")):]
		width := len(bytes.TrimRight(block[0], "\r\n"))
		var enc []byte
		for _, l := range block {
			enc = append(enc, bytes.TrimSpace(l)...)
		}
		dec, err := base64.StdEncoding.DecodeString(string(enc))
		if err != nil {
			t.Fatalf("%s: base64 body: %v", name, err)
		}
		again := base64.StdEncoding.EncodeToString(replace(dec))
		for len(again) > 0 {
			n := min(width, len(again))
			out.WriteString(again[:n])
			again = again[n:]
			// The last line keeps the original's ending, which may be none.
			if len(again) > 0 {
				out.Write(eol)
			}
		}
		last := block[len(block)-1]
		out.Write(last[len(bytes.TrimRight(last, "\r\n")):])
		block = nil
	}
	for _, l := range lines {
		text := bytes.TrimRight(l, "\r\n")
		switch {
		case inBody && (len(text) == 0 || bytes.HasPrefix(text, []byte("--"))):
			flush()
			inBody, b64 = false, false
			out.Write(replace(l))
		case inBody:
			block = append(block, l)
		case b64 && len(text) == 0:
			inBody = true
			out.Write(l)
		default:
			if cte64.Match(text) {
				b64 = true
			}
			out.Write(replace(l))
		}
	}
	flush()
	for i, ok := range found {
		if !ok {
			t.Fatalf("%s: %q occurs nowhere", name, oldnew[2*i])
		}
	}
	return out.Bytes()
}

// reply is a fixture answering the discussion with the UID.
func replyFixture(t *testing.T, name, uid string, oldnew ...string) []byte {
	t.Helper()
	return mailFixture(t, "replies/"+name, append([]string{fixtureUID, uid}, oldnew...)...)
}

// email is a sent email, read as a mail client reads it.
type sentEmail struct {
	Header  message.Header
	Parts   []mimePart
	Raw     []byte
	Subject string
}

type mimePart struct {
	MediaType   string
	Params      map[string]string
	Disposition string
	Body        []byte // decoded: transfer encoding and charset
}

// readEmail parses a raw RFC 5322 message into its leaf parts.
func readEmail(t *testing.T, raw []byte) sentEmail {
	t.Helper()
	e, err := message.Read(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("the email does not parse: %v\n%s", err, raw)
	}
	out := sentEmail{Header: e.Header, Raw: raw}
	out.Subject, _ = (&e.Header).Text("Subject")
	err = e.Walk(func(_ []int, p *message.Entity, err error) error {
		if err != nil {
			return err
		}
		mt, params, _ := p.Header.ContentType()
		if strings.HasPrefix(mt, "multipart/") {
			return nil
		}
		body, err := io.ReadAll(p.Body)
		if err != nil {
			return err
		}
		disp, _, _ := mime.ParseMediaType(p.Header.Get("Content-Disposition"))
		out.Parts = append(out.Parts, mimePart{MediaType: mt, Params: params, Disposition: disp, Body: body})
		return nil
	})
	if err != nil {
		t.Fatalf("walking the email: %v", err)
	}
	return out
}

// part returns the first part of the media type (and disposition, if
// given).
func (e sentEmail) part(t *testing.T, mediaType string, disposition ...string) mimePart {
	t.Helper()
	for _, p := range e.Parts {
		if p.MediaType == mediaType && (len(disposition) == 0 || p.Disposition == disposition[0]) {
			return p
		}
	}
	t.Fatalf("the email has no %s part %v", mediaType, disposition)
	return mimePart{}
}

// invitation is the calendar an email carries inline, checked against its
// attachment and its MIME method.
type sentInvitation struct {
	Method     string // METHOD in the calendar
	MIMEMethod string // method= on the text/calendar part
	UID        string
	Sequence   int
	Attendees  map[string]*ical.Prop // by email
	Event      *ical.Component
	Text       string // the plain-text body
}

// readInvitation reads the calendar of a sent email. It fails the test if
// the inline calendar and the attached invite.ics differ.
func readInvitation(t *testing.T, raw []byte) sentInvitation {
	t.Helper()
	e := readEmail(t, raw)
	inline := e.part(t, "text/calendar")
	attached := e.part(t, "application/ics", "attachment")
	if !bytes.Equal(inline.Body, attached.Body) {
		t.Errorf("the inline calendar and invite.ics differ")
	}
	cal, err := ical.NewDecoder(bytes.NewReader(inline.Body)).Decode()
	if err != nil {
		t.Fatalf("the calendar does not parse: %v\n%s", err, inline.Body)
	}
	inv := sentInvitation{MIMEMethod: inline.Params["method"], Attendees: map[string]*ical.Prop{},
		Text: string(e.part(t, "text/plain").Body)}
	if p := cal.Props.Get(ical.PropMethod); p != nil {
		inv.Method = p.Value
	}
	events := cal.Events()
	if len(events) != 1 {
		t.Fatalf("the calendar has %d events, want 1", len(events))
	}
	inv.Event = events[0].Component
	if p := inv.Event.Props.Get(ical.PropUID); p != nil {
		inv.UID = p.Value
	}
	if p := inv.Event.Props.Get(ical.PropSequence); p != nil {
		inv.Sequence, _ = strconv.Atoi(p.Value)
	}
	for _, a := range inv.Event.Props.Values(ical.PropAttendee) {
		inv.Attendees[strings.ToLower(strings.TrimPrefix(strings.ToLower(a.Value), "mailto:"))] = &a
	}
	return inv
}

// rsvpLinks are the answer links in an invitation's plain-text body.
func rsvpLinks(t *testing.T, text string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, m := range regexp.MustCompile(`(?m)^(Accept|Tentative|Decline): (\S+)\r?$`).FindAllStringSubmatch(text, -1) {
		out[m[1]] = m[2]
	}
	if len(out) != 3 {
		t.Fatalf("the invitation has %d answer links, want 3:\n%s", len(out), text)
	}
	return out
}

// latest returns the newest outbox message with the method to a
// recipient.
func latestMessage(t *testing.T, ms []service.OutboxMessage, method, to string) service.OutboxMessage {
	t.Helper()
	for _, m := range slices.Backward(ms) {
		if m.Method == method && m.To == to {
			return m
		}
	}
	t.Fatalf("no %s to %s in the outbox", method, to)
	return service.OutboxMessage{}
}

// --- a real SMTP server ---

// smtpd is the test SMTP server (invites/smtptest, Debian's
// python3-aiosmtpd). Recipients whose local part starts with "reject" get
// 550, with "later" 451.
type smtpd struct {
	*smtptest.Server
	addr string
}

// smtpMessage is one message the server accepted.
type smtpMessage = smtptest.Received

// startSMTPD starts the server on port (a free one if 0), writing into
// dir (a new one if ""). It fails the test if the server cannot start.
func startSMTPD(t *testing.T, port int, dir string) *smtpd {
	t.Helper()
	s := smtptest.Start(t, smtptest.Options{Port: port, Dir: dir})
	return &smtpd{Server: s, addr: s.Addr}
}

func freeSMTPPort(t *testing.T) int { return smtptest.FreePort(t) }

// received lists every message the server has accepted so far.
func (s *smtpd) received(t *testing.T) []smtpMessage { return s.Received(t) }

// smtpSender sends to the test's server, in clear.
func smtpSender(addr string) *invites.SMTPSender {
	return &invites.SMTPSender{Config: invites.SMTPConfig{Addr: addr, TLS: invites.NoTLS, LocalName: "council.example.gov.uk",
		DialTimeout: 2 * time.Second, CommandTimeout: 5 * time.Second, SubmissionTimeout: 10 * time.Second}}
}

// eventually polls cond until it holds or the time is up.
func waitFor(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %s: %s", within, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
