package service

import (
	"context"

	"github.com/convene/convene/service/policy"
)

// Forecasts returns the quorum forecast (from invitation replies, as
// Quorum's Forecast) of each open discussion in ds, by id: a page of the
// list, as Discussions returned it. A list's summaries carry what the
// forecast reads (the invitees and the attendance requirements), so a page
// of forecasts costs no read of each discussion; delegates are taken as
// the directory has them now, as Quorum does. Discussions the caller may
// not see, and those closed, get none. The forecasts are audited as one
// quorum read of the page's ids.
func (a *App) Forecasts(ctx context.Context, ds []Discussion) (map[string]policy.Quorum, error) {
	p, err := require(ctx)
	if err != nil {
		return nil, err
	}
	now := a.Now()
	out := map[string]policy.Quorum{}
	var ids []string
	for i := range ds {
		d := &ds[i]
		if !canSee(p, d) || d.Status != StatusProposed && d.Status != StatusBooked && d.Status != StatusInProgress {
			continue
		}
		out[d.ID] = a.quorum(a.withDirectory(ctx, d), now).Forecast
		ids = append(ids, d.ID)
	}
	if len(ids) == 0 {
		return out, nil
	}
	if err := a.audit(ctx, "discussion.quorum.read", "discussions", map[string]any{"ids": ids}); err != nil {
		return nil, err
	}
	return out, nil
}
