package web

import (
	"fmt"
	"net/http"
	"net/url"

	"github.com/convene/convene/calendar"
	"github.com/convene/convene/service"
	"github.com/convene/convene/service/policy"
)

// The staff pages: business support's Today, Convene, slots and booking,
// the discussion; the chair's quorum, roster and outcome; the directory.
// Each handler asks the App (the domain core the API uses too) and shows
// its answer: no rule is decided here, and every read and change is
// audited by the App.

// staffRoutes adds the staff pages (business support, chair).
func (s *Server) staffRoutes() {
	bs, ch, ad := service.RoleBusinessSupport, service.RoleChair, service.RoleAdmin
	s.staffPage("GET /today", s.todayPage)
	s.staffPage("GET /convene", s.conveneStart, bs, ch)
	s.staffPage("POST /convene", s.conveneNext, bs, ch)
	s.staffPage("GET /discussions/{id}", s.discussionPage, bs, ch)
	s.staffPage("GET /discussions/{id}/slots", s.slotsPage, bs, ch)
	s.staffPage("POST /discussions/{id}/book", s.bookPost, bs, ch)
	s.staffPage("POST /discussions/{id}/cancel", s.cancelPost, bs, ch)
	s.staffPage("POST /discussions/{id}/attendees", s.addPost, bs, ch)
	s.staffPage("POST /discussions/{id}/attendees/remove", s.removePost, bs, ch)
	s.staffPage("POST /discussions/{id}/counters/{counter}/{decision}", s.counterPost, bs, ch)
	s.staffPage("POST /discussions/{id}/held/{held}/{decision}", s.heldPost, bs, ch)
	s.staffPage("GET /discussions/{id}/quorum", s.quorumPage, bs, ch)
	s.staffPage("POST /discussions/{id}/attendance", s.attendancePost, bs, ch)
	s.staffPage("POST /discussions/{id}/walk-in", s.walkInPost, bs, ch)
	s.staffPage("POST /discussions/{id}/start", s.startPost, ch)
	s.staffPage("GET /discussions/{id}/outcome", s.outcomePage, ch)
	s.staffPage("POST /discussions/{id}/outcome", s.outcomePost, ch)
	s.staffPage("GET /discussions/{id}/record", s.recordPage, bs, ch)
	s.staffPage("POST /discussions/{id}/record/circulate", s.circulatePost, bs, ch)
	s.staffPage("POST /inbox/{notice}/dismiss", s.dismissPost, bs, ch)
	// Follow-ons and authorisations (followons.go, authorise.go): open to
	// anyone signed in as staff or an agency representative; the App
	// decides who may, per discussion. Messages (messages.go).
	s.staffPage("GET /discussions/{id}/follow-ons", s.followOnsPage)
	s.staffPage("POST /discussions/{id}/follow-ons/conference", s.conferencePost)
	s.staffPage("POST /discussions/{id}/follow-ons/{followon}/met", s.meetPost)
	s.staffPage("GET /discussions/{id}/authorise", s.authorisePage)
	s.staffPage("POST /discussions/{id}/authorise", s.authorisePost)
	s.staffPage("GET /discussions/{id}/messages", s.messagesPage, bs, ch)
	s.staffPage("POST /discussions/{id}/messages/{message}/resend", s.resendPost, bs, ch)
	s.staffPage("GET /directory", s.directoryPage, bs, ad)
}

// profile is the default procedure profile: its labels for agencies and
// seniority, its agenda headings, its requirements for a case preview.
func (s *Server) profile() *policy.Profile {
	p, err := s.app.Profiles.Profile("")
	if err != nil {
		// The App cannot start without its default profile.
		panic("web: no default procedure profile: " + err.Error())
	}
	return p
}

// agency names an agency as the profile does ("Police").
func (s *Server) agency(a policy.Agency) string { return s.profile().AgencyLabel(a) }

// done redirects after a change (POST, redirect, GET), with a banner
// saying what was done.
func done(w http.ResponseWriter, r *http.Request, to, banner string) error {
	u, _ := url.Parse(to)
	q := u.Query()
	q.Set("done", banner)
	u.RawQuery = q.Encode()
	http.Redirect(w, r, u.String(), http.StatusSeeOther)
	return nil
}

// banners are what the "done" parameter may say: only these, so a link
// cannot put words in the service's mouth.
var banners = map[string]string{
	"convened":    "The discussion is convened. Choose a time to book it.",
	"booked":      "The discussion is booked and the invitations are on their way.",
	"rescheduled": "The discussion is moved and everyone is sent the new time.",
	"cancelled":   "The discussion is cancelled and everyone is told.",
	"added":       "They are invited.",
	"removed":     "They are removed from the discussion and sent a cancellation.",
	"counter":     "The proposed time is decided.",
	"held":        "The held reply is decided.",
	"checked-in":  "Attendance is recorded.",
	"started":     "The discussion has started.",
	"outcome":     "The outcome is recorded.",
	"circulated":  "The record is circulated: everyone who took part is sent a link to it.",
	"dismissed":   "The item is dismissed.",
}

// banner is the page's banner from the "done" parameter.
func banner(r *http.Request) string { return banners[r.URL.Query().Get("done")] }

// The staff pages say things as people say them: statuses, answers and
// reasons in words, never the API's codes, and times as "Tuesday 1
// December, 10:00" in UK time, never RFC 3339.

var statusWords = map[service.DiscussionStatus]string{
	service.StatusProposed:   "Not booked",
	service.StatusBooked:     "Booked",
	service.StatusInProgress: "In progress",
	service.StatusConcluded:  "Concluded",
	service.StatusCancelled:  "Cancelled",
}

// statusTag is the GOV.UK tag colour for a status.
var statusTag = map[service.DiscussionStatus]string{
	service.StatusProposed:   "govuk-tag--yellow",
	service.StatusBooked:     "govuk-tag--blue",
	service.StatusInProgress: "govuk-tag--purple",
	service.StatusConcluded:  "govuk-tag--green",
	service.StatusCancelled:  "govuk-tag--grey",
}

var replyTag = map[policy.ReplyStatus]string{
	policy.ReplyAccepted:    "govuk-tag--green",
	policy.ReplyTentative:   "govuk-tag--yellow",
	policy.ReplyDeclined:    "govuk-tag--red",
	policy.ReplyNeedsAction: "govuk-tag--grey",
	policy.ReplyDelegated:   "govuk-tag--blue",
}

var ragWords = map[policy.RAG]string{policy.RAGRed: "Red", policy.RAGAmber: "Amber", policy.RAGGreen: "Green"}

var concernWords = map[policy.Concern]string{
	policy.ConcernSeriousPhysicalInjury:    "Serious physical injury",
	policy.ConcernSeriousNeglect:           "Serious neglect",
	policy.ConcernPenetrativeSexualAbuse:   "Allegation of penetrative sexual abuse",
	policy.ConcernRecentAbuse:              "Recent abuse, forensic evidence to preserve",
	policy.ConcernOrganisedAbuse:           "Organised abuse",
	policy.ConcernAllegationAgainstStaff:   "Allegation against staff or a person in a position of trust",
	policy.ConcernExtraFamilial:            "Extra-familial risk",
	policy.ConcernComplexNeglect:           "Complex neglect",
	policy.ConcernChildOnChild:             "One child alleged to have harmed another",
	policy.ConcernCumulativeConcerns:       "Ongoing cumulative concerns",
	policy.ConcernUnbornChild:              "Risk to an unborn child",
	policy.ConcernFabricatedInducedIllness: "Fabricated or induced illness",
	policy.ConcernOther:                    "Other concerns",
}

var outcomeWords = map[policy.Outcome]string{
	policy.OutcomeS47Enquiry:          "Section 47 enquiry",
	policy.OutcomeS17Assessment:       "Section 17 child in need assessment",
	policy.OutcomePoliceInvestigation: "Police investigation",
	policy.OutcomeReferralOtherAgency: "Referral to another agency",
	policy.OutcomeDisciplinary:        "Disciplinary procedures",
	policy.OutcomeNoFurtherAction:     "No further action",
	policy.OutcomeDeferred:            "Deferred pending information (reconvene within 72 hours)",
}

var formatWords = map[policy.Format]string{
	policy.FormatMeeting:    "A meeting (in person or virtual), chaired by a CSC manager",
	policy.FormatDiscussion: "A phone or video discussion",
}

var unknownWords = map[calendar.Reason]string{
	calendar.ReasonTimeout:         "their calendar did not answer in time",
	calendar.ReasonAuthRefused:     "their calendar refused Convene's credential",
	calendar.ReasonUnreachable:     "their calendar could not be reached",
	calendar.ReasonUnparseable:     "their calendar's answer could not be read",
	calendar.ReasonNoCalendar:      "no calendar is set up for them in the directory",
	calendar.ReasonNoCredential:    "the credential for their calendar is missing",
	calendar.ReasonRefusedByPolicy: "their calendar's address is not allowed",
	calendar.ReasonTooLarge:        "their calendar was too large to read",
	calendar.ReasonTooComplex:      "their calendar's repeating events were too complex to read",
}

var slotReasonWords = map[calendar.SlotReason]string{
	calendar.AttendeesUnavailable: "Every time before the deadline has an essential person busy: these are the best times, each naming who is not free.",
	calendar.AttendeesUnknown:     "Some essential people's calendars could not be read, so whether they are free is unknown.",
	calendar.NoTimeInWindow:       "There is no working time left before the deadline long enough for the discussion.",
}

var messageWords = map[service.MessageState]string{
	service.MessageQueued:     "Waiting to send",
	service.MessageSent:       "Sent",
	service.MessageFailed:     "Failed",
	service.MessageSending:    "Sending",
	service.MessageSuperseded: "Replaced by a later message",
}

var methodWords = map[string]string{
	"REQUEST":        "Invitation",
	"CANCEL":         "Cancellation",
	"DECLINECOUNTER": "New time declined",
}

var heldWords = map[string]string{
	service.HeldUninvited:       "from someone not invited",
	service.HeldUnauthenticated: "the sender could not be confirmed",
	service.HeldDelegation:      "a delegation Convene will not apply on its own",
}

// say returns the words for a code from m, or the code in words.
func say[K ~string](m map[K]string, k K) string {
	if w, ok := m[k]; ok {
		return w
	}
	return Words(string(k))
}

// plural says "1 person", "2 people" and the like.
func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

// formKit builds the shared form pieces of the staff pages (the
// "dateTime", "yesNo" and "radios" templates in _nav.html) for a page's
// view, which embeds it.
type formKit struct {
	Page *Page
}

// formPiece is what one shared form piece shows.
type formPiece struct {
	Page                   *Page
	Name, ID, Legend, Hint string
	Parts                  []datePart
	Options                []option
}

type datePart struct {
	Key, Label string
	Width      int
}

var (
	dayParts  = []datePart{{"day", "Day", 2}, {"month", "Month", 2}, {"year", "Year", 4}}
	timeParts = []datePart{{"hour", "Hour", 2}, {"minute", "Minute", 2}}
)

// DateTime is a GOV.UK date input with hour and minute.
func (k formKit) DateTime(name, legend, hint string) formPiece {
	return formPiece{Page: k.Page, Name: name, ID: fieldID(name), Legend: legend, Hint: hint, Parts: append(dayParts[:3:3], timeParts...)}
}

// Date is a GOV.UK date input.
func (k formKit) Date(name, legend, hint string) formPiece {
	return formPiece{Page: k.Page, Name: name, ID: fieldID(name), Legend: legend, Hint: hint, Parts: dayParts}
}

// YesNo is a yes/no question as inline radios.
func (k formKit) YesNo(name, legend string) formPiece {
	return formPiece{Page: k.Page, Name: name, ID: fieldID(name), Legend: legend}
}

// Radios is a question with one answer from options.
func (k formKit) Radios(name, legend string, options []option) formPiece {
	return formPiece{Page: k.Page, Name: name, ID: fieldID(name), Legend: legend, Options: options}
}

// Text is a textarea question.
func (k formKit) Text(name, legend, hint string) formPiece {
	return formPiece{Page: k.Page, Name: name, ID: fieldID(name), Legend: legend, Hint: hint}
}

// Input is a one-line text question.
func (k formKit) Input(name, legend, hint string) formPiece {
	return formPiece{Page: k.Page, Name: name, ID: fieldID(name), Legend: legend, Hint: hint}
}
