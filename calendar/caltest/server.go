// Package caltest starts real CalDAV servers (RFC 4791) for tests, each
// with its own storage directory, on a free loopback port, and fills them
// with calendars and events: Radicale, and Xandikos, an independent
// implementation, so that the same tests can run on both. Tests that use
// them fail, never skip, when a server cannot start.
package caltest

import (
	"bytes"
	"io"
	"net/http"
	"testing"
)

// Server is a running CalDAV server, whichever it is.
type Server interface {
	// Root is the server's root URL, ending in "/".
	Root() string
	// WellKnown is its /.well-known/caldav URL (RFC 6764), which
	// redirects to the context path.
	WellKnown() string
	// AddUser adds a user with a password.
	AddUser(t testing.TB, user, password string)
	// Credential returns the user name and password to log in as user.
	Credential(user string) (username, password string)
	// CreateCalendar makes a calendar collection called name for user.
	CreateCalendar(t testing.TB, user, name string) *Calendar
	// Log returns what the server has logged, for failure messages.
	Log() string
}

var (
	_ Server = (*Radicale)(nil)
	_ Server = (*Xandikos)(nil)
)

// Calendar is a calendar collection on a server.
type Calendar struct {
	r          *Radicale // nil on other servers
	User, Name string
	// URL is the collection's URL, ending in "/".
	URL string

	password string
	log      func() string
}

func (c *Calendar) mkcalendar(t testing.TB) {
	t.Helper()
	body := `<?xml version="1.0" encoding="utf-8"?>
<C:mkcalendar xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">
  <D:set><D:prop><D:displayname>` + c.Name + `</D:displayname>
  <C:supported-calendar-component-set><C:comp name="VEVENT"/></C:supported-calendar-component-set>
  </D:prop></D:set>
</C:mkcalendar>`
	c.do(t, "MKCALENDAR", c.URL, "application/xml", []byte(body), http.StatusCreated)
}

// Put stores an iCalendar object as name (e.g. "standup.ics") with PUT.
// The server validates it and fails the test if it refuses.
func (c *Calendar) Put(t testing.TB, name string, ics []byte) {
	t.Helper()
	c.do(t, http.MethodPut, c.URL+name, "text/calendar; charset=utf-8", ics, http.StatusCreated, http.StatusNoContent)
}

func (c *Calendar) do(t testing.TB, method, url, ctype string, body []byte, want ...int) {
	t.Helper()
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", ctype)
	req.SetBasicAuth(c.User, c.password)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("caltest: %s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	for _, w := range want {
		if resp.StatusCode == w {
			return
		}
	}
	msg, _ := io.ReadAll(resp.Body)
	t.Fatalf("caltest: %s %s: %s: %s\n%s", method, url, resp.Status, msg, c.log())
}
