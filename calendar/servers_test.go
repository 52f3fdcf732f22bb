package calendar_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/convene/convene/calendar"
	"github.com/convene/convene/calendar/caltest"
)

// davServers starts both CalDAV servers, each with the first user's
// "work" calendar holding testdata/caldav (but broken.ics, which each
// server refuses or repairs on PUT).
func davServers(t *testing.T) map[string]caltest.Server {
	t.Helper()
	servers := map[string]caltest.Server{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	errs := make(chan string, 2)
	for name, start := range map[string]func(testing.TB) caltest.Server{
		"radicale": func(t testing.TB) caltest.Server { return caltest.StartRadicale(t) },
		"xandikos": func(t testing.TB) caltest.Server { return caltest.StartXandikos(t) },
	} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Start on this goroutine but fail on the test's: t.Fatal
			// must be called from the test goroutine.
			ft := &fatalRecorder{TB: t}
			func() {
				defer func() { _ = recover() }()
				s := start(ft)
				mu.Lock()
				servers[name] = s
				mu.Unlock()
			}()
			if ft.msg != "" {
				errs <- name + ": " + ft.msg
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Fatal(e)
	}
	for _, s := range servers {
		user, _ := s.Credential(firstUser(s))
		cal := s.CreateCalendar(t, user, "work")
		files, err := filepath.Glob("testdata/caldav/*.ics")
		if err != nil || len(files) == 0 {
			t.Fatalf("no testdata/caldav fixtures: %v", err)
		}
		for _, f := range files {
			if filepath.Base(f) == "broken.ics" {
				continue
			}
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			cal.Put(t, filepath.Base(f), data)
		}
	}
	return servers
}

// fatalRecorder lets a server start on another goroutine: Fatalf records
// the message and stops that goroutine, for the test to fail with.
type fatalRecorder struct {
	testing.TB
	msg string
}

func (f *fatalRecorder) Fatalf(format string, args ...any) {
	f.msg = fmt.Sprintf(format, args...)
	panic(f.msg)
}

func (f *fatalRecorder) Fatal(args ...any) {
	f.msg = fmt.Sprint(args...)
	panic(f.msg)
}

func firstUser(s caltest.Server) string {
	switch s := s.(type) {
	case *caltest.Radicale:
		return s.User
	case *caltest.Xandikos:
		return s.User
	}
	return ""
}

// TestCalDAVServersAgree reads the same fixtures from Radicale and
// Xandikos, through the collection URL, discovery from the root and
// through /.well-known/caldav (RFC 6764), and wants the same busy time
// from each, equal to the expected one.
func TestCalDAVServersAgree(t *testing.T) {
	t.Parallel()
	servers := davServers(t)
	// The whole season, and windows that start after a series' first
	// instance (a server must not lose the series then).
	windows := []calendar.Interval{
		{Start: utc("2025-03-01T00:00:00Z"), End: utc("2025-11-30T00:00:00Z")},
		{Start: utc("2025-03-24T00:00:00Z"), End: utc("2025-04-05T00:00:00Z")},
		{Start: utc("2025-10-20T00:00:00Z"), End: utc("2025-11-01T00:00:00Z")},
	}
	type key struct {
		server, how string
		window      int
	}
	var mu sync.Mutex
	got := map[key][]calendar.Busy{}
	t.Run("each", func(t *testing.T) {
		for wi, window := range windows {
			var want []calendar.Busy
			for _, b := range wantWork {
				if b.Overlaps(window) {
					want = append(want, b)
				}
			}
			for name, s := range servers {
				user, pass := s.Credential(firstUser(s))
				cal := s.Root()
				switch s.(type) {
				case *caltest.Radicale:
					cal += user + "/work/"
				case *caltest.Xandikos:
					cal += "dav/" + user + "/calendars/work/"
				}
				for _, tc := range []struct{ how, url string }{
					{"collection", cal},
					{"root", s.Root()},
					{"well-known", s.WellKnown()},
					{"domain only", strings.TrimSuffix(s.Root(), "/")},
				} {
					t.Run(fmt.Sprintf("%s/%s/window %d", name, tc.how, wi), func(t *testing.T) {
						t.Parallel()
						res := calendar.Availability(context.Background(), []calendar.AttendeeSource{{
							ID: "alice@example.org",
							Source: &calendar.CalDAV{URL: tc.url, Policy: allowLoopback,
								Credential: calendar.Credential{Username: user, Password: pass}},
							Options: calendar.BusyOptions{Zone: london(t)},
						}}, window, calendar.AvailabilityOptions{})
						if res[0].Availability != calendar.Known {
							t.Fatalf("availability %s (%v)\n%s", res[0].Reason, res[0].Err, s.Log())
						}
						if diff := cmp.Diff(want, res[0].Busy); diff != "" {
							t.Errorf("busy time (-want +got):\n%s", diff)
						}
						if res[0].SkippedObjects != 0 {
							t.Errorf("skipped %d objects", res[0].SkippedObjects)
						}
						mu.Lock()
						got[key{name, tc.how, wi}] = res[0].Busy
						mu.Unlock()
					})
				}
			}
		}
	})
	for k, r := range got {
		if k.server != "radicale" {
			continue
		}
		x, ok := got[key{"xandikos", k.how, k.window}]
		if diff := cmp.Diff(r, x); !ok || diff != "" {
			t.Errorf("%s, window %d: Radicale and Xandikos differ (-radicale +xandikos):\n%s", k.how, k.window, diff)
		}
	}
}

// redirector sends each request on through redirects before a reverse
// proxy to Radicale under /p/ (Radicale's X-Script-Name): /rCODE/x/REST
// answers CODE to /next/REST, which answers 308 with a Location relative
// to itself, to /p/REST. Resolved against the first URL instead, that
// Location would miss.
func redirector(t *testing.T, target string) *httptest.Server {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	proxy := &httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) {
		r.SetURL(u)
		r.Out.URL.Path = strings.TrimPrefix(r.In.URL.Path, "/p")
		r.Out.Header.Set("X-Script-Name", "/p")
	}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		parts := strings.SplitN(strings.TrimPrefix(r.URL.Path, "/"), "/", 3)
		switch {
		case parts[0] == "p":
			proxy.ServeHTTP(w, r)
		case parts[0] == "next":
			rest := strings.TrimPrefix(r.URL.Path, "/next/")
			depth := strings.Count(strings.TrimPrefix(r.URL.Path, "/"), "/")
			w.Header().Set("Location", strings.Repeat("../", depth)+"p/"+rest)
			w.WriteHeader(http.StatusPermanentRedirect)
		case parts[0] == "loop":
			http.Redirect(w, r, "/loop", http.StatusFound)
		case strings.HasPrefix(parts[0], "r") && len(parts) == 3:
			code, err := strconv.Atoi(parts[0][1:])
			if err != nil {
				http.NotFound(w, r)
				return
			}
			w.Header().Set("Location", "/next/"+parts[2])
			w.WriteHeader(code)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

// TestCalDAVRedirects: calendar URLs that redirect, as servers moved
// behind a proxy do, with every redirect status and relative Locations,
// for PROPFIND and REPORT alike.
func TestCalDAVRedirects(t *testing.T) {
	t.Parallel()
	r := caltest.StartRadicale(t)
	fillWorkCalendar(t, r, r.User)
	srv := redirector(t, r.URL)
	window := calendar.Interval{Start: utc("2025-03-24T00:00:00Z"), End: utc("2025-04-05T00:00:00Z")}
	cred := calendar.Credential{Username: r.User, Password: r.Password}
	direct, err := (&calendar.CalDAV{URL: r.URL + r.User + "/work/", Credential: cred, Policy: allowLoopback}).
		Busy(context.Background(), window, calendar.BusyOptions{Zone: london(t)})
	if err != nil || len(direct.Busy) == 0 {
		t.Fatalf("direct: %v, %d busy", err, len(direct.Busy))
	}
	for _, tc := range []struct {
		name, path string
		reason     calendar.Reason
	}{
		{"301 collection", "/r301/x/alice/work/", ""},
		{"302 collection", "/r302/x/alice/work/", ""},
		{"303 collection", "/r303/x/alice/work/", ""},
		{"307 collection", "/r307/x/alice/work/", ""},
		{"308 collection", "/r308/x/alice/work/", ""},
		{"307 discovery from the root", "/r307/x/", ""},
		{"301 discovery from the principal", "/r301/x/alice/", ""},
		{"a redirect loop", "/loop", calendar.ReasonUnreachable},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			src := &calendar.CalDAV{URL: srv.URL + tc.path, Credential: cred, Policy: allowLoopback}
			res, err := src.Busy(context.Background(), window, calendar.BusyOptions{Zone: london(t)})
			if got := calendar.ReasonOf(err); err != nil && got != tc.reason || err == nil && tc.reason != "" {
				t.Fatalf("Busy: %v (%s), want reason %q\n%s", err, got, tc.reason, r.Log())
			}
			if tc.reason != "" {
				return
			}
			if diff := cmp.Diff(direct, res); diff != "" {
				t.Errorf("through redirects (-direct +redirected):\n%s", diff)
			}
		})
	}
}
