package server_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/quarry-dev/quarry/internal/config"
)

// TestChatMalformed sends malformed chat requests through the gateway: each
// must get its 4xx in OpenAI's error shape, naming the problem (in param or
// the message), and never reach Bedrock when the gateway can tell.
func TestChatMalformed(t *testing.T) {
	t.Parallel()
	var hits atomic.Int32
	private := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Header().Set("Content-Type", "image/png")
		w.Write(pngPixel)
	}))
	defer private.Close()
	g := startGateway(t, quickstart, func(c *config.Config) {
		c.Server.MaxRequestBytes = 64 << 10
		c.Models = append(c.Models, config.Model{Kind: config.KindChat, Name: "claude-sonnet-45",
			ModelID: "us.anthropic.claude-sonnet-4-5-20250929-v1:0"})
	})

	user := `[{"role":"user","content":"Hi"}]`
	req := func(extra string) string { return `{"model":"nova-lite","messages":` + user + extra + `}` }
	msgs := func(m string) string { return `{"model":"nova-lite","messages":` + m + `}` }
	part := func(p string) string { return msgs(`[{"role":"user","content":[` + p + `]}]`) }
	weather := `{"type":"function","function":{"name":"get_weather","parameters":{"type":"object"}}}`
	meta := map[string]string{}
	for i := 0; i < 17; i++ {
		meta[fmt.Sprintf("k%d", i)] = "v"
	}
	metaJSON, _ := json.Marshal(meta)

	for _, c := range []struct {
		name   string
		body   string
		status int
		param  string // the error's param, when the gateway names one
		match  string // a fragment of the message
	}{
		{"not JSON", `{"model":`, 400, "", "not valid JSON"},
		{"empty body", ``, 400, "", "empty"},
		{"JSON array body", `[1,2]`, 400, "", "JSON object"},
		{"JSON string body", `"hello"`, 400, "", "JSON object"},
		{"missing model", `{"messages":` + user + `}`, 400, "model", "model"},
		{"model not a string", `{"model":42,"messages":` + user + `}`, 400, "model", "string"},
		{"empty model", `{"model":"","messages":` + user + `}`, 400, "model", "model"},
		{"unknown model", `{"model":"gpt-5","messages":` + user + `}`, 404, "model", "gpt-5"},
		{"embedding model", `{"model":"titan-embed","messages":` + user + `}`, 404, "model", "not a chat model"},
		{"missing messages", `{"model":"nova-lite"}`, 400, "messages", "messages"},
		{"empty messages", msgs(`[]`), 400, "messages", "empty"},
		{"messages not an array", msgs(`"Hi"`), 400, "messages", "array"},
		{"message not an object", msgs(`["Hi"]`), 400, "messages[0]", "message object"},
		{"missing role", msgs(`[{"content":"Hi"}]`), 400, "messages[0].role", "role"},
		{"unknown role", msgs(`[{"role":"wizard","content":"Hi"}]`), 400, "messages[0].role", "wizard"},
		{"function role", msgs(`[{"role":"function","name":"f","content":"Hi"}]`), 400, "messages[0].role", "function"},
		{"role not a string", msgs(`[{"role":1,"content":"Hi"}]`), 400, "messages[0].role", "string"},
		{"content a number", msgs(`[{"role":"user","content":42}]`), 400, "messages[0].content", "string or an array"},
		{"blank user message", msgs(`[{"role":"user","content":"   "}]`), 400, "messages[0].content", "empty"},
		{"null user content", msgs(`[{"role":"user","content":null}]`), 400, "messages[0].content", "empty"},
		{"only blank parts", part(`{"type":"text","text":""},{"type":"text","text":" \n"}`), 400, "messages[0].content", "blank"},
		{"only a system message", msgs(`[{"role":"system","content":"Be nice"}]`), 400, "messages", "system"},
		{"empty system message", msgs(`[{"role":"system","content":""},{"role":"user","content":"Hi"}]`), 400, "messages[0].content", "empty"},
		{"image in system message", msgs(`[{"role":"system","content":[{"type":"image_url","image_url":{"url":"data:image/png;base64,AAAA"}}]},{"role":"user","content":"Hi"}]`), 400, "messages[0].content[0].type", "image_url"},
		{"part without type", part(`{"text":"Hi"}`), 400, "messages[0].content[0].type", "type"},
		{"unknown part type", part(`{"type":"video","video":{"url":"x"}}`), 400, "messages[0].content[0].type", "video"},
		{"text part without text", part(`{"type":"text"}`), 400, "messages[0].content[0].text", "text"},
		{"part not an object", part(`"Hi"`), 400, "messages[0].content[0]", "content part"},
		{"image_url without url", part(`{"type":"image_url","image_url":{}}`), 400, "messages[0].content[0].image_url", "url"},
		{"bad base64 in data URI", part(`{"type":"image_url","image_url":{"url":"data:image/png;base64,%%%"}}`), 400, "messages[0].content[0].image_url", "base64"},
		{"data URI without comma", part(`{"type":"image_url","image_url":{"url":"data:image/png;base64"}}`), 400, "messages[0].content[0].image_url", "','"},
		{"unsupported image format", part(`{"type":"image_url","image_url":{"url":"data:image/tiff;base64,SUkqAA=="}}`), 400, "messages[0].content[0].image_url", "image/tiff"},
		{"image URL scheme", part(`{"type":"image_url","image_url":{"url":"ftp://example.com/a.png"}}`), 400, "messages[0].content[0].image_url", "data: URI"},
		{"bad s3 URI", part(`{"type":"image_url","image_url":{"url":"s3://bucket-only"}}`), 400, "messages[0].content[0].image_url", "s3://bucket/key"},
		{"s3 image without extension", part(`{"type":"image_url","image_url":{"url":"s3://b/photo"}}`), 400, "messages[0].content[0].image_url", "format"},
		{"private-IP image URL", part(`{"type":"image_url","image_url":{"url":"` + private.URL + `/x.png?token=s3cr3t"}}`), 400, "messages[0].content[0].image_url", strings.TrimPrefix(private.URL, "http://")},
		{"file without data", part(`{"type":"file","file":{"filename":"a.pdf"}}`), 400, "messages[0].content[0].file.file_data", "file_data"},
		{"file by ID", part(`{"type":"file","file":{"file_id":"file-abc"}}`), 400, "messages[0].content[0].file.file_id", "Files API"},
		{"unsupported document type", part(`{"type":"file","file":{"file_data":"data:application/zip;base64,UEsDBA==","filename":"a.zip"}}`), 400, "messages[0].content[0].file", "application/zip"},
		{"audio without format", part(`{"type":"input_audio","input_audio":{"data":"UklGRg=="}}`), 400, "messages[0].content[0].input_audio.format", "format"},
		{"audio bad base64", part(`{"type":"input_audio","input_audio":{"data":"@@@","format":"wav"}}`), 400, "messages[0].content[0].input_audio.data", "base64"},
		{"temperature 1.5", req(`,"temperature":1.5`), 400, "temperature", "0 to 1"},
		{"temperature a string", req(`,"temperature":"hot"`), 400, "temperature", "number"},
		{"top_p -1", req(`,"top_p":-1`), 400, "top_p", "0 to 1"},
		{"temperature with top_p on Claude 4.5", `{"model":"claude-sonnet-45","messages":` + user + `,"temperature":0.5,"top_p":0.9}`, 400, "temperature", "top_p"},
		{"max_tokens 0", req(`,"max_tokens":0`), 400, "max_tokens", "at least 1"},
		{"max_completion_tokens fractional", req(`,"max_completion_tokens":1.5`), 400, "max_completion_tokens", "number"},
		{"n=2", req(`,"n":2`), 400, "n", "n"},
		{"stop a number", req(`,"stop":5`), 400, "stop", "string"},
		{"stream a string", req(`,"stream":"yes"`), 400, "stream", "boolean"},
		{"tools not an array", req(`,"tools":{}`), 400, "tools", "array"},
		{"tool without type", req(`,"tools":[{"function":{"name":"f"}}]`), 400, "tools[0].type", "type"},
		{"non-function tool", req(`,"tools":[{"type":"web_search"}]`), 400, "tools[0].type", "web_search"},
		{"tool without function", req(`,"tools":[{"type":"function"}]`), 400, "tools[0].function", "function"},
		{"bad tool name", req(`,"tools":[{"type":"function","function":{"name":"get weather!"}}]`), 400, "tools[0].function.name", "64"},
		{"long tool name", req(`,"tools":[{"type":"function","function":{"name":"` + strings.Repeat("a", 65) + `"}}]`), 400, "tools[0].function.name", "64"},
		{"duplicate tool names", req(`,"tools":[` + weather + `,` + weather + `]`), 400, "tools[1].function.name", "Duplicate"},
		{"parameters not an object", req(`,"tools":[{"type":"function","function":{"name":"f","parameters":"x"}}]`), 400, "tools[0].function.parameters", "Schema"},
		{"tool_choice unknown tool", req(`,"tools":[` + weather + `],"tool_choice":{"type":"function","function":{"name":"get_time"}}`), 400, "tool_choice", "get_time"},
		{"tool_choice bad string", req(`,"tools":[` + weather + `],"tool_choice":"always"`), 400, "tool_choice", "always"},
		{"tool_choice required without tools", req(`,"tool_choice":"required"`), 400, "tool_choice", "tools"},
		{"response_format bad type", req(`,"response_format":{"type":"yaml"}`), 400, "response_format.type", "yaml"},
		{"response_format a string", req(`,"response_format":"json"`), 400, "response_format", "object"},
		{"json_schema without schema", req(`,"response_format":{"type":"json_schema","json_schema":{"name":"x"}}`), 400, "response_format.json_schema.schema", "schema"},
		{"json_schema bad name", req(`,"response_format":{"type":"json_schema","json_schema":{"name":"a b","schema":{}}}`), 400, "response_format.json_schema.name", "a b"},
		{"reasoning_effort unknown", req(`,"reasoning_effort":"extreme"`), 400, "reasoning_effort", "extreme"},
		{"tool_call arguments not JSON", msgs(`[{"role":"user","content":"Hi"},{"role":"assistant","tool_calls":[{"id":"c1","type":"function","function":{"name":"f","arguments":"{oops"}}]},{"role":"tool","tool_call_id":"c1","content":"x"}]`), 400, "messages[1].tool_calls[0].function.arguments", "JSON"},
		{"tool_call arguments an array", msgs(`[{"role":"user","content":"Hi"},{"role":"assistant","tool_calls":[{"id":"c1","type":"function","function":{"name":"f","arguments":"[1]"}}]}]`), 400, "messages[1].tool_calls[0].function.arguments", "object"},
		{"tool_call without id", msgs(`[{"role":"user","content":"Hi"},{"role":"assistant","tool_calls":[{"type":"function","function":{"name":"f","arguments":"{}"}}]}]`), 400, "messages[1].tool_calls[0].id", "id"},
		{"tool_call without name", msgs(`[{"role":"user","content":"Hi"},{"role":"assistant","tool_calls":[{"id":"c1","type":"function","function":{"arguments":"{}"}}]}]`), 400, "messages[1].tool_calls[0].function.name", "name"},
		{"tool message without tool_call_id", msgs(`[{"role":"user","content":"Hi"},{"role":"tool","content":"42"}]`), 400, "messages[1].tool_call_id", "tool_call_id"},
		{"empty assistant message", msgs(`[{"role":"user","content":"Hi"},{"role":"assistant","content":""},{"role":"user","content":"?"}]`), 400, "messages[1].content", "empty"},
		{"metadata too large", req(`,"metadata":` + string(metaJSON)), 400, "metadata", "16"},
		{"metadata value not a string", req(`,"metadata":{"a":1}`), 400, "metadata.a", "string"},
		{"metadata bad characters", req(`,"metadata":{"a":"<script>"}`), 400, "metadata.a", "characters"},
		{"user bad characters", req(`,"user":"bob<>"`), 400, "user", "user"},
		{"service_tier unknown", req(`,"service_tier":"turbo"`), 400, "service_tier", "turbo"},
		{"cache_control bad type", msgs(`[{"role":"user","content":"Hi","cache_control":{"type":"forever"}}]`), 400, "messages[0].cache_control.type", "ephemeral"},
		{"cachePoint bad ttl", part(`{"type":"text","text":"Hi","cachePoint":{"type":"default","ttl":"2d"}}`), 400, "messages[0].content[0].cachePoint.ttl", "2d"},
		{"guardrailConfig bad trace", req(`,"guardrailConfig":{"guardrailIdentifier":"abc","guardrailVersion":"1","trace":"loud"}`), 400, "guardrailConfig.trace", "loud"},
		{"guardrailConfig incomplete", req(`,"guardrailConfig":{"trace":"enabled"}`), 400, "guardrailConfig", "guardrailIdentifier"},
		{"additionalModelRequestFields not an object", req(`,"additionalModelRequestFields":[1]`), 400, "additionalModelRequestFields", "object"},
		{"performanceConfig bad latency", req(`,"performanceConfig":{"latency":"fast"}`), 400, "performanceConfig.latency", "fast"},
		{"serviceTier bad type", req(`,"serviceTier":{"type":"gold"}`), 400, "serviceTier.type", "gold"},
		{"bad response field path", req(`,"additionalModelResponseFieldPaths":["stop_sequence"]`), 400, "additionalModelResponseFieldPaths[0]", "JSON Pointer"},
		{"oversize body", req(`,"user":"` + strings.Repeat("a", 70<<10) + `"`), 413, "", "limit"},
	} {
		t.Run(c.name, func(t *testing.T) {
			msg := postInvalid(t, g, "/v1/chat/completions", c.body, c.status, c.param, c.match)
			if strings.Contains(msg, "s3cr3t") {
				t.Errorf("message leaks the URL's query: %q", msg)
			}
		})
	}
	if hits.Load() != 0 {
		t.Errorf("the gateway fetched from a private address %d times", hits.Load())
	}
}

// postInvalid posts body to path and checks the answer: status, an OpenAI
// invalid_request_error naming param and mentioning match, and no request
// to Bedrock. It returns the error message.
func postInvalid(t *testing.T, g *gateway, path, body string, status int, param, match string) string {
	t.Helper()
	before := g.Server.Emulator().Stats().Requests
	resp, err := http.Post(g.URL+path, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != status {
		t.Fatalf("status %d; want %d: %s", resp.StatusCode, status, raw)
	}
	var e struct {
		Error *struct {
			Message string  `json:"message"`
			Type    string  `json:"type"`
			Param   *string `json:"param"`
		} `json:"error"`
	}
	if err := json.Unmarshal(raw, &e); err != nil || e.Error == nil || e.Error.Message == "" || e.Error.Type != "invalid_request_error" {
		t.Fatalf("not an OpenAI error: %s", raw)
	}
	got := ""
	if e.Error.Param != nil {
		got = *e.Error.Param
	}
	if got != param {
		t.Errorf("param = %q; want %q (%s)", got, param, e.Error.Message)
	}
	if !strings.Contains(strings.ToLower(e.Error.Message), strings.ToLower(match)) {
		t.Errorf("message %q does not mention %q", e.Error.Message, match)
	}
	if after := g.Server.Emulator().Stats().Requests; after["Converse"] != before["Converse"] {
		t.Errorf("the request reached Bedrock")
	}
	return e.Error.Message
}
