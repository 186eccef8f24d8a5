package shaping

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws/protocol/eventstream"

	"github.com/quarry-dev/quarry/bedrock"
)

func TestValidate(t *testing.T) {
	for _, c := range []struct {
		name string
		o    Options
		want []string // "field: problem-substring"
	}{
		{"zero", Options{}, nil},
		{"valid", Options{AllowedRoles: []string{"user", "assistant"}, DefaultRole: "assistant", RemapRoles: map[string]string{"assistant": "user"},
			AllowedRoleMetadata: []string{"cachePoint"}, FinishReasonDenyList: []string{"LENGTH"}, TopK: new(5),
			Inference: &bedrock.InferenceConfig{MaxTokens: new(10), Temperature: new(0.5)}}, nil},
		{"both lists", Options{FinishReasonAllowList: []string{"stop"}, FinishReasonDenyList: []string{}},
			[]string{"finish_reason_deny_list: cannot be combined"}},
		{"unknown reason", Options{FinishReasonAllowList: []string{"Stop", "Truncated"}}, []string{`finish_reason_allow_list[1]: unknown finish reason "truncated"`}},
		{"roles", Options{AllowedRoles: []string{"system", "developer", "tool", "human"}, DefaultRole: "user"}, []string{
			"allowed_roles[1]: developer messages count as system", "allowed_roles[2]: tool messages are always forwarded",
			`allowed_roles[3]: unknown role "human"`, "allowed_roles: must include user", `default_role: "user" is not in allowed_roles (system)`}},
		{"default not a role", Options{DefaultRole: "bot"}, []string{`default_role: "bot" is not a role`}},
		{"remap", Options{AllowedRoles: []string{"user", "assistant"}, RemapRoles: map[string]string{"user": "human", "tool": "user", "system": "user"}}, []string{
			`remap_roles.system: system is not in allowed_roles`, "remap_roles.tool: tool messages", `remap_roles.user: "human" is not a role Bedrock accepts`}},
		{"metadata", Options{AllowedRoleMetadata: []string{"cache_control", "colour"}}, []string{`allowed_role_metadata[1]: unknown message metadata "colour"`}},
		{"inference", Options{Inference: &bedrock.InferenceConfig{MaxTokens: new(0), Temperature: new(1.5), TopP: new(-0.1)}, TopK: new(-1)}, []string{
			"inference_configuration.max_tokens:", "inference_configuration.temperature:", "inference_configuration.top_p:", "top_k: must be 0 or more"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := c.o.Validate()
			var got []*FieldError
			if err != nil {
				for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
					got = append(got, e.(*FieldError))
				}
			}
			if len(got) != len(c.want) {
				t.Fatalf("Validate() = %v, want %d problems %q", err, len(c.want), c.want)
			}
			for i, w := range c.want {
				if !strings.Contains(got[i].Error(), w) {
					t.Errorf("problem %d = %q, want it to contain %q", i, got[i].Error(), w)
				}
			}
		})
	}
}

func TestEffectiveRoles(t *testing.T) {
	for _, c := range []struct {
		o       Options
		allowed []string
		def     string
	}{
		{Options{}, []string{"system", "user", "assistant"}, "user"},
		{Options{AllowedRoles: []string{"assistant", "user"}}, []string{"assistant", "user"}, "user"},
		{Options{AllowedRoles: []string{"assistant", "system"}}, []string{"assistant", "system"}, "assistant"},
		{Options{AllowedRoles: []string{"system", "user"}, DefaultRole: "system"}, []string{"system", "user"}, "system"},
	} {
		a, d := c.o.EffectiveRoles()
		if !reflect.DeepEqual(a, c.allowed) || d != c.def {
			t.Errorf("%+v: EffectiveRoles() = %v, %q; want %v, %q", c.o, a, d, c.allowed, c.def)
		}
	}
}

func TestRole(t *testing.T) {
	noSystem := &Options{AllowedRoles: []string{"user", "assistant"}}
	remap := &Options{RemapRoles: map[string]string{"system": "user", "assistant": "user"}}
	both := &Options{AllowedRoles: []string{"user", "assistant"}, DefaultRole: "assistant", RemapRoles: map[string]string{"assistant": "user"}}
	for _, c := range []struct {
		o         *Options
		role      string
		toolCalls bool
		want      string
	}{
		{&Options{}, "system", false, "system"},
		{&Options{}, "developer", false, "system"},
		{&Options{}, "user", false, "user"},
		{noSystem, "system", false, "user"},
		{noSystem, "developer", false, "user"},
		{noSystem, "assistant", false, "assistant"},
		{remap, "system", false, "user"},
		{remap, "assistant", false, "user"},
		{remap, "assistant", true, "assistant"}, // tool calls keep their role
		{remap, "tool", false, "tool"},
		{both, "system", false, "user"}, // defaulted to assistant, then remapped
	} {
		got, err := c.o.Role(c.role, c.toolCalls)
		if err != nil || got != c.want {
			t.Errorf("%+v Role(%q, %v) = %q, %v; want %q", c.o, c.role, c.toolCalls, got, err, c.want)
		}
	}
	if _, err := (&Options{}).Role("human", false); !errors.Is(err, ErrUnknownRole) {
		t.Errorf("Role(human) error = %v, want ErrUnknownRole", err)
	}
}

// TestRoleFollowsEffectiveRoles checks Role against EffectiveRoles for
// every AllowedRoles of up to three entries (valid, invalid, repeated) and
// each DefaultRole.
func TestRoleFollowsEffectiveRoles(t *testing.T) {
	pool := []string{"system", "user", "assistant", "tool", "human"}
	var lists [][]string
	var build func(prefix []string)
	build = func(prefix []string) {
		lists = append(lists, prefix)
		if len(prefix) == 3 {
			return
		}
		for _, r := range pool {
			build(append(append([]string(nil), prefix...), r))
		}
	}
	build(nil)
	for _, allowedRoles := range lists {
		for _, def := range []string{"", "system", "user", "assistant"} {
			o := &Options{AllowedRoles: allowedRoles, DefaultRole: def}
			allowed, effDef := o.EffectiveRoles()
			for _, role := range []string{"system", "developer", "user", "assistant"} {
				want := role
				if want == "developer" {
					want = "system"
				}
				if !slices.Contains(allowed, want) {
					want = effDef
				}
				if got, err := o.Role(role, false); err != nil || got != want {
					t.Errorf("%+v Role(%q) = %q, %v; want %q", o, role, got, err, want)
				}
			}
		}
	}
}

func TestConversation(t *testing.T) {
	cc := map[string]any{"cache_control": map[string]any{"type": "ephemeral"}}
	toolUse := bedrock.ContentBlock{ToolUse: &bedrock.ToolUseBlock{ToolUseID: "t1", Name: "f", Input: json.RawMessage(`{}`)}}
	msgs := []Message{
		{Role: "system", Content: []bedrock.ContentBlock{bedrock.TextBlock("be brief")}, Metadata: cc},
		{Role: "user", Content: []bedrock.ContentBlock{bedrock.TextBlock("hi")}, Metadata: cc},
		{Role: "assistant", Content: []bedrock.ContentBlock{toolUse}},
		{Role: "tool", Content: []bedrock.ContentBlock{bedrock.ToolResultText("t1", "42")}},
		{Role: "user", Content: []bedrock.ContentBlock{bedrock.TextBlock("and?")}, Metadata: map[string]any{"cachePoint": bedrock.CachePointBlock{Type: "default", TTL: "1h"}}},
	}
	cp := &bedrock.CachePointBlock{Type: "default"}
	for _, c := range []struct {
		name       string
		o          Options
		wantSystem []bedrock.SystemContentBlock
		wantMsgs   []bedrock.Message
	}{
		{"defaults drop metadata", Options{}, []bedrock.SystemContentBlock{{Text: "be brief"}}, []bedrock.Message{
			{Role: "user", Content: []bedrock.ContentBlock{bedrock.TextBlock("hi")}},
			{Role: "assistant", Content: []bedrock.ContentBlock{toolUse}},
			{Role: "user", Content: []bedrock.ContentBlock{bedrock.ToolResultText("t1", "42"), bedrock.TextBlock("and?")}},
		}},
		{"cache_control allowed, no system", Options{AllowedRoles: []string{"user", "assistant"}, AllowedRoleMetadata: []string{"cache_control"}}, nil, []bedrock.Message{
			{Role: "user", Content: []bedrock.ContentBlock{bedrock.TextBlock("be brief"), {CachePoint: cp}, bedrock.TextBlock("hi"), {CachePoint: cp}}},
			{Role: "assistant", Content: []bedrock.ContentBlock{toolUse}},
			{Role: "user", Content: []bedrock.ContentBlock{bedrock.ToolResultText("t1", "42"), bedrock.TextBlock("and?")}},
		}},
		{"both markers allowed", Options{AllowedRoleMetadata: []string{"cache_control", "cachePoint"}}, []bedrock.SystemContentBlock{{Text: "be brief"}, {CachePoint: cp}}, []bedrock.Message{
			{Role: "user", Content: []bedrock.ContentBlock{bedrock.TextBlock("hi"), {CachePoint: cp}}},
			{Role: "assistant", Content: []bedrock.ContentBlock{toolUse}},
			{Role: "user", Content: []bedrock.ContentBlock{bedrock.ToolResultText("t1", "42"), bedrock.TextBlock("and?"), {CachePoint: &bedrock.CachePointBlock{Type: "default", TTL: "1h"}}}},
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			sys, got, err := c.o.Conversation(msgs)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(sys, c.wantSystem) || !reflect.DeepEqual(got, c.wantMsgs) {
				gj, _ := json.Marshal(got)
				wj, _ := json.Marshal(c.wantMsgs)
				t.Errorf("system %+v, messages\n%s\nwant system %+v, messages\n%s", sys, gj, c.wantSystem, wj)
			}
		})
	}
	o := Options{}
	if _, _, err := o.Conversation([]Message{{Role: "system", Content: []bedrock.ContentBlock{toolUse}}}); err == nil {
		t.Error("a tool call in a system message: no error")
	}
	if _, _, err := o.Conversation([]Message{{Role: "bot"}}); !errors.Is(err, ErrUnknownRole) {
		t.Errorf("unknown role: error %v", err)
	}
}

func TestCheckFinish(t *testing.T) {
	allow := &Options{FinishReasonAllowList: []string{"Stop", "TOOL_USE"}}
	deny := &Options{FinishReasonDenyList: []string{"length", "Content_Filtered"}}
	for _, c := range []struct {
		o    *Options
		stop string
		ok   bool
	}{
		{&Options{}, "max_tokens", true},
		{allow, "end_turn", true},      // OpenAI name stop
		{allow, "stop_sequence", true}, // also stop
		{allow, "tool_use", true},
		{allow, "max_tokens", false},
		{deny, "max_tokens", false},                    // OpenAI name length
		{deny, "model_context_window_exceeded", false}, // also length
		{deny, "content_filtered", false},
		{deny, "guardrail_intervened", true}, // content_filter, but only content_filtered is denied
		{deny, "end_turn", true},
		{&Options{FinishReasonAllowList: []string{}}, "end_turn", false},
	} {
		err := c.o.CheckFinish(c.stop)
		if (err == nil) != c.ok {
			t.Errorf("%+v CheckFinish(%q) = %v, want ok=%v", c.o, c.stop, err, c.ok)
		}
		var fe *FinishReasonError
		if err != nil && (!errors.As(err, &fe) || fe.StopReason != c.stop) {
			t.Errorf("CheckFinish(%q) error %#v is not a *FinishReasonError naming it", c.stop, err)
		}
	}
	err := deny.CheckFinish("max_tokens").(*FinishReasonError)
	if !reflect.DeepEqual(err.Denied, deny.FinishReasonDenyList) || err.Allowed != nil ||
		!strings.Contains(err.Error(), `"length"`) || !strings.Contains(err.Error(), `"max_tokens"`) {
		t.Errorf("error %#v: %v", err, err)
	}
}

func TestOpenAIFinishReason(t *testing.T) {
	for stop, want := range map[string]string{"end_turn": "stop", "stop_sequence": "stop", "max_tokens": "length",
		"model_context_window_exceeded": "length", "tool_use": "tool_calls", "guardrail_intervened": "content_filter",
		"content_filtered": "content_filter", "": "stop"} {
		if got := OpenAIFinishReason(stop); got != want {
			t.Errorf("OpenAIFinishReason(%q) = %q, want %q", stop, got, want)
		}
	}
}

func TestApply(t *testing.T) {
	extra := map[string]any{"inferenceConfig": map[string]any{"topK": 1, "x": 2}, "anthropic_beta": []any{"b"}, "top_k": 7}
	for _, c := range []struct {
		name   string
		family bedrock.Family
		o      Options
		in     map[string]any
		want   map[string]any
		err    error
	}{
		{"anthropic", bedrock.FamilyAnthropic, Options{TopK: new(40)}, nil, map[string]any{"top_k": 40}, nil},
		{"anthropic thinking drops top_k", bedrock.FamilyAnthropic, Options{TopK: new(40)}, map[string]any{"thinking": "x"}, map[string]any{"thinking": "x"}, nil},
		{"nova", bedrock.FamilyNova, Options{TopK: new(3)}, map[string]any{"inferenceConfig": map[string]any{"x": 1}},
			map[string]any{"inferenceConfig": map[string]any{"x": 1, "topK": 3}}, nil},
		{"mistral", bedrock.FamilyMistral, Options{TopK: new(10)}, nil, map[string]any{"top_k": 10}, nil},
		{"cohere", bedrock.FamilyCohereCommandR, Options{TopK: new(10)}, nil, map[string]any{"k": 10}, nil},
		{"llama", bedrock.FamilyLlama, Options{TopK: new(10)}, map[string]any{"a": 1}, map[string]any{"a": 1}, bedrock.ErrTopKUnsupported},
		{"titan", bedrock.FamilyTitanText, Options{TopK: new(10)}, nil, nil, bedrock.ErrTopKUnsupported},
		{"request wins at every level", bedrock.FamilyNova, Options{TopK: new(5), AdditionalModelRequestFields: extra},
			map[string]any{"inferenceConfig": map[string]any{"topK": 9}},
			map[string]any{"inferenceConfig": map[string]any{"topK": 9, "x": 2}, "anthropic_beta": []any{"b"}, "top_k": 7}, nil},
		{"top_k over the extra fields", bedrock.FamilyAnthropic, Options{TopK: new(5), AdditionalModelRequestFields: extra}, nil,
			map[string]any{"inferenceConfig": map[string]any{"topK": 1, "x": 2}, "anthropic_beta": []any{"b"}, "top_k": 5}, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			req := &bedrock.ConverseRequest{AdditionalModelRequestFields: c.in}
			err := c.o.Apply(req, c.family)
			if !errors.Is(err, c.err) || (c.err == nil) != (err == nil) {
				t.Fatalf("Apply error %v, want %v", err, c.err)
			}
			if !reflect.DeepEqual(req.AdditionalModelRequestFields, c.want) {
				t.Errorf("fields = %#v, want %#v", req.AdditionalModelRequestFields, c.want)
			}
		})
	}
	// The merged copy is not shared with the options.
	o := Options{AdditionalModelRequestFields: map[string]any{"n": map[string]any{"a": 1}}}
	req := &bedrock.ConverseRequest{}
	o.Apply(req, bedrock.FamilyUnknown)
	req.AdditionalModelRequestFields["n"].(map[string]any)["a"] = 2
	if o.AdditionalModelRequestFields["n"].(map[string]any)["a"] != 1 {
		t.Error("Apply shared a nested map with the options")
	}
	// Inference defaults fill what the request leaves unset.
	o = Options{Inference: &bedrock.InferenceConfig{MaxTokens: new(100), Temperature: new(0.2), TopP: new(0.9), StopSequences: []string{"END"}}}
	req = &bedrock.ConverseRequest{InferenceConfig: &bedrock.InferenceConfig{Temperature: new(0.7)}}
	if err := o.Apply(req, bedrock.FamilyNova); err != nil {
		t.Fatal(err)
	}
	want := &bedrock.InferenceConfig{MaxTokens: new(100), Temperature: new(0.7), TopP: new(0.9), StopSequences: []string{"END"}}
	if !reflect.DeepEqual(req.InferenceConfig, want) {
		t.Errorf("inference = %+v, want %+v", req.InferenceConfig, want)
	}
	if req.InferenceConfig.MaxTokens == o.Inference.MaxTokens {
		t.Error("Apply shared MaxTokens with the options")
	}
	req = &bedrock.ConverseRequest{}
	o.Apply(req, bedrock.FamilyNova)
	if !reflect.DeepEqual(req.InferenceConfig, o.Inference) {
		t.Errorf("inference = %+v, want %+v", req.InferenceConfig, o.Inference)
	}
}

const converseJSON = `{"output":{"message":{"role":"assistant","content":[
 {"reasoningContent":{"reasoningText":{"text":"thinking","signature":"sig"}}},
 {"text":"Let me check."},
 {"toolUse":{"toolUseId":"t1","name":"weather","input":{"city":"Paris"}}}]}},
 "stopReason":"tool_use","usage":{"inputTokens":5,"outputTokens":7,"totalTokens":12,"cacheReadInputTokens":2},
 "metrics":{"latencyMs":42},"additionalModelResponseFields":{"stop_sequence":null}}`

// server answers Converse with converseJSON and ConverseStream with one
// text event stream, recording the paths and bodies it was sent.
func server(t *testing.T) (*bedrock.Client, *[]string) {
	var calls []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body bytes.Buffer
		body.ReadFrom(r.Body)
		calls = append(calls, r.URL.Path+" "+body.String())
		w.Header().Set("X-Amzn-RequestId", "req-1")
		if strings.HasSuffix(r.URL.Path, "/converse") {
			w.Write([]byte(converseJSON))
			return
		}
		w.Header().Set("Content-Type", "application/vnd.amazon.eventstream")
		enc := eventstream.NewEncoder()
		for _, ev := range [][2]string{
			{"messageStart", `{"role":"assistant"}`},
			{"contentBlockDelta", `{"contentBlockIndex":0,"delta":{"text":"streamed"}}`},
			{"contentBlockStop", `{"contentBlockIndex":0}`},
			{"messageStop", `{"stopReason":"end_turn"}`},
		} {
			var hs eventstream.Headers
			hs.Set(":event-type", eventstream.StringValue(ev[0]))
			hs.Set(":message-type", eventstream.StringValue("event"))
			enc.Encode(w, eventstream.Message{Headers: hs, Payload: []byte(ev[1])})
		}
	}))
	t.Cleanup(srv.Close)
	c, err := bedrock.New(context.Background(), bedrock.Config{Endpoint: srv.URL, AccessKeyID: "AKID", SecretAccessKey: "SECRET", Region: "us-east-1"})
	if err != nil {
		t.Fatal(err)
	}
	return c, &calls
}

func TestStream(t *testing.T) {
	ctx := context.Background()
	c, calls := server(t)
	req := &bedrock.ConverseRequest{Messages: []bedrock.Message{bedrock.UserText("weather?")},
		GuardrailConfig: &bedrock.GuardrailConfig{GuardrailIdentifier: "g", GuardrailVersion: "1", StreamProcessingMode: "async"}}

	t.Run("NoStreaming", func(t *testing.T) {
		*calls = nil
		s, err := Stream(ctx, c, "anthropic.claude-3-haiku-20240307-v1:0", req, &Options{NoStreaming: true})
		if err != nil {
			t.Fatal(err)
		}
		if len(*calls) != 1 || !strings.HasSuffix(strings.Fields((*calls)[0])[0], "/converse") || strings.Contains((*calls)[0], "streamProcessingMode") {
			t.Errorf("calls = %q, want one Converse call without streamProcessingMode", *calls)
		}
		if req.GuardrailConfig.StreamProcessingMode != "async" {
			t.Error("Stream modified the request")
		}
		var got []string
		for ev, err := range s.All() {
			if err != nil {
				t.Fatal(err)
			}
			b, _ := json.Marshal(ev)
			got = append(got, ev.Type+" "+string(b))
		}
		want := []string{
			`messageStart {"messageStart":{"role":"assistant"}}`,
			`contentBlockDelta {"contentBlockDelta":{"contentBlockIndex":0,"delta":{"reasoningContent":{"text":"thinking","signature":"sig"}}}}`,
			`contentBlockStop {"contentBlockStop":{"contentBlockIndex":0}}`,
			`contentBlockDelta {"contentBlockDelta":{"contentBlockIndex":1,"delta":{"text":"Let me check."}}}`,
			`contentBlockStop {"contentBlockStop":{"contentBlockIndex":1}}`,
			`contentBlockStart {"contentBlockStart":{"contentBlockIndex":2,"start":{"toolUse":{"toolUseId":"t1","name":"weather"}}}}`,
			`contentBlockDelta {"contentBlockDelta":{"contentBlockIndex":2,"delta":{"toolUse":{"input":"{\"city\":\"Paris\"}"}}}}`,
			`contentBlockStop {"contentBlockStop":{"contentBlockIndex":2}}`,
			`messageStop {"messageStop":{"stopReason":"tool_use","additionalModelResponseFields":{"stop_sequence":null}}}`,
			`metadata {"metadata":{"usage":{"inputTokens":5,"outputTokens":7,"totalTokens":12,"cacheReadInputTokens":2},"metrics":{"latencyMs":42}}}`,
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("events:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}

		// Collect gives back what Converse returned.
		s, err = Stream(ctx, c, "anthropic.claude-3-haiku-20240307-v1:0", req, &Options{NoStreaming: true})
		if err != nil {
			t.Fatal(err)
		}
		collected, err := s.Collect()
		if err != nil {
			t.Fatal(err)
		}
		direct, err := c.Converse(ctx, "anthropic.claude-3-haiku-20240307-v1:0", req)
		if err != nil {
			t.Fatal(err)
		}
		if collected.Header.Get("Content-Type") == "" {
			t.Error("Collect() dropped the response header")
		}
		// Two exchanges: their headers differ (Date).
		direct.Header, collected.Header = nil, nil
		if !reflect.DeepEqual(collected, direct) {
			cj, _ := json.Marshal(collected)
			dj, _ := json.Marshal(direct)
			t.Errorf("Collect() =\n%s\nConverse =\n%s", cj, dj)
		}
		if collected.RequestID != "req-1" {
			t.Errorf("request ID %q", collected.RequestID)
		}
	})

	for name, o := range map[string]*Options{"streaming": {}, "nil options": nil} {
		t.Run(name, func(t *testing.T) {
			*calls = nil
			s, err := Stream(ctx, c, "anthropic.claude-3-haiku-20240307-v1:0", req, o)
			if err != nil {
				t.Fatal(err)
			}
			resp, err := s.Collect()
			if err != nil {
				t.Fatal(err)
			}
			if len(*calls) != 1 || !strings.Contains((*calls)[0], "/converse-stream ") || resp.Text() != "streamed" || resp.StopReason != "end_turn" {
				t.Errorf("calls %q, answer %q (%s)", *calls, resp.Text(), resp.StopReason)
			}
		})
	}
}
