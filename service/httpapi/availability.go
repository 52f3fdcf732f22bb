package httpapi

import (
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/convene/convene/calendar"
	"github.com/convene/convene/service"
)

type availabilityInput struct {
	Attendees           []availabilityAttendeeInput `json:"attendees"`
	DurationMinutes     int                         `json:"duration_minutes"`
	Earliest            time.Time                   `json:"earliest"`
	Deadline            time.Time                   `json:"deadline"`
	Region              calendar.Region             `json:"region"`
	GranularityMinutes  int                         `json:"granularity_minutes"`
	BufferBeforeMinutes int                         `json:"buffer_before_minutes"`
	BufferAfterMinutes  int                         `json:"buffer_after_minutes"`
	OutOfHours          bool                        `json:"out_of_hours"`
	MaxSlots            int                         `json:"max_slots"`
}

type availabilityAttendeeInput struct {
	PersonID     string                  `json:"person_id"`
	Email        string                  `json:"email"`
	Name         string                  `json:"name"`
	Calendar     *service.CalendarSource `json:"calendar"`
	Essential    *bool                   `json:"essential"`
	WorkingHours json.RawMessage         `json:"working_hours"`
	TimeZone     string                  `json:"time_zone"`
}

type availabilityView struct {
	Slots      []slotView          `json:"slots"`
	Attendees  []attendeeAvailView `json:"attendees"`
	Reason     calendar.SlotReason `json:"reason,omitempty"`
	OutOfHours bool                `json:"out_of_hours"`
}

type slotView struct {
	Start    time.Time `json:"start"`
	End      time.Time `json:"end"`
	Score    float64   `json:"score"`
	Free     []string  `json:"free"`
	Busy     []string  `json:"busy"`
	Unknown  []string  `json:"unknown"`
	Blockers []string  `json:"blockers,omitempty"`
}

type attendeeAvailView struct {
	PersonID       string                      `json:"person_id,omitempty"`
	Email          string                      `json:"email"`
	Name           string                      `json:"name,omitempty"`
	Essential      bool                        `json:"essential"`
	Availability   calendar.AvailabilityStatus `json:"availability"`
	Reason         calendar.Reason             `json:"reason,omitempty"`
	SkippedObjects int                         `json:"skipped_objects"`
}

func viewSlots(slots []calendar.Slot) []slotView {
	out := make([]slotView, len(slots))
	for i, s := range slots {
		out[i] = slotView{Start: s.Start, End: s.End, Score: s.Score, Free: nonNil(s.Free), Busy: nonNil(s.Busy),
			Unknown: nonNil(s.Unknown), Blockers: s.Blockers}
	}
	return out
}

func viewAvailability(a *service.Availability) availabilityView {
	v := availabilityView{Slots: viewSlots(a.Slots), Reason: a.Reason, OutOfHours: a.OutOfHours,
		Attendees: make([]attendeeAvailView, len(a.Attendees))}
	for i, at := range a.Attendees {
		v.Attendees[i] = attendeeAvailView{PersonID: at.PersonID, Email: at.Email, Name: at.Name, Essential: at.Essential,
			Availability: at.Availability, Reason: at.Reason, SkippedObjects: at.SkippedObjects}
	}
	return v
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func minutes(n int) time.Duration { return time.Duration(n) * time.Minute }

func (s *Server) checkAvailability(c echo.Context) error {
	var in availabilityInput
	if err := decode(c, &in); err != nil {
		return err
	}
	req := service.AvailabilityRequest{
		Duration: minutes(in.DurationMinutes), Earliest: in.Earliest, Deadline: in.Deadline, Region: in.Region,
		Granularity: minutes(in.GranularityMinutes), BufferBefore: minutes(in.BufferBeforeMinutes),
		BufferAfter: minutes(in.BufferAfterMinutes), OutOfHours: in.OutOfHours, MaxSlots: in.MaxSlots,
	}
	for i, at := range in.Attendees {
		a := service.AvailabilityAttendee{PersonID: at.PersonID, Email: at.Email, Name: at.Name, Calendar: at.Calendar,
			Essential: at.Essential == nil || *at.Essential, TimeZone: at.TimeZone}
		if len(at.WorkingHours) > 0 {
			wh, err := workingHours(at.WorkingHours, "attendees["+strconv.Itoa(i)+"].working_hours")
			if err != nil {
				return err
			}
			a.WorkingHours = &wh
		}
		req.Attendees = append(req.Attendees, a)
	}
	res, err := s.app.CheckAvailability(c.Request().Context(), req)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, viewAvailability(res))
}
