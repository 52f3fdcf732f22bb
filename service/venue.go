package service

import (
	"context"
	"strings"
	"time"
)

// Venue is a place discussions are held, kept by administrators: an
// invitation's location comes only from this list, so that nobody types
// "the family home" into every agency's calendar.
type Venue struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	// Address is the venue's own (a council office), shown in
	// invitations.
	Address   string    `json:"address,omitempty"`
	Active    bool      `json:"active"`
	Version   int64     `json:"version"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Location is the venue as an invitation shows it.
func (v *Venue) Location() string {
	if v.Address == "" {
		return v.Name
	}
	return v.Name + ", " + v.Address
}

func (v *Venue) validate() error {
	var f Fields
	v.Name, v.Address = strings.TrimSpace(v.Name), strings.TrimSpace(v.Address)
	if v.Name == "" || len(v.Name) > 200 {
		f.Add("name", "is required (at most 200 characters)")
	}
	if len(v.Address) > 300 {
		f.Add("address", "must be at most 300 characters")
	}
	return f.Err("the venue is not valid")
}

// CreateVenue adds a venue. Administrators only.
func (a *App) CreateVenue(ctx context.Context, v Venue) (*Venue, error) {
	if _, err := require(ctx, RoleAdmin); err != nil {
		return nil, err
	}
	if err := v.validate(); err != nil {
		return nil, err
	}
	now := a.Now().UTC()
	v.ID, v.Version, v.Active, v.CreatedAt, v.UpdatedAt = a.NewID(), 1, true, now, now
	if err := a.Store.CreateVenue(ctx, &v); err != nil {
		return nil, err
	}
	if err := a.audit(ctx, "venue.create", "venues/"+v.ID, map[string]any{"name": v.Name}); err != nil {
		return nil, err
	}
	return &v, nil
}

// UpdateVenue replaces a venue at the version the caller read.
// Administrators only.
func (a *App) UpdateVenue(ctx context.Context, id string, v Venue) (*Venue, error) {
	if _, err := require(ctx, RoleAdmin); err != nil {
		return nil, err
	}
	old, err := a.Store.Venue(ctx, id)
	if err != nil {
		return nil, err
	}
	if err := v.validate(); err != nil {
		return nil, err
	}
	v.ID, v.CreatedAt, v.UpdatedAt = id, old.CreatedAt, a.Now().UTC()
	if err := a.Store.UpdateVenue(ctx, &v); err != nil {
		return nil, err
	}
	if err := a.audit(ctx, "venue.update", "venues/"+id, map[string]any{"version": v.Version}); err != nil {
		return nil, err
	}
	return &v, nil
}

// Venues lists the venues: staff choose from them when booking.
func (a *App) Venues(ctx context.Context, includeInactive bool) ([]Venue, error) {
	if _, err := require(ctx, RoleAdmin, RoleBusinessSupport, RoleChair); err != nil {
		return nil, err
	}
	return a.Store.Venues(ctx, includeInactive)
}
