package invites

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// RSVPAudience is the audience ("aud") of every RSVP token, so a token
// minted for another purpose with the same key is refused.
const RSVPAudience = "convene-rsvp"

// minRSVPKeyBytes is the shortest HMAC key accepted: HS256 needs 256 bits.
const minRSVPKeyBytes = 32

// RSVP is what an RSVP link lets its holder do: answer for one attendee of
// one meeting, with one of the allowed statuses, until it expires.
type RSVP struct {
	UID      string
	Attendee string // email address
	// Allowed lists the answers the link may give: one for an
	// Accept/Tentative/Decline link each, or several for a link to a page
	// that offers a choice.
	Allowed []PartStat
	// Sequence is the SEQUENCE of the invitation the link was sent with,
	// so the service can refuse an answer to an out-of-date version.
	Sequence  int
	ExpiresAt time.Time
	IssuedAt  time.Time
}

// Allows reports whether the link may answer with stat.
func (r RSVP) Allows(stat PartStat) bool {
	for _, s := range r.Allowed {
		if s == stat {
			return true
		}
	}
	return false
}

type rsvpClaims struct {
	UID      string   `json:"uid"`
	Attendee string   `json:"attendee"`
	PartStat []string `json:"partstat"`
	Sequence int      `json:"seq"`
	jwt.RegisteredClaims
}

// SignRSVP signs r as an HS256 JSON Web Token (RFC 7519) with key, which
// must be at least 32 bytes. The token goes in a link; VerifyRSVP reads it
// back.
func SignRSVP(key []byte, r RSVP) (string, error) {
	if len(key) < minRSVPKeyBytes {
		return "", fmt.Errorf("invites: RSVP key is %d bytes, need at least %d", len(key), minRSVPKeyBytes)
	}
	if r.UID == "" || r.Attendee == "" || len(r.Allowed) == 0 || r.ExpiresAt.IsZero() {
		return "", errors.New("invites: RSVP needs a UID, an attendee, at least one allowed answer and an expiry")
	}
	claims := rsvpClaims{
		UID:      r.UID,
		Attendee: strings.ToLower(r.Attendee),
		Sequence: r.Sequence,
		RegisteredClaims: jwt.RegisteredClaims{
			Audience:  jwt.ClaimStrings{RSVPAudience},
			ExpiresAt: jwt.NewNumericDate(r.ExpiresAt),
		},
	}
	if !r.IssuedAt.IsZero() {
		claims.IssuedAt = jwt.NewNumericDate(r.IssuedAt)
	}
	for _, s := range r.Allowed {
		if !s.Valid() || s == PartStatNeedsAction || s == PartStatDelegated {
			return "", fmt.Errorf("invites: an RSVP link cannot answer %q", s)
		}
		claims.PartStat = append(claims.PartStat, string(s))
	}
	return jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(key)
}

// VerifyRSVP checks a token from SignRSVP against key at the time now and
// returns what it allows. It refuses any algorithm but HS256 (so "none" and
// key-confusion tricks fail), another audience, a missing or past expiry,
// and a token without a UID, attendee or answer.
func VerifyRSVP(key []byte, token string, now time.Time) (RSVP, error) {
	if len(key) < minRSVPKeyBytes {
		return RSVP{}, fmt.Errorf("invites: RSVP key is %d bytes, need at least %d", len(key), minRSVPKeyBytes)
	}
	var claims rsvpClaims
	_, err := jwt.ParseWithClaims(token, &claims,
		func(*jwt.Token) (any, error) { return key, nil },
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithAudience(RSVPAudience),
		jwt.WithExpirationRequired(),
		jwt.WithTimeFunc(func() time.Time { return now }),
	)
	if err != nil {
		return RSVP{}, fmt.Errorf("invites: RSVP token: %w", err)
	}
	if claims.UID == "" || claims.Attendee == "" || len(claims.PartStat) == 0 {
		return RSVP{}, errors.New("invites: RSVP token lacks uid, attendee or partstat")
	}
	r := RSVP{UID: claims.UID, Attendee: claims.Attendee, Sequence: claims.Sequence, ExpiresAt: claims.ExpiresAt.Time}
	if claims.IssuedAt != nil {
		r.IssuedAt = claims.IssuedAt.Time
	}
	for _, s := range claims.PartStat {
		p := PartStat(s)
		if !p.Valid() || p == PartStatNeedsAction || p == PartStatDelegated {
			return RSVP{}, fmt.Errorf("invites: RSVP token allows an invalid answer")
		}
		r.Allowed = append(r.Allowed, p)
	}
	return r, nil
}
