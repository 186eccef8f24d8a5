package emulator

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func post(t *testing.T, url, body string) (*http.Response, string) {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func TestConverseValidation(t *testing.T) {
	srv, err := NewServer(Config{NoAuth: true})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	const u = `{"role":"user","content":[{"text":"hi"}]}`
	const a = `{"role":"assistant","content":[{"text":"hello"}]}`
	tool := `{"tools":[{"toolSpec":{"name":"get_weather","inputSchema":{"json":{"type":"object"}}}}]}`
	cases := []struct {
		name, model, body, msg string
	}{
		{"unknown model", "does-not-exist", `{"messages":[` + u + `]}`, "The provided model identifier is invalid."},
		{"embedding model", "amazon.titan-embed-text-v2:0", `{"messages":[` + u + `]}`, "This action doesn't support the model that you provided. Try again with a supported text or chat model."},
		{"malformed json", "", `{"messages":[`, "Malformed input request, please reformat your input and try again."},
		{"unknown top-level key", "", `{"messages":[` + u + `],"temprature":1}`, "Malformed input request: extraneous key [temprature] is not permitted, please reformat your input and try again."},
		{"unknown union member", "", `{"messages":[{"role":"user","content":[{"txt":"hi"}]}]}`, "Malformed input request: extraneous key [txt] is not permitted, please reformat your input and try again."},
		{"blank text", "", `{"messages":[{"role":"user","content":[{"text":" "}]}]}`, "The text field in the ContentBlock object at messages.0.content.0 is blank. Add text to the text field, and try again."},
		{"no messages", "", `{"messages":[]}`, "A conversation must start with a user message. Try again with a conversation that starts with a user message."},
		{"first not user", "", `{"messages":[` + a + `]}`, "A conversation must start with a user message. Try again with a conversation that starts with a user message."},
		{"not alternating", "", `{"messages":[` + u + `,` + u + `]}`, "A conversation must alternate between user and assistant roles. Make sure the conversation alternates between user and assistant roles and try again."},
		{"bad role", "", `{"messages":[{"role":"system","content":[{"text":"x"}]}]}`, "1 validation error detected: Value 'system' at 'messages.0.member.role' failed to satisfy constraint: Member must satisfy enum value set: [user, assistant]"},
		{"empty content", "", `{"messages":[{"role":"user","content":[]}]}`, "The content field in the Message object at messages.0 is empty. Add a ContentBlock object to the content field and try again."},
		{"maxTokens 0", "", `{"messages":[` + u + `],"inferenceConfig":{"maxTokens":0}}`, "1 validation error detected: Value '0' at 'inferenceConfig.maxTokens' failed to satisfy constraint: Member must have value greater than or equal to 1"},
		{"maxTokens over model", "amazon.titan-text-lite-v1", `{"messages":[` + u + `],"inferenceConfig":{"maxTokens":100000}}`, "The maximum tokens you requested exceeds the model limit of 4096. Try again with a maximum tokens value that is lower than 4097."},
		{"temperature", "", `{"messages":[` + u + `],"inferenceConfig":{"temperature":1.5}}`, "1 validation error detected: Value '1.5' at 'inferenceConfig.temperature' failed to satisfy constraint: Member must have value less than or equal to 1"},
		{"topP", "", `{"messages":[` + u + `],"inferenceConfig":{"topP":-0.1}}`, "1 validation error detected: Value '-0.1' at 'inferenceConfig.topP' failed to satisfy constraint: Member must have value greater than or equal to 0"},
		{"too many stop sequences", "", `{"messages":[` + u + `],"inferenceConfig":{"stopSequences":[` + strings.Repeat(`"x",`, 2500) + `"y"]}}`, "1 validation error detected: Value at 'inferenceConfig.stopSequences' failed to satisfy constraint: Member must have length less than or equal to 2500"},
		{"bad tool name", "", `{"messages":[` + u + `],"toolConfig":{"tools":[{"toolSpec":{"name":"get weather","inputSchema":{"json":{}}}}]}}`, "1 validation error detected: Value 'get weather' at 'toolConfig.tools.0.member.toolSpec.name' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_-]+ and Member must have length less than or equal to 64"},
		{"duplicate tool", "", `{"messages":[` + u + `],"toolConfig":{"tools":[{"toolSpec":{"name":"t","inputSchema":{"json":{}}}},{"toolSpec":{"name":"t","inputSchema":{"json":{}}}}]}}`, "The toolConfig field contains duplicate tool names: t. Tool names must be unique, try again with unique names."},
		{"tools unsupported", "amazon.titan-text-lite-v1", `{"messages":[` + u + `],"toolConfig":` + tool + `}`, "This model doesn't support tool use."},
		{"toolChoice unknown tool", "", `{"messages":[` + u + `],"toolConfig":{"tools":[{"toolSpec":{"name":"get_weather","inputSchema":{"json":{}}}}],"toolChoice":{"tool":{"name":"nope"}}}}`, "The tool nope in toolConfig.toolChoice.tool.name is not in toolConfig.tools. Add the tool to toolConfig.tools, and try again."},
		{"toolChoice any unsupported", "meta.llama3-1-70b-instruct-v1:0", `{"messages":[` + u + `],"toolConfig":{"tools":[{"toolSpec":{"name":"get_weather","inputSchema":{"json":{}}}}],"toolChoice":{"any":{}}}}`, "This model doesn't support the toolConfig.toolChoice.any field. Remove toolConfig.toolChoice.any and try again."},
		{"toolResult without toolUse", "", `{"messages":[` + u + `,` + a + `,{"role":"user","content":[{"toolResult":{"toolUseId":"tooluse_x","content":[{"text":"r"}]}}]}],"toolConfig":` + tool + `}`, "The number of toolResult blocks at messages.2.content exceeds the number of toolUse blocks of previous turn."},
		{"toolUse without result", "", `{"messages":[` + u + `,{"role":"assistant","content":[{"toolUse":{"toolUseId":"tooluse_1","name":"get_weather","input":{}}}]},` + u + `],"toolConfig":` + tool + `}`, "Expected toolResult blocks at messages.2.content for the following Ids: tooluse_1"},
		{"toolUse without toolConfig", "", `{"messages":[` + u + `,{"role":"assistant","content":[{"toolUse":{"toolUseId":"tooluse_1","name":"get_weather","input":{}}}]}]}`, "The toolConfig field must be defined when using toolUse and toolResult content blocks."},
		{"guardrail version", "", `{"messages":[` + u + `],"guardrailConfig":{"guardrailIdentifier":"g","guardrailVersion":"v1"}}`, "1 validation error detected: Value 'v1' at 'guardrailConfig.guardrailVersion' failed to satisfy constraint: Member must satisfy regular expression pattern: (([1-9][0-9]{0,7})|(DRAFT))"},
		{"unknown guardrail", "", `{"messages":[` + u + `],"guardrailConfig":{"guardrailIdentifier":"g","guardrailVersion":"1"}}`, "The guardrail identifier or version provided in the request does not exist."},
		{"request metadata key", "", `{"messages":[` + u + `],"requestMetadata":{"bad|key":"v"}}`, "1 validation error detected: Value 'bad|key' at 'requestMetadata' failed to satisfy constraint: Map keys must satisfy constraint: [Member must have length less than or equal to 256, Member must have length greater than or equal to 1, Member must satisfy regular expression pattern: [a-zA-Z0-9\\s:_@$#=/+,-.]{1,256}]"},
		{"request metadata too many", "", `{"messages":[` + u + `],"requestMetadata":{` + strings.TrimSuffix(strings.Repeat(`"k":"v",`, 1), ",") + metadataPairs(17) + `}}`, "1 validation error detected: Value at 'requestMetadata' failed to satisfy constraint: Member must have length less than or equal to 16 and greater than or equal to 1"},
		{"image format", "", `{"messages":[{"role":"user","content":[{"image":{"format":"bmp","source":{"bytes":"AAAA"}}}]}]}`, "1 validation error detected: Value 'bmp' at 'messages.0.member.content.0.member.image.format' failed to satisfy constraint: Member must satisfy enum value set: [gif, jpeg, png, webp]"},
		{"images unsupported", "amazon.nova-micro-v1:0", `{"messages":[{"role":"user","content":[{"image":{"format":"png","source":{"bytes":"AAAA"}}}]}]}`, "This model doesn't support the image content block that you provided. Try again with a supported content block or a different model."},
		{"wrong type", "", `{"messages":"hi"}`, "Malformed input request: expected type array for field messages, please reformat your input and try again."},
		{"thinking budget", "anthropic.claude-3-7-sonnet-20250219-v1:0", `{"messages":[` + u + `],"additionalModelRequestFields":{"thinking":{"type":"enabled","budget_tokens":10}}}`, "The model returned the following errors: thinking.enabled.budget_tokens: Input should be greater than or equal to 1024"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			model := tc.model
			if model == "" {
				model = "anthropic.claude-3-5-sonnet-20241022-v2:0"
			}
			resp, body := post(t, srv.URL+"/model/"+strings.ReplaceAll(model, ":", "%3A")+"/converse", tc.body)
			wantStatus := 400
			if strings.HasPrefix(tc.name, "unknown guardrail") {
				wantStatus = 404
			}
			if resp.StatusCode != wantStatus {
				t.Errorf("status %d: %s", resp.StatusCode, body)
			}
			var got struct{ Message string }
			json.Unmarshal([]byte(body), &got)
			if got.Message != tc.msg {
				t.Errorf("message\n got %q\nwant %q", got.Message, tc.msg)
			}
			if et := resp.Header.Get("X-Amzn-Errortype"); !strings.HasSuffix(et, ":http://internal.amazon.com/coral/com.amazon.bedrock/") {
				t.Errorf("x-amzn-ErrorType %q", et)
			}
		})
	}
}

func metadataPairs(n int) string {
	var b strings.Builder
	for i := 0; i < n; i++ {
		b.WriteString(`,"k` + string(rune('a'+i)) + `":"v"`)
	}
	return b.String()
}

func TestInvalidModelExactBytes(t *testing.T) {
	srv, _ := NewServer(Config{NoAuth: true})
	defer srv.Close()
	for _, op := range []string{"converse", "converse-stream", "invoke", "invoke-with-response-stream"} {
		resp, body := post(t, srv.URL+"/model/does-not-exist/"+op, `{}`)
		if resp.StatusCode != 400 || body != `{"message":"The provided model identifier is invalid."}` ||
			resp.Header.Get("X-Amzn-Errortype") != "ValidationException:http://internal.amazon.com/coral/com.amazon.bedrock/" ||
			len(resp.Header.Get("X-Amzn-Requestid")) != 36 || resp.Header.Get("Date") == "" {
			t.Errorf("%s: %d %s %v", op, resp.StatusCode, body, resp.Header)
		}
	}
}

func TestLoadConfig(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	os.WriteFile(good, []byte(`seed: 3
credentials:
  - access_key_id: AKID
    secret_access_key: SECRET
clock_skew: 2m
models:
  - id: acme.custom-v1
    family: nova
    aliases: ["arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/abc"]
    tools: true
guardrails:
  - id: g1
    versions: ["1"]
    denied_words: [foo]
faults:
  rules:
    - fault: throttle
      rate: 0.1
latency:
  first_token: 250ms
quotas:
  requests_per_minute: 60
`), 0o644)
	cfg, err := LoadConfig(good)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Seed != 3 || cfg.Credentials[0].AccessKeyID != "AKID" || cfg.ClockSkew.Minutes() != 2 || cfg.Latency.FirstToken.Milliseconds() != 250 {
		t.Errorf("cfg %+v", cfg)
	}
	e, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if m := e.models.lookup("arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/abc"); m == nil || m.ID != "acme.custom-v1" {
		t.Errorf("alias lookup %v", m)
	}
	empty := filepath.Join(dir, "empty.yaml")
	os.WriteFile(empty, nil, 0o644)
	if cfg, err := LoadConfig(empty); err != nil || cfg.Seed != 0 || cfg.Models != nil {
		t.Errorf("empty file: %+v, %v", cfg, err)
	}
}

// Every problem of a config file is reported at once, each with file, line
// and field, in the gateway's format.
func TestLoadConfigProblems(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want []string // "line: field: message prefix", after the file name
	}{
		{"unknown key", "seed: 1\nnoAuth: true\n", []string{":2: noAuth: unknown key (allowed: bearer_tokens, body_read_timeout, clock_skew, credentials,"}},
		{"nested unknown key", "faults:\n  rules:\n    - fault: throttle\n      rat: 0.5\n",
			[]string{":4: faults.rules[0].rat: unknown key (allowed: fault, model, rate)"}},
		{"wrong types", "seed: many\nno_auth: maybe\nlatency:\n  first_token: soon\n",
			[]string{`:1: seed: must be a non-negative integer, not "many"`, `:2: no_auth: must be a boolean (true or false), not "maybe"`,
				`:4: latency.first_token: must be a duration such as 250ms or 5m, not "soon"`}},
		{"not a list", "models: acme\n", []string{":1: models: must be a list"}},
		{"duplicate key", "seed: 1\nseed: 2\n", []string{":2: seed: duplicate key"}},
		{"map values", "quotas:\n  per_model:\n    m1: {requests_per_minute: x}\n",
			[]string{`:3: quotas.per_model.m1.requests_per_minute: must be an integer, not "x"`}},
		{"syntax", "seed: [1\n", []string{": yaml: line 1"}},
	}
	dir := t.TempDir()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(tt.name, " ", "_")+".yaml")
			os.WriteFile(path, []byte(tt.yaml), 0o644)
			_, err := LoadConfig(path)
			var ce *ConfigError
			if !errors.As(err, &ce) {
				t.Fatalf("err = %v, want a *ConfigError", err)
			}
			if len(ce.Problems) != len(tt.want) {
				t.Fatalf("problems:\n%v\nwant %d", err, len(tt.want))
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), path+w) {
					t.Errorf("error:\n%v\nwant a line %s%s", err, path, w)
				}
			}
		})
	}
}

func TestCatalogueLookup(t *testing.T) {
	c, _ := newCatalogue(nil)
	for id, want := range map[string]string{
		"amazon.nova-lite-v1:0":                                                             "amazon.nova-lite-v1:0",
		"us.amazon.nova-lite-v1:0":                                                          "amazon.nova-lite-v1:0",
		"global.anthropic.claude-sonnet-4-5-20250929-v1:0":                                  "anthropic.claude-sonnet-4-5-20250929-v1:0",
		"apac.anthropic.claude-3-haiku-20240307-v1:0":                                       "anthropic.claude-3-haiku-20240307-v1:0",
		"arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.amazon.nova-lite-v1:0": "amazon.nova-lite-v1:0",
		"arn:aws:bedrock:us-east-1::foundation-model/meta.llama3-8b-instruct-v1:0":          "meta.llama3-8b-instruct-v1:0",
		"does-not-exist":    "",
		"us.does-not-exist": "",
	} {
		m := c.lookup(id)
		got := ""
		if m != nil {
			got = m.ID
		}
		if got != want {
			t.Errorf("%s → %q, want %q", id, got, want)
		}
	}
}
