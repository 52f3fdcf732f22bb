package service

import (
	"testing"
	"time"

	"github.com/convene/convene/service/errs"
	"github.com/convene/convene/service/policy"
)

// validOutcome is an s47 outcome with everything the seeds ask for.
func validOutcome() Outcome {
	return Outcome{
		Outcome: policy.OutcomeS47Enquiry,
		SignsOfSafety: SignsOfSafety{Concerns: "injury unexplained", WorkingWell: "school attendance good",
			NeedToKnow: "medical opinion", NeedsToBeDone: "joint visit"},
		Decisions: []Decision{{Decision: "s47 enquiry", Rationale: "threshold met"}},
		Actions:   []Action{{Description: "joint visit", Owner: "Sam", Agency: policy.AgencySocialCare, Due: t0.Add(24 * time.Hour), Purpose: "see the child"}},
		ChildSeen: &ChildSeen{By: "Sam Social", At: t0.Add(4 * time.Hour)},
		Review:    &Review{Date: t0.Add(10 * 24 * time.Hour), Mechanism: "review strategy discussion"},
	}
}

func TestOutcomeValidate(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		edit  func(o *Outcome)
		field string // "" for valid
	}{
		{"valid", func(*Outcome) {}, ""},
		{"001: all four Signs of Safety headings", func(o *Outcome) { o.SignsOfSafety.WorkingWell = "" }, "signs_of_safety.working_well"},
		{"003 §5: an s47 outcome needs SMART actions", func(o *Outcome) { o.Actions = nil }, "actions"},
		{"003 §5: a police investigation needs SMART actions", func(o *Outcome) { o.Outcome, o.Actions = policy.OutcomePoliceInvestigation, nil }, "actions"},
		{"003 §5: an s17 assessment may have none", func(o *Outcome) { o.Outcome, o.Actions, o.ChildSeen = policy.OutcomeS17Assessment, nil, nil }, ""},
		{"003 §5: every action has an owner", func(o *Outcome) { o.Actions[0].Owner = "" }, "actions[0].owner"},
		{"001, 003 §4: s47 says when the child is seen", func(o *Outcome) { o.ChildSeen = nil }, "child_seen"},
		{"001, 003 §4: and by which social worker", func(o *Outcome) { o.ChildSeen.By = "" }, "child_seen.by"},
		{"004, 003 §5: a review date", func(o *Outcome) { o.Review = nil }, "review"},
		{"003 §5: and its mechanism", func(o *Outcome) { o.Review.Mechanism = "" }, "review.mechanism"},
		{"001: other children by reference only", func(o *Outcome) {
			o.OtherChildren = []OtherChild{{Reference: "Jayden Smith", Relationship: "sibling"}}
		}, "other_children[0].reference"},
		{"001: other children by reference", func(o *Outcome) {
			o.OtherChildren = []OtherChild{{Reference: "CR-2026-0043", Relationship: "sibling", Referred: true}}
		}, ""},
		{"000 §6: an EPO decision records legal advice", func(o *Outcome) { o.EPO = &EPODecision{Decision: "apply"} }, "epo.legal_advice"},
		{"000 §6: NFA records the support considered", func(o *Outcome) {
			o.Outcome, o.Actions, o.ChildSeen = policy.OutcomeNoFurtherAction, nil, nil
		}, "support_considered"},
		{"002 §1: dissent is escalated", func(o *Outcome) {
			o.Dissent = []Dissent{{Agency: policy.AgencyHealth, By: "Nina", Reason: "disagrees with threshold"}}
		}, "dissent[0].escalated_to"},
		{"001: a deferral records the safety plan", func(o *Outcome) {
			o.Outcome, o.Deferral = policy.OutcomeDeferred, &Deferral{Reason: "awaiting medical", InformationNeeded: "x-ray"}
		}, "deferral.safety_plan"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			o := validOutcome()
			tc.edit(&o)
			err := o.Validate(t0)
			if tc.field == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if !errs.Match(&errs.Error{Code: errs.EINVALID, Fields: []errs.FieldError{{Field: tc.field}}}, err) {
				t.Fatalf("want a problem with %s, got %v", tc.field, err)
			}
		})
	}
}

// 001: a red rating needs a safety plan with a timeframe and a responsible
// person.
func TestSafetyPlanForRed(t *testing.T) {
	t.Parallel()
	d := booked()
	d.Case.RAG = policy.RAGRed
	o := validOutcome()
	if err := o.checkSafetyPlan(d); !errs.Match(&errs.Error{Fields: []errs.FieldError{{Field: "safety_plan"}}}, err) {
		t.Fatalf("no safety plan: %v", err)
	}
	o.SafetyPlan = &SafetyPlan{Plan: "stays with grandmother", Responsible: "Sam Social", Until: t0.Add(72 * time.Hour)}
	if err := o.checkSafetyPlan(d); err != nil {
		t.Fatal(err)
	}
}

// 000 §6: decisions are authorised by a CSC manager; "no further action"
// also by the police officer in charge, each themselves.
func TestAuthorisations(t *testing.T) {
	t.Parallel()
	profile, err := policy.DefaultProfile(nil)
	if err != nil {
		t.Fatal(err)
	}
	manager := Invitee{Name: "Chris", Email: "chris@council.example", Agency: policy.AgencySocialCare, Role: "team_manager", Seniority: 3}
	inspector := Invitee{Name: "Dana", Email: "dana@police.example", Agency: policy.AgencyPolice, Role: "detective", Seniority: 3}
	constable := Invitee{Name: "Dana", Email: "dana@police.example", Agency: policy.AgencyPolice, Role: "police_officer", Seniority: 1}
	sw := Invitee{Name: "Sam", Email: "sam@council.example", Agency: policy.AgencySocialCare, Role: "social_worker", Seniority: 1}
	started := func() *Discussion {
		d := booked()
		d.Attendance.Requirements[1].MinSeniority = policy.Seniority{Level: 2, Label: "Sergeant"}
		_, _ = d.Start(QuorumReport{Met: true}, "", time.Hour, bso, t0.Add(time.Hour))
		return d
	}
	for _, tc := range []struct {
		name    string
		outcome policy.Outcome
		given   []Invitee
		ok      bool
	}{
		{"s47 by the CSC manager", policy.OutcomeS47Enquiry, []Invitee{manager}, true},
		{"s47 by a social worker alone is not enough", policy.OutcomeS47Enquiry, []Invitee{sw}, false},
		{"NFA by the CSC manager alone is not enough", policy.OutcomeNoFurtherAction, []Invitee{manager}, false},
		{"NFA by the CSC manager and the police officer in charge", policy.OutcomeNoFurtherAction, []Invitee{manager, inspector}, true},
		{"NFA with a constable below the police minimum", policy.OutcomeNoFurtherAction, []Invitee{manager, constable}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			d := started()
			for _, who := range tc.given {
				if _, err := d.Authorise(who, tc.outcome, AuthorisedSignedIn, t0.Add(2*time.Hour)); err != nil {
					t.Fatal(err)
				}
			}
			by, err := d.authorisers(tc.outcome, profile)
			if got := err == nil; got != tc.ok {
				t.Fatalf("authorised %v (%v), want %v", got, err, tc.ok)
			}
			if tc.ok && len(by) != len(tc.given) {
				t.Errorf("authorisers %+v", by)
			}
		})
	}
	t.Run("someone not taking part cannot authorise", func(t *testing.T) {
		t.Parallel()
		d := started()
		stranger := Invitee{Name: "X", Email: "x@police.example", Agency: policy.AgencyPolice, Seniority: 5}
		if _, err := d.Authorise(stranger, policy.OutcomeNoFurtherAction, AuthorisedSignedIn, t0); ErrorCode(err) != EFORBIDDEN {
			t.Fatalf("err %v", err)
		}
	})
}

// Amending an outcome keeps the previous version, with the reason, and
// recomputes the follow-ons, keeping those already met.
func TestAmend(t *testing.T) {
	t.Parallel()
	d := booked()
	_, _ = d.Start(QuorumReport{Met: true}, "", time.Hour, bso, t0.Add(time.Hour))
	o := validOutcome()
	o.Version = 1
	if _, err := d.Conclude(o, []policy.FollowOn{{ID: "RECORD"}, {ID: "S47"}}, "", t0.Add(2*time.Hour)); err != nil {
		t.Fatal(err)
	}
	d.FollowOns[0].Done = true
	amended := validOutcome()
	amended.Decisions[0].Rationale = "threshold met: corrected typo"
	if _, err := d.Amend(amended, "", nil, bso, t0); ErrorCode(err) != EINVALID {
		t.Fatalf("an amendment without a reason: %v", err)
	}
	if _, err := d.Amend(amended, "typo in the rationale", []policy.FollowOn{{ID: "RECORD"}, {ID: "S47"}, {ID: "ICPC"}}, bso, t0.Add(3*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if d.Outcome.Version != 2 || len(d.OutcomeHistory) != 1 || d.OutcomeHistory[0].Outcome.Decisions[0].Rationale != "threshold met" ||
		d.OutcomeHistory[0].Reason != "typo in the rationale" {
		t.Errorf("outcome %+v history %+v", d.Outcome, d.OutcomeHistory)
	}
	if len(d.FollowOns) != 3 || !d.FollowOns[0].Done || d.FollowOns[2].ID != "ICPC" {
		t.Errorf("follow-ons %+v", d.FollowOns)
	}
}
