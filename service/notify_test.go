package service

import (
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/convene/convene/service/policy"
)

// raisedSince lists what the discussion raised beyond the first n, as
// "notice:kind:key", "event:type:key" or "resolve:kind:key".
func raisedSince(d *Discussion, n int) []string {
	out := []string{}
	for _, r := range d.Raised[n:] {
		switch {
		case r.Resolve:
			out = append(out, "resolve:"+string(r.Notice)+":"+r.Key)
		case r.Event != "":
			out = append(out, "event:"+string(r.Event)+":"+r.Key)
		default:
			out = append(out, "notice:"+string(r.Notice)+":"+r.Key)
		}
	}
	return out
}

// TestNoticesRaised: each transition raises exactly the notices, events
// and resolutions expected (issue 14), and doing it again raises nothing.
func TestNoticesRaised(t *testing.T) {
	t.Parallel()
	dana := "dana@police.example"
	at := t0.Add(10 * time.Minute)
	withCounter := func() *Discussion {
		d := booked()
		if _, err := d.ApplyCounter(CounterProposal{ID: "k1", Email: dana, Start: t0.Add(3 * time.Hour), End: t0.Add(4 * time.Hour)}, at); err != nil {
			panic(err)
		}
		return d
	}
	withHeld := func() *Discussion {
		d := booked()
		if _, err := d.HoldReply(HeldReply{ID: "h1", From: "stranger@example.org", Reply: policy.ReplyAccepted}, at); err != nil {
			panic(err)
		}
		return d
	}
	started := func() *Discussion {
		d := booked()
		if _, err := d.Start(QuorumReport{Met: true}, "", 15*time.Minute, bso, t0.Add(time.Hour)); err != nil {
			panic(err)
		}
		return d
	}
	for _, tc := range []struct {
		name   string
		d      func() *Discussion
		change func(d *Discussion) error
		want   []string
	}{
		{name: "a booking tells the case system", d: fixture,
			change: func(d *Discussion) error {
				_, err := d.Book(BookingChoice{BookingID: "b1", Start: t0.Add(time.Hour), End: t0.Add(2 * time.Hour)}, bso, t0)
				return err
			},
			want: []string{"event:discussion.booked:b1"}},
		{name: "a booking with unknown calendars raises the notice", d: fixture,
			change: func(d *Discussion) error {
				_, err := d.Book(BookingChoice{BookingID: "b1", Start: t0.Add(time.Hour), End: t0.Add(2 * time.Hour), Unknown: []string{dana}}, bso, t0)
				return err
			},
			want: []string{"notice:unknown_calendars:b1", "event:discussion.booked:b1"}},
		{name: "a booking resolves an at-risk notice",
			d: func() *Discussion {
				d := fixture()
				_, _ = d.Watch(WatchFindings{AtRisk: true, Left: time.Hour}, t0)
				return d
			},
			change: func(d *Discussion) error {
				_, err := d.Book(BookingChoice{BookingID: "b1", Start: t0.Add(time.Hour), End: t0.Add(2 * time.Hour)}, bso, t0)
				return err
			},
			want: []string{"resolve:at_risk:", "event:discussion.booked:b1"}},
		{name: "a decline", d: booked,
			change: func(d *Discussion) error {
				_, err := d.ApplyReply(Reply{Email: dana, Answer: policy.ReplyDeclined, Stamp: at}, at)
				return err
			},
			want: []string{"notice:decline:" + dana + ":0"}},
		{name: "an accept raises nothing", d: booked,
			change: func(d *Discussion) error {
				_, err := d.ApplyReply(Reply{Email: dana, Answer: policy.ReplyAccepted, Stamp: at}, at)
				return err
			},
			want: []string{}},
		{name: "a counter proposal", d: booked,
			change: func(d *Discussion) error {
				_, err := d.ApplyCounter(CounterProposal{ID: "k1", Email: dana, Start: t0.Add(3 * time.Hour)}, at)
				return err
			},
			want: []string{"notice:counter_proposal:k1"}},
		{name: "the same counter again raises nothing", d: withCounter,
			change: func(d *Discussion) error {
				_, err := d.ApplyCounter(CounterProposal{ID: "k2", Email: dana, Start: t0.Add(3 * time.Hour), End: t0.Add(4 * time.Hour)}, at)
				return err
			},
			want: []string{}},
		{name: "declining a counter resolves its notice", d: withCounter,
			change: func(d *Discussion) error {
				_, err := d.DeclineCounter("k1", "", bso, at)
				return err
			},
			want: []string{"resolve:counter_proposal:k1"}},
		{name: "accepting a counter (a reschedule) resolves its notice", d: withCounter,
			change: func(d *Discussion) error {
				_, err := d.Book(BookingChoice{BookingID: "b2", Start: t0.Add(3 * time.Hour), End: t0.Add(4 * time.Hour), CounterID: "k1", Reschedule: true}, bso, at)
				return err
			},
			want: []string{"resolve:counter_proposal:k1", "event:discussion.booked:b2"}},
		{name: "a held reply", d: booked,
			change: func(d *Discussion) error {
				_, err := d.HoldReply(HeldReply{ID: "h1", From: "stranger@example.org", Reply: policy.ReplyAccepted}, at)
				return err
			},
			want: []string{"notice:held_reply:h1"}},
		{name: "the same sender's held reply again replaces it and raises nothing", d: withHeld,
			change: func(d *Discussion) error {
				_, err := d.HoldReply(HeldReply{ID: "h2", From: "stranger@example.org", Reply: policy.ReplyDeclined}, at)
				return err
			},
			want: []string{}},
		{name: "deciding a held reply resolves its notice", d: withHeld,
			change: func(d *Discussion) error {
				_, err := d.DecideHeldReply("h1", false, nil, bso, at)
				return err
			},
			want: []string{"resolve:held_reply:h1"}},
		{name: "a delegation below seniority is that notice, not a held reply", d: booked,
			change: func(d *Discussion) error {
				_, err := d.ApplyReply(Reply{Email: dana, Answer: policy.ReplyDelegated, DelegatedTo: "pc@police.example", HoldID: "h9", Stamp: at,
					Delegate: &Invitee{Name: "PC Con", Email: "pc@police.example", Agency: policy.AgencyPolice, Seniority: 1}}, at)
				return err
			},
			want: []string{"notice:delegate_below_seniority:h9"}},
		{name: "a delegation to someone not in the directory is a held reply", d: booked,
			change: func(d *Discussion) error {
				_, err := d.ApplyReply(Reply{Email: dana, Answer: policy.ReplyDelegated, DelegatedTo: "who@example.org", HoldID: "h8", Stamp: at}, at)
				return err
			},
			want: []string{"notice:held_reply:h8"}},
		{name: "at risk", d: fixture,
			change: func(d *Discussion) error {
				_, err := d.Watch(WatchFindings{AtRisk: true, Left: time.Hour}, t0)
				return err
			},
			want: []string{"notice:at_risk:"}},
		{name: "breached", d: fixture,
			change: func(d *Discussion) error {
				_, err := d.Watch(WatchFindings{Breach: "the deadline passed without a booking"}, deadline.Add(time.Minute))
				return err
			},
			want: []string{"notice:deadline_breached:"}},
		{name: "started", d: booked,
			change: func(d *Discussion) error {
				_, err := d.Start(QuorumReport{Met: true}, "", 15*time.Minute, bso, t0.Add(time.Hour))
				return err
			},
			want: []string{"event:discussion.started:"}},
		{name: "concluded", d: started,
			change: func(d *Discussion) error {
				_, err := d.Conclude(Outcome{Outcome: policy.OutcomeNoFurtherAction}, nil, "", t0.Add(2*time.Hour))
				return err
			},
			want: []string{"event:discussion.concluded:"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			d := tc.d()
			n := len(d.Raised)
			if err := tc.change(d); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, raisedSince(d, n)); diff != "" {
				t.Errorf("raised (-want +got):\n%s", diff)
			}
			if len(tc.want) > 0 && !d.RaisedDue {
				t.Error("raised but not flagged for the move")
			}
			// Raised again, the same notices and events are one each.
			m := len(d.Raised)
			for _, r := range d.Raised[n:] {
				switch {
				case r.Resolve:
					d.Resolved(r.Notice, r.Key, at)
				case r.Event != "":
					d.Publish(r.Event, r.Key, at)
				default:
					d.Notify(r.Notice, r.Key, at)
				}
			}
			if len(d.Raised) != m {
				t.Errorf("raised twice: %v", raisedSince(d, n))
			}
		})
	}
}

// TestNoticeWords: every kind is in words, and no kind's words name a case
// detail (they are all fixed text).
func TestNoticeWords(t *testing.T) {
	for _, k := range NoticeKinds {
		if w := k.Words(); w == string(k) || w == "" {
			t.Errorf("%s has no words", k)
		}
	}
	if !slices.Contains(NoticeKinds, NoticeMailFailed) || NoticeMailFailed.toChair() || !NoticeRecordDissent.toChair() {
		t.Error("mail failures are for business support alone; dissent for both")
	}
}

// TestHookSignature: a signed body verifies; a changed body, another
// secret or an old timestamp does not.
func TestHookSignature(t *testing.T) {
	secret, body := []byte("s3cret"), []byte(`{"id":"x"}`)
	now := time.Unix(1_800_000_000, 0)
	sig := SignHook(secret, now, body)
	for _, tc := range []struct {
		name   string
		secret []byte
		body   []byte
		at     time.Time
		ok     bool
	}{
		{"valid", secret, body, now.Add(time.Minute), true},
		{"body changed", secret, []byte(`{"id":"y"}`), now, false},
		{"other secret", []byte("other"), body, now, false},
		{"replayed later", secret, body, now.Add(10 * time.Minute), false},
	} {
		if err := VerifyHook(tc.secret, sig, tc.body, tc.at, 5*time.Minute); (err == nil) != tc.ok {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
}
