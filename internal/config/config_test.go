package config

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestInvalidGolden loads each testdata/invalid/*.txt: a config, a "----"
// line, and the exact error report expected.
func TestInvalidGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/invalid/*.txt")
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden files: %v", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			in, want, ok := strings.Cut(string(data), "\n----\n")
			if !ok {
				t.Fatal("missing ---- separator")
			}
			_, err = Parse(f, []byte(in), &Secrets{})
			if err == nil {
				t.Fatal("loaded without error")
			}
			var ce *Error
			if !errors.As(err, &ce) {
				t.Fatalf("error is %T, want *config.Error", err)
			}
			if got := err.Error(); got != strings.TrimSpace(want) {
				t.Errorf("error report mismatch\n got: %s\nwant: %s", got, strings.TrimSpace(want))
			}
		})
	}
}

func TestQuickstartLoads(t *testing.T) {
	cfg, err := Load("../../examples/quickstart.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if !cfg.Emulator.Enabled {
		t.Error("the quick start must enable the built-in emulator")
	}
	if len(cfg.Rerank) != 2 || cfg.Images[0].Image.MaxImages != 10 {
		t.Errorf("quick start: %d rerank models, max_images %d; want 2 and 10", len(cfg.Rerank), cfg.Images[0].Image.MaxImages)
	}
	if len(cfg.Models) == 0 || len(cfg.Embeddings) < 2 || len(cfg.Images) == 0 {
		t.Errorf("quick start serves %d chat, %d embedding, %d image models; want chat, Titan and Cohere embeddings, and images",
			len(cfg.Models), len(cfg.Embeddings), len(cfg.Images))
	}
}

func TestExamplesLoad(t *testing.T) {
	// Real-AWS examples reference secrets; give them values.
	for _, k := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "QUARRY_API_KEY"} {
		t.Setenv(k, "example-value-"+strings.ToLower(k))
	}
	files, _ := filepath.Glob("../../examples/*.yaml")
	if len(files) < 2 {
		t.Fatalf("want the quick start and real-AWS examples, found %v", files)
	}
	for _, f := range files {
		if _, err := Load(f); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
}

func TestParseValid(t *testing.T) {
	t.Setenv("QUARRY_TEST_SECRET_KEY", "s3cr3t-value")
	in := `
version: v1
emulator:
  seed: 7
server:
  address: 0.0.0.0:9000
  api_keys: ["${ secrets:QUARRY_TEST_SECRET_KEY }", "` + HashAPIKey("another-key") + `"]
  max_request_bytes: 1MiB
  queue_timeout: 500ms
models:
  - name: nova
    from: bedrock:us.amazon.nova-lite-v1:0
    description: fast
    params:
      aws_region: eu-west-1
      aws_access_key_id: AKIA${ env:QUARRY_TEST_SECRET_KEY }
      aws_secret_access_key: ${secrets:quarry_test_secret_key}
      bedrock_temperature: "0.1"
      bedrock_max_completion_tokens: 512
      bedrock_stop: ["END"]
      openai_top_p: 0.9
      system_prompt: Be brief.
      bedrock_guardrail_identifier: abc123
      bedrock_guardrail_version: DRAFT
      max_concurrent_invocations: "8"
embeddings:
  - name: titan
    from: bedrock:amazon.titan-embed-text-v2:0
    params: {dimensions: "256", normalize: false}
images:
  - name: canvas
    from: bedrock:amazon.nova-canvas-v1:0
    params: {size: 512x768, quality: premium, cfg_scale: 7, seed: 42}
`
	cfg, err := Parse("inline.yaml", []byte(in), &Secrets{})
	if err != nil {
		t.Fatal(err)
	}
	if !cfg.Emulator.Enabled || cfg.Emulator.Seed != 7 {
		t.Errorf("emulator = %+v", cfg.Emulator)
	}
	s := cfg.Server
	if s.Address != "0.0.0.0:9000" || s.MaxRequestBytes != 1<<20 || s.QueueTimeout != 500*time.Millisecond || s.IdleTimeout != 120*time.Second {
		t.Errorf("server = %+v", s)
	}
	if len(s.APIKeys) != 2 || !s.APIKeys[0].Match("s3cr3t-value") || !s.APIKeys[1].Match("another-key") || s.APIKeys[0].Match("nope") {
		t.Error("api keys do not match as configured")
	}
	m := cfg.Models[0]
	if m.ModelID != "us.amazon.nova-lite-v1:0" || m.AWS.Region != "eu-west-1" || m.AWS.MaxConcurrent != 8 || m.Line != 11 {
		t.Errorf("model = %+v", m)
	}
	if m.AWS.AccessKeyID.Reveal() != "AKIAs3cr3t-value" || m.AWS.SecretAccessKey.Reveal() != "s3cr3t-value" {
		t.Error("secret references inside strings were not interpolated")
	}
	want := map[string]any{"temperature": 0.1, "max_completion_tokens": 512.0, "stop": []any{"END"}, "top_p": 0.9}
	got, _ := json.Marshal(m.Defaults)
	wantJSON, _ := json.Marshal(want)
	if string(got) != string(wantJSON) {
		t.Errorf("defaults = %s, want %s", got, wantJSON)
	}
	if m.Guardrail == nil || m.Guardrail.Version != "DRAFT" || m.Guardrail.Trace != "disabled" {
		t.Errorf("guardrail = %+v", m.Guardrail)
	}
	e := cfg.Embeddings[0].Embedding
	if e.Dimensions != 256 || e.Normalize == nil || *e.Normalize {
		t.Errorf("embedding params = %+v", e)
	}
	im := cfg.Images[0].Image
	if im.Width != 512 || im.Height != 768 || im.Quality != "premium" || *im.Seed != 42 {
		t.Errorf("image params = %+v", im)
	}
}

func TestSecretsNeverPrinted(t *testing.T) {
	const value = "wJalrXUtnFEMI-very-secret"
	a := AWS{SecretAccessKey: Secret(value), SessionToken: Secret(value)}
	for _, s := range []string{
		a.SecretAccessKey.String(),
		func() string { b, _ := json.Marshal(a); return string(b) }(),
		func() string { b, _ := json.Marshal(map[string]any{"k": a.SessionToken}); return string(b) }(),
	} {
		if strings.Contains(s, value) {
			t.Errorf("secret leaked: %s", s)
		}
	}
}

func TestDotenvPrecedence(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, ".env"), []byte("# comment\nQT_A=from-env-file\nexport QT_B=\"quoted value\"\nQT_C=plain # trailing\n"), 0o600)
	os.WriteFile(filepath.Join(dir, ".env.local"), []byte("QT_A=from-local\n"), 0o600)
	s, err := LoadSecrets(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("QT_D", "from-process")
	cases := map[string]string{"QT_A": "from-local", "QT_B": "quoted value", "QT_C": "plain", "QT_D": "from-process", "qt_d": "from-process"}
	for k, want := range cases {
		if got, ok := s.Lookup(k); !ok || got != want {
			t.Errorf("Lookup(%s) = %q, %v; want %q", k, got, ok, want)
		}
	}
	t.Setenv("QT_A", "process-wins")
	if got, _ := s.Lookup("QT_A"); got != "process-wins" {
		t.Errorf("process environment must win over .env files, got %q", got)
	}
}

func TestParseImageSize(t *testing.T) {
	for _, c := range []struct {
		in   string
		ok   bool
		w, h int
	}{
		{"1024x1024", true, 1024, 1024}, {"320x1280", true, 320, 1280}, {"2048x2032", true, 2048, 2032},
		{"304x304", false, 0, 0}, {"4112x1024", false, 0, 0}, {"1000x1000", false, 0, 0},
		{"320x1296", false, 0, 0}, {"2048x2048", false, 0, 0}, {"big", false, 0, 0},
	} {
		w, h, err := ParseImageSize(c.in)
		if (err == nil) != c.ok || w != c.w || h != c.h {
			t.Errorf("ParseImageSize(%q) = %d, %d, %v", c.in, w, h, err)
		}
	}
}

// A gateway may serve only /_inference endpoints created at run time.
func TestNoModelsIsValid(t *testing.T) {
	cfg, err := Parse("store-only.yaml", []byte("store:\n  path: /tmp/x/endpoints.db\n"), &Secrets{})
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Models)+len(cfg.Embeddings)+len(cfg.Images) != 0 || cfg.Store.Path != "/tmp/x/endpoints.db" {
		t.Errorf("cfg = %+v", cfg)
	}
}

// A problem whose message quotes a value made from a secret reference must
// not show the secret (start-up errors end up in logs).
func TestProblemsHideSecretValues(t *testing.T) {
	const value = "hunter2-secret-value"
	t.Setenv("QUARRY_TEST_PROBLEM_SECRET", value)
	in := `
server:
  address: "${ secrets:QUARRY_TEST_PROBLEM_SECRET }"
models:
  - name: m
    from: bedrock:amazon.nova-lite-v1:0
    params:
      endpoint_url: "ftp://${ env:QUARRY_TEST_PROBLEM_SECRET }@host/"
      bedrock_guardrail_identifier: "${ secrets:QUARRY_TEST_PROBLEM_SECRET }!"
      bedrock_guardrail_version: "1"
`
	_, err := Parse("secret.yaml", []byte(in), &Secrets{})
	var ce *Error
	if !errors.As(err, &ce) || len(ce.Problems) != 3 {
		t.Fatalf("err = %v; want the three problems", err)
	}
	if strings.Contains(err.Error(), value) || !strings.Contains(err.Error(), "ftp://[redacted]@host/") {
		t.Errorf("report shows the secret or lost the rest of the value:\n%s", err)
	}
}
