package httpapi_test

import (
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/convene/convene/calendar/caltest"
	"github.com/convene/convene/service"
)

func event(uid string, start, end time.Time) []byte {
	f := "20060102T150405Z"
	return fmt.Appendf(nil, "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VEVENT\r\nUID:%s\r\nDTSTAMP:20261101T000000Z\r\nDTSTART:%s\r\nDTEND:%s\r\nSUMMARY:Busy\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
		uid, start.UTC().Format(f), end.UTC().Format(f))
}

// TestAvailabilityReadsRealCalendars: two directory people with CalDAV
// calendars on a real Radicale, one with no calendar, one whose credential
// reference names a variable the service must not read.
func TestAvailabilityReadsRealCalendars(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	rad := caltest.StartRadicale(t)
	// The passwords are in testEnv.
	rad.AddUser(t, "dana", "dana-pw")
	rad.AddUser(t, "hana", "hana-pw")
	monday := time.Date(2026, 11, 30, 0, 0, 0, 0, london)
	at := func(h, m int) time.Time { return monday.Add(time.Duration(h)*time.Hour + time.Duration(m)*time.Minute) }
	rad.CreateCalendar(t, "dana", "work").Put(t, "a.ics", event("dana-1", at(9, 0), at(11, 0)))
	rad.CreateCalendar(t, "hana", "work").Put(t, "b.ics", event("hana-1", at(11, 0), at(12, 0)))

	bso := token(t, service.RoleBusinessSupport, "social_care")
	create := func(name, email string, cal map[string]any) string {
		body := map[string]any{"name": name, "email": email, "agency": "health", "role": "named_nurse", "seniority": 2}
		if cal != nil {
			body["calendar"] = cal
		}
		r := h.do("POST", "/v1/people", bso, body)
		if r.Status != http.StatusCreated {
			t.Fatalf("create %s: %d %s", name, r.Status, r.Body)
		}
		return r.JSON(t)["id"].(string)
	}
	dana := create("Dana", "dana@example.org", map[string]any{"type": "caldav", "url": rad.URL, "credential_ref": "env:CONVENE_CRED_DANA"})
	hana := create("Hana", "hana@example.org", map[string]any{"type": "caldav", "url": rad.URL + "hana/work/", "credential_ref": "env:CONVENE_CRED_HANA"})
	chris := create("Chris", "chris@example.org", nil)

	r := h.do("POST", "/v1/availability", bso, map[string]any{
		"attendees": []map[string]any{
			{"person_id": dana}, {"person_id": hana}, {"person_id": chris, "essential": false},
		},
		"duration_minutes": 60, "earliest": at(9, 0), "deadline": at(17, 0), "max_slots": 3,
	})
	if r.Status != http.StatusOK {
		t.Fatalf("availability: %d %s", r.Status, r.Body)
	}
	var got struct {
		Slots []struct {
			Start, End    time.Time
			Free, Unknown []string
		}
		Attendees []struct {
			Email, Availability, Reason string
		}
		Reason string
	}
	decodeInto(t, r.Body, &got)
	if len(got.Slots) == 0 {
		t.Fatalf("no slots: %s", r.Body)
	}
	first := got.Slots[0]
	if !first.Start.Equal(at(12, 0)) || !first.End.Equal(at(13, 0)) {
		t.Errorf("first slot = %s–%s, want 12:00–13:00 on Monday (Dana busy 9–11, Hana 11–12)", first.Start, first.End)
	}
	if _, off := first.Start.Zone(); off != 0 {
		t.Errorf("slot start %s: want it written in Europe/London (GMT in November)", first.Start)
	}
	if diff := cmp.Diff([]string{"dana@example.org", "hana@example.org"}, first.Free); diff != "" {
		t.Errorf("free in the first slot (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"chris@example.org"}, first.Unknown); diff != "" {
		t.Errorf("unknown in the first slot (-want +got):\n%s", diff)
	}
	wantAttendees := []struct{ Email, Availability, Reason string }{
		{"dana@example.org", "known", ""}, {"hana@example.org", "known", ""}, {"chris@example.org", "unknown", "no_calendar"},
	}
	if diff := cmp.Diff(wantAttendees, got.Attendees); diff != "" {
		t.Errorf("attendees (-want +got):\n%s", diff)
	}
	if got.Reason != "" {
		t.Errorf("reason = %q, want none: essential attendees are free at 12:00", got.Reason)
	}

	// An ad-hoc calendar whose reference names a variable outside
	// CONVENE_CRED_* is refused at the door.
	r = h.do("POST", "/v1/availability", bso, map[string]any{
		"attendees": []map[string]any{{"email": "x@example.org", "calendar": map[string]any{
			"type": "caldav", "url": rad.URL, "credential_ref": "env:SECRET_NOT_FOR_CALENDARS"}}},
		"duration_minutes": 60, "earliest": at(9, 0), "deadline": at(17, 0),
	})
	p := problemOf(t, r, http.StatusUnprocessableEntity)
	// (Named twice: the reference is not one the service resolves, and an
	// ad-hoc calendar may not use the service's credentials at all.)
	if diff := cmp.Diff([]string{"attendees[0].calendar.credential_ref"}, slices.Compact(fieldsOf(p))); diff != "" {
		t.Errorf("fields (-want +got):\n%s", diff)
	}
	// Agency representatives cannot search calendars.
	problemOf(t, h.do("POST", "/v1/availability", token(t, service.RoleAgencyRep, "police"), map[string]any{
		"attendees": []map[string]any{{"person_id": dana}}, "duration_minutes": 60, "earliest": at(9, 0), "deadline": at(17, 0),
	}), http.StatusForbidden)
	// A window the wrong way round names the field.
	p = problemOf(t, h.do("POST", "/v1/availability", bso, map[string]any{
		"attendees": []map[string]any{{"person_id": dana}}, "duration_minutes": 60, "earliest": at(17, 0), "deadline": at(9, 0),
	}), http.StatusUnprocessableEntity)
	if diff := cmp.Diff([]string{"deadline"}, fieldsOf(p)); diff != "" {
		t.Errorf("fields (-want +got):\n%s", diff)
	}
}
