// Package caltest starts a real CalDAV server (Radicale, RFC 4791) for
// tests, with its own storage directory and users, and fills it with
// calendars and events. Tests that use it fail, never skip, when Radicale
// cannot start.
package caltest

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// RadicaleBin is the Radicale executable; Debian's radicale package
// installs it here.
var RadicaleBin = "/usr/bin/radicale"

// Radicale is a running Radicale server on a free loopback port. It has one
// user to begin with, User with Password; AddUser adds more.
type Radicale struct {
	// URL is the server root, ending in "/".
	URL            string
	User, Password string
	// Storage is Radicale's filesystem_folder; calendars live under
	// Storage/collection-root/USER/NAME/.
	Storage string

	dir      string
	mu       sync.Mutex
	users    map[string]string
	htpasswd string
}

// StartRadicale starts Radicale for the test, with plain-text htpasswd
// authentication, owner-only rights and no delay on failed logins, and
// stops it when the test ends.
func StartRadicale(t testing.TB) *Radicale {
	t.Helper()
	if _, err := os.Stat(RadicaleBin); err != nil {
		t.Fatalf("caltest: Radicale is not installed at %s (apt-get install radicale): %v", RadicaleBin, err)
	}
	// Radicale fsyncs every object it writes or caches, which costs tens of
	// milliseconds each on virtual disks; on tmpfs it is free.
	dir, err := os.MkdirTemp("/dev/shm", "caltest-radicale-")
	if err == nil {
		t.Cleanup(func() { os.RemoveAll(dir) })
	} else {
		dir = t.TempDir()
	}
	r := &Radicale{
		User: "alice", Password: "alice-secret",
		Storage:  filepath.Join(dir, "storage"),
		dir:      dir,
		users:    map[string]string{},
		htpasswd: filepath.Join(dir, "users"),
	}
	r.AddUser(t, r.User, r.Password)
	port := freePort(t)
	config := fmt.Sprintf(`[server]
hosts = 127.0.0.1:%d
max_connections = 64
timeout = 30
[auth]
type = htpasswd
htpasswd_filename = %s
htpasswd_encryption = plain
delay = 0
[rights]
type = owner_only
[storage]
filesystem_folder = %s
[web]
type = none
[logging]
level = warning
mask_passwords = True
`, port, r.htpasswd, r.Storage)
	cfg := filepath.Join(dir, "config")
	if err := os.WriteFile(cfg, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	logf, err := os.Create(filepath.Join(dir, "radicale.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(RadicaleBin, "--config", cfg)
	cmd.Stdout, cmd.Stderr = logf, logf
	// Radicale is Python: keep the test's environment from changing which
	// interpreter or modules it gets.
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "HOME=" + dir, "LANG=C.UTF-8"}
	if err := cmd.Start(); err != nil {
		t.Fatalf("caltest: starting Radicale: %v", err)
	}
	exited := make(chan struct{})
	var waitErr error
	go func() { waitErr = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
		logf.Close()
	})
	r.URL = fmt.Sprintf("http://127.0.0.1:%d/", port)
	deadline := time.Now().Add(20 * time.Second)
	for {
		req, _ := http.NewRequest("OPTIONS", r.URL, nil)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
			break
		}
		select {
		case <-exited:
			log, _ := os.ReadFile(logf.Name())
			t.Fatalf("caltest: Radicale exited (%v):\n%s", waitErr, log)
		default:
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(logf.Name())
			t.Fatalf("caltest: Radicale did not answer on %s within 20s: %v\n%s", r.URL, err, log)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return r
}

func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("caltest: finding a free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// AddUser adds a user to the htpasswd file; Radicale reads it on each login.
func (r *Radicale) AddUser(t testing.TB, user, password string) {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	r.users[user] = password
	var b strings.Builder
	for u, p := range r.users {
		fmt.Fprintf(&b, "%s:%s\n", u, p)
	}
	if err := os.WriteFile(r.htpasswd, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
}

// Log returns what Radicale has logged so far, for failure messages.
func (r *Radicale) Log() string {
	b, _ := os.ReadFile(filepath.Join(r.dir, "radicale.log"))
	return string(b)
}

// Calendar is a calendar collection on the server.
type Calendar struct {
	r          *Radicale
	User, Name string
	// URL is the collection's URL, ending in "/".
	URL string
}

// CreateCalendar makes a calendar collection called name for user (who must
// have been added) with MKCALENDAR (RFC 4791 §5.3.1).
func (r *Radicale) CreateCalendar(t testing.TB, user, name string) *Calendar {
	t.Helper()
	c := &Calendar{r: r, User: user, Name: name, URL: r.URL + user + "/" + name + "/"}
	body := `<?xml version="1.0" encoding="utf-8"?>
<C:mkcalendar xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">
  <D:set><D:prop><D:displayname>` + name + `</D:displayname>
  <C:supported-calendar-component-set><C:comp name="VEVENT"/></C:supported-calendar-component-set>
  </D:prop></D:set>
</C:mkcalendar>`
	c.do(t, "MKCALENDAR", c.URL, "application/xml", []byte(body), http.StatusCreated)
	return c
}

// Put stores an iCalendar object as name (e.g. "standup.ics") with PUT.
// Radicale validates it and fails the test if it refuses.
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
	c.r.mu.Lock()
	req.SetBasicAuth(c.User, c.r.users[c.User])
	c.r.mu.Unlock()
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
	t.Fatalf("caltest: %s %s: %s: %s\n%s", method, url, resp.Status, msg, c.r.Log())
}

// Store writes a valid iCalendar object straight into the collection's
// directory, bypassing PUT: Radicale parses and caches it when it first
// reads it. It is for filling calendars in bulk (benchmarks); Put is the
// way a client stores an event.
func (c *Calendar) Store(t testing.TB, name string, ics []byte) {
	t.Helper()
	path := filepath.Join(c.r.Storage, "collection-root", c.User, c.Name, name)
	if err := os.WriteFile(path, ics, 0o600); err != nil {
		t.Fatalf("caltest: writing %s into Radicale's storage: %v", name, err)
	}
}

// cacheScript writes Radicale's item-cache entry for a stored object, so
// that Radicale serves the file's bytes as they are, without parsing them.
const cacheScript = `
import hashlib, os, pickle, sys
from radicale import storage
from radicale.item import get_etag
coll, href, uid, start, end = sys.argv[1:6]
raw = open(os.path.join(coll, href), "rb").read()
text = raw.decode("utf-8")
h = hashlib.sha256()
h.update(storage.CACHE_VERSION)
h.update(raw)
folder = os.path.join(coll, ".Radicale.cache", "item")
os.makedirs(folder, exist_ok=True)
with open(os.path.join(folder, href), "wb") as f:
    pickle.dump((h.hexdigest(), uid, get_etag(text), text, "VCALENDAR", "VEVENT", int(start), int(end)), f)
`

// WriteRaw puts data into the calendar as object name without Radicale
// validating it, as a corrupted store or another tool writing the
// directory would: Radicale parses objects on PUT and refuses broken ones,
// and on reading a file it has not cached it parses it too and fails the
// whole request. So WriteRaw writes the file into the collection directory
// together with the item-cache entry Radicale keeps for it (with Radicale's
// own Python, for the cache key), saying it is a VEVENT with the given UID
// spanning [start, end). Radicale then serves the bytes verbatim in
// calendar-query answers whose time range covers [start, end), and in
// multiget and GET.
func (c *Calendar) WriteRaw(t testing.TB, name, uid string, data []byte, start, end time.Time) {
	t.Helper()
	coll := filepath.Join(c.r.Storage, "collection-root", c.User, c.Name)
	if err := os.WriteFile(filepath.Join(coll, name), data, 0o600); err != nil {
		t.Fatalf("caltest: writing %s into Radicale's storage: %v", name, err)
	}
	cmd := exec.Command("/usr/bin/python3", "-c", cacheScript, coll, name, uid,
		fmt.Sprint(start.Unix()), fmt.Sprint(end.Unix()))
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C.UTF-8"}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("caltest: writing Radicale's cache entry for %s: %v\n%s", name, err, out)
	}
}
