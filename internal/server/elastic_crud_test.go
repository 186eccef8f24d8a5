package server_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/quarry-dev/quarry/internal/config"
)

const crudBody = `{"task_type":"completion","service":"amazonbedrock","service_settings":{"access_key":"AKIA-CRUD-ACCESS",` +
	`"secret_key":"crud-secret-key-value","region":"us-east-1","provider":"anthropic","model":"anthropic.claude-3-haiku-20240307-v1:0"},` +
	`"task_settings":{"temperature":0.5}}`

// TestElasticCRUD covers create, read, update and delete through every
// path form, duplicates, not found, task type mismatches, and that no
// answer carries the keys.
func TestElasticCRUD(t *testing.T) {
	t.Parallel()
	g := startES(t, "", nil)

	// Create with the task type in the body.
	created := g.ok(t, "PUT", "/_inference/crud-1", crudBody)
	if created["task_type"] != "completion" || created["inference_id"] != "crud-1" {
		t.Errorf("created %v", created)
	}
	st, b := g.do(t, "PUT", "/_inference/completion/crud-1", crudBody)
	esError(t, st, b, 400, "resource_already_exists_exception", "Inference endpoint [crud-1] already exists")

	// Read, in every form.
	for _, p := range []string{"/_inference/crud-1", "/_inference/completion/crud-1"} {
		if eps := g.ok(t, "GET", p, "")["endpoints"].([]any); len(eps) != 1 {
			t.Errorf("GET %s: %v", p, eps)
		}
	}
	for p, n := range map[string]int{"/_inference": 1, "/_inference/_all": 1, "/_inference/*": 1,
		"/_inference/completion/_all": 1, "/_inference/text_embedding/_all": 0} {
		if eps := g.ok(t, "GET", p, "")["endpoints"].([]any); len(eps) != n {
			t.Errorf("GET %s: %d endpoints, want %d", p, len(eps), n)
		}
	}
	st, b = g.do(t, "GET", "/_inference/text_embedding/crud-1", "")
	esError(t, st, b, 400, "status_exception", "Requested task type [text_embedding] does not match the inference endpoint's task type [completion]")
	st, b = g.do(t, "GET", "/_inference/nope", "")
	esError(t, st, b, 404, "resource_not_found_exception", "Inference endpoint not found [nope]")
	for _, m := range []string{"GET", "POST", "PUT"} {
		st, b = g.do(t, m, "/_inference/bad/x", `{}`)
		esError(t, st, b, 400, "status_exception", "Unknown task_type [bad]")
	}

	// Inference, with per-request task settings.
	if c := g.ok(t, "POST", "/_inference/completion/crud-1", `{"input":"hi","task_settings":{"temperature":0.1,"max_new_tokens":20}}`); c["completion"] == nil {
		t.Errorf("infer: %v", c)
	}
	st, b = g.do(t, "POST", "/_inference/text_embedding/crud-1", `{"input":"hi"}`)
	esError(t, st, b, 400, "status_exception", "Incompatible task_type, the requested type [text_embedding] does not match the model type [completion]")
	st, b = g.do(t, "POST", "/_inference/crud-1", `{"input":"hi","task_settings":{"top_p":7}}`)
	esError(t, st, b, 400, "validation_exception", "Validation Failed: 1: [task_settings] Invalid value [7.0]. [top_p] must be a less than or equal to [1.0];")

	// Update: task settings, rate limit and keys.
	up := g.ok(t, "PUT", "/_inference/crud-1/_update", `{"service_settings":{"access_key":"AKIA-CRUD-NEW","secret_key":"crud-secret-key-new",`+
		`"rate_limit":{"requests_per_minute":30}},"task_settings":{"max_new_tokens":5}}`)
	ss, ts := up["service_settings"].(map[string]any), up["task_settings"].(map[string]any)
	if ss["rate_limit"].(map[string]any)["requests_per_minute"] != 30.0 || ts["max_new_tokens"] != 5.0 || ts["temperature"] != 0.5 {
		t.Errorf("updated %v", up)
	}
	got := g.ok(t, "GET", "/_inference/crud-1", "")["endpoints"].([]any)[0].(map[string]any)
	if got["task_settings"].(map[string]any)["max_new_tokens"] != 5.0 {
		t.Errorf("GET after update %v", got)
	}
	st, b = g.do(t, "PUT", "/_inference/completion/crud-1/_update", `{"service_settings":{"model":"other"}}`)
	esError(t, st, b, 400, "validation_exception", "Validation Failed: 1: [service_settings] does not allow the setting [model];")
	// The body is checked before the lookup (UpdateInferenceModelAction).
	st, b = g.do(t, "PUT", "/_inference/nope/_update", `{}`)
	esError(t, st, b, 400, "status_exception", "Request body is empty")
	st, b = g.do(t, "PUT", "/_inference/nope/_update", `{"task_settings":{}}`)
	esError(t, st, b, 404, "resource_not_found_exception", "The inference endpoint [nope] does not exist and cannot be updated")
	g.ok(t, "POST", "/_inference/crud-1", `{"input":"still works"}`)

	// Delete: dry run, wrong task type, delete, gone.
	dry := g.ok(t, "DELETE", "/_inference/crud-1?dry_run=true", "")
	if dry["acknowledged"] != false || dry["pipelines"] == nil || dry["indexes"] == nil {
		t.Errorf("dry run %v", dry)
	}
	g.ok(t, "GET", "/_inference/crud-1", "")
	st, b = g.do(t, "DELETE", "/_inference/text_embedding/crud-1", "")
	esError(t, st, b, 400, "status_exception", "Requested task type [text_embedding] does not match the inference endpoint's task type [completion]")
	if del := g.ok(t, "DELETE", "/_inference/completion/crud-1?force=true", ""); del["acknowledged"] != true {
		t.Errorf("delete %v", del)
	}
	for _, r := range [][2]string{{"GET", ""}, {"DELETE", ""}, {"POST", `{"input":"x"}`}} {
		st, b = g.do(t, r[0], "/_inference/crud-1", r[1])
		esError(t, st, b, 404, "resource_not_found_exception", "Inference endpoint not found [crud-1]")
	}
	st, b = g.do(t, "DELETE", "/_inference/crud-1?dry_run=maybe", "")
	esError(t, st, b, 400, "illegal_argument_exception", "Failed to parse value [maybe] as only [true] or [false] are allowed.")

	// Validation errors reach the client in Elasticsearch's format.
	st, b = g.do(t, "PUT", "/_inference/completion/bad", `{"service":"amazonbedrock","service_settings":{"region":"us-east-1","provider":"amazontitan","model":"m","secret_key":"s"}}`)
	esError(t, st, b, 400, "validation_exception", "Validation Failed: 1: [secret_settings] does not contain the required setting [access_key];")
	st, b = g.do(t, "PUT", "/_inference/completion/bad", `{"service":"amazonbedrock","service_settings":{"access_key":"a","secret_key":"s","region":"us-east-1",`+
		`"provider":"amazontitan","model":"amazon.titan-text-premier-v1:0"},"task_settings":{"top_k":0.3}}`)
	esError(t, st, b, 400, "status_exception", "The [top_k] task parameter is not available for provider [amazontitan]")
	st, b = g.do(t, "PATCH", "/_inference/crud-1", "")
	if st != 405 {
		t.Errorf("PATCH = %d %s", st, b)
	}

	// Secrets are never shown.
	for _, body := range g.bodies {
		for _, s := range []string{`"access_key":`, `"secret_key":`, "AKIA-CRUD", "crud-secret-key"} {
			if strings.Contains(string(body), s) {
				t.Errorf("a response shows %q: %s", s, body)
			}
		}
	}
}

// TestElasticServices lists the amazonbedrock service, its task types and
// its configuration fields.
func TestElasticServices(t *testing.T) {
	t.Parallel()
	g := startES(t, "", nil)
	st, b := g.do(t, "GET", "/_inference/_services", "")
	var svcs []struct {
		Service        string                    `json:"service"`
		Name           string                    `json:"name"`
		TaskTypes      []string                  `json:"task_types"`
		Configurations map[string]map[string]any `json:"configurations"`
	}
	if st != 200 || json.Unmarshal(b, &svcs) != nil || len(svcs) != 1 {
		t.Fatalf("_services = %d %s", st, b)
	}
	s := svcs[0]
	if s.Service != "amazonbedrock" || strings.Join(s.TaskTypes, ",") != "text_embedding,completion,chat_completion" {
		t.Errorf("service %+v", s)
	}
	for _, f := range []string{"access_key", "secret_key", "region", "provider", "model", "rate_limit.requests_per_minute"} {
		if s.Configurations[f] == nil {
			t.Errorf("configuration field %s missing", f)
		}
	}
	if s.Configurations["secret_key"]["sensitive"] != true || s.Configurations["model"]["required"] != true {
		t.Errorf("field flags %v", s.Configurations)
	}
	if st, b := g.do(t, "GET", "/_inference/_services/rerank", ""); st != 200 || strings.TrimSpace(string(b)) != "[]" {
		t.Errorf("_services/rerank = %d %s", st, b)
	}
}

// TestElasticAuth: with API keys configured, /_inference answers 401 in
// Elasticsearch's format and accepts Elasticsearch's ApiKey scheme.
func TestElasticAuth(t *testing.T) {
	t.Parallel()
	src, err := os.ReadFile(quickstart)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cfgText := strings.Replace(string(src), "server:\n  address: 127.0.0.1:8080\n", "server:\n  address: 127.0.0.1:8080\n  api_keys: [es-test-key-123]\n", 1)
	path := filepath.Join(dir, "quarry.yaml")
	if err := os.WriteFile(path, []byte(cfgText), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Server.APIKeys) != 1 || cfg.Store.Path != filepath.Join(dir, config.DefaultStorePath) {
		t.Fatalf("config: %d keys, store %s", len(cfg.Server.APIKeys), cfg.Store.Path)
	}
	g := serveES(t, cfg, dir)
	st, b := g.do(t, "GET", "/_inference", "")
	esError(t, st, b, 401, "security_exception", "missing authentication credentials for REST request [/_inference]")
	st, b = g.do(t, "GET", "/_inference/_all", "", "Authorization", "ApiKey wrong-key")
	esError(t, st, b, 401, "security_exception", "unable to authenticate with provided credentials and anonymous access is not allowed for this request")
	for _, h := range [][2]string{{"Authorization", "ApiKey es-test-key-123"}, {"Authorization", "Bearer es-test-key-123"}} {
		if st, b := g.do(t, "GET", "/_inference", "", h[0], h[1]); st != 200 {
			t.Errorf("%s: %d %s", h[1], st, b)
		}
	}
	// The default store sits beside the config file, with its key file.
	for _, f := range []string{config.DefaultStorePath, config.DefaultStorePath + ".key"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("default store: %v", err)
		}
	}
	if !strings.Contains(g.Logs.String(), ".key") {
		t.Errorf("the log does not say where the key file is:\n%s", g.Logs.String())
	}
}
