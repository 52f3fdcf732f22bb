package caltest

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

// XandikosBin is the Xandikos executable; Debian's xandikos package
// installs it here.
var XandikosBin = "/usr/bin/xandikos"

// Xandikos is a running Xandikos server (a CalDAV server independent of
// Radicale, storing calendars in git) on a free loopback port, served
// under the context path /dav/: its root and /.well-known/caldav redirect
// there (302). Xandikos has no authentication of its own: every request
// is served, credentials are ignored, and current-user-principal is always
// the first user's, User. AddUser only records a user, whose calendars
// live under their own principal path.
type Xandikos struct {
	// URL is the server root, ending in "/"; the context path is URL+"dav/".
	URL            string
	User, Password string

	dir   string
	mu    sync.Mutex
	users map[string]string
}

// StartXandikos starts Xandikos for the test with the principal of User
// created, and stops it when the test ends.
func StartXandikos(t testing.TB) *Xandikos {
	t.Helper()
	if _, err := os.Stat(XandikosBin); err != nil {
		t.Fatalf("caltest: Xandikos is not installed at %s (apt-get install xandikos): %v", XandikosBin, err)
	}
	// Xandikos commits every object to git; on tmpfs that costs nothing.
	dir, err := os.MkdirTemp("/dev/shm", "caltest-xandikos-")
	if err == nil {
		t.Cleanup(func() { os.RemoveAll(dir) })
	} else {
		dir = t.TempDir()
	}
	x := &Xandikos{User: "alice", Password: "alice-secret", dir: dir, users: map[string]string{}}
	x.users[x.User] = x.Password
	port := freePort(t)
	logf, err := os.Create(filepath.Join(dir, "xandikos.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(XandikosBin, "-d", filepath.Join(dir, "storage"), "--autocreate",
		"-l", "127.0.0.1", "-p", fmt.Sprint(port), "--route-prefix", "/dav/",
		"--current-user-principal", "/"+x.User+"/")
	x.URL = fmt.Sprintf("http://127.0.0.1:%d/", port)
	serve(t, "Xandikos", cmd, dir, logf, answers("GET", x.URL+"health", http.StatusOK))
	return x
}

// Root returns the server root URL, ending in "/".
func (x *Xandikos) Root() string { return x.URL }

// WellKnown returns /.well-known/caldav, which redirects to /dav/.
func (x *Xandikos) WellKnown() string { return x.URL + ".well-known/caldav" }

// AddUser records a user; Xandikos does not authenticate.
func (x *Xandikos) AddUser(t testing.TB, user, password string) {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.users[user] = password
}

// Credential returns user's recorded password.
func (x *Xandikos) Credential(user string) (string, string) {
	x.mu.Lock()
	defer x.mu.Unlock()
	return user, x.users[user]
}

// CreateCalendar makes a calendar collection called name in user's
// calendar home, /dav/USER/calendars/NAME/, with MKCALENDAR.
func (x *Xandikos) CreateCalendar(t testing.TB, user, name string) *Calendar {
	t.Helper()
	x.mu.Lock()
	pass := x.users[user]
	x.mu.Unlock()
	c := &Calendar{User: user, Name: name, URL: x.URL + "dav/" + user + "/calendars/" + name + "/", password: pass, log: x.Log}
	if user != x.User {
		// Only the first user's principal exists: make the others' homes.
		c.do(t, "MKCOL", x.URL+"dav/"+user+"/", "application/xml", nil, http.StatusCreated, http.StatusMethodNotAllowed)
		c.do(t, "MKCOL", x.URL+"dav/"+user+"/calendars/", "application/xml", nil, http.StatusCreated, http.StatusMethodNotAllowed)
	}
	c.mkcalendar(t)
	return c
}

// Log returns what Xandikos has logged so far.
func (x *Xandikos) Log() string {
	b, _ := os.ReadFile(filepath.Join(x.dir, "xandikos.log"))
	return string(b)
}
