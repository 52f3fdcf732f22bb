package service

import "time"

// Actor is who did something: a user from their token, or the system.
type Actor struct {
	Subject string `json:"sub"`
	Name    string `json:"name,omitempty"`
	Email   string `json:"email,omitempty"`
}

// AuditEntry records one read or change. Entries are append-only: nothing in
// the API edits or deletes them.
type AuditEntry struct {
	ID        string         `json:"id"`
	At        time.Time      `json:"at"`
	Actor     Actor          `json:"actor"`
	Action    string         `json:"action"`   // e.g. "person.create", "discussion.read"
	Resource  string         `json:"resource"` // e.g. "people/0193…"
	RequestID string         `json:"request_id,omitempty"`
	Detail    map[string]any `json:"detail,omitempty"`
}

// AuditFilter selects audit entries, newest first.
type AuditFilter struct {
	Resource string
	Actor    string
	Before   string // the last id of the previous page
	Limit    int
}
