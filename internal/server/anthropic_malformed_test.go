package server_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/quarry-dev/quarry/internal/config"
	"github.com/quarry-dev/quarry/internal/server"
)

// TestMessagesMalformed sends malformed Messages requests: each must get a
// 4xx in Anthropic's error format whose message names the problem, never
// a 5xx, and no Bedrock call.
func TestMessagesMalformed(t *testing.T) {
	rec := &recorder{}
	g := startChatGateway(t, quickstart, nil, server.Options{UpstreamTransport: rec})
	const (
		m   = `"model":"claude-sonnet","max_tokens":50`
		n   = `"model":"nova-lite","max_tokens":50`
		hi  = `"messages":[{"role":"user","content":"hi"}]`
		img = `{"type":"image","source":{"type":"base64","media_type":"image/png","data":"iVBORw0KGgo="}}`
	)
	user := func(blocks string) string { return `"messages":[{"role":"user","content":[` + blocks + `]}]` }
	for _, c := range []struct {
		name, body string
		status     int
		mention    string
	}{
		{"empty body", ``, 400, "empty"},
		{"not JSON", `{"model":`, 400, "JSON"},
		{"trailing garbage", `{` + m + `,` + hi + `} x`, 400, "JSON"},
		{"array body", `[1,2]`, 400, "object"},
		{"string body", `"hello"`, 400, "object"},
		{"missing model", `{"max_tokens":5,` + hi + `}`, 400, "model"},
		{"model not a string", `{"model":5,"max_tokens":5,` + hi + `}`, 400, "model"},
		{"unknown model", `{"model":"gpt-9","max_tokens":5,` + hi + `}`, 404, "gpt-9"},
		{"embedding model", `{"model":"titan-embed","max_tokens":5,` + hi + `}`, 404, "titan-embed"},
		{"missing max_tokens", `{"model":"claude-sonnet",` + hi + `}`, 400, "max_tokens"},
		{"max_tokens zero", `{"model":"claude-sonnet","max_tokens":0,` + hi + `}`, 400, "max_tokens"},
		{"max_tokens fraction", `{"model":"claude-sonnet","max_tokens":1.5,` + hi + `}`, 400, "max_tokens"},
		{"max_tokens string", `{"model":"claude-sonnet","max_tokens":"5",` + hi + `}`, 400, "max_tokens"},
		{"missing messages", `{` + m + `}`, 400, "messages"},
		{"messages not array", `{` + m + `,"messages":{}}`, 400, "messages"},
		{"messages empty", `{` + m + `,"messages":[]}`, 400, "messages"},
		{"only system messages", `{` + m + `,"messages":[{"role":"system","content":"be brief"}]}`, 400, "messages"},
		{"message not object", `{` + m + `,"messages":["hi"]}`, 400, "messages.0"},
		{"missing role", `{` + m + `,"messages":[{"content":"hi"}]}`, 400, "messages.0.role"},
		{"bad role", `{` + m + `,"messages":[{"role":"tool","content":"hi"}]}`, 400, "messages.0.role"},
		{"missing content", `{` + m + `,"messages":[{"role":"user"}]}`, 400, "messages.0.content"},
		{"content number", `{` + m + `,"messages":[{"role":"user","content":5}]}`, 400, "messages.0.content"},
		{"block not object", `{` + m + `,` + user(`"hi"`) + `}`, 400, "messages.0.content.0"},
		{"block without type", `{` + m + `,` + user(`{"text":"hi"}`) + `}`, 400, "messages.0.content.0.type"},
		{"text block without text", `{` + m + `,` + user(`{"type":"text"}`) + `}`, 400, "messages.0.content.0.text"},
		{"text not a string", `{` + m + `,` + user(`{"type":"text","text":5}`) + `}`, 400, "messages.0.content.0"},
		{"image without source", `{` + m + `,` + user(`{"type":"image"}`) + `}`, 400, "source"},
		{"image bad media type", `{` + m + `,` + user(`{"type":"image","source":{"type":"base64","media_type":"image/bmp","data":"AAAA"}}`) + `}`, 400, "media_type"},
		{"image bad base64", `{` + m + `,` + user(`{"type":"image","source":{"type":"base64","media_type":"image/png","data":"***"}}`) + `}`, 400, "base64"},
		{"image bad source type", `{` + m + `,` + user(`{"type":"image","source":{"type":"ftp","url":"x"}}`) + `}`, 400, "source.type"},
		{"document not pdf", `{` + m + `,` + user(`{"type":"document","source":{"type":"base64","media_type":"text/csv","data":"AAAA"}}`) + `}`, 400, "media_type"},
		{"tool_use in user turn", `{` + m + `,` + user(`{"type":"tool_use","id":"t","name":"f","input":{}}`) + `}`, 400, "tool_use"},
		{"tool_use input not object", `{` + m + `,"messages":[{"role":"user","content":"x"},{"role":"assistant","content":[{"type":"tool_use","id":"t","name":"f","input":[1]}]}]}`, 400, "input"},
		{"tool_result without id", `{` + m + `,` + user(`{"type":"tool_result","content":"x"}`) + `}`, 400, "tool_use_id"},
		{"tool_result in assistant turn", `{` + m + `,"messages":[{"role":"user","content":"x"},{"role":"assistant","content":[{"type":"tool_result","tool_use_id":"t"}]}]}`, 400, "tool_result"},
		{"thinking without signature", `{` + m + `,"messages":[{"role":"user","content":"x"},{"role":"assistant","content":[{"type":"thinking","thinking":"hm"}]}]}`, 400, "signature"},
		{"bad cache_control", `{` + m + `,` + user(`{"type":"text","text":"x","cache_control":{"type":"forever"}}`) + `}`, 400, "cache_control"},
		{"bad cache ttl", `{` + m + `,` + user(`{"type":"text","text":"x","cache_control":{"type":"ephemeral","ttl":"1d"}}`) + `}`, 400, "ttl"},
		{"system number", `{` + m + `,` + hi + `,"system":5}`, 400, "system"},
		{"system image block", `{` + m + `,` + hi + `,"system":[` + img + `]}`, 400, "system.0.type"},
		{"system message with image", `{` + m + `,"messages":[{"role":"system","content":[` + img + `]},{"role":"user","content":"x"}]}`, 400, "messages.0.content.0.type"},
		{"temperature too high", `{` + m + `,` + hi + `,"temperature":1.5}`, 400, "temperature"},
		{"temperature string", `{` + m + `,` + hi + `,"temperature":"hot"}`, 400, "temperature"},
		{"top_p negative", `{` + m + `,` + hi + `,"top_p":-0.1}`, 400, "top_p"},
		{"top_k negative", `{` + m + `,` + hi + `,"top_k":-1}`, 400, "top_k"},
		{"stop_sequences not array", `{` + m + `,` + hi + `,"stop_sequences":"END"}`, 400, "stop_sequences"},
		{"stop_sequence blank", `{` + m + `,` + hi + `,"stop_sequences":[" "]}`, 400, "stop_sequences.0"},
		{"stream not bool", `{` + m + `,` + hi + `,"stream":"yes"}`, 400, "stream"},
		{"tools not array", `{` + m + `,` + hi + `,"tools":{}}`, 400, "tools"},
		{"tool without name", `{` + m + `,` + hi + `,"tools":[{"input_schema":{"type":"object"}}]}`, 400, "tools.0.name"},
		{"tool bad name", `{` + m + `,` + hi + `,"tools":[{"name":"get weather","input_schema":{"type":"object"}}]}`, 400, "tools.0.name"},
		{"tool name over 128", `{` + m + `,` + hi + `,"tools":[{"name":"` + strings.Repeat("f", 129) + `","input_schema":{"type":"object"}}]}`, 400, "tools.0.name"},
		{"tool without schema", `{` + m + `,` + hi + `,"tools":[{"name":"f"}]}`, 400, "tools.0.input_schema"},
		{"duplicate tools", `{` + m + `,` + hi + `,"tools":[{"name":"f","input_schema":{}},{"name":"f","input_schema":{}}]}`, 400, "tools.1.name"},
		{"tool_choice bad type", `{` + m + `,` + hi + `,"tool_choice":{"type":"sometimes"}}`, 400, "tool_choice.type"},
		{"tool_choice tool without name", `{` + m + `,` + hi + `,"tool_choice":{"type":"tool"}}`, 400, "tool_choice.name"},
		{"tool_choice unknown tool", `{` + m + `,` + hi + `,"tools":[{"name":"f","input_schema":{}}],"tool_choice":{"type":"tool","name":"g"}}`, 400, "tool_choice.name"},
		{"thinking bad type", `{` + m + `,` + hi + `,"thinking":{"type":"maybe"}}`, 400, "thinking.type"},
		{"thinking small budget", `{"model":"claude-sonnet","max_tokens":5000,` + hi + `,"thinking":{"type":"enabled","budget_tokens":100}}`, 400, "budget_tokens"},
		{"thinking budget over max", `{` + m + `,` + hi + `,"thinking":{"type":"enabled","budget_tokens":2048}}`, 400, "budget_tokens"},
		{"metadata not object", `{` + m + `,` + hi + `,"metadata":"me"}`, 400, "metadata"},
		{"duplicate member", `{` + m + `,` + hi + `,` + hi + `}`, 400, "messages"},
		{"Anthropic tool on Nova", `{` + n + `,` + hi + `,"tools":[{"type":"bash_20250124","name":"bash"}]}`, 400, "tools.0.type"},
		{"image URL on Nova", `{` + n + `,` + user(`{"type":"image","source":{"type":"url","url":"https://example.com/a.png"}}`) + `}`, 400, "source.type"},
		{"tool_choice naming a missing tool on Nova", `{` + n + `,` + hi + `,"top_k":5,"tools":[{"name":"f","input_schema":{}}],"tool_choice":{"type":"tool","name":"zz"}}`, 400, "tool_choice.name"},
	} {
		t.Run(c.name, func(t *testing.T) {
			resp, body := postMessages(t, g.URL, "/v1/messages", c.body, nil)
			if resp.StatusCode != c.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, c.status, body)
			}
			checkAnthropicError(t, resp, body, c.mention)
		})
	}
	if len(rec.calls) > 0 {
		t.Errorf("malformed requests reached Bedrock: %d calls, last %s", len(rec.calls), rec.calls[len(rec.calls)-1].Path)
	}
}

// checkAnthropicError checks an error answer's format: the body, its
// message mentioning mention, and the request-id header.
func checkAnthropicError(t *testing.T, resp *http.Response, body, mention string) {
	t.Helper()
	var e struct {
		Type  string `json:"type"`
		Error struct {
			Type    string `json:"type"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if err := json.Unmarshal([]byte(body), &e); err != nil || e.Type != "error" || e.Error.Type == "" {
		t.Fatalf("not Anthropic's error format: %s", body)
	}
	if !strings.Contains(e.Error.Message, mention) {
		t.Errorf("message %q does not mention %q", e.Error.Message, mention)
	}
	if resp.Header.Get("request-id") == "" {
		t.Error("no request-id header")
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q", ct)
	}
}

// TestMessagesErrorStatuses maps Bedrock's failures to Anthropic's error
// types and statuses, with a fake Bedrock for the ones the emulator cannot
// produce (AccessDenied).
func TestMessagesErrorStatuses(t *testing.T) {
	fake := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		code, status := "AccessDeniedException", 403
		switch {
		case strings.Contains(r.URL.Path, "nova"):
			code, status = "ServiceUnavailableException", 503
		case strings.Contains(r.URL.Path, "llama"):
			code, status = "ThrottlingException", 429
		}
		w.Header().Set("x-amzn-ErrorType", code)
		w.Header().Set("x-amzn-RequestId", "fake-req-1")
		w.WriteHeader(status)
		w.Write([]byte(`{"message":"no"}`))
	}))
	defer fake.Close()
	path := writeConfig(t, [2]string{"quarry.yaml", `
version: v1
server:
  address: 127.0.0.1:0
models:
  - name: claude
    from: bedrock:anthropic.claude-3-5-haiku-20241022-v1:0
    params: {endpoint_url: "` + fake.URL + `", aws_access_key_id: a, aws_secret_access_key: b, aws_region: us-east-1}
  - name: nova
    from: bedrock:amazon.nova-lite-v1:0
    params: {endpoint_url: "` + fake.URL + `", aws_access_key_id: a, aws_secret_access_key: b, aws_region: us-east-1}
  - name: llama
    from: bedrock:meta.llama3-1-8b-instruct-v1:0
    params: {endpoint_url: "` + fake.URL + `", aws_access_key_id: a, aws_secret_access_key: b, aws_region: us-east-1}
`})
	g := startChatGateway(t, path, func(c *config.Config) {
		for i := range c.Models {
			c.Models[i].AWS.RequestsPerMinute = 100000
		}
	}, server.Options{})
	for _, c := range []struct {
		model, typ string
		status     int
		stream     bool
	}{
		{"claude", "permission_error", 403, false},
		{"claude", "permission_error", 403, true},
		{"nova", "overloaded_error", 529, false},
		{"nova", "overloaded_error", 529, true},
		{"llama", "rate_limit_error", 429, false},
	} {
		body := `{"model":"` + c.model + `","max_tokens":20,"messages":[{"role":"user","content":"hi"}],"stream":` + map[bool]string{true: "true", false: "false"}[c.stream] + `}`
		resp, out := postMessages(t, g.URL, "/v1/messages", body, nil)
		if resp.StatusCode != c.status {
			t.Errorf("%s stream=%v: status %d, want %d: %s", c.model, c.stream, resp.StatusCode, c.status, out)
			continue
		}
		checkAnthropicError(t, resp, out, "")
		if !strings.Contains(out, `"type":"`+c.typ+`"`) {
			t.Errorf("%s: %s, want type %s", c.model, out, c.typ)
		}
		if resp.Header.Get("x-amzn-requestid") != "fake-req-1" {
			t.Errorf("%s: Bedrock's request ID not passed on", c.model)
		}
		if (c.status == 429 || c.status == 529) && resp.Header.Get("retry-after") == "" {
			t.Errorf("%s: no retry-after on %d", c.model, c.status)
		}
	}
}

// TestMessagesAuth checks x-api-key and Authorization: Bearer against
// server.api_keys, and Anthropic's 401.
func TestMessagesAuth(t *testing.T) {
	g := startGateway(t, quickstartWith(t, "  api_keys: [sk-good-key]\n"), nil)
	body := `{"model":"nova-lite","max_tokens":20,"messages":[{"role":"user","content":"hi"}]}`
	for _, c := range []struct {
		name   string
		header map[string]string
		status int
	}{
		{"x-api-key", map[string]string{"x-api-key": "sk-good-key"}, 200},
		{"bearer", map[string]string{"Authorization": "Bearer sk-good-key"}, 200},
		{"wrong key", map[string]string{"x-api-key": "sk-bad-key"}, 401},
		{"no key", nil, 401},
	} {
		for _, p := range []string{"/v1/messages", "/v1/messages?beta=true", "/v1/messages/count_tokens"} {
			resp, out := postMessages(t, g.URL, p, body, c.header)
			if resp.StatusCode != c.status {
				t.Errorf("%s %s: status %d, want %d: %s", c.name, p, resp.StatusCode, c.status, out)
				continue
			}
			if c.status == 401 {
				checkAnthropicError(t, resp, out, "")
				if !strings.Contains(out, "authentication_error") {
					t.Errorf("%s: %s", c.name, out)
				}
			}
			if resp.Header.Get("request-id") == "" {
				t.Errorf("%s %s: no request-id", c.name, p)
			}
		}
	}
}
