package storetest

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/convene/convene/service"
)

func testPersonRoundTrip(t *testing.T, s service.Store) {
	want := Person("p1", "sam.patel@police.example.org")
	if err := s.CreatePerson(ctx, want); err != nil {
		t.Fatal(err)
	}
	got, err := s.Person(ctx, "p1")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got, equal); diff != "" {
		t.Errorf("person after round trip (-want +got):\n%s", diff)
	}
	byEmail, err := s.PersonByEmail(ctx, "sam.patel@police.example.org")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := byEmail.ID, "p1"; got != want {
		t.Errorf("by email: id = %q, want %q", got, want)
	}
	_, err = s.Person(ctx, "nope")
	wantCode(t, "missing person", err, service.ENOTFOUND)
	_, err = s.PersonByEmail(ctx, "nobody@example.org")
	wantCode(t, "missing email", err, service.ENOTFOUND)
	wantCode(t, "the same id again", s.CreatePerson(ctx, Person("p1", "other@example.org")), service.ECONFLICT)
}

func testPersonEmailUnique(t *testing.T, s service.Store) {
	if err := s.CreatePerson(ctx, Person("p1", "dup@example.org")); err != nil {
		t.Fatal(err)
	}
	err := s.CreatePerson(ctx, Person("p2", "dup@example.org"))
	wantCode(t, "second person with the same email", err, service.ECONFLICT)
	var e *service.Error
	if !errors.As(err, &e) || len(e.Fields) != 1 || e.Fields[0].Field != "email" {
		t.Errorf("the conflict does not name the email field: %#v", err)
	}
	if _, err := s.Person(ctx, "p2"); service.ErrorCode(err) != service.ENOTFOUND {
		t.Errorf("the refused person was stored anyway: %v", err)
	}
	// Changing someone else's email to a taken one is refused too, and
	// leaves them as they were.
	other := Person("p3", "other@example.org")
	if err := s.CreatePerson(ctx, other); err != nil {
		t.Fatal(err)
	}
	other.Email = "dup@example.org"
	wantCode(t, "update to a taken email", s.UpdatePerson(ctx, other), service.ECONFLICT)
	if got, err := s.Person(ctx, "p3"); err != nil || got.Email != "other@example.org" || got.Version != 1 {
		t.Errorf("after the refused update: %+v %v", got, err)
	}
}

func testPersonVersion(t *testing.T, s service.Store) {
	if err := s.CreatePerson(ctx, Person("p1", "a@example.org")); err != nil {
		t.Fatal(err)
	}
	p := Person("p1", "a@example.org")
	p.Role = "detective_sergeant"
	if err := s.UpdatePerson(ctx, p); err != nil {
		t.Fatal(err)
	}
	if p.Version != 2 {
		t.Errorf("version after update = %d, want 2", p.Version)
	}
	stale := Person("p1", "a@example.org")
	stale.Role = "stale"
	wantCode(t, "update from version 1 after version 2", s.UpdatePerson(ctx, stale), service.ECONFLICT)
	if stale.Version != 1 {
		t.Errorf("a refused update changed the caller's version to %d", stale.Version)
	}
	got, err := s.Person(ctx, "p1")
	if err != nil {
		t.Fatal(err)
	}
	if got.Version != 2 || got.Role != "detective_sergeant" {
		t.Errorf("stored: version %d role %q, want 2 detective_sergeant", got.Version, got.Role)
	}
	wantCode(t, "update of a missing person", s.UpdatePerson(ctx, Person("ghost", "g@example.org")), service.ENOTFOUND)
}

func testPeoplePaging(t *testing.T, s service.Store) {
	for i := range 7 {
		p := Person(fmt.Sprintf("p%d", i), fmt.Sprintf("p%d@example.org", i))
		if i%2 == 0 {
			p.Agency = "health"
		}
		p.Chair = i%3 == 0
		if err := s.CreatePerson(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	yes := true
	for _, tt := range []struct {
		name string
		f    service.PersonFilter
		want []string
	}{
		{"all", service.PersonFilter{}, []string{"p0", "p1", "p2", "p3", "p4", "p5", "p6"}},
		{"health", service.PersonFilter{Agency: "health"}, []string{"p0", "p2", "p4", "p6"}},
		{"chairs", service.PersonFilter{Chair: &yes}, []string{"p0", "p3", "p6"}},
		{"by email", service.PersonFilter{Email: "p5@example.org"}, []string{"p5"}},
		{"after", service.PersonFilter{After: "p4"}, []string{"p5", "p6"}},
		{"health chairs", service.PersonFilter{Agency: "health", Chair: &yes}, []string{"p0", "p6"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			// Two at a time, following the cursor.
			var got []string
			f := tt.f
			f.Limit = 2
			for range 10 {
				page, err := s.People(ctx, f)
				if err != nil {
					t.Fatal(err)
				}
				for _, p := range page {
					got = append(got, p.ID)
				}
				if len(page) < f.Limit {
					break
				}
				f.After = page[len(page)-1].ID
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func auditEntry(i int, resource, actor string) service.AuditEntry {
	return service.AuditEntry{ID: fmt.Sprintf("a%03d", i), At: T0.Add(time.Duration(i) * time.Minute),
		Actor: service.Actor{Subject: actor, Name: "Admin " + actor}, Action: "person.update", Resource: resource,
		RequestID: fmt.Sprintf("r%d", i), Detail: map[string]any{"version": i + 1, "fields": []any{"role"}, "note": "ok"}}
}

func testAuditAppendOnly(t *testing.T, s service.Store) {
	batch := []service.AuditEntry{auditEntry(0, "people/p1", "u1"), auditEntry(1, "people/p1", "u1"), auditEntry(2, "people/p1", "u2")}
	if err := s.AppendAudit(ctx, batch); err != nil {
		t.Fatal(err)
	}
	// A batch with one id already written is refused whole.
	err := s.AppendAudit(ctx, []service.AuditEntry{auditEntry(3, "people/p1", "u1"), {ID: "a000", Action: "tamper", Resource: "people/p1"}, auditEntry(4, "people/p1", "u1")})
	wantCode(t, "a batch overwriting an entry", err, service.ECONFLICT)
	got, err := s.Audit(ctx, service.AuditFilter{Resource: "people/p1", Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, e := range got {
		actions = append(actions, e.ID+":"+e.Action)
	}
	if diff := cmp.Diff([]string{"a002:person.update", "a001:person.update", "a000:person.update"}, actions); diff != "" {
		t.Errorf("audit newest first, the refused batch absent (-want +got):\n%s", diff)
	}
	if len(got) == 3 {
		if diff := cmp.Diff(batch[2], got[0], cmp.FilterPath(func(p cmp.Path) bool { return p.Last().String() == ".Detail" }, cmp.Ignore())); diff != "" {
			t.Errorf("entry round trip (-want +got):\n%s", diff)
		}
		sameJSON(t, "detail", batch[2].Detail, got[0].Detail)
	}
	if err := s.AppendAudit(ctx, nil); err != nil {
		t.Errorf("an empty batch: %v", err)
	}
}

func testAuditPaging(t *testing.T, s service.Store) {
	var all []service.AuditEntry
	for i := range 9 {
		actor := "u1"
		if i%3 == 0 {
			actor = "u2"
		}
		all = append(all, auditEntry(i, fmt.Sprintf("people/p%d", i%2), actor))
	}
	if err := s.AppendAudit(ctx, all); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		f    service.AuditFilter
		want []string
	}{
		{"all", service.AuditFilter{}, []string{"a008", "a007", "a006", "a005", "a004", "a003", "a002", "a001", "a000"}},
		{"resource", service.AuditFilter{Resource: "people/p1"}, []string{"a007", "a005", "a003", "a001"}},
		{"actor", service.AuditFilter{Actor: "u2"}, []string{"a006", "a003", "a000"}},
		{"before", service.AuditFilter{Before: "a003"}, []string{"a002", "a001", "a000"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			f := tt.f
			f.Limit = 2
			for range 10 {
				page, err := s.Audit(ctx, f)
				if err != nil {
					t.Fatal(err)
				}
				for _, e := range page {
					got = append(got, e.ID)
				}
				if len(page) < f.Limit {
					break
				}
				f.Before = page[len(page)-1].ID
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}
