package service_test

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/convene/convene/service"
	"github.com/convene/convene/service/policy"
)

// The record, its circulation and sign-up, and follow-ons as work, as use
// cases of the App on both stores.

// clock is a movable clock for the App.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

var rsvpKey = []byte("record-test-key-0123456789abcdef")

// concludedEnv is an env whose discussion was held with everyone checked
// in and concluded with an s47 outcome, on a clock the test moves.
func concludedEnv(t *testing.T, store service.Store) (*env, *clock, *service.Discussion) {
	t.Helper()
	e := newEnv(t, store)
	c := &clock{now: e.now}
	e.app.Now = c.Now
	e.app.Mail.RSVPKey, e.app.Mail.PublicURL = rsvpKey, "https://convene.council.example.org"
	d := e.convene(t, true)
	for _, who := range []string{"chris@council.example.org", "sam@council.example.org", "dana@police.example.org", "nina@nhs.example.org"} {
		if _, err := e.app.RecordAttendance(e.chair, d.ID, service.CheckInRequest{Email: who}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.app.StartDiscussion(e.chair, d.ID, "test: ahead of the booked time"); err != nil {
		t.Fatal(err)
	}
	o := service.Outcome{Outcome: policy.OutcomeS47Enquiry,
		SignsOfSafety: service.SignsOfSafety{Concerns: "Bruising reported by the school", WorkingWell: "w", NeedToKnow: "n", NeedsToBeDone: "d"},
		Decisions:     []service.Decision{{Decision: "s47 enquiry", Rationale: "threshold met"}},
		Actions: []service.Action{{Description: "joint visit", Owner: "Sam Social", Agency: policy.AgencySocialCare,
			Due: e.now.Add(24 * time.Hour), Purpose: "see the child"}},
		ChildSeen: &service.ChildSeen{By: "Sam Social", At: e.now.Add(4 * time.Hour)},
		Review:    &service.Review{Date: e.now.Add(7 * 24 * time.Hour), Mechanism: "review discussion"}}
	d, err := e.app.RecordOutcome(e.chair, d.ID, o)
	if err != nil {
		t.Fatal(err)
	}
	return e, c, d
}

func as(name, email string, agency policy.Agency, roles ...service.Role) context.Context {
	return service.WithPrincipal(context.Background(), &service.Principal{Subject: name, Name: name, Email: email, Roles: roles, Agency: agency})
}

func followOn(d *service.Discussion, id string) *service.FollowOn {
	for i := range d.FollowOns {
		if d.FollowOns[i].ID == id {
			return &d.FollowOns[i]
		}
	}
	return nil
}

func TestRecordUseCases(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		run  func(t *testing.T, store service.Store)
	}{
		{"the record is read by participants, audited, and hidden from others", func(t *testing.T, store service.Store) {
			e, _, d := concludedEnv(t, store)
			r, err := e.app.Record(e.police, d.ID)
			if err != nil || r.Version != 1 || r.CaseReference != d.CaseReference || len(r.Attendance) != 4 || r.Area == "" {
				t.Fatalf("record: %v %+v", err, r)
			}
			stranger := as("x", "x@police.example.org", policy.AgencyPolice, service.RoleAgencyRep)
			if _, err := e.app.Record(stranger, d.ID); service.ErrorCode(err) != service.ENOTFOUND {
				t.Errorf("a stranger read the record: %v", err)
			}
			admin := as("ada", "", "", service.RoleAdmin)
			entries, err := e.app.ListAudit(admin, service.AuditFilter{Resource: "discussions/" + d.ID, Limit: 200})
			if err != nil {
				t.Fatal(err)
			}
			var read, denied bool
			for _, en := range entries {
				read = read || en.Action == "discussion.record.read" && en.Actor.Subject == "dana"
				denied = denied || en.Action == "discussion.record.read.denied" && en.Actor.Subject == "x"
			}
			if !read || !denied {
				t.Errorf("audit: read %v, denied %v", read, denied)
			}
		}},
		{"circulated by business support, signed by two agencies, dissent, amended and asked again", func(t *testing.T, store service.Store) {
			e, c, d := concludedEnv(t, store)
			if _, err := e.app.CirculateRecord(e.police, d.ID); service.ErrorCode(err) != service.EFORBIDDEN {
				t.Errorf("the police circulated the record: %v", err)
			}
			c.Set(c.Now().Add(time.Hour))
			d, err := e.app.CirculateRecord(e.bso, d.ID)
			if err != nil {
				t.Fatal(err)
			}
			if fo := followOn(d, "RECORD"); fo.State != service.FollowOnMet || !fo.MetAt.Equal(c.Now().UTC()) {
				t.Errorf("RECORD follow-on %+v, want met at the circulation %s", fo, c.Now())
			}
			var ids []string
			for _, r := range d.Outbox {
				if r.Method == "RECORD" {
					ids = append(ids, r.ID)
				}
			}
			msgs, err := e.app.Store.Messages(context.Background(), ids)
			if err != nil || len(msgs) != 4 {
				t.Fatalf("record mail: %v, %d messages, want 4", err, len(msgs))
			}
			for _, m := range msgs {
				raw := string(m.Raw)
				if strings.Contains(raw, d.CaseReference) || strings.Contains(raw, "Bruising") || strings.Contains(raw, "text/calendar") {
					t.Errorf("the record mail to %s carries case details or a calendar:\n%s", m.To, raw)
				}
				if !strings.Contains(raw, "https://convene.council.example.org/record/") {
					t.Errorf("the record mail to %s has no link:\n%s", m.To, raw)
				}
			}
			nina := as("nina", "nina@nhs.example.org", policy.AgencyHealth, service.RoleAgencyRep)
			if _, err := e.app.SignRecord(e.police, d.ID, policy.AgencyHealth, service.DecisionAgree, ""); service.ErrorCode(err) != service.EFORBIDDEN {
				t.Errorf("the police signed for health: %v", err)
			}
			if _, err := e.app.SignRecord(e.police, d.ID, policy.AgencyPolice, service.DecisionAgree, ""); err != nil {
				t.Fatal(err)
			}
			d, err = e.app.SignRecord(nina, d.ID, "", service.DecisionDissent, "The health information does not meet the threshold")
			if err != nil {
				t.Fatal(err)
			}
			states := map[policy.Agency]service.SignupState{}
			for _, s := range d.Signups {
				states[s.Agency] = s.State
			}
			if states[policy.AgencyPolice] != service.SignupAgreed || states[policy.AgencyHealth] != service.SignupDissented || len(states) != 2 {
				t.Errorf("sign-ups %+v", d.Signups)
			}
			amended := *d.Outcome
			amended.Decisions = []service.Decision{{Decision: "s47 enquiry", Rationale: "threshold met, corrected"}}
			d, err = e.app.AmendOutcome(e.chair, d.ID, amended, "rationale corrected")
			if err != nil {
				t.Fatal(err)
			}
			if d.Circulation.Version != 2 {
				t.Errorf("circulation after the amendment: %+v", d.Circulation)
			}
			for _, s := range d.Signups {
				if s.State != service.SignupPending || s.Version != 2 {
					t.Errorf("after the amendment, sign-up %+v: want pending for version 2", s)
				}
			}
		}},
		{"follow-ons: met by the right role, missed by the watch and flagged, the ICPC by its date", func(t *testing.T, store service.Store) {
			e, c, d := concludedEnv(t, store)
			at := c.Now()
			if _, err := e.app.MeetFollowOn(e.police, d.ID, "S47", at, "done"); service.ErrorCode(err) != service.EFORBIDDEN {
				t.Errorf("the police closed social care's s47 follow-on: %v", err)
			}
			sam := as("sam", "sam@council.example.org", policy.AgencySocialCare, service.RoleAgencyRep)
			d, err := e.app.MeetFollowOn(sam, d.ID, "S47", at, "enquiry completed")
			if err != nil {
				t.Fatal(err)
			}
			if fo := followOn(d, "S47"); fo.State != service.FollowOnMet || fo.MetBy.Subject != "sam" || fo.Note != "enquiry completed" {
				t.Errorf("S47 %+v", fo)
			}
			// The record is never circulated: past its due time the watch
			// marks it missed and flags the discussion, once.
			c.Set(followOn(d, "RECORD").Due.Add(time.Minute))
			for range 2 {
				if err := e.app.WatchOnce(context.Background(), service.Watch{}); err != nil {
					t.Fatal(err)
				}
			}
			d, err = e.app.Discussion(e.bso, d.ID)
			if err != nil {
				t.Fatal(err)
			}
			if fo := followOn(d, "RECORD"); fo.State != service.FollowOnMissed || fo.MissedAt == nil {
				t.Errorf("RECORD after its due time: %+v", fo)
			}
			if d.FollowOnBreach == nil || !strings.Contains(d.FollowOnBreach.Reason, "RECORD") {
				t.Errorf("breach flag %+v", d.FollowOnBreach)
			}
			missed := 0
			for _, ev := range d.Timeline {
				if ev.Kind == "follow_on_missed" {
					missed++
				}
			}
			if missed != 1 {
				t.Errorf("%d follow_on_missed events, want 1", missed)
			}
			icpc := followOn(d, "ICPC")
			d, err = e.app.RecordConference(e.chair, d.ID, icpc.Due.Add(-48*time.Hour), "")
			if err != nil {
				t.Fatal(err)
			}
			if fo := followOn(d, "ICPC"); fo.State != service.FollowOnMet || fo.ConferenceDate == nil {
				t.Errorf("ICPC %+v", fo)
			}
		}},
		{"the watch chases non-signers once per version and reminds owners once; each is raised once", func(t *testing.T, store service.Store) {
			e, c, d := concludedEnv(t, store)
			d, err := e.app.CirculateRecord(e.bso, d.ID)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := e.app.SignRecord(e.police, d.ID, "", service.DecisionAgree, ""); err != nil {
				t.Fatal(err)
			}
			// Past the profile's chase time (1 working day), days before
			// S47 is due; two passes, as two watch intervals would.
			profile, err := e.app.Profiles.Profile(d.Timescale.Profile)
			if err != nil {
				t.Fatal(err)
			}
			c.Set(profile.RecordChaseDue("", d.Circulation.At).Add(time.Minute))
			for range 2 {
				if err := e.app.WatchOnce(context.Background(), service.Watch{}); err != nil {
					t.Fatal(err)
				}
			}
			d, err = e.app.Discussion(e.bso, d.ID)
			if err != nil {
				t.Fatal(err)
			}
			var chased []string
			for _, r := range d.Outbox {
				if r.Method == "RECORD" && strings.HasSuffix(r.ID, ":2") {
					chased = append(chased, r.To)
				}
			}
			if d.Circulation.ChasedVersion != 1 || len(chased) != 1 || chased[0] != "nina@nhs.example.org" {
				t.Errorf("chase: %+v, chased %v; want health's participant once (police signed)", d.Circulation, chased)
			}
			// A day before S47 is due, its owner is reminded, once; met,
			// the reminder is dealt with.
			c.Set(followOn(d, "S47").Due.Add(-2 * time.Hour))
			for range 2 {
				if err := e.app.WatchOnce(context.Background(), service.Watch{}); err != nil {
					t.Fatal(err)
				}
			}
			sam := as("sam", "sam@council.example.org", policy.AgencySocialCare, service.RoleAgencyRep)
			if d, err = e.app.MeetFollowOn(sam, d.ID, "S47", time.Time{}, ""); err != nil {
				t.Fatal(err)
			}
			count := map[string]int{}
			for _, r := range d.Raised {
				k := string(r.Notice) + string(r.Event)
				if r.Resolve {
					k = "resolved " + k
				}
				count[k+" "+r.Key]++
			}
			for k, want := range map[string]int{
				"record_unsigned v1": 1, "record.circulated v1": 1, "record.signed police:v1:agree": 1, "follow_on.met RECORD": 1,
				"follow_on_due S47": 1, "resolved follow_on_due S47": 1, "follow_on.met S47": 1,
			} {
				if count[k] != want {
					t.Errorf("raised %q %d times, want %d (all: %v)", k, count[k], want, count)
				}
			}
		}},
		{"a follow-on's reminder and its miss reach its owner as well as business support and the chair", func(t *testing.T, store service.Store) {
			e, c, d := concludedEnv(t, store)
			e.app.Mail.Notify.BusinessSupport = "support@council.example.org"
			ctx := context.Background()
			sam, chris := "sam@council.example.org", "chris@council.example.org"
			if fo := followOn(d, "S47"); fo.Owner == nil || fo.Owner.Email != sam {
				t.Fatalf("S47's owner %+v, want the social worker who sees the child", fo.Owner)
			}
			// Each notice: in the inboxes of business support, the chair and
			// the owner, and emailed at once to the team mailbox and the
			// owner (the chair has the digest by default), with no case
			// details.
			check := func(kind service.NoticeKind, key string, inboxes, mailed []string) {
				t.Helper()
				id := d.ID + ":notice:" + string(kind) + ":" + key
				for _, to := range []string{service.InboxBusinessSupport, chris, sam} {
					ns, err := e.app.Store.Inbox(ctx, service.InboxFilter{Recipients: []string{to}, Limit: 200})
					if err != nil {
						t.Fatal(err)
					}
					n := 0
					for _, x := range ns {
						if x.DiscussionID == d.ID && x.Kind == kind && x.Key == key {
							n++
						}
					}
					if want := slices.Contains(inboxes, to); (n == 1) != want || n > 1 {
						t.Errorf("%s %s in %s's inbox %d times, want it there: %v", kind, key, to, n, want)
					}
				}
				var ids []string
				for _, to := range []string{"support@council.example.org", chris, sam} {
					ids = append(ids, id+":mail:"+to)
				}
				var got []string
				for _, m := range outboxOf(t, e, d, ids, service.MethodNotice) {
					got = append(got, m.To)
					body := decodeQP(t, m.Raw)
					for _, secret := range []string{"Bruising", "joint visit", "see the child", "Sam Social"} {
						if strings.Contains(body, secret) {
							t.Errorf("the %s email to %s carries %q:\n%s", kind, m.To, secret, body)
						}
					}
					if !strings.Contains(body, "/discussions/"+d.ID) {
						t.Errorf("the %s email to %s has no link:\n%s", kind, m.To, body)
					}
				}
				slices.Sort(got)
				if !slices.Equal(got, mailed) {
					t.Errorf("%s %s emailed to %v, want %v", kind, key, got, mailed)
				}
			}
			c.Set(followOn(d, "S47").Due.Add(-2 * time.Hour))
			if err := e.app.WatchOnce(ctx, service.Watch{}); err != nil {
				t.Fatal(err)
			}
			check(service.NoticeFollowOnDue, "S47", []string{service.InboxBusinessSupport, chris, sam}, []string{sam, "support@council.example.org"})
			c.Set(followOn(d, "S47").Due.Add(time.Minute))
			if err := e.app.WatchOnce(ctx, service.Watch{}); err != nil {
				t.Fatal(err)
			}
			d, err := e.app.Discussion(e.bso, d.ID)
			if err != nil {
				t.Fatal(err)
			}
			if fo := followOn(d, "S47"); fo.State != service.FollowOnMissed || d.FollowOnBreach == nil {
				t.Fatalf("S47 past its due time %+v, flag %+v", fo, d.FollowOnBreach)
			}
			check(service.NoticeFollowOnMissed, "S47", []string{service.InboxBusinessSupport, chris, sam}, []string{sam, "support@council.example.org"})
			// The record (never circulated) is the chair's: they are told
			// once, as chair and owner alike.
			if fo := followOn(d, "RECORD"); fo.State != service.FollowOnMissed || fo.Owner.Email != chris {
				t.Fatalf("RECORD %+v", fo)
			}
			check(service.NoticeFollowOnMissed, "RECORD", []string{service.InboxBusinessSupport, chris}, []string{"support@council.example.org"})
			// Notices of other kinds are not the owner's.
			if ns, err := e.app.Store.Inbox(ctx, service.InboxFilter{Recipients: []string{sam}, Limit: 200}); err != nil {
				t.Fatal(err)
			} else {
				for _, n := range ns {
					if n.Kind != service.NoticeFollowOnDue && n.Kind != service.NoticeFollowOnMissed {
						t.Errorf("the owner was told of %s", n.Kind)
					}
				}
			}
		}},
	}
	for _, st := range stores {
		t.Run(st.name, func(t *testing.T) {
			t.Parallel()
			for _, c := range cases {
				t.Run(c.name, func(t *testing.T) {
					t.Parallel()
					c.run(t, st.open(t))
				})
			}
		})
	}
}
