package service

import "context"

// Timeline pages through a discussion's timeline, newest first: the events
// numbered below before (0: from the newest), at most limit of them (see
// PageLimit). A loaded discussion carries only the newest TimelineWindow
// events; this reads the rest. Whoever may see the discussion may read its
// timeline, and the read is audited.
func (a *App) Timeline(ctx context.Context, id string, before int64, limit int) ([]Event, error) {
	if before < 0 {
		return nil, Invalid("the request is not valid", FieldError{Field: "before", Message: "must be an event number from a previous page"})
	}
	if _, _, err := a.read(ctx, id, "discussion.timeline.read"); err != nil {
		return nil, err
	}
	return a.Store.Timeline(ctx, id, before, PageLimit(limit))
}
