// Package ics is the one iCalendar (RFC 5545) layer that package calendar
// (busy time from CalDAV and feeds) and package invites (iTIP messages out,
// replies in) share, so that the same bytes are read the same way by both.
// It knows nothing of either.
//
// go-ical (github.com/emersion/go-ical) remains the model and the encoder:
// a calendar is an ical.Calendar of ical.Components and ical.Props, read
// with go-ical's accessors (Props.Get, Params.Get, Prop.Text) and written
// with its encoder. This package does what go-ical does not:
//
//   - Decoding (Decode, Walk): content lines are unfolded and tokenised
//     here (RFC 5545 §3.1), into go-ical's types, within Limits. go-ical's
//     own decoder panics on some malformed parameter lists, cannot skip a
//     line it cannot read, has no bound on lines or nesting, and builds
//     parameter values a byte at a time (a 64 KiB quoted parameter costs it
//     seconds, 1 MiB a quarter of an hour). Lines may end with CRLF, LF or
//     CR and continue with a space or a tab; invalid UTF-8 is replaced once
//     a line is unfolded. Options.Strict says what an unreadable line
//     costs: the line (replies) or the whole object (calendar data).
//   - Reading DATE and DATE-TIME values (Zones.Time, Zones.List), DURATION
//     (ParseDuration), RRULE (ParseRecur, within a Budget) and CAL-ADDRESS
//     (Email), by the one rule below.
//   - Resolving TZIDs (LoadZone, Zones.Location): IANA names, Windows names
//     as Outlook and Exchange write them (CLDR's windowsZones), IANA names
//     behind a vendor prefix, and the stream's own VTIMEZONE definitions,
//     turned into a time.Location.
//   - Folding on output (Fold, Encode): go-ical writes long lines whole.
//
// The rule for DATE and DATE-TIME values (RFC 5545 §3.3.4, §3.3.5): a
// value ending in Z is UTC; a value with a TZID is wall-clock time in that
// zone; a floating value (neither) and a DATE are wall-clock time, and a
// day, in the zone the caller supplies to NewZones: the attendee's when
// reading their calendar, the area's when reading a reply. They are never
// read as UTC: with no zone supplied they are an error (ErrFloating). A
// TZID that resolves to nothing is an error too (ErrUnknownZone), unless
// the caller asks for the guess of Zones.GuessUnknown. RRULE's UNTIL
// follows the same rule, in the zone of the series' DTSTART.
package ics
