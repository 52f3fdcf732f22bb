package recordpdf

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/convene/convene/service"
	"github.com/convene/convene/service/policy"
)

// pdfText extracts a PDF's text with poppler's pdftotext (Debian's
// poppler-utils, in .ci/deps), an independent reader of what we wrote.
func pdfText(t *testing.T, pdf []byte) string {
	t.Helper()
	bin, err := exec.LookPath("pdftotext")
	if err != nil {
		t.Fatalf("pdftotext (poppler-utils) is needed: run .ci/deps: %v", err)
	}
	in := filepath.Join(t.TempDir(), "record.pdf")
	if err := os.WriteFile(in, pdf, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bin, "-layout", in, "-").CombinedOutput()
	if err != nil {
		t.Fatalf("pdftotext: %v\n%s", err, out)
	}
	return string(out)
}

func record(actions int) *service.Record {
	at := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	r := &service.Record{
		DiscussionID: "d1", CaseReference: "CR-2026-0042", Area: "Anytown Safeguarding Children Partnership", Version: 2,
		GeneratedAt: at.Add(3 * time.Hour), TimeZone: "Europe/London", Start: at, End: at.Add(50 * time.Minute), Duration: 50 * time.Minute,
		Format: policy.FormatMeeting, Chair: "Chris Chair", RAG: policy.RAGAmber,
		Attendance: []service.RecordAttendee{
			{Name: "Chris Chair", Agency: policy.AgencySocialCare, Role: "team_manager", Seniority: "Team manager", Present: true, Chair: true},
			{Name: "Nina Named-Nurse", Agency: policy.AgencyHealth, Role: "safeguarding_nurse", Apologies: true},
		},
		Quorum:  service.RecordQuorum{Override: "police delayed", Missing: []string{"police"}},
		Outcome: policy.OutcomeS47Enquiry,
		SignsOfSafety: service.SignsOfSafety{Concerns: "Bruising to the upper arm reported by school — unexplained", WorkingWell: "Engaged grandparent",
			NeedToKnow: "Medical opinion", NeedsToBeDone: "Joint visit"},
		Decisions:    []service.Decision{{Decision: "Initiate a section 47 enquiry", Rationale: "Reasonable cause to suspect significant harm"}},
		AuthorisedBy: []service.Authoriser{{Name: "Chris Chair", Agency: policy.AgencySocialCare, Role: "team_manager", At: at, Method: "signed_in"}},
		Review:       &service.Review{Date: at.AddDate(0, 0, 10), Mechanism: "Review strategy discussion"},
		FollowOns: []service.FollowOn{{FollowOn: policy.FollowOn{ID: "RECORD", Summary: "Record circulated", Due: at.Add(31 * time.Hour)},
			State: service.FollowOnMet, Owner: &service.FollowOnOwner{Agency: policy.AgencySocialCare, Name: "Chris Chair"}}},
		Circulation: &service.Circulation{Version: 2, At: at.Add(2 * time.Hour), To: []string{"a@x", "b@y"}},
		Signups: []service.Signup{{Agency: policy.AgencyHealth, Version: 2, State: service.SignupDissented, By: "Nina Named-Nurse",
			Reason: "Health information does not meet the threshold"}},
	}
	for i := range actions {
		r.Actions = append(r.Actions, service.Action{Description: fmt.Sprintf("Action number %d: a visit and a long description that wraps in its cell", i+1),
			Owner: "Sam Social", Agency: policy.AgencySocialCare, Due: at.Add(24 * time.Hour), Purpose: "See the child alone and assess safety"})
	}
	return r
}

func TestRender(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	if err := Render(&buf, record(40)); err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(buf.Bytes(), []byte("%PDF-")) {
		t.Fatalf("not a PDF: %q", buf.Bytes()[:20])
	}
	text := pdfText(t, buf.Bytes())
	for _, want := range []string{
		"Record of Strategy Discussion", "Anytown Safeguarding Children Partnership", "CR-2026-0042", "record version 2",
		"Bruising to the upper arm reported by school — unexplained", "Initiate a section 47 enquiry", "Reasonable cause to suspect significant harm",
		"Chris Chair", "apologies", "Started without quorum. Reason: police delayed", "RECORD: Record circulated",
		"Review strategy discussion", "dissented", "Health information does not meet the threshold", "Action number 40",
		"Mon 2 Mar 2026 10:00",
	} {
		if !strings.Contains(strings.Join(strings.Fields(text), " "), want) {
			t.Errorf("the PDF's text lacks %q", want)
		}
	}
	// Every page carries the marking and "page x of y".
	pages := strings.Split(strings.TrimRight(text, "\f\n"), "\f")
	if len(pages) < 2 {
		t.Fatalf("%d pages: want the 40 actions to run onto a second", len(pages))
	}
	for i, pg := range pages {
		if n := strings.Count(pg, Marking); n < 2 {
			t.Errorf("page %d carries %s %d times, want header and footer", i+1, Marking, n)
		}
		if !regexp.MustCompile(fmt.Sprintf(`Page %d of %d\b`, i+1, len(pages))).MatchString(pg) {
			t.Errorf("page %d lacks \"Page %d of %d\"", i+1, i+1, len(pages))
		}
	}
}

// BenchmarkRender renders a typical record (five actions) and a long one
// (forty), reporting the PDF's size.
func BenchmarkRender(b *testing.B) {
	for _, n := range []int{5, 40} {
		b.Run(fmt.Sprintf("actions=%d", n), func(b *testing.B) {
			r := record(n)
			var size int
			for b.Loop() {
				var buf bytes.Buffer
				if err := Render(&buf, r); err != nil {
					b.Fatal(err)
				}
				size = buf.Len()
			}
			b.ReportMetric(float64(size)/1024, "KiB/pdf")
		})
	}
}
