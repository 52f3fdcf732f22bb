package main

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"

	"github.com/convene/convene/service"
)

// TestLogsAreJSONWithRequestIDAndNoCaseContent: the service logs one JSON
// object a line, with the request id of the context, and drops attributes
// that could carry case content, however a caller passes them.
func TestLogsAreJSONWithRequestIDAndNoCaseContent(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	log := serviceLogger(config{LogLevel: "info", LogFormat: "json"}, &buf)
	ctx := service.WithRequestID(context.Background(), "req-42")
	log.With("component", "test").InfoContext(ctx, "convened", "case_reference", "CR-2026-0042", "note", "the family's address", "discussion", "d1")
	var got map[string]any
	if err := json.Unmarshal(buf.Bytes(), &got); err != nil {
		t.Fatalf("not one JSON object: %v\n%s", err, buf.String())
	}
	for k, want := range map[string]any{"msg": "convened", "request_id": "req-42", "discussion": "d1", "component": "test",
		"case_reference": "[redacted]", "note": "[redacted]"} {
		if got[k] != want {
			t.Errorf("%s = %v, want %v", k, got[k], want)
		}
	}
	// A request id the caller passes is not written twice.
	buf.Reset()
	log.InfoContext(ctx, "request", "request_id", "req-42")
	if n := bytes.Count(buf.Bytes(), []byte(`"request_id"`)); n != 1 {
		t.Errorf("request_id written %d times: %s", n, buf.String())
	}
	log.InfoContext(ctx, "convened", "case_reference", "CR-2026-0042", "note", "the family's address")
	if bytes.Contains(buf.Bytes(), []byte("CR-2026")) || bytes.Contains(buf.Bytes(), []byte("address")) {
		t.Errorf("case content in the log: %s", buf.String())
	}
}
