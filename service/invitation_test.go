package service_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/convene/convene/service"
	"github.com/convene/convene/service/errs"
	"github.com/convene/convene/service/policy"
)

// The invitee's own answers from the web app (App.AnswerInvitation and
// DelegationWarning), on both stores.
func TestAnswerInvitation(t *testing.T) {
	t.Parallel()
	type result struct {
		reply   policy.ReplyStatus
		comment string
		held    int
		counter int
	}
	cases := []struct {
		name    string
		in      service.InvitationAnswer
		warning string // DelegationWarning for in.DelegateTo, when delegating
		err     *errs.Error
		want    result
	}{
		{"accept", service.InvitationAnswer{Answer: policy.ReplyAccepted}, "", nil, result{reply: policy.ReplyAccepted}},
		{"tentative", service.InvitationAnswer{Answer: policy.ReplyTentative}, "", nil, result{reply: policy.ReplyTentative}},
		{"decline with a reason kept", service.InvitationAnswer{Answer: policy.ReplyDeclined, Comment: " On leave "}, "", nil,
			result{reply: policy.ReplyDeclined, comment: "On leave"}},
		{"no answer", service.InvitationAnswer{}, "", &errs.Error{Code: errs.EINVALID, Fields: []errs.FieldError{{Field: "answer"}}},
			result{reply: policy.ReplyNeedsAction}},
		{"needs action is not an answer", service.InvitationAnswer{Answer: policy.ReplyNeedsAction}, "",
			&errs.Error{Code: errs.EINVALID, Fields: []errs.FieldError{{Field: "answer"}}}, result{reply: policy.ReplyNeedsAction}},
		{"a delegation to no address", service.InvitationAnswer{Answer: policy.ReplyDelegated, DelegateTo: "pat at the station"}, "",
			&errs.Error{Code: errs.EINVALID, Fields: []errs.FieldError{{Field: "delegate_to"}}}, result{reply: policy.ReplyNeedsAction}},
		{"a delegation to oneself", service.InvitationAnswer{Answer: policy.ReplyDelegated, DelegateTo: "Dana@Police.example.org"}, "",
			&errs.Error{Code: errs.EINVALID, Fields: []errs.FieldError{{Field: "delegate_to"}}}, result{reply: policy.ReplyNeedsAction}},
		{"a delegation below the seniority needed is held", service.InvitationAnswer{Answer: policy.ReplyDelegated, DelegateTo: "pat@police.example.org"},
			"below the minimum", nil, result{reply: policy.ReplyNeedsAction, held: 1}},
		{"a delegation to another agency is held", service.InvitationAnswer{Answer: policy.ReplyDelegated, DelegateTo: "nina@nhs.example.org"},
			"is from health", nil, result{reply: policy.ReplyNeedsAction, held: 1}},
		{"a delegation to someone not in the directory is held", service.InvitationAnswer{Answer: policy.ReplyDelegated, DelegateTo: "someone@police.example.org"},
			"not in the directory", nil, result{reply: policy.ReplyNeedsAction, held: 1}},
		{"a delegation to a colleague who meets it is applied", service.InvitationAnswer{Answer: policy.ReplyDelegated, DelegateTo: "sid@police.example.org"},
			"", nil, result{reply: policy.ReplyDelegated}},
		{"a proposed time is a counter proposal", service.InvitationAnswer{Comment: "after court", ProposedStart: tomorrowAt(time.Now(), 15)}, "", nil,
			result{reply: policy.ReplyNeedsAction, counter: 1}},
	}
	for _, st := range stores {
		t.Run(st.name, func(t *testing.T) {
			t.Parallel()
			for _, c := range cases {
				t.Run(c.name, func(t *testing.T) {
					t.Parallel()
					e := newEnv(t, st.open(t))
					admin := service.WithPrincipal(context.Background(), &service.Principal{Subject: "ada", Roles: []service.Role{service.RoleAdmin}})
					for _, p := range []service.Person{
						{Name: "Pat Constable", Email: "pat@police.example.org", Agency: policy.AgencyPolice, Role: "police_officer", Seniority: 1},
						{Name: "Sid Sergeant", Email: "sid@police.example.org", Agency: policy.AgencyPolice, Role: "police_officer", Seniority: 3},
					} {
						if _, err := e.app.CreatePerson(admin, p); err != nil {
							t.Fatal(err)
						}
					}
					d := e.convene(t, true)
					if c.in.Answer == policy.ReplyDelegated && c.err == nil {
						warning, err := e.app.DelegationWarning(e.police, d.ID, c.in.DelegateTo)
						if err != nil {
							t.Fatal(err)
						}
						if (c.warning == "") != (warning == "") || !strings.Contains(warning, c.warning) {
							t.Errorf("warning %q, want one saying %q", warning, c.warning)
						}
					}
					_, err := e.app.AnswerInvitation(e.police, d.ID, c.in)
					if c.err != nil {
						if !errs.Match(c.err, err) {
							t.Fatalf("error %v, want %v", err, c.err)
						}
					} else if err != nil {
						t.Fatal(err)
					}
					got, err := e.app.Store.Discussion(context.Background(), d.ID)
					if err != nil {
						t.Fatal(err)
					}
					var r result
					for _, inv := range got.Invitees {
						if inv.Email == "dana@police.example.org" {
							r.reply, r.comment = inv.Reply, inv.Comment
						}
					}
					r.held, r.counter = len(got.HeldReplies), len(got.Counters)
					if r != c.want {
						t.Errorf("got %+v, want %+v", r, c.want)
					}
				})
			}
		})
	}
}

// Only invitees answer, each for themselves.
func TestAnswerInvitationOnlyByInvitees(t *testing.T) {
	t.Parallel()
	e := newEnv(t, stores[0].open(t))
	d := e.convene(t, true)
	for name, ctx := range map[string]context.Context{
		"business support": e.bso,
		"an agency rep not invited": service.WithPrincipal(context.Background(), &service.Principal{Subject: "pat", Email: "pat@police.example.org",
			Roles: []service.Role{service.RoleAgencyRep}, Agency: policy.AgencyPolice}),
		"nobody": context.Background(),
	} {
		if _, err := e.app.AnswerInvitation(ctx, d.ID, service.InvitationAnswer{Answer: policy.ReplyAccepted}); err == nil {
			t.Errorf("%s answered", name)
		}
	}
	if _, err := e.app.DelegationWarning(e.bso, d.ID, "sid@police.example.org"); service.ErrorCode(err) != service.ENOTFOUND {
		t.Errorf("business support's delegation check: %v, want ENOTFOUND (not an invitee)", err)
	}
}
