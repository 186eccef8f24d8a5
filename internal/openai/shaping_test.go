package openai

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/quarry-dev/quarry/bedrock"
	"github.com/quarry-dev/quarry/bedrock/shaping"
	"github.com/quarry-dev/quarry/internal/config"
)

func TestShapeMessages(t *testing.T) {
	noSystem := withShapingDefaults(config.Shaping{Options: shaping.Options{AllowedRoles: []string{"user", "assistant"},
		RemapRoles: map[string]string{"assistant": "assistant"}, AllowedRoleMetadata: []string{"cachePoint"}}})
	remap := withShapingDefaults(config.Shaping{Options: shaping.Options{RemapRoles: map[string]string{"system": "user"}}})
	in := []string{
		`{"role":"system","content":"Be brief.","cache_control":{"type":"ephemeral"}}`,
		`{"role":"developer","content":"Use French."}`,
		`{"role":"user","content":[{"type":"text","text":"Hi","cache_control":{"type":"ephemeral"},"cachePoint":{"type":"default"}}]}`,
		`{"role":"assistant","content":null,"tool_calls":[{"id":"c1","type":"function","function":{"name":"f","arguments":"{}"}}]}`,
		`{"role":"tool","tool_call_id":"c1","content":"42","cachePoint":{"type":"default"}}`,
		`{"role":"wizard","content":"x"}`,
		`{"role":"user","content":[{"type":"text","text":"Hi","CACHEPOINT":{"type":"default"}}],"Cache_Control":{"type":"ephemeral"}}`,
	}
	for _, c := range []struct {
		name string
		s    *config.Shaping
		want []string
	}{
		{"no shaping", nil, in},
		{"defaults drop every marker", withShapingDefaults(config.Shaping{}), []string{
			`{"content":"Be brief.","role":"system"}`,
			in[1],
			`{"content":[{"text":"Hi","type":"text"}],"role":"user"}`,
			in[3],
			`{"content":"42","role":"tool","tool_call_id":"c1"}`,
			in[5],
			`{"content":[{"text":"Hi","type":"text"}],"role":"user"}`,
		}},
		{"system not allowed becomes user; cachePoint kept", noSystem, []string{
			`{"content":"Be brief.","role":"user"}`,
			`{"content":"Use French.","role":"user"}`,
			`{"content":[{"cachePoint":{"type":"default"},"text":"Hi","type":"text"}],"role":"user"}`,
			in[3], in[4], in[5],
			// Member names are matched ignoring case, as encoding/json
			// matches them to fields.
			`{"content":[{"type":"text","text":"Hi","CACHEPOINT":{"type":"default"}}],"role":"user"}`,
		}},
		{"remap after defaulting", remap, []string{
			`{"content":"Be brief.","role":"user"}`,
			`{"content":"Use French.","role":"user"}`,
			`{"content":[{"text":"Hi","type":"text"}],"role":"user"}`,
			in[3],
			`{"content":"42","role":"tool","tool_call_id":"c1"}`,
			in[5],
			`{"content":[{"text":"Hi","type":"text"}],"role":"user"}`,
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			raws := make([]json.RawMessage, len(in))
			for i, s := range in {
				raws[i] = json.RawMessage(s)
			}
			got, _ := shapeMessages(raws, c.s)
			for i := range got {
				if string(got[i]) != c.want[i] {
					t.Errorf("message %d = %s\nwant %s", i, got[i], c.want[i])
				}
			}
		})
	}
}

// TestShapeMessagesSkips checks that the messages shapeMessages passes over
// without decoding are those shapeMessage leaves as they are.
func TestShapeMessagesSkips(t *testing.T) {
	in := []string{
		`{"role":"user","content":"Hi"}`,
		`{"role":"system","content":"Be brief.","cache_control":{"type":"ephemeral"}}`,
		`{"role":"user","content":[{"type":"text","text":"Hi","cachePoint":{"type":"default"}}]}`,
		`{"role":"user","content":"Hi","cache\u005fcontrol":{"type":"ephemeral"}}`,
		`{"role":"user","content":[{"type":"text","text":"Hi","\u0063achePoint":{}}]}`,
		`{"role":"user","content":"caf\u00e9 \u003cb\u003e","Cache_Control":{"type":"ephemeral"}}`,
		`{"role":"developer","content":"x"}`,
		`{"role":"assistant","content":"x"}`,
		`{"role":"tool","tool_call_id":"c1","content":"42","cachePoint":{"type":"default"}}`,
		`[1]`,
	}
	raws := make([]json.RawMessage, len(in))
	for i, s := range in {
		raws[i] = json.RawMessage(s)
	}
	for _, s := range []*config.Shaping{
		withShapingDefaults(config.Shaping{}),
		withShapingDefaults(config.Shaping{Options: shaping.Options{AllowedRoleMetadata: []string{"cachePoint"}}}),
		withShapingDefaults(config.Shaping{Options: shaping.Options{AllowedRoleMetadata: []string{"cache_control", "cachePoint"}}}),
		withShapingDefaults(config.Shaping{Options: shaping.Options{AllowedRoles: []string{"user", "assistant"},
			AllowedRoleMetadata: []string{"cache_control", "cachePoint"}}}),
		withShapingDefaults(config.Shaping{Options: shaping.Options{RemapRoles: map[string]string{"assistant": "user"},
			AllowedRoleMetadata: []string{"cache_control", "cachePoint"}}}),
	} {
		got, _ := shapeMessages(raws, s)
		for i, raw := range raws {
			if want, _ := shapeMessage(raw, s); string(got[i]) != string(want) {
				t.Errorf("%+v: message %d = %s\nwant %s", s.Options, i, got[i], want)
			}
		}
	}
}

func TestFinishAllowed(t *testing.T) {
	allow := &config.Shaping{Options: shaping.Options{FinishReasonAllowList: []string{"stop", "tool_use"}}}
	deny := &config.Shaping{Options: shaping.Options{FinishReasonDenyList: []string{"length", "content_filtered"}}}
	for _, c := range []struct {
		s    *config.Shaping
		stop string
		want bool
	}{
		{nil, "max_tokens", true},
		{&config.Shaping{}, "max_tokens", true},
		{allow, "end_turn", true},      // OpenAI name "stop" listed
		{allow, "stop_sequence", true}, // also "stop"
		{allow, "tool_use", true},      // Bedrock name listed
		{allow, "max_tokens", false},
		{allow, "guardrail_intervened", false},
		{deny, "max_tokens", false},                    // "length"
		{deny, "model_context_window_exceeded", false}, // "length" too
		{deny, "content_filtered", false},
		{deny, "guardrail_intervened", true}, // content_filter, but only content_filtered is denied
		{deny, "end_turn", true},
	} {
		if got := finishAllowed(c.s, c.stop); got != c.want {
			t.Errorf("finishAllowed(%+v, %s) = %v, want %v", c.s, c.stop, got, c.want)
		}
	}
	e := finishReasonError("m", deny, "max_tokens")
	if e.Status != 422 || e.Type != "finish_reason_error" || !strings.Contains(e.Msg, `"length"`) || !strings.Contains(e.Msg, "max_tokens") {
		t.Errorf("error = %+v", e)
	}
}

func TestConvertTopKAndFields(t *testing.T) {
	model := func(id string, extra map[string]any) chatModel {
		return chatModel{Name: "m", ModelID: id, Shaping: withShapingDefaults(config.Shaping{Options: shaping.Options{AdditionalModelRequestFields: extra}})}
	}
	for _, c := range []struct {
		name, model, body string
		extra             map[string]any
		want              string // additionalModelRequestFields JSON, or "400:<param>"
	}{
		{"anthropic", "anthropic.claude-3-haiku-20240307-v1:0", `"top_k":40`, nil, `{"top_k":40}`},
		{"nova nested under the request's own", "amazon.nova-lite-v1:0", `"top_k":20,"additionalModelRequestFields":{"inferenceConfig":{"topK":3}}`,
			map[string]any{"inferenceConfig": map[string]any{"topK": 7, "x": 1}}, `{"inferenceConfig":{"topK":3,"x":1}}`},
		{"nova", "us.amazon.nova-lite-v1:0", `"top_k":20`, nil, `{"inferenceConfig":{"topK":20}}`},
		{"mistral", "mistral.mistral-large-2407-v1:0", `"top_k":50`, nil, `{"top_k":50}`},
		{"cohere", "cohere.command-r-v1:0", `"top_k":10`, nil, `{"k":10}`},
		{"model default under request top_k", "cohere.command-r-v1:0", `"top_k":10`, map[string]any{"k": 3, "p": 0.5}, `{"k":10,"p":0.5}`},
		{"llama refused", "meta.llama3-1-70b-instruct-v1:0", `"top_k":10`, nil, "400:top_k"},
		{"titan refused", "amazon.titan-text-express-v1", `"top_k":10`, nil, "400:top_k"},
		{"opaque ARN refused", "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/x1", `"top_k":10`, nil, "400:top_k"},
		{"fraction refused", "anthropic.claude-3-haiku-20240307-v1:0", `"top_k":1.5`, nil, "400:top_k"},
		{"thinking drops top_k", "anthropic.claude-3-7-sonnet-20250219-v1:0", `"top_k":10,"reasoning_effort":"low"`, nil, `{"thinking":{"budget_tokens":1024,"type":"enabled"}}`},
	} {
		t.Run(c.name, func(t *testing.T) {
			req, aerr := decodeChatTest([]byte(`{"model":"m","messages":[{"role":"user","content":"Hi"}],`+c.body+`}`), nil)
			if aerr != nil {
				t.Fatal(aerr)
			}
			cm := model(c.model, c.extra)
			out, _, aerr := convertChatRequest(t.Context(), req, &cm, nil)
			if p, ok := strings.CutPrefix(c.want, "400:"); ok {
				if aerr == nil || aerr.Status != 400 || aerr.Param != p {
					t.Fatalf("want a 400 on %s, got %+v", p, aerr)
				}
				return
			}
			if aerr != nil {
				t.Fatal(aerr)
			}
			b, _ := json.Marshal(out.AdditionalModelRequestFields)
			if string(b) != c.want {
				t.Errorf("additionalModelRequestFields = %s, want %s", b, c.want)
			}
		})
	}
}

func TestCompletionChunks(t *testing.T) {
	resp := &bedrock.ConverseResponse{StopReason: "tool_use"}
	resp.Output.Message = &bedrock.Message{Role: "assistant", Content: []bedrock.ContentBlock{
		bedrock.TextBlock("Let me check."),
		{ToolUse: &bedrock.ToolUseBlock{ToolUseID: "t1", Name: "get_weather", Input: json.RawMessage(`{"city":"Paris"}`)}},
	}}
	resp.Usage = bedrock.TokenUsage{InputTokens: 3, OutputTokens: 4}
	for _, usage := range []bool{false, true} {
		plan := &chatPlan{Model: "m", Stream: true, IncludeUsage: usage}
		chunks := completionChunks(convertChatResponse(resp, plan, "id", 1), plan)
		b, _ := json.Marshal(chunks)
		s := string(b)
		wantN := 2
		if usage {
			wantN = 3
		}
		if len(chunks) != wantN || chunks[0].Choices[0].Delta.Role != "assistant" || *chunks[0].Choices[0].Delta.Content != "Let me check." ||
			len(chunks[0].Choices[0].Delta.ToolCalls) != 1 || *chunks[1].Choices[0].FinishReason != "tool_calls" ||
			chunks[len(chunks)-1].Bedrock == nil || !strings.Contains(s, `"arguments":"{\"city\":\"Paris\"}"`) {
			t.Errorf("include_usage=%v: chunks = %s", usage, s)
		}
		if usage && (chunks[2].Usage == nil || chunks[2].Usage.TotalTokens != 7 || len(chunks[2].Choices) != 0) {
			t.Errorf("usage chunk = %s", s)
		}
	}
}

func TestCheckMediaMode(t *testing.T) {
	s := withShapingDefaults(config.Shaping{MediaURLHandler: map[string]string{
		"image": config.MediaSendURL, "pdf": config.MediaSendBase64UnlessGoogle, "video": config.MediaSendURLAddMIMEType}})
	for _, c := range []struct {
		s         *config.Shaping
		kind, ref string
		refused   string // a word of the message, "" when let through
	}{
		{s, "image", "https://example.com/a.png", "cannot fetch http(s)"},
		{s, "image", "s3://bucket/a.png", ""},
		{s, "image", "data:image/png;base64,AAAA", ""},
		{s, "pdf", "https://example.com/a.pdf", ""},
		{s, "pdf", "gs://bucket/a.pdf", "keeps as a URL"},
		{s, "video", "https://example.com/a.mp4", ""},
		{s, "video", "gs://bucket/a.mp4", "cannot read"},
		{nil, "video", "https://example.com/a.mp4", ""}, // no shaping: send_base64
		{withShapingDefaults(config.Shaping{}), "video", "http://example.com/a.mp4", "send_url"},
	} {
		aerr := checkMediaMode(c.s, "m", c.kind, c.ref, "p")
		switch {
		case c.refused == "" && aerr != nil:
			t.Errorf("%s %s refused: %s", c.kind, c.ref, aerr.Msg)
		case c.refused != "" && (aerr == nil || !strings.Contains(aerr.Msg, c.refused)):
			t.Errorf("%s %s: %v, want a refusal saying %q", c.kind, c.ref, aerr, c.refused)
		}
	}
}
