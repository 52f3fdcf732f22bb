package main

import (
	"bytes"
	"fmt"
	"io"
	"mime/quotedprintable"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/convene/convene/invites/smtptest"
	"github.com/convene/convene/service"
)

// hookReceiver is the case system's webhook endpoint: a real HTTP server
// that checks each request's signature and records the events' ids.
type hookReceiver struct {
	mu     sync.Mutex
	ids    []string
	bodies []string
	bad    int
}

const hookSecret = "case-system-webhook-secret-0123456789"

func (h *hookReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	h.mu.Lock()
	defer h.mu.Unlock()
	if err := service.VerifyHook([]byte(hookSecret), r.Header.Get(service.HookSignatureHeader), body, time.Now(), 5*time.Minute); err != nil {
		h.bad++
		http.Error(w, err.Error(), http.StatusUnauthorized)
		return
	}
	var id string
	if i := bytes.Index(body, []byte(`"id":"`)); i >= 0 {
		rest := body[i+6:]
		id = string(rest[:bytes.IndexByte(rest, '"')])
	}
	h.ids = append(h.ids, id)
	h.bodies = append(h.bodies, string(body))
	w.WriteHeader(http.StatusNoContent)
}

func (h *hookReceiver) seen() (ids []string, bad int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.ids), h.bad
}

// bodyOf decodes a plain notice email's quoted-printable body.
func bodyOf(t *testing.T, raw []byte) string {
	t.Helper()
	head, body, _ := strings.Cut(string(raw), "\r\n\r\n")
	b, err := io.ReadAll(quotedprintable.NewReader(strings.NewReader(body)))
	if err != nil {
		t.Fatal(err)
	}
	return head + "\r\n\r\n" + string(b)
}

func noticeMails(ms []smtptest.Received) []smtptest.Received {
	var out []smtptest.Received
	for _, m := range ms {
		if bytes.Contains(m.Raw, []byte("Auto-Submitted: auto-generated")) {
			out = append(out, m)
		}
	}
	return out
}

// TestNotificationsAcrossACrash runs the binary with the mail server and
// the case system's receiver both down, books a discussion (a notice, and
// the convened and booked events), and kills the process. After a restart
// with both up, the chair's notice email arrives once, the events arrive
// once each with valid signatures, and business support's inbox holds the
// notice once; a decline then adds one more of each; a second crash and
// restart sends nothing again.
func TestNotificationsAcrossACrash(t *testing.T) {
	bin := buildBinary(t)
	mailPort, hookPort := smtptest.FreePort(t), smtptest.FreePort(t)
	env := testEnv(t, "CONVENE_ADDR", "127.0.0.1:0", "CONVENE_LOG_LEVEL", "warn",
		"CONVENE_SMTP_ADDR", fmt.Sprintf("127.0.0.1:%d", mailPort), "CONVENE_SMTP_TLS", "none",
		"CONVENE_OUTBOX_RETRY_BASE", "1s", "CONVENE_OUTBOX_LEASE", "10s",
		"CONVENE_PUBLIC_URL", "https://convene.council.example.org",
		"CONVENE_WEBHOOK_URL", fmt.Sprintf("http://127.0.0.1:%d/hooks/convene", hookPort), "CONVENE_WEBHOOK_SECRET", hookSecret)
	first := spawn(t, bin, env)
	bso := mint(t, env, "business_support", "bea", "bea@council.example.org", "social_care")
	admin := mint(t, env, "admin", "ada", "ada@council.example.org", "")
	chairTok := mint(t, env, "chair", "chris", "chris@council.example.org", "social_care")
	gateway := mint(t, env, "mail_gateway", "mx", "", "")
	chair, others := directory(t, first.url, admin)
	if code, p := call(t, "PUT", first.url+"/v1/me/notification-preference", chairTok, map[string]any{"delivery": "immediate"}); code != 200 {
		t.Fatalf("preference: %d %v", code, p)
	}
	code, d := call(t, "POST", first.url+"/v1/discussions", bso, map[string]any{
		"case_reference": "CR-2026-5001", "rag": "amber", "concerns": []string{"other"},
		"referral_received_at": time.Now().Format(time.RFC3339), "chair_id": chair, "choose_invitees": false,
		"child":    map[string]any{"school_or_nursery": "Hillside Primary"},
		"invitees": []map[string]any{{"person_id": others[0], "knows_child": true}, {"person_id": others[1]}, {"person_id": others[2]}},
	})
	if code != 201 {
		t.Fatalf("convene: %d %v", code, d)
	}
	id := d["id"].(string)
	if code, d = call(t, "POST", first.url+"/v1/discussions/"+id+"/book", bso, map[string]any{"earliest": true, "confirm_unknown": everyone}); code != 200 {
		t.Fatalf("book: %d %v", code, d)
	}
	bookingID := d["booking"].(map[string]any)["id"]
	if err := first.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = first.cmd.Wait()

	// Both come up; the service restarts.
	mail := smtptest.Start(t, smtptest.Options{Port: mailPort})
	rcv := &hookReceiver{}
	ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", hookPort))
	if err != nil {
		t.Fatal(err)
	}
	hsrv := &http.Server{Handler: rcv, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = hsrv.Serve(ln) }()
	t.Cleanup(func() { _ = hsrv.Close() })
	second := spawn(t, bin, env)

	msgs := mail.Wait(t, 5, 90*time.Second) // four invitations and the chair's notice
	notices := noticeMails(msgs)
	if len(notices) != 1 || !slices.Equal(notices[0].RcptTos, []string{"chris@council.example.org"}) {
		t.Fatalf("notice emails %d, want one to the chair", len(notices))
	}
	body := bodyOf(t, notices[0].Raw)
	if !strings.Contains(body, "https://convene.council.example.org/discussions/"+id) || !strings.Contains(body, "calendars could not be read") {
		t.Errorf("the notice email:\n%s", body)
	}
	for _, secret := range []string{"Hillside", "Sam Social", "Dana", "Nina", "sam@", "dana@", "nina@"} {
		if strings.Contains(body, secret) {
			t.Errorf("the notice email carries %q:\n%s", secret, body)
		}
	}
	wantHooks := []string{id + ":event:discussion.booked:" + bookingID.(string), id + ":event:discussion.convened:"}
	waitFor(t, 90*time.Second, func() bool { ids, _ := rcv.seen(); return len(ids) >= 2 })
	ids, bad := rcv.seen()
	slices.Sort(ids)
	if !slices.Equal(ids, wantHooks) || bad != 0 {
		t.Errorf("webhooks %v (bad signatures %d), want %v", ids, bad, wantHooks)
	}
	for _, b := range rcv.bodies {
		if strings.Contains(b, "Hillside") || strings.Contains(b, "Chris Chair") || !strings.Contains(b, `"case_reference":"CR-2026-5001"`) {
			t.Errorf("webhook body %s", b)
		}
	}

	// A decline: one more notice email to the chair, one more inbox item.
	uid := id + "@convene"
	reply := append([]byte("Authentication-Results: mx.test.example; dmarc=pass header.from=police.example.org\r\n"),
		outlookReply(uid, 0, "dana@police.example.org", "Dana Inspector", "DECLINED", time.Now(), time.Now().Add(time.Hour), "CR-2026-5001")...)
	req, _ := http.NewRequest("POST", second.url+"/v1/imip", bytes.NewReader(reply))
	req.Header.Set("Authorization", "Bearer "+gateway)
	req.Header.Set("Content-Type", "message/rfc822")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("decline: %d", resp.StatusCode)
	}
	msgs = mail.Wait(t, 6, 60*time.Second)
	if n := len(noticeMails(msgs)); n != 2 {
		t.Errorf("notice emails after the decline %d, want 2", n)
	}
	inbox := func(url string) []string {
		t.Helper()
		code, page := call(t, "GET", url+"/v1/inbox?all=true", bso, nil)
		if code != 200 {
			t.Fatalf("inbox: %d %v", code, page)
		}
		var out []string
		for _, it := range page["items"].([]any) {
			if it := it.(map[string]any); it["discussion_id"] == id {
				out = append(out, it["kind"].(string))
			}
		}
		slices.Sort(out)
		return out
	}
	if got := inbox(second.url); !slices.Equal(got, []string{"decline", "unknown_calendars"}) {
		t.Errorf("business support's inbox %v", got)
	}

	// A second crash and restart: the sweep finds nothing to move, and
	// nothing is sent again. (Waiting for something not to happen needs a
	// bound: a few of the outbox's retry periods.)
	if err := second.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = second.cmd.Wait()
	third := spawn(t, bin, env)
	if got := inbox(third.url); !slices.Equal(got, []string{"decline", "unknown_calendars"}) {
		t.Errorf("business support's inbox after the restart %v", got)
	}
	deadline := time.After(4 * time.Second)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for done := false; !done; {
		select {
		case <-deadline:
			done = true
		case <-tick.C:
			if n := mail.Count(); n != 6 {
				t.Fatalf("%d emails after the restart, want still 6", n)
			}
			if ids, _ := rcv.seen(); len(ids) != 2 {
				t.Fatalf("webhooks after the restart %v, want still 2", ids)
			}
		}
	}
}
