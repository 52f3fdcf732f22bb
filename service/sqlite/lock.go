package sqlite

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// ErrLocked is wrapped by Open's error when another process holds the data
// directory.
var ErrLocked = errors.New("data directory is locked")

// lockDir takes an exclusive flock on the data directory's lock file and
// writes this process's id in it. SQLite's own locking would let a second
// process share the database; two Convene processes on one directory would
// each run the outbox and the deadline watch, so the second refuses to
// start. The lock goes with the file descriptor: when the process ends,
// however it ends, the directory is free again.
func lockDir(dir string) (*os.File, error) {
	path := filepath.Join(dir, lockFile)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, dirError(dir, "the lock file cannot be created", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		defer f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			b, _ := os.ReadFile(path)
			pid := strings.TrimSpace(string(b))
			if pid == "" {
				pid = "unknown"
			}
			return nil, fmt.Errorf("data directory %s is in use by another Convene process (pid %s): %w", dir, pid, ErrLocked)
		}
		return nil, fmt.Errorf("data directory %s: lock %s: %w", dir, path, err)
	}
	if err := f.Truncate(0); err != nil {
		f.Close()
		return nil, dirError(dir, "the lock file cannot be written", err)
	}
	if _, err := f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0); err != nil {
		f.Close()
		return nil, dirError(dir, "the lock file cannot be written", err)
	}
	return f, nil
}
