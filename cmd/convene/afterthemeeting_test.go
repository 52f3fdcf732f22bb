package main

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/http"
	"net/mail"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/convene/convene/invites/smtptest"
	"github.com/convene/convene/service"
)

// TestAfterTheMeeting is issue 14's "must show", through the running
// binary, a real SMTP server and a real HTTP receiver for the case system's
// webhooks: the outcome → the Record of Strategy Discussion as a PDF (its
// text read back by poppler's pdftotext) → circulation mails that carry no
// case details → two agencies agree and one dissents → the dissent notice
// emailed (no case details) to the team mailbox and the chair, and in
// business support's and the chair's inboxes over the API → the RECORD
// follow-on met at the circulation time → a follow-on missed, the
// discussion flagged and found by business support's list → the webhooks,
// whose receiver was down throughout, retried once it is up (its first
// answer a 503, retried too), each signed with a valid HMAC checked here as
// the README tells a receiver to.
//
// The binary's clock is the real one (no cmd/convene test moves it), so
// the miss shown here is the ICPC booked for a date after its deadline,
// which is known, and flagged, at once; the deadline watch's miss of a
// follow-on that simply passes is shown on a moved clock in
// service/record_app_test.go.
func TestAfterTheMeeting(t *testing.T) {
	pdftotext, err := exec.LookPath("pdftotext")
	if err != nil {
		t.Fatalf("pdftotext (poppler-utils) is needed: run .ci/deps: %v", err)
	}
	mailServer := smtptest.Start(t, smtptest.Options{})
	// The case system's receiver is down (nothing listens on its port)
	// until the end; the outbox retries from a quarter second, doubling.
	const teamMailbox = "support@council.example.org"
	hookPort := smtptest.FreePort(t)
	receiver := &caseSystem{secret: []byte(afterHookSecret)}
	env := testEnv(t, "CONVENE_SMTP_ADDR", mailServer.Addr, "CONVENE_SMTP_TLS", "none", "CONVENE_MAIL_FROM", "convene@council.example.org",
		"CONVENE_PUBLIC_URL", "https://convene.council.example.org", "CONVENE_BUSINESS_SUPPORT_EMAIL", teamMailbox,
		"CONVENE_WEBHOOK_URL", fmt.Sprintf("http://127.0.0.1:%d/hooks/convene", hookPort), "CONVENE_WEBHOOK_SECRET", afterHookSecret,
		"CONVENE_OUTBOX_RETRY_BASE", "250ms")
	srv := start(t, env)
	admin := mint(t, env, "admin", "ada", "ada.admin@council.example.org", "")
	bso := mint(t, env, "business_support", "bea", "bea.support@council.example.org", "social_care")
	chairTok := mint(t, env, "chair", "chris", "chris.chair@council.example.org", "social_care")
	// The chair asks for notices by email at once (a chair who has not
	// chosen gets the daily digest).
	if code, p := call(t, "PUT", srv.url+"/v1/me/notification-preference", chairTok, map[string]any{"delivery": "immediate"}); code != 200 {
		t.Fatalf("the chair's preference: %d %v", code, p)
	}
	people := []struct{ key, name, email, agency, role string }{
		{"chris", "Chris Chair", "chris.chair@council.example.org", "social_care", "team_manager"},
		{"sam", "Sam Social", "sam.social@council.example.org", "social_care", "social_worker"},
		{"dana", "Dana Inspector", "dana.inspector@police.example.org", "police", "police_officer"},
		{"nina", "Nina Named-Nurse", "nina.named@nhs.example.org", "health", "safeguarding_nurse"},
		{"ed", "Ed Lead", "ed.lead@school.example.org", "education", "designated_safeguarding_lead"},
	}
	ids, emails := map[string]string{}, map[string]string{}
	for _, p := range people {
		seniority := 3
		if p.key == "sam" {
			seniority = 1
		}
		if p.key == "ed" {
			seniority = 2
		}
		code, body := call(t, "POST", srv.url+"/v1/people", admin, map[string]any{"name": p.name, "email": p.email, "agency": p.agency,
			"role": p.role, "seniority": seniority, "chair": p.key == "chris"})
		if code != 201 {
			t.Fatalf("directory: %d %v", code, body)
		}
		ids[p.key], emails[p.key] = body["id"].(string), p.email
	}
	tok := func(key, agency string) string { return mint(t, env, "agency_rep", key, emails[key], agency) }
	dana, nina, ed, sam := tok("dana", "police"), tok("nina", "health"), tok("ed", "education"), tok("sam", "social_care")

	// Convene, book (nobody publishes a calendar: business support book
	// them unseen), check everyone in, start and record the outcome. The
	// chair's free text names the child and the allegation: case data the
	// record carries and no email may.
	const caseRef, childName, allegation = "CR-2026-0777", "Jayden Hollis", "a belt mark across his back"
	now := time.Now().UTC()
	code, d := call(t, "POST", srv.url+"/v1/discussions", bso, map[string]any{
		"case_reference": caseRef, "rag": "amber", "concerns": []string{"other"}, "referral_received_at": now.Format(time.RFC3339),
		"child": map[string]any{"age_years": 9, "school_or_nursery": "Hillside Primary"}, "chair_id": ids["chris"], "choose_invitees": false,
		"invitees": []map[string]any{{"person_id": ids["sam"], "knows_child": true}, {"person_id": ids["dana"]}, {"person_id": ids["nina"]}, {"person_id": ids["ed"]}},
	})
	if code != 201 {
		t.Fatalf("convene: %d %v", code, d)
	}
	id := d["id"].(string)
	path := srv.url + "/v1/discussions/" + id
	deadline := parseTime(t, d["deadline"])
	var everyone []string
	for _, p := range people {
		everyone = append(everyone, p.email)
	}
	if code, body := call(t, "POST", path+"/book", bso, map[string]any{"start": deadline.Add(-2 * time.Hour), "confirm_unknown": everyone,
		"override_reason": "test: the first time everyone can make"}); code != 200 {
		t.Fatalf("book: %d %v", code, body)
	}
	invitations := mailServer.Wait(t, 5, 30*time.Second)
	for _, p := range people {
		if code, body := call(t, "POST", path+"/attendance", chairTok, map[string]any{"email": p.email}); code != 200 {
			t.Fatalf("check in %s: %d %v", p.name, code, body)
		}
	}
	if code, body := call(t, "POST", path+"/start", chairTok, map[string]any{"override_reason": "everyone is here now"}); code != 200 {
		t.Fatalf("start: %d %v", code, body)
	}
	code, d = call(t, "POST", path+"/outcome", chairTok, map[string]any{
		"outcome": "s47_enquiry",
		"signs_of_safety": map[string]any{"concerns": childName + " told his teacher about " + allegation, "working_well": "Engaged grandparent",
			"need_to_know": "Medical opinion", "needs_to_be_done": "Joint visit"},
		"decisions": []map[string]any{{"decision": "Initiate a section 47 enquiry", "rationale": "Reasonable cause to suspect significant harm"}},
		"actions": []map[string]any{{"description": "Joint visit to see the child", "owner": "Sam Social", "agency": "social_care",
			"due": now.Add(24 * time.Hour).Format(time.RFC3339), "purpose": "See the child alone and assess safety"}},
		"child_seen": map[string]any{"by": "Sam Social", "at": now.Add(4 * time.Hour).Format(time.RFC3339)},
		"review":     map[string]any{"date": now.Add(10 * 24 * time.Hour).Format(time.RFC3339), "mechanism": "Review strategy discussion"},
	})
	if code != 200 || d["status"] != "concluded" {
		t.Fatalf("outcome: %d %v", code, d)
	}

	// The record as a PDF for the case file: its text, read back by an
	// independent reader, is the record.
	req, _ := http.NewRequest("GET", path+"/record", nil)
	req.Header.Set("Authorization", "Bearer "+chairTok)
	req.Header.Set("Accept", "application/pdf")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	pdf, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || res.Header.Get("Content-Type") != "application/pdf" {
		t.Fatalf("record PDF: %d %s %.200s", res.StatusCode, res.Header.Get("Content-Type"), pdf)
	}
	file := filepath.Join(t.TempDir(), "record.pdf")
	if err := os.WriteFile(file, pdf, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(pdftotext, "-layout", file, "-").CombinedOutput()
	if err != nil {
		t.Fatalf("pdftotext: %v\n%s", err, out)
	}
	text := strings.Join(strings.Fields(string(out)), " ")
	for _, want := range []string{"Record of Strategy Discussion", caseRef, "record version 1", "OFFICIAL-SENSITIVE", "Page 1 of",
		childName + " told his teacher about " + allegation, "Initiate a section 47 enquiry", "Reasonable cause to suspect significant harm",
		"Joint visit to see the child", "Chris Chair", "Dana Inspector", "Nina Named-Nurse", "Ed Lead", "Review strategy discussion",
		"RECORD:", "ICPC:", "Not yet circulated"} {
		if !strings.Contains(text, want) {
			t.Errorf("the record PDF's text lacks %q:\n%s", want, out)
		}
	}

	// Circulation: each participant is mailed a link, and nothing of the
	// case. The RECORD follow-on is met at the circulation time.
	code, rec := call(t, "POST", path+"/record/circulate", bso, nil)
	if code != 200 {
		t.Fatalf("circulate: %d %v", code, rec)
	}
	circulated := parseTime(t, rec["circulation"].(map[string]any)["at"])
	record := followOnOf(t, rec, "RECORD")
	if record["state"] != "met" || !parseTime(t, record["met_at"]).Equal(circulated) {
		t.Errorf("RECORD follow-on %v, want met at the circulation %s", record, circulated)
	}
	// Other mail (notices to business support) may arrive beside it:
	// wait for one more message until every participant's record is in.
	var records []smtptest.Received
	for n := len(invitations) + len(people); len(records) < len(people); n++ {
		records = records[:0]
		for _, m := range mailServer.Wait(t, n, 30*time.Second) {
			if subject, _ := plainMail(t, m.Raw); strings.Contains(subject, "Record of strategy discussion") {
				records = append(records, m)
			}
		}
	}
	var to []string
	link := regexp.MustCompile(`https://convene\.council\.example\.org/record/[A-Za-z0-9_.-]+`)
	for _, m := range records {
		_, body := plainMail(t, m.Raw)
		to = append(to, m.RcptTos...)
		for _, secret := range []string{caseRef, "Jayden", "Hollis", "belt mark", "Hillside"} {
			if strings.Contains(strings.ToLower(string(m.Raw)), strings.ToLower(secret)) || strings.Contains(strings.ToLower(body), strings.ToLower(secret)) {
				t.Errorf("the record mail to %v carries %q:\n%s", m.RcptTos, secret, body)
			}
		}
		if strings.Contains(string(m.Raw), "text/calendar") {
			t.Errorf("the record mail to %v carries a calendar", m.RcptTos)
		}
		if !link.MatchString(body) {
			t.Errorf("the record mail to %v has no link to the record:\n%s", m.RcptTos, body)
		}
	}
	slices.Sort(to)
	slices.Sort(everyone)
	if !slices.Equal(to, everyone) {
		t.Errorf("the record went to %v, want every participant %v", to, everyone)
	}

	// Police and education agree; health dissents, with its reason.
	for _, s := range []struct {
		tok  string
		body map[string]any
	}{
		{dana, map[string]any{"decision": "agree"}},
		{ed, map[string]any{"decision": "agree"}},
		{nina, map[string]any{"decision": "dissent", "reason": "Health's information does not support an s47 threshold"}},
	} {
		if code, rec = call(t, "POST", path+"/record/signatures", s.tok, s.body); code != 200 {
			t.Fatalf("sign %v: %d %v", s.body, code, rec)
		}
	}
	states := map[string]string{}
	for _, s := range rec["signups"].([]any) {
		s := s.(map[string]any)
		states[s["agency"].(string)] = s["state"].(string)
	}
	if want := map[string]string{"police": "agreed", "education": "agreed", "health": "dissented"}; !maps.Equal(states, want) {
		t.Errorf("sign-ups %v, want %v", states, want)
	}
	const dissentReason = "Health's information does not support an s47 threshold"
	caseDetails := []string{"Jayden", "Hollis", "belt mark", "Hillside", dissentReason, "threshold", "Nina", "Dana", "Sam Social", "Ed Lead"}

	// The dissent is a notice: emailed at once to the team mailbox and to
	// the chair (who chose that), by the real SMTP server, with the kind
	// in words and a link, and nothing of the case.
	dissentMails := waitForMail(t, mailServer, 60*time.Second, func(subject string) bool {
		return strings.Contains(subject, "An agency dissented from the record")
	}, teamMailbox, emails["chris"])
	for _, m := range dissentMails {
		subject, body := plainMail(t, m.Raw)
		if !strings.Contains(body, "https://convene.council.example.org/discussions/"+id) || strings.Contains(string(m.Raw), "text/calendar") {
			t.Errorf("the dissent notice to %v (%s):\n%s", m.RcptTos, subject, body)
		}
		for _, secret := range caseDetails {
			if strings.Contains(strings.ToLower(body+subject), strings.ToLower(secret)) {
				t.Errorf("the dissent notice to %v carries %q:\n%s", m.RcptTos, secret, body)
			}
		}
	}
	// And it is in business support's shared inbox and the chair's own,
	// over the API, naming the discussion and the kind only.
	for who, tok := range map[string]string{"business support": bso, "the chair": chairTok} {
		items := inboxItems(t, srv.url, tok, id)
		if !slices.ContainsFunc(items, func(it map[string]any) bool { return it["kind"] == "record_dissent" }) {
			t.Errorf("%s's inbox has no record_dissent for the discussion: %v", who, items)
		}
		for _, it := range items {
			for _, secret := range caseDetails {
				if strings.Contains(strings.ToLower(fmt.Sprint(it)), strings.ToLower(secret)) {
					t.Errorf("%s's inbox item carries %q: %v", who, secret, it)
				}
			}
		}
	}

	// Follow-ons as work: the social worker closes the s47 enquiry; the
	// ICPC is booked for after its 15-working-day deadline, which is missed
	// and flagged on the discussion.
	if code, rec = call(t, "POST", path+"/follow-ons/S47/met", sam, map[string]any{"note": "Enquiry completed"}); code != 200 ||
		followOnOf(t, rec, "S47")["state"] != "met" {
		t.Fatalf("S47 met: %d %v", code, rec)
	}
	icpcDue := parseTime(t, followOnOf(t, rec, "ICPC")["due"])
	code, rec = call(t, "POST", path+"/follow-ons/ICPC/met", chairTok, map[string]any{"conference_date": icpcDue.Add(72 * time.Hour).Format(time.RFC3339)})
	if code != 200 {
		t.Fatalf("ICPC: %d %v", code, rec)
	}
	if icpc := followOnOf(t, rec, "ICPC"); icpc["state"] != "missed" || icpc["missed_at"] == nil {
		t.Errorf("ICPC after a late conference date: %v", icpc)
	}
	if breach, _ := rec["follow_on_breach"].(map[string]any); breach == nil || !strings.Contains(breach["reason"].(string), "ICPC") {
		t.Errorf("the discussion is not flagged: %v", rec["follow_on_breach"])
	}
	// The record shows it all, and the PDF is a new reading of it.
	code, rec = call(t, "GET", path+"/record", dana, nil)
	if code != 200 || followOnOf(t, rec, "RECORD")["state"] != "met" || rec["follow_on_breach"] == nil {
		t.Errorf("the record read by the police: %d %v", code, rec)
	}
	// So does the discussion; business support find it among those with a
	// missed follow-on, and the miss is in their inbox and the chair's
	// (the ICPC is the chair's to answer for).
	code, d = call(t, "GET", path, bso, nil)
	if circ, _ := d["circulation"].(map[string]any); code != 200 || circ == nil || !parseTime(t, circ["at"]).Equal(circulated) {
		t.Errorf("the discussion's circulation: %d %v", code, d["circulation"])
	}
	if signups, _ := d["signups"].([]any); len(signups) != 3 {
		t.Errorf("the discussion's sign-ups %v, want three agencies'", d["signups"])
	}
	if breach, _ := d["follow_on_breach"].(map[string]any); breach == nil || !strings.Contains(fmt.Sprint(breach["reason"]), "ICPC") {
		t.Errorf("the discussion's follow-on breach %v", d["follow_on_breach"])
	}
	for _, q := range []struct {
		query string
		want  bool
	}{{"follow_on_breach=true", true}, {"follow_on_breach=true&status=concluded", true}, {"follow_on_breach=false", false}} {
		code, page := call(t, "GET", srv.url+"/v1/discussions?"+q.query, bso, nil)
		items, _ := page["items"].([]any)
		listed := slices.ContainsFunc(items, func(it any) bool {
			it2 := it.(map[string]any)
			return it2["id"] == id && it2["follow_on_breach"] == true
		})
		if code != 200 || listed != q.want {
			t.Errorf("GET /v1/discussions?%s: %d, the discussion listed %v, want %v", q.query, code, listed, q.want)
		}
	}
	for who, tok := range map[string]string{"business support": bso, "the chair": chairTok} {
		if !slices.ContainsFunc(inboxItems(t, srv.url, tok, id), func(it map[string]any) bool {
			return it["kind"] == "follow_on_missed" && it["key"] == "ICPC"
		}) {
			t.Errorf("%s's inbox has no follow_on_missed ICPC", who)
		}
	}

	// The case system's receiver comes up. Every event was raised while
	// it was down, and is delivered by a retry; the first request it
	// answers 503 (still starting) and that one is retried as well.
	upAt := time.Now()
	ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", hookPort))
	if err != nil {
		t.Fatalf("the receiver's port: %v", err)
	}
	hsrv := &http.Server{Handler: receiver, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = hsrv.Serve(ln) }()
	t.Cleanup(func() { _ = hsrv.Close() })
	want := []string{"discussion.booked", "discussion.concluded", "discussion.convened", "discussion.started",
		"follow_on.met:RECORD", "follow_on.met:S47", "follow_on.missed:ICPC", "record.circulated",
		"record.signed:education", "record.signed:health", "record.signed:police"}
	var got []string
	waitFor(t, 120*time.Second, func() bool {
		got = receiver.kinds(id)
		return len(got) >= len(want) && receiver.refusedRetried()
	})
	if !slices.Equal(got, want) {
		t.Errorf("webhooks received %v, want %v", got, want)
	}
	t.Logf("the receiver up %s after the first event; %d events accepted, %s answered 503 then accepted",
		upAt.Sub(parseTime(t, d["created_at"])).Round(time.Millisecond), len(got), receiver.refusedID())
	receiver.mu.Lock()
	defer receiver.mu.Unlock()
	if len(receiver.bad) > 0 {
		t.Errorf("webhooks without a valid signature: %v", receiver.bad)
	}
	for _, h := range receiver.accepted {
		if h.event.Subject != id {
			continue
		}
		// Raised while the receiver was down; signed and sent after it
		// came up (the signature's time is the delivery's).
		if !h.event.Time.Before(upAt) || h.signedAt.Before(upAt.Truncate(time.Second)) {
			t.Errorf("%s raised %s, delivered %s; the receiver came up %s", h.event.ID, h.event.Time, h.signedAt, upAt)
		}
		if h.event.Data.CaseReference != caseRef || h.event.Data.DiscussionID != id {
			t.Errorf("webhook %s data %+v", h.event.ID, h.event.Data)
		}
		for _, secret := range caseDetails {
			if strings.Contains(strings.ToLower(string(h.body)), strings.ToLower(secret)) {
				t.Errorf("webhook %s carries %q: %s", h.event.ID, secret, h.body)
			}
		}
	}
}

const afterHookSecret = "after-the-meeting-hook-secret-0123456789"

// caseSystem is the case system's webhook endpoint: a real HTTP server
// that checks each request's signature the way the README tells a
// receiver to (an HMAC-SHA256 of "<t>.<body>" with the shared secret,
// compared in constant time, t within five minutes), computed here rather
// than by Convene's own service.VerifyHook. The first request it gets it
// answers 503, as a receiver still starting would.
type caseSystem struct {
	secret []byte

	mu       sync.Mutex
	refused  string // the id of the event answered 503
	accepted []acceptedHook
	bad      []string
}

type acceptedHook struct {
	event    service.CloudEvent
	body     []byte
	signedAt time.Time
}

func (c *caseSystem) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	c.mu.Lock()
	defer c.mu.Unlock()
	signedAt, verr := c.verify(r.Header.Get("Convene-Signature"), body)
	var ev service.CloudEvent
	switch {
	case err != nil || verr != nil:
		c.bad = append(c.bad, fmt.Sprintf("%v %v: %.200s", err, verr, body))
		http.Error(w, "not signed", http.StatusUnauthorized)
		return
	case r.Header.Get("Content-Type") != "application/cloudevents+json" || json.Unmarshal(body, &ev) != nil || ev.SpecVersion != "1.0":
		c.bad = append(c.bad, fmt.Sprintf("not a CloudEvent (%s): %.200s", r.Header.Get("Content-Type"), body))
		http.Error(w, "not a CloudEvent", http.StatusBadRequest)
		return
	case c.refused == "":
		c.refused = ev.ID
		http.Error(w, "starting", http.StatusServiceUnavailable)
		return
	}
	c.accepted = append(c.accepted, acceptedHook{event: ev, body: body, signedAt: signedAt})
	w.WriteHeader(http.StatusNoContent)
}

// verify checks a Convene-Signature header, "t=<unix seconds>,v1=<hex>".
func (c *caseSystem) verify(header string, body []byte) (time.Time, error) {
	var ts string
	var sigs []string
	for _, part := range strings.Split(header, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "t":
			ts = v
		case "v1":
			sigs = append(sigs, v)
		}
	}
	secs, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || len(sigs) == 0 {
		return time.Time{}, fmt.Errorf("signature header %q", header)
	}
	at := time.Unix(secs, 0)
	if d := time.Since(at); d > 5*time.Minute || d < -5*time.Minute {
		return at, fmt.Errorf("signed at %s, too far from now", at)
	}
	mac := hmac.New(sha256.New, c.secret)
	mac.Write([]byte(ts + "." + string(body)))
	want := hex.EncodeToString(mac.Sum(nil))
	for _, s := range sigs {
		if hmac.Equal([]byte(s), []byte(want)) {
			return at, nil
		}
	}
	return at, errors.New("no signature matches")
}

// kinds are the accepted events of the discussion, each as its type (and
// the agency, or the follow-on, it is about), sorted; an event accepted
// twice appears twice.
func (c *caseSystem) kinds(id string) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for _, h := range c.accepted {
		if h.event.Subject != id {
			continue
		}
		k := strings.TrimPrefix(h.event.Type, "uk.gov.convene.")
		switch {
		case strings.HasPrefix(k, "record.signed"):
			agency, _, _ := strings.Cut(h.event.Data.Key, ":")
			k += ":" + agency
		case strings.HasPrefix(k, "follow_on."):
			k += ":" + h.event.Data.Key
		}
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// refusedRetried reports whether the event answered 503 was accepted
// later.
func (c *caseSystem) refusedRetried() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.refused != "" && slices.ContainsFunc(c.accepted, func(h acceptedHook) bool { return h.event.ID == c.refused })
}

func (c *caseSystem) refusedID() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.refused
}

// inboxItems are the open and cleared items of the discussion in the
// caller's inbox.
func inboxItems(t *testing.T, url, tok, id string) []map[string]any {
	t.Helper()
	code, page := call(t, "GET", url+"/v1/inbox?all=true", tok, nil)
	if code != 200 {
		t.Fatalf("inbox: %d %v", code, page)
	}
	var out []map[string]any
	for _, it := range page["items"].([]any) {
		if it := it.(map[string]any); it["discussion_id"] == id {
			out = append(out, it)
		}
	}
	return out
}

// waitForMail waits until messages whose subject keep accepts have reached
// every one of to, and returns them.
func waitForMail(t *testing.T, srv *smtptest.Server, within time.Duration, keep func(subject string) bool, to ...string) []smtptest.Received {
	t.Helper()
	deadline := time.Now().Add(within)
	for n := max(srv.Count(), 1); ; {
		msgs := srv.Wait(t, n, time.Until(deadline))
		var out []smtptest.Received
		reached := map[string]bool{}
		for _, m := range msgs {
			if subject, _ := plainMail(t, m.Raw); keep(subject) {
				out = append(out, m)
				for _, r := range m.RcptTos {
					reached[strings.ToLower(r)] = true
				}
			}
		}
		if !slices.ContainsFunc(to, func(e string) bool { return !reached[strings.ToLower(e)] }) {
			return out
		}
		n = len(msgs) + 1
	}
}

// followOnOf is the follow-on with the id in a record.
func followOnOf(t *testing.T, rec map[string]any, id string) map[string]any {
	t.Helper()
	fos, _ := rec["follow_ons"].([]any)
	for _, f := range fos {
		if fo := f.(map[string]any); fo["id"] == id {
			return fo
		}
	}
	t.Fatalf("no follow-on %s in %v", id, rec["follow_ons"])
	return nil
}

// plainMail is a received email's decoded subject and text body.
func plainMail(t *testing.T, raw []byte) (subject, body string) {
	t.Helper()
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	subject, _ = new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
	var r io.Reader = msg.Body
	if strings.EqualFold(msg.Header.Get("Content-Transfer-Encoding"), "quoted-printable") {
		r = quotedprintable.NewReader(r)
	}
	b, _ := io.ReadAll(r)
	return subject, string(b)
}

// TestRecordMailAcrossACrash: the record is circulated while the mail
// server is down, and the process is killed (SIGKILL: nothing flushed).
// After a restart with the mail server up, every participant gets the
// record's email, and nobody gets it twice.
func TestRecordMailAcrossACrash(t *testing.T) {
	bin := buildBinary(t)
	mailPort := smtptest.FreePort(t)
	env := testEnv(t, "CONVENE_ADDR", "127.0.0.1:0", "CONVENE_LOG_LEVEL", "warn",
		"CONVENE_SMTP_ADDR", fmt.Sprintf("127.0.0.1:%d", mailPort), "CONVENE_SMTP_TLS", "none",
		"CONVENE_OUTBOX_RETRY_BASE", "1s", "CONVENE_OUTBOX_LEASE", "10s")
	first := spawn(t, bin, env)
	bso := mint(t, env, "business_support", "bea", "bea@council.example.org", "social_care")
	admin := mint(t, env, "admin", "ada", "ada@council.example.org", "")
	chairTok := mint(t, env, "chair", "chris", "chris@council.example.org", "social_care")
	chair, others := directory(t, first.url, admin)
	code, d := call(t, "POST", first.url+"/v1/discussions", bso, map[string]any{
		"case_reference": "CR-2026-4002", "rag": "amber", "concerns": []string{"other"},
		"referral_received_at": time.Now().Format(time.RFC3339), "chair_id": chair, "choose_invitees": false,
		"invitees": []map[string]any{{"person_id": others[0], "knows_child": true}, {"person_id": others[1]}, {"person_id": others[2]}},
	})
	if code != 201 {
		t.Fatalf("convene: %d %v", code, d)
	}
	path := first.url + "/v1/discussions/" + d["id"].(string)
	if code, d = call(t, "POST", path+"/book", bso, map[string]any{"earliest": true, "confirm_unknown": everyone}); code != 200 {
		t.Fatalf("book: %d %v", code, d)
	}
	participants := []string{"chris@council.example.org", "dana@police.example.org", "nina@nhs.example.org", "sam@council.example.org"}
	for _, email := range participants {
		if code, body := call(t, "POST", path+"/attendance", chairTok, map[string]any{"email": email}); code != 200 {
			t.Fatalf("check in %s: %d %v", email, code, body)
		}
	}
	if code, body := call(t, "POST", path+"/start", chairTok, map[string]any{"override_reason": "everyone is here now"}); code != 200 {
		t.Fatalf("start: %d %v", code, body)
	}
	if code, body := call(t, "POST", path+"/outcome", chairTok, map[string]any{
		"outcome":         "s17_assessment",
		"signs_of_safety": map[string]any{"concerns": "c", "working_well": "w", "need_to_know": "n", "needs_to_be_done": "d"},
		"decisions":       []map[string]any{{"decision": "s17 assessment", "rationale": "needs support"}},
		"review":          map[string]any{"date": time.Now().Add(7 * 24 * time.Hour).Format(time.RFC3339), "mechanism": "supervision"},
	}); code != 200 {
		t.Fatalf("outcome: %d %v", code, body)
	}
	if code, body := call(t, "POST", path+"/record/circulate", bso, nil); code != 200 {
		t.Fatalf("circulate: %d %v", code, body)
	}
	if err := first.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = first.cmd.Wait()

	mail := smtptest.Start(t, smtptest.Options{Port: mailPort})
	second := spawn(t, bin, env)
	path = second.url + path[len(first.url):]
	// Once every message in the discussion's outbox is sent, nothing more
	// of it can be: then count.
	deadline := time.Now().Add(90 * time.Second)
	for {
		_, d = call(t, "GET", path, bso, nil)
		outbox, _ := d["outbox"].([]any)
		records, sent := 0, 0
		for _, m := range outbox {
			m := m.(map[string]any)
			if m["method"] == "RECORD" {
				records++
			}
			if m["state"] == "sent" {
				sent++
			}
		}
		if records == len(participants) && sent == len(outbox) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the outbox after the restart: %v", outbox)
		}
		time.Sleep(200 * time.Millisecond) // polling the outbox, with the deadline above
	}
	var to []string
	for _, m := range mail.Received(t) {
		if subject, _ := plainMail(t, m.Raw); strings.Contains(subject, "Record of strategy discussion") {
			to = append(to, m.RcptTos...)
		}
	}
	slices.Sort(to)
	if !slices.Equal(to, participants) {
		t.Errorf("the record's email went to %v, want each participant once: %v", to, participants)
	}
}
