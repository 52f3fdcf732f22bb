// Package storetest is the conformance suite every service.Store passes:
// service/sqlite and service/mongodb run it against their real engines.
// Each check opens a fresh, empty store, so checks run in parallel.
package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/convene/convene/calendar"
	"github.com/convene/convene/service"
	"github.com/convene/convene/service/policy"
)

// Caps says what the engine under test can promise beyond the contract's
// sequential behaviour.
type Caps struct {
	// Atomic is set when the engine re-checks an update's filter in the
	// same atomic step as the write (SQLite, whose writes are serialised;
	// MongoDB). FerretDB v1 evaluates the filter, then writes by _id, so
	// two racing guarded writes can both succeed there: the concurrency
	// checks are registered only when Atomic is set.
	Atomic bool
	// Reopen closes s and opens the same database again, as a restart
	// does. The reopen check needs it.
	Reopen func(t *testing.T, s service.Store) service.Store
}

// Run runs every check against stores from open, which must return a fresh,
// empty store for each call (closed when its test ends).
func Run(t *testing.T, open func(t *testing.T) service.Store, caps Caps) {
	checks := []struct {
		name string
		fn   func(t *testing.T, s service.Store)
	}{
		{"Ping", testPing},
		{"PersonRoundTrip", testPersonRoundTrip},
		{"PersonEmailUnique", testPersonEmailUnique},
		{"PersonVersion", testPersonVersion},
		{"PeoplePaging", testPeoplePaging},
		{"AuditAppendOnly", testAuditAppendOnly},
		{"AuditPaging", testAuditPaging},
		{"DiscussionRoundTrip", testDiscussionRoundTrip},
		{"DiscussionFilters", testDiscussionFilters},
		{"DiscussionPaging", testDiscussionPaging},
		{"MembersFollowRemoved", testMembersFollowRemoved},
		{"PatchGuards", testPatchGuards},
		{"PatchVersionAndRevs", testPatchVersionAndRevs},
		{"PatchAppendsAtEnd", testPatchAppendsAtEnd},
		{"PatchUpdateAndAppendOneList", testPatchUpdateAndAppendOneList},
		{"PatchFromDiff", testPatchFromDiff},
		{"EventsAndTimelineWindow", testEventsAndTimelineWindow},
		{"MovedPending", testMovedPending},
		{"SummaryList", testSummaryList},
		{"HoldsAllOrNothing", testHoldsAllOrNothing},
		{"HoldsListReleasePrune", testHoldsListReleasePrune},
		{"HoldsTakenOverBySameDiscussion", testHoldsTakenOverBySameDiscussion},
		{"Venues", testVenues},
		{"IdempotencyKeys", testIdempotencyKeys},
		{"Leases", testLeases},
		{"ClaimMessageOnce", testClaimMessageOnce},
		{"EnqueueBatch", testEnqueueBatch},
		{"UpdateSupersedeRequeue", testUpdateSupersedeRequeue},
		{"MessagesAndStats", testMessagesAndStats},
		{"Inbound", testInbound},
		{"Inbox", testInbox},
		{"NoticePreferences", testNoticePreferences},
		{"RaisedDue", testRaisedDue},
		{"RetentionCandidates", testRetentionCandidates},
		{"PurgeDiscussion", testPurgeDiscussion},
		{"PurgeAudit", testPurgeAudit},
		{"CaseReferenceSearch", testCaseReferenceSearch},
	}
	for _, c := range checks {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			c.fn(t, open(t))
		})
	}
	if caps.Reopen != nil {
		t.Run("Reopen", func(t *testing.T) {
			t.Parallel()
			testReopen(t, open(t), caps.Reopen)
		})
	} else {
		t.Log("Reopen not checked: Caps.Reopen is nil")
	}
	if !caps.Atomic {
		t.Log("concurrency checks not registered: the engine does not re-check an update's filter atomically with the write (FerretDB v1)")
		return
	}
	races := []struct {
		name string
		fn   func(t *testing.T, s service.Store)
	}{
		{"RaceHolds", testRaceHolds},
		{"RaceInviteePatches", testRaceInviteePatches},
		{"RaceCheckInAppends", testRaceCheckInAppends},
		{"RaceSameInvitee", testRaceSameInvitee},
		{"RaceHeadAndElements", testRaceHeadAndElements},
		{"RaceIdempotencyKey", testRaceIdempotencyKey},
		{"RaceLease", testRaceLease},
		{"RaceClaimMessage", testRaceClaimMessage},
		{"RacePersonUpdate", testRacePersonUpdate},
	}
	for _, c := range races {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			c.fn(t, open(t))
		})
	}
}

// T0 is the suite's "now": a Monday in Advent, whole milliseconds in UTC
// (MongoDB keeps milliseconds).
var T0 = time.Date(2026, 11, 30, 9, 30, 0, 0, time.UTC)

// Person returns a directory entry with the id and email.
func Person(id, email string) *service.Person {
	return &service.Person{
		ID: id, Name: "Sam Patel", Email: email, Agency: "police", Role: "police_officer",
		Seniority: 2, WorkingHours: calendar.DefaultWorkingHours, TimeZone: "Europe/London",
		Expertise: []string{"child sexual exploitation"}, Assistants: []string{"pa." + email},
		Calendar: &service.CalendarSource{Type: "caldav", URL: "https://cal.example.org/dav/sam/", CredentialRef: "env:CONVENE_CRED_SAM",
			CredentialOrigin: "https://cal.example.org"},
		Active: true, Version: 1, CreatedAt: T0, UpdatedAt: T0,
	}
}

// Invitee returns a current invitee who has not replied.
func Invitee(email string, agency policy.Agency) service.Invitee {
	return service.Invitee{Name: email, Email: email, Agency: agency, Role: "practitioner", Seniority: 2,
		Reply: policy.ReplyNeedsAction, AddedAt: T0}
}

// Discussion returns a proposed discussion due at deadline, with the
// invitees and one timeline event.
func Discussion(id string, deadline time.Time, invitees ...service.Invitee) *service.Discussion {
	age := 7
	return &service.Discussion{
		ID: id, CaseReference: "CR-" + id, Status: service.StatusProposed, UID: "uid-" + id + "@convene.example.org",
		Case: policy.Case{
			TimescaleRequest: policy.TimescaleRequest{RAG: policy.RAG("red"), Concerns: []policy.Concern{"serious_physical_injury"},
				ReferralReceivedAt: deadline.Add(-24 * time.Hour)},
			Child: policy.Child{AgeYears: &age, InHospital: "inpatient"},
		},
		Deadline:  deadline,
		Timescale: policy.Timescale{Profile: "default", Deadline: deadline, BindingRule: policy.RuleRef{ID: "S1", Citation: "000 §5"}},
		Attendance: policy.Attendance{Requirements: []policy.Requirement{{ID: "police", Name: "police", Agencies: []policy.Agency{"police"},
			MinSeniority: policy.Seniority{Level: 2, Label: "Sergeant"}, Essential: true}}},
		Duration:      time.Hour,
		Agenda:        []string{"Information sharing", "Decision on s47"},
		Invitees:      invitees,
		ProposedSlots: []calendar.Slot{{Start: deadline.Add(-2 * time.Hour), End: deadline.Add(-time.Hour), Score: 100, Free: []string{"a@example.org"}}},
		Timeline:      []service.Event{{At: deadline.Add(-24 * time.Hour), Actor: service.Actor{Subject: "bs1", Name: "Business support"}, Kind: "convened"}},
		CreatedBy:     service.Actor{Subject: "bs1", Name: "Business support"},
		CreatedAt:     deadline.Add(-24 * time.Hour),
		UpdatedAt:     deadline.Add(-24 * time.Hour),
		Version:       1,
	}
}

// Message returns a queued outbox message due at T0.
func Message(id string) *service.OutboxMessage {
	return &service.OutboxMessage{ID: id, DiscussionID: "d1", Method: "REQUEST", To: "pc@police.example.org", Sequence: 0,
		MessageID: "<" + id + "@convene.example.org>", EnvelopeFrom: "convene@example.org", Raw: []byte("Subject: test\r\n\r\nhello\r\n"),
		State: service.MessageQueued, NextAttempt: T0, CreatedAt: T0}
}

var ctx = context.Background()

// equal is cmp's options for stored records: an empty list reads back as
// nil, and times compare as instants.
var equal = cmp.Options{cmpopts.EquateEmpty()}

func mustCreate(t *testing.T, s service.Store, ds ...*service.Discussion) {
	t.Helper()
	for _, d := range ds {
		if err := s.CreateDiscussion(ctx, d); err != nil {
			t.Fatalf("create discussion %s: %v", d.ID, err)
		}
	}
}

func mustLoad(t *testing.T, s service.Store, id string) *service.Discussion {
	t.Helper()
	d, err := s.Discussion(ctx, id)
	if err != nil {
		t.Fatalf("load discussion %s: %v", id, err)
	}
	return d
}

func mustPatch(t *testing.T, s service.Store, p *service.DiscussionPatch) {
	t.Helper()
	if err := s.PatchDiscussion(ctx, p); err != nil {
		t.Fatalf("patch discussion %s: %v", p.ID, err)
	}
}

// wantCode fails the test unless err has the code.
func wantCode(t *testing.T, what string, err error, code string) {
	t.Helper()
	if got := service.ErrorCode(err); got != code {
		t.Errorf("%s: code %q (%v), want %q", what, got, err, code)
	}
}

// reply returns the patch recording email's reply on the discussion as
// loaded, made the way the domain makes it (service.Diff).
func reply(t *testing.T, d *service.Discussion, email string, r policy.ReplyStatus, at time.Time) *service.DiscussionPatch {
	t.Helper()
	after := d.Clone()
	for i := range after.Invitees {
		if after.Invitees[i].Email == email {
			after.Invitees[i].Reply, after.Invitees[i].RepliedAt = r, &at
			after.Timeline = append(after.Timeline, service.Event{At: at, Actor: service.Actor{Subject: email}, Kind: "reply", Detail: email + " " + string(r)})
			return service.Diff(d, after, at)
		}
	}
	t.Fatalf("no invitee %s", email)
	return nil
}

func ids(ds []service.Discussion) []string {
	var out []string
	for _, d := range ds {
		out = append(out, d.ID)
	}
	return out
}

// sameJSON compares two values as the API would show them.
func sameJSON(t *testing.T, what string, want, got any) {
	t.Helper()
	w, err1 := json.Marshal(want)
	g, err2 := json.Marshal(got)
	if err := errors.Join(err1, err2); err != nil {
		t.Fatal(err)
	}
	if string(w) != string(g) {
		t.Errorf("%s: got %s, want %s", what, g, w)
	}
}

func testPing(t *testing.T, s service.Store) {
	for i := range 3 {
		if err := s.Ping(ctx); err != nil {
			t.Fatalf("ping %d: %v", i, err)
		}
	}
}

func testReopen(t *testing.T, s service.Store, reopen func(*testing.T, service.Store) service.Store) {
	if err := s.CreatePerson(ctx, Person("p1", "keep@example.org")); err != nil {
		t.Fatal(err)
	}
	d := Discussion("d1", T0.Add(72*time.Hour), Invitee("a@example.org", "police"))
	mustCreate(t, s, d)
	for i := range 2 {
		s = reopen(t, s)
		if _, err := s.Person(ctx, "p1"); err != nil {
			t.Errorf("reopen %d: the person is gone: %v", i, err)
		}
		got := mustLoad(t, s, "d1")
		if diff := cmp.Diff(d, got, equal); diff != "" {
			t.Errorf("reopen %d: discussion (-want +got):\n%s", i, diff)
		}
		if err := s.CreatePerson(ctx, Person(fmt.Sprintf("q%d", i), "keep@example.org")); service.ErrorCode(err) != service.ECONFLICT {
			t.Errorf("reopen %d: the unique email index is gone: %v", i, err)
		}
	}
}
