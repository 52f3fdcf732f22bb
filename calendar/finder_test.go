package calendar_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/convene/convene/calendar"
)

// lon is a wall time in London in the week of Monday 24 March 2025 (GMT)
// and the following one (BST from Sunday 30 March): day 0 is Monday 24th.
func lon(t testing.TB, day int, clock string) time.Time {
	t.Helper()
	tod, err := calendar.ParseTimeOfDay(clock)
	if err != nil {
		t.Fatal(err)
	}
	return time.Date(2025, 3, 24+day, int(tod)/60, int(tod)%60, 0, 0, london(t))
}

func span(t testing.TB, day int, from, to string) calendar.Interval {
	return calendar.Interval{Start: lon(t, day, from), End: lon(t, day, to)}
}

// slotStarts summarises a result as the slots' start times.
func slotStarts(res calendar.SlotResult) []time.Time {
	var out []time.Time
	for _, s := range res.Slots {
		out = append(out, s.Start)
	}
	return out
}

func TestFindSlots(t *testing.T) {
	mon9, fri17 := lon(t, 0, "09:00"), lon(t, 4, "17:00")
	allWeek := func(a calendar.Attendee) []calendar.Interval {
		var out []calendar.Interval
		for d := 0; d < 5; d++ {
			out = append(out, span(t, d, "09:00", "17:00"))
		}
		return out
	}
	newYork, _ := time.LoadLocation("America/New_York")
	tests := []struct {
		name   string
		q      calendar.SlotQuery
		want   []time.Time
		reason calendar.SlotReason
	}{
		{
			name: "free week: Monday 09:00 on, at the granularity",
			q: calendar.SlotQuery{
				Attendees: []calendar.Attendee{{ID: "a", Essential: true}},
				Duration:  time.Hour, Earliest: mon9, Deadline: fri17, MaxSlots: 3,
			},
			want: []time.Time{lon(t, 0, "09:00"), lon(t, 0, "09:15"), lon(t, 0, "09:30")},
		},
		{
			name: "earliest start rounds up to the grid",
			q: calendar.SlotQuery{
				Attendees: []calendar.Attendee{{ID: "a", Essential: true}},
				Duration:  time.Hour, Earliest: lon(t, 0, "09:07"), Deadline: fri17,
				Granularity: 30 * time.Minute, MaxSlots: 2,
			},
			want: []time.Time{lon(t, 0, "09:30"), lon(t, 0, "10:00")},
		},
		{
			name: "busy essential attendees push the slot; slots end within working hours",
			q: calendar.SlotQuery{
				Attendees: []calendar.Attendee{
					{ID: "a", Essential: true, Busy: []calendar.Interval{span(t, 0, "09:00", "12:00")}},
					{ID: "b", Essential: true, Busy: []calendar.Interval{span(t, 0, "12:30", "16:30")}},
				},
				Duration: time.Hour, Earliest: mon9, Deadline: fri17, MaxSlots: 2,
			},
			// 12:00-12:30 too short, 16:30-17:00 too short: Tuesday.
			want: []time.Time{lon(t, 1, "09:00"), lon(t, 1, "09:15")},
		},
		{
			name: "buffers keep a gap either side",
			q: calendar.SlotQuery{
				Attendees: []calendar.Attendee{{ID: "a", Essential: true, Busy: []calendar.Interval{
					span(t, 0, "09:00", "10:00"), span(t, 0, "11:20", "12:00"),
				}}},
				Duration: time.Hour, Earliest: mon9, Deadline: fri17, MaxSlots: 1,
				BufferBefore: 15 * time.Minute, BufferAfter: 15 * time.Minute,
			},
			want: []time.Time{lon(t, 0, "12:15")},
		},
		{
			name: "a bank holiday is skipped",
			q: calendar.SlotQuery{
				Attendees: []calendar.Attendee{{ID: "a", Essential: true}},
				Duration:  time.Hour, Earliest: mon9, Deadline: fri17, MaxSlots: 1,
				IsWorkingDay: func(d time.Time) bool { return d.Day() != 24 },
			},
			want: []time.Time{lon(t, 1, "09:00")},
		},
		{
			name: "optional attendees never block",
			q: calendar.SlotQuery{
				Attendees: []calendar.Attendee{
					{ID: "a", Essential: true},
					{ID: "opt", Busy: allWeek(calendar.Attendee{})},
				},
				Duration: time.Hour, Earliest: mon9, Deadline: fri17, MaxSlots: 1,
			},
			want: []time.Time{mon9},
		},
		{
			name: "working hours in the attendee's own zone",
			q: calendar.SlotQuery{
				Attendees: []calendar.Attendee{
					{ID: "london", Essential: true},
					{ID: "new-york", Essential: true, Zone: newYork},
				},
				Duration: time.Hour, Earliest: mon9, Deadline: fri17, MaxSlots: 1,
			},
			// New York (EDT, UTC-4) starts at 13:00 London (GMT).
			want: []time.Time{lon(t, 0, "13:00")},
		},
		{
			name: "custom working hours",
			q: calendar.SlotQuery{
				Attendees: []calendar.Attendee{{ID: "a", Essential: true, WorkingHours: &calendar.WorkingHours{
					Days: []time.Weekday{time.Wednesday}, Start: 13 * 60, End: 15 * 60,
				}}},
				Duration: 90 * time.Minute, Earliest: mon9, Deadline: fri17,
			},
			want: []time.Time{lon(t, 2, "13:00"), lon(t, 2, "13:15"), lon(t, 2, "13:30")},
		},
		{
			name: "working hours follow the clock change",
			q: calendar.SlotQuery{
				Attendees: []calendar.Attendee{{ID: "a", Essential: true}},
				Duration:  time.Hour, Earliest: lon(t, 4, "16:30"), Deadline: lon(t, 7, "17:00"), MaxSlots: 1,
			},
			want: []time.Time{time.Date(2025, 3, 31, 8, 0, 0, 0, time.UTC)}, // Monday 09:00 BST
		},
		{
			name: "a same-day deadline allows out-of-hours",
			q: calendar.SlotQuery{
				Attendees: []calendar.Attendee{{ID: "a", Essential: true, Busy: []calendar.Interval{span(t, 0, "18:00", "19:00")}}},
				Duration:  time.Hour, Earliest: lon(t, 0, "17:30"), Deadline: lon(t, 0, "23:00"), MaxSlots: 2,
			},
			want: []time.Time{lon(t, 0, "19:00"), lon(t, 0, "19:15")},
		},
		{
			name: "out-of-hours on request, weekends included",
			q: calendar.SlotQuery{
				Attendees: []calendar.Attendee{{ID: "a", Essential: true, Busy: allWeek(calendar.Attendee{})}},
				Duration:  time.Hour, Earliest: lon(t, 4, "16:00"), Deadline: lon(t, 6, "12:00"),
				OutOfHours: true, MaxSlots: 1,
			},
			want: []time.Time{lon(t, 4, "17:00")},
		},
		{
			name: "fully booked week: no slot, the reason, the best partial slots",
			q: calendar.SlotQuery{
				Attendees: []calendar.Attendee{
					{ID: "booked", Essential: true, Busy: allWeek(calendar.Attendee{})},
					{ID: "monday", Essential: true, Busy: []calendar.Interval{span(t, 0, "09:00", "17:00")}},
					{ID: "free", Essential: true},
				},
				Duration: time.Hour, Earliest: mon9, Deadline: fri17, MaxSlots: 2,
			},
			// One blocker from Tuesday beats two on Monday.
			want:   []time.Time{lon(t, 1, "09:00"), lon(t, 1, "09:15")},
			reason: calendar.AttendeesUnavailable,
		},
		{
			name: "unknown essential attendee: slots found but not confirmed",
			q: calendar.SlotQuery{
				Attendees: []calendar.Attendee{
					{ID: "a", Essential: true, Busy: []calendar.Interval{span(t, 0, "09:00", "10:00")}},
					{ID: "unknown", Essential: true, Availability: calendar.Unknown},
				},
				Duration: time.Hour, Earliest: mon9, Deadline: fri17, MaxSlots: 1,
			},
			want:   []time.Time{lon(t, 0, "10:00")},
			reason: calendar.AttendeesUnknown,
		},
		{
			name: "unknown attendee with time known to be busy: unknown slots after it",
			q: calendar.SlotQuery{
				Attendees: []calendar.Attendee{
					{ID: "held", Essential: true, Availability: calendar.Unknown, Busy: []calendar.Interval{span(t, 0, "09:00", "10:00")}},
				},
				Duration: time.Hour, Earliest: mon9, Deadline: fri17, MaxSlots: 2,
			},
			want:   []time.Time{lon(t, 0, "10:00"), lon(t, 0, "10:15")},
			reason: calendar.AttendeesUnknown,
		},
		{
			name: "unknown attendee with time known to be busy: busy then",
			q: calendar.SlotQuery{
				Attendees: []calendar.Attendee{
					{ID: "held", Essential: true, Availability: calendar.Unknown, Busy: []calendar.Interval{span(t, 0, "09:00", "10:00")}},
				},
				Duration: time.Hour, Earliest: mon9, Deadline: lon(t, 0, "10:00"),
			},
			want:   []time.Time{lon(t, 0, "09:00")},
			reason: calendar.AttendeesUnavailable,
		},
		{
			name: "no working time before the deadline",
			q: calendar.SlotQuery{
				Attendees: []calendar.Attendee{{ID: "a", Essential: true}},
				Duration:  time.Hour, Earliest: lon(t, 4, "17:00"), Deadline: lon(t, 5, "20:00"),
			},
			reason: calendar.NoTimeInWindow,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res, err := calendar.FindSlots(tc.q)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, slotStarts(res), cmp.Comparer(time.Time.Equal)); diff != "" {
				t.Errorf("slot starts (-want +got):\n%s", diff)
			}
			if got, want := res.Reason, tc.reason; got != want {
				t.Errorf("reason = %q, want %q", got, want)
			}
		})
	}
}

// TestFindSlotsRanking checks who is listed where, the score and the
// blockers, and that optional attendees break ties between equal starts.
func TestFindSlotsRanking(t *testing.T) {
	q := calendar.SlotQuery{
		Attendees: []calendar.Attendee{
			{ID: "lead", Essential: true, Busy: []calendar.Interval{span(t, 0, "09:00", "17:00")}},
			{ID: "sw", Essential: true, Busy: []calendar.Interval{span(t, 1, "09:00", "10:00")}},
			{ID: "police", Essential: true, Availability: calendar.Unknown},
			{ID: "gp", Busy: []calendar.Interval{span(t, 1, "09:00", "12:00")}},
			{ID: "school"},
		},
		Duration: time.Hour, Earliest: lon(t, 0, "09:00"), Deadline: lon(t, 1, "17:00"), MaxSlots: 2,
	}
	res, err := calendar.FindSlots(q)
	if err != nil {
		t.Fatal(err)
	}
	want := calendar.SlotResult{
		Reason: calendar.AttendeesUnknown,
		Slots: []calendar.Slot{{
			Start: lon(t, 1, "10:00"), End: lon(t, 1, "11:00"),
			Score: (100 + 100 + 49 + 0 + 100) / 5.0,
			Free:  []string{"lead", "sw", "school"}, Busy: []string{"gp"}, Unknown: []string{"police"},
			Blockers: []string{"police"},
		}, {
			Start: lon(t, 1, "10:15"), End: lon(t, 1, "11:15"),
			Score: (100 + 100 + 49 + 0 + 100) / 5.0,
			Free:  []string{"lead", "sw", "school"}, Busy: []string{"gp"}, Unknown: []string{"police"},
			Blockers: []string{"police"},
		}},
	}
	if diff := cmp.Diff(want, res, cmp.Comparer(time.Time.Equal)); diff != "" {
		t.Errorf("result (-want +got):\n%s", diff)
	}

	// Once the police answer, Tuesday 10:00 is a full slot.
	q.Attendees[2].Availability = calendar.Known
	res, err = calendar.FindSlots(q)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := res.Reason, calendar.SlotReason(""); got != want {
		t.Errorf("reason = %q, want none", got)
	}
	if got, want := res.Slots[0].Start, lon(t, 1, "10:00"); !got.Equal(want) {
		t.Errorf("first slot %v, want %v", got, want)
	}
	if got, want := res.Slots[0].Score, 80.0; got != want {
		t.Errorf("score = %v, want %v", got, want)
	}
}

func TestFindSlotsInvalid(t *testing.T) {
	for _, q := range []calendar.SlotQuery{
		{Earliest: at(0), Deadline: at(8)},
		{Duration: time.Hour, Deadline: at(8)},
	} {
		if _, err := calendar.FindSlots(q); err == nil {
			t.Errorf("FindSlots(%+v) succeeded", q)
		}
	}
}

func TestWorkingHoursJSON(t *testing.T) {
	var wh calendar.WorkingHours
	if err := json.Unmarshal([]byte(`{"days":["Monday","tue","WEDNESDAY"],"start":"08:30","end":"16:00"}`), &wh); err != nil {
		t.Fatal(err)
	}
	want := calendar.WorkingHours{Days: []time.Weekday{time.Monday, time.Tuesday, time.Wednesday}, Start: 8*60 + 30, End: 16 * 60}
	if diff := cmp.Diff(want, wh); diff != "" {
		t.Errorf("unmarshal (-want +got):\n%s", diff)
	}
	b, err := json.Marshal(wh)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(b), `{"days":["monday","tuesday","wednesday"],"start":"08:30","end":"16:00"}`; got != want {
		t.Errorf("marshal = %s, want %s", got, want)
	}
	for _, bad := range []string{
		`{"days":["funday"],"start":"09:00","end":"17:00"}`,
		`{"days":["monday"],"start":"9am","end":"17:00"}`,
		`{"days":["monday"],"start":"17:00","end":"09:00"}`,
		`{"days":["monday"],"start":"09:00","end":"24:30"}`,
	} {
		if err := json.Unmarshal([]byte(bad), &wh); err == nil {
			t.Errorf("accepted %s", bad)
		}
	}
}

// TestFullyBookedWeek names who blocks each partial slot.
func TestFullyBookedWeek(t *testing.T) {
	var booked []calendar.Interval
	for d := 0; d < 5; d++ {
		booked = append(booked, span(t, d, "08:00", "18:00"))
	}
	res, err := calendar.FindSlots(calendar.SlotQuery{
		Attendees: []calendar.Attendee{
			{ID: "chair", Essential: true, Busy: booked},
			{ID: "social-worker", Essential: true, Busy: []calendar.Interval{span(t, 0, "09:00", "17:00")}},
			{ID: "teacher"},
		},
		Duration: time.Hour, Earliest: lon(t, 0, "09:00"), Deadline: lon(t, 4, "17:00"), MaxSlots: 1,
	})
	if err != nil {
		t.Fatal(err)
	}
	want := calendar.SlotResult{
		Reason: calendar.AttendeesUnavailable,
		Slots: []calendar.Slot{{
			Start: lon(t, 1, "09:00"), End: lon(t, 1, "10:00"),
			Score: 200 / 3.0,
			Free:  []string{"social-worker", "teacher"}, Busy: []string{"chair"}, Unknown: []string{},
			Blockers: []string{"chair"},
		}},
	}
	if diff := cmp.Diff(want, res, cmp.Comparer(time.Time.Equal)); diff != "" {
		t.Errorf("result (-want +got):\n%s", diff)
	}
}
