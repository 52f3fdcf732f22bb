# The two commands README.md starts with: `make run` and `make test`.
.PHONY: run test deps vet bench build screenshots

# Runs the service with the embedded store under ./data, a demo directory and
# printed development tokens. Needs Go, and npm the first time: the web
# app's GOV.UK Frontend is fetched from its lock file when missing.
run: service/web/assets/node_modules
	go run ./cmd/convene

service/web/assets/node_modules: service/web/assets/package-lock.json
	npm ci --prefix service/web/assets --ignore-scripts --no-audit --no-fund
	@touch $@

# Installs what the tests talk to (Radicale, aiosmtpd, python3-icalendar,
# ical.js, python3-holidays), then vets and runs every test with the race
# detector.
test: deps vet
	go test -race -count=1 -timeout 20m ./...

deps:
	./.ci/deps

vet:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt: files above need formatting"; exit 1; }
	go mod tidy -diff
	go vet ./...

# Runs the browser tests and keeps what they saw in service/web/screenshots
# (the pictures README.md shows).
screenshots:
	CONVENE_SCREENSHOTS=$(CURDIR)/service/web/screenshots go test -count=1 -run 'Browser' ./service/web

bench:
	go test -run '^$$' -bench . -benchmem ./...

build:
	CGO_ENABLED=0 go build -trimpath -o convene ./cmd/convene
