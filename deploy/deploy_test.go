// Package deploy_test checks the container image recipe and the Helm chart
// for the properties the deployment relies on (we cannot pull images or
// reach a cluster here, so these read and render, not run).
package deploy_test

import (
	"bufio"
	"encoding/json"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/quarry-dev/quarry/internal/config"
)

// instruction is one Dockerfile instruction (continuations joined).
type instruction struct{ op, args string }

func readDockerfile(t *testing.T) [][]instruction {
	t.Helper()
	f, err := os.Open("../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var stages [][]instruction
	var cur string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if cur == "" && (line == "" || strings.HasPrefix(line, "#")) {
			continue
		}
		if strings.HasSuffix(line, "\\") {
			cur += strings.TrimSuffix(line, "\\") + " "
			continue
		}
		cur += line
		op, args, _ := strings.Cut(cur, " ")
		cur = ""
		in := instruction{strings.ToUpper(op), strings.TrimSpace(args)}
		if in.op == "FROM" {
			stages = append(stages, nil)
		}
		if len(stages) > 0 {
			stages[len(stages)-1] = append(stages[len(stages)-1], in)
		}
	}
	return stages
}

// TestDockerfile: multi-stage; the binary built static (CGO_ENABLED=0,
// which every package of cmd/quarry allows); the final stage distroless
// static or scratch, with no RUN (no shell to run it), a non-root USER and
// an exec-form ENTRYPOINT; .dockerignore keeps the sources and drops
// secrets and the git history.
func TestDockerfile(t *testing.T) {
	stages := readDockerfile(t)
	if len(stages) < 2 {
		t.Fatalf("%d stages, want a build stage and a runtime stage", len(stages))
	}
	var static bool
	for _, in := range stages[0] {
		if in.op == "RUN" && strings.Contains(in.args, "CGO_ENABLED=0") && strings.Contains(in.args, "go build") && strings.Contains(in.args, "./cmd/quarry") {
			static = true
		}
	}
	if !static {
		t.Error("the build stage does not run CGO_ENABLED=0 go build ./cmd/quarry")
	}
	final := stages[len(stages)-1]
	base := strings.Fields(final[0].args)[0]
	if !strings.HasPrefix(base, "gcr.io/distroless/static") && base != "scratch" {
		t.Errorf("runtime base %s: want distroless static or scratch", base)
	}
	var user, entry string
	for _, in := range final {
		switch in.op {
		case "RUN", "SHELL":
			t.Errorf("runtime stage has %s %s: it has no shell", in.op, in.args)
		case "USER":
			user = in.args
		case "ENTRYPOINT":
			entry = in.args
		}
	}
	if u, _, _ := strings.Cut(user, ":"); u == "" || u == "0" || u == "root" {
		t.Errorf("runtime USER %q: want a non-root user", user)
	}
	var argv []string
	if err := json.Unmarshal([]byte(entry), &argv); err != nil || len(argv) == 0 || !strings.HasSuffix(argv[0], "/quarry") {
		t.Errorf("ENTRYPOINT %s: want the exec form running quarry (SIGTERM reaches it as PID 1)", entry)
	}

	// Every package the binary needs builds without cgo.
	cmd := exec.Command("go", "list", "-deps", "-f", "{{if .Module}}{{if .Module.Main}}{{.Dir}}{{end}}{{end}}", "./cmd/quarry")
	cmd.Dir = ".."
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("CGO_ENABLED=0 go list: %v\n%s", err, out)
	}
	root, _ := filepath.Abs("..")
	ignore := dockerignore(t)
	needed := []string{"go.mod", "go.sum"}
	for _, dir := range strings.Fields(string(out)) {
		rel, _ := filepath.Rel(root, dir)
		needed = append(needed, filepath.ToSlash(rel)+"/x.go")
	}
	for _, p := range needed {
		if ignored(ignore, p) {
			t.Errorf(".dockerignore drops %s, which the build needs", p)
		}
	}
	for _, p := range []string{".git/config", ".env", "examples/.env.local", "quarry-data/endpoints.db", "internal/server/testdata/node/node_modules/x.js"} {
		if !ignored(ignore, p) {
			t.Errorf(".dockerignore lets %s into the build context", p)
		}
	}
}

func dockerignore(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile("../.dockerignore")
	if err != nil {
		t.Fatal(err)
	}
	var pats []string
	for l := range strings.Lines(string(b)) {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			pats = append(pats, l)
		}
	}
	return pats
}

// ignored matches p as Docker does for the patterns this repository uses:
// a pattern matches a path or any of its parent directories, and "**/"
// matches any number of leading directories.
func ignored(pats []string, p string) bool {
	parts := strings.Split(p, "/")
	for _, pat := range pats {
		anyDepth := strings.HasPrefix(pat, "**/")
		pat = strings.TrimPrefix(pat, "**/")
		depth := strings.Count(pat, "/") + 1
		for start := 0; start < len(parts); start++ {
			if !anyDepth && start > 0 {
				break
			}
			for end := start + depth; end <= len(parts); end++ {
				if ok, _ := path.Match(pat, strings.Join(parts[start:end], "/")); ok && end-start == depth {
					return true
				}
			}
		}
	}
	return false
}

// helm returns the Helm binary named by $HELM; without it the test skips
// (fails with QUARRY_REQUIRE_HELM=1, as in CI).
func helm(t *testing.T) string {
	t.Helper()
	bin := os.Getenv("HELM")
	if bin == "" {
		if os.Getenv("QUARRY_REQUIRE_HELM") == "1" {
			t.Fatal("HELM is not set (QUARRY_REQUIRE_HELM=1): .ci/run builds it from helm.sh/helm/v4")
		}
		t.Skip("HELM not set: go install helm.sh/helm/v4/cmd/helm@v4.3.2 and set HELM to the binary")
	}
	return bin
}

func runHelm(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.Command(helm(t), args...)
	cmd.Env = append(os.Environ(), "HELM_CACHE_HOME="+t.TempDir(), "HELM_CONFIG_HOME="+t.TempDir(), "HELM_DATA_HOME="+t.TempDir())
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("helm %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// TestHelmChart lints and renders the chart for its default values and for
// the fleet (3 replicas, Redis, PostgreSQL), and checks what the rendered
// objects promise: probes on /v1/ready and /health, a grace period longer
// than drain_delay + shutdown_timeout, non-root with a read-only root
// filesystem, a PodDisruptionBudget, the HPA when enabled, secrets only by
// reference in the ConfigMap, and (default values) a config file the
// gateway accepts.
func TestHelmChart(t *testing.T) {
	const chart = "helm/quarry"
	for _, tc := range []struct {
		name     string
		values   []string
		replicas int // 0: left to the HPA
		hpa      bool
		secret   bool // the chart makes a Secret
		envFrom  []string
	}{
		{name: "default", replicas: 2, secret: true, envFrom: []string{"test-quarry"}},
		{name: "fleet", values: []string{"--values", chart + "/ci/fleet-values.yaml"}, hpa: true, envFrom: []string{"quarry-secrets"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			runHelm(t, append([]string{"lint", "--strict", chart}, tc.values...)...)
			out := runHelm(t, append([]string{"template", "test", chart}, tc.values...)...)
			objs := map[string]map[string]any{}
			dec := yaml.NewDecoder(strings.NewReader(out))
			for {
				var o map[string]any
				if err := dec.Decode(&o); err != nil {
					break
				}
				if o != nil {
					objs[o["kind"].(string)] = o
				}
			}
			for _, kind := range []string{"Deployment", "Service", "ConfigMap", "PodDisruptionBudget", "ServiceAccount"} {
				if objs[kind] == nil {
					t.Fatalf("no %s rendered:\n%s", kind, out)
				}
			}
			if (objs["HorizontalPodAutoscaler"] != nil) != tc.hpa {
				t.Errorf("HPA rendered %v, want %v", objs["HorizontalPodAutoscaler"] != nil, tc.hpa)
			}
			if (objs["Secret"] != nil) != tc.secret {
				t.Errorf("Secret rendered %v, want %v", objs["Secret"] != nil, tc.secret)
			}
			cfgText := dig(objs["ConfigMap"], "data", "config.yaml").(string)
			var cfgDoc map[string]any
			if err := yaml.Unmarshal([]byte(cfgText), &cfgDoc); err != nil {
				t.Fatalf("config.yaml: %v\n%s", err, cfgText)
			}
			server := cfgDoc["server"].(map[string]any)
			drain, _ := time.ParseDuration(server["drain_delay"].(string))
			shutdown, _ := time.ParseDuration(server["shutdown_timeout"].(string))

			spec := dig(objs["Deployment"], "spec").(map[string]any)
			if got, _ := spec["replicas"].(int); got != tc.replicas {
				t.Errorf("replicas %v, want %d", spec["replicas"], tc.replicas)
			}
			pod := dig(spec, "template", "spec").(map[string]any)
			grace := time.Duration(pod["terminationGracePeriodSeconds"].(int)) * time.Second
			if grace <= drain+shutdown {
				t.Errorf("terminationGracePeriodSeconds %v, want more than drain_delay %v + shutdown_timeout %v", grace, drain, shutdown)
			}
			if dig(pod, "securityContext", "runAsNonRoot") != true {
				t.Error("pod securityContext.runAsNonRoot is not true")
			}
			c := dig(pod, "containers").([]any)[0].(map[string]any)
			if dig(c, "readinessProbe", "httpGet", "path") != "/v1/ready" || dig(c, "livenessProbe", "httpGet", "path") != "/health" {
				t.Errorf("probes: readiness %v, liveness %v", dig(c, "readinessProbe"), dig(c, "livenessProbe"))
			}
			if dig(c, "securityContext", "readOnlyRootFilesystem") != true || dig(c, "securityContext", "allowPrivilegeEscalation") != false {
				t.Errorf("container securityContext: %v", c["securityContext"])
			}
			var refs []string
			for _, e := range c["envFrom"].([]any) {
				refs = append(refs, dig(e, "secretRef", "name").(string))
			}
			if strings.Join(refs, ",") != strings.Join(tc.envFrom, ",") {
				t.Errorf("envFrom %v, want %v", refs, tc.envFrom)
			}
			for _, k := range server["api_keys"].([]any) {
				if !strings.HasPrefix(k.(string), "${ secrets:") {
					t.Errorf("an API key in the ConfigMap is not a secret reference: %v", k)
				}
			}
			if tc.name == "fleet" {
				if dig(cfgDoc, "limits", "redis_url") != "${ secrets:QUARRY_REDIS_URL }" || dig(cfgDoc, "store", "postgres_dsn") != "${ secrets:QUARRY_POSTGRES_DSN }" {
					t.Errorf("fleet config: limits %v, store %v", cfgDoc["limits"], cfgDoc["store"])
				}
				if dig(objs["PodDisruptionBudget"], "spec", "minAvailable") != 2 {
					t.Errorf("PDB %v", objs["PodDisruptionBudget"]["spec"])
				}
				return
			}
			// The default values' config is one the gateway accepts, with
			// the Secret's entries in its environment.
			for _, k := range []string{"QUARRY_API_KEY_0", "QUARRY_ADMIN_KEY"} {
				if dig(objs["Secret"], "data", k) == nil {
					t.Errorf("the chart's Secret lacks %s", k)
				}
				t.Setenv(k, "a-test-value-for-"+k)
			}
			cfg, err := config.Parse("config.yaml", []byte(cfgText), &config.Secrets{})
			if err != nil {
				t.Fatalf("the gateway refuses the chart's config: %v\n%s", err, cfgText)
			}
			if cfg.Server.DrainDelay != drain || cfg.Server.AdminKey == nil || len(cfg.Server.APIKeys) != 1 {
				t.Errorf("parsed config: drain %v, admin key %v, %d api keys", cfg.Server.DrainDelay, cfg.Server.AdminKey != nil, len(cfg.Server.APIKeys))
			}
		})
	}
}

func dig(v any, keys ...string) any {
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}
