package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"strings"

	json "github.com/goccy/go-json"

	"github.com/convene/convene/service"
)

func emailTaken(err error) error {
	return &service.Error{Code: service.ECONFLICT, Message: "a person with this email is already in the directory",
		Fields: []service.FieldError{{Field: "email", Message: "is already in the directory"}}, Err: err}
}

// CreatePerson inserts p; a second person with the same email, or the same
// id, is ECONFLICT.
func (s *Store) CreatePerson(ctx context.Context, p *service.Person) error {
	b, err := json.Marshal(p)
	if err != nil {
		return service.Internal(err, "encode person")
	}
	return s.write(ctx, "person", func(tx *txn) error {
		_, err := tx.exec(`INSERT INTO people (id, email, agency, chair, version, person) VALUES (?, ?, ?, ?, ?, ?)`,
			p.ID, p.Email, string(p.Agency), boolInt(p.Chair), p.Version, b)
		if isUnique(err) && strings.Contains(err.Error(), "people.email") {
			return emailTaken(err)
		}
		return err
	})
}

// Person returns the person with the id.
func (s *Store) Person(ctx context.Context, id string) (*service.Person, error) {
	return s.person(ctx, "SELECT person FROM people WHERE id = ?", id)
}

// PersonByEmail returns the person with the (lower-case) email.
func (s *Store) PersonByEmail(ctx context.Context, email string) (*service.Person, error) {
	return s.person(ctx, "SELECT person FROM people WHERE email = ?", email)
}

func (s *Store) person(ctx context.Context, query, arg string) (*service.Person, error) {
	var b []byte
	if err := s.r.QueryRowContext(ctx, query, arg).Scan(&b); err != nil {
		return nil, s.translate(ctx, err, "person")
	}
	var p service.Person
	if err := json.Unmarshal(b, &p); err != nil {
		return nil, service.Internal(err, "decode person")
	}
	return &p, nil
}

// People lists people in id order after f.After.
func (s *Store) People(ctx context.Context, f service.PersonFilter) ([]service.Person, error) {
	var where []string
	var args []any
	if f.Agency != "" {
		where, args = append(where, "agency = ?"), append(args, string(f.Agency))
	}
	if f.Chair != nil {
		where, args = append(where, "chair = ?"), append(args, boolInt(*f.Chair))
	}
	if f.Email != "" {
		where, args = append(where, "email = ?"), append(args, f.Email)
	}
	if f.After != "" {
		where, args = append(where, "id > ?"), append(args, f.After)
	}
	q := "SELECT person FROM people"
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY id LIMIT ?"
	args = append(args, limit(f.Limit))
	rows, err := s.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, s.translate(ctx, err, "people")
	}
	defer rows.Close()
	var out []service.Person
	for rows.Next() {
		var b []byte
		if err := rows.Scan(&b); err != nil {
			return nil, s.translate(ctx, err, "people")
		}
		var p service.Person
		if err := json.Unmarshal(b, &p); err != nil {
			return nil, service.Internal(err, "decode person")
		}
		out = append(out, p)
	}
	return out, s.translate(ctx, rows.Err(), "people")
}

// UpdatePerson replaces p if its stored version is p.Version, and
// increments p.Version.
func (s *Store) UpdatePerson(ctx context.Context, p *service.Person) error {
	next := *p
	next.Version = p.Version + 1
	b, err := json.Marshal(&next)
	if err != nil {
		return service.Internal(err, "encode person")
	}
	err = s.write(ctx, "person", func(tx *txn) error {
		res, err := tx.exec(`UPDATE people SET email = ?, agency = ?, chair = ?, version = ?, person = ?
			WHERE id = ? AND version = ?`,
			next.Email, string(next.Agency), boolInt(next.Chair), next.Version, b, p.ID, p.Version)
		if isUnique(err) {
			return emailTaken(err)
		} else if err != nil {
			return err
		}
		return guarded(ctx, tx, res, "SELECT 1 FROM people WHERE id = ?", p.ID, "person "+p.ID,
			"the person was changed by someone else; reload it and try again")
	})
	if err != nil {
		return err
	}
	p.Version = next.Version
	return nil
}

// guarded turns a guarded write that touched no row into ENOTFOUND (exists
// finds nothing) or ECONFLICT (the guard failed).
func guarded(ctx context.Context, tx *txn, res sql.Result, exists string, id any, what, conflict string) error {
	n, err := res.RowsAffected()
	if err != nil || n > 0 {
		return err
	}
	var one int
	if err := tx.queryRow(exists, id).Scan(&one); errors.Is(err, sql.ErrNoRows) {
		return service.Errorf(service.ENOTFOUND, "%s not found", what)
	} else if err != nil {
		return err
	}
	return service.Errorf(service.ECONFLICT, "%s", conflict)
}
