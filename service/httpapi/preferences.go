package httpapi

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/convene/convene/service"
)

// getPreference is GET /v1/me/notification-preference.
func (s *Server) getPreference(c echo.Context) error {
	p, err := s.app.NotificationPreference(c.Request().Context())
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, p)
}

// setPreference is PUT /v1/me/notification-preference: immediate, digest
// or off.
func (s *Server) setPreference(c echo.Context) error {
	var in struct {
		Delivery service.Delivery `json:"delivery"`
	}
	if err := decode(c, &in); err != nil {
		return err
	}
	p, err := s.app.SetNotificationPreference(c.Request().Context(), in.Delivery)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, p)
}
