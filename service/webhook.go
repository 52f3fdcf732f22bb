package service

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/convene/convene/service/policy"
)

// CloudEvent is a webhook's body: a CloudEvents 1.0 event in the structured
// JSON mode (content type application/cloudevents+json). Its id is the
// raised event's, so a receiver that sees the same id twice (a retry after
// a lost answer) can drop the second.
type CloudEvent struct {
	SpecVersion     string    `json:"specversion"`
	ID              string    `json:"id"`
	Source          string    `json:"source"`
	Type            string    `json:"type"`
	Time            time.Time `json:"time"`
	Subject         string    `json:"subject"`
	DataContentType string    `json:"datacontenttype"`
	Data            HookData  `json:"data"`
}

// HookData is what the case system is told: ids, the state and the times.
// The case reference is the case system's own and goes in; a child's or
// family's name, address or the allegation never do.
type HookData struct {
	DiscussionID  string           `json:"discussion_id"`
	CaseReference string           `json:"case_reference"`
	Status        DiscussionStatus `json:"status"`
	Deadline      time.Time        `json:"deadline"`
	// Key tells apart events of one type on a discussion (a booking's id,
	// a follow-on's).
	Key         string         `json:"key,omitempty"`
	Start       *time.Time     `json:"start,omitempty"`
	End         *time.Time     `json:"end,omitempty"`
	StartedAt   *time.Time     `json:"started_at,omitempty"`
	ConcludedAt *time.Time     `json:"concluded_at,omitempty"`
	Outcome     policy.Outcome `json:"outcome,omitempty"`
	Breached    bool           `json:"breached"`
	// Link is the discussion's page, behind sign-in.
	Link string `json:"link"`
}

// HookType is the CloudEvents type of an event.
func HookType(ev HookEvent) string { return "uk.gov.convene." + string(ev) }

// hookBody writes the event r raised on d.
func (a *App) hookBody(d *Discussion, r Raised) ([]byte, error) {
	source := ""
	if a.Mail != nil {
		source = a.Mail.Notify.HookSource
		if source == "" {
			source = a.Mail.PublicURL
		}
	}
	if source == "" {
		source = "urn:convene"
	}
	data := HookData{DiscussionID: d.ID, CaseReference: d.CaseReference, Status: d.Status, Deadline: d.Deadline.UTC(),
		Key: r.Key, Breached: d.Breach != nil, Link: a.DiscussionLink(d.ID)}
	if b := d.Booking; b != nil {
		s, e := b.Start.UTC(), b.End.UTC()
		data.Start, data.End = &s, &e
	}
	if d.Started != nil {
		t := d.Started.At.UTC()
		data.StartedAt = &t
	}
	if d.Outcome != nil {
		t := d.Outcome.RecordedAt.UTC()
		data.ConcludedAt, data.Outcome = &t, d.Outcome.Outcome
	}
	ev := CloudEvent{SpecVersion: "1.0", ID: r.ID, Source: source, Type: HookType(r.Event), Time: r.At.UTC(),
		Subject: d.ID, DataContentType: "application/json", Data: data}
	b, err := json.Marshal(&ev)
	if err != nil {
		return nil, Internal(err, "encode webhook")
	}
	return b, nil
}

// HookSignatureHeader carries a webhook's signature.
const HookSignatureHeader = "Convene-Signature"

// SignHook signs a webhook body sent at t: "t=<unix seconds>,v1=<hex of
// HMAC-SHA256(secret, t + "." + body)>".
func SignHook(secret []byte, t time.Time, body []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	return "t=" + ts + ",v1=" + hookMAC(secret, ts, body)
}

func hookMAC(secret []byte, ts string, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(ts))
	m.Write([]byte("."))
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

// VerifyHook checks a webhook's signature header against the body, and
// that it was signed within tolerance of now (so a captured request cannot
// be replayed later): what a receiver does.
func VerifyHook(secret []byte, header string, body []byte, now time.Time, tolerance time.Duration) error {
	var ts string
	var sigs []string
	for _, part := range strings.Split(header, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "t":
			ts = v
		case "v1":
			sigs = append(sigs, v)
		}
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || len(sigs) == 0 {
		return errors.New("webhook signature: malformed header")
	}
	if d := now.Sub(time.Unix(sec, 0)); d > tolerance || d < -tolerance {
		return errors.New("webhook signature: timestamp outside tolerance")
	}
	want := hookMAC(secret, ts, body)
	for _, s := range sigs {
		if hmac.Equal([]byte(s), []byte(want)) {
			return nil
		}
	}
	return errors.New("webhook signature: no valid signature")
}
