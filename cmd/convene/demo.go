package main

import (
	"context"

	"github.com/convene/convene/service"
)

// demoUser is someone the development tokens are minted for.
type demoUser struct {
	Label     string
	Principal service.Principal
}

var demoUsers = []demoUser{
	{"business_support", service.Principal{Subject: "demo-bso", Name: "Bea Support", Email: "bea.support@council.example.org",
		Roles: []service.Role{service.RoleBusinessSupport}, Agency: "social_care"}},
	{"chair", service.Principal{Subject: "demo-chair", Name: "Chris Chair", Email: "chris.chair@council.example.org",
		Roles: []service.Role{service.RoleChair}, Agency: "social_care"}},
	{"agency_rep", service.Principal{Subject: "demo-police", Name: "Dana Inspector", Email: "dana.inspector@police.example.org",
		Roles: []service.Role{service.RoleAgencyRep}, Agency: "police"}},
	{"admin", service.Principal{Subject: "demo-admin", Name: "Ada Admin", Email: "ada.admin@council.example.org",
		Roles: []service.Role{service.RoleAdmin}, Agency: "social_care"}},
}

// demoPeople is a small directory: enough agencies and seniority to convene
// a quorate discussion.
var demoPeople = []service.Person{
	{Name: "Chris Chair", Email: "chris.chair@council.example.org", Agency: "social_care", Role: "team_manager", Seniority: 3, Chair: true},
	{Name: "Sam Social", Email: "sam.social@council.example.org", Agency: "social_care", Role: "social_worker", Seniority: 1},
	{Name: "Dana Inspector", Email: "dana.inspector@police.example.org", Agency: "police", Role: "police_officer", Seniority: 3},
	{Name: "Pat Constable", Email: "pat.constable@police.example.org", Agency: "police", Role: "police_officer", Seniority: 1},
	{Name: "Nina Named-Nurse", Email: "nina.named@nhs.example.org", Agency: "health", Role: "safeguarding_nurse", Seniority: 3},
	{Name: "Dr Priya Paediatrician", Email: "priya.paed@nhs.example.org", Agency: "health", Role: "paediatrician", Seniority: 4},
	{Name: "Ed Lead", Email: "ed.lead@school.example.org", Agency: "education", Role: "designated_safeguarding_lead", Seniority: 2},
	{Name: "Lee LADO", Email: "lee.lado@council.example.org", Agency: "lado", Role: "designated_officer", Seniority: 1},
}

// seedDemo fills an empty directory with demoPeople, as the demo
// administrator. It does nothing when anyone is already there.
func seedDemo(ctx context.Context, app *service.App) (int, error) {
	admin := demoUsers[len(demoUsers)-1].Principal
	ctx = service.WithPrincipal(ctx, &admin)
	existing, err := app.People(ctx, service.PersonFilter{Limit: 1})
	if err != nil || len(existing) > 0 {
		return 0, err
	}
	for _, p := range demoPeople {
		if _, err := app.CreatePerson(ctx, p); err != nil {
			return 0, err
		}
	}
	// Invitations take their location from the venue directory.
	if _, err := app.CreateVenue(ctx, service.Venue{Name: "MASH meeting room 2", Address: "Civic Centre, Town Square"}); err != nil {
		return 0, err
	}
	return len(demoPeople), nil
}
