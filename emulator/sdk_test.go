package emulator

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/document"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"
	"github.com/aws/smithy-go"
	"github.com/santhosh-tekuri/jsonschema/v6"
)

// newSDK starts an emulator and returns the official client pointed at it,
// unchanged except BaseEndpoint, static credentials test/test and the region.
func newSDK(t *testing.T, cfg Config) (*bedrockruntime.Client, *Server) {
	t.Helper()
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	srv, err := NewServer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	client := bedrockruntime.New(bedrockruntime.Options{
		Region:           "us-east-1",
		BaseEndpoint:     aws.String(srv.URL),
		Credentials:      credentials.NewStaticCredentialsProvider("test", "test", ""),
		RetryMaxAttempts: 1,
		HTTPClient:       sdkHTTPClient,
	})
	return client, srv
}

// sdkHTTPClient is the HTTP client the official SDK uses in these tests.
// It hands net/http a buffered copy of each request body: the SDK closes
// its own request body stream when an operation returns, which races with
// net/http's write loop still owning it, and the transport then closes the
// connection under the event-stream reader ("use of closed network
// connection", about 8% of streams under -race; the same bug class as
// aws/aws-sdk-go-v2#1825 and #2737). Our own bedrock client sends a
// bytes.Reader and is not affected (0 of 800 streams in the same loop).
var sdkHTTPClient = &http.Client{Transport: bufferedBodyTransport{http.DefaultTransport}}

type bufferedBodyTransport struct{ next http.RoundTripper }

func (t bufferedBodyTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body == nil || r.Body == http.NoBody || strings.HasSuffix(r.URL.Path, "/invoke-with-bidirectional-stream") {
		return t.next.RoundTrip(r) // a bidirectional body streams for the whole session
	}
	data, err := io.ReadAll(r.Body)
	r.Body.Close()
	if err != nil {
		return nil, err
	}
	r = r.Clone(r.Context())
	r.Body = io.NopCloser(bytes.NewReader(data))
	r.ContentLength = int64(len(data))
	return t.next.RoundTrip(r)
}

func userText(s string) []types.Message {
	return []types.Message{{Role: types.ConversationRoleUser, Content: []types.ContentBlock{&types.ContentBlockMemberText{Value: s}}}}
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func replyText(t *testing.T, out *bedrockruntime.ConverseOutput) string {
	t.Helper()
	msg, ok := out.Output.(*types.ConverseOutputMemberMessage)
	if !ok {
		t.Fatalf("output is %T", out.Output)
	}
	var b strings.Builder
	for _, c := range msg.Value.Content {
		if tb, ok := c.(*types.ContentBlockMemberText); ok {
			b.WriteString(tb.Value)
		}
	}
	return b.String()
}

func TestConverseSDK(t *testing.T) {
	client, srv := newSDK(t, Config{})
	ctx := ctxT(t)
	in := &bedrockruntime.ConverseInput{
		ModelId:  aws.String("us.amazon.nova-lite-v1:0"),
		Messages: userText("Explain how solar panels convert sunlight into electricity"),
	}
	out, err := client.Converse(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	text := replyText(t, out)
	if len(strings.Fields(text)) < 5 || !strings.HasSuffix(text, ".") {
		t.Errorf("reply not a sentence: %q", text)
	}
	if out.StopReason != types.StopReasonEndTurn {
		t.Errorf("stopReason %s", out.StopReason)
	}
	u := out.Usage
	if *u.InputTokens != int32(countTokens("Explain how solar panels convert sunlight into electricity")) || *u.OutputTokens != int32(countTokens(text)) || *u.TotalTokens != *u.InputTokens+*u.OutputTokens {
		t.Errorf("usage %d/%d/%d for %q", *u.InputTokens, *u.OutputTokens, *u.TotalTokens, text)
	}
	// Deterministic: same input, same output.
	out2, err := client.Converse(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	if replyText(t, out2) != text {
		t.Errorf("not deterministic")
	}
	// The seed changes it.
	client3, _ := newSDK(t, Config{Seed: 42})
	out3, err := client3.Converse(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	if replyText(t, out3) == text {
		t.Errorf("seed did not change the reply")
	}
	if got := srv.Stats().Requests[OpConverse]; got != 2 {
		t.Errorf("stats Converse = %d", got)
	}
}

func TestConverseSystemMaxTokensStop(t *testing.T) {
	client, _ := newSDK(t, Config{})
	ctx := ctxT(t)
	base := func() *bedrockruntime.ConverseInput {
		return &bedrockruntime.ConverseInput{ModelId: aws.String("anthropic.claude-3-haiku-20240307-v1:0"), Messages: userText("Tell me about mountain hiking safety")}
	}
	plain, err := client.Converse(ctx, base())
	if err != nil {
		t.Fatal(err)
	}
	full := replyText(t, plain)

	in := base()
	in.System = []types.SystemContentBlock{&types.SystemContentBlockMemberText{Value: "You are a pirate captain."}}
	sys, err := client.Converse(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	if st := replyText(t, sys); !strings.HasPrefix(st, "As a pirate captain,") {
		t.Errorf("system prompt ignored: %q", st)
	}

	in = base()
	in.InferenceConfig = &types.InferenceConfiguration{MaxTokens: aws.Int32(5)}
	mt, err := client.Converse(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	if mt.StopReason != types.StopReasonMaxTokens || *mt.Usage.OutputTokens != 5 || !strings.HasPrefix(full, replyText(t, mt)) {
		t.Errorf("maxTokens: %s %d %q", mt.StopReason, *mt.Usage.OutputTokens, replyText(t, mt))
	}

	words := strings.Fields(full)
	stop := words[3]
	in = base()
	in.InferenceConfig = &types.InferenceConfiguration{StopSequences: []string{stop}}
	ss, err := client.Converse(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	if ss.StopReason != types.StopReasonStopSequence || strings.Contains(replyText(t, ss), stop) || !strings.HasPrefix(full, replyText(t, ss)) {
		t.Errorf("stop sequence %q: %s %q", stop, ss.StopReason, replyText(t, ss))
	}
}

// streamEvents collects a ConverseStream's events.
func streamEvents(t *testing.T, client *bedrockruntime.Client, in *bedrockruntime.ConverseStreamInput) ([]types.ConverseStreamOutput, error) {
	t.Helper()
	out, err := client.ConverseStream(ctxT(t), in)
	if err != nil {
		return nil, err
	}
	st := out.GetStream()
	defer st.Close()
	var evs []types.ConverseStreamOutput
	for ev := range st.Events() {
		evs = append(evs, ev)
	}
	return evs, st.Err()
}

func eventNames(evs []types.ConverseStreamOutput) []string {
	var names []string
	for _, ev := range evs {
		switch v := ev.(type) {
		case *types.ConverseStreamOutputMemberMessageStart:
			names = append(names, "messageStart")
		case *types.ConverseStreamOutputMemberContentBlockStart:
			names = append(names, "contentBlockStart")
		case *types.ConverseStreamOutputMemberContentBlockDelta:
			switch v.Value.Delta.(type) {
			case *types.ContentBlockDeltaMemberText:
				names = append(names, "delta:text")
			case *types.ContentBlockDeltaMemberToolUse:
				names = append(names, "delta:toolUse")
			case *types.ContentBlockDeltaMemberReasoningContent:
				names = append(names, "delta:reasoning")
			default:
				names = append(names, "delta:?")
			}
		case *types.ConverseStreamOutputMemberContentBlockStop:
			names = append(names, "contentBlockStop")
		case *types.ConverseStreamOutputMemberMessageStop:
			names = append(names, "messageStop")
		case *types.ConverseStreamOutputMemberMetadata:
			names = append(names, "metadata")
		default:
			names = append(names, "?")
		}
	}
	return names
}

// collapse merges runs of equal names, so sequences compare by shape.
func collapse(names []string) string {
	var out []string
	for _, n := range names {
		if len(out) == 0 || out[len(out)-1] != n {
			out = append(out, n)
		}
	}
	return strings.Join(out, " ")
}

func TestConverseStreamSDK(t *testing.T) {
	client, srv := newSDK(t, Config{})
	prompt := "Describe the history of the printing press in Europe"
	evs, err := streamEvents(t, client, &bedrockruntime.ConverseStreamInput{ModelId: aws.String("anthropic.claude-3-5-sonnet-20240620-v1:0"), Messages: userText(prompt)})
	if err != nil {
		t.Fatal(err)
	}
	if got := collapse(eventNames(evs)); got != "messageStart delta:text contentBlockStop messageStop metadata" {
		t.Fatalf("events: %s", got)
	}
	var text strings.Builder
	for _, ev := range evs {
		if d, ok := ev.(*types.ConverseStreamOutputMemberContentBlockDelta); ok {
			text.WriteString(d.Value.Delta.(*types.ContentBlockDeltaMemberText).Value)
		}
	}
	meta := evs[len(evs)-1].(*types.ConverseStreamOutputMemberMetadata).Value
	// Same reply and usage as Converse.
	out, err := client.Converse(ctxT(t), &bedrockruntime.ConverseInput{ModelId: aws.String("anthropic.claude-3-5-sonnet-20240620-v1:0"), Messages: userText(prompt)})
	if err != nil {
		t.Fatal(err)
	}
	if text.String() != replyText(t, out) {
		t.Errorf("stream text %q != converse %q", text.String(), replyText(t, out))
	}
	if *meta.Usage.OutputTokens != *out.Usage.OutputTokens || *meta.Usage.InputTokens != *out.Usage.InputTokens {
		t.Errorf("usage differs: %+v vs %+v", meta.Usage, out.Usage)
	}
	if s := srv.Stats(); s.Streams != 1 || s.Requests[OpConverseStream] != 1 {
		t.Errorf("stats %+v", s)
	}
}

var weatherTool = map[string]any{
	"type": "object",
	"properties": map[string]any{
		"location": map[string]any{"type": "string", "description": "The city"},
		"unit":     map[string]any{"type": "string", "enum": []any{"celsius", "fahrenheit"}},
		"days":     map[string]any{"type": "integer", "minimum": 1, "maximum": 7},
		"options": map[string]any{"type": "object", "properties": map[string]any{
			"hourly": map[string]any{"type": "boolean"},
			"fields": map[string]any{"type": "array", "items": map[string]any{"type": "string"}, "minItems": 2},
		}, "required": []any{"hourly", "fields"}},
	},
	"required":             []any{"location", "unit", "days", "options"},
	"additionalProperties": false,
}

func toolConfigFor(choice types.ToolChoice) *types.ToolConfiguration {
	return &types.ToolConfiguration{
		Tools: []types.Tool{
			&types.ToolMemberToolSpec{Value: types.ToolSpecification{
				Name: aws.String("get_current_weather"), Description: aws.String("Get the current weather in a given location."),
				InputSchema: &types.ToolInputSchemaMemberJson{Value: document.NewLazyDocument(weatherTool)},
			}},
			&types.ToolMemberToolSpec{Value: types.ToolSpecification{
				Name: aws.String("lookup_stock"), Description: aws.String("Look up a stock price by ticker."),
				InputSchema: &types.ToolInputSchemaMemberJson{Value: document.NewLazyDocument(map[string]any{})},
			}},
		},
		ToolChoice: choice,
	}
}

func compileSchema(t *testing.T, schema map[string]any) *jsonschema.Schema {
	t.Helper()
	c := jsonschema.NewCompiler()
	b, _ := json.Marshal(schema)
	doc, err := jsonschema.UnmarshalJSON(strings.NewReader(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.AddResource("schema.json", doc); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile("schema.json")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func validateJSON(t *testing.T, s *jsonschema.Schema, raw []byte) {
	t.Helper()
	v, err := jsonschema.UnmarshalJSON(strings.NewReader(string(raw)))
	if err != nil {
		t.Fatalf("not JSON: %s", raw)
	}
	if err := s.Validate(v); err != nil {
		t.Errorf("%s does not validate: %v", raw, err)
	}
}

func TestToolUse(t *testing.T) {
	client, _ := newSDK(t, Config{})
	schema := compileSchema(t, weatherTool)
	cases := []struct {
		name, model, prompt string
		choice              types.ToolChoice
		wantTool            string
	}{
		{"auto by keyword", "amazon.nova-micro-v1:0", "What is the weather in Seattle today?", nil, "get_current_weather"},
		{"auto by name", "anthropic.claude-3-haiku-20240307-v1:0", "Please call get_current_weather for Paris", nil, "get_current_weather"},
		{"auto no match", "anthropic.claude-3-haiku-20240307-v1:0", "Write a haiku about autumn", nil, ""},
		{"any", "anthropic.claude-3-haiku-20240307-v1:0", "Write a haiku about autumn", &types.ToolChoiceMemberAny{}, "get_current_weather"},
		{"named tool", "amazon.nova-pro-v1:0", "What is the weather in Oslo?", &types.ToolChoiceMemberTool{Value: types.SpecificToolChoice{Name: aws.String("lookup_stock")}}, "lookup_stock"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in := &bedrockruntime.ConverseInput{ModelId: aws.String(tc.model), Messages: userText(tc.prompt), ToolConfig: toolConfigFor(tc.choice)}
			out, err := client.Converse(ctxT(t), in)
			if err != nil {
				t.Fatal(err)
			}
			var uses []types.ToolUseBlock
			for _, c := range out.Output.(*types.ConverseOutputMemberMessage).Value.Content {
				if u, ok := c.(*types.ContentBlockMemberToolUse); ok {
					uses = append(uses, u.Value)
				}
			}
			if tc.wantTool == "" {
				if len(uses) != 0 || out.StopReason != types.StopReasonEndTurn {
					t.Fatalf("unexpected tool use %v %s", uses, out.StopReason)
				}
				return
			}
			if len(uses) != 1 || *uses[0].Name != tc.wantTool || out.StopReason != types.StopReasonToolUse {
				t.Fatalf("tool uses %+v stop %s", uses, out.StopReason)
			}
			if !strings.HasPrefix(*uses[0].ToolUseId, "tooluse_") {
				t.Errorf("toolUseId %s", *uses[0].ToolUseId)
			}
			raw, err := uses[0].Input.MarshalSmithyDocument()
			if err != nil {
				t.Fatal(err)
			}
			if tc.wantTool == "get_current_weather" {
				validateJSON(t, schema, raw)
			} else if string(raw) != "{}" {
				t.Errorf("empty schema input %s", raw)
			}
			if tc.name == "auto by keyword" && !strings.Contains(string(raw), `"location":"Seattle"`) {
				t.Errorf("location not from prompt: %s", raw)
			}

			// Streamed: contentBlockStart, partial JSON deltas, stop; the
			// concatenated input is the same JSON.
			evs, err := streamEvents(t, client, &bedrockruntime.ConverseStreamInput{ModelId: in.ModelId, Messages: in.Messages, ToolConfig: in.ToolConfig})
			if err != nil {
				t.Fatal(err)
			}
			seq := collapse(eventNames(evs))
			want := "messageStart contentBlockStart delta:toolUse contentBlockStop messageStop metadata"
			if strings.HasPrefix(tc.model, "amazon.nova") {
				want = "messageStart delta:text contentBlockStop contentBlockStart delta:toolUse contentBlockStop messageStop metadata"
			}
			if seq != want {
				t.Errorf("stream events %s", seq)
			}
			var input strings.Builder
			for _, ev := range evs {
				if d, ok := ev.(*types.ConverseStreamOutputMemberContentBlockDelta); ok {
					if tu, ok := d.Value.Delta.(*types.ContentBlockDeltaMemberToolUse); ok {
						input.WriteString(*tu.Value.Input)
					}
				}
			}
			var a, b any
			json.Unmarshal([]byte(input.String()), &a)
			json.Unmarshal(raw, &b)
			ab, _ := json.Marshal(a)
			bb, _ := json.Marshal(b)
			if string(ab) != string(bb) {
				t.Errorf("streamed input %s != %s", input.String(), raw)
			}
		})
	}
}

func TestToolResultAnswer(t *testing.T) {
	client, _ := newSDK(t, Config{})
	msgs := userText("What is the weather in Seattle today?")
	msgs = append(msgs,
		types.Message{Role: types.ConversationRoleAssistant, Content: []types.ContentBlock{&types.ContentBlockMemberToolUse{Value: types.ToolUseBlock{
			ToolUseId: aws.String("tooluse_1"), Name: aws.String("get_current_weather"), Input: document.NewLazyDocument(map[string]any{"location": "Seattle"})}}}},
		types.Message{Role: types.ConversationRoleUser, Content: []types.ContentBlock{&types.ContentBlockMemberToolResult{Value: types.ToolResultBlock{
			ToolUseId: aws.String("tooluse_1"), Content: []types.ToolResultContentBlock{&types.ToolResultContentBlockMemberText{Value: "14 degrees and raining"}}}}}},
	)
	out, err := client.Converse(ctxT(t), &bedrockruntime.ConverseInput{ModelId: aws.String("anthropic.claude-3-haiku-20240307-v1:0"), Messages: msgs, ToolConfig: toolConfigFor(nil)})
	if err != nil {
		t.Fatal(err)
	}
	if txt := replyText(t, out); !strings.Contains(txt, "14 degrees and raining") || out.StopReason != types.StopReasonEndTurn {
		t.Errorf("answer %q %s", txt, out.StopReason)
	}
}

func TestStructuredOutput(t *testing.T) {
	client, _ := newSDK(t, Config{})
	schemaMap := map[string]any{
		"type": "object",
		"properties": map[string]any{
			"title":    map[string]any{"type": "string", "minLength": 3},
			"rating":   map[string]any{"type": "number", "minimum": 0, "maximum": 5},
			"genre":    map[string]any{"enum": []any{"drama", "comedy"}},
			"tags":     map[string]any{"type": "array", "items": map[string]any{"type": "string"}, "minItems": 1, "maxItems": 3},
			"director": map[string]any{"$ref": "#/$defs/person"},
		},
		"required":             []any{"title", "rating", "genre", "tags", "director"},
		"additionalProperties": false,
		"$defs": map[string]any{"person": map[string]any{"type": "object", "properties": map[string]any{
			"name": map[string]any{"type": "string"}, "born": map[string]any{"type": "integer", "minimum": 1900}}, "required": []any{"name", "born"}}},
	}
	b, _ := json.Marshal(schemaMap)
	out, err := client.Converse(ctxT(t), &bedrockruntime.ConverseInput{
		ModelId:  aws.String("amazon.nova-pro-v1:0"),
		Messages: userText("Review the movie Casablanca"),
		OutputConfig: &types.OutputConfig{TextFormat: &types.OutputFormat{Type: types.OutputFormatTypeJsonSchema,
			Structure: &types.OutputFormatStructureMemberJsonSchema{Value: types.JsonSchemaDefinition{Schema: aws.String(string(b)), Name: aws.String("review")}}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	validateJSON(t, compileSchema(t, schemaMap), []byte(replyText(t, out)))
}

func TestReasoning(t *testing.T) {
	client, _ := newSDK(t, Config{})
	cases := []struct{ model, fields string }{
		{"us.anthropic.claude-sonnet-4-20250514-v1:0", `{"thinking":{"type":"enabled","budget_tokens":2048}}`},
		{"amazon.nova-2-lite-v1:0", `{"reasoningConfig":{"type":"enabled","maxReasoningEffort":"low"}}`},
	}
	for _, tc := range cases {
		t.Run(tc.model, func(t *testing.T) {
			var fields map[string]any
			json.Unmarshal([]byte(tc.fields), &fields)
			in := &bedrockruntime.ConverseInput{ModelId: aws.String(tc.model), Messages: userText("Why is the sky blue?"),
				InferenceConfig: &types.InferenceConfiguration{MaxTokens: aws.Int32(4096)}, AdditionalModelRequestFields: document.NewLazyDocument(fields)}
			out, err := client.Converse(ctxT(t), in)
			if err != nil {
				t.Fatal(err)
			}
			content := out.Output.(*types.ConverseOutputMemberMessage).Value.Content
			rc, ok := content[0].(*types.ContentBlockMemberReasoningContent)
			if !ok {
				t.Fatalf("first block %T", content[0])
			}
			rt := rc.Value.(*types.ReasoningContentBlockMemberReasoningText).Value
			if *rt.Text == "" || rt.Signature == nil || *rt.Signature == "" {
				t.Errorf("reasoning %+v", rt)
			}
			evs, err := streamEvents(t, client, &bedrockruntime.ConverseStreamInput{ModelId: in.ModelId, Messages: in.Messages, InferenceConfig: in.InferenceConfig, AdditionalModelRequestFields: in.AdditionalModelRequestFields})
			if err != nil {
				t.Fatal(err)
			}
			if got := collapse(eventNames(evs)); got != "messageStart delta:reasoning contentBlockStop delta:text contentBlockStop messageStop metadata" {
				t.Errorf("events %s", got)
			}
			// The last reasoning delta is the signature.
			var lastReasoning types.ReasoningContentBlockDelta
			for _, ev := range evs {
				if d, ok := ev.(*types.ConverseStreamOutputMemberContentBlockDelta); ok {
					if r, ok := d.Value.Delta.(*types.ContentBlockDeltaMemberReasoningContent); ok {
						lastReasoning = r.Value
					}
				}
			}
			if _, ok := lastReasoning.(*types.ReasoningContentBlockDeltaMemberSignature); !ok {
				t.Errorf("last reasoning delta %T", lastReasoning)
			}
		})
	}
}

func TestPromptCaching(t *testing.T) {
	client, _ := newSDK(t, Config{})
	long := strings.Repeat("The handbook describes policies for travel, expenses and equipment. ", 150)
	in := func(q string) *bedrockruntime.ConverseInput {
		return &bedrockruntime.ConverseInput{
			ModelId: aws.String("us.amazon.nova-micro-v1:0"),
			System: []types.SystemContentBlock{&types.SystemContentBlockMemberText{Value: long},
				&types.SystemContentBlockMemberCachePoint{Value: types.CachePointBlock{Type: types.CachePointTypeDefault}}},
			Messages: userText(q),
		}
	}
	first, err := client.Converse(ctxT(t), in("What is the travel policy?"))
	if err != nil {
		t.Fatal(err)
	}
	prefix := int32(countTokens(long))
	u := first.Usage
	if *u.CacheWriteInputTokens != prefix || *u.CacheReadInputTokens != 0 {
		t.Errorf("first: write %d read %d, want write %d", *u.CacheWriteInputTokens, *u.CacheReadInputTokens, prefix)
	}
	second, err := client.Converse(ctxT(t), in("What is the expense policy?"))
	if err != nil {
		t.Fatal(err)
	}
	u = second.Usage
	if *u.CacheReadInputTokens != prefix || *u.CacheWriteInputTokens != 0 {
		t.Errorf("second: write %d read %d, want read %d", *u.CacheWriteInputTokens, *u.CacheReadInputTokens, prefix)
	}
	if *u.TotalTokens != *u.InputTokens+*u.OutputTokens+*u.CacheReadInputTokens+*u.CacheWriteInputTokens {
		t.Errorf("total %d", *u.TotalTokens)
	}
	if *u.InputTokens != int32(countTokens("What is the expense policy?")) {
		t.Errorf("input tokens %d", *u.InputTokens)
	}
}

func TestCountTokensMatchesConverse(t *testing.T) {
	client, _ := newSDK(t, Config{})
	msgs := userText("Summarise the plot of Hamlet in two sentences")
	sys := []types.SystemContentBlock{&types.SystemContentBlockMemberText{Value: "You are a literature teacher."}}
	out, err := client.Converse(ctxT(t), &bedrockruntime.ConverseInput{ModelId: aws.String("anthropic.claude-3-5-haiku-20241022-v1:0"), Messages: msgs, System: sys, ToolConfig: toolConfigFor(nil)})
	if err != nil {
		t.Fatal(err)
	}
	ct, err := client.CountTokens(ctxT(t), &bedrockruntime.CountTokensInput{ModelId: aws.String("anthropic.claude-3-5-haiku-20241022-v1:0"),
		Input: &types.CountTokensInputMemberConverse{Value: types.ConverseTokensRequest{Messages: msgs, System: sys, ToolConfig: toolConfigFor(nil)}}})
	if err != nil {
		t.Fatal(err)
	}
	if *ct.InputTokens != *out.Usage.InputTokens {
		t.Errorf("CountTokens %d != Converse input %d", *ct.InputTokens, *out.Usage.InputTokens)
	}
}

func apiCode(err error) (string, string) {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode(), ae.ErrorMessage()
	}
	return "", ""
}

func TestGuardrails(t *testing.T) {
	cfg := Config{Guardrails: []Guardrail{{
		ID: "gr-1", Versions: []string{"1"}, DeniedWords: []string{"bananas"},
		DeniedTopics:        []GuardrailTopic{{Name: "Investment advice", Keywords: []string{"stocks", "crypto"}}},
		BlockedInputMessage: "I can't talk about that.", BlockedOutputMessage: "That answer was blocked.",
	}}}
	client, _ := newSDK(t, cfg)
	gc := func(v string) *types.GuardrailConfiguration {
		return &types.GuardrailConfiguration{GuardrailIdentifier: aws.String("gr-1"), GuardrailVersion: aws.String(v), Trace: types.GuardrailTraceEnabled}
	}
	// Input blocked.
	out, err := client.Converse(ctxT(t), &bedrockruntime.ConverseInput{ModelId: aws.String("amazon.nova-lite-v1:0"), Messages: userText("Which crypto coins should I buy?"), GuardrailConfig: gc("1")})
	if err != nil {
		t.Fatal(err)
	}
	if out.StopReason != types.StopReasonGuardrailIntervened || replyText(t, out) != "I can't talk about that." {
		t.Errorf("input block: %s %q", out.StopReason, replyText(t, out))
	}
	if out.Trace == nil || out.Trace.Guardrail == nil || out.Trace.Guardrail.InputAssessment["gr-1"].TopicPolicy == nil {
		t.Errorf("trace missing: %+v", out.Trace)
	}
	// Output blocked: the prompt words come back in the reply.
	out, err = client.Converse(ctxT(t), &bedrockruntime.ConverseInput{ModelId: aws.String("amazon.nova-lite-v1:0"),
		Messages: []types.Message{{Role: types.ConversationRoleUser, Content: []types.ContentBlock{
			&types.ContentBlockMemberText{Value: "Say bananas are great"},
			&types.ContentBlockMemberGuardContent{Value: &types.GuardrailConverseContentBlockMemberText{Value: types.GuardrailConverseTextBlock{Text: aws.String("Say something nice")}}},
		}}}, GuardrailConfig: gc("DRAFT")})
	if err != nil {
		t.Fatal(err)
	}
	if out.StopReason != types.StopReasonGuardrailIntervened || replyText(t, out) != "That answer was blocked." {
		t.Errorf("output block (only guardContent checked on input): %s %q", out.StopReason, replyText(t, out))
	}
	// Unknown guardrail / version.
	_, err = client.Converse(ctxT(t), &bedrockruntime.ConverseInput{ModelId: aws.String("amazon.nova-lite-v1:0"), Messages: userText("hi there"), GuardrailConfig: gc("7")})
	if code, msg := apiCode(err); code != "ResourceNotFoundException" || msg != "The guardrail identifier or version provided in the request does not exist." {
		t.Errorf("unknown version: %v", err)
	}
	// Streams carry the verdict too.
	evs, err := streamEvents(t, client, &bedrockruntime.ConverseStreamInput{ModelId: aws.String("amazon.nova-lite-v1:0"), Messages: userText("Tell me about stocks"),
		GuardrailConfig: &types.GuardrailStreamConfiguration{GuardrailIdentifier: aws.String("gr-1"), GuardrailVersion: aws.String("1"), Trace: types.GuardrailTraceEnabled}})
	if err != nil {
		t.Fatal(err)
	}
	stop := evs[len(evs)-2].(*types.ConverseStreamOutputMemberMessageStop)
	meta := evs[len(evs)-1].(*types.ConverseStreamOutputMemberMetadata)
	if stop.Value.StopReason != types.StopReasonGuardrailIntervened || meta.Value.Trace == nil {
		t.Errorf("stream guardrail: %s %+v", stop.Value.StopReason, meta.Value.Trace)
	}

	// ApplyGuardrail.
	ag, err := client.ApplyGuardrail(ctxT(t), &bedrockruntime.ApplyGuardrailInput{GuardrailIdentifier: aws.String("gr-1"), GuardrailVersion: aws.String("1"),
		Source: types.GuardrailContentSourceInput, Content: []types.GuardrailContentBlock{&types.GuardrailContentBlockMemberText{Value: types.GuardrailTextBlock{Text: aws.String("I love bananas")}}}})
	if err != nil {
		t.Fatal(err)
	}
	if ag.Action != types.GuardrailActionGuardrailIntervened || len(ag.Outputs) != 1 || *ag.Outputs[0].Text != "I can't talk about that." || len(ag.Assessments) != 1 || ag.Assessments[0].WordPolicy == nil || ag.Usage == nil {
		t.Errorf("apply: %+v", ag)
	}
	ag, err = client.ApplyGuardrail(ctxT(t), &bedrockruntime.ApplyGuardrailInput{GuardrailIdentifier: aws.String("gr-1"), GuardrailVersion: aws.String("DRAFT"),
		Source: types.GuardrailContentSourceOutput, Content: []types.GuardrailContentBlock{&types.GuardrailContentBlockMemberText{Value: types.GuardrailTextBlock{Text: aws.String("apples are fine")}}}})
	if err != nil || ag.Action != types.GuardrailActionNone {
		t.Errorf("apply none: %v %+v", err, ag)
	}
	_, err = client.ApplyGuardrail(ctxT(t), &bedrockruntime.ApplyGuardrailInput{GuardrailIdentifier: aws.String("nope"), GuardrailVersion: aws.String("1"),
		Source: types.GuardrailContentSourceInput, Content: []types.GuardrailContentBlock{&types.GuardrailContentBlockMemberText{Value: types.GuardrailTextBlock{Text: aws.String("x")}}}})
	var nf *types.ResourceNotFoundException
	if !errors.As(err, &nf) {
		t.Errorf("unknown guardrail: %v", err)
	}
}
