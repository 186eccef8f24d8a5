package server_test

import (
	"strings"
	"testing"

	"github.com/quarry-dev/quarry/internal/config"
)

// TestResponsesMalformed sends malformed Responses requests: each gets its
// 4xx in OpenAI's error shape naming the problem (param and message), and
// none reaches Bedrock.
func TestResponsesMalformed(t *testing.T) {
	g := startGateway(t, quickstart, func(c *config.Config) { c.Server.MaxRequestBytes = 64 << 10 })
	req := func(extra string) string { return `{"model":"nova-lite","input":"Hi"` + extra + `}` }
	items := func(list string) string { return `{"model":"nova-lite","input":[` + list + `]}` }
	user := func(parts string) string { return items(`{"role":"user","content":[` + parts + `]}`) }
	fn := `{"type":"function","name":"get_weather","parameters":{"type":"object"}}`
	cases := []struct {
		name, body string
		status     int
		param      string
		match      string
	}{
		{"empty body", ``, 400, "", "empty"},
		{"not json", `{"model":`, 400, "", "not valid JSON"},
		{"array body", `[1]`, 400, "", "JSON object"},
		{"no model", `{"input":"Hi"}`, 400, "model", "model"},
		{"model not a string", `{"model":3,"input":"Hi"}`, 400, "model", "model"},
		{"unknown model", `{"model":"gpt-9","input":"Hi"}`, 404, "model", "gpt-9"},
		{"embedding model", `{"model":"titan-embed","input":"Hi"}`, 404, "model", "titan-embed"},
		{"no input", `{"model":"nova-lite"}`, 400, "input", "input"},
		{"blank input", req(`,"input":"  "`), 400, "input", "empty"},
		{"input a number", `{"model":"nova-lite","input":7}`, 400, "input", "string or an array"},
		{"empty input list", items(``), 400, "input", "empty"},
		{"item not an object", items(`"hi"`), 400, "input[0]", "input item"},
		{"item without type", items(`{"content":"x"}`), 400, "input[0].type", "type"},
		{"unknown item type", items(`{"type":"web_search_call","id":"x"}`), 400, "input[0].type", "web_search_call"},
		{"item reference", items(`{"type":"item_reference","id":"msg_1"}`), 400, "input[0].type", "item_reference"},
		{"bad role", items(`{"role":"tool","content":"x"}`), 400, "input[0].role", "tool"},
		{"message without content", items(`{"type":"message","role":"user"}`), 400, "input[0].content", "content"},
		{"content a number", items(`{"role":"user","content":5}`), 400, "input[0].content", "string or an array"},
		{"part without type", user(`{"text":"x"}`), 400, "input[0].content[0].type", "type"},
		{"unknown part", user(`{"type":"input_video","url":"x"}`), 400, "input[0].content[0].type", "input_video"},
		{"text part without text", user(`{"type":"input_text"}`), 400, "input[0].content[0].text", "text"},
		{"image file_id", user(`{"type":"input_image","file_id":"file-1"}`), 400, "input[0].content[0].file_id", "Files API"},
		{"image without url", user(`{"type":"input_image"}`), 400, "input[0].content[0].image_url", "image_url"},
		{"image bad data url", user(`{"type":"input_image","image_url":"data:image/png;base64"}`), 400, "input[0].content[0].image_url", "data URI"},
		{"image ftp url", user(`{"type":"input_image","image_url":"ftp://example.com/a.png"}`), 400, "input[0].content[0].image_url", "URL"},
		{"image private address", user(`{"type":"input_image","image_url":"http://127.0.0.1:1/latest/meta-data"}`), 400, "input[0].content[0].image_url", "127.0.0.1"},
		{"file file_id", user(`{"type":"input_file","file_id":"file-1"}`), 400, "input[0].content[0].file_id", "Files API"},
		{"file without data", user(`{"type":"input_file","filename":"a.pdf"}`), 400, "input[0].content[0].file_data", "file_data"},
		{"image in a system message", items(`{"role":"system","content":[{"type":"input_image","image_url":"data:image/png;base64,AAAA"}]}`), 400, "input[0].content[0].type", "system"},
		{"assistant input_image", items(`{"role":"assistant","content":[{"type":"input_image","image_url":"x"}]}`), 400, "input[0].content[0].type", "assistant"},
		{"function_call without call_id", items(`{"type":"function_call","name":"f","arguments":"{}"}`), 400, "input[0].call_id", "call_id"},
		{"function_call without name", items(`{"type":"function_call","call_id":"c1","arguments":"{}"}`), 400, "input[0].name", "name"},
		{"function_call without arguments", items(`{"type":"function_call","call_id":"c1","name":"f"}`), 400, "input[0].arguments", "arguments"},
		{"function_call bad arguments", items(`{"role":"user","content":"x"},{"type":"function_call","call_id":"c1","name":"f","arguments":"[1]"}`), 400, "input[1].tool_calls[0].arguments", "JSON object"},
		{"output without call_id", items(`{"type":"function_call_output","output":"x"}`), 400, "input[0].call_id", "call_id"},
		{"output without output", items(`{"type":"function_call_output","call_id":"c1"}`), 400, "input[0].output", "output"},
		{"custom call input not a string", items(`{"type":"custom_tool_call","call_id":"c1","name":"f","input":{}}`), 400, "input[0].input", "string"},
		{"foreign encrypted content", items(`{"type":"reasoning","summary":[],"encrypted_content":"qr1.!!"},{"role":"assistant","content":"x"},{"role":"user","content":"y"}`), 400, "input[0].encrypted_content", "unchanged"},
		{"instructions not a string", req(`,"instructions":["x"]`), 400, "instructions", "string"},
		{"background", req(`,"background":true`), 400, "background", "background"},
		{"conversation", req(`,"conversation":"conv_1"`), 400, "conversation", "Conversations"},
		{"bad truncation", req(`,"truncation":"middle"`), 400, "truncation", "middle"},
		{"bad include", req(`,"include":["everything"]`), 400, "include[0]", "everything"},
		{"max_output_tokens zero", req(`,"max_output_tokens":0`), 400, "max_output_tokens", "at least 1"},
		{"max_output_tokens a string", req(`,"max_output_tokens":"9"`), 400, "max_output_tokens", "max_output_tokens"},
		{"temperature too high", req(`,"temperature":1.5`), 400, "temperature", "temperature"},
		{"top_p negative", req(`,"top_p":-1`), 400, "top_p", "top_p"},
		{"stream not a bool", req(`,"stream":"yes"`), 400, "stream", "stream"},
		{"store not a bool", req(`,"store":"no"`), 400, "store", "store"},
		{"metadata not an object", req(`,"metadata":"x"`), 400, "metadata", "metadata"},
		{"bad reasoning effort", req(`,"reasoning":{"effort":"extreme"}`), 400, "reasoning.effort", "extreme"},
		{"bad reasoning summary", req(`,"reasoning":{"summary":"long"}`), 400, "reasoning.summary", "long"},
		{"text.format without type", req(`,"text":{"format":{}}`), 400, "text.format.type", "type"},
		{"text.format unknown", req(`,"text":{"format":{"type":"yaml"}}`), 400, "text.format.type", "yaml"},
		{"json_schema without name", req(`,"text":{"format":{"type":"json_schema","schema":{"type":"object"}}}`), 400, "text.format.name", "name"},
		{"json_schema without schema", req(`,"text":{"format":{"type":"json_schema","name":"x"}}`), 400, "text.format.schema", "schema"},
		{"json_schema bad name", req(`,"text":{"format":{"type":"json_schema","name":"a b","schema":{"type":"object"}}}`), 400, "text.format.name", "a b"},
		{"tools not an array", req(`,"tools":{}`), 400, "tools", "tools"},
		{"tool without type", req(`,"tools":[{"name":"f"}]`), 400, "tools[0].type", "type"},
		{"web_search tool", req(`,"tools":[{"type":"web_search"}]`), 400, "tools[0].type", "web_search"},
		{"file_search tool", req(`,"tools":[` + fn + `,{"type":"file_search","vector_store_ids":["vs"]}]`), 400, "tools[1].type", "file_search"},
		{"computer_use tool", req(`,"tools":[{"type":"computer_use_preview","display_width":1024}]`), 400, "tools[0].type", "computer_use_preview"},
		{"unknown tool type", req(`,"tools":[{"type":"teleport"}]`), 400, "tools[0].type", "teleport"},
		{"function without name", req(`,"tools":[{"type":"function","parameters":{}}]`), 400, "tools[0].name", "name"},
		{"function bad name", req(`,"tools":[{"type":"function","name":"get weather"}]`), 400, "tools[0].name", "get weather"},
		{"bad tool_choice string", req(`,"tools":[` + fn + `],"tool_choice":"sometimes"`), 400, "tool_choice", "sometimes"},
		{"tool_choice unknown tool", req(`,"tools":[` + fn + `],"tool_choice":{"type":"function","name":"other"}`), 400, "tool_choice", "other"},
		{"tool_choice without name", req(`,"tools":[` + fn + `],"tool_choice":{"type":"function"}`), 400, "tool_choice.name", "name"},
		{"tool_choice built-in", req(`,"tools":[` + fn + `],"tool_choice":{"type":"web_search"}`), 400, "tool_choice.type", "web_search"},
		{"tool_choice required without tools", req(`,"tool_choice":"required"`), 400, "tool_choice", "tools"},
		{"unknown previous_response_id", req(`,"previous_response_id":"resp_nope"`), 404, "previous_response_id", "resp_nope"},
		{"too large", req(`,"instructions":"` + strings.Repeat("x", 70<<10) + `"`), 413, "", "limit"},
	}
	if len(cases) < 40 {
		t.Fatalf("only %d cases", len(cases))
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			postInvalid(t, g, "/v1/responses", c.body, c.status, c.param, c.match)
		})
	}
}
