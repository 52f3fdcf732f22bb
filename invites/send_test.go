package invites

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
)

func TestDirSender(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "outbox")
	d := &DirSender{Dir: dir}
	msg := composeFor(t, MethodRequest, priya)
	path, err := d.Send(context.Background(), msg)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := filepath.Base(path), fileName(msg.ID)+".eml"; got != want {
		t.Errorf("file %q, want %q", got, want)
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, msg.Raw) {
		t.Errorf("file content differs from the message")
	}

	// Sending again (a retry) replaces the file; nothing else is left.
	if path2, err := d.Send(context.Background(), msg); err != nil || path2 != path {
		t.Fatalf("second Send = %q, %v; want %q", path2, err, path)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("outbox holds %v, want one file", names)
	}

	// What the outbox holds is a message the parser can read back.
	in, err := (&Parser{Methods: []Method{MethodRequest}}).Parse(got)
	if err != nil {
		t.Fatal(err)
	}
	if in.UID != summerMeeting(t).UID || in.Method != MethodRequest {
		t.Errorf("read back %s %s", in.Method, in.UID)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := d.Send(ctx, msg); err == nil {
		t.Errorf("Send with a cancelled context succeeded")
	}
	if _, err := d.Send(context.Background(), &Message{ID: "x"}); err == nil {
		t.Errorf("Send of an empty message succeeded")
	}
}

func TestFileName(t *testing.T) {
	tests := map[string]string{
		"abc@example.org":        "abc@example.org",
		"../../etc/passwd@x":     "_.._etc_passwd@x",
		"a/b\\c d@x":             "a_b_c_d@x",
		"...":                    "message",
		"<id>@host":              "_id_@host",
		strings.Repeat("a", 300): strings.Repeat("a", 200),
	}
	for in, want := range tests {
		if got := fileName(in); got != want {
			t.Errorf("fileName(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestInboundServer receives a client's reply over SMTP, as a mail gateway
// would relay it, and reads it.
func TestInboundServer(t *testing.T) {
	reply := readFixture(t, "replies", "outlook-desktop-counter.eml")
	got := make(chan *Inbound, 1)
	srv := NewInboundServer("127.0.0.1:0", 64<<10, func(ctx context.Context, from string, rcpts []string, raw []byte) error {
		if from != "priya.patel@police.example.uk" || len(rcpts) != 1 || rcpts[0] != "convene@council.example.gov.uk" {
			t.Errorf("envelope %q -> %q", from, rcpts)
		}
		in, err := ParseMessage(raw)
		if err != nil {
			return &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 6, 0}, Message: "Not an iTIP reply"}
		}
		got <- in
		return nil
	})
	srv.SetDomain("convene.test")
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	defer srv.Close()

	send := func(raw []byte, to string) error {
		s := &SMTPSender{Config: SMTPConfig{Addr: srv.Addr().String(), TLS: NoTLS}}
		_, err := s.Send(context.Background(), &Message{ID: "r@x", From: "priya.patel@police.example.uk", To: []string{to}, Raw: raw})
		return err
	}
	if err := send(reply, "convene@council.example.gov.uk"); err != nil {
		t.Fatal(err)
	}
	select {
	case in := <-got:
		if in.Method != MethodCounter || in.Proposal == nil {
			t.Errorf("received %s with proposal %v", in.Method, in.Proposal)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("deliver never called")
	}

	// The DeliverFunc's verdict reaches the sending server.
	se := sendError(t, send([]byte("From: x@y\r\nSubject: hello\r\n\r\nno calendar\r\n"), "convene@council.example.gov.uk"))
	if se.Code != 554 || !se.Permanent {
		t.Errorf("non-iTIP message: %v, want permanent 554", se)
	}
	big := append(bytes.Repeat([]byte("X-Padding: 0123456789012345678901234567890123456789\r\n"), 2000), reply...)
	se = sendError(t, send(big, "convene@council.example.gov.uk"))
	if se.Code != 552 || !se.Permanent {
		t.Errorf("oversized message: %v, want permanent 552", se)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	if err := send(reply, "convene@council.example.gov.uk"); err == nil {
		t.Errorf("server still accepting after Shutdown")
	}
}

func TestInboundServerTemporaryFailure(t *testing.T) {
	srv := NewInboundServer("127.0.0.1:0", 1<<20, func(ctx context.Context, from string, rcpts []string, raw []byte) error {
		return errors.New("database down")
	})
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	s := &SMTPSender{Config: SMTPConfig{Addr: srv.Addr().String(), TLS: NoTLS}}
	_, err := s.Send(context.Background(), &Message{ID: "r@x", From: "a@b.example", To: []string{"c@d.example"}, Raw: readFixture(t, "replies", "gmail-accepted.eml")})
	se := sendError(t, err)
	if se.Code != 451 || se.Permanent {
		t.Errorf("got %v, want temporary 451 so the gateway retries", se)
	}
}
