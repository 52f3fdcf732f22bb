package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// The security review's attacks, replayed through the real server (run on
// port 0, the embedded store, non-demo). Each is held: the request is
// refused or the message held, and nothing changes that the attacker
// wanted changed. SECURITY.md describes the threat model.

// secured is a running service with a directory and a booked discussion.
type secured struct {
	srv                        *instance
	env                        map[string]string
	bso, admin, chair, gateway string
	id, uid                    string
	people                     map[string]string // email → id
}

func startSecured(t *testing.T, extra ...string) *secured {
	t.Helper()
	s := &secured{env: testEnv(t, extra...), people: map[string]string{}}
	s.srv = start(t, s.env)
	s.bso = mint(t, s.env, "business_support", "bea", "bea@council.example.org", "social_care")
	s.admin = mint(t, s.env, "admin", "ada", "ada@council.example.org", "")
	s.chair = mint(t, s.env, "chair", "chris", "chris@council.example.org", "social_care")
	s.gateway = mint(t, s.env, "mail_gateway", "mx", "", "")
	chair, others := directory(t, s.srv.url, s.admin)
	s.people["chris@council.example.org"] = chair
	for i, e := range []string{"sam@council.example.org", "dana@police.example.org", "nina@nhs.example.org"} {
		s.people[e] = others[i]
	}
	code, d := call(t, "POST", s.srv.url+"/v1/discussions", s.bso, map[string]any{
		"case_reference": "CR-2026-7001", "rag": "amber", "concerns": []string{"other"},
		"referral_received_at": time.Now().Format(time.RFC3339), "chair_id": chair, "choose_invitees": false,
		"invitees": []map[string]any{{"person_id": others[0], "knows_child": true}, {"person_id": others[1]}, {"person_id": others[2]}},
	})
	if code != 201 {
		t.Fatalf("convene: %d %v", code, d)
	}
	s.id, s.uid = d["id"].(string), d["uid"].(string)
	if code, d = call(t, "POST", s.srv.url+"/v1/discussions/"+s.id+"/book", s.bso, map[string]any{"earliest": true, "confirm_unknown": everyone}); code != 200 {
		t.Fatalf("book: %d %v", code, d)
	}
	return s
}

func (s *secured) discussion(t *testing.T) map[string]any {
	t.Helper()
	code, d := call(t, "GET", s.srv.url+"/v1/discussions/"+s.id, s.bso, nil)
	if code != 200 {
		t.Fatalf("read: %d %v", code, d)
	}
	return d
}

func (s *secured) attendee(t *testing.T, email string) map[string]any {
	t.Helper()
	for _, a := range s.discussion(t)["attendees"].([]any) {
		if m := a.(map[string]any); m["email"] == email {
			return m
		}
	}
	return nil
}

// post sends a raw message to /v1/imip as the mail gateway.
func (s *secured) post(t *testing.T, raw []byte) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest("POST", s.srv.url+"/v1/imip", bytes.NewReader(raw))
	req.Header.Set("Authorization", "Bearer "+s.gateway)
	req.Header.Set("Content-Type", "message/rfc822")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var m map[string]any
	_ = jsonDecode(res.Body, &m)
	return res.StatusCode, m
}

// replyFrom is a REPLY for the discussion, from the address, answering
// for attendee (with extra ATTENDEE parameters, such as SENT-BY or
// DELEGATED-TO).
func replyFrom(uid, from, attendee, partstat, params string) []byte {
	return []byte("From: <" + from + ">\r\nTo: convene@council.example.org\r\nSubject: Re\r\nMIME-Version: 1.0\r\n" +
		"Content-Type: text/calendar; method=REPLY; charset=utf-8\r\n\r\n" +
		"BEGIN:VCALENDAR\r\nMETHOD:REPLY\r\nPRODID:-//attacker//EN\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\n" +
		"ATTENDEE;PARTSTAT=" + partstat + params + ":mailto:" + attendee + "\r\nUID:" + uid + "\r\nSEQUENCE:0\r\n" +
		"DTSTAMP:" + time.Now().UTC().Format("20060102T150405Z") + "\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n")
}

func TestSecurityReview(t *testing.T) {
	t.Parallel()
	t.Run("a forged From changes nothing: the reply is held", func(t *testing.T) {
		t.Parallel()
		s := startSecured(t)
		code, res := s.post(t, replyFrom(s.uid, "dana@police.example.org", "dana@police.example.org", "DECLINED", ""))
		if code != 200 || res["result"] != "held" {
			t.Fatalf("forged reply: %d %v, want held", code, res)
		}
		if a := s.attendee(t, "dana@police.example.org"); a["reply"] != "needs_action" {
			t.Errorf("Dana's answer became %v on a forged From", a["reply"])
		}
		// A forged Authentication-Results from an untrusted gateway, and
		// one below the trusted gateway's, count for nothing either.
		forged := append([]byte("Authentication-Results: mx.attacker.example; dmarc=pass header.from=police.example.org\r\n"),
			replyFrom(s.uid, "dana@police.example.org", "dana@police.example.org", "DECLINED", "")...)
		if code, res := s.post(t, forged); code != 200 || res["result"] != "held" {
			t.Errorf("untrusted Authentication-Results: %d %v, want held", code, res)
		}
		below := []byte("Authentication-Results: mx.test.example; dmarc=fail header.from=police.example.org\r\nReceived: from x\r\n" +
			"Authentication-Results: mx.test.example; dmarc=pass header.from=police.example.org\r\n")
		below = append(below, replyFrom(s.uid, "dana@police.example.org", "dana@police.example.org", "DECLINED", "")...)
		if code, res := s.post(t, below); code != 200 || res["result"] != "held" {
			t.Errorf("a pass below the gateway's own fail: %d %v, want held", code, res)
		}
		if a := s.attendee(t, "dana@police.example.org"); a["reply"] != "needs_action" {
			t.Errorf("Dana's answer became %v", a["reply"])
		}
	})
	t.Run("a delegation to an outside address is held, and the outsider is not invited", func(t *testing.T) {
		t.Parallel()
		s := startSecured(t)
		msg := authenticated("dana@police.example.org", replyFrom(s.uid, "dana@police.example.org", "dana@police.example.org", "DELEGATED",
			";DELEGATED-TO=\"mailto:mallory@gmail.example\""))
		if code, res := s.post(t, msg); code != 200 || res["result"] != "held" {
			t.Fatalf("delegation to an outsider: %d %v, want held", code, res)
		}
		if s.attendee(t, "mallory@gmail.example") != nil {
			t.Error("the outsider was invited and can read the case")
		}
		outsider := mint(t, s.env, "agency_rep", "mallory", "mallory@gmail.example", "police")
		if code, _ := call(t, "GET", s.srv.url+"/v1/discussions/"+s.id, outsider, nil); code != 404 {
			t.Errorf("the outsider reads the discussion: %d", code)
		}
	})
	t.Run("a colleague's SENT-BY and DELEGATED-TO herself take no seat", func(t *testing.T) {
		t.Parallel()
		s := startSecured(t)
		msg := authenticated("eve@police.example.org", replyFrom(s.uid, "eve@police.example.org", "dana@police.example.org", "DELEGATED",
			";SENT-BY=\"mailto:eve@police.example.org\";DELEGATED-TO=\"mailto:eve@police.example.org\""))
		code, res := s.post(t, msg)
		if code == 200 && res["result"] == "recorded" {
			t.Fatalf("a colleague took Dana's place: %v", res)
		}
		if s.attendee(t, "eve@police.example.org") != nil || s.attendee(t, "dana@police.example.org")["reply"] != "needs_action" {
			t.Error("the colleague is invited, or Dana's answer changed")
		}
	})
	t.Run("a removed invitee cannot re-add himself by replying", func(t *testing.T) {
		t.Parallel()
		s := startSecured(t)
		if code, d := call(t, "DELETE", s.srv.url+"/v1/discussions/"+s.id+"/attendees/nina@nhs.example.org", s.bso, nil); code != 200 {
			t.Fatalf("remove: %d %v", code, d)
		}
		msg := authenticated("nina@nhs.example.org", replyFrom(s.uid, "nina@nhs.example.org", "nina@nhs.example.org", "ACCEPTED", ""))
		if code, res := s.post(t, msg); code == 200 && res["result"] == "recorded" {
			t.Fatalf("the removed invitee's reply was recorded: %v", res)
		}
		if s.attendee(t, "nina@nhs.example.org") != nil {
			t.Error("the removed invitee is back on the list")
		}
		nina := mint(t, s.env, "agency_rep", "nina", "nina@nhs.example.org", "health")
		if code, _ := call(t, "GET", s.srv.url+"/v1/discussions/"+s.id, nina, nil); code != 404 {
			t.Errorf("the removed invitee reads the case: %d", code)
		}
	})
	t.Run("an administrator cannot post replies; only the mail gateway", func(t *testing.T) {
		t.Parallel()
		s := startSecured(t)
		req, _ := http.NewRequest("POST", s.srv.url+"/v1/imip", bytes.NewReader(authenticated("dana@police.example.org",
			replyFrom(s.uid, "dana@police.example.org", "dana@police.example.org", "ACCEPTED", ""))))
		req.Header.Set("Authorization", "Bearer "+s.admin)
		req.Header.Set("Content-Type", "message/rfc822")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != 403 {
			t.Errorf("administrator posting a reply: %d, want 403", res.StatusCode)
		}
	})
	t.Run("server-held calendar credentials never go to an ad-hoc URL", func(t *testing.T) {
		t.Parallel()
		var hits atomic.Int32
		trap := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			hits.Add(1)
			w.WriteHeader(500)
		}))
		t.Cleanup(trap.Close)
		s := startSecured(t, "CONVENE_CRED_SAM", "sam:secret-password")
		code, body := call(t, "POST", s.srv.url+"/v1/availability", s.bso, map[string]any{
			"attendees":        []map[string]any{{"email": "x@example.org", "calendar": map[string]any{"type": "caldav", "url": trap.URL, "credential_ref": "env:CONVENE_CRED_SAM"}}},
			"duration_minutes": 60, "earliest": time.Now().Add(time.Hour).Format(time.RFC3339), "deadline": time.Now().Add(48 * time.Hour).Format(time.RFC3339),
		})
		if code != 422 || !strings.Contains(fmt.Sprint(body), "credential_ref") {
			t.Errorf("ad-hoc calendar with the service's credential: %d %v, want 422 naming credential_ref", code, body)
		}
		if hits.Load() != 0 {
			t.Errorf("the URL was contacted %d times", hits.Load())
		}
	})
	t.Run("calendar fetches refuse the metadata address and say only 'refused by policy'", func(t *testing.T) {
		t.Parallel()
		s := startSecured(t)
		for _, url := range []string{"http://169.254.169.254/latest/meta-data/", "http://10.1.2.3:22/", s.srv.url + "/metrics"} {
			code, body := call(t, "POST", s.srv.url+"/v1/availability", s.bso, map[string]any{
				"attendees":        []map[string]any{{"email": "x@example.org", "calendar": map[string]any{"type": "ics", "url": url}}},
				"duration_minutes": 60, "earliest": time.Now().Add(time.Hour).Format(time.RFC3339), "deadline": time.Now().Add(48 * time.Hour).Format(time.RFC3339),
			})
			text := fmt.Sprint(body)
			if code != 200 || !strings.Contains(text, "refused_by_policy") {
				t.Errorf("%s: %d %v, want the attendee unknown, refused by policy", url, code, body)
			}
			if strings.Contains(text, "connection refused") || strings.Contains(text, "timeout") {
				t.Errorf("%s: the answer says what is listening: %v", url, body)
			}
		}
		// And the search is audited.
		code, page := call(t, "GET", s.srv.url+"/v1/audit?limit=200", s.admin, nil)
		if code != 200 || !strings.Contains(fmt.Sprint(page), "availability.check") {
			t.Errorf("availability calls not audited: %d", code)
		}
	})
	t.Run("invitations carry an allow-list: names, addresses and links refused with the field", func(t *testing.T) {
		t.Parallel()
		s := startSecured(t)
		for _, tc := range []struct {
			body  map[string]any
			field string
		}{
			{map[string]any{"case_reference": "Jayden-Smith"}, "case_reference"},
			{map[string]any{"case_reference": "CR-2026-7002", "agenda": []string{"Jayden Smith, 12 Elm Road: bruising"}}, "agenda[0]"},
		} {
			body := map[string]any{"rag": "amber", "concerns": []string{"other"}, "referral_received_at": time.Now().Format(time.RFC3339), "confirm_duplicate": true}
			for k, v := range tc.body {
				body[k] = v
			}
			code, p := call(t, "POST", s.srv.url+"/v1/discussions", s.bso, body)
			if code != 422 || !strings.Contains(fmt.Sprint(p["errors"]), tc.field) {
				t.Errorf("%v: %d %v, want 422 naming %s", tc.body, code, p, tc.field)
			}
		}
		for _, tc := range []struct {
			body  map[string]any
			field string
		}{
			{map[string]any{"location": "Smith family home"}, "location"},
			{map[string]any{"online_url": "https://meet.example.com/jayden-smith"}, "online_url"},
		} {
			body := map[string]any{"start": time.Now().Add(49 * time.Hour).Truncate(time.Hour).Format(time.RFC3339), "confirm_unknown": everyone,
				"override_reason": "test"}
			for k, v := range tc.body {
				body[k] = v
			}
			code, p := call(t, "POST", s.srv.url+"/v1/discussions/"+s.id+"/reschedule", s.bso, body)
			if code != 422 && code != 400 || !strings.Contains(fmt.Sprint(p), tc.field) {
				t.Errorf("%v: %d %v, want refused naming %s", tc.body, code, p, tc.field)
			}
		}
	})
	t.Run("unauthenticated start: no keys outside demo mode refuses to start, and no token is printed", func(t *testing.T) {
		t.Parallel()
		env := map[string]string{"CONVENE_DATA_DIR": t.TempDir(), "CONVENE_DEMO": "off", "CONVENE_ADDR": "127.0.0.1:0"}
		var out bytes.Buffer
		err := run(context.Background(), []string{"convene"}, func(k string) string { return env[k] }, &out)
		if err == nil || !strings.Contains(err.Error(), "no token signing keys") {
			t.Errorf("start without keys: %v", err)
		}
		if strings.Count(out.String(), ".") > 2 {
			t.Errorf("something like a token was printed: %q", out.String())
		}
		if err := run(context.Background(), []string{"convene", "token", "--role", "admin", "--sub", "x"}, func(k string) string { return env[k] }, io.Discard); err == nil {
			t.Error("convene token minted a token with no secret outside demo mode")
		}
	})
	t.Run("API responses are not cached or sniffed", func(t *testing.T) {
		t.Parallel()
		s := startSecured(t)
		_, _, h := callWith(t, "GET", s.srv.url+"/v1/discussions/"+s.id, s.bso, nil)
		if h.Get("Cache-Control") != "no-store" || h.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("headers: Cache-Control %q, X-Content-Type-Options %q", h.Get("Cache-Control"), h.Get("X-Content-Type-Options"))
		}
		req, _ := http.NewRequest("POST", s.srv.url+"/v1/discussions/"+s.id+"/cancel", strings.NewReader(`{"reason":"x"} {"reason":"y"}`))
		req.Header.Set("Authorization", "Bearer "+s.bso)
		req.Header.Set("Content-Type", "application/json")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode < 400 || res.StatusCode >= 500 {
			t.Errorf("a body with trailing data: %d, want a 4xx", res.StatusCode)
		}
		if d := s.discussion(t); d["status"] != "booked" {
			t.Errorf("the refused request changed the discussion: %v", d["status"])
		}
	})
}

func jsonDecode(r io.Reader, v any) error { return json.NewDecoder(r).Decode(v) }
