package caltest

import (
	"fmt"
	"net"
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
	r.URL = fmt.Sprintf("http://127.0.0.1:%d/", port)
	serve(t, "Radicale", cmd, dir, logf, answers("OPTIONS", r.URL, 0))
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

// CreateCalendar makes a calendar collection called name for user (who must
// have been added) with MKCALENDAR (RFC 4791 §5.3.1), at /USER/NAME/.
func (r *Radicale) CreateCalendar(t testing.TB, user, name string) *Calendar {
	t.Helper()
	r.mu.Lock()
	pass := r.users[user]
	r.mu.Unlock()
	c := &Calendar{r: r, User: user, Name: name, URL: r.URL + user + "/" + name + "/", password: pass, log: r.Log}
	c.mkcalendar(t)
	return c
}

// Root returns the server root URL, ending in "/".
func (r *Radicale) Root() string { return r.URL }

// WellKnown returns the server's /.well-known/caldav URL (RFC 6764), which
// Radicale redirects (301) to its root.
func (r *Radicale) WellKnown() string { return r.URL + ".well-known/caldav" }

// Credential returns user's password, as AddUser set it.
func (r *Radicale) Credential(user string) (string, string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return user, r.users[user]
}

// Store writes a valid iCalendar object straight into the collection's
// directory, bypassing PUT: Radicale parses and caches it when it first
// reads it. It is for filling calendars in bulk (benchmarks); Put is the
// way a client stores an event.
func (c *Calendar) Store(t testing.TB, name string, ics []byte) {
	t.Helper()
	if c.r == nil {
		t.Fatal("caltest: Store writes Radicale's storage; this calendar is not on Radicale")
	}
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
	if c.r == nil {
		t.Fatal("caltest: WriteRaw writes Radicale's storage; this calendar is not on Radicale")
	}
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
