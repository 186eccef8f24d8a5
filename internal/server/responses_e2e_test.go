package server_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/packages/param"
	"github.com/openai/openai-go/v3/responses"
	"github.com/openai/openai-go/v3/shared"

	"github.com/quarry-dev/quarry/internal/server"
)

// End-to-end tests of /v1/responses: the gateway on the quick start
// (emulator in-process), driven by the official OpenAI Go SDK's Responses
// client.

func respClient(g *gateway, opts ...option.RequestOption) openai.Client {
	return chatClient(g, opts...)
}

func textInput(s string) responses.ResponseNewParamsInputUnion {
	return responses.ResponseNewParamsInputUnion{OfString: openai.String(s)}
}

// asInput turns output items into input items, unchanged, as an agent
// loop sends them back.
func asInput(items []responses.ResponseOutputItemUnion) responses.ResponseInputParam {
	var out responses.ResponseInputParam
	for _, it := range items {
		out = append(out, param.Override[responses.ResponseInputItemUnionParam](json.RawMessage(it.RawJSON())))
	}
	return out
}

var respWeatherTool = responses.ToolUnionParam{OfFunction: &responses.FunctionToolParam{
	Name: "get_weather", Description: openai.String("Get the current weather for a city"),
	Parameters: map[string]any{"type": "object", "properties": map[string]any{"city": map[string]any{"type": "string"}}, "required": []string{"city"}},
	Strict:     openai.Bool(false),
}}

func TestResponsesCreateAndStream(t *testing.T) {
	g := startGateway(t, quickstart, nil)
	c := respClient(g)
	ctx := context.Background()
	for _, model := range []string{"claude-sonnet", "nova-lite"} {
		t.Run(model, func(t *testing.T) {
			r, err := c.Responses.New(ctx, responses.ResponseNewParams{Model: model, Input: textInput("Tell me about rivers."),
				Instructions: openai.String("Be brief.")})
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(r.ID, "resp_") || r.Status != "completed" || r.Model != model || r.OutputText() == "" {
				t.Fatalf("response: id %q status %q model %q text %q", r.ID, r.Status, r.Model, r.OutputText())
			}
			if r.Usage.InputTokens == 0 || r.Usage.OutputTokens == 0 || r.Usage.TotalTokens != r.Usage.InputTokens+r.Usage.OutputTokens {
				t.Errorf("usage %+v", r.Usage)
			}

			s := c.Responses.NewStreaming(ctx, responses.ResponseNewParams{Model: model, Input: textInput("Tell me about rivers.")})
			var types []string
			var text strings.Builder
			var final responses.Response
			seq := int64(0)
			for s.Next() {
				ev := s.Current()
				if ev.SequenceNumber != seq {
					t.Errorf("event %d (%s) has sequence_number %d", seq, ev.Type, ev.SequenceNumber)
				}
				seq++
				types = append(types, ev.Type)
				switch ev.Type {
				case "response.output_text.delta":
					text.WriteString(ev.Delta)
				case "response.completed":
					final = ev.Response
				}
			}
			if err := s.Err(); err != nil {
				t.Fatal(err)
			}
			want := []string{"response.created", "response.in_progress", "response.output_item.added", "response.content_part.added", "response.output_text.delta"}
			if len(types) < len(want)+4 || strings.Join(types[:len(want)], ",") != strings.Join(want, ",") {
				t.Fatalf("events %v", types)
			}
			tail := []string{"response.output_text.done", "response.content_part.done", "response.output_item.done", "response.completed"}
			if got := types[len(types)-4:]; strings.Join(got, ",") != strings.Join(tail, ",") {
				t.Fatalf("last events %v", got)
			}
			if final.OutputText() != text.String() || final.Status != "completed" || final.Usage.OutputTokens == 0 {
				t.Errorf("completed %q (%s, %+v), deltas %q", final.OutputText(), final.Status, final.Usage, text.String())
			}
		})
	}
}

// TestResponsesFunctionLoop runs a tool loop both ways: stateless (output
// items sent back) and stateful (previous_response_id), streamed and not.
func TestResponsesFunctionLoop(t *testing.T) {
	rec := &recorder{}
	g := startChatGateway(t, quickstart, nil, server.Options{UpstreamTransport: rec})
	c := respClient(g)
	ctx := context.Background()
	for _, tc := range []struct {
		name            string
		model, modelID  string
		stateful, strem bool
	}{
		{"stateless", "claude-sonnet", "us.anthropic.claude-sonnet-4-20250514-v1:0", false, false},
		{"stateful", "claude-sonnet", "us.anthropic.claude-sonnet-4-20250514-v1:0", true, false},
		{"stateless streamed", "nova-lite", "us.amazon.nova-lite-v1:0", false, true},
		{"stateful streamed", "nova-lite", "us.amazon.nova-lite-v1:0", true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			create := func(p responses.ResponseNewParams) *responses.Response {
				t.Helper()
				p.Model, p.Tools = tc.model, []responses.ToolUnionParam{respWeatherTool}
				if !tc.strem {
					r, err := c.Responses.New(ctx, p)
					if err != nil {
						t.Fatal(err)
					}
					return r
				}
				s := c.Responses.NewStreaming(ctx, p)
				var final *responses.Response
				var args strings.Builder
				for s.Next() {
					ev := s.Current()
					switch ev.Type {
					case "response.function_call_arguments.delta":
						args.WriteString(ev.Delta)
					case "response.completed":
						r := ev.Response
						final = &r
					}
				}
				if err := s.Err(); err != nil {
					t.Fatal(err)
				}
				if final == nil {
					t.Fatal("no response.completed")
				}
				for _, it := range final.Output {
					if it.Type == "function_call" && it.Arguments.OfString != args.String() {
						t.Errorf("streamed arguments %q, final %q", args.String(), it.Arguments.OfString)
					}
				}
				return final
			}
			first := create(responses.ResponseNewParams{Input: textInput("What is the weather in Paris?")})
			var calls []responses.ResponseFunctionToolCall
			for _, it := range first.Output {
				if it.Type == "function_call" {
					calls = append(calls, it.AsFunctionCall())
				}
			}
			if len(calls) != 1 || calls[0].Name != "get_weather" || !json.Valid([]byte(calls[0].Arguments)) {
				t.Fatalf("calls %+v in %s", calls, first.RawJSON())
			}
			// A second, parallel call to the same tool, as a model may make:
			// both calls and both results go back together.
			second := responses.ResponseInputItemParamOfFunctionCall(`{"city":"Lyon"}`, "call_lyon", "get_weather")
			outputs := responses.ResponseInputParam{
				responses.ResponseInputItemParamOfFunctionCallOutput("Sunny, 21 C"),
				responses.ResponseInputItemParamOfFunctionCallOutput("Rainy, 12 C"),
			}
			outputs[0].OfFunctionCallOutput.CallID = openai.String(calls[0].CallID)
			outputs[1].OfFunctionCallOutput.CallID = openai.String("call_lyon")
			var p responses.ResponseNewParams
			if tc.stateful {
				// The stateful loop cannot add a call the model did not make:
				// it answers the one call.
				p = responses.ResponseNewParams{PreviousResponseID: openai.String(first.ID), Input: responses.ResponseNewParamsInputUnion{OfInputItemList: outputs[:1]}}
			} else {
				in := responses.ResponseInputParam{responses.ResponseInputItemParamOfMessage("What is the weather in Paris?", responses.EasyInputMessageRoleUser)}
				in = append(append(append(in, asInput(first.Output)...), second), outputs...)
				p = responses.ResponseNewParams{Input: responses.ResponseNewParamsInputUnion{OfInputItemList: in}}
			}
			final := create(p)
			if final.Status != "completed" || !strings.Contains(final.OutputText(), "Sunny") {
				t.Fatalf("final answer %q (%s)", final.OutputText(), final.Status)
			}
			_, body, _ := rec.last(t, tc.modelID)
			msgs := body["messages"].([]any)
			if len(msgs) != 3 {
				t.Fatalf("Bedrock got %d turns: %v", len(msgs), msgs)
			}
			uses, results := countBlocks(msgs[1], "toolUse"), countBlocks(msgs[2], "toolResult")
			want := 2
			if tc.stateful {
				want = 1
			}
			if uses != want || results != want {
				t.Errorf("assistant turn has %d toolUse, user turn %d toolResult; want %d each", uses, results, want)
			}
		})
	}
}

func countBlocks(msg any, kind string) int {
	n := 0
	for _, b := range msg.(map[string]any)["content"].([]any) {
		if _, ok := b.(map[string]any)[kind]; ok {
			n++
		}
	}
	return n
}

func TestResponsesJSONSchema(t *testing.T) {
	g := startGateway(t, quickstart, nil)
	c := respClient(g)
	schema := map[string]any{"type": "object", "properties": map[string]any{"name": map[string]any{"type": "string"}, "age": map[string]any{"type": "integer"}},
		"required": []string{"name", "age"}, "additionalProperties": false}
	for _, model := range []string{"claude-sonnet", "nova-lite"} {
		r, err := c.Responses.New(context.Background(), responses.ResponseNewParams{Model: model, Input: textInput("Describe a person."),
			Text: responses.ResponseTextConfigParam{Format: responses.ResponseFormatTextConfigParamOfJSONSchema("person", schema)}})
		if err != nil {
			t.Fatal(err)
		}
		var v struct {
			Name *string `json:"name"`
			Age  *int    `json:"age"`
		}
		if err := json.Unmarshal([]byte(r.OutputText()), &v); err != nil || v.Name == nil || v.Age == nil {
			t.Errorf("%s: output %q is not the schema's object (%v)", model, r.OutputText(), err)
		}
		for _, it := range r.Output {
			if it.Type != "message" {
				t.Errorf("%s: output item %s; want only the message", model, it.Type)
			}
		}
	}
}

// TestResponsesReasoning asks Claude to think, checks the summary and the
// encrypted content, and sends the reasoning back mid tool loop: Bedrock
// gets the signed thinking block first in the assistant turn, unchanged,
// and thinking stays on.
func TestResponsesReasoning(t *testing.T) {
	rec := &recorder{}
	g := startChatGateway(t, quickstart, nil, server.Options{UpstreamTransport: rec})
	c := respClient(g)
	ctx := context.Background()
	p := responses.ResponseNewParams{Model: "claude-sonnet", Input: textInput("What is the weather in Paris?"),
		Tools:     []responses.ToolUnionParam{respWeatherTool},
		Reasoning: shared.ReasoningParam{Effort: shared.ReasoningEffortLow, Summary: shared.ReasoningSummaryAuto},
		Include:   []responses.ResponseIncludable{responses.ResponseIncludableReasoningEncryptedContent},
		Store:     openai.Bool(false)}
	first, err := c.Responses.New(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	if len(first.Output) < 2 || first.Output[0].Type != "reasoning" {
		t.Fatalf("output %s", first.RawJSON())
	}
	rs := first.Output[0].AsReasoning()
	if rs.EncryptedContent == "" || len(rs.Summary) != 1 || rs.Summary[0].Text == "" {
		t.Fatalf("reasoning item %s", first.Output[0].RawJSON())
	}
	_, body, _ := rec.last(t, "us.anthropic.claude-sonnet-4-20250514-v1:0")
	_ = body
	var call responses.ResponseFunctionToolCall
	for _, it := range first.Output {
		if it.Type == "function_call" {
			call = it.AsFunctionCall()
		}
	}
	out := responses.ResponseInputItemParamOfFunctionCallOutput("Sunny")
	out.OfFunctionCallOutput.CallID = openai.String(call.CallID)
	in := responses.ResponseInputParam{responses.ResponseInputItemParamOfMessage("What is the weather in Paris?", responses.EasyInputMessageRoleUser)}
	in = append(append(in, asInput(first.Output)...), out)
	p.Input = responses.ResponseNewParamsInputUnion{OfInputItemList: in}
	second, err := c.Responses.New(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	if second.Status != "completed" {
		t.Fatalf("second: %s", second.RawJSON())
	}
	_, body, _ = rec.last(t, "us.anthropic.claude-sonnet-4-20250514-v1:0")
	asst := body["messages"].([]any)[1].(map[string]any)["content"].([]any)
	rt, _ := asst[0].(map[string]any)["reasoningContent"].(map[string]any)["reasoningText"].(map[string]any)
	if rt == nil || rt["signature"] == "" || rt["text"] != rs.Summary[0].Text {
		t.Errorf("assistant turn starts with %v; want the signed thinking block", asst[0])
	}
	if _, on := body["additionalModelRequestFields"].(map[string]any)["thinking"]; !on {
		t.Errorf("thinking is off mid tool loop: %v", body["additionalModelRequestFields"])
	}
}

func TestResponsesImageAndPDF(t *testing.T) {
	rec := &recorder{}
	g := startChatGateway(t, quickstart, nil, server.Options{UpstreamTransport: rec})
	c := respClient(g)
	pdf := "data:application/pdf;base64," + base64.StdEncoding.EncodeToString([]byte("%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF"))
	content := responses.ResponseInputMessageContentListParam{
		{OfInputText: &responses.ResponseInputTextParam{Text: "What is in these?"}},
		{OfInputImage: &responses.ResponseInputImageParam{ImageURL: openai.String("data:image/png;base64," + base64.StdEncoding.EncodeToString(pngPixel)), Detail: responses.ResponseInputImageDetailAuto}},
		{OfInputFile: &responses.ResponseInputFileParam{FileData: openai.String(pdf), Filename: openai.String("report.pdf")}},
	}
	r, err := c.Responses.New(context.Background(), responses.ResponseNewParams{Model: "claude-sonnet",
		Input: responses.ResponseNewParamsInputUnion{OfInputItemList: responses.ResponseInputParam{responses.ResponseInputItemParamOfMessage(content, responses.EasyInputMessageRoleUser)}}})
	if err != nil {
		t.Fatal(err)
	}
	if r.OutputText() == "" {
		t.Fatal("no answer")
	}
	_, body, _ := rec.last(t, "us.anthropic.claude-sonnet-4-20250514-v1:0")
	blocks := body["messages"].([]any)[0].(map[string]any)["content"].([]any)
	if len(blocks) != 3 || blocks[1].(map[string]any)["image"] == nil || blocks[2].(map[string]any)["document"] == nil {
		t.Fatalf("Bedrock content %v", blocks)
	}
	if f := blocks[2].(map[string]any)["document"].(map[string]any)["format"]; f != "pdf" {
		t.Errorf("document format %v", f)
	}
}

// TestResponsesStoredLifecycle: GET, input_items and DELETE of a stored
// response; another API key sees none of it; store: false keeps nothing.
func TestResponsesStoredLifecycle(t *testing.T) {
	g := startGateway(t, quickstartWithKeys(t, "key-one-abc", "key-two-abc"), nil)
	one := respClient(g, option.WithAPIKey("key-one-abc"))
	two := respClient(g, option.WithAPIKey("key-two-abc"))
	ctx := context.Background()
	in := responses.ResponseInputParam{
		responses.ResponseInputItemParamOfMessage("First question.", responses.EasyInputMessageRoleUser),
		responses.ResponseInputItemParamOfMessage("Second question.", responses.EasyInputMessageRoleUser),
	}
	r, err := one.Responses.New(ctx, responses.ResponseNewParams{Model: "nova-lite", Input: responses.ResponseNewParamsInputUnion{OfInputItemList: in}})
	if err != nil {
		t.Fatal(err)
	}
	got, err := one.Responses.Get(ctx, r.ID, responses.ResponseGetParams{})
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != r.ID || got.OutputText() != r.OutputText() || got.Usage.TotalTokens != r.Usage.TotalTokens {
		t.Errorf("GET %s: %q, created %q", got.ID, got.OutputText(), r.OutputText())
	}
	items, err := one.Responses.InputItems.List(ctx, r.ID, responses.InputItemListParams{Order: responses.InputItemListParamsOrderAsc})
	if err != nil {
		t.Fatal(err)
	}
	if len(items.Data) != 2 || items.Data[0].ID == "" || !strings.Contains(items.Data[0].RawJSON(), "First question.") {
		t.Errorf("input items %s", items.RawJSON())
	}
	// The other key: 404 on every route, and no continuation.
	assertStatus(t, "GET by another key", func() error { _, err := two.Responses.Get(ctx, r.ID, responses.ResponseGetParams{}); return err }, 404)
	assertStatus(t, "input_items by another key", func() error {
		_, err := two.Responses.InputItems.List(ctx, r.ID, responses.InputItemListParams{})
		return err
	}, 404)
	assertStatus(t, "continue by another key", func() error {
		_, err := two.Responses.New(ctx, responses.ResponseNewParams{Model: "nova-lite", Input: textInput("More."), PreviousResponseID: openai.String(r.ID)})
		return err
	}, 404)
	assertStatus(t, "DELETE by another key", func() error { return two.Responses.Delete(ctx, r.ID) }, 404)
	if err := one.Responses.Delete(ctx, r.ID); err != nil {
		t.Fatal(err)
	}
	assertStatus(t, "GET after DELETE", func() error { _, err := one.Responses.Get(ctx, r.ID, responses.ResponseGetParams{}); return err }, 404)

	nr, err := one.Responses.New(ctx, responses.ResponseNewParams{Model: "nova-lite", Input: textInput("Hi"), Store: openai.Bool(false)})
	if err != nil {
		t.Fatal(err)
	}
	assertStatus(t, "GET of store: false", func() error { _, err := one.Responses.Get(ctx, nr.ID, responses.ResponseGetParams{}); return err }, 404)
}

func assertStatus(t *testing.T, what string, call func() error, status int) {
	t.Helper()
	err := call()
	var apiErr *openai.Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != status {
		t.Errorf("%s: %v; want status %d", what, err, status)
	}
}

func TestResponsesInputTokens(t *testing.T) {
	g := startGateway(t, quickstart, nil)
	c := respClient(g)
	r, err := c.Responses.InputTokens.Count(context.Background(), responses.InputTokenCountParams{Model: openai.String("claude-sonnet"),
		Input: responses.InputTokenCountParamsInputUnion{OfString: openai.String("How many tokens is this sentence?")}})
	if err != nil {
		t.Fatal(err)
	}
	if r.InputTokens <= 0 || r.Object != "response.input_tokens" {
		t.Errorf("input tokens %+v", r)
	}
}

// TestResponsesUnknownModel: a 404 naming the model, in OpenAI's format.
func TestResponsesUnknownModel(t *testing.T) {
	g := startGateway(t, quickstart, nil)
	c := respClient(g)
	_, err := c.Responses.New(context.Background(), responses.ResponseNewParams{Model: "gpt-9", Input: textInput("Hi")})
	var apiErr *openai.Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusNotFound || !strings.Contains(apiErr.Message, "gpt-9") {
		t.Fatalf("unknown model: %v", err)
	}
}

// quickstartWithKeys is the quick start with api_keys.
func quickstartWithKeys(t *testing.T, keys ...string) string {
	t.Helper()
	data, err := os.ReadFile(quickstart)
	if err != nil {
		t.Fatal(err)
	}
	q, _ := json.Marshal(keys)
	cfg := strings.Replace(string(data), "server:\n  address: 127.0.0.1:8080\n", "server:\n  address: 127.0.0.1:8080\n  api_keys: "+string(q)+"\n", 1)
	if cfg == string(data) {
		t.Fatal("could not add api_keys to the quick start")
	}
	return writeConfig(t, [2]string{"quarry.yaml", cfg})
}

// TestResponsesFailures: upstream failures get chat's statuses (429 with
// Retry-After, 503, 504) before a stream starts, and an in-stream Bedrock
// exception becomes response.failed, after which the stream ends.
func TestResponsesFailures(t *testing.T) {
	g := startGateway(t, quickstart, nil)
	c := respClient(g)
	ctx := context.Background()
	for _, tc := range []struct {
		marker string
		status int
	}{{"throttle", 429}, {"unavailable", 503}, {"model-timeout", 504}} {
		for _, stream := range []bool{false, true} {
			p := responses.ResponseNewParams{Model: "nova-lite", Input: textInput("Hi [[quarry:" + tc.marker + "]]")}
			var err error
			if stream {
				s := c.Responses.NewStreaming(ctx, p)
				for s.Next() {
				}
				err = s.Err()
			} else {
				_, err = c.Responses.New(ctx, p)
			}
			var apiErr *openai.Error
			if !errors.As(err, &apiErr) || apiErr.StatusCode != tc.status {
				t.Errorf("%s (stream %v): %v; want %d", tc.marker, stream, err, tc.status)
				continue
			}
			if tc.status == 429 && apiErr.Response.Header.Get("Retry-After") == "" {
				t.Errorf("%s: no Retry-After", tc.marker)
			}
		}
	}
	for _, marker := range []string{"throttle-stream", "model-stream-error", "truncate"} {
		t.Run(marker, func(t *testing.T) {
			body := `{"model":"nova-lite","stream":true,"input":"Tell me a long story [[quarry:` + marker + `]]"}`
			resp, err := http.Post(g.URL+"/v1/responses", "application/json", strings.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			raw, _ := io.ReadAll(resp.Body)
			events := strings.Split(strings.TrimSpace(string(raw)), "\n\n")
			last := events[len(events)-1]
			if resp.StatusCode != 200 || len(events) < 3 || !strings.HasPrefix(last, "event: response.failed\n") {
				t.Fatalf("stream = %d %s", resp.StatusCode, raw)
			}
			var ev struct {
				Type     string `json:"type"`
				Response struct {
					Status string `json:"status"`
					Error  struct{ Code, Message string }
				} `json:"response"`
			}
			_, data, _ := strings.Cut(last, "data: ")
			if err := json.Unmarshal([]byte(data), &ev); err != nil || ev.Type != "response.failed" || ev.Response.Status != "failed" ||
				ev.Response.Error.Code == "" || ev.Response.Error.Message == "" {
				t.Errorf("failed event = %s", last)
			}
		})
	}
}

// TestResponsesShaping: a supports_streaming: false model answers a stream
// with the full event sequence from Converse (ConverseStream never called),
// and a refused finish reason is chat's 422.
func TestResponsesShaping(t *testing.T) {
	e := startShaping(t)
	c := respClient(e.g)
	ctx := context.Background()
	s := c.Responses.NewStreaming(ctx, responses.ResponseNewParams{Model: "no-stream", Input: textInput("Tell me about rivers.")})
	var types []string
	var text strings.Builder
	for s.Next() {
		ev := s.Current()
		types = append(types, ev.Type)
		if ev.Type == "response.output_text.delta" {
			text.WriteString(ev.Delta)
		}
	}
	if err := s.Err(); err != nil {
		t.Fatal(err)
	}
	if len(types) < 5 || types[0] != "response.created" || types[len(types)-1] != "response.completed" || text.Len() == 0 {
		t.Errorf("events %v, text %q", types, text.String())
	}
	rec, _, _ := e.rec.last(t, "anthropic.claude-3-5-sonnet-20241022-v2:0")
	if !strings.HasSuffix(rec.Path, "/converse") {
		t.Errorf("Bedrock call %s; want Converse", rec.Path)
	}
	_, err := c.Responses.New(ctx, responses.ResponseNewParams{Model: "deny-length", Input: textInput("Tell me a long story."), MaxOutputTokens: openai.Int(16)})
	var apiErr *openai.Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 422 || apiErr.Type != "finish_reason_error" {
		t.Errorf("refused finish reason: %v", err)
	}
}
