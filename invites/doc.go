// Package invites builds and reads calendar invitations: iTIP scheduling
// messages (RFC 5546) carried in email as iMIP (RFC 6047), with the
// VTIMEZONE definitions and line folding (RFC 5545 §3.1) that clients such as
// Outlook, Gmail and Apple Calendar need. It sends mail over SMTP (or into an
// outbox directory), receives replies over SMTP, and signs RSVP links.
//
// It knows nothing of strategy discussions, so it can be reused elsewhere.
package invites
