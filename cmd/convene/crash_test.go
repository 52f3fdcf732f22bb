package main

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/convene/convene/invites/smtptest"
)

// process is the convene binary running as its own process, so the test
// can kill it as an operating system would.
type process struct {
	cmd *exec.Cmd
	url string
}

func buildBinary(t testing.TB) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "convene")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

func spawn(t testing.TB, bin string, env map[string]string) *process {
	t.Helper()
	cmd := exec.Command(bin)
	cmd.Env = os.Environ()
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &process{cmd: cmd}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if m := listening.FindStringSubmatch(sc.Text()); m != nil {
				found <- m[1]
			}
		}
	}()
	select {
	case p.url = <-found:
	case <-time.After(60 * time.Second):
		t.Fatalf("convene did not start: %s", stderr.String())
	}
	return p
}

// TestCrashBetweenBookingAndSending kills the process (SIGKILL: no
// shutdown, nothing flushed) right after a booking is confirmed while the
// mail server is down. After a restart with the mail server up, every
// invitation goes out, and none twice.
func TestCrashBetweenBookingAndSending(t *testing.T) {
	bin := buildBinary(t)
	mailPort := smtptest.FreePort(t)
	env := testEnv(t, "CONVENE_ADDR", "127.0.0.1:0", "CONVENE_LOG_LEVEL", "warn",
		"CONVENE_SMTP_ADDR", fmt.Sprintf("127.0.0.1:%d", mailPort), "CONVENE_SMTP_TLS", "none",
		"CONVENE_OUTBOX_RETRY_BASE", "1s", "CONVENE_OUTBOX_LEASE", "10s")
	first := spawn(t, bin, env)
	bso := mint(t, env, "business_support", "bea", "bea@council.example.org", "social_care")
	admin := mint(t, env, "admin", "ada", "ada@council.example.org", "")
	chair, others := directory(t, first.url, admin)
	code, d := call(t, "POST", first.url+"/v1/discussions", bso, map[string]any{
		"case_reference": "CR-2026-4001", "rag": "amber", "concerns": []string{"other"},
		"referral_received_at": time.Now().Format(time.RFC3339), "chair_id": chair, "choose_invitees": false,
		"invitees": []map[string]any{{"person_id": others[0], "knows_child": true}, {"person_id": others[1]}, {"person_id": others[2]}},
	})
	if code != 201 {
		t.Fatalf("convene: %d %v", code, d)
	}
	id := d["id"].(string)
	if code, d = call(t, "POST", first.url+"/v1/discussions/"+id+"/book", bso, map[string]any{"earliest": true, "confirm_unknown": everyone}); code != 200 {
		t.Fatalf("book: %d %v", code, d)
	}
	if err := first.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = first.cmd.Wait()

	mail := smtptest.Start(t, smtptest.Options{Port: mailPort})
	second := spawn(t, bin, env)
	msgs := mail.Wait(t, 4, 90*time.Second)
	time.Sleep(3 * time.Second) // anything sent twice would arrive by now
	if n := mail.Count(); n != 4 {
		t.Errorf("%d messages arrived, want 4 (chair and three invitees, once each)", n)
	}
	var to []string
	for _, m := range msgs {
		to = append(to, m.RcptTos...)
	}
	slices.Sort(to)
	want := []string{"chris@council.example.org", "dana@police.example.org", "nina@nhs.example.org", "sam@council.example.org"}
	if !slices.Equal(to, want) {
		t.Errorf("invitations went to %v, want %v", to, want)
	}
	_, d = call(t, "GET", second.url+"/v1/discussions/"+id, bso, nil)
	for _, m := range d["outbox"].([]any) {
		if st := m.(map[string]any)["state"]; st != "sent" {
			t.Errorf("outbox message %v: state %v, want sent", m.(map[string]any)["to"], st)
		}
	}
}
