package service

import (
	"context"

	"github.com/convene/convene/service/policy"
)

// Timescale previews the statutory clock for a case: by when the
// discussion must be held, under which rule, and what follows. It books
// nothing; the convene flow computes the same thing the same way (through
// the profile's Timescale). Any authenticated user may ask.
func (a *App) Timescale(ctx context.Context, req policy.TimescaleRequest) (*policy.Timescale, error) {
	if _, err := require(ctx); err != nil {
		return nil, err
	}
	var f Fields
	policyFields(req.Validate(), "", &f)
	if err := f.Err("the request is not valid"); err != nil {
		return nil, err
	}
	profile, err := a.profile(req.Profile)
	if err != nil {
		return nil, err
	}
	ts, err := profile.Timescale(req)
	if err != nil {
		return nil, policyError(err, "")
	}
	return &ts, nil
}
