package httpapi_test

// The inbox and notification preferences over HTTP (issue 14): what needs
// attention reaches business support and the chair, links to its
// discussion, pages newest first, and clears when dismissed.

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/convene/convene/service"
)

type inboxDoc struct {
	Items []struct {
		ID           string `json:"id"`
		DiscussionID string `json:"discussion_id"`
		Kind         string `json:"kind"`
		Words        string `json:"words"`
		Link         string `json:"link"`
		Label        string `json:"label"`
	} `json:"items"`
	Next string `json:"next"`
}

func (m *meeting) inbox(tok, query string) inboxDoc {
	m.t.Helper()
	r := m.h.do("GET", "/v1/inbox"+query, tok, nil)
	if r.Status != http.StatusOK {
		m.t.Fatalf("inbox: %d %s", r.Status, r.Body)
	}
	conforms(m.t, "GET", "/v1/inbox", r)
	var doc inboxDoc
	decodeInto(m.t, r.Body, &doc)
	return doc
}

func kinds(doc inboxDoc) []string {
	out := []string{}
	for _, it := range doc.Items {
		out = append(out, it.Kind)
	}
	return out
}

func TestInbox(t *testing.T) {
	t.Parallel()
	m := convene(t, coreTeam, nil)
	m.book() // nobody's calendar is read: unknown calendars
	m.reply("sergeant", "DECLINED", "")

	doc := m.inbox(m.bso, "")
	if got := kinds(doc); !slices.Equal(got, []string{"decline", "unknown_calendars"}) {
		t.Fatalf("business support's inbox %v, want the decline then the unknown calendars", got)
	}
	it := doc.Items[0]
	if it.DiscussionID != m.d.ID || !strings.HasSuffix(it.Link, "/discussions/"+m.d.ID) || it.Words == "" ||
		it.Label != "Strategy discussion — case CR-2026-0101" {
		t.Errorf("item %+v", it)
	}
	if got := kinds(m.inbox(m.chair, "")); !slices.Equal(got, []string{"decline", "unknown_calendars"}) {
		t.Errorf("the chair's inbox %v", got)
	}
	// Paged, newest first.
	first := m.inbox(m.bso, "?limit=1")
	if len(first.Items) != 1 || first.Next == "" {
		t.Fatalf("first page %+v", first)
	}
	second := m.inbox(m.bso, "?limit=1&before="+url.QueryEscape(first.Next))
	if got := kinds(second); !slices.Equal(got, []string{"unknown_calendars"}) {
		t.Errorf("second page %v", got)
	}
	// Dismissed from business support's inbox; still in the chair's.
	r := m.h.do("POST", "/v1/inbox/"+url.PathEscape(it.ID)+"/dismiss", m.bso, nil)
	if r.Status != http.StatusNoContent {
		t.Fatalf("dismiss: %d %s", r.Status, r.Body)
	}
	if got := kinds(m.inbox(m.bso, "")); !slices.Equal(got, []string{"unknown_calendars"}) {
		t.Errorf("after dismissal %v", got)
	}
	if got := kinds(m.inbox(m.bso, "?all=true")); !slices.Equal(got, []string{"decline", "unknown_calendars"}) {
		t.Errorf("all %v", got)
	}
	if got := kinds(m.inbox(m.chair, "")); len(got) != 2 {
		t.Errorf("the chair's after business support's dismissal %v", got)
	}
	problemOf(t, m.h.do("POST", "/v1/inbox/"+url.PathEscape(it.ID)+"/dismiss", m.bso, nil), http.StatusNotFound)
	problemOf(t, m.h.do("GET", "/v1/inbox", token(t, service.RoleAgencyRep, "police"), nil), http.StatusForbidden)
	problemOf(t, m.h.do("GET", "/v1/inbox?before=nonsense", m.bso, nil), http.StatusUnprocessableEntity)
}

func TestNotificationPreference(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	chair := token(t, service.RoleChair, "social_care")
	r := h.do("GET", "/v1/me/notification-preference", chair, nil)
	if r.Status != http.StatusOK || r.JSON(t)["delivery"] != "digest" {
		t.Fatalf("default: %d %s", r.Status, r.Body)
	}
	conforms(t, "GET", "/v1/me/notification-preference", r)
	r = h.do("PUT", "/v1/me/notification-preference", chair, map[string]any{"delivery": "immediate"})
	if r.Status != http.StatusOK || r.JSON(t)["delivery"] != "immediate" {
		t.Fatalf("set: %d %s", r.Status, r.Body)
	}
	conforms(t, "PUT", "/v1/me/notification-preference", r)
	if r = h.do("GET", "/v1/me/notification-preference", chair, nil); r.JSON(t)["delivery"] != "immediate" {
		t.Errorf("read back %s", r.Body)
	}
	if p := problemOf(t, h.do("PUT", "/v1/me/notification-preference", chair, map[string]any{"delivery": "hourly"}), http.StatusUnprocessableEntity); !slices.Contains(fieldsOf(p), "delivery") {
		t.Errorf("problem %v", p)
	}
	problemOf(t, h.do("PUT", "/v1/me/notification-preference", chair, map[string]any{"delivery": "off", "extra": 1}), http.StatusUnprocessableEntity)
	problemOf(t, h.do("GET", "/v1/me/notification-preference", token(t, service.RoleAgencyRep, "police"), nil), http.StatusForbidden)
}
