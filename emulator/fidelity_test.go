package emulator

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestCachePointRules: at most 4 cache points; a prefix below the model's
// minimum is billed as input with zero cache tokens (the usage says so).
func TestCachePointRules(t *testing.T) {
	srv, err := NewServer(Config{NoAuth: true})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	cp := `{"cachePoint":{"type":"default"}}`
	long := strings.Repeat("The handbook describes policies for travel, expenses and equipment. ", 150)
	short := "Be brief."
	sys := func(text string, points int) string {
		blocks := []string{`{"text":` + mustString(text) + `}`}
		for range points {
			blocks = append(blocks, cp)
		}
		return `{"system":[` + strings.Join(blocks, ",") + `],"messages":[{"role":"user","content":[{"text":"What is the policy?"}]}]}`
	}
	cases := []struct {
		name, model, body string
		status            int
		write             int // expected cacheWriteInputTokens
	}{
		{"four points", "amazon.nova-lite-v1:0", sys(long, 4), 200, countTokens(long)},
		{"five points", "amazon.nova-lite-v1:0", sys(long, 5), 400, 0},
		{"nova short prefix", "amazon.nova-lite-v1:0", sys(short, 1), 200, 0},
		{"claude under 1024", "anthropic.claude-3-7-sonnet-20250219-v1:0", sys(strings.Repeat("word ", 900), 1), 200, 0},
		{"claude at 1024", "anthropic.claude-3-7-sonnet-20250219-v1:0", sys(strings.Repeat("word ", 1024), 1), 200, 1024},
		{"haiku 3.5 needs 2048", "anthropic.claude-3-5-haiku-20241022-v1:0", sys(strings.Repeat("word ", 1500), 1), 200, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := post(t, srv.URL+"/model/"+tc.model+"/converse", tc.body)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d: %s", resp.StatusCode, body)
			}
			if tc.status != 200 {
				if !strings.Contains(body, "cache points") {
					t.Errorf("message %s", body)
				}
				return
			}
			var out struct {
				Usage struct {
					InputTokens           int  `json:"inputTokens"`
					CacheReadInputTokens  *int `json:"cacheReadInputTokens"`
					CacheWriteInputTokens *int `json:"cacheWriteInputTokens"`
				} `json:"usage"`
			}
			json.Unmarshal([]byte(body), &out)
			u := out.Usage
			if u.CacheWriteInputTokens == nil || u.CacheReadInputTokens == nil || *u.CacheWriteInputTokens != tc.write || *u.CacheReadInputTokens != 0 {
				t.Errorf("usage %s, want cacheWrite %d", body[strings.Index(body, `"usage"`):], tc.write)
			}
			if tc.write == 0 && u.InputTokens < countTokens("What is the policy?")+1 {
				t.Errorf("an uncached prefix must be billed as input: %d", u.InputTokens)
			}
		})
	}
}

// TestSeedModelsKnown: every model ID the Spice and Vercel documents list
// resolves, with the capabilities Bedrock gives it.
func TestSeedModelsKnown(t *testing.T) {
	cat, err := newCatalogue(nil)
	if err != nil {
		t.Fatal(err)
	}
	ids := strings.Fields(`amazon.nova-canvas-v1:0 amazon.nova-lite-v1:0 amazon.nova-micro-v1:0 amazon.nova-premier-v1:0
		amazon.nova-pro-v1:0 amazon.titan-embed-text-v1 amazon.titan-embed-text-v2:0 amazon.titan-text-express-v1
		amazon.titan-text-premier-v1:0 amazon.titan-tg1-large anthropic.claude-3-5-haiku-20241022-v1:0
		anthropic.claude-3-5-sonnet-20240620-v1:0 anthropic.claude-3-5-sonnet-20241022-v2:0 anthropic.claude-3-7-sonnet-20250219-v1:0
		anthropic.claude-3-haiku-20240307-v1:0 anthropic.claude-3-opus-20240229-v1:0 anthropic.claude-3-sonnet-20240229-v1:0
		anthropic.claude-opus-4-1-20250805-v1:0 anthropic.claude-v2:1 cohere.command-r-plus-v1:0 cohere.command-r-v1:0
		cohere.embed-english-v3 meta.llama2-13b-chat-v1 meta.llama2-70b-chat-v1 meta.llama3-1-405b-instruct-v1:0
		meta.llama3-1-70b-instruct-v1:0 meta.llama3-1-8b-instruct-v1:0 meta.llama3-2-11b-instruct-v1:0 meta.llama3-2-1b-instruct-v1:0
		meta.llama3-2-3b-instruct-v1:0 meta.llama3-2-90b-instruct-v1:0 meta.llama3-70b-instruct-v1:0 meta.llama3-8b-instruct-v1:0
		mistral.mistral-7b-instruct-v0:2 mistral.mistral-large-2402-v1:0 mistral.mistral-small-2402-v1:0 mistral.mixtral-8x7b-instruct-v0:1
		amazon.nova-sonic-v1:0`)
	for _, id := range ids {
		if cat.lookup(id) == nil || cat.lookup("us."+id) == nil {
			t.Errorf("%s is not in the catalogue", id)
		}
	}
	for _, id := range []string{"amazon.titan-tg1-large", "amazon.titan-text-express-v1", "amazon.titan-text-premier-v1:0"} {
		if !cat.lookup(id).NoSystem {
			t.Errorf("%s accepts a system prompt", id)
		}
	}
	for _, id := range []string{"meta.llama2-13b-chat-v1", "meta.llama2-70b-chat-v1", "anthropic.claude-v2:1"} {
		if cat.lookup(id).Tools {
			t.Errorf("%s accepts tools", id)
		}
	}
}

// TestTitanRefusesSystem: Titan Text answers a Converse system prompt with
// Bedrock's 400.
func TestTitanRefusesSystem(t *testing.T) {
	srv, err := NewServer(Config{NoAuth: true})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	resp, body := post(t, srv.URL+"/model/amazon.titan-text-express-v1/converse",
		`{"system":[{"text":"Be brief."}],"messages":[{"role":"user","content":[{"text":"hi"}]}]}`)
	if resp.StatusCode != 400 || !strings.Contains(body, "doesn't support system messages") {
		t.Errorf("%d %s", resp.StatusCode, body)
	}
}

// TestPromptSchema: a json_object style request whose prompt carries a JSON
// schema (the Vercel AI SDK's generateObject wording) gets an object valid
// against it.
func TestPromptSchema(t *testing.T) {
	srv, err := NewServer(Config{NoAuth: true})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	schema := map[string]any{
		"type": "object", "additionalProperties": false,
		"required": []any{"name", "ingredients", "steps"},
		"properties": map[string]any{"name": map[string]any{"type": "string"}, "servings": map[string]any{"type": "integer", "minimum": 1},
			"ingredients": map[string]any{"type": "array", "minItems": 1, "items": map[string]any{"type": "object", "required": []any{"name", "amount"},
				"properties": map[string]any{"name": map[string]any{"type": "string"}, "amount": map[string]any{"type": "string"}}}},
			"steps": map[string]any{"type": "array", "items": map[string]any{"type": "string"}}},
	}
	sb, _ := json.Marshal(schema)
	compiled := compileSchema(t, schema)
	for _, tc := range []struct{ name, system, user string }{
		{"vercel generateObject", "JSON schema:\n" + string(sb) + "\nYou MUST answer with a JSON object that matches the JSON schema above.", "Generate a lasagna recipe."},
		{"schema in the user turn", "", "Reply in JSON following this schema: " + string(sb) + " for a lasagna recipe."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := map[string]any{"messages": []any{map[string]any{"role": "user", "content": []any{map[string]any{"text": tc.user}}}}}
			if tc.system != "" {
				body["system"] = []any{map[string]any{"text": tc.system}}
			}
			b, _ := json.Marshal(body)
			resp, out := post(t, srv.URL+"/model/anthropic.claude-3-5-sonnet-20240620-v1:0/converse", string(b))
			if resp.StatusCode != 200 {
				t.Fatalf("%d %s", resp.StatusCode, out)
			}
			var r struct {
				Output struct {
					Message struct {
						Content []struct{ Text string } `json:"content"`
					} `json:"message"`
				} `json:"output"`
			}
			json.Unmarshal([]byte(out), &r)
			validateJSON(t, compiled, []byte(r.Output.Message.Content[0].Text))
		})
	}
	// Plain prompts that mention JSON but carry no schema stay prose.
	_, out := post(t, srv.URL+"/model/amazon.nova-lite-v1:0/converse", `{"messages":[{"role":"user","content":[{"text":"What is JSON?"}]}]}`)
	if strings.Contains(out, `"text":"{`) {
		t.Errorf("prose expected: %s", out)
	}
}
