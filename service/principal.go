package service

import (
	"context"
	"slices"
)

// Role is what a user may do, carried in their token.
type Role string

// The roles of Convene's users.
const (
	RoleBusinessSupport Role = "business_support"
	RoleChair           Role = "chair"
	RoleAgencyRep       Role = "agency_rep"
	RoleAdmin           Role = "admin"
)

// Roles lists every role, for validation.
var Roles = []Role{RoleBusinessSupport, RoleChair, RoleAgencyRep, RoleAdmin, RoleMailGateway}

// Principal is the authenticated caller.
type Principal struct {
	Subject string
	Name    string
	Email   string
	Roles   []Role
	Agency  Agency
}

// Has reports whether p holds any of the roles.
func (p *Principal) Has(roles ...Role) bool {
	if p == nil {
		return false
	}
	for _, r := range roles {
		if slices.Contains(p.Roles, r) {
			return true
		}
	}
	return false
}

// Actor names the principal for the audit log and timelines.
func (p *Principal) Actor() Actor {
	if p == nil {
		return Actor{Subject: "system", Name: "Convene"}
	}
	return Actor{Subject: p.Subject, Name: p.Name, Email: p.Email}
}

type principalKey struct{}

// WithPrincipal returns a context carrying p.
func WithPrincipal(ctx context.Context, p *Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// PrincipalFrom returns the context's principal, or nil.
func PrincipalFrom(ctx context.Context) *Principal {
	p, _ := ctx.Value(principalKey{}).(*Principal)
	return p
}

// requestIDKey carries the HTTP request id down to audit entries.
type requestIDKey struct{}

// WithRequestID returns a context carrying the request id.
func WithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey{}, id)
}

// RequestIDFrom returns the context's request id, or "".
func RequestIDFrom(ctx context.Context) string {
	s, _ := ctx.Value(requestIDKey{}).(string)
	return s
}

// require returns EUNAUTHORIZED without a principal and EFORBIDDEN when the
// principal holds none of the roles.
func require(ctx context.Context, roles ...Role) (*Principal, error) {
	p := PrincipalFrom(ctx)
	if p == nil {
		return nil, Errorf(EUNAUTHORIZED, "authentication required")
	}
	if len(roles) > 0 && !p.Has(roles...) {
		return nil, Errorf(EFORBIDDEN, "this needs one of the roles %v", roles)
	}
	return p, nil
}
