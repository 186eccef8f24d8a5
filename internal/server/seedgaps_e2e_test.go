package server_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"reflect"
	"testing"

	"github.com/quarry-dev/quarry/internal/config"
	"github.com/quarry-dev/quarry/internal/server"
)

// postJSON posts body to the gateway and decodes the JSON answer.
func postJSON(t *testing.T, url, body string) (int, map[string]any) {
	t.Helper()
	resp, err := http.Post(url, "application/json", bytes.NewReader([]byte(body)))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatalf("status %d, body not JSON: %s", resp.StatusCode, raw)
	}
	return resp.StatusCode, out
}

// TestRerankE2E: the quick start's rerank models rank documents (strings
// and objects) by relevance, keep the original indexes, honour top_n and
// return_documents, and send Bedrock each model's native body.
func TestRerankE2E(t *testing.T) {
	rec := &recorder{}
	g := startChatGateway(t, quickstart, nil, server.Options{UpstreamTransport: rec})
	docs := `["The llama is a South American camelid.", {"text":"Carson City is the capital city of Nevada."},
		"Paris is the capital of France.", {"title":"capital", "body":"Washington, D.C. is the capital of the United States."}]`
	for _, c := range []struct {
		name, model, modelID, body string
		wantIndexes                []float64
		wantBedrock                string
	}{
		{"cohere all", "cohere-rerank", "cohere.rerank-v3-5:0", `{"model":"cohere-rerank","query":"What is the capital of the United States?","documents":` + docs + `}`,
			[]float64{3, 2, 1, 0},
			`{"api_version":2,"documents":["The llama is a South American camelid.","Carson City is the capital city of Nevada.","Paris is the capital of France.","{\"body\":\"Washington, D.C. is the capital of the United States.\",\"title\":\"capital\"}"],"query":"What is the capital of the United States?"}`},
		{"amazon top_n", "amazon-rerank", "amazon.rerank-v1:0", `{"model":"amazon-rerank","query":"capital of France","documents":` + docs + `,"top_n":2,"return_documents":true}`,
			[]float64{2, 1},
			`{"documents":["The llama is a South American camelid.","Carson City is the capital city of Nevada.","Paris is the capital of France.","{\"body\":\"Washington, D.C. is the capital of the United States.\",\"title\":\"capital\"}"],"query":"capital of France","top_n":2}`},
		{"top_n above the documents", "cohere-rerank", "cohere.rerank-v3-5:0", `{"model":"cohere-rerank","query":"llama","documents":["a llama","a cat"],"top_n":10}`,
			[]float64{0, 1},
			`{"api_version":2,"documents":["a llama","a cat"],"query":"llama","top_n":2}`},
	} {
		t.Run(c.name, func(t *testing.T) {
			rec.reset()
			status, out := postJSON(t, g.URL+"/v1/rerank", c.body)
			if status != 200 {
				t.Fatalf("status %d: %v", status, out)
			}
			results, _ := out["results"].([]any)
			var idx []float64
			last := 2.0
			for _, r := range results {
				m := r.(map[string]any)
				idx = append(idx, m["index"].(float64))
				s := m["relevance_score"].(float64)
				if s > last {
					t.Errorf("results not in relevance order: %v", results)
				}
				last = s
				_, hasDoc := m["document"]
				if hasDoc != (c.name == "amazon top_n") {
					t.Errorf("document present = %v", hasDoc)
				}
			}
			if !reflect.DeepEqual(idx, c.wantIndexes) {
				t.Errorf("indexes %v; want %v (%v)", idx, c.wantIndexes, results)
			}
			if out["model"] != c.model {
				t.Errorf("model %v; want %s", out["model"], c.model)
			}
			_, body, _ := rec.last(t, c.modelID)
			if got := jsonOf(body); got != c.wantBedrock {
				t.Errorf("Bedrock got %s\nwant %s", got, c.wantBedrock)
			}
		})
	}
	t.Run("document echoed as sent", func(t *testing.T) {
		_, out := postJSON(t, g.URL+"/v1/rerank", `{"model":"cohere-rerank","query":"Nevada","documents":["x",{"text":"Nevada","id":"n1"}],"top_n":1,"return_documents":true}`)
		doc := out["results"].([]any)[0].(map[string]any)["document"]
		if got := jsonOf(doc); got != `{"id":"n1","text":"Nevada"}` {
			t.Errorf("document %s", got)
		}
	})
}

// TestCountTokensE2E: a chat body gets Bedrock CountTokens' figure, for the
// conversation the chat route would send (the model's system prompt
// included); a model that is not a chat model is refused.
func TestCountTokensE2E(t *testing.T) {
	rec := &recorder{}
	g := startChatGateway(t, quickstart, func(cfg *config.Config) {
		// A chat entry whose model CountTokens does not cover.
		m := cfg.Models[0]
		m.Name, m.ModelID = "no-counting", "amazon.titan-embed-text-v2:0"
		cfg.Models = append(cfg.Models, m)
	}, server.Options{UpstreamTransport: rec})
	status, out := postJSON(t, g.URL+"/v1/count_tokens", `{"model":"nova-micro","messages":[{"role":"user","content":"How many tokens is this?"}]}`)
	if status != 200 {
		t.Fatalf("status %d: %v", status, out)
	}
	n, _ := out["input_tokens"].(float64)
	if n <= 0 || len(out) != 1 {
		t.Errorf("answer %v; want {input_tokens: N>0}", out)
	}
	rec.mu.Lock()
	last := rec.calls[len(rec.calls)-1]
	rec.mu.Unlock()
	if last.Path != "/model/amazon.nova-micro-v1:0/count-tokens" {
		t.Errorf("called %s", last.Path)
	}
	var body struct {
		Input struct {
			Converse struct {
				System []map[string]string `json:"system"`
			} `json:"converse"`
		} `json:"input"`
	}
	json.Unmarshal(last.Body, &body)
	if len(body.Input.Converse.System) != 1 || body.Input.Converse.System[0]["text"] != "You are a concise assistant." {
		t.Errorf("CountTokens body %s; want the model's system prompt in it", last.Body)
	}
	// A longer conversation counts more.
	_, out2 := postJSON(t, g.URL+"/v1/count_tokens", `{"model":"nova-micro","messages":[{"role":"user","content":"How many tokens is this? And this, and this, and this too?"}]}`)
	if m, _ := out2["input_tokens"].(float64); m <= n {
		t.Errorf("longer prompt counted %v, shorter %v", m, n)
	}
	for _, c := range []struct{ name, body, param string }{
		{"embedding model", `{"model":"titan-embed","messages":[{"role":"user","content":"x"}]}`, "model"},
		{"no messages", `{"model":"nova-micro"}`, "messages"},
		{"model without CountTokens", `{"model":"no-counting","messages":[{"role":"user","content":"x"}]}`, "model"},
	} {
		t.Run(c.name, func(t *testing.T) {
			status, out := postJSON(t, g.URL+"/v1/count_tokens", c.body)
			if status < 400 || status >= 500 {
				t.Fatalf("status %d; want a 4xx (%v)", status, out)
			}
			if e, _ := out["error"].(map[string]any); e == nil || e["param"] != c.param {
				t.Errorf("error %v; want param %s", out, c.param)
			}
			if c.name == "model without CountTokens" && status != 400 {
				t.Errorf("status %d; want 400", status)
			}
		})
	}
}

// TestGuardrailsApplyE2E: ApplyGuardrail by a configured model's guardrail
// or by id and version, with the action, assessments and output returned.
func TestGuardrailsApplyE2E(t *testing.T) {
	g := startGateway(t, quickstart, func(cfg *config.Config) {
		cfg.Emulator.ConfigFile = "testdata/guardrail-emulator.yaml"
		guarded := cfg.Models[0]
		guarded.Name = "nova-guarded"
		guarded.Guardrail = &config.Guardrail{Identifier: "demo", Version: "1", Trace: "disabled"}
		cfg.Models = append(cfg.Models, guarded)
	})
	for _, c := range []struct {
		name, body, action, output string
	}{
		{"configured, blocked input", `{"guardrail":"nova-guarded","source":"INPUT","content":"this is confidential"}`,
			"GUARDRAIL_INTERVENED", "Sorry, that mentions something confidential."},
		{"id and version, blocked output", `{"guardrail_id":"demo","guardrail_version":"1","source":"output","content":[{"text":"a confidential answer"}]}`,
			"GUARDRAIL_INTERVENED", "Sorry, the answer was withheld."},
		{"passes", `{"guardrail":"nova-guarded","source":"INPUT","content":["hello","world"]}`, "NONE", "hello\nworld"},
	} {
		t.Run(c.name, func(t *testing.T) {
			status, out := postJSON(t, g.URL+"/v1/guardrails/apply", c.body)
			if status != 200 {
				t.Fatalf("status %d: %v", status, out)
			}
			if out["action"] != c.action || out["output"] != c.output {
				t.Errorf("action %v output %q; want %s %q", out["action"], out["output"], c.action, c.output)
			}
			if a, _ := out["assessments"].([]any); len(a) == 0 {
				t.Errorf("no assessments: %v", out)
			}
		})
	}
	for _, c := range []struct {
		name, body string
		status     int
		param      string
	}{
		{"no guardrail", `{"source":"INPUT","content":"x"}`, 400, "guardrail"},
		{"model without guardrail", `{"guardrail":"nova-lite","source":"INPUT","content":"x"}`, 400, "guardrail"},
		{"both forms", `{"guardrail":"nova-guarded","guardrail_id":"demo","guardrail_version":"1","source":"INPUT","content":"x"}`, 400, "guardrail"},
		{"bad version", `{"guardrail_id":"demo","guardrail_version":"v1","source":"INPUT","content":"x"}`, 400, "guardrail_version"},
		{"bad id", `{"guardrail_id":"Demo!","guardrail_version":"1","source":"INPUT","content":"x"}`, 400, "guardrail_id"},
		{"bad source", `{"guardrail":"nova-guarded","source":"BOTH","content":"x"}`, 400, "source"},
		{"no content", `{"guardrail":"nova-guarded","source":"INPUT"}`, 400, "content"},
		{"bad qualifier", `{"guardrail":"nova-guarded","source":"INPUT","content":[{"text":"x","qualifiers":["all"]}]}`, 400, "content[0].qualifiers"},
		{"unknown guardrail", `{"guardrail_id":"nope","guardrail_version":"1","source":"INPUT","content":"x"}`, 404, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			status, out := postJSON(t, g.URL+"/v1/guardrails/apply", c.body)
			if status != c.status {
				t.Fatalf("status %d; want %d (%v)", status, c.status, out)
			}
			if e, _ := out["error"].(map[string]any); e == nil || (c.param != "" && e["param"] != c.param) {
				t.Errorf("error %v; want param %s", out, c.param)
			}
		})
	}
}
