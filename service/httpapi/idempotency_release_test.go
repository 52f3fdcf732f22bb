package httpapi_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/convene/convene/service"
)

// A convene request that fails gives its Idempotency-Key back: the client's
// retry with the same key is answered at once, not after the key lapses,
// and once corrected it creates the discussion, exactly one; a retry of the
// request that succeeded returns that discussion, not a second.

// promptly is how long a retry may take: far less than a claimed key makes
// a retry wait for the first request (20s).
const promptly = 5 * time.Second

// postWithKey sends POST /v1/discussions with an Idempotency-Key, failing
// the test if there is no answer within timeout.
func postWithKey(t *testing.T, h *harness, tok, key string, body map[string]any, timeout time.Duration) response {
	t.Helper()
	j, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest("POST", h.url+"/v1/discussions", bytes.NewReader(j))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Idempotency-Key", key)
	res, err := (&http.Client{Timeout: timeout}).Do(req)
	if err != nil {
		t.Fatalf("POST /v1/discussions with Idempotency-Key %q: no answer within %s: %v", key, timeout, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{Status: res.StatusCode, Header: res.Header, Body: b}
}

func TestAFailedConveneGivesItsIdempotencyKeyBack(t *testing.T) {
	t.Parallel()
	m := convene(t, coreTeam, nil) // CR-2026-0101 has an open discussion
	without := func(body map[string]any, field string) map[string]any {
		delete(body, field)
		return body
	}
	for _, tc := range []struct {
		name       string
		key, ref   string
		bad, fixed map[string]any
		status     int
		field      string // the refusal names it
		before     int    // the case's discussions before
	}{
		// Refused once the key is claimed: the directory is read then.
		{"an invitee not in the directory", "key-invitee", "CR-2026-0301",
			m.conveneBody(map[string]any{"case_reference": "CR-2026-0301", "invitees": []map[string]any{
				{"person_id": m.ids["social_worker"], "knows_child": true}, {"person_id": m.ids["sergeant"]}, {"person_id": service.NewID()}}}),
			m.conveneBody(map[string]any{"case_reference": "CR-2026-0301"}),
			http.StatusUnprocessableEntity, "invitees[2].person_id", 0},
		// Refused before the key is claimed.
		{"a required field missing", "key-missing", "CR-2026-0302",
			without(m.conveneBody(map[string]any{"case_reference": "CR-2026-0302"}), "referral_received_at"),
			m.conveneBody(map[string]any{"case_reference": "CR-2026-0302"}),
			http.StatusUnprocessableEntity, "referral_received_at", 0},
		// Refused once the key is claimed, so that a retry of a request
		// that succeeded gets its discussion back, not this conflict.
		{"a case with an open discussion, not confirmed", "key-duplicate", "CR-2026-0101",
			m.conveneBody(nil),
			m.conveneBody(map[string]any{"confirm_duplicate": true}),
			http.StatusConflict, "case_reference", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := m.h.at(t)
			refused := func(r response) {
				t.Helper()
				if p := problemOf(t, r, tc.status); !slices.Contains(fieldsOf(p), tc.field) {
					t.Errorf("fields %v, want %s", fieldsOf(p), tc.field)
				}
			}
			refused(postWithKey(t, h, m.bso, tc.key, tc.bad, 30*time.Second))
			// The same request again is refused again, at once: the key is
			// not still held by the first attempt.
			refused(postWithKey(t, h, m.bso, tc.key, tc.bad, promptly))

			r := postWithKey(t, h, m.bso, tc.key, tc.fixed, promptly)
			if r.Status != http.StatusCreated {
				t.Fatalf("the corrected request with the same key: %d %s, want %d", r.Status, r.Body, http.StatusCreated)
			}
			conforms(t, "POST", "/v1/discussions", r)
			created := r.JSON(t)["id"]

			again := postWithKey(t, h, m.bso, tc.key, tc.fixed, promptly)
			if again.Status != http.StatusOK || again.JSON(t)["id"] != created || again.Header.Get("Idempotent-Replayed") != "true" {
				t.Errorf("a retry of the request that succeeded: %d %s (replayed %q), want %d with discussion %v",
					again.Status, again.Body, again.Header.Get("Idempotent-Replayed"), http.StatusOK, created)
			}

			var page struct{ Items []struct{ ID string } }
			decodeInto(t, h.do("GET", "/v1/discussions?case_reference="+tc.ref, m.bso, nil).Body, &page)
			n := 0
			for _, d := range page.Items {
				if d.ID == created {
					n++
				}
			}
			if len(page.Items) != tc.before+1 || n != 1 {
				t.Errorf("%s has discussions %+v, want the %d it had and %v", tc.ref, page.Items, tc.before, created)
			}
		})
	}
}
