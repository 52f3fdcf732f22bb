package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/mail"
	"net/smtp"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/convene/convene/calendar"
	"github.com/convene/convene/calendar/caltest"
	"github.com/convene/convene/invites/smtptest"
)

var london = func() *time.Location {
	l, err := time.LoadLocation("Europe/London")
	if err != nil {
		panic(err)
	}
	return l
}()

// mint prints a development token with the real `convene token` command.
func mint(t testing.TB, env map[string]string, role, sub, email, agency string) string {
	t.Helper()
	var out bytes.Buffer
	args := []string{"convene", "token", "--role", role, "--sub", sub, "--email", email}
	if agency != "" {
		args = append(args, "--agency", agency)
	}
	if err := run(context.Background(), args, func(k string) string { return env[k] }, &out); err != nil {
		t.Fatalf("convene token: %v", err)
	}
	return strings.TrimSpace(out.String())
}

// ics is one event, written as CalDAV clients store it.
func ics(uid string, start, end time.Time, extra ...string) []byte {
	f := "20060102T150405Z"
	return []byte("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//e2e//EN\r\nBEGIN:VEVENT\r\nUID:" + uid +
		"\r\nDTSTAMP:20261101T000000Z\r\nDTSTART:" + start.UTC().Format(f) + "\r\nDTEND:" + end.UTC().Format(f) +
		"\r\nSUMMARY:Busy\r\n" + strings.Join(extra, "") + "END:VEVENT\r\nEND:VCALENDAR\r\n")
}

// outlookMessage wraps a calendar the way Outlook on Exchange sends a
// reply: multipart/alternative, the calendar base64-encoded with a method
// parameter, no ORGANIZER in the calendar.
func outlookMessage(from, fromName, subject string, cal string, method string) []byte {
	var b bytes.Buffer
	boundary := "_000_LO2P265MB5234E2E_"
	fmt.Fprintf(&b, "From: %s <%s>\r\nTo: \"Business Support (Convene)\" <convene@council.example.org>\r\n", fromName, from)
	fmt.Fprintf(&b, "Subject: %s\r\nDate: %s\r\nMessage-ID: <%d.E2E@LO2P265MB5234.GBRP265.PROD.OUTLOOK.COM>\r\n",
		mime.BEncoding.Encode("utf-8", subject), time.Now().Format(time.RFC1123Z), time.Now().UnixNano())
	fmt.Fprintf(&b, "Content-Type: multipart/alternative;\r\n\tboundary=\"%s\"\r\nMIME-Version: 1.0\r\n\r\n", boundary)
	fmt.Fprintf(&b, "--%s\r\nContent-Type: text/plain; charset=\"us-ascii\"\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n\r\n", boundary)
	fmt.Fprintf(&b, "--%s\r\nContent-Type: text/calendar; charset=\"utf-8\"; method=%s\r\nContent-Transfer-Encoding: base64\r\n\r\n", boundary, method)
	enc := base64.StdEncoding.EncodeToString([]byte(cal))
	for len(enc) > 76 {
		b.WriteString(enc[:76] + "\r\n")
		enc = enc[76:]
	}
	b.WriteString(enc + "\r\n--" + boundary + "--\r\n")
	return b.Bytes()
}

const outlookZone = "BEGIN:VTIMEZONE\r\nTZID:GMT Standard Time\r\nBEGIN:STANDARD\r\nDTSTART:16010101T020000\r\nTZOFFSETFROM:+0100\r\nTZOFFSETTO:+0000\r\n" +
	"RRULE:FREQ=YEARLY;INTERVAL=1;BYDAY=-1SU;BYMONTH=10\r\nEND:STANDARD\r\nBEGIN:DAYLIGHT\r\nDTSTART:16010101T010000\r\nTZOFFSETFROM:+0000\r\n" +
	"TZOFFSETTO:+0100\r\nRRULE:FREQ=YEARLY;INTERVAL=1;BYDAY=-1SU;BYMONTH=3\r\nEND:DAYLIGHT\r\nEND:VTIMEZONE\r\n"

// outlookReply is an Outlook REPLY: Windows TZID, "Accepted: " summary,
// no ORGANIZER, no DTSTAMP.
func outlookReply(uid string, seq int, email, name, partstat string, start, end time.Time, caseRef string) []byte {
	local := "20060102T150405"
	verb := map[string]string{"ACCEPTED": "Accepted", "TENTATIVE": "Tentative", "DECLINED": "Declined"}[partstat]
	cal := "BEGIN:VCALENDAR\r\nMETHOD:REPLY\r\nPRODID:Microsoft Exchange Server 2010\r\nVERSION:2.0\r\n" + outlookZone +
		"BEGIN:VEVENT\r\nATTENDEE;PARTSTAT=" + partstat + ";CN=" + name + ":mailto:" + email + "\r\n" +
		"SUMMARY;LANGUAGE=en-GB:" + verb + ": Strategy discussion — case " + caseRef + "\r\n" +
		"DTSTART;TZID=GMT Standard Time:" + start.In(london).Format(local) + "\r\nDTEND;TZID=GMT Standard Time:" + end.In(london).Format(local) + "\r\n" +
		"UID:" + uid + "\r\nCLASS:PRIVATE\r\nPRIORITY:5\r\nTRANSP:OPAQUE\r\nSTATUS:CONFIRMED\r\n" + fmt.Sprintf("SEQUENCE:%d\r\n", seq) +
		"X-MICROSOFT-CDO-BUSYSTATUS:BUSY\r\nX-MICROSOFT-CDO-INTENDEDSTATUS:BUSY\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
	return outlookMessage(email, name, verb+": Strategy discussion — case "+caseRef, cal, "REPLY")
}

// outlookCounter is Outlook's Propose New Time: a COUNTER with the new
// times and X-MS-OLK-ORIGINALSTART/END.
func outlookCounter(uid string, seq int, email, name string, start, end, origStart, origEnd time.Time, caseRef string) []byte {
	local := "20060102T150405"
	cal := "BEGIN:VCALENDAR\r\nMETHOD:COUNTER\r\nPRODID:Microsoft Exchange Server 2010\r\nVERSION:2.0\r\n" + outlookZone +
		"BEGIN:VEVENT\r\nATTENDEE;PARTSTAT=TENTATIVE;CN=" + name + ":mailto:" + email + "\r\n" +
		"COMMENT;LANGUAGE=en-GB:In court that morning; the afternoon works.\r\n" +
		"SUMMARY;LANGUAGE=en-GB:New Time Proposed: Strategy discussion — case " + caseRef + "\r\n" +
		"DTSTART;TZID=GMT Standard Time:" + start.In(london).Format(local) + "\r\nDTEND;TZID=GMT Standard Time:" + end.In(london).Format(local) + "\r\n" +
		"UID:" + uid + "\r\n" + fmt.Sprintf("SEQUENCE:%d\r\n", seq) + "DTSTAMP:" + time.Now().UTC().Format("20060102T150405Z") + "\r\n" +
		"X-MS-OLK-ORIGINALSTART;TZID=GMT Standard Time:" + origStart.In(london).Format(local) + "\r\n" +
		"X-MS-OLK-ORIGINALEND;TZID=GMT Standard Time:" + origEnd.In(london).Format(local) + "\r\n" +
		"END:VEVENT\r\nEND:VCALENDAR\r\n"
	return outlookMessage(email, name, "New Time Proposed: Strategy discussion — case "+caseRef, cal, "COUNTER")
}

// sendReply delivers a reply to Convene's inbound SMTP listener, as the
// council's MX would.
func sendReply(t *testing.T, addr, from string, msg []byte) {
	t.Helper()
	if err := smtp.SendMail(addr, nil, from, []string{"convene@council.example.org"}, authenticated(from, msg)); err != nil {
		t.Fatalf("delivering the reply from %s: %v", from, err)
	}
}

// calendarOf is the text/calendar part of a received email and the MIME
// method parameter it was sent with.
func calendarOf(t *testing.T, raw []byte) (cal, mimeMethod string) {
	t.Helper()
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	var walk func(ct string, body io.Reader) bool
	walk = func(ct string, body io.Reader) bool {
		mt, params, _ := mime.ParseMediaType(ct)
		if strings.HasPrefix(mt, "multipart/") {
			mr := multipart.NewReader(body, params["boundary"])
			for {
				p, err := mr.NextRawPart()
				if err != nil {
					return false
				}
				var r io.Reader = p
				if strings.EqualFold(p.Header.Get("Content-Transfer-Encoding"), "base64") {
					r = base64.NewDecoder(base64.StdEncoding, p)
				}
				if walk(p.Header.Get("Content-Type"), r) {
					return true
				}
			}
		}
		if mt == "text/calendar" {
			b, _ := io.ReadAll(body)
			cal, mimeMethod = strings.ReplaceAll(string(b), "\r\n ", ""), params["method"]
			return true
		}
		return false
	}
	if !walk(msg.Header.Get("Content-Type"), msg.Body) {
		t.Fatalf("no text/calendar part in:\n%s", raw)
	}
	return cal, mimeMethod
}

// prop is a property of the calendar's VEVENT (or the calendar itself for
// METHOD), unfolded.
func prop(cal, name string) string {
	if i := strings.Index(cal, "BEGIN:VEVENT"); i >= 0 && name != "METHOD" {
		cal = cal[i:]
	}
	m := regexp.MustCompile(`(?m)^` + name + `(;[^:\r\n]*)?:([^\r\n]*)`).FindStringSubmatch(cal)
	if m == nil {
		return ""
	}
	return m[2]
}

// person is someone in the e2e directory, with a CalDAV calendar.
type person struct {
	name, email, agency, role string
	seniority                 int
	chair                     bool
	user                      string // Radicale user
	id                        string
	cal                       *caltest.Calendar
}

func TestConveneEndToEnd(t *testing.T) {
	rad := caltest.StartRadicale(t)
	mailServer := smtptest.Start(t, smtptest.Options{})
	inbound := fmt.Sprintf("127.0.0.1:%d", smtptest.FreePort(t))
	env := testEnv(t, "CONVENE_SMTP_ADDR", mailServer.Addr, "CONVENE_SMTP_TLS", "none", "CONVENE_SMTP_LISTEN", inbound,
		"CONVENE_MAIL_FROM", "convene@council.example.org")
	people := []*person{
		{name: "Chris Chair", email: "chris.chair@council.example.org", agency: "social_care", role: "team_manager", seniority: 3, chair: true, user: "chris"},
		{name: "Sam Social", email: "sam.social@council.example.org", agency: "social_care", role: "social_worker", seniority: 1, user: "sam"},
		{name: "Dana Inspector", email: "dana.inspector@police.example.org", agency: "police", role: "police_officer", seniority: 3, user: "dana"},
		{name: "Nina Named-Nurse", email: "nina.named@nhs.example.org", agency: "health", role: "safeguarding_nurse", seniority: 3, user: "nina"},
		{name: "Ed Lead", email: "ed.lead@school.example.org", agency: "education", role: "designated_safeguarding_lead", seniority: 2, user: "ed"},
	}
	for _, p := range people {
		rad.AddUser(t, p.user, p.user+"-pw")
		p.cal = rad.CreateCalendar(t, p.user, "work")
		env["CONVENE_CRED_"+strings.ToUpper(p.user)] = p.user + ":" + p.user + "-pw"
	}
	srv := start(t, env)
	bso := mint(t, env, "business_support", "bea", "bea.support@council.example.org", "social_care")
	chairTok := mint(t, env, "chair", "chris", "chris.chair@council.example.org", "social_care")
	admin := mint(t, env, "admin", "ada", "ada.admin@council.example.org", "")
	for _, p := range people {
		code, body := call(t, "POST", srv.url+"/v1/people", admin, map[string]any{
			"name": p.name, "email": p.email, "agency": p.agency, "role": p.role, "seniority": p.seniority, "chair": p.chair,
			"calendar": map[string]any{"type": "caldav", "url": rad.URL, "credential_ref": "env:CONVENE_CRED_" + strings.ToUpper(p.user)},
		})
		if code != 201 {
			t.Fatalf("directory: %d %v", code, body)
		}
		p.id = body["id"].(string)
	}
	chris, sam, dana, nina := people[0], people[1], people[2], people[3]

	// Calendars, relative to now: Dana is busy from now to the end of the
	// next working day; Nina has a morning appointment and Sam a weekly
	// meeting (with an exception the week before) on the working day
	// after; everyone is free after that.
	wd, err := calendar.NewWorkingDays(calendar.WorkingDaysOptions{Location: london})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().In(london)
	day1 := wd.NextWorkingDay("england-and-wales", now)
	day2 := wd.NextWorkingDay("england-and-wales", day1)
	day3 := wd.NextWorkingDay("england-and-wales", day2)
	at := func(d time.Time, h, m int) time.Time {
		return time.Date(d.Year(), d.Month(), d.Day(), h, m, 0, 0, london)
	}
	dana.cal.Put(t, "court.ics", ics("court", now.Truncate(time.Hour), at(day1, 17, 0)))
	nina.cal.Put(t, "clinic.ics", ics("clinic", at(day2, 9, 0), at(day2, 10, 30)))
	sam.cal.Put(t, "team.ics", ics("team", at(day2, 10, 30).AddDate(0, 0, -14), at(day2, 11, 0).AddDate(0, 0, -14),
		"RRULE:FREQ=WEEKLY\r\n", "EXDATE:"+at(day2, 10, 30).AddDate(0, 0, -7).UTC().Format("20060102T150405Z")+"\r\n"))

	// Business support convenes.
	const caseRef = "CR-2026-0042"
	code, d := call(t, "POST", srv.url+"/v1/discussions", bso, map[string]any{
		"case_reference": caseRef, "rag": "amber", "concerns": []string{"other"}, "referral_received_at": now.Format(time.RFC3339),
		"child":    map[string]any{"age_years": 9, "school_or_nursery": "Hillside Primary"},
		"chair_id": chris.id, "invitees": []map[string]any{{"person_id": sam.id, "knows_child": true}, {"person_id": dana.id}, {"person_id": nina.id}},
	})
	if code != 201 {
		t.Fatalf("convene: %d %v", code, d)
	}
	id := d["id"].(string)
	wantDeadline := wd.AddWorkingDays("england-and-wales", now, 3, 17*time.Hour)
	if got := parseTime(t, d["deadline"]); !got.Equal(wantDeadline) {
		t.Errorf("deadline = %s, want %s (3 working days, G1)", got, wantDeadline)
	}
	if br := d["binding_rule"].(map[string]any); br["id"] != "G1" || br["citation"] == "" {
		t.Errorf("binding rule = %v, want G1 with its citation", br)
	}
	var invited []string
	for _, a := range d["attendees"].([]any) {
		invited = append(invited, a.(map[string]any)["email"].(string))
	}
	if !slices.Contains(invited, "ed.lead@school.example.org") {
		t.Errorf("invitees %v: the school's designated safeguarding lead was not chosen for a 9-year-old", invited)
	}
	slots := d["proposed_slots"].([]any)
	if len(slots) == 0 || d["slot_reason"] != nil {
		t.Fatalf("no clean slot proposed: reason %v, slots %v", d["slot_reason"], slots)
	}
	first := slots[0].(map[string]any)
	if got, want := parseTime(t, first["start"]), at(day2, 11, 0); !got.Equal(want) {
		t.Errorf("first proposed slot starts %s, want %s: after Dana's day in court, Nina's clinic and Sam's weekly meeting", got, want)
	}

	// Book the earliest slot: the invitations go out by SMTP.
	// Invitations take their location from the directory of venues.
	code, venue := call(t, "POST", srv.url+"/v1/venues", admin, map[string]any{"name": "MASH meeting room 2", "address": "Civic Centre, Town Square"})
	if code != 201 {
		t.Fatalf("venue: %d %v", code, venue)
	}
	code, d = call(t, "POST", srv.url+"/v1/discussions/"+id+"/book", bso, map[string]any{"earliest": true, "venue_id": venue["id"]})
	if code != 200 {
		t.Fatalf("book: %d %v", code, d)
	}
	start := parseTime(t, d["booking"].(map[string]any)["start"])
	end := start.Add(time.Hour)
	msgs := mailServer.Wait(t, 5, 30*time.Second)
	var uid string
	var to []string
	for _, m := range msgs {
		cal, method := calendarOf(t, m.Raw)
		if method != "REQUEST" || prop(cal, "METHOD") != "REQUEST" {
			t.Errorf("invitation method: MIME %q, calendar %q; want REQUEST in both", method, prop(cal, "METHOD"))
		}
		if strings.Contains(string(m.Raw), "Hillside") {
			t.Errorf("an invitation names the child's school:\n%s", m.Raw)
		}
		if !strings.Contains(prop(cal, "SUMMARY"), caseRef) {
			t.Errorf("invitation summary %q lacks the case reference", prop(cal, "SUMMARY"))
		}
		uid = prop(cal, "UID")
		to = append(to, m.RcptTos...)
	}
	slices.Sort(to)
	slices.Sort(invited)
	if !slices.Equal(to, invited) {
		t.Errorf("invitations went to %v, want %v", to, invited)
	}

	// Everyone answers from Outlook, through the MX to Convene's SMTP
	// listener; the school's lead is tentative.
	for _, p := range people {
		stat := "ACCEPTED"
		if p.agency == "education" {
			stat = "TENTATIVE"
		}
		sendReply(t, inbound, p.email, outlookReply(uid, 0, p.email, p.name, stat, start, end, caseRef))
	}
	code, q := call(t, "GET", srv.url+"/v1/discussions/"+id+"/quorum", chairTok, nil)
	if code != 200 {
		t.Fatalf("quorum: %d %v", code, q)
	}
	if forecast := q["forecast"].(map[string]any); forecast["met"] != true {
		t.Errorf("forecast quorum not met after every essential attendee accepted: %v", forecast["summary"])
	}
	if q["met"] != false {
		t.Errorf("actual quorum met before anyone checked in: %v", q["summary"])
	}

	// The chair checks everyone in, starts, and records the outcome.
	for _, p := range people[:4] {
		if code, body := call(t, "POST", srv.url+"/v1/discussions/"+id+"/attendance", chairTok, map[string]any{"email": p.email}); code != 200 {
			t.Fatalf("check in %s: %d %v", p.name, code, body)
		}
	}
	if _, q = call(t, "GET", srv.url+"/v1/discussions/"+id+"/quorum", chairTok, nil); q["met"] != true {
		t.Fatalf("actual quorum not met with everyone present: %v", q["summary"])
	}
	// It is booked for a later day: starting now, everyone being
	// present, needs the chair's reason, which the record keeps.
	if code, body := call(t, "POST", srv.url+"/v1/discussions/"+id+"/start", chairTok, nil); code != 409 {
		t.Fatalf("start a day early without a reason: %d %v, want 409", code, body)
	}
	if code, body := call(t, "POST", srv.url+"/v1/discussions/"+id+"/start", chairTok, map[string]any{"override_reason": "everyone is available now"}); code != 200 || body["status"] != "in_progress" {
		t.Fatalf("start: %d %v", code, body)
	}
	code, d = call(t, "POST", srv.url+"/v1/discussions/"+id+"/outcome", chairTok, map[string]any{
		"outcome":         "s47_enquiry",
		"signs_of_safety": map[string]any{"concerns": "Unexplained injuries reported by school", "working_well": "Engaged grandparent", "need_to_know": "Medical opinion", "needs_to_be_done": "Joint visit"},
		"decisions":       []map[string]any{{"decision": "Initiate a section 47 enquiry", "rationale": "Reasonable cause to suspect significant harm"}},
		"actions": []map[string]any{{"description": "Joint visit to see the child", "owner": "Sam Social", "agency": "social_care",
			"due": now.Add(24 * time.Hour).Format(time.RFC3339), "purpose": "See the child alone and assess safety"}},
		"child_seen": map[string]any{"by": "Sam Social", "at": now.Add(4 * time.Hour).Format(time.RFC3339)},
		"review":     map[string]any{"date": now.Add(10 * 24 * time.Hour).Format(time.RFC3339), "mechanism": "Review strategy discussion"},
	})
	if code != 200 || d["status"] != "concluded" {
		t.Fatalf("outcome: %d %v", code, d)
	}
	followOns := map[string]time.Time{}
	for _, f := range d["follow_ons"].([]any) {
		fo := f.(map[string]any)
		followOns[fo["id"].(string)] = parseTime(t, fo["due"])
	}
	started := parseTime(t, d["started"].(map[string]any)["at"])
	for id, want := range map[string]time.Time{
		"RECORD": wd.AddWorkingDays("england-and-wales", started, 1, 17*time.Hour),
		"ICPC":   wd.AddWorkingDays("england-and-wales", started, 15, 17*time.Hour),
	} {
		if got, ok := followOns[id]; !ok || !got.Equal(want) {
			t.Errorf("follow-on %s due %v (present %v), want %s", id, got, ok, want)
		}
	}

	// A second discussion: Dana proposes a new time from Outlook; business
	// support accepts it (an updated REQUEST to everyone), then cancels.
	code, d = call(t, "POST", srv.url+"/v1/discussions", bso, map[string]any{
		"case_reference": "CR-2026-0043", "rag": "amber", "concerns": []string{"other"}, "referral_received_at": now.Format(time.RFC3339),
		"chair_id": chris.id, "invitees": []map[string]any{{"person_id": sam.id, "knows_child": true}, {"person_id": dana.id}, {"person_id": nina.id}},
		"choose_invitees": false,
	})
	if code != 201 {
		t.Fatalf("convene the second: %d %v", code, d)
	}
	id2 := d["id"].(string)
	if code, d = call(t, "POST", srv.url+"/v1/discussions/"+id2+"/book", bso, map[string]any{"earliest": true}); code != 200 {
		t.Fatalf("book the second: %d %v", code, d)
	}
	start2 := parseTime(t, d["booking"].(map[string]any)["start"])
	msgs = mailServer.Wait(t, 9, 30*time.Second)
	cal, _ := calendarOf(t, msgs[8].Raw)
	uid2 := prop(cal, "UID")
	proposed := at(day3, 14, 0)
	sendReply(t, inbound, dana.email, outlookCounter(uid2, 0, dana.email, dana.name, proposed, proposed.Add(time.Hour), start2, start2.Add(time.Hour), "CR-2026-0043"))
	_, d = call(t, "GET", srv.url+"/v1/discussions/"+id2, bso, nil)
	counters := d["counters"].([]any)
	if len(counters) != 1 {
		t.Fatalf("counters after Dana's proposal: %v", counters)
	}
	counter := counters[0].(map[string]any)
	if got := parseTime(t, counter["start"]); !got.Equal(proposed) || counter["status"] != "pending" {
		t.Errorf("counter = %v, want a pending proposal for %s", counter, proposed)
	}
	if code, d = call(t, "POST", srv.url+"/v1/discussions/"+id2+"/counters/"+counter["id"].(string)+"/accept", bso, nil); code != 200 {
		t.Fatalf("accept the counter: %d %v", code, d)
	}
	msgs = mailServer.Wait(t, 13, 30*time.Second)
	for _, m := range msgs[9:13] {
		cal, method := calendarOf(t, m.Raw)
		if method != "REQUEST" || prop(cal, "SEQUENCE") != "1" || prop(cal, "UID") != uid2 {
			t.Errorf("update after the counter: method %q, SEQUENCE %q, UID %q; want REQUEST, 1, %s", method, prop(cal, "SEQUENCE"), prop(cal, "UID"), uid2)
		}
		if got := prop(cal, "DTSTART"); got != proposed.Format("20060102T150405") {
			t.Errorf("updated DTSTART = %q, want %s local", got, proposed.Format("20060102T150405"))
		}
	}
	if code, d = call(t, "POST", srv.url+"/v1/discussions/"+id2+"/cancel", bso, map[string]any{"reason": "Information received: no longer needed"}); code != 200 || d["status"] != "cancelled" {
		t.Fatalf("cancel: %d %v", code, d)
	}
	msgs = mailServer.Wait(t, 17, 30*time.Second)
	for _, m := range msgs[13:17] {
		cal, method := calendarOf(t, m.Raw)
		if method != "CANCEL" || prop(cal, "METHOD") != "CANCEL" || prop(cal, "STATUS") != "CANCELLED" || prop(cal, "SEQUENCE") != "2" {
			t.Errorf("cancellation: MIME %q, METHOD %q, STATUS %q, SEQUENCE %q", method, prop(cal, "METHOD"), prop(cal, "STATUS"), prop(cal, "SEQUENCE"))
		}
	}
	// The deadline watch ran at start-up; its gauges are on /metrics, as
	// are the door's.
	res, err := http.Get(srv.url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(res.Body)
	res.Body.Close()
	for _, g := range []string{"convene_discussions_at_risk ", "convene_discussions_breached ", "convene_invitees_awaiting_reply ",
		"convene_follow_ons_overdue ", "convene_deadline_watch_last_run_timestamp_seconds ",
		"convene_http_requests_active ", "convene_http_requests_waiting ", "convene_http_requests_shed_total "} {
		if !strings.Contains(string(metrics), "\n"+g) {
			t.Errorf("/metrics has no %s gauge", strings.TrimSpace(g))
		}
	}
	time.Sleep(time.Second)
	if n := mailServer.Count(); n != 17 {
		t.Errorf("%d messages sent in all, want 17 (5 invitations, 4, 4 updates, 4 cancellations)", n)
	}
}

func parseTime(t *testing.T, v any) time.Time {
	t.Helper()
	s, _ := v.(string)
	tm, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatalf("not a time: %v", v)
	}
	return tm
}
