package deploy

import (
	"bufio"
	"bytes"
	"context"
	"debug/buildinfo"
	"debug/elf"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"gopkg.in/yaml.v3"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	sigsyaml "sigs.k8s.io/yaml"
)

// The Kubernetes kinds the manifests may hold, each decoded strictly into
// its API type: a misspelt or misplaced field is an error, as the API
// server's strict field validation would make it.
var kinds = map[string]struct {
	apiVersion string
	new        func() any
}{
	"Deployment":          {"apps/v1", func() any { return &appsv1.Deployment{} }},
	"Service":             {"v1", func() any { return &corev1.Service{} }},
	"ConfigMap":           {"v1", func() any { return &corev1.ConfigMap{} }},
	"Secret":              {"v1", func() any { return &corev1.Secret{} }},
	"PodDisruptionBudget": {"policy/v1", func() any { return &policyv1.PodDisruptionBudget{} }},
}

// decodeManifest decodes one YAML document strictly into its kind's type.
func decodeManifest(doc []byte) (any, error) {
	var tm struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
	}
	if err := sigsyaml.Unmarshal(doc, &tm); err != nil {
		return nil, err
	}
	k, ok := kinds[tm.Kind]
	if !ok {
		return nil, &unknownKind{tm.Kind}
	}
	if tm.APIVersion != k.apiVersion {
		return nil, &unknownKind{tm.APIVersion + " " + tm.Kind}
	}
	obj := k.new()
	if err := sigsyaml.UnmarshalStrict(doc, obj); err != nil {
		return nil, err
	}
	return obj, nil
}

type unknownKind struct{ kind string }

func (e *unknownKind) Error() string { return "no API type for " + e.kind }

// manifests decodes every document of every file in kubernetes/.
func manifests(t *testing.T) (deps []*appsv1.Deployment, svcs []*corev1.Service, cms []*corev1.ConfigMap, secrets []*corev1.Secret, pdbs []*policyv1.PodDisruptionBudget) {
	t.Helper()
	files, err := filepath.Glob("kubernetes/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no manifests: %v", err)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for i, doc := range bytes.Split(b, []byte("\n---")) {
			if len(bytes.TrimSpace(doc)) == 0 {
				continue
			}
			obj, err := decodeManifest(doc)
			if err != nil {
				t.Errorf("%s, document %d: %v", f, i+1, err)
				continue
			}
			switch o := obj.(type) {
			case *appsv1.Deployment:
				deps = append(deps, o)
			case *corev1.Service:
				svcs = append(svcs, o)
			case *corev1.ConfigMap:
				cms = append(cms, o)
			case *corev1.Secret:
				secrets = append(secrets, o)
			case *policyv1.PodDisruptionBudget:
				pdbs = append(pdbs, o)
			}
		}
	}
	return
}

// knownVariables are the environment variables the service reads,
// gathered from cmd/convene's sources, so that a manifest or the compose
// file naming one the service does not know (a typo, a renamed setting)
// fails here.
func knownVariables(t *testing.T) map[string]bool {
	t.Helper()
	files, _ := filepath.Glob("../cmd/convene/*.go")
	re := regexp.MustCompile(`"((?:CONVENE|OTEL)_[A-Z0-9_]+|MONGODB_URI)"`)
	known := map[string]bool{}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range re.FindAllSubmatch(b, -1) {
			known[string(m[1])] = true
		}
	}
	if len(known) < 20 {
		t.Fatalf("only %d variables found in cmd/convene", len(known))
	}
	return known
}

func known(vars map[string]bool, name string) bool {
	// Calendar credentials are named by the directory's entries.
	return vars[name] || strings.HasPrefix(name, "CONVENE_CRED_")
}

func TestKubernetesManifests(t *testing.T) {
	t.Parallel()
	deps, svcs, cms, secrets, pdbs := manifests(t)
	if len(deps) != 1 || len(svcs) != 1 || len(cms) != 1 || len(secrets) != 1 || len(pdbs) != 1 {
		t.Fatalf("manifests: %d deployments, %d services, %d config maps, %d secrets, %d disruption budgets; want one each",
			len(deps), len(svcs), len(cms), len(secrets), len(pdbs))
	}
	d, svc, cm, secret, pdb := deps[0], svcs[0], cms[0], secrets[0], pdbs[0]
	labels := d.Spec.Template.Labels
	matches := func(sel map[string]string) bool {
		for k, v := range sel {
			if labels[k] != v {
				return false
			}
		}
		return len(sel) > 0
	}
	if !matches(d.Spec.Selector.MatchLabels) || !matches(svc.Spec.Selector) || !matches(pdb.Spec.Selector.MatchLabels) {
		t.Errorf("the deployment's, service's and disruption budget's selectors do not all select the pods %v", labels)
	}
	if d.Spec.Replicas == nil || *d.Spec.Replicas < 2 {
		t.Errorf("replicas %v, want at least 2 (scale-out on MongoDB)", d.Spec.Replicas)
	}
	if pdb.Spec.MinAvailable == nil || pdb.Spec.MinAvailable.IntValue() < 1 {
		t.Errorf("the disruption budget keeps %v available, want at least 1", pdb.Spec.MinAvailable)
	}
	pod := d.Spec.Template.Spec
	if pod.SecurityContext == nil || pod.SecurityContext.RunAsNonRoot == nil || !*pod.SecurityContext.RunAsNonRoot ||
		pod.SecurityContext.RunAsUser == nil || *pod.SecurityContext.RunAsUser == 0 {
		t.Error("the pod does not run as a non-root user")
	}
	if len(pod.Containers) != 1 {
		t.Fatalf("%d containers, want 1", len(pod.Containers))
	}
	c := pod.Containers[0]
	sc := c.SecurityContext
	if sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation ||
		sc.Capabilities == nil || !slices.Contains(sc.Capabilities.Drop, "ALL") {
		t.Error("the container's root filesystem is writable, it may escalate privileges, or it keeps capabilities")
	}
	port := func(name string) int32 {
		for _, p := range c.Ports {
			if p.Name == name {
				return p.ContainerPort
			}
		}
		return 0
	}
	for _, p := range []struct {
		name  string
		probe *corev1.Probe
		path  string
	}{{"readiness", c.ReadinessProbe, "/readyz"}, {"liveness", c.LivenessProbe, "/healthz"}} {
		if p.probe == nil || p.probe.HTTPGet == nil || p.probe.HTTPGet.Path != p.path || port(p.probe.HTTPGet.Port.String()) == 0 {
			t.Errorf("%s probe %+v, want GET %s on a named container port", p.name, p.probe, p.path)
		}
	}
	if c.Resources.Requests.Cpu().IsZero() || c.Resources.Requests.Memory().IsZero() {
		t.Error("the container requests no CPU or memory")
	}
	// Settings: every variable is one the service reads; secrets come
	// from the Secret, never written into the manifest.
	vars := knownVariables(t)
	for k := range cm.Data {
		if !known(vars, k) {
			t.Errorf("config map: %s is not a variable Convene reads", k)
		}
		if strings.Contains(k, "SECRET") || strings.Contains(k, "PASSWORD") || strings.Contains(k, "TOKEN") || k == "MONGODB_URI" {
			t.Errorf("config map: %s is a secret: it belongs in the Secret", k)
		}
	}
	if len(c.EnvFrom) != 1 || c.EnvFrom[0].ConfigMapRef == nil || c.EnvFrom[0].ConfigMapRef.Name != cm.Name {
		t.Errorf("the container does not take its settings from the config map %s", cm.Name)
	}
	keys := map[string]bool{}
	for k := range secret.StringData {
		keys[k] = true
	}
	for _, e := range c.Env {
		if !known(vars, e.Name) {
			t.Errorf("env: %s is not a variable Convene reads", e.Name)
		}
		ref := (*corev1.SecretKeySelector)(nil)
		if e.ValueFrom != nil {
			ref = e.ValueFrom.SecretKeyRef
		}
		if e.Value != "" || ref == nil {
			t.Errorf("env: %s is not from a Secret", e.Name)
			continue
		}
		if ref.Name != secret.Name || !keys[ref.Key] {
			t.Errorf("env: %s refers to %s/%s, which the example Secret does not have", e.Name, ref.Name, ref.Key)
		}
	}
}

// TestStrictDecodingRefusesUnknownFields: the check above would catch a
// misspelt field, not pass over it.
func TestStrictDecodingRefusesUnknownFields(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("kubernetes/deployment.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ from, to string }{
		{"readinessProbe:", "readynessProbe:"},
		{"runAsNonRoot: true\n        runAsUser", "runAsNonRoot: yes-please\n        runAsUser"},
		{"apiVersion: apps/v1", "apiVersion: apps/v1beta9"},
	} {
		bad := strings.Replace(string(b), c.from, c.to, 1)
		if bad == string(b) {
			t.Fatalf("%q is not in the deployment", c.from)
		}
		if _, err := decodeManifest([]byte(bad)); err == nil {
			t.Errorf("a deployment with %q decoded without error", c.to)
		}
	}
}

// composeSchema is the compose-spec JSON schema, vendored (see
// testdata/README.md): tests run offline.
func composeSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	f, err := os.Open("testdata/compose-spec.json")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	doc, err := jsonschema.UnmarshalJSON(f)
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("compose-spec.json", doc); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile("compose-spec.json")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// composeDoc reads YAML (anchors and merge keys resolved) as the JSON
// value the schema validates.
func composeDoc(t *testing.T, b []byte) (any, map[string]any) {
	t.Helper()
	var v map[string]any
	if err := yaml.Unmarshal(b, &v); err != nil {
		t.Fatalf("compose file: %v", err)
	}
	j, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(j))
	if err != nil {
		t.Fatal(err)
	}
	return inst, v
}

func TestComposeFile(t *testing.T) {
	t.Parallel()
	schema := composeSchema(t)
	b, err := os.ReadFile("../docker-compose.yml")
	if err != nil {
		t.Fatal(err)
	}
	inst, doc := composeDoc(t, b)
	if err := schema.Validate(inst); err != nil {
		t.Fatalf("docker-compose.yml does not follow the compose specification: %v", err)
	}
	services, _ := doc["services"].(map[string]any)
	for _, name := range []string{"convene-1", "convene-2", "proxy", "mongo", "radicale", "mailpit"} {
		if services[name] == nil {
			t.Errorf("no %s service", name)
		}
	}
	if cmd := strings.Join(stringsOf(services["mongo"].(map[string]any)["command"]), " "); !strings.Contains(cmd, "--replSet") {
		t.Errorf("mongo runs %q, not as a replica set (Convene's MongoDB store needs one)", cmd)
	}
	vars := knownVariables(t)
	for _, name := range []string{"convene-1", "convene-2"} {
		s := services[name].(map[string]any)
		env, _ := s["environment"].(map[string]any)
		if !strings.Contains(env["MONGODB_URI"].(string), "replicaSet=") {
			t.Errorf("%s: MONGODB_URI %v names no replica set", name, env["MONGODB_URI"])
		}
		for k := range env {
			if !known(vars, k) {
				t.Errorf("%s: %s is not a variable Convene reads", name, k)
			}
		}
		if s["read_only"] != true {
			t.Errorf("%s: root filesystem not read-only", name)
		}
	}

	// And the schema does refuse what is wrong.
	bad, _ := composeDoc(t, bytes.Replace(b, []byte("    ports: [\"8080:80\"]"), []byte("    portz: [\"8080:80\"]"), 1))
	if schema.Validate(bad) == nil {
		t.Error("a service with a misspelt key passed the schema")
	}
}

func stringsOf(v any) []string {
	var out []string
	l, _ := v.([]any)
	for _, s := range l {
		out = append(out, s.(string))
	}
	return out
}

// dockerBuild is the Dockerfile's `go build` line: its environment, its
// arguments (shell quoting undone), and the final stage's user.
func dockerBuild(t *testing.T) (env, args []string, user string) {
	t.Helper()
	b, err := os.ReadFile("Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "RUN "); ok && strings.Contains(rest, "go build") {
			words := shellWords(t, rest)
			i := slices.Index(words, "go")
			if i < 0 || i+1 >= len(words) || words[i+1] != "build" {
				t.Fatalf("cannot read the build line %q", line)
			}
			env, args = words[:i], words[i+2:]
		}
		if u, ok := strings.CutPrefix(line, "USER "); ok {
			user = strings.TrimSpace(u)
		}
	}
	if args == nil {
		t.Fatal("no go build line in the Dockerfile")
	}
	return env, args, user
}

// shellWords splits a command line as sh would for the plain words and
// quotes the Dockerfile uses; anything else (variables, substitutions) is
// refused so the test cannot silently differ from the image.
func shellWords(t *testing.T, s string) []string {
	t.Helper()
	var words []string
	var cur strings.Builder
	in, quote := false, rune(0)
	for _, r := range s {
		switch {
		case quote != 0:
			if r == quote {
				quote = 0
			} else {
				cur.WriteRune(r)
			}
		case r == '\'' || r == '"':
			quote, in = r, true
		case r == ' ' || r == '\t':
			if in {
				words, in = append(words, cur.String()), false
				cur.Reset()
			}
		case strings.ContainsRune("$`&|;<>\\", r):
			t.Fatalf("the build line %q uses shell features this check does not follow", s)
		default:
			cur.WriteRune(r)
			in = true
		}
	}
	if in {
		words = append(words, cur.String())
	}
	return words
}

var (
	buildOnce sync.Once
	built     string
	buildErr  error
	buildDir  string
)

func TestMain(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// imageBinary builds the binary once, as the Dockerfile does.
func imageBinary(t *testing.T) string {
	t.Helper()
	env, args, _ := dockerBuild(t)
	buildOnce.Do(func() {
		if buildDir, buildErr = os.MkdirTemp("", "convene-image-"); buildErr != nil {
			return
		}
		built = filepath.Join(buildDir, "convene")
		// The Dockerfile writes to /out/convene: the same build, elsewhere.
		for i, a := range args {
			if a == "-o" && i+1 < len(args) {
				args[i+1] = built
			}
		}
		cmd := exec.Command("go", append([]string{"build"}, args...)...)
		cmd.Dir = ".."
		cmd.Env = append(os.Environ(), env...)
		if b, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build %v: %v\n%s", args, err, b)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return built
}

// TestImageBuild builds the binary with exactly the Dockerfile's flags
// and environment, and checks what the image promises: a static binary
// (no interpreter, nothing from cgo), paths trimmed, no FerretDB linked in,
// and a non-root user.
func TestImageBuild(t *testing.T) {
	t.Parallel()
	env, args, user := dockerBuild(t)
	if !slices.Contains(env, "CGO_ENABLED=0") || !slices.Contains(args, "-trimpath") {
		t.Errorf("the Dockerfile builds with %v %v: want CGO_ENABLED=0 and -trimpath", env, args)
	}
	if user == "" || user == "root" || strings.HasPrefix(user, "0") {
		t.Errorf("the image runs as %q, want a non-root user", user)
	}
	out := imageBinary(t)
	info, err := buildinfo.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	settings := map[string]string{}
	for _, s := range info.Settings {
		settings[s.Key] = s.Value
	}
	if settings["CGO_ENABLED"] != "0" || settings["-trimpath"] != "true" {
		t.Errorf("the binary was built with CGO_ENABLED=%q -trimpath=%q", settings["CGO_ENABLED"], settings["-trimpath"])
	}
	for _, d := range info.Deps {
		if strings.Contains(strings.ToLower(d.Path), "ferretdb") {
			t.Errorf("the binary links %s: FerretDB is for tests only", d.Path)
		}
	}
	f, err := elf.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Error("the binary is dynamically linked (it has an interpreter): the distroless static image cannot run it")
		}
	}
	if libs, _ := f.ImportedLibraries(); len(libs) > 0 {
		t.Errorf("the binary needs shared libraries %v", libs)
	}
}

// TestDashboardMetricsAreExposed runs the image's binary, makes it do a
// little (a directory, a convene that reads a calendar), and checks that
// every metric the Grafana dashboard queries is on /metrics: a renamed
// metric breaks this test, not the council's dashboard.
func TestDashboardMetricsAreExposed(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("grafana/convene.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(b, &dash); err != nil {
		t.Fatalf("dashboard: %v", err)
	}
	queried := map[string][]string{}
	re := regexp.MustCompile(`\bconvene_[a-z0-9_]+`)
	for _, p := range dash.Panels {
		if len(p.Targets) == 0 {
			t.Errorf("panel %q queries nothing", p.Title)
		}
		for _, tg := range p.Targets {
			for _, m := range re.FindAllString(tg.Expr, -1) {
				queried[m] = append(queried[m], p.Title)
			}
		}
	}
	if len(queried) < 10 {
		t.Fatalf("the dashboard queries only %d metrics", len(queried))
	}

	bin := imageBinary(t)
	env := []string{"CONVENE_DATA_DIR=" + t.TempDir(), "CONVENE_DEMO=off", "CONVENE_ADDR=127.0.0.1:0",
		"CONVENE_JWT_SECRET=dashboard-test-secret-0123456789abcdef", "CONVENE_CALENDAR_ALLOW_NETWORKS=127.0.0.0/8",
		"CONVENE_LOG_LEVEL=warn", "CONVENE_RETENTION_INTERVAL=1s", "CONVENE_WATCH_INTERVAL=1s"}
	token := func(args ...string) string {
		cmd := exec.Command(bin, append([]string{"token"}, args...)...)
		cmd.Env = env
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("convene token: %v", err)
		}
		return strings.TrimSpace(string(out))
	}
	admin := token("--role", "admin", "--sub", "ada")
	bso := token("--role", "business_support", "--sub", "bea", "--email", "bea@council.example.org", "--agency", "social_care")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cmd := exec.CommandContext(ctx, bin)
	cmd.Env = env
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cancel(); _ = cmd.Wait() }()
	urlc := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if u, ok := strings.CutPrefix(sc.Text(), "Convene listening on "); ok {
				urlc <- strings.Fields(u)[0]
			}
		}
	}()
	var base string
	select {
	case base = <-urlc:
	case <-time.After(60 * time.Second):
		t.Fatal("the binary did not start")
	}
	post := func(path, tok string, body any) map[string]any {
		j, _ := json.Marshal(body)
		req, _ := http.NewRequest("POST", base+path, bytes.NewReader(j))
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Content-Type", "application/json")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var out map[string]any
		_ = json.NewDecoder(res.Body).Decode(&out)
		if res.StatusCode != 201 {
			t.Fatalf("POST %s: %d %v", path, res.StatusCode, out)
		}
		return out
	}
	var ids []string
	for _, p := range []map[string]any{
		{"name": "Chris Chair", "email": "chris@council.example.org", "agency": "social_care", "role": "team_manager", "seniority": 3, "chair": true},
		{"name": "Sam Social", "email": "sam@council.example.org", "agency": "social_care", "role": "social_worker", "seniority": 1},
		{"name": "Dana Inspector", "email": "dana@police.example.org", "agency": "police", "role": "police_officer", "seniority": 3},
		{"name": "Nina Nurse", "email": "nina@nhs.example.org", "agency": "health", "role": "safeguarding_nurse", "seniority": 3,
			"calendar": map[string]any{"type": "caldav", "url": "http://127.0.0.1:1/dav/nina/"}},
	} {
		ids = append(ids, post("/v1/people", admin, p)["id"].(string))
	}
	post("/v1/discussions", bso, map[string]any{"case_reference": "CR-2026-9001", "rag": "amber", "concerns": []string{"other"},
		"referral_received_at": time.Now().Format(time.RFC3339), "chair_id": ids[0], "choose_invitees": false,
		"invitees": []map[string]any{{"person_id": ids[1], "knows_child": true}, {"person_id": ids[2]}, {"person_id": ids[3]}}})

	res, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	exposed := map[string]bool{}
	for _, line := range strings.Split(string(body), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name := line
		if i := strings.IndexAny(line, "{ "); i >= 0 {
			name = line[:i]
		}
		exposed[name] = true
	}
	for m, panels := range queried {
		if !exposed[m] {
			t.Errorf("the dashboard's %q queries %s, which /metrics does not expose", panels[0], m)
		}
	}
}

// TestEveryVariableIsDocumented: the README's Configuration table names
// every variable the service reads.
func TestEveryVariableIsDocumented(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(b), "\n## Configuration\n")
	if !ok {
		t.Fatal("the README has no Configuration section")
	}
	if i := strings.Index(section, "\n## "); i >= 0 {
		section = section[:i]
	}
	for v := range knownVariables(t) {
		if !strings.Contains(section, "`"+v+"`") {
			t.Errorf("%s is not in the README's Configuration table", v)
		}
	}
}
