package elastic

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/quarry-dev/quarry/bedrock"
)

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func f64(v float64) *float64 { return &v }
func intp(v int) *int        { return &v }

func TestCompletionRequestGolden(t *testing.T) {
	for _, c := range []struct {
		name   string
		inputs []string
		ts     TaskSettings
		want   string
	}{
		{"no settings: nothing but the text (no default max tokens)", []string{"hi"}, TaskSettings{},
			`{"messages":[{"role":"user","content":[{"text":"hi"}]}]}`},
		{"every setting, top_k as a float additional field", []string{"a", "b"},
			TaskSettings{Temperature: f64(0.2), TopP: f64(0.9), TopK: f64(0.5), MaxNewTokens: intp(64)},
			`{"messages":[{"role":"user","content":[{"text":"a"},{"text":"b"}]}],"inferenceConfig":{"maxTokens":64,"temperature":0.2,"topP":0.9},"additionalModelRequestFields":{"top_k":0.5}}`},
	} {
		if got := mustJSON(t, completionRequest(c.inputs, c.ts)); got != c.want {
			t.Errorf("%s:\n got %s\nwant %s", c.name, got, c.want)
		}
	}
}

func TestEmbeddingRequestsGolden(t *testing.T) {
	for _, c := range []struct {
		name string
		v    any
		want string
	}{
		{"titan", titanRequest("how big"), `{"inputText":"how big"}`},
		{"cohere default input type", cohereRequest("cohere.embed-english-v3", []string{"a", "b"}, "", ""),
			`{"texts":["a","b"],"input_type":"search_document"}`},
		{"cohere search, truncate", cohereRequest("cohere.embed-english-v3", []string{"q"}, "search", "end"),
			`{"texts":["q"],"input_type":"search_query","truncate":"END"}`},
		{"cohere v4 floats", cohereRequest("cohere.embed-v4:0", []string{"a"}, "clustering", ""),
			`{"texts":["a"],"input_type":"clustering","embedding_types":["float"]}`},
	} {
		if got := mustJSON(t, c.v); got != c.want {
			t.Errorf("%s:\n got %s\nwant %s", c.name, got, c.want)
		}
	}
	in := make([]string, 200)
	if b := batches(in, cohereBatch); len(b) != 3 || len(b[0]) != 96 || len(b[2]) != 8 {
		t.Errorf("cohere batches %d", len(b))
	}
	if b := batches(in[:3], titanBatch); len(b) != 3 {
		t.Errorf("titan batches %d", len(b))
	}
}

func TestViewGolden(t *testing.T) {
	s := &Settings{ID: "emb", TaskType: taskTextEmbedding, Region: "us-east-1", Model: "amazon.titan-embed-text-v2:0",
		Provider: "amazontitan", RequestsPerMinute: 240, Dimensions: 1024, Similarity: "cosine", Chunking: defaultChunking()}
	want := `{"inference_id":"emb","task_type":"text_embedding","service":"amazonbedrock","service_settings":{"region":"us-east-1","model":"amazon.titan-embed-text-v2:0","provider":"AMAZONTITAN","rate_limit":{"requests_per_minute":240},"dimensions":1024,"similarity":"cosine"},"task_settings":{},"chunking_settings":{"strategy":"sentence","max_chunk_size":250,"sentence_overlap":1}}`
	if got := mustJSON(t, s.view()); got != want {
		t.Errorf("\n got %s\nwant %s", got, want)
	}
	// Round trip through the stored form, secrets apart.
	e, err := toStore(s, Credentials{"AK", "SK"})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(e.ServiceSettings), "SK") || e.Secrets[secretSecretKey] != "SK" {
		t.Errorf("stored %s / %v", e.ServiceSettings, e.Secrets)
	}
	back, creds, err := fromStore(e)
	if err != nil || mustJSON(t, back.view()) != want || creds.SecretKey != "SK" {
		t.Errorf("round trip: %v %+v", err, back)
	}
}

func TestChatConverseGolden(t *testing.T) {
	body := `{"model":"ignored","messages":[
		{"role":"system","content":"Be brief."},
		{"role":"user","content":[{"type":"text","text":"Weather in Paris?"}]},
		{"role":"assistant","content":"","tool_calls":[{"id":"c1","type":"function","function":{"name":"weather","arguments":"{\"city\":\"Paris\"}"}}]},
		{"role":"tool","tool_call_id":"c1","content":"sunny"},
		{"role":"user","content":"thanks"}],
		"tools":[{"type":"function","function":{"name":"weather","description":"d","parameters":{"type":"object"}}}],
		"tool_choice":"required","max_completion_tokens":50,"stop":["END"],"temperature":0.3}`
	req, e := parseChat([]byte(body))
	if e != nil {
		t.Fatal(e)
	}
	got, e := chatConverse(req, TaskSettings{Temperature: f64(0.9), TopP: f64(0.5), TopK: f64(0.2)})
	if e != nil {
		t.Fatal(e)
	}
	want := `{"messages":[{"role":"user","content":[{"text":"Weather in Paris?"}]},` +
		`{"role":"assistant","content":[{"toolUse":{"toolUseId":"c1","name":"weather","input":{"city":"Paris"}}}]},` +
		`{"role":"user","content":[{"toolResult":{"toolUseId":"c1","content":[{"text":"sunny"}]}},{"text":"thanks"}]}],` +
		`"system":[{"text":"Be brief."}],"inferenceConfig":{"maxTokens":50,"temperature":0.3,"topP":0.5,"stopSequences":["END"]},` +
		`"toolConfig":{"tools":[{"toolSpec":{"name":"weather","description":"d","inputSchema":{"json":{"type":"object"}}}}],"toolChoice":{"any":{}}},` +
		`"additionalModelRequestFields":{"top_k":0.2}}`
	if s := mustJSON(t, got); s != want {
		t.Errorf("\n got %s\nwant %s", s, want)
	}
	for _, bad := range []struct{ body, reason string }{
		{`{"messages":[],"colour":1}`, "[chat_completion_request] unknown field [colour]"},
		{`{"messages":[]}`, "Validation Failed: 1: Field [messages] cannot be empty;"},
	} {
		if _, e := parseChat([]byte(bad.body)); e == nil || e.Reason != bad.reason {
			t.Errorf("got %v, want %q", e, bad.reason)
		}
	}
}

func TestChunkerGolden(t *testing.T) {
	c := newChunker("chatcmpl-1", "m")
	events := []bedrock.StreamEvent{
		{MessageStart: &bedrock.MessageStartEvent{Role: "assistant"}},
		{ContentBlockDelta: &bedrock.ContentBlockDeltaEvent{Delta: bedrock.ContentBlockDelta{Text: "Hi"}}},
		{ContentBlockStart: &bedrock.ContentBlockStartEvent{ContentBlockIndex: 1, Start: bedrock.ContentBlockStart{ToolUse: &bedrock.ToolUseBlockStart{ToolUseID: "t1", Name: "f"}}}},
		{ContentBlockDelta: &bedrock.ContentBlockDeltaEvent{ContentBlockIndex: 1, Delta: bedrock.ContentBlockDelta{ToolUse: &bedrock.ToolUseBlockDelta{Input: `{"a":1}`}}}},
		{ContentBlockStop: &bedrock.ContentBlockStopEvent{ContentBlockIndex: 1}},
		{MessageStop: &bedrock.MessageStopEvent{StopReason: "tool_use"}},
		{Metadata: &bedrock.ConverseStreamMetadataEvent{Usage: bedrock.TokenUsage{InputTokens: 3, OutputTokens: 4}}},
	}
	var got []string
	for _, ev := range events {
		for _, ch := range c.event(ev) {
			got = append(got, mustJSON(t, ch))
		}
	}
	want := []string{
		`{"id":"chatcmpl-1","choices":[{"delta":{"role":"assistant"},"index":0}],"model":"m","object":"chat.completion.chunk"}`,
		`{"id":"chatcmpl-1","choices":[{"delta":{"content":"Hi"},"index":0}],"model":"m","object":"chat.completion.chunk"}`,
		`{"id":"chatcmpl-1","choices":[{"delta":{"tool_calls":[{"index":0,"id":"t1","type":"function","function":{"name":"f","arguments":""}}]},"index":0}],"model":"m","object":"chat.completion.chunk"}`,
		`{"id":"chatcmpl-1","choices":[{"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"a\":1}"}}]},"index":0}],"model":"m","object":"chat.completion.chunk"}`,
		`{"id":"chatcmpl-1","choices":[{"delta":{},"finish_reason":"tool_calls","index":0}],"model":"m","object":"chat.completion.chunk"}`,
		`{"id":"chatcmpl-1","choices":[],"model":"m","object":"chat.completion.chunk","usage":{"completion_tokens":4,"prompt_tokens":3,"total_tokens":7}}`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("\n got %s\nwant %s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
