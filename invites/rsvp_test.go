package invites

import (
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/go-cmp/cmp"
)

var rsvpKey = []byte("0123456789abcdef0123456789abcdef-test-key")

func TestRSVPRoundTrip(t *testing.T) {
	now := time.Date(2026, 7, 10, 9, 0, 0, 0, time.UTC)
	r := RSVP{
		UID: fixtureUID, Attendee: "Priya.Patel@police.example.uk",
		Allowed: []PartStat{PartStatAccepted}, Sequence: 1,
		IssuedAt: now, ExpiresAt: now.Add(72 * time.Hour),
	}
	tok, err := SignRSVP(rsvpKey, r)
	if err != nil {
		t.Fatal(err)
	}
	got, err := VerifyRSVP(rsvpKey, tok, now.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	want := r
	want.Attendee = "priya.patel@police.example.uk"
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if !got.Allows(PartStatAccepted) || got.Allows(PartStatDeclined) {
		t.Errorf("Allows: accept=%v decline=%v, want true, false", got.Allows(PartStatAccepted), got.Allows(PartStatDeclined))
	}
}

func TestRSVPRefused(t *testing.T) {
	now := time.Date(2026, 7, 10, 9, 0, 0, 0, time.UTC)
	exp := now.Add(time.Hour)
	valid := RSVP{UID: fixtureUID, Attendee: "priya.patel@police.example.uk", Allowed: []PartStat{PartStatDeclined}, ExpiresAt: exp}
	good, err := SignRSVP(rsvpKey, valid)
	if err != nil {
		t.Fatal(err)
	}
	claims := func(aud string, exp *jwt.NumericDate) jwt.MapClaims {
		c := jwt.MapClaims{"uid": fixtureUID, "attendee": "priya.patel@police.example.uk", "partstat": []string{"ACCEPTED"}}
		if aud != "" {
			c["aud"] = aud
		}
		if exp != nil {
			c["exp"] = exp
		}
		return c
	}
	sign := func(m jwt.SigningMethod, key any, c jwt.Claims) string {
		s, err := jwt.NewWithClaims(m, c).SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	tests := []struct {
		name  string
		token string
		now   time.Time
	}{
		{"expired", good, exp.Add(time.Second)},
		{"wrong key", sign(jwt.SigningMethodHS256, []byte("another-key-another-key-another-key"), claims(RSVPAudience, jwt.NewNumericDate(exp))), now},
		{"alg none", sign(jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, claims(RSVPAudience, jwt.NewNumericDate(exp))), now},
		{"HS512", sign(jwt.SigningMethodHS512, rsvpKey, claims(RSVPAudience, jwt.NewNumericDate(exp))), now},
		{"HS384", sign(jwt.SigningMethodHS384, rsvpKey, claims(RSVPAudience, jwt.NewNumericDate(exp))), now},
		{"wrong audience", sign(jwt.SigningMethodHS256, rsvpKey, claims("convene-api", jwt.NewNumericDate(exp))), now},
		{"no audience", sign(jwt.SigningMethodHS256, rsvpKey, claims("", jwt.NewNumericDate(exp))), now},
		{"no expiry", sign(jwt.SigningMethodHS256, rsvpKey, claims(RSVPAudience, nil)), now},
		{"tampered payload", tamper(good), now},
		{"garbage", "not.a.token", now},
		{"no uid", sign(jwt.SigningMethodHS256, rsvpKey, jwt.MapClaims{"aud": RSVPAudience, "exp": jwt.NewNumericDate(exp), "attendee": "a@b", "partstat": []string{"ACCEPTED"}}), now},
		{"needs-action", sign(jwt.SigningMethodHS256, rsvpKey, jwt.MapClaims{"aud": RSVPAudience, "exp": jwt.NewNumericDate(exp), "uid": "u", "attendee": "a@b", "partstat": []string{"NEEDS-ACTION"}}), now},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if r, err := VerifyRSVP(rsvpKey, tt.token, tt.now); err == nil {
				t.Errorf("VerifyRSVP accepted it: %+v", r)
			}
		})
	}

	if _, err := SignRSVP([]byte("short"), valid); err == nil {
		t.Errorf("SignRSVP accepted a short key")
	}
	if _, err := VerifyRSVP([]byte("short"), good, now); err == nil {
		t.Errorf("VerifyRSVP accepted a short key")
	}
	bad := valid
	bad.Allowed = []PartStat{PartStatDelegated}
	if _, err := SignRSVP(rsvpKey, bad); err == nil {
		t.Errorf("SignRSVP signed a DELEGATED link")
	}
	bad = valid
	bad.ExpiresAt = time.Time{}
	if _, err := SignRSVP(rsvpKey, bad); err == nil {
		t.Errorf("SignRSVP signed a link that never expires")
	}
}

// tamper changes the attendee in the payload, keeping the signature.
func tamper(tok string) string {
	parts := strings.Split(tok, ".")
	payload, _ := jwt.NewParser().DecodeSegment(parts[1])
	payload = []byte(strings.Replace(string(payload), "priya.patel", "mallory.xx", 1))
	parts[1] = strings.TrimRight(jwtEncode(payload), "=")
	return strings.Join(parts, ".")
}

func jwtEncode(b []byte) string {
	return (&jwt.Token{}).EncodeSegment(b)
}
