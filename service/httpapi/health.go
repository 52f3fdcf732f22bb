package httpapi

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/convene/convene/openapi"
)

func (s *Server) health(c echo.Context) error {
	return c.JSON(http.StatusOK, map[string]string{"status": "ok"})
}

// ready answers 200 only when the store answers.
func (s *Server) ready(c echo.Context) error {
	if err := s.app.Store.Ping(c.Request().Context()); err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]string{"status": "ready", "store": s.storeName})
}

func (s *Server) openapiDocument(c echo.Context) error {
	return c.Blob(http.StatusOK, "application/yaml", openapi.Document)
}
