package main

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/convene/convene/calendar"
)

// everyone is the directory's addresses in these tests: their calendars
// are unknown (none is configured), which a booking must confirm.
var everyone = []string{"chris@council.example.org", "sam@council.example.org", "dana@police.example.org", "nina@nhs.example.org",
	"c1@council.example.org", "c2@council.example.org", "c3@council.example.org", "w1@council.example.org", "w2@council.example.org",
	"w3@council.example.org", "o1@police.example.org", "o2@police.example.org", "n1@nhs.example.org", "n2@nhs.example.org",
	"n3@nhs.example.org", "dsl@school.example.org"}

// directory adds a chair and the three essential agencies, without
// calendars (so no calendar server is needed), and returns their ids.
func directory(t testing.TB, url, admin string) (chair string, others []string) {
	t.Helper()
	for i, p := range []map[string]any{
		{"name": "Chris Chair", "email": "chris@council.example.org", "agency": "social_care", "role": "team_manager", "seniority": 3, "chair": true},
		{"name": "Sam Social", "email": "sam@council.example.org", "agency": "social_care", "role": "social_worker", "seniority": 1},
		{"name": "Dana Inspector", "email": "dana@police.example.org", "agency": "police", "role": "police_officer", "seniority": 3},
		{"name": "Nina Nurse", "email": "nina@nhs.example.org", "agency": "health", "role": "safeguarding_nurse", "seniority": 3},
	} {
		code, body := call(t, "POST", url+"/v1/people", admin, p)
		if code != 201 {
			t.Fatalf("directory: %d %v", code, body)
		}
		if i == 0 {
			chair = body["id"].(string)
		} else {
			others = append(others, body["id"].(string))
		}
	}
	return chair, others
}

// TestConcurrentBookingsNeverDoubleBook: fifty officers book fifty
// discussions with the same chair into overlapping times at once. The
// chair must end up in no two overlapping discussions, and every refusal
// names the discussion that holds the time.
func TestConcurrentBookingsNeverDoubleBook(t *testing.T) {
	env := testEnv(t)
	srv := start(t, env)
	bso := mint(t, env, "business_support", "bea", "bea@council.example.org", "social_care")
	admin := mint(t, env, "admin", "ada", "ada@council.example.org", "")
	chair, others := directory(t, srv.url, admin)

	now := time.Now().In(london)
	wd, _ := calendar.NewWorkingDays(calendar.WorkingDaysOptions{Location: london})
	day := wd.NextWorkingDay("england-and-wales", now)
	base := time.Date(day.Year(), day.Month(), day.Day(), 9, 0, 0, 0, london)
	const n = 50
	ids := make([]string, n)
	for i := range ids {
		code, d := call(t, "POST", srv.url+"/v1/discussions", bso, map[string]any{
			"case_reference": fmt.Sprintf("CR-2026-1%03d", i), "rag": "amber", "concerns": []string{"other"},
			"referral_received_at": now.Format(time.RFC3339), "chair_id": chair, "choose_invitees": false,
			"invitees": []map[string]any{{"person_id": others[0], "knows_child": true}, {"person_id": others[1]}, {"person_id": others[2]}},
		})
		if code != 201 {
			t.Fatalf("convene %d: %d %v", i, code, d)
		}
		ids[i] = d["id"].(string)
	}
	// Starts every 15 minutes from 09:00: each hour-long booking overlaps
	// the three before and after it.
	starts := make([]time.Time, n)
	type result struct {
		code int
		body map[string]any
	}
	results := make([]result, n)
	var wg sync.WaitGroup
	gate := make(chan struct{})
	for i := range ids {
		starts[i] = base.Add(time.Duration(i%8) * 15 * time.Minute)
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-gate
			code, body := call(t, "POST", srv.url+"/v1/discussions/"+ids[i]+"/book", bso, map[string]any{"start": starts[i].Format(time.RFC3339), "confirm_unknown": everyone})
			results[i] = result{code, body}
		}()
	}
	close(gate)
	wg.Wait()

	type booking struct{ start, end time.Time }
	var booked []booking
	for i, r := range results {
		switch r.code {
		case http.StatusOK:
			booked = append(booked, booking{starts[i], starts[i].Add(time.Hour)})
		case http.StatusConflict:
			// The refusal says who is booked, never which other
			// discussion (another case's id) holds them.
			if detail, _ := r.body["detail"].(string); !strings.Contains(detail, "Chris Chair is already booked") {
				t.Errorf("booking %d refused without saying who is booked: %v", i, r.body)
			}
			for _, other := range ids {
				if other != ids[i] && strings.Contains(fmt.Sprint(r.body), other) {
					t.Errorf("booking %d's refusal carries another discussion's id %s: %v", i, other, r.body)
				}
			}
		default:
			t.Errorf("booking %d: %d %v", i, r.code, r.body)
		}
	}
	if len(booked) == 0 {
		t.Fatal("no booking succeeded")
	}
	slices.SortFunc(booked, func(a, b booking) int { return a.start.Compare(b.start) })
	for i := 1; i < len(booked); i++ {
		if booked[i].start.Before(booked[i-1].end) {
			t.Errorf("the chair is double booked: %s and %s", booked[i-1].start.Format("15:04"), booked[i].start.Format("15:04"))
		}
	}
	// What the store says agrees with what the clients were told.
	code, list := call(t, "GET", srv.url+"/v1/discussions?status=booked&limit=200", bso, nil)
	if code != 200 || len(list["items"].([]any)) != len(booked) {
		t.Errorf("booked discussions in the list: %d (status %d), clients were told %d", len(list["items"].([]any)), code, len(booked))
	}
	t.Logf("%d of %d concurrent bookings succeeded, none overlapping", len(booked), n)
}

// TestIdempotentConvene: fifty retries of one convene request with one
// Idempotency-Key, all at once, make one discussion, and every retry gets
// it; the same key with a different request is refused.
func TestIdempotentConvene(t *testing.T) {
	env := testEnv(t)
	srv := start(t, env)
	bso := mint(t, env, "business_support", "bea", "bea@council.example.org", "social_care")
	admin := mint(t, env, "admin", "ada", "ada@council.example.org", "")
	chair, others := directory(t, srv.url, admin)
	body := map[string]any{
		"case_reference": "CR-2026-2001", "rag": "red", "concerns": []string{"other"},
		"referral_received_at": time.Now().Format(time.RFC3339), "chair_id": chair,
		"invitees": []map[string]any{{"person_id": others[0]}, {"person_id": others[1]}, {"person_id": others[2]}},
	}
	const n = 50
	codes := make([]int, n)
	got := make([]string, n)
	var wg sync.WaitGroup
	gate := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-gate
			code, d, _ := callWith(t, "POST", srv.url+"/v1/discussions", bso, body, "Idempotency-Key", "retry-key-1")
			codes[i] = code
			got[i], _ = d["id"].(string)
		}()
	}
	close(gate)
	wg.Wait()
	created := 0
	for i := range n {
		switch codes[i] {
		case http.StatusCreated:
			created++
		case http.StatusOK:
		default:
			t.Errorf("retry %d: status %d", i, codes[i])
		}
		if got[i] != got[0] {
			t.Errorf("retry %d got discussion %q, retry 0 got %q", i, got[i], got[0])
		}
	}
	if created != 1 {
		t.Errorf("%d responses said created, want 1", created)
	}
	code, list := call(t, "GET", srv.url+"/v1/discussions?limit=200", bso, nil)
	if code != 200 || len(list["items"].([]any)) != 1 {
		t.Errorf("discussions stored: %d, want 1", len(list["items"].([]any)))
	}
	body["case_reference"] = "CR-2026-2002"
	if code, p, _ := callWith(t, "POST", srv.url+"/v1/discussions", bso, body, "Idempotency-Key", "retry-key-1"); code != http.StatusUnprocessableEntity {
		t.Errorf("same key, different request: %d %v, want 422", code, p)
	}
}

// TestAdvisoryClashDoesNotBlock: the school's safeguarding lead (advisory
// for a school-age child) is invited to two discussions at the same time
// with different chairs and agencies; both book. An essential attendee in
// both (the same police officer) would make the second refuse.
func TestAdvisoryClashDoesNotBlock(t *testing.T) {
	env := testEnv(t)
	srv := start(t, env)
	bso := mint(t, env, "business_support", "bea", "bea@council.example.org", "social_care")
	admin := mint(t, env, "admin", "ada", "ada@council.example.org", "")
	ids := map[string]string{}
	for _, p := range []map[string]any{
		{"name": "Chair One", "email": "c1@council.example.org", "agency": "social_care", "role": "team_manager", "seniority": 3, "chair": true},
		{"name": "Chair Two", "email": "c2@council.example.org", "agency": "social_care", "role": "team_manager", "seniority": 3, "chair": true},
		{"name": "Worker One", "email": "w1@council.example.org", "agency": "social_care", "role": "social_worker", "seniority": 1},
		{"name": "Worker Two", "email": "w2@council.example.org", "agency": "social_care", "role": "social_worker", "seniority": 1},
		{"name": "Officer One", "email": "o1@police.example.org", "agency": "police", "role": "police_officer", "seniority": 2},
		{"name": "Officer Two", "email": "o2@police.example.org", "agency": "police", "role": "police_officer", "seniority": 2},
		{"name": "Nurse One", "email": "n1@nhs.example.org", "agency": "health", "role": "safeguarding_nurse", "seniority": 3},
		{"name": "Nurse Two", "email": "n2@nhs.example.org", "agency": "health", "role": "safeguarding_nurse", "seniority": 3},
		{"name": "School Lead", "email": "dsl@school.example.org", "agency": "education", "role": "designated_safeguarding_lead", "seniority": 2},
		{"name": "Chair Three", "email": "c3@council.example.org", "agency": "social_care", "role": "team_manager", "seniority": 3, "chair": true},
		{"name": "Worker Three", "email": "w3@council.example.org", "agency": "social_care", "role": "social_worker", "seniority": 1},
		{"name": "Nurse Three", "email": "n3@nhs.example.org", "agency": "health", "role": "safeguarding_nurse", "seniority": 3},
	} {
		code, body := call(t, "POST", srv.url+"/v1/people", admin, p)
		if code != 201 {
			t.Fatalf("directory: %d %v", code, body)
		}
		ids[p["email"].(string)] = body["id"].(string)
	}
	now := time.Now()
	convene := func(ref, chair string, people ...string) string {
		var inv []map[string]any
		for i, e := range people {
			inv = append(inv, map[string]any{"person_id": ids[e], "knows_child": i == 0})
		}
		code, d := call(t, "POST", srv.url+"/v1/discussions", bso, map[string]any{
			"case_reference": ref, "rag": "amber", "concerns": []string{"other"}, "referral_received_at": now.Format(time.RFC3339),
			"child": map[string]any{"age_years": 8}, "chair_id": ids[chair], "invitees": inv, "choose_invitees": false,
		})
		if code != 201 {
			t.Fatalf("convene %s: %d %v", ref, code, d)
		}
		return d["id"].(string)
	}
	one := convene("CR-2026-3001", "c1@council.example.org", "w1@council.example.org", "o1@police.example.org", "n1@nhs.example.org", "dsl@school.example.org")
	two := convene("CR-2026-3002", "c2@council.example.org", "w2@council.example.org", "o2@police.example.org", "n2@nhs.example.org", "dsl@school.example.org")
	three := convene("CR-2026-3003", "c3@council.example.org", "w3@council.example.org", "o1@police.example.org", "n3@nhs.example.org")
	at := now.Truncate(time.Hour).Add(26 * time.Hour).Format(time.RFC3339)
	book := func(id string) (int, map[string]any) {
		return call(t, "POST", srv.url+"/v1/discussions/"+id+"/book", bso, map[string]any{"start": at, "override_reason": "test: whatever the deadline", "confirm_unknown": everyone})
	}
	if code, d := book(one); code != 200 {
		t.Fatalf("first booking: %d %v", code, d)
	}
	if code, d := book(two); code != 200 {
		t.Errorf("the school's lead (advisory) in both at once blocked the second booking: %d %v", code, d)
	}
	if code, d := book(three); code != 409 || !strings.Contains(fmt.Sprint(d["detail"]), "Officer One is already booked") || strings.Contains(fmt.Sprint(d), one) {
		t.Errorf("Officer One (essential) in two discussions at once: %d %v, want 409 saying so without the other discussion's id", code, d)
	}
}
