package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/convene/convene/invites/smtptest"
	"github.com/convene/convene/service"
	"github.com/convene/convene/service/sqlite"
)

// convene runs the binary's one-shot subcommand with env, returning its
// combined output.
func convene(t *testing.T, bin string, env map[string]string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// TestBackupUnderLoadAndRestore runs the real binary under a write load
// (discussions convened and booked over HTTP by two clients at once), takes
// a backup with `convene backup` while the load runs and another once it
// has stopped (the service still running), restores each into a fresh data
// directory with `convene restore`, and checks that every discussion, hold
// and queued message the service had committed before the backup began is
// in it, and that a service started on the restored directory serves them.
func TestBackupUnderLoadAndRestore(t *testing.T) {
	bin := buildBinary(t)
	// Mail goes to a port nobody listens on, retried an hour later: every
	// invitation stays queued in the outbox, to be found in the backup.
	env := testEnv(t, "CONVENE_ADDR", "127.0.0.1:0", "CONVENE_LOG_LEVEL", "warn",
		"CONVENE_SMTP_ADDR", fmt.Sprintf("127.0.0.1:%d", smtptest.FreePort(t)), "CONVENE_SMTP_TLS", "none",
		"CONVENE_OUTBOX_RETRY_BASE", "1h")
	live := spawn(t, bin, env)
	bso := mint(t, env, "business_support", "bea", "bea@council.example.org", "social_care")
	admin := mint(t, env, "admin", "ada", "ada@council.example.org", "")

	// The load: each client convenes a discussion and books its earliest
	// slot, over and over, until told to stop.
	var (
		mu        sync.Mutex
		committed []committedAt // booked discussions, with when the booking returned
		stop      atomic.Bool
		wg        sync.WaitGroup
		seq       atomic.Int64
	)
	for c := 0; c < 2; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				n := seq.Add(1)
				if n > 400 {
					return // bounded whatever happens
				}
				chair, others, emails := people(t, live.url, admin, n)
				if chair == "" {
					return
				}
				code, d := call(t, "POST", live.url+"/v1/discussions", bso, map[string]any{
					"case_reference": fmt.Sprintf("CR-2026-7%03d", n), "rag": "amber", "concerns": []string{"other"},
					"referral_received_at": time.Now().Format(time.RFC3339), "chair_id": chair, "choose_invitees": false,
					"invitees": []map[string]any{{"person_id": others[0], "knows_child": true}, {"person_id": others[1]}, {"person_id": others[2]}},
				})
				if code != 201 {
					t.Errorf("convene: %d %v", code, d)
					return
				}
				id := d["id"].(string)
				code, d = call(t, "POST", live.url+"/v1/discussions/"+id+"/book", bso, map[string]any{"earliest": true, "confirm_unknown": emails})
				if code != 200 {
					t.Errorf("book: %d %v", code, d)
					return
				}
				if code == 200 {
					mu.Lock()
					committed = append(committed, committedAt{id, time.Now()})
					mu.Unlock()
				}
			}
		}()
	}
	waitFor(t, 120*time.Second, func() bool { mu.Lock(); defer mu.Unlock(); return len(committed) >= 8 })

	// Backup 1, under load.
	dir := t.TempDir()
	under := filepath.Join(dir, "under-load.db")
	began := time.Now()
	if out, err := convene(t, bin, env, "backup", under); err != nil {
		t.Fatalf("convene backup under load: %v\n%s", err, out)
	}
	if fi, err := os.Stat(under); err == nil {
		t.Logf("backup under load: %d KiB in %s (the process, start to end)", fi.Size()/1024, time.Since(began).Round(time.Millisecond))
	}
	mu.Lock()
	before := committedBefore(committed, began)
	mu.Unlock()
	// The load goes on a little after the backup, then stops.
	waitFor(t, 120*time.Second, func() bool { mu.Lock(); defer mu.Unlock(); return len(committed) >= len(before)+4 })
	stop.Store(true)
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	// Backup 2, with the service running and idle: it must hold everything.
	idle := filepath.Join(dir, "idle.db")
	if out, err := convene(t, bin, env, "backup", idle); err != nil {
		t.Fatalf("convene backup: %v\n%s", err, out)
	}
	if out, err := convene(t, bin, env, "backup", idle); err == nil || !strings.Contains(out, "already exists") {
		t.Errorf("a backup over an existing file: %v %s, want a refusal", err, out)
	}
	// Restoring into the running service's directory is refused (its lock).
	if out, err := convene(t, bin, env, "restore", "--replace", idle); err == nil || !strings.Contains(out, "in use by another Convene process") {
		t.Errorf("restore into the live directory: %v %s, want a refusal naming the lock", err, out)
	}
	_, list := call(t, "GET", live.url+"/v1/discussions?status=booked&limit=200", bso, nil)
	liveBooked := len(list["items"].([]any))
	if liveBooked != len(committed) {
		t.Fatalf("the live service has %d booked discussions, the clients booked %d", liveBooked, len(committed))
	}

	for _, c := range []struct {
		name, file string
		want       []string
	}{
		{"under load", under, before},
		{"idle", idle, ids(committed)},
	} {
		t.Run(c.name, func(t *testing.T) {
			renv := testEnv(t, "CONVENE_ADDR", "127.0.0.1:0", "CONVENE_LOG_LEVEL", "warn")
			if out, err := convene(t, bin, renv, "restore", c.file); err != nil {
				t.Fatalf("convene restore: %v\n%s", err, out)
			}
			if out, err := convene(t, bin, renv, "restore", c.file); err == nil || !strings.Contains(out, "already holds a database") {
				t.Errorf("a second restore without --replace: %v %s, want a refusal", err, out)
			}
			checkRestored(t, renv["CONVENE_DATA_DIR"], c.want)
			// Restoring over it with --replace keeps the database and
			// the audit log replaced beside the restored ones.
			if out, err := convene(t, bin, renv, "restore", "--replace", c.file); err != nil {
				t.Fatalf("convene restore --replace: %v\n%s", err, out)
			}
			for _, name := range []string{"convene.db", "audit.db"} {
				if aside, _ := filepath.Glob(filepath.Join(renv["CONVENE_DATA_DIR"], name+".replaced-*")); len(aside) != 1 {
					t.Errorf("after restore --replace: %v kept beside %s, want one", aside, name)
				}
			}
			checkRestored(t, renv["CONVENE_DATA_DIR"], c.want)
			// A service on the restored directory serves them.
			restored := spawn(t, bin, renv)
			for _, id := range c.want {
				code, d := call(t, "GET", restored.url+"/v1/discussions/"+id, bso, nil)
				if code != 200 || d["status"] != "booked" {
					t.Errorf("discussion %s on the restored service: %d %v", id, code, d["status"])
				}
			}
			_, list := call(t, "GET", restored.url+"/v1/discussions?status=booked&limit=200", bso, nil)
			got := len(list["items"].([]any))
			if c.name == "idle" && got != liveBooked {
				t.Errorf("the restored service has %d booked discussions, the live one %d", got, liveBooked)
			}
			t.Logf("%s: %d booked discussions restored (%d committed before the backup began)", c.name, got, len(c.want))
		})
	}
}

// people adds the n'th set of a chair and the three essential agencies'
// people, each set its own, so that every discussion can be booked at the
// earliest time without colliding with another's holds.
func people(t *testing.T, url, admin string, n int64) (chair string, others, emails []string) {
	t.Helper()
	for i, p := range []map[string]any{
		{"name": "Chris Chair", "email": fmt.Sprintf("chair%d@council.example.org", n), "agency": "social_care", "role": "team_manager", "seniority": 3, "chair": true},
		{"name": "Sam Social", "email": fmt.Sprintf("sw%d@council.example.org", n), "agency": "social_care", "role": "social_worker", "seniority": 1},
		{"name": "Dana Inspector", "email": fmt.Sprintf("dana%d@police.example.org", n), "agency": "police", "role": "police_officer", "seniority": 3},
		{"name": "Nina Nurse", "email": fmt.Sprintf("nina%d@nhs.example.org", n), "agency": "health", "role": "safeguarding_nurse", "seniority": 3},
	} {
		code, body := call(t, "POST", url+"/v1/people", admin, p)
		if code != 201 {
			t.Errorf("directory: %d %v", code, body)
			return "", nil, nil
		}
		emails = append(emails, p["email"].(string))
		if i == 0 {
			chair = body["id"].(string)
		} else {
			others = append(others, body["id"].(string))
		}
	}
	return chair, others, emails
}

type committedAt struct {
	id string
	at time.Time
}

func committedBefore(cs []committedAt, t time.Time) []string {
	var out []string
	for _, c := range cs {
		if c.at.Before(t) {
			out = append(out, c.id)
		}
	}
	return out
}

func ids(cs []committedAt) []string { return committedBefore(cs, time.Now().Add(time.Hour)) }

// checkRestored opens the restored store itself and checks that each
// discussion is there, booked, with its holds, its queued invitations and
// its audit trail (who convened it and who booked it).
func checkRestored(t *testing.T, dataDir string, want []string) {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, dataDir)
	if err != nil {
		t.Fatalf("open the restored store: %v", err)
	}
	defer st.Close()
	for _, id := range want {
		d, err := st.Discussion(ctx, id)
		if err != nil {
			t.Errorf("discussion %s is not in the restored store: %v", id, err)
			continue
		}
		trail, err := st.Audit(ctx, service.AuditFilter{Resource: "discussions/" + id})
		if err != nil {
			t.Fatal(err)
		}
		actions := map[string]string{}
		for _, e := range trail {
			actions[e.Action] = e.Actor.Subject
		}
		if actions["discussion.create"] != "bea" || actions["discussion.book"] != "bea" {
			t.Errorf("discussion %s: the restored audit trail is %v, want its convening and booking by bea", id, actions)
		}
		if d.Status != service.StatusBooked || d.Booking == nil {
			t.Errorf("discussion %s restored as %s", id, d.Status)
			continue
		}
		var persons []string
		for _, inv := range d.Invitees {
			if inv.PersonID != "" {
				persons = append(persons, inv.PersonID)
			}
		}
		holds, err := st.Holds(ctx, persons, d.Booking.Start, d.Booking.End)
		if err != nil {
			t.Fatal(err)
		}
		mine := 0
		for _, h := range holds {
			if h.BookingID == d.Booking.ID {
				mine++
			}
		}
		if want := len(persons) * int(d.Booking.End.Sub(d.Booking.Start)/(15*time.Minute)); mine != want {
			t.Errorf("discussion %s: %d holds restored, want %d", id, mine, want)
		}
		// Invitations: either still pending on the discussion or moved to
		// the outbox, where they must be queued.
		var msgIDs []string
		for _, m := range d.Outbox {
			msgIDs = append(msgIDs, m.ID)
		}
		msgs, err := st.Messages(ctx, msgIDs)
		if err != nil {
			t.Fatal(err)
		}
		if len(msgs) != len(msgIDs) {
			t.Errorf("discussion %s: %d of its %d outbox messages restored", id, len(msgs), len(msgIDs))
		}
		for _, m := range msgs {
			if m.State != service.MessageQueued && m.State != service.MessageSending {
				t.Errorf("discussion %s: message to %s restored as %s, want queued", id, m.To, m.State)
			}
		}
		if len(msgIDs)+len(d.Pending) < len(persons) {
			t.Errorf("discussion %s: %d messages in the outbox and %d pending, want one for each of %d invitees", id, len(msgIDs), len(d.Pending), len(persons))
		}
	}
}

// waitFor polls cond until it holds or the time is up.
func waitFor(t *testing.T, within time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if t.Failed() {
			t.FailNow()
		}
		if time.Now().After(deadline) {
			t.Fatalf("not reached within %s", within)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
