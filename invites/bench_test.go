package invites

import "testing"

// BenchmarkComposeRequest builds and composes one REQUEST email, as the
// outbox does once per attendee.
func BenchmarkComposeRequest(b *testing.B) {
	m := summerMeeting(b)
	c := Composer{Builder: Builder{Now: fixedClock(goldenNow)}, NewID: counterIDs("b")}
	inv := Invitation{Method: MethodRequest, Meeting: m, To: priya}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Compose(inv); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkParseReply reads an Outlook reply (base64 calendar, Windows
// TZID), as the inbound path does once per reply.
func BenchmarkParseReply(b *testing.B) {
	raw := readFixture(b, "replies", "outlook-desktop-accepted.eml")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseMessage(raw); err != nil {
			b.Fatal(err)
		}
	}
}
