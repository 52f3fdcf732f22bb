package caltest

import (
	"net/http"
	"os"
	"os/exec"
	"testing"
	"time"
)

// serve starts a CalDAV server's process with a clean environment (it is
// Python: the test's environment must not change which interpreter or
// modules it gets), stops it when the test ends, and waits until ready
// says it answers, failing the test loudly with the server's log if it
// exits or does not answer within 20 seconds.
func serve(t testing.TB, name string, cmd *exec.Cmd, dir string, logf *os.File, ready func() (bool, error)) {
	t.Helper()
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "HOME=" + dir, "LANG=C.UTF-8"}
	if err := cmd.Start(); err != nil {
		t.Fatalf("caltest: starting %s: %v", name, err)
	}
	exited := make(chan struct{})
	var waitErr error
	go func() { waitErr = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
		logf.Close()
	})
	poll := time.NewTicker(50 * time.Millisecond)
	defer poll.Stop()
	for deadline := time.Now().Add(20 * time.Second); ; <-poll.C {
		ok, err := ready()
		if ok {
			return
		}
		select {
		case <-exited:
			log, _ := os.ReadFile(logf.Name())
			t.Fatalf("caltest: %s exited (%v):\n%s", name, waitErr, log)
		default:
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(logf.Name())
			t.Fatalf("caltest: %s did not answer within 20s: %v\n%s", name, err, log)
		}
	}
}

// answers is a readiness check: a request to url gets a response (with
// the status wanted, if not 0).
func answers(method, url string, want int) func() (bool, error) {
	return func() (bool, error) {
		req, _ := http.NewRequest(method, url, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return false, err
		}
		resp.Body.Close()
		return want == 0 || resp.StatusCode == want, nil
	}
}
