// Package calendar is about time and availability, independent of what is
// being scheduled: UK working days per region (bank holidays, substitute days,
// Europe/London clock changes), busy intervals read from CalDAV (RFC 4791)
// collections and published iCalendar (RFC 5545) feeds, recurrence expansion,
// time zones (IANA, Windows names as Outlook writes them, and VTIMEZONE
// definitions), and a slot finder that ranks candidate meeting times.
//
// It knows nothing of strategy discussions, so it can be reused elsewhere.
package calendar
