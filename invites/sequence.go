package invites

import (
	"strings"
	"time"
)

// SEQUENCE and the order of messages.
//
// SEQUENCE belongs to the caller: Builder writes Meeting.Sequence as it is
// and never changes it. The caller keeps the meeting's current number and
// raises it by one before building the message for a significant change,
// which SignificantChange recognises. Everything else (a new or removed
// attendee, a corrected title or agenda) goes out with the number
// unchanged: the attendees' calendars then take the new copy without
// asking everyone to answer again (RFC 5546 §2.1.4).

// SignificantChange reports whether moving from before to after is a
// significant revision in the sense of RFC 5545 §3.8.7.4, one for which
// the organizer must raise SEQUENCE: a change of start or end (and so of
// duration), of place (Location or OnlineURL), or of status. Recurrence is
// significant too, but Meeting has none. A change to the attendee list
// alone, or to the summary, description, agenda or privacy, is not: the
// updated REQUEST keeps the SEQUENCE, so attendees' answers stand.
//
// Instants are compared as instants, so the same time written in another
// zone is no change; a change of TimeZone alone is not significant either.
func SignificantChange(before, after Meeting) bool {
	if !before.Start.Equal(after.Start) || !before.End.Equal(after.End) {
		return true
	}
	if strings.TrimSpace(before.Location) != strings.TrimSpace(after.Location) ||
		strings.TrimSpace(before.OnlineURL) != strings.TrimSpace(after.OnlineURL) {
		return true
	}
	return statusOrDefault(before.Status) != statusOrDefault(after.Status)
}

func statusOrDefault(s Status) Status {
	if s == "" {
		return StatusConfirmed
	}
	return s
}

// Newer reports whether a message with SEQUENCE aSeq and DTSTAMP aStamp
// supersedes one with bSeq and bStamp, as RFC 5546 §2.1.5 orders them: the
// higher SEQUENCE wins; with equal SEQUENCE, the later DTSTAMP. Equal
// pairs are not newer, so a duplicate changes nothing.
//
// Replies from Exchange often carry no DTSTAMP (Inbound.DTStamp is zero):
// pass the time the message arrived instead. A zero stamp counts as
// older than any real one, so a reply without a date never displaces a
// dated reply to the same revision.
//
// The service keeps, per attendee, the SEQUENCE and DTSTAMP of the reply it
// applied, and applies a new one only if Newer(new, kept): a late copy of
// an older reply then cannot overwrite a newer answer.
func Newer(aSeq int, aStamp time.Time, bSeq int, bStamp time.Time) bool {
	if aSeq != bSeq {
		return aSeq > bSeq
	}
	return aStamp.After(bStamp)
}
