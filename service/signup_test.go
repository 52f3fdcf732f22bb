package service

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/convene/convene/service/policy"
)

// The record, its circulation and sign-up, and follow-ons as work, on the
// domain types alone.

var walkIn = CheckIn{ID: "c-ed", Name: "Ed Lead", Email: "ed@school.example", Agency: policy.AgencyEducation, Role: "dsl", Seniority: 2, WalkIn: true}

// concluded is the booked fixture, everyone checked in (and a walk-in from
// the school), started at 10:00 and concluded at 11:00 with an s47 outcome
// and its follow-ons: RECORD due the next working day, ICPC in 15, S47 in
// 5.
func concluded(t testing.TB) *Discussion {
	t.Helper()
	d := booked()
	start := t0.Add(time.Hour)
	for _, inv := range d.current() {
		if _, err := d.CheckIn(CheckIn{ID: "c-" + inv.PersonID, Name: inv.Name, Email: inv.Email, Agency: inv.Agency, Role: inv.Role,
			Seniority: inv.Seniority, PresentFrom: start}, start); err != nil {
			t.Fatal(err)
		}
	}
	c := walkIn
	c.PresentFrom = start
	if _, err := d.CheckIn(c, start); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Start(QuorumReport{Met: true}, "", time.Hour, bso, start); err != nil {
		t.Fatal(err)
	}
	o := validOutcome()
	o.Version = 1
	o.RecordedBy = Actor{Subject: "chris", Name: "chris", Email: "chris@council.example"}
	fos := []policy.FollowOn{
		{ID: "RECORD", Summary: "record circulated", Due: time.Date(2026, 3, 3, 17, 0, 0, 0, time.UTC)},
		{ID: "S47", Summary: "s47 completed", Due: time.Date(2026, 3, 9, 17, 0, 0, 0, time.UTC)},
		{ID: "ICPC", Summary: "conference held", Due: time.Date(2026, 3, 20, 17, 0, 0, 0, time.UTC)},
	}
	if _, err := d.Conclude(o, fos, "", t0.Add(2*time.Hour)); err != nil {
		t.Fatal(err)
	}
	d.Pending = nil
	return d
}

func principal(email string, agency policy.Agency, roles ...Role) *Principal {
	return &Principal{Subject: email, Name: email, Email: email, Agency: agency, Roles: roles}
}

func TestCirculate(t *testing.T) {
	t.Parallel()
	d := concluded(t)
	at := t0.Add(3 * time.Hour)
	if _, err := d.Circulate(bso, at); err != nil {
		t.Fatal(err)
	}
	// Every participant, walk-in included, is sent the record: one RECORD
	// message each, for version 1.
	got := pendingTo(d, "RECORD")
	want := []string{"chris@council.example", "sam@council.example", "dana@police.example", "nina@nhs.example", "ed@school.example"}
	if !slices.Equal(got, want) {
		t.Errorf("record sent to %v, want %v", got, want)
	}
	for _, m := range d.Pending {
		if m.Sequence != 1 || !strings.Contains(m.ID, ":RECORD:1:") {
			t.Errorf("message %+v: want version 1", m)
		}
	}
	// The partner agencies present are asked; social care owns the record.
	var agencies []policy.Agency
	for _, s := range d.Signups {
		if s.State != SignupPending || s.Version != 1 {
			t.Errorf("sign-up %+v, want pending for version 1", s)
		}
		agencies = append(agencies, s.Agency)
	}
	if want := []policy.Agency{policy.AgencyPolice, policy.AgencyHealth, policy.AgencyEducation}; !slices.Equal(agencies, want) {
		t.Errorf("agencies asked %v, want %v", agencies, want)
	}
	// 000 §7: the RECORD follow-on is met, at the circulation time.
	fo := d.followOn(FollowOnRecord)
	if fo.state() != FollowOnMet || !fo.MetAt.Equal(at) || fo.MetBy.Subject != bso.Subject || fo.MissedAt != nil {
		t.Errorf("RECORD follow-on %+v, want met at %s by business support", fo, at)
	}
	if _, err := d.Circulate(bso, at); code(err) != EPRECONDITION {
		t.Errorf("circulating the same version twice: %v", err)
	}
}

func TestCirculateNeedsAnOutcome(t *testing.T) {
	t.Parallel()
	if _, err := booked().Circulate(bso, t0); code(err) != EPRECONDITION {
		t.Fatalf("circulated before the outcome: %v", err)
	}
}

// Circulated after its deadline, the RECORD follow-on is met late: missed
// at its due time, and the discussion flagged.
func TestCirculateLate(t *testing.T) {
	t.Parallel()
	d := concluded(t)
	late := time.Date(2026, 3, 4, 10, 0, 0, 0, time.UTC)
	if _, err := d.Circulate(bso, late); err != nil {
		t.Fatal(err)
	}
	fo := d.followOn(FollowOnRecord)
	if fo.state() != FollowOnMet || fo.MissedAt == nil || !fo.MissedAt.Equal(fo.Due) {
		t.Errorf("late circulation: %+v", fo)
	}
	if d.FollowOnBreach == nil || !strings.Contains(d.FollowOnBreach.Reason, "RECORD") {
		t.Errorf("breach flag %+v", d.FollowOnBreach)
	}
}

func TestSign(t *testing.T) {
	t.Parallel()
	police := Invitee{Name: "dana", Email: "dana@police.example", Agency: policy.AgencyPolice}
	health := Invitee{Name: "nina", Email: "nina@nhs.example", Agency: policy.AgencyHealth}
	sw := Invitee{Name: "sam", Email: "sam@council.example", Agency: policy.AgencySocialCare}
	for _, tc := range []struct {
		name     string
		who      Invitee
		decision string
		reason   string
		code     string
		state    SignupState
	}{
		{"an agency agrees", police, DecisionAgree, "", "", SignupAgreed},
		{"an agency dissents with a reason (002 §1)", health, DecisionDissent, "The threshold for s47 is not met on health's information", "", SignupDissented},
		{"a dissent needs its reason", health, DecisionDissent, "  ", EINVALID, ""},
		{"agree or dissent, nothing else", police, "maybe", "", EINVALID, ""},
		{"social care is not asked to agree with itself", sw, DecisionAgree, "", EFORBIDDEN, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			d := concluded(t)
			if _, err := d.Sign(tc.who, tc.decision, tc.reason, AuthorisedByLink, t0); code(err) != EPRECONDITION {
				t.Fatalf("signed before circulation: %v", err)
			}
			if _, err := d.Circulate(bso, t0.Add(3*time.Hour)); err != nil {
				t.Fatal(err)
			}
			_, err := d.Sign(tc.who, tc.decision, tc.reason, AuthorisedByLink, t0.Add(4*time.Hour))
			if code(err) != tc.code {
				t.Fatalf("err %v, want code %q", err, tc.code)
			}
			if tc.code != "" {
				return
			}
			i := slices.IndexFunc(d.Signups, func(s Signup) bool { return s.Agency == tc.who.Agency })
			s := d.Signups[i]
			if s.State != tc.state || s.Email != tc.who.Email || s.At == nil || s.Method != AuthorisedByLink || s.Version != 1 {
				t.Errorf("sign-up %+v", s)
			}
		})
	}
}

// An amendment of a circulated record circulates the new version and asks
// every agency again.
func TestAmendReopensSignup(t *testing.T) {
	t.Parallel()
	d := concluded(t)
	if _, err := d.Circulate(bso, t0.Add(3*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Sign(Invitee{Name: "dana", Email: "dana@police.example", Agency: policy.AgencyPolice}, DecisionAgree, "", AuthorisedSignedIn, t0.Add(4*time.Hour)); err != nil {
		t.Fatal(err)
	}
	d.Pending = nil
	amended := validOutcome()
	amended.Decisions[0].Rationale = "corrected"
	if _, err := d.Amend(amended, "rationale corrected", rules(d), bso, t0.Add(5*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if d.Circulation.Version != 2 || len(pendingTo(d, "RECORD")) != 5 {
		t.Errorf("after the amendment: circulation %+v, record mail to %v", d.Circulation, pendingTo(d, "RECORD"))
	}
	for _, s := range d.Signups {
		if s.State != SignupPending || s.Version != 2 {
			t.Errorf("sign-up %+v, want pending for version 2", s)
		}
	}
	if fo := d.followOn(FollowOnRecord); fo.state() != FollowOnMet || !fo.MetAt.Equal(t0.Add(3*time.Hour)) {
		t.Errorf("RECORD follow-on %+v: met at the first circulation", fo)
	}
}

// The watch chases agencies that have not signed up, once per version.
func TestChase(t *testing.T) {
	t.Parallel()
	d := concluded(t)
	circulated := t0.Add(3 * time.Hour)
	if _, err := d.Circulate(bso, circulated); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Sign(Invitee{Name: "dana", Email: "dana@police.example", Agency: policy.AgencyPolice}, DecisionAgree, "", AuthorisedSignedIn, circulated); err != nil {
		t.Fatal(err)
	}
	d.Pending = nil
	chaseAt := circulated.Add(24 * time.Hour)
	if f := d.followOnFindings(chaseAt.Add(-time.Minute), time.Hour, chaseAt); f.Chase {
		t.Errorf("chased before the chase time")
	}
	f := d.followOnFindings(chaseAt, time.Hour, chaseAt)
	if !f.Chase {
		t.Fatalf("not chased at the chase time: %+v", f)
	}
	d.applyFollowOnFindings(f, chaseAt, map[string]any{})
	if got, want := pendingTo(d, "RECORD"), []string{"nina@nhs.example", "ed@school.example"}; !slices.Equal(got, want) {
		t.Errorf("chased %v, want %v (police signed)", got, want)
	}
	if f := d.followOnFindings(chaseAt.Add(48*time.Hour), time.Hour, chaseAt); f.Chase {
		t.Errorf("chased twice for one version")
	}
}

func TestRecordLink(t *testing.T) {
	t.Parallel()
	key := []byte("0123456789abcdef0123456789abcdef")
	l := RecordLink{DiscussionID: "d1", Email: "Nina@NHS.example", Version: 2, IssuedAt: t0, ExpiresAt: t0.Add(time.Hour)}
	tok, err := SignRecordLink(key, l)
	if err != nil {
		t.Fatal(err)
	}
	got, err := VerifyRecordLink(key, tok, t0.Add(time.Minute))
	if err != nil || got.DiscussionID != "d1" || got.Email != "nina@nhs.example" || got.Version != 2 {
		t.Fatalf("verified %+v, %v", got, err)
	}
	for name, check := range map[string]func() error{
		"expired": func() error { _, err := VerifyRecordLink(key, tok, t0.Add(2*time.Hour)); return err },
		"another key": func() error {
			_, err := VerifyRecordLink([]byte("fedcba9876543210fedcba9876543210"), tok, t0)
			return err
		},
		"tampered": func() error { _, err := VerifyRecordLink(key, tok[:len(tok)-2]+"xx", t0); return err },
	} {
		if err := check(); code(err) != EUNAUTHORIZED {
			t.Errorf("%s: %v", name, err)
		}
	}
	if p := RecordLinkPrincipal(got, "Nina", policy.AgencyHealth); !p.Has(RoleAgencyRep) || signMethod(p) != AuthorisedByLink {
		t.Errorf("partner principal %+v", p)
	}
}

func TestBuildRecord(t *testing.T) {
	t.Parallel()
	if _, err := BuildRecord(booked(), "Area", london, t0); code(err) != EPRECONDITION {
		t.Fatalf("a record before the outcome: %v", err)
	}
	d := concluded(t)
	d.Started.Override, d.Started.Missing = "police running late", []string{"police (unfilled)"}
	d.Invitees[3].Reply = policy.ReplyDeclined
	d.CheckIns = slices.DeleteFunc(d.CheckIns, func(c CheckIn) bool { return c.Email == "nina@nhs.example" })
	r, err := BuildRecord(d, "Anytown", london, t0.Add(3*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if r.CaseReference != "CR-2026-0042" || r.Version != 1 || r.Area != "Anytown" || r.Chair != "chris" || r.Duration != time.Hour {
		t.Errorf("record head %+v", r)
	}
	if r.Quorum.Met || r.Quorum.Override != "police running late" {
		t.Errorf("quorum %+v: want the override as it stood at the start", r.Quorum)
	}
	var present, apologies []string
	for _, a := range r.Attendance {
		if a.Present {
			present = append(present, a.Name)
		}
		if a.Apologies {
			apologies = append(apologies, a.Name)
		}
	}
	if want := []string{"chris", "sam", "dana", "Ed Lead"}; !slices.Equal(present, want) {
		t.Errorf("present %v, want %v", present, want)
	}
	if want := []string{"nina"}; !slices.Equal(apologies, want) {
		t.Errorf("apologies %v, want %v", apologies, want)
	}
	if len(r.FollowOns) != 3 || r.FollowOns[0].Owner == nil || r.Signups == nil {
		t.Errorf("follow-ons %+v signups %v", r.FollowOns, r.Signups)
	}
}

// rules are d's follow-ons as the profile gives them, for an amendment.
func rules(d *Discussion) []policy.FollowOn {
	var out []policy.FollowOn
	for _, fo := range d.FollowOns {
		out = append(out, fo.FollowOn)
	}
	return out
}
