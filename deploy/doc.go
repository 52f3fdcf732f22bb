// Package deploy holds what runs Convene outside a developer's machine:
// the image (Dockerfile), the Kubernetes manifests (kubernetes/), the
// Grafana dashboard (grafana/) and the compose services' configuration.
// Its tests check them offline in CI: the manifests decoded strictly into
// the Kubernetes API types, the compose file against the compose-spec
// schema, the binary built with the Dockerfile's own flags, and every
// metric the dashboard queries exposed by the service.
package deploy
