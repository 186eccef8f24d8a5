package responses

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/quarry-dev/quarry/bedrock"
	"github.com/quarry-dev/quarry/internal/accesslog"
	"github.com/quarry-dev/quarry/internal/config"
	"github.com/quarry-dev/quarry/internal/openai"
	"github.com/quarry-dev/quarry/internal/upstream"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// golden compares got (as indented JSON) with testdata/<name>.
func golden(t *testing.T, name string, got any) {
	t.Helper()
	b, err := json.MarshalIndent(got, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	b = append(b, '\n')
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(b, want) {
		t.Errorf("%s differs (run with -update to accept):\n%s", path, b)
	}
}

// quickstartChat is the chat surface on the quick start's models, with no
// Bedrock behind it (translation does no I/O).
func quickstartChat(t *testing.T) *openai.Handler {
	t.Helper()
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	cfg, err := config.Load("../../examples/quickstart.yaml")
	if err != nil {
		t.Fatal(err)
	}
	reg, err := upstream.New(context.Background(), cfg, upstream.Options{EmulatorURL: "http://bedrock.invalid"})
	if err != nil {
		t.Fatal(err)
	}
	return openai.NewHandler(reg, openai.Options{})
}

// translation is what a golden file of a request holds.
type translation struct {
	Chat     map[string]json.RawMessage `json:"chat_request,omitempty"`
	Plan     *plan                      `json:"plan,omitempty"`
	Converse *bedrock.ConverseRequest   `json:"converse,omitempty"`
	JSONTool string                     `json:"json_tool,omitempty"`
	Error    *openai.Error              `json:"error,omitempty"`
}

func translate(t *testing.T, chat *openai.Handler, body []byte) translation {
	t.Helper()
	d, aerr := decodeRequest(body, nil)
	if aerr != nil {
		return translation{Error: aerr}
	}
	tr, aerr := chat.Translate(context.Background(), d.members)
	out := translation{Chat: d.members, Plan: &d.plan}
	if aerr != nil {
		out.Error = d.rename(aerr)
		return out
	}
	out.Converse, out.JSONTool = tr.Request, tr.JSONTool
	return out
}

// TestTranslateGolden translates each request in testdata/requests to the
// chat request members and the Converse request, against golden files.
// codex-0.171.0.json is a real Codex CLI request (testdata/clients): as
// sent, its built-in web_search tool gets the 400; without it (Codex's
// web_search = "disabled") the rest translates.
func TestTranslateGolden(t *testing.T) {
	chat := quickstartChat(t)
	files, _ := filepath.Glob("testdata/requests/*.json")
	n := 0
	for _, f := range files {
		if strings.HasSuffix(f, ".golden.json") {
			continue
		}
		n++
		name := strings.TrimSuffix(filepath.Base(f), ".json")
		t.Run(name, func(t *testing.T) {
			body, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			golden(t, "requests/"+name+".golden.json", translate(t, chat, body))
			if name != "codex-0.171.0" {
				return
			}
			var req map[string]any
			json.Unmarshal(body, &req)
			var tools []any
			for _, tool := range req["tools"].([]any) {
				if tool.(map[string]any)["type"] != "web_search" {
					tools = append(tools, tool)
				}
			}
			req["tools"] = tools
			b, _ := json.Marshal(req)
			tr := translate(t, chat, b)
			if tr.Error != nil {
				t.Fatalf("Codex request without web_search: %+v", tr.Error)
			}
			golden(t, "requests/codex-0.171.0-no-web-search.golden.json", tr)
		})
	}
	if n < 5 {
		t.Fatalf("only %d requests", n)
	}
}

// TestStreamGolden feeds recorded-shape Bedrock event sequences through the
// stream encoder and compares the Responses events with golden files.
func TestStreamGolden(t *testing.T) {
	text := func(i int, s string) bedrock.StreamEvent {
		return bedrock.StreamEvent{ContentBlockDelta: &bedrock.ContentBlockDeltaEvent{ContentBlockIndex: i, Delta: bedrock.ContentBlockDelta{Text: s}}}
	}
	tool := func(i int, id, name string) bedrock.StreamEvent {
		return bedrock.StreamEvent{ContentBlockStart: &bedrock.ContentBlockStartEvent{ContentBlockIndex: i, Start: bedrock.ContentBlockStart{ToolUse: &bedrock.ToolUseBlockStart{ToolUseID: id, Name: name}}}}
	}
	input := func(i int, s string) bedrock.StreamEvent {
		return bedrock.StreamEvent{ContentBlockDelta: &bedrock.ContentBlockDeltaEvent{ContentBlockIndex: i, Delta: bedrock.ContentBlockDelta{ToolUse: &bedrock.ToolUseBlockDelta{Input: s}}}}
	}
	reason := func(i int, text, sig string) bedrock.StreamEvent {
		return bedrock.StreamEvent{ContentBlockDelta: &bedrock.ContentBlockDeltaEvent{ContentBlockIndex: i, Delta: bedrock.ContentBlockDelta{ReasoningContent: &bedrock.ReasoningContentBlockDelta{Text: text, Signature: sig}}}}
	}
	stop := func(i int) bedrock.StreamEvent {
		return bedrock.StreamEvent{ContentBlockStop: &bedrock.ContentBlockStopEvent{ContentBlockIndex: i}}
	}
	end := func(reason string) []bedrock.StreamEvent {
		return []bedrock.StreamEvent{{MessageStop: &bedrock.MessageStopEvent{StopReason: reason}},
			{Metadata: &bedrock.ConverseStreamMetadataEvent{Usage: bedrock.TokenUsage{InputTokens: 12, OutputTokens: 7, CacheReadInputTokens: 3}}}}
	}
	start := []bedrock.StreamEvent{{MessageStart: &bedrock.MessageStartEvent{Role: "assistant"}}}
	cat := func(parts ...[]bedrock.StreamEvent) []bedrock.StreamEvent {
		var out []bedrock.StreamEvent
		for _, p := range parts {
			out = append(out, p...)
		}
		return out
	}
	for _, tc := range []struct {
		name     string
		plan     plan
		jsonTool string
		first    bool
		events   []bedrock.StreamEvent
	}{
		{"text", plan{Model: "nova-lite"}, "", false, cat(start, []bedrock.StreamEvent{text(0, "Hello"), text(0, " world"), stop(0)}, end("end_turn"))},
		{"parallel_tools", plan{Model: "claude-sonnet", Namespaces: map[string]string{"spawn_agent": "multi_agent_v1"}}, "", false, cat(start, []bedrock.StreamEvent{
			text(0, "Checking."), stop(0), tool(1, "toolu_1", "get_weather"), input(1, `{"city":`), input(1, `"Paris"}`), stop(1),
			tool(2, "toolu_2", "spawn_agent"), input(2, `{}`), stop(2)}, end("tool_use"))},
		{"first_tool_only", plan{Model: "claude-sonnet"}, "", true, cat(start, []bedrock.StreamEvent{
			tool(0, "toolu_1", "a"), input(0, `{}`), stop(0), tool(1, "toolu_2", "b"), input(1, `{}`), stop(1)}, end("tool_use"))},
		{"reasoning_summary_encrypted", plan{Model: "claude-sonnet", Summary: true, IncludeEncrypted: true}, "", false, cat(start, []bedrock.StreamEvent{
			reason(0, "Think", ""), reason(0, "ing.", ""), reason(0, "", "sig-1"), stop(0), text(1, "Answer"), stop(1)}, end("end_turn"))},
		{"reasoning_hidden", plan{Model: "claude-sonnet"}, "", false, cat(start, []bedrock.StreamEvent{
			reason(0, "Thinking.", "sig-1"), stop(0), text(1, "Answer"), stop(1)}, end("max_tokens"))},
		{"json_tool", plan{Model: "nova-lite"}, "person", false, cat(start, []bedrock.StreamEvent{
			text(0, "<thinking>x</thinking>"), stop(0), tool(1, "t1", "person"), input(1, `{"name":`), input(1, `"Ann"}`), stop(1)}, end("tool_use"))},
		{"custom_tool", plan{Model: "claude-sonnet", Custom: map[string]bool{"apply_patch": true}}, "", false, cat(start, []bedrock.StreamEvent{
			tool(0, "t1", "apply_patch"), input(0, `{"input":"*** Begin Patch"}`), stop(0)}, end("tool_use"))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []map[string]any
			seq := 0
			emit := func(name string, ev map[string]any) error {
				ev["type"], ev["sequence_number"] = name, seq
				seq++
				b, _ := json.Marshal(ev)
				var m map[string]any
				json.Unmarshal(b, &m)
				got = append(got, m)
				return nil
			}
			d := &decoded{req: &request{Model: tc.plan.Model}, plan: tc.plan}
			resp := newResponse(d, "resp_test", 1700000000, "", false)
			a := newAssembler(&d.plan, resp, tc.jsonTool, tc.first, emit)
			var reason string
			var u bedrock.TokenUsage
			for _, ev := range tc.events {
				switch {
				case ev.ContentBlockStart != nil:
					a.toolStart(ev.ContentBlockStart.ContentBlockIndex, ev.ContentBlockStart.Start.ToolUse)
				case ev.ContentBlockDelta != nil:
					a.delta(ev.ContentBlockDelta.ContentBlockIndex, &ev.ContentBlockDelta.Delta)
				case ev.ContentBlockStop != nil:
					a.stop(ev.ContentBlockStop.ContentBlockIndex)
				case ev.MessageStop != nil:
					reason = ev.MessageStop.StopReason
				case ev.Metadata != nil:
					u = ev.Metadata.Usage
				}
			}
			a.finish(reason, u)
			a.send("response."+terminal(resp.Status), map[string]any{"response": a.publicResp()})
			golden(t, "streams/"+tc.name+".golden.json", stableIDs(got))
		})
	}
}

// stableIDs replaces the random item IDs by their order of appearance.
func stableIDs(v any) any {
	b, _ := json.Marshal(v)
	s := string(b)
	seen := map[string]string{}
	for _, prefix := range []string{"msg_", "fc_", "rs_", "ctc_"} {
		for i := strings.Index(s, `"`+prefix); i >= 0; i = strings.Index(s, `"`+prefix) {
			j := strings.IndexByte(s[i+1:], '"')
			id := s[i+1 : i+1+j]
			if _, ok := seen[id]; !ok {
				seen[id] = strings.ToUpper(prefix) + string(rune('0'+len(seen)))
			}
			s = strings.ReplaceAll(s, `"`+id+`"`, `"`+seen[id]+`"`)
		}
	}
	var out any
	json.Unmarshal([]byte(s), &out)
	return out
}

var _ = accesslog.NewID
