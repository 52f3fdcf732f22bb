package service_test

import (
	"context"
	"reflect"
	"testing"

	"github.com/convene/convene/service"
	"github.com/convene/convene/service/policy"
)

// TestForecastsAreQuorumsForecasts: a page of forecasts from the list's
// summaries (Today's) is, discussion by discussion, what Quorum forecasts
// from a whole read: before any reply, with replies, with a delegation
// to a colleague the directory knows, and none for a closed discussion or
// one the caller may not see. The page's forecasts are one audited read.
func TestForecastsAreQuorumsForecasts(t *testing.T) {
	t.Parallel()
	for _, st := range stores {
		t.Run(st.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, st.open(t))
			ctx := context.Background()
			admin := service.WithPrincipal(ctx, &service.Principal{Subject: "ada", Roles: []service.Role{service.RoleAdmin}})
			if _, err := e.app.CreatePerson(admin, service.Person{Name: "Sid Sergeant", Email: "sid@police.example.org",
				Agency: policy.AgencyPolice, Role: "police_officer", Seniority: 3}); err != nil {
				t.Fatal(err)
			}
			fresh := e.convene(t, false)
			replied := e.convene(t, true)
			for _, a := range []struct {
				who    context.Context
				answer policy.ReplyStatus
			}{{e.police, policy.ReplyAccepted}, {e.chair, policy.ReplyDeclined}} {
				if _, err := e.app.AnswerInvitation(a.who, replied.ID, service.InvitationAnswer{Answer: a.answer}); err != nil {
					t.Fatal(err)
				}
			}
			delegated := e.book(t, e.convene(t, false).ID, tomorrowAt(e.now, 14))
			if _, err := e.app.AnswerInvitation(e.police, delegated.ID, service.InvitationAnswer{Answer: policy.ReplyDelegated,
				DelegateTo: "sid@police.example.org"}); err != nil {
				t.Fatal(err)
			}
			cancelled := e.convene(t, false)
			if _, err := e.app.Cancel(e.bso, cancelled.ID, "test: not needed"); err != nil {
				t.Fatal(err)
			}
			open := []string{fresh.ID, replied.ID, delegated.ID}
			ds, err := e.app.Discussions(e.bso, service.DiscussionFilter{IDs: append(open, cancelled.ID)})
			if err != nil || len(ds) != 4 {
				t.Fatalf("the list: %d discussions, %v", len(ds), err)
			}
			got, err := e.app.Forecasts(e.bso, ds)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(open) {
				t.Errorf("%d forecasts, want one per open discussion (%d): %v", len(got), len(open), got)
			}
			for _, id := range open {
				q, err := e.app.Quorum(e.bso, id)
				if err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(got[id], q.Forecast) {
					t.Errorf("%s: forecast from the list %+v, want Quorum's %+v", id, got[id], q.Forecast)
				}
			}
			if got[delegated.ID].Summary == got[fresh.ID].Summary && got[replied.ID].Summary == got[fresh.ID].Summary {
				t.Errorf("replies and the delegation changed no forecast: %+v", got)
			}
			// Someone who may not see a discussion gets no forecast of it.
			outsider := service.WithPrincipal(ctx, &service.Principal{Subject: "oz", Email: "oz@police.example.org",
				Roles: []service.Role{service.RoleAgencyRep}, Agency: policy.AgencyPolice})
			if none, err := e.app.Forecasts(outsider, ds); err != nil || len(none) != 0 {
				t.Errorf("an outsider's forecasts: %v, %v", none, err)
			}
			entries, err := e.app.Store.Audit(ctx, service.AuditFilter{Resource: "discussions", Limit: 100})
			if err != nil {
				t.Fatal(err)
			}
			reads := 0
			for _, en := range entries {
				if en.Action == "discussion.quorum.read" {
					reads++
				}
			}
			if reads != 1 {
				t.Errorf("%d audited quorum reads of the list, want 1", reads)
			}
		})
	}
}
