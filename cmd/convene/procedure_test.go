package main

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// The procedures' rules on who chairs, who may stand in and who counts,
// through the real server: the flows a business support officer and a chair
// go through. The rules themselves are table-tested in service/policy and
// service.

func requirementStatus(t *testing.T, q map[string]any, mode, id string) map[string]any {
	t.Helper()
	for _, r := range q[mode].(map[string]any)["requirements"].([]any) {
		if m := r.(map[string]any); m["id"] == id {
			return m
		}
	}
	t.Fatalf("no requirement %s in %s quorum", id, mode)
	return nil
}

// 000 §3, 001, 002 §4, 004: a CSC manager chairs. The directory refuses a
// chair flag on a social worker, and the service chooses, among those who
// may chair, the least senior, saying why.
func TestTheChairChosenIsAManager(t *testing.T) {
	t.Parallel()
	env := testEnv(t)
	srv := start(t, env)
	admin := mint(t, env, "admin", "ada", "ada@council.example.org", "")
	bso := mint(t, env, "business_support", "bea", "bea@council.example.org", "social_care")
	if code, p := call(t, "POST", srv.url+"/v1/people", admin, map[string]any{"name": "Sally Social", "email": "sally@council.example.org",
		"agency": "social_care", "role": "social_worker", "seniority": 1, "chair": true}); code != 422 || !strings.Contains(fmt.Sprint(p["errors"]), "chair") {
		t.Errorf("a social worker flagged as chair: %d %v, want 422 naming chair", code, p)
	}
	for _, p := range []map[string]any{
		{"name": "Harriet Head", "email": "harriet@council.example.org", "agency": "social_care", "role": "service_manager", "seniority": 4, "chair": true},
		{"name": "Chris Chair", "email": "chris@council.example.org", "agency": "social_care", "role": "team_manager", "seniority": 3, "chair": true},
		{"name": "Sam Social", "email": "sam@council.example.org", "agency": "social_care", "role": "social_worker", "seniority": 1},
	} {
		if code, body := call(t, "POST", srv.url+"/v1/people", admin, p); code != 201 {
			t.Fatalf("directory: %d %v", code, body)
		}
	}
	code, d := call(t, "POST", srv.url+"/v1/discussions", bso, map[string]any{"case_reference": "CR-2026-8001", "rag": "amber",
		"concerns": []string{"other"}, "referral_received_at": time.Now().Format(time.RFC3339)})
	if code != 201 {
		t.Fatalf("convene: %d %v", code, d)
	}
	var chair string
	for _, a := range d["attendees"].([]any) {
		if m := a.(map[string]any); m["chair"] == true {
			chair = m["email"].(string)
		}
	}
	if chair != "chris@council.example.org" {
		t.Errorf("chair %q, want the team manager (the least senior who may chair)", chair)
	}
	why := ""
	for _, e := range d["timeline"].([]any) {
		if m := e.(map[string]any); m["kind"] == "chair_chosen" {
			why, _ = m["detail"].(string)
		}
	}
	if !strings.Contains(why, "Chris Chair") || !strings.Contains(why, "least senior active chair who meets") {
		t.Errorf("the timeline does not say why the chair was chosen: %q", why)
	}
}

// A delegate not yet in the directory is held; once admitted and added to
// the directory at the right level, she counts when the chair checks her
// in: her level is read from the directory when quorum is evaluated, not
// frozen when the delegation arrived.
func TestADelegateAddedLaterCountsAtCheckIn(t *testing.T) {
	t.Parallel()
	s := startSecured(t)
	lee := "sgt.lee@police.example.org"
	msg := authenticated("dana@police.example.org", replyFrom(s.uid, "dana@police.example.org", "dana@police.example.org", "DELEGATED",
		";DELEGATED-TO=\"mailto:"+lee+"\""))
	if code, res := s.post(t, msg); code != 200 || res["result"] != "held" {
		t.Fatalf("delegation to someone not in the directory: %d %v, want held", code, res)
	}
	held := s.discussion(t)["held_replies"].([]any)[0].(map[string]any)
	if code, d := call(t, "POST", s.srv.url+"/v1/discussions/"+s.id+"/held-replies/"+held["id"].(string)+"/admit", s.bso, nil); code != 200 {
		t.Fatalf("admit: %d %v", code, d)
	}
	if s.attendee(t, lee) == nil {
		t.Fatal("the admitted delegate is not invited")
	}
	if code, p := call(t, "POST", s.srv.url+"/v1/people", s.admin, map[string]any{"name": "Sgt Lee", "email": lee,
		"agency": "police", "role": "detective", "seniority": 2}); code != 201 {
		t.Fatalf("add the delegate to the directory: %d %v", code, p)
	}
	for _, who := range []string{"chris@council.example.org", "sam@council.example.org", "nina@nhs.example.org", lee} {
		if code, d := call(t, "POST", s.srv.url+"/v1/discussions/"+s.id+"/attendance", s.chair, map[string]any{"email": who}); code != 200 {
			t.Fatalf("check in %s: %d %v", who, code, d)
		}
	}
	code, q := call(t, "GET", s.srv.url+"/v1/discussions/"+s.id+"/quorum", s.chair, nil)
	if code != 200 {
		t.Fatalf("quorum: %d %v", code, q)
	}
	police := requirementStatus(t, q, "actual", "police")
	by, _ := police["satisfied_by"].(map[string]any)
	if police["status"] != "satisfied" || by == nil || by["name"] != "Sgt Lee" {
		t.Errorf("police place %v, want satisfied by Sgt Lee, added to the directory after she was delegated to", police)
	}
	if q["met"] != true {
		t.Errorf("quorum not met: %v", q["summary"])
	}
}

// 000 §4, 002 §4: "a professional with expertise in the particular form of
// abuse" is met only by someone with that expertise: not by whoever is
// present, and never by the chair.
func TestTheSpecialistNeedsTheExpertise(t *testing.T) {
	t.Parallel()
	env := testEnv(t)
	srv := start(t, env)
	admin := mint(t, env, "admin", "ada", "ada@council.example.org", "")
	bso := mint(t, env, "business_support", "bea", "bea@council.example.org", "social_care")
	chairTok := mint(t, env, "chair", "chris", "chris@council.example.org", "social_care")
	chair, others := directory(t, srv.url, admin)
	code, fay := call(t, "POST", srv.url+"/v1/people", admin, map[string]any{"name": "Dr Fay Expert", "email": "fay@nhs.example.org",
		"agency": "health", "role": "paediatrician", "seniority": 4, "expertise": []string{"Fabricated or induced illness"}})
	if code != 201 {
		t.Fatalf("directory: %d %v", code, fay)
	}
	code, d := call(t, "POST", srv.url+"/v1/discussions", bso, map[string]any{"case_reference": "CR-2026-8002", "rag": "amber",
		"concerns": []string{"fabricated_induced_illness"}, "specialist_expertise": "fabricated or induced illness",
		"referral_received_at": time.Now().Format(time.RFC3339), "chair_id": chair, "choose_invitees": false,
		"invitees": []map[string]any{{"person_id": others[0], "knows_child": true}, {"person_id": others[1]}, {"person_id": others[2]}}})
	if code != 201 {
		t.Fatalf("convene: %d %v", code, d)
	}
	id := d["id"].(string)
	if code, d := call(t, "POST", srv.url+"/v1/discussions/"+id+"/book", bso, map[string]any{"earliest": true, "confirm_unknown": everyone}); code != 200 {
		t.Fatalf("book: %d %v", code, d)
	}
	for _, who := range []string{"chris@council.example.org", "sam@council.example.org", "dana@police.example.org", "nina@nhs.example.org"} {
		if code, d := call(t, "POST", srv.url+"/v1/discussions/"+id+"/attendance", chairTok, map[string]any{"email": who}); code != 200 {
			t.Fatalf("check in %s: %d %v", who, code, d)
		}
	}
	_, q := call(t, "GET", srv.url+"/v1/discussions/"+id+"/quorum", chairTok, nil)
	if st := requirementStatus(t, q, "actual", "specialist"); st["status"] == "satisfied" {
		t.Errorf("the specialist place is filled by %v, who has no expertise in it", st["satisfied_by"])
	}
	if code, d := call(t, "POST", srv.url+"/v1/discussions/"+id+"/attendance", chairTok, map[string]any{"person_id": fay["id"]}); code != 200 {
		t.Fatalf("check in the expert: %d %v", code, d)
	}
	_, q = call(t, "GET", srv.url+"/v1/discussions/"+id+"/quorum", chairTok, nil)
	st := requirementStatus(t, q, "actual", "specialist")
	if by, _ := st["satisfied_by"].(map[string]any); st["status"] != "satisfied" || by == nil || by["name"] != "Dr Fay Expert" {
		t.Errorf("specialist %v, want satisfied by Dr Fay Expert", st)
	}
}
