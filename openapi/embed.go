// Package openapi holds Convene's HTTP contract, openapi.yaml (OpenAPI 3.0),
// embedded so the service serves the exact document it validates requests
// against.
package openapi

import _ "embed"

// Document is the OpenAPI document, as YAML.
//
//go:embed openapi.yaml
var Document []byte
