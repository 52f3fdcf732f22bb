package httpapi

import (
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/convene/convene/service"
)

// noticeView is an inbox item as the API shows it: the kind in words and
// the link to the discussion's page (behind sign-in).
type noticeView struct {
	service.Notice
	Words string `json:"words"`
	Link  string `json:"link"`
}

// inboxPage is a page of the inbox, newest first; next is the cursor for
// the page after (the last item's created_at and id).
type inboxPage struct {
	Items []noticeView `json:"items"`
	Next  string       `json:"next,omitempty"`
}

// listInbox is GET /v1/inbox: business support's shared inbox and, for a
// chair, their own. all=true includes items already dealt with.
func (s *Server) listInbox(c echo.Context) error {
	f := service.InboxFilter{All: c.QueryParam("all") == "true", Limit: queryInt(c, "limit")}
	if cur := c.QueryParam("before"); cur != "" {
		at, id, ok := strings.Cut(cur, "|")
		t, err := time.Parse(time.RFC3339Nano, at)
		if !ok || err != nil {
			return service.Invalid("the cursor is not valid", service.FieldError{Field: "before", Message: "is not a cursor this API gave"})
		}
		f.BeforeAt, f.BeforeID = t, id
	}
	ns, err := s.app.Inbox(c.Request().Context(), f)
	if err != nil {
		return err
	}
	page := inboxPage{Items: make([]noticeView, 0, len(ns))}
	for _, n := range ns {
		page.Items = append(page.Items, noticeView{Notice: n, Words: n.Kind.Words(), Link: s.app.DiscussionLink(n.DiscussionID)})
	}
	if n := len(ns); n > 0 && n == effectiveLimit(f.Limit) {
		page.Next = ns[n-1].CreatedAt.UTC().Format(time.RFC3339Nano) + "|" + ns[n-1].ID
	}
	return c.JSON(http.StatusOK, page)
}

// dismissNotice is POST /v1/inbox/{notice}/dismiss: the caller has dealt
// with it.
func (s *Server) dismissNotice(c echo.Context) error {
	if err := s.app.DismissNotice(c.Request().Context(), pathParam(c, "notice")); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}
