package httpapi

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/convene/convene/service"
)

// problem is an RFC 9457 problem details document.
type problem struct {
	Type      string         `json:"type"`
	Title     string         `json:"title"`
	Status    int            `json:"status"`
	Detail    string         `json:"detail,omitempty"`
	Instance  string         `json:"instance,omitempty"`
	Code      string         `json:"code"`
	RequestID string         `json:"request_id,omitempty"`
	Errors    []fieldProblem `json:"errors,omitempty"`
	// Link is the path of the resource a conflict is with (the open
	// discussion of the same case), when the caller may see it.
	Link string `json:"link,omitempty"`
	// Result is what became of a refused inbound message.
	Result string `json:"result,omitempty"`
}

type fieldProblem struct {
	Field   string `json:"field"`
	Pointer string `json:"pointer"`
	Detail  string `json:"detail"`
}

var statusOf = map[string]int{
	service.EINVALID:      http.StatusUnprocessableEntity,
	service.EMALFORMED:    http.StatusBadRequest,
	service.ENOTFOUND:     http.StatusNotFound,
	service.ECONFLICT:     http.StatusConflict,
	service.EPRECONDITION: http.StatusConflict,
	service.EFORBIDDEN:    http.StatusForbidden,
	service.EUNAUTHORIZED: http.StatusUnauthorized,
	service.ETOOLARGE:     http.StatusRequestEntityTooLarge,
	service.EUNSUPPORTED:  http.StatusUnsupportedMediaType,
	service.EUNAVAILABLE:  http.StatusServiceUnavailable,
	service.EINTERNAL:     http.StatusInternalServerError,
	service.ETOOMANY:      http.StatusTooManyRequests,
}

var codeOf = map[int]string{
	http.StatusBadRequest:            service.EMALFORMED,
	http.StatusUnauthorized:          service.EUNAUTHORIZED,
	http.StatusForbidden:             service.EFORBIDDEN,
	http.StatusNotFound:              service.ENOTFOUND,
	http.StatusMethodNotAllowed:      "method_not_allowed",
	http.StatusRequestEntityTooLarge: service.ETOOLARGE,
	http.StatusUnsupportedMediaType:  service.EUNSUPPORTED,
	http.StatusServiceUnavailable:    service.EUNAVAILABLE,
	http.StatusTooManyRequests:       service.ETOOMANY,
}

// handleError is echo's one error handler: every failure leaves as
// application/problem+json. Internal errors are logged with the request id;
// users see only a generic message.
func (s *Server) handleError(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	p := problem{Type: "about:blank", Instance: c.Request().URL.Path, RequestID: requestID(c)}
	var he *echo.HTTPError
	var se *service.Error
	switch {
	case errors.As(err, &se):
		p.Code = se.Code
		p.Status = statusOf[se.Code]
		if p.Status == 0 {
			p.Status = http.StatusInternalServerError
		}
		p.Detail = se.Message
		for _, f := range se.Fields {
			p.Errors = append(p.Errors, fieldProblem{Field: f.Field, Pointer: pointer(f.Field), Detail: f.Message})
		}
		p.Link, p.Result = se.Link, se.Result
	case errors.As(err, &he):
		p.Status = he.Code
		p.Code = codeOf[he.Code]
		if p.Code == "" {
			p.Code = service.EINTERNAL
		}
		if msg, ok := he.Message.(string); ok && he.Code < 500 {
			p.Detail = msg
		}
		if he.Code == http.StatusRequestEntityTooLarge {
			p.Detail = "the request body is larger than this service accepts"
		}
	default:
		p.Status, p.Code = http.StatusInternalServerError, service.EINTERNAL
	}
	if p.Status >= 500 {
		s.log.ErrorContext(c.Request().Context(), "request failed", "request_id", p.RequestID,
			"method", c.Request().Method, "path", c.Request().URL.Path, "err", err)
		if p.Code == service.EINTERNAL {
			p.Detail = "something went wrong on our side; quote the request id if you report it"
		}
	}
	p.Title = http.StatusText(p.Status)
	if p.Status == http.StatusUnauthorized {
		c.Response().Header().Set("WWW-Authenticate", `Bearer realm="convene"`)
	}
	if p.Type == "about:blank" && p.Code != "" {
		p.Type = "https://convene.example/problems/" + strings.ReplaceAll(p.Code, "_", "-")
	}
	b, _ := json.Marshal(p)
	c.Response().Header().Set(echo.HeaderContentType, "application/problem+json")
	if c.Request().Method == http.MethodHead {
		_ = c.NoContent(p.Status)
		return
	}
	_ = c.Blob(p.Status, "application/problem+json", b)
}

// pointer turns a field path such as "calendar.url" or "concerns[2]" into a
// JSON Pointer (RFC 6901) into the request body.
func pointer(field string) string {
	if field == "" {
		return "#"
	}
	r := strings.NewReplacer("~", "~0", "/", "~1")
	var b strings.Builder
	b.WriteString("#")
	for _, part := range strings.Split(field, ".") {
		name, idx, _ := strings.Cut(part, "[")
		b.WriteString("/" + r.Replace(name))
		for idx != "" {
			var i string
			i, idx, _ = strings.Cut(idx, "]")
			b.WriteString("/" + i)
			idx = strings.TrimPrefix(idx, "[")
		}
	}
	return b.String()
}
