package invites

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// debianPython is Debian's interpreter, which has python3-icalendar and
// python3-aiosmtpd; a python3 earlier on PATH (pyenv) may not.
const debianPython = "/usr/bin/python3"

// independentView is what both outside parsers report for one file.
type independentView struct {
	Method    string `json:"method"`
	UID       string `json:"uid"`
	Sequence  int    `json:"sequence"`
	Status    string `json:"status"`
	TZID      string `json:"tzid"`
	Floating  bool   `json:"floating"`
	Start     string `json:"start"`
	End       string `json:"end"`
	Offset    *int   `json:"vtimezone_offset_minutes"`
	Attendees []struct {
		Value    string `json:"value"`
		CN       string `json:"cn"`
		Role     string `json:"role"`
		PartStat string `json:"partstat"`
		RSVP     string `json:"rsvp"`
	} `json:"attendees"`
}

// interopCases are a summer (BST) and a winter (GMT) invitation, and a
// cancellation, written to files for the outside parsers.
func interopCases(t *testing.T) (dir string, cases []interopCase) {
	t.Helper()
	loc := london(t)
	dir = t.TempDir()
	b := Builder{Now: fixedClock(goldenNow)}
	summer := summerMeeting(t)
	winter := summerMeeting(t)
	winter.Sequence = 1
	winter.Start = time.Date(2026, 12, 1, 10, 0, 0, 0, loc)
	winter.End = time.Date(2026, 12, 1, 11, 30, 0, 0, loc)
	cancel := winter
	cancel.Sequence = 2
	cases = []interopCase{
		{"summer-request.ics", MethodRequest, summer, "2026-07-14T09:00:00Z", "2026-07-14T10:00:00Z", 60},
		{"winter-update.ics", MethodRequest, winter, "2026-12-01T10:00:00Z", "2026-12-01T11:30:00Z", 0},
		{"winter-cancel.ics", MethodCancel, cancel, "2026-12-01T10:00:00Z", "2026-12-01T11:30:00Z", 0},
	}
	for _, c := range cases {
		ics, err := b.Calendar(c.method, c.m)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, c.file), ics, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir, cases
}

type interopCase struct {
	file          string
	method        Method
	m             Meeting
	start, end    string // UTC, as RFC 3339
	offsetMinutes int
}

func checkIndependent(t *testing.T, parser string, got []independentView, cases []interopCase) {
	t.Helper()
	if len(got) != len(cases) {
		t.Fatalf("%s read %d events, want %d", parser, len(got), len(cases))
	}
	for i, c := range cases {
		g := got[i]
		if g.Floating || g.TZID != "Europe/London" {
			t.Errorf("%s %s: start is floating=%v in zone %q, want Europe/London", parser, c.file, g.Floating, g.TZID)
		}
		if !sameInstant(t, g.Start, c.start) || !sameInstant(t, g.End, c.end) {
			t.Errorf("%s %s: %s to %s, want %s to %s", parser, c.file, g.Start, g.End, c.start, c.end)
		}
		if g.Method != string(c.method) || g.UID != c.m.UID || g.Sequence != c.m.Sequence {
			t.Errorf("%s %s: METHOD %s UID %s SEQUENCE %d, want %s %s %d", parser, c.file, g.Method, g.UID, g.Sequence, c.method, c.m.UID, c.m.Sequence)
		}
		if g.Offset != nil && *g.Offset != c.offsetMinutes {
			t.Errorf("%s %s: our VTIMEZONE gives UTC%+d min, want %+d", parser, c.file, *g.Offset, c.offsetMinutes)
		}
		if len(g.Attendees) != len(c.m.Attendees) {
			t.Fatalf("%s %s: %d attendees, want %d", parser, c.file, len(g.Attendees), len(c.m.Attendees))
		}
		for j, a := range g.Attendees {
			w := c.m.Attendees[j]
			if a.Value != "mailto:"+w.Email || a.CN != w.Name || a.Role != string(w.Role) || a.PartStat != "NEEDS-ACTION" {
				t.Errorf("%s %s: attendee %d = %+v", parser, c.file, j, a)
			}
			if c.method == MethodRequest && a.RSVP != "TRUE" {
				t.Errorf("%s %s: attendee %d RSVP = %q, want TRUE", parser, c.file, j, a.RSVP)
			}
		}
	}
}

func sameInstant(t *testing.T, a, b string) bool {
	t.Helper()
	ta, err1 := time.Parse(time.RFC3339, a)
	tb, err2 := time.Parse(time.RFC3339, b)
	return err1 == nil && err2 == nil && ta.Equal(tb)
}

// TestPythonICalendar reads the invitations with Debian's python3-icalendar.
func TestPythonICalendar(t *testing.T) {
	if _, err := os.Stat(debianPython); err != nil {
		t.Fatalf("%s not found: install Debian's python3 and python3-icalendar", debianPython)
	}
	if out, err := exec.Command(debianPython, "-c", "import icalendar").CombinedOutput(); err != nil {
		t.Fatalf("python3-icalendar missing (apt-get install python3-icalendar): %v\n%s", err, out)
	}
	dir, cases := interopCases(t)
	args := []string{filepath.Join("testdata", "icalendar_check.py")}
	for _, c := range cases {
		args = append(args, filepath.Join(dir, c.file))
	}
	var stderr bytes.Buffer
	cmd := exec.Command(debianPython, args...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("icalendar_check.py: %v\n%s", err, stderr.String())
	}
	var got []independentView
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("%v in %s", err, out)
	}
	for i, g := range got {
		if g.Offset == nil {
			t.Errorf("%s: python3-icalendar found no VTIMEZONE for the TZID", cases[i].file)
		}
	}
	checkIndependent(t, "python3-icalendar", got, cases)
}

var npmOnce sync.Once

// icalJS makes sure testdata/js/node_modules holds ical.js, running
// npm ci (from the committed package-lock.json) if it does not.
func icalJS(t *testing.T) string {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("node not found: install Node.js to run the ical.js check")
	}
	jsDir := filepath.Join("testdata", "js")
	var setupErr error
	npmOnce.Do(func() {
		if _, err := os.Stat(filepath.Join(jsDir, "node_modules", "ical.js", "package.json")); err == nil {
			return
		}
		npm, err := exec.LookPath("npm")
		if err != nil {
			setupErr = err
			return
		}
		cmd := exec.Command(npm, "ci", "--no-audit", "--no-fund", "--prefix", jsDir)
		if out, err := cmd.CombinedOutput(); err != nil {
			setupErr = err
			t.Logf("npm ci: %s", out)
		}
	})
	if setupErr != nil {
		t.Fatalf("installing ical.js with npm ci in %s: %v", jsDir, setupErr)
	}
	if _, err := os.Stat(filepath.Join(jsDir, "node_modules", "ical.js", "package.json")); err != nil {
		t.Fatalf("ical.js is not installed in %s/node_modules: %v", jsDir, err)
	}
	return node
}

// TestICalJS reads the invitations with ical.js, which resolves TZIDs only
// through the VTIMEZONE in the file.
func TestICalJS(t *testing.T) {
	node := icalJS(t)
	dir, cases := interopCases(t)
	args := []string{filepath.Join("testdata", "js", "check.mjs")}
	for _, c := range cases {
		args = append(args, filepath.Join(dir, c.file))
	}
	var stderr bytes.Buffer
	cmd := exec.Command(node, args...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("check.mjs: %v\n%s", err, stderr.String())
	}
	var got []independentView
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("%v in %s", err, out)
	}
	checkIndependent(t, "ical.js", got, cases)
}
