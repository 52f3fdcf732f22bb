package deploy

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestImageCarriesTheWebAssets checks the image's web assets against the
// repository: the assets stage installs from the lock file the service's
// own package.json pins, the final stage copies GOV.UK Frontend's built
// files from where npm puts them, and the service is told where they are.
// Without them the pages would be served unstyled.
func TestImageCarriesTheWebAssets(t *testing.T) {
	b, err := os.ReadFile("Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	df := string(b)
	for _, want := range []string{
		"COPY service/web/assets/package.json service/web/assets/package-lock.json ./",
		"RUN npm ci --omit=dev",
	} {
		if !strings.Contains(df, want) {
			t.Errorf("the Dockerfile has no %q", want)
		}
	}
	copyLine := regexp.MustCompile(`(?m)^COPY --from=assets /assets/(\S+) (\S+)$`).FindStringSubmatch(df)
	if copyLine == nil {
		t.Fatal("the final stage copies nothing from the assets stage")
	}
	// npm ci --prefix service/web/assets (make run, .ci/deps) puts the files
	// where the assets stage does, under its working directory.
	built := filepath.Join("..", "service", "web", "assets", copyLine[1])
	if st, err := os.Stat(filepath.Join(built, "govuk-frontend.min.css")); err != nil || st.IsDir() {
		t.Errorf("the image copies %s, which has no govuk-frontend.min.css after npm ci: %v", copyLine[1], err)
	}
	if env := regexp.MustCompile(`(?m)^ENV .*\bCONVENE_WEB_ASSETS=(\S+)`).FindStringSubmatch(df); env == nil || env[1] != copyLine[2] {
		t.Errorf("CONVENE_WEB_ASSETS is %v, want the copied directory %s", env, copyLine[2])
	}
}
