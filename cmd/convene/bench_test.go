package main

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/convene/convene/calendar"
	"github.com/convene/convene/calendar/caltest"
)

// BenchmarkConvene12 measures POST /v1/discussions for a chair and eleven
// invitees whose calendars are on a local Radicale (about 40 events each in
// the window): the statutory clock, the requirements, twelve CalDAV queries
// in parallel and the slot finder. It reports, beside the time per convene,
// the slowest single attendee's calendar query alone: the floor the parallel
// fan-out cannot beat.
func BenchmarkConvene12(b *testing.B) {
	rad := caltest.StartRadicale(b)
	env := testEnv(b, "CONVENE_LOG_LEVEL", "error")
	type who struct {
		name, agency, role string
		seniority          int
		chair              bool
	}
	people := []who{{"Chair", "social_care", "team_manager", 3, true}, {"Social", "social_care", "social_worker", 1, false},
		{"Police", "police", "police_officer", 3, false}, {"Nurse", "health", "safeguarding_nurse", 2, false}}
	for i := len(people); i < 12; i++ {
		people = append(people, who{fmt.Sprintf("Other%d", i), "other", "practitioner", 1, false})
	}
	now := time.Now().In(london)
	var sources []calendar.SourceSpec
	for i, p := range people {
		user := fmt.Sprintf("user%d", i)
		rad.AddUser(b, user, user+"-pw")
		cal := rad.CreateCalendar(b, user, "work")
		for j := range 40 {
			// Scattered hour-long meetings over the next two weeks.
			s := now.Truncate(time.Hour).Add(time.Duration(j*8+i) * time.Hour)
			cal.Put(b, fmt.Sprintf("e%d.ics", j), ics(fmt.Sprintf("%s-%d", user, j), s, s.Add(time.Hour)))
		}
		env["CONVENE_CRED_"+strings.ToUpper(user)] = user + ":" + user + "-pw"
		sources = append(sources, calendar.SourceSpec{Type: "caldav", URL: rad.URL, CredentialRef: "env:CONVENE_CRED_" + strings.ToUpper(user)})
		_ = p
	}
	srv := start(b, env)
	bso := mint(b, env, "business_support", "bea", "bea@council.example.org", "social_care")
	admin := mint(b, env, "admin", "ada", "ada@council.example.org", "")
	var chair string
	var invitees []map[string]any
	for i, p := range people {
		code, body := call(b, "POST", srv.url+"/v1/people", admin, map[string]any{
			"name": p.name, "email": fmt.Sprintf("user%d@example.org", i), "agency": p.agency, "role": p.role, "seniority": p.seniority,
			"chair": p.chair, "calendar": map[string]any{"type": "caldav", "url": rad.URL, "credential_ref": sources[i].CredentialRef},
		})
		if code != 201 {
			b.Fatalf("directory: %d %v", code, body)
		}
		if p.chair {
			chair = body["id"].(string)
		} else {
			invitees = append(invitees, map[string]any{"person_id": body["id"], "knows_child": i == 1})
		}
	}
	req := map[string]any{"case_reference": "CR-2026-5001", "rag": "amber", "concerns": []string{"other"},
		"referral_received_at": now.Format(time.RFC3339), "chair_id": chair, "invitees": invitees, "choose_invitees": false}
	b.ResetTimer()
	for range b.N {
		if code, body := call(b, "POST", srv.url+"/v1/discussions", bso, req); code != 201 {
			b.Fatalf("convene: %d %v", code, body)
		}
	}
	b.StopTimer()
	// The floor: each calendar queried alone, the same window.
	getenv := func(k string) string { return env[k] }
	window := calendar.Interval{Start: now, End: now.Add(5 * 24 * time.Hour)}
	var slowest time.Duration
	for _, spec := range sources {
		src, err := calendar.NewSource(spec, getenv, calendar.SourceOptions{Policy: calendar.OutboundPolicy{AllowNetworks: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}})
		if err != nil {
			b.Fatal(err)
		}
		best := time.Hour
		for range 5 {
			t0 := time.Now()
			if _, err := src.Busy(context.Background(), window, calendar.BusyOptions{Zone: london}); err != nil {
				b.Fatal(err)
			}
			best = min(best, time.Since(t0))
		}
		slowest = max(slowest, best)
	}
	b.ReportMetric(float64(slowest.Microseconds())/1000, "slowest-query-ms")
}

// BenchmarkBook measures POST /v1/discussions/{id}/book on the embedded
// store: re-reading availability (no calendars here), holding four people's
// time, the version-guarded save, the audit entry and queueing four
// invitations (written to the outbox directory by the sender).
func BenchmarkBook(b *testing.B) {
	env := testEnv(b, "CONVENE_LOG_LEVEL", "error")
	srv := start(b, env)
	bso := mint(b, env, "business_support", "bea", "bea@council.example.org", "social_care")
	admin := mint(b, env, "admin", "ada", "ada@council.example.org", "")
	chair, others := directory(b, srv.url, admin)
	now := time.Now()
	ids := make([]string, b.N)
	for i := range ids {
		code, d := call(b, "POST", srv.url+"/v1/discussions", bso, map[string]any{
			"case_reference": fmt.Sprintf("CR-2026-6%03d", i), "rag": "amber", "concerns": []string{"other"},
			"referral_received_at": now.Format(time.RFC3339), "chair_id": chair, "choose_invitees": false,
			"invitees": []map[string]any{{"person_id": others[0], "knows_child": true}, {"person_id": others[1]}, {"person_id": others[2]}},
		})
		if code != 201 {
			b.Fatalf("convene: %d %v", code, d)
		}
		ids[i] = d["id"].(string)
	}
	base := now.Truncate(time.Hour).Add(24 * time.Hour)
	b.ResetTimer()
	for i, id := range ids {
		code, d := call(b, "POST", srv.url+"/v1/discussions/"+id+"/book", bso, map[string]any{
			"start": base.Add(time.Duration(i) * time.Hour).Format(time.RFC3339), "override_reason": "benchmark: times beyond the deadline"})
		if code != 200 {
			b.Fatalf("book %d: %d %v", i, code, d)
		}
	}
}
