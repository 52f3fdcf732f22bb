package service

import "time"

// NoticeKind names something that needs a person's attention: it becomes an
// inbox item for business support and the chair and, by each person's
// choice, an email now or in the daily digest. Notices carry no case
// details, only the kind and a link to the discussion.
type NoticeKind string

// The notices Convene raises (issue 14).
const (
	NoticeDecline          NoticeKind = "decline"
	NoticeCounter          NoticeKind = "counter_proposal"
	NoticeHeldReply        NoticeKind = "held_reply"
	NoticeDelegateBelow    NoticeKind = "delegate_below_seniority"
	NoticeUnknownCalendars NoticeKind = "unknown_calendars"
	NoticeAtRisk           NoticeKind = "at_risk"
	NoticeBreached         NoticeKind = "deadline_breached"
	NoticeFollowOnDue      NoticeKind = "follow_on_due"
	NoticeFollowOnMissed   NoticeKind = "follow_on_missed"
	NoticeRecordDissent    NoticeKind = "record_dissent"
	NoticeRecordUnsigned   NoticeKind = "record_unsigned"
	NoticeMailFailed       NoticeKind = "mail_failed"
)

// HookEvent names a change the case system is told about by a signed
// webhook (CloudEvents 1.0, type "uk.gov.convene.<event>").
type HookEvent string

// The webhook events (issue 14).
const (
	HookConvened         HookEvent = "discussion.convened"
	HookBooked           HookEvent = "discussion.booked"
	HookStarted          HookEvent = "discussion.started"
	HookConcluded        HookEvent = "discussion.concluded"
	HookRecordCirculated HookEvent = "record.circulated"
	HookRecordSigned     HookEvent = "record.signed"
	HookFollowOnMet      HookEvent = "follow_on.met"
	HookFollowOnMissed   HookEvent = "follow_on.missed"
)

// Notify records, with the change being made to d, that kind needs
// attention. key tells apart notices of one kind on one discussion (an
// invitee's email, a follow-on's id, a counter's id); the same kind and key
// recorded twice is one notice. Because it is written with the change, a
// crash cannot lose it nor send it twice.
func (d *Discussion) Notify(kind NoticeKind, key string, now time.Time) {
	// Implemented with the notifications work (issue 14).
	_, _, _ = kind, key, now
}

// Publish records, with the change being made to d, that the case system
// must be told about ev. key tells apart events of one kind on one
// discussion; the same event and key recorded twice is delivered once.
func (d *Discussion) Publish(ev HookEvent, key string, now time.Time) {
	// Implemented with the webhooks work (issue 14).
	_, _, _ = ev, key, now
}
