package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"

	"github.com/convene/convene/service"
)

// CreateVenue stores a new venue.
func (s *Store) CreateVenue(ctx context.Context, v *service.Venue) error {
	b, err := json.Marshal(v)
	if err != nil {
		return service.Internal(err, "encode venue")
	}
	return s.write(ctx, "venue", func(tx *txn) error {
		_, err := tx.exec(`INSERT INTO venues (id, active, version, venue) VALUES (?, ?, ?, ?)`, v.ID, boolInt(v.Active), v.Version, b)
		if isUnique(err) {
			return service.Errorf(service.ECONFLICT, "venue %s exists", v.ID)
		}
		return err
	})
}

// Venue returns one venue.
func (s *Store) Venue(ctx context.Context, id string) (*service.Venue, error) {
	var b []byte
	err := s.r.QueryRowContext(ctx, `SELECT venue FROM venues WHERE id = ?`, id).Scan(&b)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, service.Errorf(service.ENOTFOUND, "venue %s not found", id)
	} else if err != nil {
		return nil, s.translate(ctx, err, "venue")
	}
	var v service.Venue
	if err := json.Unmarshal(b, &v); err != nil {
		return nil, service.Internal(err, "decode venue")
	}
	return &v, nil
}

// Venues lists venues by name.
func (s *Store) Venues(ctx context.Context, includeInactive bool) ([]service.Venue, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT venue FROM venues WHERE active = 1 OR ? ORDER BY json_extract(venue, '$.name'), id`, includeInactive)
	if err != nil {
		return nil, s.translate(ctx, err, "venues")
	}
	defer rows.Close()
	out := []service.Venue{}
	for rows.Next() {
		var b []byte
		var v service.Venue
		if err := rows.Scan(&b); err != nil {
			return nil, s.translate(ctx, err, "venues")
		}
		if err := json.Unmarshal(b, &v); err != nil {
			return nil, service.Internal(err, "decode venue")
		}
		out = append(out, v)
	}
	return out, s.translate(ctx, rows.Err(), "venues")
}

// UpdateVenue replaces v if its stored version is v.Version, and
// increments v.Version.
func (s *Store) UpdateVenue(ctx context.Context, v *service.Venue) error {
	next := *v
	next.Version = v.Version + 1
	b, err := json.Marshal(&next)
	if err != nil {
		return service.Internal(err, "encode venue")
	}
	err = s.write(ctx, "venue", func(tx *txn) error {
		res, err := tx.exec(`UPDATE venues SET active = ?, version = ?, venue = ? WHERE id = ? AND version = ?`,
			boolInt(next.Active), next.Version, b, v.ID, v.Version)
		if err != nil {
			return err
		}
		return guarded(ctx, tx, res, "SELECT 1 FROM venues WHERE id = ?", v.ID, "venue "+v.ID,
			"the venue was changed by someone else; reload it and try again")
	})
	if err != nil {
		return err
	}
	v.Version = next.Version
	return nil
}
