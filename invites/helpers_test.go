package invites

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
	_ "time/tzdata" // tests must not depend on the machine's zoneinfo

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// london loads Europe/London or fails the test.
func london(t testing.TB) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation("Europe/London")
	if err != nil {
		t.Fatalf("loading Europe/London: %v", err)
	}
	return loc
}

// fixedClock is a Now for builders: a fixed instant.
func fixedClock(t time.Time) func() time.Time { return func() time.Time { return t } }

// counterIDs returns a NewID that yields id-1, id-2, ... so messages are
// reproducible.
func counterIDs(prefix string) func() string {
	n := 0
	return func() string {
		n++
		return fmt.Sprintf("%s-%d", prefix, n)
	}
}

// summerMeeting is the invitation the golden files describe: a strategy
// discussion on Tuesday 14 July 2026, 10:00-11:00 BST (09:00-10:00 UTC).
func summerMeeting(t testing.TB) Meeting {
	loc := london(t)
	return Meeting{
		UID:      "b1f6c0de-5e1a-4c1e-9d7a-2f4d3c2b1a00@convene.example",
		Sequence: 0,
		Summary:  "Strategy discussion — case CR-2026-0042",
		Agenda: []string{
			"Introductions and purpose",
			"Information sharing: concerns, what is working well, what we need to know",
			"Decision: section 47 enquiry or other outcome",
			"Actions, owners and timescales",
		},
		Start:     time.Date(2026, 7, 14, 10, 0, 0, 0, loc),
		End:       time.Date(2026, 7, 14, 11, 0, 0, 0, loc),
		TimeZone:  loc,
		Location:  "Meeting room 2, Civic Centre",
		OnlineURL: "https://meet.example.org/j/4242-0042",
		Organizer: Person{Name: "Business Support (Convene)", Email: "convene@council.example.gov.uk"},
		Attendees: []Attendee{
			{Name: "Sam Chair", Email: "sam.chair@council.example.gov.uk", Role: RoleChair, RSVP: true},
			{Name: "DS Priya Patel", Email: "priya.patel@police.example.uk", Role: RoleRequired, RSVP: true},
			{Name: "Dr Ola Health", Email: "ola.health@nhs.example.net", Role: RoleRequired, RSVP: true},
			{Name: "Ms Jordan School", Email: "jordan@school.example.sch.uk", Role: RoleOptional, RSVP: true},
		},
		Private:   true,
		Created:   time.Date(2026, 7, 10, 8, 30, 0, 0, time.UTC),
		Sensitive: []string{"Jayden Example", "14 Sample Street"},
	}
}

// golden compares got with testdata/golden/name, or rewrites it with
// -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./invites -run %s -update to create it)", err, t.Name())
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("%s differs from the golden file (-want +got):\n%s", name, diff)
	}
}
