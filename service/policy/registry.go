package policy

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/convene/convene/calendar"
)

// Registry holds the procedure profiles the service knows: the embedded
// default and every profile in a directory. It is immutable and safe for
// concurrent use.
type Registry struct {
	profiles map[string]*Profile
}

// NewRegistry loads the embedded default profile and every *.yaml or *.yml
// file in dir (none if dir is ""), counting working days with cal (nil: the
// embedded bank-holiday snapshot and rules). A file whose profile id is
// "default" replaces the embedded default; two files with the same id are
// an error. Every invalid profile is reported, so a bad profile stops the
// service at start-up rather than at the first request.
func NewRegistry(cal *calendar.WorkingDays, dir string) (*Registry, error) {
	if cal == nil {
		var err error
		if cal, err = calendar.NewWorkingDays(calendar.WorkingDaysOptions{}); err != nil {
			return nil, err
		}
	}
	def, err := DefaultProfile(cal)
	if err != nil {
		return nil, err
	}
	r := &Registry{profiles: map[string]*Profile{def.id: def}}
	if dir == "" {
		return r, nil
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("policy: profiles: %w", err)
	}
	var errs []string
	from := map[string]string{}
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !(strings.HasSuffix(name, ".yaml") || strings.HasSuffix(name, ".yml")) {
			continue
		}
		path := filepath.Join(dir, name)
		p, err := LoadProfileFile(path, cal)
		if err != nil {
			errs = append(errs, err.Error())
			continue
		}
		if prev, dup := from[p.id]; dup {
			errs = append(errs, fmt.Sprintf("profile %s: id %q already used by %s", path, p.id, prev))
			continue
		}
		from[p.id] = path
		r.profiles[p.id] = p
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("policy: %s", strings.Join(errs, "\n"))
	}
	return r, nil
}

// WithCalendar returns a registry with the same profiles counting working
// days with cal, for instance after the bank-holiday data has been
// refreshed from the government's published file.
func (r *Registry) WithCalendar(cal *calendar.WorkingDays) *Registry {
	c := &Registry{profiles: make(map[string]*Profile, len(r.profiles))}
	for id, p := range r.profiles {
		c.profiles[id] = p.WithCalendar(cal)
	}
	return c
}

// Profile returns the profile with the given id; "" means the default. An
// unknown id is an *Error naming the field "profile".
func (r *Registry) Profile(id string) (*Profile, error) {
	if id == "" {
		id = DefaultProfileID
	}
	p, ok := r.profiles[id]
	if !ok {
		return nil, invalid([]FieldError{{Field: "profile", Message: fmt.Sprintf("unknown profile %q (known: %s)", id, strings.Join(r.IDs(), ", "))}})
	}
	return p, nil
}

// IDs lists the profile ids, sorted.
func (r *Registry) IDs() []string {
	ids := make([]string, 0, len(r.profiles))
	for id := range r.profiles {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// Timescale looks up the request's profile and computes its timescale
// (Profile.Timescale). Field errors from both are reported together.
func (r *Registry) Timescale(req TimescaleRequest) (Timescale, error) {
	p, err := r.Profile(req.Profile)
	if err != nil {
		if verr := req.Validate(); verr != nil {
			err = invalid(append(err.(*Error).Fields, verr.(*Error).Fields...))
		}
		return Timescale{}, err
	}
	return p.Timescale(req)
}
