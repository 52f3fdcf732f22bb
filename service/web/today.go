package web

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/convene/convene/service"
	"github.com/convene/convene/service/policy"
)

// Today is business support's first page: the discussions by deadline,
// how long is left (a countdown for those due today), their status and
// quorum forecast, and what needs someone's attention.

// todayRow is one discussion on Today.
type todayRow struct {
	ID, CaseReference   string
	Status, StatusClass string
	Deadline, Left      string
	DueToday, Overdue   bool
	Booked              string
	Rule                string
	Forecast            string
	ForecastMet         bool
	HasForecast         bool
	Attention           []string
	Breached, AtRisk    bool
	Open                bool
	// Link is where the case reference goes: the discussion, or for a
	// chair its quorum and roster once it is booked.
	Link string
}

// todayFilter is what Today shows: a search by case reference and
// filters by status and by trouble.
type todayFilter struct {
	// After is the cursor: the previous page's last deadline and id.
	After   string
	Case    string
	Show    string // open (default), all, or a status
	Trouble string // "", at_risk, breached, attention
}

type todayPage struct {
	// Cards shows each discussion as a card rather than a table row: a
	// chair's Today, read on a phone.
	Cards    bool
	Inbox    []noticeView
	Filter   todayFilter
	Rows     []todayRow
	Zone     string
	Statuses []option
	Count    string
	Next     string
}

type option struct {
	Value, Text string
	Selected    bool
}

func readTodayFilter(q url.Values) todayFilter {
	f := todayFilter{Case: strings.TrimSpace(q.Get("case")), Show: q.Get("show"), Trouble: q.Get("trouble"), After: q.Get("after")}
	if len(f.Case) > 40 {
		f.Case = f.Case[:40]
	}
	if f.Show == "" {
		f.Show = "open"
	}
	return f
}

func (f todayFilter) discussions() service.DiscussionFilter {
	out := service.DiscussionFilter{CaseReference: f.Case, Limit: todayPageSize}
	if nanos, id, ok := strings.Cut(f.After, "."); ok {
		if n, err := strconv.ParseInt(nanos, 10, 64); err == nil && len(id) <= 64 {
			out.AfterDeadline, out.AfterID = time.Unix(0, n).UTC(), id
		}
	}
	switch f.Show {
	case "all":
	case "open":
		out.Status = []service.DiscussionStatus{service.StatusProposed, service.StatusBooked, service.StatusInProgress}
	default:
		if slices.Contains(service.DiscussionStatuses, service.DiscussionStatus(f.Show)) {
			out.Status = []service.DiscussionStatus{service.DiscussionStatus(f.Show)}
		}
	}
	yes := true
	switch f.Trouble {
	case "at_risk":
		out.AtRisk = &yes
	case "breached":
		out.Breached = &yes
	}
	return out
}

// today builds the page for the signed-in person (business support see
// every discussion; chairs those they chair or are invited to: the App
// decides).
func (s *Server) today(ctx context.Context, f todayFilter) (*todayPage, error) {
	ds, err := s.app.Discussions(ctx, f.discussions())
	if err != nil {
		return nil, err
	}
	now, zone := s.cfg.Now(), s.cfg.Zone
	p := service.PrincipalFrom(ctx)
	chairOnly := p.Has(service.RoleChair) && !p.Has(service.RoleBusinessSupport)
	page := &todayPage{Filter: f, Zone: ZoneName(now, zone), Cards: chairOnly}
	for _, st := range append([]string{"open", "all"}, statusStrings()...) {
		text := map[string]string{"open": "Open", "all": "All"}[st]
		if text == "" {
			text = say(statusWords, service.DiscussionStatus(st))
		}
		page.Statuses = append(page.Statuses, option{Value: st, Text: text, Selected: st == f.Show})
	}
	// What needs attention: the inbox (business support's shared one and
	// a chair's own), by discussion.
	notices, err := s.app.Inbox(ctx, service.InboxFilter{Limit: 100})
	if err != nil {
		return nil, err
	}
	byDiscussion := map[string][]service.Notice{}
	listed := map[string]*service.Discussion{}
	for i := range ds {
		listed[ds[i].ID] = &ds[i]
	}
	for _, n := range notices {
		byDiscussion[n.DiscussionID] = append(byDiscussion[n.DiscussionID], n)
		page.Inbox = append(page.Inbox, noticeView{ID: n.ID, DiscussionID: n.DiscussionID, Label: n.Label,
			Text: noticeText(n, listed[n.DiscussionID], s.agency), When: When(n.CreatedAt, zone)})
	}
	for i := range ds {
		d := &ds[i]
		row := todayRow{ID: d.ID, CaseReference: d.CaseReference, Status: say(statusWords, d.Status), StatusClass: statusTag[d.Status],
			Deadline: When(d.Deadline, zone), Rule: d.Timescale.BindingRule.ID, Breached: d.Breach != nil, AtRisk: d.AtRisk}
		open := d.Status == service.StatusProposed || d.Status == service.StatusBooked || d.Status == service.StatusInProgress
		row.Open, row.Link = open, "/discussions/"+d.ID
		if chairOnly && (d.Status == service.StatusBooked || d.Status == service.StatusInProgress) {
			row.Link += "/quorum"
		}
		if open {
			row.Left = TimeLeft(d.Deadline, now)
			row.DueToday, row.Overdue = sameDay(d.Deadline, now, zone), d.Deadline.Before(now)
		}
		if d.Booking != nil {
			row.Booked = When(d.Booking.Start, zone)
		}
		for _, n := range byDiscussion[d.ID] {
			row.Attention = append(row.Attention, noticeText(n, d, s.agency))
		}
		if open {
			for _, u := range d.Unfilled {
				row.Attention = append(row.Attention, "Nobody invited fills: "+requirementName(d, u))
			}
			if d.Attendance.KnowsChild.Required && !slices.ContainsFunc(d.Invitees, func(inv service.Invitee) bool { return !inv.Removed && inv.KnowsChild }) {
				row.Attention = append(row.Attention, "Nobody invited is marked as knowing the child")
			}
		}
		if f.Trouble == "attention" && len(row.Attention) == 0 {
			continue
		}
		page.Rows = append(page.Rows, row)
	}
	// The App's quorum forecast of each open discussion, from the list's
	// summaries (one audited read for the page, not one per row).
	forecasts, err := s.app.Forecasts(ctx, ds)
	if err != nil {
		return nil, err
	}
	for i := range page.Rows {
		row := &page.Rows[i]
		if q, ok := forecasts[row.ID]; ok && row.Open {
			row.HasForecast, row.ForecastMet, row.Forecast = true, q.Met, q.Summary
		}
	}
	page.Count = plural(len(page.Rows), "discussion", "discussions")
	if len(ds) == todayPageSize {
		last := ds[len(ds)-1]
		q := url.Values{"show": {f.Show}, "trouble": {f.Trouble}, "case": {f.Case},
			"after": {strconv.FormatInt(last.Deadline.UnixNano(), 10) + "." + last.ID}}
		page.Next = "/today?" + q.Encode()
		page.Count = "The next " + page.Count + " by deadline"
		if f.After == "" {
			page.Count = "The first " + plural(len(page.Rows), "discussion", "discussions") + " by deadline"
		}
	}
	return page, nil
}

// todayPageSize is how many discussions Today shows at once.
const todayPageSize = 25

func statusStrings() []string {
	out := make([]string, len(service.DiscussionStatuses))
	for i, s := range service.DiscussionStatuses {
		out[i] = string(s)
	}
	return out
}

// attention lists, in words, what about a discussion needs business
// support: declines, counter proposals and held replies to decide,
// calendars nobody could read, requirements nobody fills, and nobody who
// knows the child.
func attention(d *service.Discussion, label func(policy.Agency) string) []string {
	var out []string
	for _, inv := range d.Invitees {
		if inv.Removed {
			continue
		}
		if inv.Reply == policy.ReplyDeclined {
			out = append(out, inv.Name+" ("+label(inv.Agency)+") declined")
		}
	}
	for _, c := range d.Counters {
		if c.Status == "pending" {
			out = append(out, "A new time proposed by "+nameOf(d, c.From)+" to accept or decline")
		}
	}
	for _, h := range d.HeldReplies {
		if h.Status == "held" {
			out = append(out, "A reply from "+h.From+" held for you to admit or reject")
		}
	}
	if d.Booking != nil && len(d.Booking.Unknown) > 0 && d.Status == service.StatusBooked {
		var names []string
		for _, e := range d.Booking.Unknown {
			names = append(names, nameOf(d, e))
		}
		verb := " is free"
		if len(names) > 1 {
			verb = " are free"
		}
		out = append(out, "Booked without knowing whether "+strings.Join(names, ", ")+verb)
	}
	for _, u := range d.Unfilled {
		out = append(out, "Nobody invited fills: "+requirementName(d, u))
	}
	if d.Attendance.KnowsChild.Required && !slices.ContainsFunc(d.Invitees, func(inv service.Invitee) bool { return !inv.Removed && inv.KnowsChild }) {
		out = append(out, "Nobody invited is marked as knowing the child")
	}
	return out
}

// nameOf names an invitee by email, or gives the email.
func nameOf(d *service.Discussion, email string) string {
	for _, inv := range d.Invitees {
		if strings.EqualFold(inv.Email, email) {
			return inv.Name
		}
	}
	return email
}

func requirementName(d *service.Discussion, id string) string {
	for _, r := range d.Attendance.Requirements {
		if r.ID == id {
			return r.Name
		}
	}
	return id
}

func (s *Server) todayPage(w http.ResponseWriter, r *http.Request) error {
	if p := service.PrincipalFrom(r.Context()); !p.Has(service.RoleBusinessSupport, service.RoleChair) {
		// Administrators keep the directory; they see no discussions.
		http.Redirect(w, r, "/directory", http.StatusSeeOther)
		return nil
	}
	page, err := s.today(r.Context(), readTodayFilter(r.URL.Query()))
	if err != nil {
		return err
	}
	return s.render(w, r, http.StatusOK, "today.html", &Page{Title: "Today", Nav: "/today", Banner: banner(r), Data: page})
}

// sameDay reports whether t falls on now's day in the zone.
func sameDay(t, now time.Time, zone *time.Location) bool {
	a, b := t.In(zone), now.In(zone)
	return a.Year() == b.Year() && a.YearDay() == b.YearDay()
}

// noticeView is an inbox item.
type noticeView struct {
	ID, DiscussionID, Label, Text, When string
}

var noticeWords = map[service.NoticeKind]string{
	service.NoticeDecline:          "declined",
	service.NoticeCounter:          "A new time is proposed, to accept or decline",
	service.NoticeHeldReply:        "A reply is held for you to admit or reject",
	service.NoticeDelegateBelow:    "A delegate is below the seniority the place needs",
	service.NoticeUnknownCalendars: "Booked without knowing whether everyone is free",
	service.NoticeAtRisk:           "At risk of missing the deadline: not booked yet",
	service.NoticeBreached:         "The deadline is missed",
	service.NoticeFollowOnDue:      "A deadline that follows the discussion is due",
	service.NoticeFollowOnMissed:   "A deadline that follows the discussion is missed",
	service.NoticeRecordDissent:    "An agency disagrees with the record",
	service.NoticeRecordUnsigned:   "Not every agency has signed up to the record",
	service.NoticeMailFailed:       "A message could not be delivered",
}

// noticeText says an inbox item in words, naming the person it is about
// when the discussion is at hand.
func noticeText(n service.Notice, d *service.Discussion, agency func(policy.Agency) string) string {
	if n.Kind == service.NoticeDecline {
		who := "Someone"
		email, _, _ := strings.Cut(n.Key, ":")
		if d != nil {
			for _, inv := range d.Invitees {
				if strings.EqualFold(inv.Email, email) {
					who = inv.Name + " (" + agency(inv.Agency) + ")"
				}
			}
		}
		return who + " declined"
	}
	return say(noticeWords, n.Kind)
}

// dismissPost clears an item from the inbox: dealt with.
func (s *Server) dismissPost(w http.ResponseWriter, r *http.Request) error {
	if err := s.app.DismissNotice(r.Context(), r.PathValue("notice")); err != nil {
		return err
	}
	return done(w, r, "/today", "dismissed")
}
