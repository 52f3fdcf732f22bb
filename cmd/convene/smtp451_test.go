package main

// The inbound SMTP listener answers for the service behind it: a reply the
// service cannot take just now gets a 4xx (451), so that the council's
// mail gateway keeps it and tries again; a reply refused for what it is
// gets a 5xx (550), and is bounced rather than retried.

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/smtp"
	"net/textproto"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/convene/convene/invites/smtptest"
	"github.com/convene/convene/service/policy"
)

// smtpAnswer is the code and text a server answered a delivery with: 250
// when it took the message.
func smtpAnswer(t *testing.T, err error) (int, string) {
	t.Helper()
	var te *textproto.Error
	switch {
	case err == nil:
		return 250, ""
	case errors.As(err, &te):
		return te.Code, te.Msg
	}
	t.Fatalf("delivery failed without an SMTP answer: %v", err)
	return 0, ""
}

func TestInboundSMTPAsksForARetryOnlyWhenTheServiceCannotTakeTheReplyNow(t *testing.T) {
	inbound := fmt.Sprintf("127.0.0.1:%d", smtptest.FreePort(t))
	env := testEnv(t, "CONVENE_SMTP_LISTEN", inbound)
	srv := start(t, env)
	bso := mint(t, env, "business_support", "bea", "bea@council.example.org", "social_care")
	admin := mint(t, env, "admin", "ada", "ada@council.example.org", "")
	chair, others := directory(t, srv.url, admin)
	const caseRef = "CR-2026-4510"
	code, d := call(t, "POST", srv.url+"/v1/discussions", bso, map[string]any{
		"case_reference": caseRef, "rag": "amber", "concerns": []string{"other"},
		"referral_received_at": time.Now().Format(time.RFC3339), "chair_id": chair, "choose_invitees": false,
		"invitees": []map[string]any{{"person_id": others[0], "knows_child": true}, {"person_id": others[1]}, {"person_id": others[2]}},
	})
	if code != 201 {
		t.Fatalf("convene: %d %v", code, d)
	}
	id := d["id"].(string)
	if code, d = call(t, "POST", srv.url+"/v1/discussions/"+id+"/book", bso, map[string]any{"earliest": true, "confirm_unknown": everyone}); code != 200 {
		t.Fatalf("book: %d %v", code, d)
	}
	uid := d["uid"].(string)
	booking := d["booking"].(map[string]any)
	start, end := parseTime(t, booking["start"]), parseTime(t, booking["end"])

	// deliver passes a message on as the council's gateway does, and
	// returns the listener's answer.
	deliver := func(t *testing.T, from string, msg []byte) (int, string) {
		t.Helper()
		return smtpAnswer(t, smtp.SendMail(inbound, nil, from, []string{"convene@council.example.org"}, authenticated(from, msg)))
	}
	danasReply := func() string {
		t.Helper()
		code, d := call(t, "GET", srv.url+"/v1/discussions/"+id, bso, nil)
		if code != 200 {
			t.Fatalf("read the discussion: %d %v", code, d)
		}
		for _, a := range d["attendees"].([]any) {
			if a := a.(map[string]any); a["email"] == "dana@police.example.org" {
				return fmt.Sprint(a["reply"])
			}
		}
		t.Fatalf("Dana is not an attendee: %v", d["attendees"])
		return ""
	}

	// Refused for what they are: 5xx, saying why, so the gateway bounces
	// them to the sender instead of trying again.
	for _, tc := range []struct {
		name, why string
		msg       []byte
	}{
		{"a reply to a meeting Convene never sent", "no discussion has this UID",
			outlookReply("00000000-0000-0000-0000-000000000000@elsewhere.example", 0, "dana@police.example.org", "Dana Inspector", "ACCEPTED", start, end, caseRef)},
		{"a message that is no calendar reply", "no calendar part",
			[]byte("From: Dana Inspector <dana@police.example.org>\r\nTo: convene@council.example.org\r\nSubject: Re: Strategy discussion\r\n" +
				"Date: " + time.Now().Format(time.RFC1123Z) + "\r\nMessage-ID: <plain.4510@police.example.org>\r\n\r\nI'll be there.\r\n")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, msg := deliver(t, "dana@police.example.org", tc.msg)
			if code/100 != 5 || !strings.Contains(msg, tc.why) {
				t.Errorf("answered %d %q, want a permanent refusal (5xx) saying %q", code, msg, tc.why)
			}
		})
	}

	// The store cannot be written just now: another connection (an
	// operator's sqlite3 session, say) holds convene.db's write lock for
	// longer than the store waits for it.
	db, err := sql.Open("sqlite", "file:"+filepath.Join(env["CONVENE_DATA_DIR"], "convene.db")+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	lock, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close()
	if _, err := lock.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		t.Fatalf("take the write lock: %v", err)
	}
	reply := outlookReply(uid, 0, "dana@police.example.org", "Dana Inspector", "ACCEPTED", start, end, caseRef)
	code, msg := deliver(t, "dana@police.example.org", reply)
	if code != 451 {
		t.Errorf("with the store busy, Dana's reply was answered %d %q, want 451 so that the gateway tries again", code, msg)
	}
	if _, err := lock.ExecContext(ctx, "ROLLBACK"); err != nil {
		t.Fatalf("release the write lock: %v", err)
	}
	if got := danasReply(); got != string(policy.ReplyNeedsAction) {
		t.Errorf("after the 451, Dana's reply is %q, want nothing recorded (%s)", got, policy.ReplyNeedsAction)
	}

	// The gateway tries again, the lock gone: taken, and recorded.
	if code, msg := deliver(t, "dana@police.example.org", reply); code != 250 {
		t.Fatalf("the retry was answered %d %q, want it taken", code, msg)
	}
	if got := danasReply(); got != string(policy.ReplyAccepted) {
		t.Errorf("after the retry, Dana's reply is %q, want %s", got, policy.ReplyAccepted)
	}
}
