// Package policy holds the procedure profiles of child-protection strategy
// discussions as data, and applies them: the statutory clock (by when a
// discussion must be held, which rule says so, and what falls due after
// it), who must take part and how senior, whether it must be a meeting, and
// whether a quorum is met.
//
// The rules come from local child-protection procedures, the seeds cited
// throughout as "000 §5" and so on: timescales from 000 §5, 002 §6, 003 §3,
// 004 and 001 (RAG windows, the 72-hour reconvening after a deferral);
// attendance from 000 §4, 001, 002 §4, 003 §2 and 004; the meeting format
// from 002 §3 and 004; follow-on deadlines from 000 §2 and §7, 001, 002 §6,
// 003 §4 and 004. A profile is a YAML document (profiles/default.yaml is the
// shipped default, built from DOMAIN.md's tables) that an area may copy and
// edit: every rule carries its citation, conditions are declarative
// (Condition) and evaluated generically, and a profile that does not
// validate is refused with a message naming the rule and field.
//
// Working days are counted per UK bank-holiday region by
// calendar.WorkingDays. The package does no I/O beyond reading profile
// files, and knows nothing of HTTP or storage: request problems are
// returned as *Error with FieldErrors for the service to translate.
package policy
