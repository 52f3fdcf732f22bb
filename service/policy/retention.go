package policy

// Retention is how long Convene keeps an area's discussions and its audit
// log (issue 16). Convene is not the system of record: once a discussion's
// record has been circulated (handed to the participants and, by webhook,
// the case system) and its follow-ons are closed, it is kept this long and
// then purged. The profile's `retention:` block sets it; the periods are
// the council's to decide in its DPIA and records-management policy.
type Retention struct {
	// DiscussionsMonths counts from the discussion's last change after it
	// was concluded or cancelled (default 12).
	DiscussionsMonths int `json:"discussions_months"`
	// AuditMonths is how long audit entries are kept (default 24: the
	// audit of a purged discussion outlives it, so access to it can still
	// be accounted for).
	AuditMonths int `json:"audit_months"`
}

// The default retention periods, in months.
const (
	DefaultDiscussionRetentionMonths = 12
	DefaultAuditRetentionMonths      = 24
)

type retentionDoc struct {
	DiscussionsMonths int `yaml:"discussions_months"`
	AuditMonths       int `yaml:"audit_months"`
}

// compileRetention applies the defaults and bounds (1 to 120 months; the
// audit kept at least as long as the discussions).
func compileRetention(doc *retentionDoc, problem func(string, ...any)) Retention {
	r := Retention{DiscussionsMonths: DefaultDiscussionRetentionMonths, AuditMonths: DefaultAuditRetentionMonths}
	if doc == nil {
		return r
	}
	if doc.DiscussionsMonths != 0 {
		r.DiscussionsMonths = doc.DiscussionsMonths
	}
	if doc.AuditMonths != 0 {
		r.AuditMonths = doc.AuditMonths
	}
	if r.DiscussionsMonths < 1 || r.DiscussionsMonths > 120 {
		problem("retention: discussions_months: %d is not from 1 to 120", r.DiscussionsMonths)
	}
	if r.AuditMonths < 1 || r.AuditMonths > 120 {
		problem("retention: audit_months: %d is not from 1 to 120", r.AuditMonths)
	}
	if r.AuditMonths < r.DiscussionsMonths {
		problem("retention: audit_months: %d is shorter than discussions_months (%d): the audit of a discussion must outlive it", r.AuditMonths, r.DiscussionsMonths)
	}
	return r
}

// Retention is how long the area keeps discussions and audit entries.
func (p *Profile) Retention() Retention { return p.retention }

// AuditRetentionMonths is the longest audit retention of any profile: the
// audit log is one, and no area's entries go before their time.
func (r *Registry) AuditRetentionMonths() int {
	n := 0
	for _, p := range r.profiles {
		n = max(n, p.retention.AuditMonths)
	}
	return n
}
