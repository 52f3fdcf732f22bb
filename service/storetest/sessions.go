package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/convene/convene/service"
	"github.com/convene/convene/service/policy"
)

// RunSessions checks a store's web sessions (service.SessionStore): the
// round trip, the version guard that counts attempts at a code, deletion
// and pruning. Each check opens a fresh store.
func RunSessions(t *testing.T, open func(t *testing.T) service.Store) {
	for _, c := range []struct {
		name string
		fn   func(t *testing.T, s service.Store)
	}{
		{"RoundTrip", testSessionRoundTrip},
		{"VersionGuard", testSessionVersionGuard},
		{"DeleteAndPrune", testSessionDeleteAndPrune},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			c.fn(t, open(t))
		})
	}
}

func session(id string, created time.Time) *service.Session {
	return &service.Session{ID: id, Partner: true, DiscussionID: "d1", CSRF: "csrf-" + id,
		Principal: service.Principal{Subject: "partner:dana@police.example.org", Name: "Dana Inspector", Email: "dana@police.example.org",
			Roles: []service.Role{service.RoleAgencyRep}, Agency: policy.AgencyPolice},
		CreatedAt: created, SeenAt: created, ExpiresAt: created.Add(30 * time.Minute),
		CodeHash: "hash", CodeExpiresAt: created.Add(10 * time.Minute), CodeSends: 1, CodeSentAt: created}
}

func testSessionRoundTrip(t *testing.T, s service.Store) {
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Millisecond)
	in := session("s1", now)
	if err := s.CreateSession(ctx, in); err != nil {
		t.Fatal(err)
	}
	if in.Version != 1 {
		t.Errorf("created at version %d, want 1", in.Version)
	}
	got, err := s.Session(ctx, "s1")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(in, got); diff != "" {
		t.Errorf("session round trip (-stored +read):\n%s", diff)
	}
	if err := s.CreateSession(ctx, session("s1", now)); service.ErrorCode(err) != service.ECONFLICT {
		t.Errorf("a second session with the id: %v, want ECONFLICT", err)
	}
	if _, err := s.Session(ctx, "none"); service.ErrorCode(err) != service.ENOTFOUND {
		t.Errorf("a missing session: %v, want ENOTFOUND", err)
	}
}

func testSessionVersionGuard(t *testing.T, s service.Store) {
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Millisecond)
	if err := s.CreateSession(ctx, session("s1", now)); err != nil {
		t.Fatal(err)
	}
	a, err := s.Session(ctx, "s1")
	if err != nil {
		t.Fatal(err)
	}
	b, err := s.Session(ctx, "s1")
	if err != nil {
		t.Fatal(err)
	}
	a.CodeAttempts++
	if err := s.UpdateSession(ctx, a); err != nil {
		t.Fatal(err)
	}
	if a.Version != 2 {
		t.Errorf("updated to version %d, want 2", a.Version)
	}
	// b was read before a's attempt was counted: its write must fail.
	b.CodeAttempts++
	if err := s.UpdateSession(ctx, b); service.ErrorCode(err) != service.ECONFLICT {
		t.Fatalf("a stale update: %v, want ECONFLICT", err)
	}
	got, err := s.Session(ctx, "s1")
	if err != nil {
		t.Fatal(err)
	}
	if got.CodeAttempts != 1 || got.Version != 2 {
		t.Errorf("attempts %d version %d, want 1 and 2", got.CodeAttempts, got.Version)
	}
	gone := session("gone", now)
	gone.Version = 1
	if err := s.UpdateSession(ctx, gone); service.ErrorCode(err) != service.ENOTFOUND {
		t.Errorf("updating a missing session: %v, want ENOTFOUND", err)
	}
}

func testSessionDeleteAndPrune(t *testing.T, s service.Store) {
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Millisecond)
	old, fresh, other := session("old", now.Add(-time.Hour)), session("fresh", now), session("other", now)
	for _, x := range []*service.Session{old, fresh, other} {
		if err := s.CreateSession(ctx, x); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.PruneSessions(ctx, now); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Session(ctx, "old"); service.ErrorCode(err) != service.ENOTFOUND {
		t.Errorf("an expired session survived pruning: %v", err)
	}
	if _, err := s.Session(ctx, "fresh"); err != nil {
		t.Errorf("pruning removed a live session: %v", err)
	}
	if err := s.DeleteSession(ctx, "other"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Session(ctx, "other"); service.ErrorCode(err) != service.ENOTFOUND {
		t.Errorf("a deleted session is still there: %v", err)
	}
	if err := s.DeleteSession(ctx, "other"); err != nil {
		t.Errorf("deleting it again: %v", err)
	}
}
