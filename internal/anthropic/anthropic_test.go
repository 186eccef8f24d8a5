package anthropic

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/quarry-dev/quarry/bedrock"
	"github.com/quarry-dev/quarry/internal/config"
	"github.com/quarry-dev/quarry/internal/upstream"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata from the actual output")

// golden compares got with testdata/name.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		os.MkdirAll(filepath.Dir(path), 0o755)
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file:\n got: %s\nwant: %s", name, got, want)
	}
}

func indent(t *testing.T, b []byte) []byte {
	t.Helper()
	var out bytes.Buffer
	if err := json.Indent(&out, b, "", "  "); err != nil {
		t.Fatalf("%v: %s", err, b)
	}
	return append(out.Bytes(), '\n')
}

// requests are Messages bodies the golden tests translate.
var requests = []struct{ name, body string }{
	{"plain", `{"model":"m","max_tokens":100,"messages":[{"role":"user","content":"Hello"}],"stream":true}`},
	{"system-moved", `{"model":"m","messages":[{"role":"user","content":"Hi"},{"role":"system","content":"Be brief."},{"role":"assistant","content":"Hello"},{"role":"user","content":[{"type":"text","text":"Again"}]}],"system":[{"type":"text","text":"You are kind.","cache_control":{"type":"ephemeral","ttl":"1h"}}],"max_tokens":50}`},
	{"system-message-only", `{"model":"m","max_tokens":5,"messages":[{"role":"system","content":[{"type":"text","text":"Rules"}]},{"role":"user","content":"Q"}]}`},
	{"refused-members", `{"model":"m","max_tokens":10,"metadata":{"user_id":"u"},"context_management":{"edits":[]},"output_config":{"effort":"high"},"service_tier":"auto","anthropic_beta":["token-efficient-tools-2025-02-19","bogus-1"],"messages":[{"role":"user","content":"x"}],"temperature":0.5,"top_k":3,"stop_sequences":["END"]}`},
	{"tools-thinking", `{"model":"m","max_tokens":4000,"thinking":{"type":"enabled","budget_tokens":1024},
		"tools":[{"name":"get_weather","description":"Weather","input_schema":{"type":"object","properties":{"location":{"type":"string"}}},"cache_control":{"type":"ephemeral"}}],
		"tool_choice":{"type":"any"},
		"messages":[{"role":"user","content":"Weather in Paris?"},
		  {"role":"assistant","content":[{"type":"thinking","thinking":"Let me call it.","signature":"EqQBCkYIBxgCKkB+sig/=="},{"type":"redacted_thinking","data":"cmVkYWN0ZWQ="},{"type":"tool_use","id":"toolu_1","name":"get_weather","input":{"location":"Paris"}}]},
		  {"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_1","content":[{"type":"text","text":"sunny"}],"is_error":false},{"type":"text","text":"Thanks","cache_control":{"type":"ephemeral"}}]}]}`},
	{"search-results", `{"model":"m","max_tokens":10,"messages":[{"role":"user","content":"q"},{"role":"assistant","content":[{"type":"tool_use","id":"t1","name":"search","input":{"q":"x"}}]},{"role":"user","content":[{"type":"tool_result","tool_use_id":"t1","content":[{"type":"search_result","source":"https://example.com/a","title":"A","content":[{"type":"text","text":"found"}],"citations":{"enabled":true}}]},{"type":"search_result","source":"https://example.com/b","title":"B","content":[{"type":"text","text":"more"}]},{"type":"text","text":"Answer with citations"}]}]}`},
	// Untitled documents in two turns: Bedrock refuses two of one name.
	{"documents-across-turns", `{"model":"m","max_tokens":10,"messages":[{"role":"user","content":[{"type":"document","source":{"type":"text","media_type":"text/plain","data":"one"}},{"type":"text","text":"Read"}]},{"role":"assistant","content":"Done"},{"role":"user","content":[{"type":"document","source":{"type":"text","media_type":"text/plain","data":"two"}},{"type":"text","text":"And this"}]}]}`},
	{"media", `{"model":"m","max_tokens":10,"messages":[{"role":"user","content":[{"type":"image","source":{"type":"base64","media_type":"image/png","data":"iVBORw0KGgo="}},{"type":"document","title":"Q3 report: final!","source":{"type":"base64","media_type":"application/pdf","data":"JVBERi0="}},{"type":"document","source":{"type":"text","media_type":"text/plain","data":"plain text"}},{"type":"text","text":"Summarise"}]}]}`},
}

func model(id string, edit func(*upstream.Model)) *upstream.Model {
	m := &upstream.Model{Model: config.Model{Name: "m", ModelID: id, Kind: config.KindChat}, Family: bedrock.ModelFamily(id)}
	m.Shaping.AllowedRoleMetadata = []string{"cache_control"}
	if edit != nil {
		edit(m)
	}
	return m
}

// TestNativeBody pins the Claude body each request becomes: members in the
// client's order and bytes, less what Bedrock refuses.
func TestNativeBody(t *testing.T) {
	m := model("us.anthropic.claude-sonnet-4-20250514-v1:0", func(m *upstream.Model) { m.SystemPrompt = "Gateway rules." })
	for _, c := range requests {
		t.Run(c.name, func(t *testing.T) {
			req, aerr := decodeRequest([]byte(c.body), false)
			if aerr != nil {
				t.Fatal(aerr)
			}
			betas := filterBetas([]string{"interleaved-thinking-2025-05-14, made-up-2030-01-01"}, req.member("anthropic_beta"), allowedBetas(m))
			sp := ""
			if c.name == "plain" {
				sp = m.SystemPrompt
			}
			body, dropped := nativeBody(req, betas, sp, nil)
			if !json.Valid(body) {
				t.Fatalf("not JSON: %s", body)
			}
			golden(t, "native/"+c.name+".json", append(body, '\n'))
			if c.name == "refused-members" && strings.Join(dropped, ",") != "metadata,context_management,output_config,service_tier" {
				t.Errorf("dropped %v", dropped)
			}
			// Every message that is not a system entry keeps its bytes.
			for _, raw := range req.rawMessages {
				if !bytes.Contains(body, raw) {
					t.Errorf("message %s is not in the body byte for byte", raw)
				}
			}
		})
	}
}

// TestToConverse pins the Converse request each request becomes for Nova.
func TestToConverse(t *testing.T) {
	m := model("us.amazon.nova-lite-v1:0", func(m *upstream.Model) {
		m.SystemPrompt = "Gateway rules."
		m.Defaults = map[string]any{"temperature": 0.3, "max_completion_tokens": int64(1024)}
		m.Guardrail = &config.Guardrail{Identifier: "g1", Version: "1", Trace: "enabled"}
	})
	for _, c := range requests {
		t.Run(c.name, func(t *testing.T) {
			req, aerr := decodeRequest([]byte(c.body), false)
			if aerr != nil {
				t.Fatal(aerr)
			}
			creq, aerr := toConverse(req, m)
			if c.name == "search-results" {
				// Claude only: a clear 400 naming the block.
				if aerr == nil || aerr.Status != 400 || !strings.Contains(aerr.Msg, "messages.2.content.0.content.0.type: search_result") {
					t.Errorf("search results on Nova: %+v", aerr)
				}
				return
			}
			if aerr != nil {
				t.Fatal(aerr)
			}
			b, _ := json.Marshal(creq)
			golden(t, "converse/"+c.name+".json", indent(t, b))
		})
	}
}

// TestConverseAnswer pins the Message a Converse answer becomes.
func TestConverseAnswer(t *testing.T) {
	var resp bedrock.ConverseResponse
	json.Unmarshal([]byte(`{"output":{"message":{"role":"assistant","content":[
		{"reasoningContent":{"reasoningText":{"text":"Hmm.","signature":"sig=="}}},
		{"text":"Calling two tools."},
		{"toolUse":{"toolUseId":"t1","name":"get_weather","input":{"location":"Paris"}}},
		{"toolUse":{"toolUseId":"t2","name":"get_time","input":{}}}]}},
		"stopReason":"tool_use","usage":{"inputTokens":10,"outputTokens":20,"totalTokens":45,"cacheReadInputTokens":5,"cacheWriteInputTokens":10}}`), &resp)
	b, _ := json.Marshal(fromConverse(&resp, "msg_1", "nova-lite"))
	golden(t, "converse-answer.json", indent(t, b))
}

// TestStreamTranslator pins the Anthropic events of a ConverseStream with
// thinking, text and two parallel tool calls.
func TestStreamTranslator(t *testing.T) {
	var evs []bedrock.StreamEvent
	for _, line := range strings.Split(strings.TrimSpace(`
{"MessageStart":{"role":"assistant"}}
{"ContentBlockDelta":{"contentBlockIndex":0,"delta":{"reasoningContent":{"text":"Think"}}}}
{"ContentBlockDelta":{"contentBlockIndex":0,"delta":{"reasoningContent":{"signature":"c2ln"}}}}
{"ContentBlockStop":{"contentBlockIndex":0}}
{"ContentBlockDelta":{"contentBlockIndex":1,"delta":{"text":"Hello"}}}
{"ContentBlockDelta":{"contentBlockIndex":1,"delta":{"text":" \"world\" <&>"}}}
{"ContentBlockStop":{"contentBlockIndex":1}}
{"ContentBlockStart":{"contentBlockIndex":2,"start":{"toolUse":{"toolUseId":"t1","name":"get_weather"}}}}
{"ContentBlockDelta":{"contentBlockIndex":2,"delta":{"toolUse":{"input":"{\"location\":"}}}}
{"ContentBlockDelta":{"contentBlockIndex":2,"delta":{"toolUse":{"input":"\"Paris\"}"}}}}
{"ContentBlockStop":{"contentBlockIndex":2}}
{"ContentBlockStart":{"contentBlockIndex":3,"start":{"toolUse":{"toolUseId":"t2","name":"get_time"}}}}
{"ContentBlockDelta":{"contentBlockIndex":3,"delta":{"toolUse":{"input":"{}"}}}}
{"ContentBlockStop":{"contentBlockIndex":3}}
{"MessageStop":{"stopReason":"tool_use"}}
{"Metadata":{"usage":{"inputTokens":12,"outputTokens":30,"totalTokens":42}}}`), "\n") {
		var ev bedrock.StreamEvent
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatal(err)
		}
		evs = append(evs, ev)
	}
	tr := &streamTranslator{id: "msg_1", model: "nova-lite"}
	var out bytes.Buffer
	for i := range evs {
		for _, e := range tr.events(&evs[i]) {
			out.WriteString("event: " + e.typ + "\ndata: " + string(e.data) + "\n\n")
		}
	}
	for _, e := range tr.finish() {
		t.Errorf("finish after metadata wrote %s", e.typ)
	}
	golden(t, "converse-stream.txt", out.Bytes())
}

// TestAppendTextDelta checks the hand-written text delta against
// encoding/json.
func TestAppendTextDelta(t *testing.T) {
	for _, s := range []string{"", "plain", "quote \" and \\ and \n", "<tag>&", "\u2028\x01", "é€😀", "bad \xff utf8"} {
		txt := s
		want, _ := json.Marshal(blockDeltaEvent{"content_block_delta", 7, delta{Type: "text_delta", Text: &txt}})
		if got := appendTextDelta(nil, 7, s); !bytes.Equal(got, want) {
			t.Errorf("%q:\n got %s\nwant %s", s, got, want)
		}
	}
}

func TestFilterBetas(t *testing.T) {
	allowed := []string{"a-1", "b-2", "c-3"}
	for _, c := range []struct {
		headers []string
		body    string
		want    string
	}{
		{nil, "", ""},
		{[]string{"a-1,zz-9"}, "", "a-1"},
		{[]string{" c-3 , a-1", "b-2"}, "", "c-3,a-1,b-2"},
		{[]string{"a-1"}, `["a-1","b-2","x"]`, "a-1,b-2"},
		{[]string{",,"}, `[]`, ""},
	} {
		var body json.RawMessage
		if c.body != "" {
			body = json.RawMessage(c.body)
		}
		if got := strings.Join(filterBetas(c.headers, body, allowed), ","); got != c.want {
			t.Errorf("%v %s: %q, want %q", c.headers, c.body, got, c.want)
		}
	}
}

// TestDefaultBetas: each model's defaults hold only what Bedrock documents
// for it, since a beta the model lacks is a 400 ("invalid beta flag") that
// would break every request of a client such as Claude Code, which sends
// interleaved-thinking even to its small model.
func TestDefaultBetas(t *testing.T) {
	for _, c := range []struct {
		id       string
		has, not []string
	}{
		{"anthropic.claude-3-haiku-20240307-v1:0", nil, []string{"interleaved-thinking-2025-05-14", "token-efficient-tools-2025-02-19", "dev-full-thinking-2025-05-14"}},
		{"us.anthropic.claude-3-5-haiku-20241022-v1:0", nil, []string{"interleaved-thinking-2025-05-14", "token-efficient-tools-2025-02-19"}},
		{"anthropic.claude-3-5-sonnet-20241022-v2:0", []string{"computer-use-2024-10-22"}, []string{"interleaved-thinking-2025-05-14"}},
		{"anthropic.claude-3-7-sonnet-20250219-v1:0", []string{"output-128k-2025-02-19", "token-efficient-tools-2025-02-19", "computer-use-2025-01-24"}, []string{"interleaved-thinking-2025-05-14"}},
		{"us.anthropic.claude-sonnet-4-20250514-v1:0", []string{"interleaved-thinking-2025-05-14", "context-1m-2025-08-07"}, []string{"context-management-2025-06-27", "dev-full-thinking-2025-05-14"}},
		{"global.anthropic.claude-sonnet-4-5-20250929-v1:0", []string{"interleaved-thinking-2025-05-14", "context-1m-2025-08-07", "context-management-2025-06-27"}, nil},
		{"us.anthropic.claude-haiku-4-5-20251001-v1:0", []string{"interleaved-thinking-2025-05-14", "context-management-2025-06-27"}, []string{"computer-use-2025-01-24", "context-1m-2025-08-07"}},
		{"us.anthropic.claude-opus-4-5-20251101-v1:0", []string{"interleaved-thinking-2025-05-14", "effort-2025-11-24"}, []string{"context-1m-2025-08-07"}},
	} {
		got := DefaultBetas(c.id)
		for _, b := range c.has {
			if !contains(got, b) {
				t.Errorf("%s: defaults %v lack %s", c.id, got, b)
			}
		}
		for _, b := range c.not {
			if contains(got, b) {
				t.Errorf("%s: defaults %v hold %s", c.id, got, b)
			}
		}
	}
}

// TestNativeResponse: the client's model name replaces Claude's, Bedrock's
// own members go, and everything else (signatures) keeps its bytes.
func TestNativeResponse(t *testing.T) {
	in := `{"amazon-bedrock-guardrailAction":"NONE","id":"msg_bdrk_1","type":"message","role":"assistant","model":"claude-sonnet-4-20250514","content":[{"type":"thinking","thinking":"x","signature":"EqQB\u002b/=="},{"type":"text","text":"hi","citations":null}],"stop_reason":"end_turn","stop_sequence":null,"usage":{"input_tokens":3,"cache_creation_input_tokens":7,"cache_read_input_tokens":0,"output_tokens":2}}`
	out, a, err := nativeResponse([]byte(in), "my-claude")
	if err != nil {
		t.Fatal(err)
	}
	want := `{"id":"msg_bdrk_1","type":"message","role":"assistant","model":"my-claude","content":[{"type":"thinking","thinking":"x","signature":"EqQB\u002b/=="},{"type":"text","text":"hi","citations":null}],"stop_reason":"end_turn","stop_sequence":null,"usage":{"input_tokens":3,"cache_creation_input_tokens":7,"cache_read_input_tokens":0,"output_tokens":2}}`
	if string(out) != want {
		t.Errorf("got  %s\nwant %s", out, want)
	}
	if u := a.usage; u.InputTokens != 3 || u.CacheCreationInputTokens != 7 || u.OutputTokens != 2 || a.stopReason != "end_turn" {
		t.Errorf("answer %+v", a)
	}
	ev := nativeEvent("message_start", []byte(`{"type":"message_start","message":{"id":"m","model":"claude-x","usage":{"input_tokens":5,"cache_read_input_tokens":4,"output_tokens":1}}}`), "alias", &nativeAnswer{})
	if string(ev) != `{"type":"message_start","message":{"id":"m","model":"alias","usage":{"input_tokens":5,"cache_read_input_tokens":4,"output_tokens":1}}}` {
		t.Errorf("message_start: %s", ev)
	}
	ev = nativeEvent("message_stop", []byte(`{"type":"message_stop","amazon-bedrock-invocationMetrics":{"inputTokenCount":1}}`), "alias", &nativeAnswer{})
	if string(ev) != `{"type":"message_stop"}` {
		t.Errorf("message_stop: %s", ev)
	}
}

// TestNativeDefaults: the model's bedrock_<param> defaults and
// additional_model_request_fields fill what the request leaves out of a
// Claude body, never what it sets, and no sampling default goes with
// thinking.
func TestNativeDefaults(t *testing.T) {
	m := model("anthropic.claude-3-5-haiku-20241022-v1:0", func(m *upstream.Model) {
		m.Defaults = map[string]any{"temperature": 0.2, "top_k": int64(40), "stop": []string{"END"}}
		m.Shaping.AdditionalModelRequestFields = map[string]any{"top_p": 0.9, "anthropic_beta": []any{"context-1m-2025-08-07"}, "frobnicate": true}
	})
	for _, c := range []struct{ body, want string }{
		{`{"model":"m","max_tokens":5,"messages":[{"role":"user","content":"x"}]}`, `temperature=0.2 top_k=40 stop_sequences=["END"] top_p=0.9`},
		{`{"model":"m","max_tokens":5,"temperature":1,"stop_sequences":[],"messages":[{"role":"user","content":"x"}]}`, `top_k=40 top_p=0.9`},
		{`{"model":"m","max_tokens":5000,"thinking":{"type":"enabled","budget_tokens":1024},"messages":[{"role":"user","content":"x"}]}`, `stop_sequences=["END"]`},
	} {
		req, aerr := decodeRequest([]byte(c.body), false)
		if aerr != nil {
			t.Fatal(aerr)
		}
		var got []string
		for _, mb := range defaultMembers(req, m) {
			got = append(got, mb.key+"="+string(mb.raw))
		}
		if strings.Join(got, " ") != c.want {
			t.Errorf("%s: %v, want %s", c.body, got, c.want)
		}
	}
	if got := configuredBetas(m); strings.Join(got, ",") != "context-1m-2025-08-07" {
		t.Errorf("configured betas %v", got)
	}
}

func TestFinishError(t *testing.T) {
	m := model("amazon.nova-lite-v1:0", func(m *upstream.Model) { m.Shaping.FinishReasonDenyList = []string{"length"} })
	if e := finishError(m, "max_tokens"); e == nil || e.Status != 422 || !strings.Contains(e.Msg, "max_tokens") || !strings.Contains(e.Msg, "finish_reason_deny_list") {
		t.Errorf("max_tokens: %+v", e)
	}
	if e := finishError(m, "end_turn"); e != nil {
		t.Errorf("end_turn: %+v", e)
	}
}

// TestReplayEvents pins the events a whole Claude answer is replayed as
// (supports_streaming: false).
func TestReplayEvents(t *testing.T) {
	body := `{"id":"msg_1","type":"message","role":"assistant","model":"c","content":[{"type":"thinking","thinking":"Hm.","signature":"sig=="},{"type":"text","text":"Hi \"there\""},{"type":"tool_use","id":"toolu_1","name":"f","input":{"a":1}},{"type":"server_tool_use","id":"srv_1","name":"web_search","input":{}}],"stop_reason":"tool_use","stop_sequence":null,"usage":{"input_tokens":3,"output_tokens":9}}`
	evs, stop, err := replayEvents([]byte(body))
	if err != nil || stop != "tool_use" {
		t.Fatalf("%v %q", err, stop)
	}
	var out bytes.Buffer
	for _, e := range evs {
		if !json.Valid(e.data) {
			t.Errorf("%s: not JSON: %s", e.typ, e.data)
		}
		out.WriteString("event: " + e.typ + "\ndata: " + string(e.data) + "\n\n")
	}
	golden(t, "replay-stream.txt", out.Bytes())
	// What a client accumulates from the events is the answer.
	acc := &bedrock.AnthropicAccumulator{}
	for _, e := range evs {
		ev, err := bedrock.DecodeAnthropicStreamEvent(e.data)
		if err != nil {
			t.Fatal(err)
		}
		if err := acc.Add(ev); err != nil {
			t.Fatal(err)
		}
	}
	r := acc.Response()
	if r.Text() != `Hi "there"` || r.Content[0].Signature != "sig==" || string(r.Content[2].Input) != `{"a":1}` || r.StopReason != "tool_use" {
		t.Errorf("accumulated %+v", r)
	}
}

// FuzzScanObject checks the byte-walking split of an object against
// encoding/json: the same members, in order, each a valid value.
func FuzzScanObject(f *testing.F) {
	for _, c := range requests {
		f.Add(c.body)
	}
	for _, s := range []string{`{}`, ` { "a" : 1 , "b\"c" : [ "x]" , {"}":"\\"} ] , "d":null,"e":-1.5e3 } `, `{"a":"\u00e9"}`, `[1]`, `{"a":}`, `{"a":1`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		members, aerr := scanObject([]byte(body))
		var want map[string]json.RawMessage
		err := json.Unmarshal([]byte(body), &want)
		if aerr != nil {
			if err == nil {
				t.Fatalf("scanObject refused %q, encoding/json took it: %v", body, aerr)
			}
			return
		}
		if err != nil {
			t.Fatalf("scanObject took %q, encoding/json refused it: %v", body, err)
		}
		for _, m := range members {
			if !json.Valid(m.raw) {
				t.Fatalf("member %q: invalid value %q", m.key, m.raw)
			}
			if !bytes.Equal(m.raw, bytes.TrimSpace(want[m.key])) && len(members) == len(want) {
				t.Fatalf("member %q: %q, want %q", m.key, m.raw, want[m.key])
			}
		}
	})
}
