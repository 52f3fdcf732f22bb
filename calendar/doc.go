// Package calendar is about time and availability, independent of what is
// being scheduled: UK working days per region (bank holidays, substitute days,
// Europe/London clock changes), busy intervals read from CalDAV (RFC 4791)
// collections and published iCalendar (RFC 5545) feeds, recurrence expansion,
// and a slot finder that ranks candidate meeting times. iCalendar is read
// through package calendar/ics, the layer package invites shares: decoding,
// DATE-TIME values (floating times in the attendee's zone, BusyOptions.Zone),
// time zones (IANA, Windows names as Outlook writes them, VTIMEZONE
// definitions) and recurrence rules. An object or feed component with a
// line that cannot be read is skipped whole and counted.
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
// The CalDAV client is split between go-webdav and code of our own, and
// every request of either goes through the same fetcher: go-webdav's
// caldav.Client is given it as its HTTP client. go-webdav finds the
// calendar-home-set of the user's principal and lists the calendars there
// (FindCalendarHomeSet, FindCalendars). Ours are the first PROPFIND, which
// follows the RFC 6764 well-known redirect (or any other) and asks the URL
// that answered whether it is itself a calendar and whose principal is
// asking: go-webdav resolves hrefs against the URL it was given rather
// than the one that answered, cannot ask for a resource type at Depth 0,
// and drops the trailing slash of the URL it asks for the principal, which
// Xandikos answers with 404. Ours too is the reading of busy time: the
// calendar-query REPORT (with a time range, and for every recurring event)
// and the calendar-multiget of the window-bounded fallback are written
// here and their multistatus is read as a stream, one response at a time.
// go-webdav's QueryCalendar and MultiGetCalendar decode the whole
// multistatus and then every object in it, so that one object it cannot
// read fails the whole answer, where one unreadable object must cost only
// itself; and they always ask for calendar-data with a component selection
// (<C:comp name="VCALENDAR"><C:allprop/><C:allcomp/></C:comp>), which some
// servers answer with events stripped of their properties, where an empty
// <C:calendar-data/> asks for whole objects (RFC 4791 §9.6).
//
// It knows nothing of strategy discussions, so it can be reused elsewhere.
package calendar
