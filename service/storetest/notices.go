package storetest

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/convene/convene/service"
)

func notice(id, recipient, discussion string, kind service.NoticeKind, key string, at time.Time) *service.Notice {
	return &service.Notice{ID: id, Recipient: recipient, DiscussionID: discussion, Kind: kind, Key: key,
		Label: "Strategy discussion — case CR-" + discussion, CreatedAt: at}
}

func inboxIDs(t *testing.T, s service.Store, f service.InboxFilter) []string {
	t.Helper()
	ns, err := s.Inbox(ctx, f)
	if err != nil {
		t.Fatalf("inbox: %v", err)
	}
	out := []string{}
	for _, n := range ns {
		out = append(out, n.ID)
	}
	return out
}

// testInbox: items are added once by id, listed newest first per
// recipient, paged, cleared by dismissal (only from the recipient's own
// inbox) or by resolution, and kept for the digest's window.
func testInbox(t *testing.T, s service.Store) {
	bs, chair := service.InboxBusinessSupport, "chris@council.example"
	add := func(n *service.Notice) {
		t.Helper()
		if err := s.AddNotice(ctx, n); err != nil {
			t.Fatalf("add %s: %v", n.ID, err)
		}
	}
	add(notice("a", bs, "d1", service.NoticeDecline, "x", T0))
	add(notice("b", chair, "d1", service.NoticeDecline, "x", T0))
	add(notice("c", bs, "d2", service.NoticeCounter, "k1", T0.Add(time.Minute)))
	add(notice("d", bs, "d2", service.NoticeAtRisk, "", T0.Add(2*time.Minute)))
	// The same id again (a repeated move) is kept as first stored.
	again := notice("a", bs, "d1", service.NoticeDecline, "x", T0.Add(time.Hour))
	add(again)

	if got, want := inboxIDs(t, s, service.InboxFilter{Recipients: []string{bs}, Limit: 10}), []string{"d", "c", "a"}; !cmp.Equal(got, want) {
		t.Errorf("business support's inbox %v, want %v (newest first)", got, want)
	}
	if got, want := inboxIDs(t, s, service.InboxFilter{Recipients: []string{bs, chair}, Limit: 10}), []string{"d", "c", "b", "a"}; !cmp.Equal(got, want) {
		t.Errorf("both inboxes %v, want %v", got, want)
	}
	if got, want := inboxIDs(t, s, service.InboxFilter{Recipients: []string{bs}, Limit: 2}), []string{"d", "c"}; !cmp.Equal(got, want) {
		t.Errorf("first page %v, want %v", got, want)
	}
	if got, want := inboxIDs(t, s, service.InboxFilter{Recipients: []string{bs}, Limit: 2, BeforeAt: T0.Add(time.Minute), BeforeID: "c"}), []string{"a"}; !cmp.Equal(got, want) {
		t.Errorf("second page %v, want %v", got, want)
	}
	if got, want := inboxIDs(t, s, service.InboxFilter{Recipients: []string{bs}, Limit: 10, CreatedFrom: T0.Add(time.Minute), CreatedTo: T0.Add(2 * time.Minute)}), []string{"c"}; !cmp.Equal(got, want) {
		t.Errorf("window %v, want %v", got, want)
	}
	ns, err := s.Inbox(ctx, service.InboxFilter{Recipients: []string{bs}, Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if a := ns[2]; a.Label != "Strategy discussion — case CR-d1" || !a.CreatedAt.Equal(T0) || a.Kind != service.NoticeDecline || a.DiscussionID != "d1" || a.ClearedAt != nil {
		t.Errorf("stored item %+v", a)
	}

	// Dismissed: only from an inbox of the caller's, once.
	wantCode(t, "dismiss from another's inbox", s.ClearNotice(ctx, "b", []string{bs}, T0, "bea"), service.ENOTFOUND)
	if err := s.ClearNotice(ctx, "c", []string{bs}, T0.Add(time.Hour), "Bea <bea>"); err != nil {
		t.Fatalf("dismiss: %v", err)
	}
	wantCode(t, "dismiss twice", s.ClearNotice(ctx, "c", []string{bs}, T0, "bea"), service.ENOTFOUND)
	// Resolved: every open item of the discussion, kind and key.
	if err := s.ResolveNotices(ctx, "d1", service.NoticeDecline, "x", T0.Add(time.Hour)); err != nil {
		t.Fatalf("resolve: %v", err)
	}
	if got, want := inboxIDs(t, s, service.InboxFilter{Recipients: []string{bs, chair}, Limit: 10}), []string{"d"}; !cmp.Equal(got, want) {
		t.Errorf("open after clearing %v, want %v", got, want)
	}
	all, err := s.Inbox(ctx, service.InboxFilter{Recipients: []string{bs}, All: true, Limit: 10})
	if err != nil || len(all) != 3 {
		t.Fatalf("all: %v %v", all, err)
	}
	for _, n := range all {
		switch n.ID {
		case "c":
			if n.ClearedAt == nil || !n.ClearedAt.Equal(T0.Add(time.Hour)) || n.ClearedBy != "Bea <bea>" {
				t.Errorf("dismissed %+v", n)
			}
		case "a":
			if n.ClearedAt == nil || n.ClearedBy != "resolved" {
				t.Errorf("resolved %+v", n)
			}
		}
	}
	if got := inboxIDs(t, s, service.InboxFilter{Limit: 10}); len(got) != 0 {
		t.Errorf("no recipients lists %v", got)
	}
}

// testNoticePreferences: one per email, replaced; listed all or by email.
func testNoticePreferences(t *testing.T, s service.Store) {
	set := func(p service.NoticePreference) {
		t.Helper()
		if err := s.SetNoticePreference(ctx, &p); err != nil {
			t.Fatal(err)
		}
	}
	set(service.NoticePreference{Email: "b@council.example", Delivery: service.DeliveryDigest, Team: true, UpdatedAt: T0})
	set(service.NoticePreference{Email: "a@council.example", Delivery: service.DeliveryImmediate, UpdatedAt: T0})
	set(service.NoticePreference{Email: "a@council.example", Delivery: service.DeliveryOff, UpdatedAt: T0.Add(time.Hour)})
	all, err := s.NoticePreferences(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []service.NoticePreference{
		{Email: "a@council.example", Delivery: service.DeliveryOff, UpdatedAt: T0.Add(time.Hour)},
		{Email: "b@council.example", Delivery: service.DeliveryDigest, Team: true, UpdatedAt: T0},
	}
	if diff := cmp.Diff(want, all, equal); diff != "" {
		t.Errorf("preferences (-want +got):\n%s", diff)
	}
	one, err := s.NoticePreferences(ctx, []string{"b@council.example", "nobody@example.org"})
	if err != nil || len(one) != 1 || one[0].Email != "b@council.example" {
		t.Errorf("by email: %+v %v", one, err)
	}
	none, err := s.NoticePreferences(ctx, []string{})
	if err != nil || len(none) != 0 {
		t.Errorf("no emails: %+v %v", none, err)
	}
}

// testRaisedDue: the discussions flagged with raised notices not moved
// are found, and leave the list once the flag is cleared by a patch.
func testRaisedDue(t *testing.T, s service.Store) {
	d1, d2 := Discussion("d1", T0.Add(72*time.Hour)), Discussion("d2", T0.Add(72*time.Hour))
	d2.Notify(service.NoticeAtRisk, "", T0)
	mustCreate(t, s, d1, d2)
	got, err := s.DiscussionsRaisedDue(ctx, 10)
	if err != nil || !cmp.Equal(got, []string{"d2"}) {
		t.Fatalf("due %v %v, want [d2]", got, err)
	}
	before := mustLoad(t, s, "d2")
	if len(before.Raised) != 1 || before.Raised[0].Notice != service.NoticeAtRisk || !before.RaisedDue {
		t.Fatalf("raised not stored: %+v", before.Raised)
	}
	after := before.Clone()
	after.Raised[0].Moved, after.RaisedDue = true, false
	mustPatch(t, s, service.Diff(before, after, T0))
	d1now := mustLoad(t, s, "d1")
	moreAfter := d1now.Clone()
	moreAfter.Publish(service.HookBooked, "b1", T0)
	mustPatch(t, s, service.Diff(d1now, moreAfter, T0))
	got, err = s.DiscussionsRaisedDue(ctx, 10)
	if err != nil || !cmp.Equal(got, []string{"d1"}) {
		t.Fatalf("due after the move %v %v, want [d1]", got, err)
	}
}
