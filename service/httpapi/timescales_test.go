package httpapi_test

import (
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/convene/convene/service"
)

// timescaleView is POST /v1/timescales' answer as a client reads it. The
// times stay strings, so the tests see the offset the service wrote.
type timescaleView struct {
	Region      string `json:"region"`
	TimeZone    string `json:"time_zone"`
	Deadline    string `json:"deadline"`
	BindingRule struct {
		ID, Summary, Citation string
	} `json:"binding_rule"`
	Rules []struct {
		ID       string `json:"id"`
		Citation string `json:"citation"`
		Period   string `json:"period"`
		Deadline string `json:"deadline"`
		Binding  bool   `json:"binding"`
	} `json:"rules"`
	DecisionDue *struct {
		ID       string `json:"id"`
		RAG      string `json:"rag"`
		Citation string `json:"citation"`
		Due      string `json:"due"`
	} `json:"decision_due"`
	FollowOn []struct {
		ID       string `json:"id"`
		Citation string `json:"citation"`
		Period   string `json:"period"`
	} `json:"follow_on"`
}

// ruleLine is one matched rule as the tests compare it.
type ruleLine struct{ ID, Citation, Deadline string }

func (v timescaleView) ruleLines() []ruleLine {
	var out []ruleLine
	for _, r := range v.Rules {
		out = append(out, ruleLine{r.ID, r.Citation, r.Deadline})
	}
	return out
}

// TestTimescales asks the API by when a discussion must be held for
// representative cases, with the expected instants worked out by hand from
// DOMAIN.md's table (and a 2026 calendar), not by the code.
func TestTimescales(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	bso := token(t, service.RoleBusinessSupport, "social_care")

	type decision struct{ ID, RAG, Citation, Due string }
	tests := []struct {
		name     string
		body     map[string]any
		deadline string
		binding  ruleLine
		rules    []ruleLine
		region   string
		decision *decision
	}{
		{
			// Tuesday 16 June 2026: three working days are Wed, Thu, Fri.
			name:     "general rule, amber, summer time",
			body:     map[string]any{"rag": "amber", "referral_received_at": "2026-06-16T10:00:00+01:00"},
			deadline: "2026-06-19T17:00:00+01:00",
			binding:  ruleLine{"G1", "002 §6, 003 §3", "2026-06-19T17:00:00+01:00"},
			rules:    []ruleLine{{"G1", "002 §6, 003 §3", "2026-06-19T17:00:00+01:00"}},
			region:   "england-and-wales",
			decision: &decision{"RAG-A", "amber", "001", "2026-06-17T10:00:00+01:00"},
		},
		{
			// Serious injury on a winter Thursday morning: the same day,
			// though red (1 working day, Friday) also applies. Decision
			// due 4 hours from contact.
			name:     "serious injury, red, winter",
			body:     map[string]any{"rag": "red", "concerns": []string{"serious_physical_injury"}, "referral_received_at": "2026-01-15T09:30:00Z"},
			deadline: "2026-01-15T23:59:59Z",
			binding:  ruleLine{"S1", "000 §5, 002 §6", "2026-01-15T23:59:59Z"},
			rules: []ruleLine{
				{"S1", "000 §5, 002 §6", "2026-01-15T23:59:59Z"},
				{"U2", "003 §3, 001", "2026-01-16T17:00:00Z"},
			},
			region:   "england-and-wales",
			decision: &decision{"RAG-R", "red", "001", "2026-01-15T13:30:00Z"},
		},
		{
			// An allegation against staff identified on a Friday at 16:00:
			// five working days are Mon 13 to Fri 17 July. The general
			// rule does not apply beside a specific one.
			name: "allegation against staff, green, Friday",
			body: map[string]any{"rag": "green", "concerns": []string{"allegation_against_staff"},
				"referral_received_at": "2026-07-10T09:00:00+01:00", "concerns_identified_at": "2026-07-10T16:00:00+01:00"},
			deadline: "2026-07-17T17:00:00+01:00",
			binding:  ruleLine{"C1", "002 §6", "2026-07-17T17:00:00+01:00"},
			rules:    []ruleLine{{"C1", "002 §6", "2026-07-17T17:00:00+01:00"}},
			region:   "england-and-wales",
			decision: &decision{"RAG-G", "green", "001", "2026-07-13T09:00:00+01:00"},
		},
		{
			// Friday 27 November 2026; Monday 30th is St Andrew's Day, a
			// bank holiday in Scotland only.
			name:     "Scotland skips St Andrew's Day",
			body:     map[string]any{"region": "scotland", "referral_received_at": "2026-11-27T11:00:00Z"},
			deadline: "2026-12-03T17:00:00Z",
			binding:  ruleLine{"G1", "002 §6, 003 §3", "2026-12-03T17:00:00Z"},
			rules:    []ruleLine{{"G1", "002 §6, 003 §3", "2026-12-03T17:00:00Z"}},
			region:   "scotland",
		},
		{
			name:     "England and Wales works on St Andrew's Day",
			body:     map[string]any{"referral_received_at": "2026-11-27T11:00:00Z"},
			deadline: "2026-12-02T17:00:00Z",
			binding:  ruleLine{"G1", "002 §6, 003 §3", "2026-12-02T17:00:00Z"},
			rules:    []ruleLine{{"G1", "002 §6, 003 §3", "2026-12-02T17:00:00Z"}},
			region:   "england-and-wales",
		},
		{
			// Emergency protection on Christmas Eve 2026 (a Thursday):
			// Christmas Day and Boxing Day (a Saturday, substitute Monday
			// 28th) are not working days, so one working day is Tuesday
			// 29 December.
			name:     "emergency action on Christmas Eve",
			body:     map[string]any{"referral_received_at": "2026-12-24T14:00:00Z", "emergency_action_at": "2026-12-24T15:30:00Z"},
			deadline: "2026-12-29T17:00:00Z",
			binding:  ruleLine{"U1", "000 §5, 002 §6", "2026-12-29T17:00:00Z"},
			rules:    []ruleLine{{"U1", "000 §5, 002 §6", "2026-12-29T17:00:00Z"}},
			region:   "england-and-wales",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := h.do("POST", "/v1/timescales", bso, tt.body)
			if r.Status != http.StatusOK {
				t.Fatalf("status = %d: %s", r.Status, r.Body)
			}
			conforms(t, "POST", "/v1/timescales", r)
			var got timescaleView
			decodeInto(t, r.Body, &got)
			if got.Deadline != tt.deadline {
				t.Errorf("deadline = %s, want %s", got.Deadline, tt.deadline)
			}
			if b := (ruleLine{got.BindingRule.ID, got.BindingRule.Citation, got.Deadline}); b != tt.binding {
				t.Errorf("binding rule = %+v, want %+v", b, tt.binding)
			}
			if got.BindingRule.Summary == "" {
				t.Error("the binding rule has no summary")
			}
			if diff := cmp.Diff(tt.rules, got.ruleLines()); diff != "" {
				t.Errorf("rules (-want +got):\n%s", diff)
			}
			for _, rl := range got.Rules {
				if got, want := rl.Binding, rl.ID == tt.binding.ID; got != want {
					t.Errorf("rule %s: binding = %v, want %v", rl.ID, got, want)
				}
			}
			if got.Region != tt.region {
				t.Errorf("region = %q, want %q", got.Region, tt.region)
			}
			if got.TimeZone != "Europe/London" {
				t.Errorf("time_zone = %q, want Europe/London", got.TimeZone)
			}
			switch {
			case tt.decision == nil && got.DecisionDue != nil:
				t.Errorf("decision_due = %+v, want none without a RAG rating", *got.DecisionDue)
			case tt.decision != nil && got.DecisionDue == nil:
				t.Errorf("no decision_due, want %+v", *tt.decision)
			case tt.decision != nil:
				d := decision{got.DecisionDue.ID, got.DecisionDue.RAG, got.DecisionDue.Citation, got.DecisionDue.Due}
				if d != *tt.decision {
					t.Errorf("decision_due = %+v, want %+v", d, *tt.decision)
				}
			}
			// What follows once the discussion is held (DOMAIN.md's
			// follow-on list), each with its period and citation.
			for _, want := range []struct{ id, period string }{
				{"RECORD", "1 working day"}, {"ICPC", "15 working days"}, {"S47", "5 working days"},
				{"LADO", "1 working day"}, {"SEEN", "24 hours"}, {"RECONVENE", "72 hours"},
			} {
				i := slices.IndexFunc(got.FollowOn, func(f struct {
					ID       string `json:"id"`
					Citation string `json:"citation"`
					Period   string `json:"period"`
				}) bool {
					return f.ID == want.id
				})
				if i < 0 {
					t.Errorf("follow_on has no %s: %s", want.id, r.Body)
					continue
				}
				if f := got.FollowOn[i]; f.Period != want.period || f.Citation == "" {
					t.Errorf("follow_on %s = %+v, want period %q and a citation", want.id, f, want.period)
				}
			}
		})
	}
}

// TestTimescaleAcrossMarchClockChange: on Sunday 29 March 2026 the clocks
// go forward. A 72-hour rule moves the local time of its deadline by an
// hour; a working-day rule still ends at 17:00 local.
func TestTimescaleAcrossMarchClockChange(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	tok := token(t, service.RoleChair, "social_care")
	ask := func(body map[string]any) timescaleView {
		t.Helper()
		r := h.do("POST", "/v1/timescales", tok, body)
		if r.Status != http.StatusOK {
			t.Fatalf("status = %d: %s", r.Status, r.Body)
		}
		var v timescaleView
		decodeInto(t, r.Body, &v)
		return v
	}

	deferred := time.Date(2026, 3, 27, 10, 0, 0, 0, time.UTC) // Friday, GMT
	v := ask(map[string]any{"referral_received_at": "2026-03-26T09:00:00Z", "deferred_at": deferred.Format(time.RFC3339)})
	if v.BindingRule.ID != "D1" {
		t.Errorf("binding rule = %s, want D1 (reconvene within 72 hours)", v.BindingRule.ID)
	}
	if got, want := v.Deadline, "2026-03-30T11:00:00+01:00"; got != want {
		t.Errorf("72-hour deadline = %s, want %s (10:00 GMT + 72 h is 11:00 BST)", got, want)
	}
	if got, err := time.Parse(time.RFC3339, v.Deadline); err != nil || got.Sub(deferred) != 72*time.Hour {
		t.Errorf("deadline %s is not 72 elapsed hours after %s", v.Deadline, deferred)
	}

	v = ask(map[string]any{"referral_received_at": "2026-03-27T15:00:00Z"})
	if got, want := v.Deadline, "2026-04-01T17:00:00+01:00"; got != want {
		t.Errorf("3-working-day deadline = %s, want %s (Mon 30, Tue 31, Wed 1, at 17:00 local)", got, want)
	}
}

// TestTimescaleRefusals: what the caller got wrong is named, as a 422
// problem with the field; anyone signed in may ask; nobody else.
func TestTimescaleRefusals(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	bso := token(t, service.RoleBusinessSupport, "social_care")
	at := "2026-06-16T10:00:00+01:00"
	tests := []struct {
		name  string
		body  any
		field string
	}{
		{"unknown concern", map[string]any{"concerns": []string{"serious_neglect", "witchcraft"}, "referral_received_at": at}, "concerns[1]"},
		{"unknown region", map[string]any{"region": "wales", "referral_received_at": at}, "region"},
		{"unknown profile", map[string]any{"profile": "atlantis", "referral_received_at": at}, "profile"},
		{"no referral time", map[string]any{"rag": "red"}, "referral_received_at"},
		{"unknown field", map[string]any{"child_name": "Not to be sent", "referral_received_at": at}, "child_name"},
		{"unknown RAG", map[string]any{"rag": "purple", "referral_received_at": at}, "rag"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := h.do("POST", "/v1/timescales", bso, tt.body)
			conforms(t, "POST", "/v1/timescales", r)
			p := problemOf(t, r, http.StatusUnprocessableEntity)
			if diff := cmp.Diff([]string{tt.field}, fieldsOf(p)); diff != "" {
				t.Errorf("fields at fault (-want +got):\n%s\nproblem: %v", diff, p)
			}
		})
	}

	body := map[string]any{"referral_received_at": at}
	for _, role := range []service.Role{service.RoleBusinessSupport, service.RoleChair, service.RoleAgencyRep, service.RoleAdmin, service.RoleMailGateway} {
		if r := h.do("POST", "/v1/timescales", token(t, role, "police"), body); r.Status != http.StatusOK {
			t.Errorf("%s: status = %d, want 200: %s", role, r.Status, r.Body)
		}
	}
	r := h.do("POST", "/v1/timescales", "", body)
	problemOf(t, r, http.StatusUnauthorized)
	if r.Header.Get("WWW-Authenticate") == "" {
		t.Error("401 without WWW-Authenticate")
	}
}
