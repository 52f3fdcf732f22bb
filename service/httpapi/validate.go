package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/labstack/echo/v4"

	"github.com/convene/convene/service"
)

// openapiPath turns echo's route template ("/v1/people/:id") into the
// document's ("/v1/people/{id}").
func openapiPath(echoPath string) string {
	parts := strings.Split(echoPath, "/")
	for i, p := range parts {
		if strings.HasPrefix(p, ":") {
			parts[i] = "{" + p[1:] + "}"
		}
	}
	return strings.Join(parts, "/")
}

// validate checks the request against the operation the contract describes
// for echo's matched route: parameters, content type and body schema. A
// route with no operation in the document is a bug, reported as such.
func (s *Server) validate(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := c.Request()
		path := openapiPath(c.Path())
		item := s.doc.Paths.Value(path)
		if item == nil || item.GetOperation(r.Method) == nil {
			return service.Internal(fmt.Errorf("route %s %s is not in the OpenAPI document", r.Method, path), "validate")
		}
		op := item.GetOperation(r.Method)
		// JSON bodies are validated against their schema here; other media
		// types the operation declares (a raw email for /v1/imip, an HTML
		// form post) are read by their handlers, and undeclared ones are
		// refused.
		ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
		hasBody := r.ContentLength > 0 || r.ContentLength < 0 && r.Body != http.NoBody
		if op.RequestBody != nil && hasBody && op.RequestBody.Value.Content.Get(ct) == nil {
			return service.Errorf(service.EUNSUPPORTED, "send the request body as one of %v", slices.Sorted(maps.Keys(op.RequestBody.Value.Content)))
		}
		if ct == "application/json" && hasBody {
			// Before the contract's check: kin-openapi reads only the
			// first JSON value, and may write the body back re-encoded
			// (with defaults filled), which would drop what follows it.
			body, err := readBody(c)
			if err != nil {
				return err
			}
			if err := oneJSONValue(body); err != nil {
				return err
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
		}
		params := map[string]string{}
		for i, n := range c.ParamNames() {
			params[n] = c.ParamValues()[i]
		}
		in := &openapi3filter.RequestValidationInput{
			Request:    r,
			PathParams: params,
			Route: &routers.Route{Spec: s.doc, Path: path, PathItem: item, Method: r.Method,
				Operation: item.GetOperation(r.Method)},
			Options: &openapi3filter.Options{
				MultiError:         true,
				AuthenticationFunc: openapi3filter.NoopAuthenticationFunc,
				ExcludeRequestBody: ct != "application/json",
			},
		}
		if err := openapi3filter.ValidateRequest(r.Context(), in); err != nil {
			return contractError(err)
		}
		return next(c)
	}
}

// oneJSONValue refuses a body with anything but white space after its
// first JSON value. A body that is not JSON at all is left to the
// contract's check, which says so.
func oneJSONValue(body []byte) error {
	if json.Valid(body) {
		return nil
	}
	var first json.RawMessage
	if json.NewDecoder(bytes.NewReader(body)).Decode(&first) != nil {
		return nil
	}
	return service.Errorf(service.EMALFORMED, "the request body has data after its JSON value; send one JSON object")
}

// contractError turns kin-openapi's validation errors into one service
// error naming every field at fault.
func contractError(err error) error {
	var fields service.Fields
	var malformed, tooLarge, mediaType bool
	var walk func(err error, prefix string)
	walk = func(err error, prefix string) {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			tooLarge = true
			return
		}
		// Match the outermost error first: errors.As would find a
		// MultiError nested inside a parameter's RequestError and lose the
		// parameter's name.
		switch e := err.(type) {
		case nil:
		case openapi3.MultiError:
			for _, e := range e {
				walk(e, prefix)
			}
		case *openapi3filter.RequestError:
			switch {
			case strings.Contains(e.Error(), "Content-Type"), strings.Contains(e.Error(), "content type"):
				mediaType = true
			case e.Parameter != nil && e.Err == nil:
				fields.Add(e.Parameter.Name, "%s", e.Reason)
			case e.Parameter != nil:
				walk(e.Err, e.Parameter.Name)
			case errors.Is(e.Err, openapi3filter.ErrInvalidRequired):
				fields.Add(prefix, "is required")
			case e.Err == nil:
				fields.Add(prefix, "%s", e.Reason)
			default:
				walk(e.Err, prefix)
			}
		case *openapi3.SchemaError:
			if multi, ok := e.Origin.(openapi3.MultiError); ok {
				walk(multi, prefix)
				return
			}
			field := prefix
			for _, p := range e.JSONPointer() {
				if _, err := strconv.Atoi(p); err == nil && field != "" {
					field += "[" + p + "]"
				} else {
					field = strings.TrimPrefix(field+"."+p, ".")
				}
			}
			msg := e.Reason
			if name := unknownProperty(e.Reason); name != "" {
				msg = "is not a field of this request"
				field = strings.TrimPrefix(field+"."+name, ".")
			} else if name := missingProperty(e.Reason); name != "" {
				msg = "is required"
				// kin-openapi's pointer already ends at the missing
				// property; name it once.
				if field != name && !strings.HasSuffix(field, "."+name) {
					field = strings.TrimPrefix(field+"."+name, ".")
				}
			}
			fields.Add(field, "%s", msg)
		case *openapi3filter.ParseError:
			malformed = true
		default:
			if strings.Contains(err.Error(), "unsupported content type") {
				mediaType = true
				return
			}
			if u := errors.Unwrap(err); u != nil {
				walk(u, prefix)
				return
			}
			fields.Add(prefix, "%s", err.Error())
		}
	}
	walk(err, "")
	switch {
	case tooLarge:
		return service.Errorf(service.ETOOLARGE, "the request body is larger than this service accepts")
	case mediaType:
		return service.Errorf(service.EUNSUPPORTED, "send the request body as application/json")

	case malformed && len(fields) == 0:
		return service.Errorf(service.EMALFORMED, "the request body is not valid JSON")
	}
	if len(fields) == 0 {
		return service.Errorf(service.EMALFORMED, "the request does not match the API contract")
	}
	return fields.Err("the request is not valid")
}

// missingProperty pulls the property name out of kin-openapi's
// `property "x" is missing` reason (required).
func missingProperty(reason string) string {
	name, ok := strings.CutPrefix(reason, `property "`)
	if !ok || !strings.HasSuffix(name, `" is missing`) {
		return ""
	}
	return strings.TrimSuffix(name, `" is missing`)
}

// unknownProperty pulls the property name out of kin-openapi's
// `property "x" is unsupported` reason (additionalProperties: false).
func unknownProperty(reason string) string {
	_, rest, ok := strings.Cut(reason, `property "`)
	if !ok || !strings.HasSuffix(reason, `" is unsupported`) {
		return ""
	}
	name, _, _ := strings.Cut(rest, `"`)
	return name
}
