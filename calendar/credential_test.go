package calendar_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/convene/convene/calendar"
)

func TestResolveCredential(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "token")
	if err := os.WriteFile(file, []byte("Bearer abc.def\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"BASIC": "alice:p:a:ss", "TOKEN": "Bearer xyz", "BARE": "justasecret"}
	getenv := func(k string) string { return env[k] }
	tests := []struct {
		ref  string
		want calendar.Credential
		err  bool
	}{
		{ref: "", want: calendar.Credential{}},
		{ref: "env:BASIC", want: calendar.Credential{Username: "alice", Password: "p:a:ss"}},
		{ref: "env:TOKEN", want: calendar.Credential{Token: "xyz"}},
		{ref: "file:" + file, want: calendar.Credential{Token: "abc.def"}},
		{ref: "env:MISSING", err: true},
		{ref: "env:BARE", err: true},
		{ref: "file:" + filepath.Join(dir, "nope"), err: true},
		{ref: "vault:secret/x", err: true},
		{ref: "alice:secret", err: true},
	}
	for _, tc := range tests {
		got, err := calendar.ResolveCredential(tc.ref, getenv)
		if tc.err {
			if err == nil {
				t.Errorf("ResolveCredential(%q) succeeded", tc.ref)
			}
			continue
		}
		if err != nil {
			t.Errorf("ResolveCredential(%q): %v", tc.ref, err)
			continue
		}
		if got != tc.want {
			t.Errorf("ResolveCredential(%q) = %#v, want %#v", tc.ref, got, tc.want)
		}
	}
	if _, err := calendar.ResolveCredential("env:MISSING", getenv); !errors.Is(err, calendar.ErrNoCredential) {
		t.Errorf("missing variable: %v, want ErrNoCredential", err)
	}
}

func TestCredentialNeverPrinted(t *testing.T) {
	c := calendar.Credential{Username: "alice", Password: "hunter2", Token: ""}
	for _, s := range []string{fmt.Sprint(c), fmt.Sprintf("%v %+v %#v %s", c, c, c, c)} {
		if strings.Contains(s, "hunter2") {
			t.Errorf("credential printed its password: %s", s)
		}
	}
}
