// Package recordpdf renders the Record of Strategy Discussion (000 §7,
// 001, 003 §5, 004) as a PDF for the case file, with go-pdf/fpdf: the
// area's name and the record's version at the head, and on every page a
// footer marking it OFFICIAL-SENSITIVE (the Government Security
// Classifications' handling caveat for case data) with "page x of y".
package recordpdf

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/go-pdf/fpdf"

	"github.com/convene/convene/service"
)

// Marking is the protective marking on every page.
const Marking = "OFFICIAL-SENSITIVE"

// Render writes r as a PDF to w.
func Render(w io.Writer, r *service.Record) error {
	loc, err := time.LoadLocation(r.TimeZone)
	if err != nil {
		loc = time.UTC
	}
	p := &page{pdf: fpdf.New("P", "mm", "A4", ""), loc: loc}
	f := p.pdf
	// The core fonts are cp1252: translate from UTF-8 (dashes, quotes,
	// accents); anything beyond becomes a question mark rather than noise.
	p.tr = f.UnicodeTranslatorFromDescriptor("")
	f.SetTitle("Record of Strategy Discussion "+r.CaseReference, true)
	f.SetCreator("Convene", true)
	f.SetMargins(18, 18, 18)
	f.SetAutoPageBreak(true, 22)
	f.AliasNbPages("{nb}")
	f.SetHeaderFunc(func() {
		f.SetFont("Helvetica", "B", 8)
		f.SetTextColor(120, 0, 0)
		f.CellFormat(0, 5, Marking, "", 1, "C", false, 0, "")
		f.SetTextColor(0, 0, 0)
		f.Ln(2)
	})
	f.SetFooterFunc(func() {
		f.SetY(-15)
		f.SetFont("Helvetica", "", 8)
		f.SetTextColor(120, 0, 0)
		f.CellFormat(0, 4, p.tr(fmt.Sprintf("%s - %s - record version %d", Marking, r.Area, r.Version)), "", 1, "C", false, 0, "")
		f.SetTextColor(0, 0, 0)
		f.CellFormat(0, 4, fmt.Sprintf("Page %d of {nb}", f.PageNo()), "", 0, "C", false, 0, "")
	})
	f.AddPage()

	f.SetFont("Helvetica", "B", 16)
	p.line(9, "Record of Strategy Discussion")
	f.SetFont("Helvetica", "", 10)
	p.line(5, r.Area)
	p.line(5, fmt.Sprintf("Case reference %s - record version %d - produced %s", r.CaseReference, r.Version, p.when(r.GeneratedAt)))
	f.Ln(3)

	p.heading("The discussion")
	p.field("Date and time", p.when(r.Start)+" to "+r.End.In(loc).Format("15:04"))
	p.field("Duration", r.Duration.Round(time.Minute).String())
	p.field("Format", string(r.Format))
	p.field("Chair", r.Chair)
	if r.RAG != "" {
		p.field("RAG rating", string(r.RAG))
	}

	p.heading("Attendance")
	rows := [][]string{}
	for _, a := range r.Attendance {
		status := "present"
		if a.Apologies {
			status = "apologies"
		}
		knows := ""
		if a.KnowsChild {
			knows = "yes"
		}
		name := a.Name
		if a.Chair {
			name += " (chair)"
		}
		rows = append(rows, []string{name, string(a.Agency), a.Role, a.Seniority, status, knows})
	}
	p.table([]string{"Name", "Agency", "Role", "Seniority", "Present", "Knows child"}, []float64{40, 27, 34, 30, 20, 23}, rows)

	p.heading("Quorum at the start")
	if r.Quorum.Met {
		p.para("Quorum was met.")
	} else {
		p.para("Started without quorum. Reason: " + r.Quorum.Override)
		if len(r.Quorum.Missing) > 0 {
			p.para("Missing: " + strings.Join(r.Quorum.Missing, "; "))
		}
	}

	p.heading("Information shared (Signs of Safety)")
	p.field("What we are worried about", r.SignsOfSafety.Concerns)
	p.field("What is working well", r.SignsOfSafety.WorkingWell)
	p.field("What we still need to know", r.SignsOfSafety.NeedToKnow)
	p.field("What needs to be done", r.SignsOfSafety.NeedsToBeDone)

	p.heading("Outcome and decisions")
	p.field("Outcome", strings.ReplaceAll(string(r.Outcome), "_", " "))
	for i, d := range r.Decisions {
		p.field(fmt.Sprintf("Decision %d", i+1), d.Decision)
		p.field("Rationale", d.Rationale)
	}
	for _, a := range r.AuthorisedBy {
		p.field("Authorised by", fmt.Sprintf("%s (%s, %s) %s, %s", a.Name, a.Agency, a.Role, p.when(a.At), strings.ReplaceAll(a.Method, "_", " ")))
	}
	if r.ChildSeen != nil {
		p.field("Child to be seen", "by "+r.ChildSeen.By+", "+p.when(r.ChildSeen.At))
	}
	if r.SafetyPlan != nil {
		p.field("Safety plan", r.SafetyPlan.Plan+" (responsible: "+r.SafetyPlan.Responsible+", until "+p.when(r.SafetyPlan.Until)+")")
	}
	if r.Deferral != nil {
		p.field("Deferred because", r.Deferral.Reason)
		p.field("Information needed", r.Deferral.InformationNeeded)
		p.field("Safety plan", r.Deferral.SafetyPlan)
	}
	if r.EPO != nil {
		p.field("Emergency Protection Order", r.EPO.Decision+"; legal advice from "+r.EPO.LegalAdviser+": "+r.EPO.LegalAdvice+"; approved by "+r.EPO.ApprovedBy)
	}
	if r.SupportConsidered != "" {
		p.field("Support considered", r.SupportConsidered)
	}

	p.heading("Actions (SMART)")
	rows = rows[:0]
	for _, a := range r.Actions {
		rows = append(rows, []string{a.Description, a.Owner, string(a.Agency), p.when(a.Due), a.Purpose})
	}
	if len(rows) == 0 {
		p.para("No actions.")
	} else {
		p.table([]string{"What", "Who", "Agency", "By when", "Why"}, []float64{46, 28, 24, 32, 44}, rows)
	}

	p.heading("Follow-on deadlines")
	rows = rows[:0]
	for _, fo := range r.FollowOns {
		owner := ""
		if fo.Owner != nil {
			owner = strings.TrimSpace(fo.Owner.Name + " (" + string(fo.Owner.Agency) + ")")
		}
		state := string(fo.State)
		if fo.MetAt != nil {
			state += " " + p.when(*fo.MetAt)
		}
		if fo.MissedAt != nil {
			state += " (missed)"
		}
		rows = append(rows, []string{fo.ID + ": " + fo.Summary, p.when(fo.Due), owner, state})
	}
	p.table([]string{"Deadline", "Due", "Owner", "State"}, []float64{70, 32, 36, 36}, rows)

	if r.Review != nil {
		p.heading("Review")
		p.field("Date", p.when(r.Review.Date))
		p.field("Mechanism", r.Review.Mechanism)
	}
	if len(r.OtherChildren) > 0 {
		p.heading("Other children affected")
		for _, c := range r.OtherChildren {
			referred := "not referred"
			if c.Referred {
				referred = "referred " + c.ReferralReference
			}
			p.para(c.Reference + " - " + c.Relationship + " - " + referred)
		}
	}
	if len(r.Dissent) > 0 {
		p.heading("Dissent recorded at the discussion")
		for _, d := range r.Dissent {
			p.para(fmt.Sprintf("%s (%s): %s - escalated to %s", d.By, d.Agency, d.Reason, d.EscalatedTo))
		}
	}
	p.heading("Sign-up by partner agencies")
	if r.Circulation == nil {
		p.para("Not yet circulated.")
	} else {
		p.para(fmt.Sprintf("Version %d circulated %s to %d participants.", r.Circulation.Version, p.when(r.Circulation.At), len(r.Circulation.To)))
		rows = rows[:0]
		for _, s := range r.Signups {
			at := ""
			if s.At != nil {
				at = p.when(*s.At)
			}
			rows = append(rows, []string{string(s.Agency), string(s.State), s.By, at, s.Reason})
		}
		p.table([]string{"Agency", "State", "By", "When", "Reason"}, []float64{26, 22, 34, 32, 60}, rows)
	}
	if len(r.Amendments) > 0 {
		p.heading("Amendments")
		for _, a := range r.Amendments {
			p.para(fmt.Sprintf("Version %d, %s by %s: %s", a.Version, p.when(a.At), a.By, a.Reason))
		}
	}
	if err := f.Error(); err != nil {
		return err
	}
	return f.Output(w)
}

type page struct {
	pdf *fpdf.Fpdf
	loc *time.Location
	tr  func(string) string
}

func (p *page) when(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.In(p.loc).Format("Mon 2 Jan 2006 15:04")
}

func (p *page) line(h float64, s string) {
	p.pdf.CellFormat(0, h, p.tr(s), "", 1, "L", false, 0, "")
}

func (p *page) heading(s string) {
	p.pdf.Ln(3)
	p.pdf.SetFont("Helvetica", "B", 12)
	p.line(7, s)
	p.pdf.SetFont("Helvetica", "", 10)
}

func (p *page) para(s string) {
	p.pdf.MultiCell(0, 5, p.tr(s), "", "L", false)
}

func (p *page) field(label, value string) {
	p.pdf.SetFont("Helvetica", "B", 10)
	p.pdf.CellFormat(50, 5, p.tr(label), "", 0, "L", false, 0, "")
	p.pdf.SetFont("Helvetica", "", 10)
	p.pdf.MultiCell(0, 5, p.tr(value), "", "L", false)
}

// table writes rows under a header, each cell wrapped to its width and
// each row as tall as its tallest cell.
func (p *page) table(header []string, widths []float64, rows [][]string) {
	f := p.pdf
	f.SetFont("Helvetica", "B", 9)
	for i, h := range header {
		f.CellFormat(widths[i], 6, p.tr(h), "1", 0, "L", false, 0, "")
	}
	f.Ln(-1)
	f.SetFont("Helvetica", "", 9)
	const lh = 4.5
	for _, row := range rows {
		lines := 1
		for i, c := range row {
			if n := len(f.SplitText(p.tr(c), widths[i]-2)); n > lines {
				lines = n
			}
		}
		h := float64(lines) * lh
		_, pageH := f.GetPageSize()
		_, _, _, bottom := f.GetMargins()
		if f.GetY()+h > pageH-bottom {
			f.AddPage()
		}
		x, y := f.GetXY()
		for i, c := range row {
			f.Rect(x, y, widths[i], h, "D")
			f.SetXY(x+1, y)
			f.MultiCell(widths[i]-2, lh, p.tr(c), "", "L", false)
			x += widths[i]
			f.SetXY(x, y)
		}
		f.SetXY(f.GetX()-sum(widths), y+h)
	}
	f.SetFont("Helvetica", "", 10)
}

func sum(v []float64) float64 {
	var s float64
	for _, x := range v {
		s += x
	}
	return s
}
