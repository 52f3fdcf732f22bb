package mongodb

import (
	"context"
	"encoding/json"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/convene/convene/calendar"
	"github.com/convene/convene/service"
)

// personDoc is a directory entry as stored. The domain type carries no bson
// tags; this is where the stored shape is fixed.
type personDoc struct {
	ID           string          `bson:"_id"`
	Name         string          `bson:"name"`
	Email        string          `bson:"email"`
	Agency       string          `bson:"agency"`
	Role         string          `bson:"role"`
	Seniority    int             `bson:"seniority"`
	Chair        bool            `bson:"chair"`
	Expertise    []string        `bson:"expertise,omitempty"`
	Assistants   []string        `bson:"assistants,omitempty"`
	WorkingHours workingHoursDoc `bson:"working_hours"`
	TimeZone     string          `bson:"time_zone"`
	Calendar     *calendarDoc    `bson:"calendar,omitempty"`
	Active       bool            `bson:"active"`
	Version      int64           `bson:"version"`
	CreatedAt    time.Time       `bson:"created_at"`
	UpdatedAt    time.Time       `bson:"updated_at"`
}

type workingHoursDoc struct {
	Days  []string `bson:"days" json:"days"`
	Start string   `bson:"start" json:"start"`
	End   string   `bson:"end" json:"end"`
}

func toWorkingHoursDoc(w calendar.WorkingHours) workingHoursDoc {
	d := workingHoursDoc{Start: w.Start.String(), End: w.End.String()}
	for _, day := range w.Days {
		d.Days = append(d.Days, strings.ToLower(day.String()))
	}
	return d
}

// workingHours reads what toWorkingHoursDoc wrote; both sides are ours, so
// a value that does not parse reads as zero rather than failing the read.
func (d workingHoursDoc) workingHours() calendar.WorkingHours {
	b, _ := json.Marshal(d)
	var w calendar.WorkingHours
	_ = json.Unmarshal(b, &w)
	return w
}

type calendarDoc struct {
	Type          string `bson:"type"`
	URL           string `bson:"url"`
	CredentialRef string `bson:"credential_ref,omitempty"`
	// CredentialOrigin is where the credential may be sent.
	CredentialOrigin string `bson:"credential_origin,omitempty"`
}

func toPersonDoc(p *service.Person) personDoc {
	d := personDoc{
		ID: p.ID, Name: p.Name, Email: p.Email, Agency: string(p.Agency), Role: p.Role,
		Seniority: p.Seniority, Chair: p.Chair, TimeZone: p.TimeZone, Active: p.Active,
		Expertise: p.Expertise, Assistants: p.Assistants,
		WorkingHours: toWorkingHoursDoc(p.WorkingHours),
		Version:      p.Version, CreatedAt: p.CreatedAt, UpdatedAt: p.UpdatedAt,
	}
	if c := p.Calendar; c != nil {
		d.Calendar = &calendarDoc{Type: c.Type, URL: c.URL, CredentialRef: c.CredentialRef, CredentialOrigin: c.CredentialOrigin}
	}
	return d
}

func (d *personDoc) person() *service.Person {
	p := &service.Person{
		ID: d.ID, Name: d.Name, Email: d.Email, Agency: service.Agency(d.Agency), Role: d.Role,
		Seniority: d.Seniority, Chair: d.Chair, TimeZone: d.TimeZone, Active: d.Active,
		Expertise: d.Expertise, Assistants: d.Assistants,
		WorkingHours: d.WorkingHours.workingHours(),
		Version:      d.Version, CreatedAt: d.CreatedAt.UTC(), UpdatedAt: d.UpdatedAt.UTC(),
	}
	if c := d.Calendar; c != nil {
		p.Calendar = &service.CalendarSource{Type: c.Type, URL: c.URL, CredentialRef: c.CredentialRef, CredentialOrigin: c.CredentialOrigin}
	}
	return p
}

// CreatePerson inserts p; a second person with the same email is ECONFLICT.
func (s *Store) CreatePerson(ctx context.Context, p *service.Person) error {
	_, err := s.people.InsertOne(ctx, toPersonDoc(p))
	if isDuplicate(err) && !strings.Contains(err.Error(), "_id") {
		return emailTaken(err)
	}
	return translate(err, "person")
}

// Person returns the person with the id.
func (s *Store) Person(ctx context.Context, id string) (*service.Person, error) {
	return s.findPerson(ctx, bson.D{{Key: "_id", Value: id}})
}

// PersonByEmail returns the person with the (lower-case) email.
func (s *Store) PersonByEmail(ctx context.Context, email string) (*service.Person, error) {
	return s.findPerson(ctx, bson.D{{Key: "email", Value: email}})
}

func (s *Store) findPerson(ctx context.Context, filter bson.D) (*service.Person, error) {
	var d personDoc
	if err := s.people.FindOne(ctx, filter).Decode(&d); err != nil {
		return nil, translate(err, "person")
	}
	return d.person(), nil
}

// People lists people in id order after f.After.
func (s *Store) People(ctx context.Context, f service.PersonFilter) ([]service.Person, error) {
	filter := bson.D{}
	if f.Agency != "" {
		filter = append(filter, bson.E{Key: "agency", Value: string(f.Agency)})
	}
	if f.Chair != nil {
		filter = append(filter, bson.E{Key: "chair", Value: *f.Chair})
	}
	if f.Email != "" {
		filter = append(filter, bson.E{Key: "email", Value: f.Email})
	}
	if f.After != "" {
		filter = append(filter, bson.E{Key: "_id", Value: bson.D{{Key: "$gt", Value: f.After}}})
	}
	return findAll(ctx, s.people, filter, options.Find().SetSort(bson.D{{Key: "_id", Value: 1}}).SetLimit(int64(f.Limit)),
		func(d *personDoc) service.Person { return *d.person() }, "people")
}

func emailTaken(err error) error {
	return &service.Error{Code: service.ECONFLICT, Message: "a person with this email is already in the directory",
		Fields: []service.FieldError{{Field: "email", Message: "is already in the directory"}}, Err: err}
}

// UpdatePerson replaces p if the stored version is p.Version: one replace
// whose filter is the id and the version.
func (s *Store) UpdatePerson(ctx context.Context, p *service.Person) error {
	d := toPersonDoc(p)
	d.Version = p.Version + 1
	res, err := s.people.ReplaceOne(ctx, bson.D{{Key: "_id", Value: p.ID}, {Key: "version", Value: p.Version}}, d)
	if isDuplicate(err) {
		return emailTaken(err)
	} else if err != nil {
		return translate(err, "person")
	}
	if res.MatchedCount == 0 {
		return missed(ctx, s.people, p.ID, "person", "the person was changed by someone else; reload it and try again")
	}
	p.Version = d.Version
	return nil
}
