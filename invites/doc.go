// Package invites builds and reads calendar invitations: iTIP scheduling
// messages (RFC 5546) carried in email as iMIP (RFC 6047), with the
// VTIMEZONE definitions and line folding (RFC 5545 §3.1, §3.6.5) that
// clients such as Outlook, Gmail and Apple Calendar need. It sends mail over
// SMTP (RFC 5321) or into an outbox directory, reads replies, counters and
// refreshes out of raw RFC 5322 messages (TNEF-wrapped ones from Exchange
// included, [MS-OXTNEF]), authenticates their senders (DKIM, RFC 6376;
// Authentication-Results, RFC 8601; DMARC alignment, RFC 7489), receives
// them over SMTP, and signs RSVP links (RFC 7519 JSON Web Tokens).
//
// It knows nothing of strategy discussions, so it can be reused elsewhere.
//
// # What goes out
//
// [Builder] turns a [Meeting] into an iCalendar object with METHOD REQUEST,
// CANCEL, DECLINECOUNTER or REPLY. Times are written with
// TZID=Europe/London and a VTIMEZONE that carries the UK rules as RRULEs, or
// in UTC for any other zone, so no client ever sees a floating time.
// [Composer] wraps the calendar in the MIME structure that Outlook and Gmail
// both recognise:
//
//	multipart/mixed
//	├── multipart/alternative
//	│   ├── text/plain
//	│   ├── text/html
//	│   └── text/calendar; method=REQUEST; charset=UTF-8
//	└── application/ics; name="invite.ics" (attachment)
//
// One message goes to one recipient; a [Sender] delivers it, either over SMTP
// ([SMTPSender]) or as an .eml file in a directory ([DirSender]).
//
// # Data protection
//
// Invitations travel through ordinary email and calendars: they are read by
// assistants, indexed by mail servers and shown on phone lock screens. The
// summary, description, location and email subject must therefore carry only
// a reference (for example a case reference) and agenda headings, never a
// person's name, address or the substance of a concern. The package cannot
// know what is sensitive, so the caller says: [Meeting.Sensitive] lists
// strings that must not appear, [Builder] and [Composer] refuse a meeting
// whose text contains any of them, and [CheckContent] makes the same check on
// its own. Errors from the check never repeat the sensitive string.
//
// # What comes in
//
// [ParseMessage] finds the text/calendar part (or an .ics attachment)
// anywhere in a message, decodes base64, quoted-printable and legacy
// charsets, and returns an [Inbound]: METHOD, UID, SEQUENCE, the attendees
// with their PARTSTAT, delegation and SENT-BY, and for a COUNTER the proposed
// times. It tolerates what Outlook and Exchange send (no ORGANIZER, no
// DTSTAMP, Windows time-zone names, a missing or oddly cased MIME method)
// and bounds what it reads. The iCalendar itself is read, and written, with
// package calendar/ics, the layer package calendar reads calendars with:
// a content line that cannot be read is skipped, a TZID is an IANA name, a
// Windows name or the message's own VTIMEZONE, and a floating time is read
// in [Parser.Zone], the area's, or refused: never read as UTC. A reply Exchange wrapped in TNEF (winmail.dat)
// is read from its attached .ics or, when it has none, from the MAPI
// properties that stand for one. [Inbound.Speaker] refuses a reply whose
// sender does not speak for the attendee it answers for. [InboundServer]
// accepts replies over SMTP.
//
// From is only as true as the mail system that carried the message, so a
// reply should be applied only when [Authenticate] passes it: a trusted
// gateway's Authentication-Results shows DMARC or aligned DKIM passing, or
// a DKIM signature by the From domain verifies here. [Newer] orders
// replies by SEQUENCE and DTSTAMP (RFC 5546 §2.1.5), so a late copy of an
// older answer does not overwrite a newer one.
package invites
