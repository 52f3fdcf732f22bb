package service

import (
	"context"
)

// CreatePerson adds someone to the directory. Administrators and business
// support only.
func (a *App) CreatePerson(ctx context.Context, p Person) (*Person, error) {
	if _, err := require(ctx, RoleAdmin, RoleBusinessSupport); err != nil {
		return nil, err
	}
	p.Normalize()
	if err := a.validatePerson(&p); err != nil {
		return nil, err
	}
	now := a.Now().UTC()
	p.ID, p.Version, p.CreatedAt, p.UpdatedAt, p.Active = a.NewID(), 1, now, now, true
	if err := a.Store.CreatePerson(ctx, &p); err != nil {
		return nil, err
	}
	if err := a.audit(ctx, "person.create", "people/"+p.ID, map[string]any{"email": p.Email, "agency": p.Agency}); err != nil {
		return nil, err
	}
	a.label(&p)
	return &p, nil
}

// Person returns one directory entry. Agency representatives see only their
// own agency's people; anyone else gets ENOTFOUND, so existence does not
// leak.
func (a *App) Person(ctx context.Context, id string) (*Person, error) {
	pr, err := require(ctx)
	if err != nil {
		return nil, err
	}
	p, err := a.Store.Person(ctx, id)
	if err != nil {
		return nil, err
	}
	if !canSeeAgency(pr, p.Agency) {
		_ = a.audit(ctx, "person.read.denied", "people/"+id, nil)
		return nil, Errorf(ENOTFOUND, "person %s not found", id)
	}
	if err := a.audit(ctx, "person.read", "people/"+id, nil); err != nil {
		return nil, err
	}
	a.label(p)
	return p, nil
}

// People lists directory entries in id order, a page at a time.
func (a *App) People(ctx context.Context, f PersonFilter) ([]Person, error) {
	pr, err := require(ctx)
	if err != nil {
		return nil, err
	}
	if !pr.Has(RoleAdmin, RoleBusinessSupport, RoleChair) {
		if f.Agency != "" && f.Agency != pr.Agency {
			return []Person{}, nil
		}
		f.Agency = pr.Agency
		if f.Agency == "" {
			return []Person{}, nil
		}
	}
	f.Limit = PageLimit(f.Limit)
	people, err := a.Store.People(ctx, f)
	if err != nil {
		return nil, err
	}
	if err := a.audit(ctx, "person.list", "people", map[string]any{"agency": f.Agency, "count": len(people)}); err != nil {
		return nil, err
	}
	for i := range people {
		a.label(&people[i])
	}
	return people, nil
}

// validatePerson checks an entry as an administrator writes it, and that
// only someone the procedure allows to chair is flagged as a chair.
func (a *App) validatePerson(p *Person) error {
	err := p.Validate(a.CredentialsDir)
	if !p.Chair {
		return err
	}
	profile, perr := a.profile("")
	if perr != nil {
		return perr
	}
	if ok, why := profile.MayChair(p.Agency, p.Role, p.Seniority); !ok {
		var f Fields
		if se, isSE := err.(*Error); isSE {
			f = se.Fields
		} else if err != nil {
			return err
		}
		f.Add("chair", "%s", why)
		return f.Err("the person is not valid")
	}
	return err
}

// label names a person's seniority level on their agency's scale in the
// default procedure profile.
func (a *App) label(p *Person) {
	if a.Profiles == nil {
		return
	}
	if profile, err := a.Profiles.Profile(""); err == nil {
		p.SeniorityLabel = profile.SeniorityLabel(p.Agency, p.Seniority)
	}
}

// UpdatePerson replaces a directory entry. p.Version must be the version the
// caller read; a stale version is ECONFLICT.
func (a *App) UpdatePerson(ctx context.Context, id string, p Person) (*Person, error) {
	if _, err := require(ctx, RoleAdmin, RoleBusinessSupport); err != nil {
		return nil, err
	}
	old, err := a.Store.Person(ctx, id)
	if err != nil {
		return nil, err
	}
	p.Normalize()
	if err := a.validatePerson(&p); err != nil {
		return nil, err
	}
	if p.Calendar != nil && old.Calendar != nil && p.Calendar.CredentialRef == "" &&
		p.Calendar.Type == old.Calendar.Type && p.Calendar.URL == old.Calendar.URL {
		// The API never returns the reference, so a client that sends back
		// what it read keeps the stored one.
		p.Calendar.CredentialRef = old.Calendar.CredentialRef
	}
	p.ID, p.CreatedAt, p.UpdatedAt = id, old.CreatedAt, a.Now().UTC()
	if err := a.Store.UpdatePerson(ctx, &p); err != nil {
		return nil, err
	}
	if err := a.audit(ctx, "person.update", "people/"+p.ID, map[string]any{"version": p.Version}); err != nil {
		return nil, err
	}
	a.label(&p)
	return &p, nil
}

// canSeeAgency reports whether pr may read people of agency ag.
func canSeeAgency(pr *Principal, ag Agency) bool {
	return pr.Has(RoleAdmin, RoleBusinessSupport, RoleChair) || pr.Agency == ag
}
