package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/convene/convene/service"
)

// decode reads a JSON request body into v strictly: unknown fields, trailing
// data and wrong types are errors naming the field. The contract is checked
// before this runs; this is the second line, in Go's own types.
func decode(c echo.Context, v any) error {
	body, err := readBody(c)
	if err != nil {
		return err
	}
	return decodeBytes(body, v)
}

// decodeOptional is decode for bodies that may be left out.
func decodeOptional(c echo.Context, v any) error {
	body, err := readBody(c)
	if err != nil || len(bytes.TrimSpace(body)) == 0 {
		return err
	}
	return decodeBytes(body, v)
}

// readBody reads the whole (size-limited) request body.
func readBody(c echo.Context) ([]byte, error) {
	body, err := io.ReadAll(c.Request().Body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, service.Errorf(service.ETOOLARGE, "the request body is larger than this service accepts")
		}
		return nil, service.Errorf(service.EMALFORMED, "the request body could not be read")
	}
	return body, nil
}

// decodeBytes decodes JSON strictly into v.
func decodeBytes(body []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(err)
	}
	// Exactly one value: dec.More alone lets a stray "}" or "]" through.
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return service.Errorf(service.EMALFORMED, "the request body has data after its JSON value; send one JSON object")
	}
	return nil
}

func jsonError(err error) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.Is(err, io.EOF):
		return service.Errorf(service.EMALFORMED, "the request body is empty; send a JSON object")
	case errors.As(err, &syn), errors.Is(err, io.ErrUnexpectedEOF):
		return service.Errorf(service.EMALFORMED, "the request body is not valid JSON")
	case errors.As(err, &typ):
		field := typ.Field
		if field == "" {
			return service.Errorf(service.EMALFORMED, "the request body must be a JSON object")
		}
		return service.Invalid("the request is not valid", service.FieldError{Field: field, Message: "must be of type " + jsonType(typ.Type.Kind().String())})
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		field := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return service.Invalid("the request is not valid", service.FieldError{Field: field, Message: "is not a field of this request"})
	}
	return service.Errorf(service.EMALFORMED, "the request body could not be read as JSON")
}

func jsonType(kind string) string {
	switch kind {
	case "string":
		return "string"
	case "bool":
		return "boolean"
	case "slice", "array":
		return "array"
	case "struct", "map", "ptr":
		return "object"
	}
	return "number"
}
