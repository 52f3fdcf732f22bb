package httpapi

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/convene/convene/service"
)

// venueInput is the body of POST and PUT /v1/venues (a new venue is
// active whatever it says; the contract takes active on PUT only).
type venueInput struct {
	Name    string `json:"name"`
	Address string `json:"address"`
	Active  *bool  `json:"active"`
	Version int64  `json:"version"`
}

func (in venueInput) venue() service.Venue {
	v := service.Venue{Name: in.Name, Address: in.Address, Active: true, Version: in.Version}
	if in.Active != nil {
		v.Active = *in.Active
	}
	return v
}

func (s *Server) listVenues(c echo.Context) error {
	vs, err := s.app.Venues(c.Request().Context(), c.QueryParam("include_inactive") == "true")
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, struct {
		Items []service.Venue `json:"items"`
	}{orEmpty(vs)})
}

func (s *Server) createVenue(c echo.Context) error {
	var in venueInput
	if err := decode(c, &in); err != nil {
		return err
	}
	v, err := s.app.CreateVenue(c.Request().Context(), in.venue())
	if err != nil {
		return err
	}
	c.Response().Header().Set("Location", "/v1/venues/"+v.ID)
	c.Response().Header().Set("ETag", etag(v.Version))
	return c.JSON(http.StatusCreated, v)
}

func (s *Server) updateVenue(c echo.Context) error {
	var in venueInput
	if err := decode(c, &in); err != nil {
		return err
	}
	v, err := s.app.UpdateVenue(c.Request().Context(), c.Param("id"), in.venue())
	if err != nil {
		return err
	}
	c.Response().Header().Set("ETag", etag(v.Version))
	return c.JSON(http.StatusOK, v)
}
