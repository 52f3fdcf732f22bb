package mongodb_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/convene/convene/calendar"
	"github.com/convene/convene/service"
	"github.com/convene/convene/service/mongodb"
	"github.com/convene/convene/service/mongodb/mongodbtest"
)

func TestMain(m *testing.M) { mongodbtest.Main(m) }

func openStore(t *testing.T) *mongodb.Store { return mongodbtest.Store(t) }

func newPerson(id, email string) *service.Person {
	now := time.Date(2026, 11, 23, 9, 30, 0, 0, time.UTC)
	return &service.Person{
		ID: id, Name: "Sam Patel", Email: email, Agency: "police", Role: "police_officer",
		Seniority: 2, Chair: false, WorkingHours: calendar.DefaultWorkingHours, TimeZone: "Europe/London",
		Calendar: &service.CalendarSource{Type: "caldav", URL: "https://cal.example.org/dav/sam/", CredentialRef: "env:CONVENE_CRED_SAM"},
		Active:   true, Version: 1, CreatedAt: now, UpdatedAt: now,
	}
}

func TestPersonRoundTrip(t *testing.T) {
	s := openStore(t)
	ctx := context.Background()
	want := newPerson("p1", "sam.patel@police.example.org")
	if err := s.CreatePerson(ctx, want); err != nil {
		t.Fatal(err)
	}
	got, err := s.Person(ctx, "p1")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("person after round trip (-want +got):\n%s", diff)
	}
	byEmail, err := s.PersonByEmail(ctx, "sam.patel@police.example.org")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := byEmail.ID, "p1"; got != want {
		t.Errorf("by email: id = %q, want %q", got, want)
	}
	if _, err := s.Person(ctx, "nope"); service.ErrorCode(err) != service.ENOTFOUND {
		t.Errorf("missing person: err = %v, want ENOTFOUND", err)
	}
}

func TestPersonEmailUnique(t *testing.T) {
	s := openStore(t)
	ctx := context.Background()
	if err := s.CreatePerson(ctx, newPerson("p1", "dup@example.org")); err != nil {
		t.Fatal(err)
	}
	err := s.CreatePerson(ctx, newPerson("p2", "dup@example.org"))
	if got, want := service.ErrorCode(err), service.ECONFLICT; got != want {
		t.Fatalf("second person with the same email: code = %q (%v), want %q", got, err, want)
	}
	if _, err := s.Person(ctx, "p2"); service.ErrorCode(err) != service.ENOTFOUND {
		t.Errorf("the refused person was stored anyway: %v", err)
	}
	// Changing someone else's email to a taken one is refused too.
	other := newPerson("p3", "other@example.org")
	if err := s.CreatePerson(ctx, other); err != nil {
		t.Fatal(err)
	}
	other.Email = "dup@example.org"
	if got, want := service.ErrorCode(s.UpdatePerson(ctx, other)), service.ECONFLICT; got != want {
		t.Errorf("update to a taken email: code = %q, want %q", got, want)
	}
}

func TestPersonOptimisticConcurrency(t *testing.T) {
	s := openStore(t)
	ctx := context.Background()
	if err := s.CreatePerson(ctx, newPerson("p1", "a@example.org")); err != nil {
		t.Fatal(err)
	}
	// Two writers read version 1 and both try to update it at once.
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p := newPerson("p1", "a@example.org")
			p.Role = fmt.Sprintf("role-%d", i)
			errs[i] = s.UpdatePerson(ctx, p)
		}()
	}
	wg.Wait()
	var won, conflicts int
	for _, err := range errs {
		switch service.ErrorCode(err) {
		case "":
			won++
		case service.ECONFLICT:
			conflicts++
		default:
			t.Errorf("unexpected error: %v", err)
		}
	}
	if won != 1 || conflicts != 1 {
		t.Fatalf("two updates from version 1: %d succeeded and %d conflicted, want 1 and 1", won, conflicts)
	}
	got, err := s.Person(ctx, "p1")
	if err != nil {
		t.Fatal(err)
	}
	if got.Version != 2 {
		t.Errorf("version after one successful update = %d, want 2", got.Version)
	}
	// An update to a person that does not exist is not a conflict.
	if got, want := service.ErrorCode(s.UpdatePerson(ctx, newPerson("ghost", "g@example.org"))), service.ENOTFOUND; got != want {
		t.Errorf("update of a missing person: code = %q, want %q", got, want)
	}
}

func TestPeoplePaging(t *testing.T) {
	s := openStore(t)
	ctx := context.Background()
	for i := range 5 {
		p := newPerson(fmt.Sprintf("p%d", i), fmt.Sprintf("p%d@example.org", i))
		if i%2 == 0 {
			p.Agency = "health"
		}
		if err := s.CreatePerson(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	page, err := s.People(ctx, service.PersonFilter{Agency: "health", Limit: 2})
	if err != nil {
		t.Fatal(err)
	}
	next, err := s.People(ctx, service.PersonFilter{Agency: "health", Limit: 2, After: page[len(page)-1].ID})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, p := range append(page, next...) {
		ids = append(ids, p.ID)
	}
	if diff := cmp.Diff([]string{"p0", "p2", "p4"}, ids); diff != "" {
		t.Errorf("health people over two pages (-want +got):\n%s", diff)
	}
}

func TestAuditAppendOnly(t *testing.T) {
	s := openStore(t)
	ctx := context.Background()
	at := time.Date(2026, 3, 29, 0, 59, 0, 0, time.UTC)
	for i, action := range []string{"person.create", "person.update", "person.update"} {
		e := &service.AuditEntry{ID: fmt.Sprintf("a%d", i), At: at.Add(time.Duration(i) * time.Minute),
			Actor: service.Actor{Subject: "u1", Name: "Admin"}, Action: action, Resource: "people/p1",
			RequestID: fmt.Sprintf("r%d", i), Detail: map[string]any{"version": int64(i + 1)}}
		if err := s.AppendAudit(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.AppendAudit(ctx, &service.AuditEntry{ID: "a0", Action: "tamper"}); service.ErrorCode(err) != service.ECONFLICT {
		t.Errorf("overwriting an audit entry by id: err = %v, want ECONFLICT", err)
	}
	got, err := s.Audit(ctx, service.AuditFilter{Resource: "people/p1", Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, e := range got {
		actions = append(actions, e.ID+":"+e.Action)
	}
	if diff := cmp.Diff([]string{"a2:person.update", "a1:person.update", "a0:person.create"}, actions); diff != "" {
		t.Errorf("audit newest first (-want +got):\n%s", diff)
	}
	if got, want := got[0].Detail["version"], any(int64(3)); got != want {
		t.Errorf("detail version = %#v, want %#v", got, want)
	}
}

// TestReopen opens the same database twice, as every restart does: creating
// indexes that already exist must succeed and keep the data.
func TestReopen(t *testing.T) {
	ctx := context.Background()
	db := fmt.Sprintf("reopen_%d", time.Now().UnixNano())
	for i := range 3 {
		s, err := mongodb.Open(ctx, mongodbtest.URI(), db)
		if err != nil {
			t.Fatalf("open %d: %v", i, err)
		}
		if i == 0 {
			if err := s.CreatePerson(ctx, newPerson("p1", "keep@example.org")); err != nil {
				t.Fatal(err)
			}
		} else if _, err := s.Person(ctx, "p1"); err != nil {
			t.Errorf("open %d: the person is gone: %v", i, err)
		}
		_ = s.Close(ctx)
	}
}

func asError(err error, target **service.Error) bool { return errors.As(err, target) }
