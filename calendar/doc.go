// Package calendar is about time and availability, independent of what is
// being scheduled: UK working days per region (bank holidays, substitute days,
// Europe/London clock changes), busy intervals read from CalDAV (RFC 4791)
// collections and published iCalendar (RFC 5545) feeds, recurrence expansion,
// time zones (IANA, Windows names as Outlook writes them, and VTIMEZONE
// definitions), and a slot finder that ranks candidate meeting times.
//
// Calendar URLs come from users, so reading them is held to an
// OutboundPolicy (public addresses only unless the operator allows more,
// checked on the address dialled) and to Limits (bytes, objects,
// recurrence work). The CalDAV client discovers calendars from a domain
// through /.well-known/caldav (RFC 6764), current-user-principal
// (RFC 5397) and calendar-home-set, follows redirects with the same
// method, and answers Basic (RFC 7617) and Digest (RFC 7616, SHA-256 and
// MD5) challenges with a Credential that is only ever sent to the origin
// it is bound to (RFC 6454).
//
// It knows nothing of strategy discussions, so it can be reused elsewhere.
package calendar
