package server_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/shared"
	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/quarry-dev/quarry/internal/config"
	quarryopenai "github.com/quarry-dev/quarry/internal/openai"
	"github.com/quarry-dev/quarry/internal/server"
)

// End-to-end tests of POST /v1/chat/completions: the gateway on the quick
// start (emulator in-process), driven by the official OpenAI Go SDK.

// pngPixel is a 1x1 PNG.
var pngPixel, _ = base64.StdEncoding.DecodeString("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==")

// chatClient is an OpenAI client of the gateway. The SDK's own retries are
// off, so that a test sees the gateway's status.
func chatClient(g *gateway, opts ...option.RequestOption) openai.Client {
	return openai.NewClient(append([]option.RequestOption{
		option.WithBaseURL(g.URL + "/v1/"), option.WithAPIKey("unused"), option.WithMaxRetries(0),
	}, opts...)...)
}

// bedrockExt is the gateway's "bedrock" extension object.
type bedrockExt struct {
	Trace *struct {
		Guardrail json.RawMessage `json:"guardrail"`
	} `json:"trace"`
	Usage struct {
		CacheReadInputTokens  *int `json:"cacheReadInputTokens"`
		CacheWriteInputTokens *int `json:"cacheWriteInputTokens"`
	} `json:"usage"`
	StopSequence *string `json:"stopSequence"`
	RequestID    string  `json:"requestId"`
}

func bedrockOf(t *testing.T, raw string) *bedrockExt {
	t.Helper()
	var v struct {
		Bedrock *bedrockExt `json:"bedrock"`
	}
	if err := json.Unmarshal([]byte(raw), &v); err != nil {
		t.Fatal(err)
	}
	if v.Bedrock == nil {
		t.Fatalf("no bedrock object in %s", raw)
	}
	return v.Bedrock
}

func weatherTool() openai.ChatCompletionToolUnionParam {
	return openai.ChatCompletionFunctionTool(shared.FunctionDefinitionParam{
		Name:        "get_weather",
		Description: openai.String("Get the current weather for a location"),
		Parameters: shared.FunctionParameters{
			"type":       "object",
			"properties": map[string]any{"location": map[string]any{"type": "string"}},
			"required":   []string{"location"},
		},
	})
}

func TestChatE2E(t *testing.T) {
	t.Parallel()
	g := startGateway(t, quickstart, nil)
	client := chatClient(g)
	ctx := context.Background()
	var httpResp *http.Response
	resp, err := client.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{
		Model:    "nova-micro",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.SystemMessage("Answer briefly."), openai.UserMessage("Say hello to Quarry")},
		Seed:     openai.Int(7), // accepted and ignored
	}, option.WithResponseInto(&httpResp))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(resp.ID, "chatcmpl-") || resp.Model != "nova-micro" || resp.Object != "chat.completion" || resp.Created == 0 {
		t.Errorf("envelope = %q %q %q %d", resp.ID, resp.Model, resp.Object, resp.Created)
	}
	if len(resp.Choices) != 1 || resp.Choices[0].Message.Content == "" || resp.Choices[0].FinishReason != "stop" {
		t.Fatalf("choices = %+v", resp.Choices)
	}
	if !strings.Contains(strings.ToLower(resp.Choices[0].Message.Content), "hello to quarry") {
		t.Errorf("content = %q; the emulator answers \"Say X\" with X", resp.Choices[0].Message.Content)
	}
	u := resp.Usage
	if u.PromptTokens == 0 || u.CompletionTokens == 0 || u.TotalTokens != u.PromptTokens+u.CompletionTokens {
		t.Errorf("usage = %+v", u)
	}
	reqID := httpResp.Header.Get("x-amzn-requestid")
	if reqID == "" {
		t.Error("no x-amzn-requestid header")
	}
	if b := bedrockOf(t, resp.RawJSON()); b.RequestID != reqID || b.Usage.CacheReadInputTokens == nil {
		t.Errorf("bedrock object = %+v; want requestId %q and cache usage", b, reqID)
	}
}

func TestChatE2EStreaming(t *testing.T) {
	t.Parallel()
	g := startGateway(t, quickstart, nil)
	client := chatClient(g)
	var httpResp *http.Response
	// The slow marker makes the emulator wait 30ms between events: chunks
	// that arrive spread over time were forwarded as they came.
	stream := client.Chat.Completions.NewStreaming(context.Background(), openai.ChatCompletionNewParams{
		Model:         "nova-lite",
		Messages:      []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Tell me about streaming rivers and lakes [[quarry:slow]]")},
		StreamOptions: openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)},
	}, option.WithResponseInto(&httpResp))
	var acc openai.ChatCompletionAccumulator
	var arrivals []time.Time
	var chunks []openai.ChatCompletionChunk
	for stream.Next() {
		c := stream.Current()
		acc.AddChunk(c)
		chunks = append(chunks, c)
		if len(c.Choices) > 0 && c.Choices[0].Delta.Content != "" {
			arrivals = append(arrivals, time.Now())
		}
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	if ct := httpResp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/event-stream") {
		t.Errorf("Content-Type = %q", ct)
	}
	if httpResp.Header.Get("Cache-Control") != "no-cache" || httpResp.Header.Get("X-Accel-Buffering") != "no" || httpResp.Header.Get("Content-Encoding") != "" {
		t.Errorf("stream headers = %v", httpResp.Header)
	}
	if httpResp.Header.Get("x-amzn-requestid") == "" {
		t.Error("no x-amzn-requestid header")
	}
	if len(arrivals) < 3 {
		t.Fatalf("%d content chunks; want several", len(arrivals))
	}
	if spread := arrivals[len(arrivals)-1].Sub(arrivals[0]); spread < time.Duration(len(arrivals)-1)*15*time.Millisecond {
		t.Errorf("%d content chunks arrived within %v: the stream was buffered", len(arrivals), spread)
	}
	first, last := chunks[0], chunks[len(chunks)-1]
	if len(first.Choices) != 1 || first.Choices[0].Delta.Role != "assistant" {
		t.Errorf("first chunk = %s", first.RawJSON())
	}
	if len(last.Choices) != 0 || last.Usage.TotalTokens == 0 || last.Usage.PromptTokens == 0 {
		t.Errorf("last chunk = %s; want the usage chunk", last.RawJSON())
	}
	if b := bedrockOf(t, last.RawJSON()); b.RequestID == "" {
		t.Errorf("usage chunk's bedrock object has no requestId")
	}
	if fin := chunks[len(chunks)-2]; len(fin.Choices) != 1 || fin.Choices[0].FinishReason != "stop" {
		t.Errorf("finish chunk = %s", fin.RawJSON())
	}
	if acc.Choices[0].Message.Content == "" || acc.Usage.CompletionTokens == 0 {
		t.Errorf("accumulated = %+v", acc.ChatCompletion)
	}
}

func TestChatE2EToolCalling(t *testing.T) {
	t.Parallel()
	g := startGateway(t, quickstart, nil)
	client := chatClient(g)
	ctx := context.Background()
	for _, model := range []string{"claude-sonnet", "nova-lite"} {
		for _, streamed := range []bool{false, true} {
			name := model + "/nonstreamed"
			if streamed {
				name = model + "/streamed"
			}
			t.Run(name, func(t *testing.T) {
				params := openai.ChatCompletionNewParams{
					Model:    model,
					Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("What is the weather in Paris?")},
					Tools:    []openai.ChatCompletionToolUnionParam{weatherTool()},
				}
				complete := func() openai.ChatCompletion {
					t.Helper()
					if !streamed {
						c, err := client.Chat.Completions.New(ctx, params)
						if err != nil {
							t.Fatal(err)
						}
						return *c
					}
					s := client.Chat.Completions.NewStreaming(ctx, params)
					var acc openai.ChatCompletionAccumulator
					for s.Next() {
						acc.AddChunk(s.Current())
					}
					if err := s.Err(); err != nil {
						t.Fatal(err)
					}
					return acc.ChatCompletion
				}
				first := complete()
				ch := first.Choices[0]
				if ch.FinishReason != "tool_calls" || len(ch.Message.ToolCalls) != 1 {
					t.Fatalf("first turn = %+v; want one tool call", ch)
				}
				call := ch.Message.ToolCalls[0]
				var args struct{ Location string }
				if call.Function.Name != "get_weather" || call.ID == "" || json.Unmarshal([]byte(call.Function.Arguments), &args) != nil || args.Location == "" {
					t.Fatalf("tool call = %+v", call)
				}
				params.Messages = append(params.Messages, ch.Message.ToParam(),
					openai.ToolMessage(`{"temperature_c": 18, "sky": "sunny"}`, call.ID))
				second := complete()
				if second.Choices[0].FinishReason != "stop" || !strings.Contains(second.Choices[0].Message.Content, "18") {
					t.Errorf("second turn = %+v; want an answer quoting the tool result", second.Choices[0])
				}
			})
		}
	}
}

func TestChatE2EJSONSchema(t *testing.T) {
	t.Parallel()
	// claude-sonnet-45 gets Bedrock's structured output; the quick start's
	// models get the forced-tool fallback.
	g := startGateway(t, quickstart, func(c *config.Config) {
		c.Models = append(c.Models, config.Model{Kind: config.KindChat, Name: "claude-sonnet-45",
			ModelID: "us.anthropic.claude-sonnet-4-5-20250929-v1:0"})
	})
	client := chatClient(g)
	schemaDoc := map[string]any{
		"type": "object",
		"properties": map[string]any{
			"city":       map[string]any{"type": "string"},
			"population": map[string]any{"type": "integer", "minimum": 0},
			"country":    map[string]any{"type": "string", "enum": []any{"FR", "DE", "IT"}},
			"landmarks":  map[string]any{"type": "array", "items": map[string]any{"type": "string"}},
		},
		"required":             []any{"city", "population", "country"},
		"additionalProperties": false,
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("city.json", schemaDoc); err != nil {
		t.Fatal(err)
	}
	schema, err := c.Compile("city.json")
	if err != nil {
		t.Fatal(err)
	}
	for _, model := range []string{"nova-lite", "claude-sonnet", "claude-sonnet-45"} {
		for _, streamed := range []bool{false, true} {
			t.Run(model+map[bool]string{false: "/nonstreamed", true: "/streamed"}[streamed], func(t *testing.T) {
				params := openai.ChatCompletionNewParams{
					Model:    model,
					Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Describe Paris as JSON.")},
					ResponseFormat: openai.ChatCompletionNewParamsResponseFormatUnion{OfJSONSchema: &shared.ResponseFormatJSONSchemaParam{
						JSONSchema: shared.ResponseFormatJSONSchemaJSONSchemaParam{Name: "city_info", Schema: schemaDoc, Strict: openai.Bool(true)},
					}},
				}
				var content, finish string
				if streamed {
					s := client.Chat.Completions.NewStreaming(context.Background(), params)
					var acc openai.ChatCompletionAccumulator
					for s.Next() {
						acc.AddChunk(s.Current())
					}
					if err := s.Err(); err != nil {
						t.Fatal(err)
					}
					content, finish = acc.Choices[0].Message.Content, acc.Choices[0].FinishReason
				} else {
					resp, err := client.Chat.Completions.New(context.Background(), params)
					if err != nil {
						t.Fatal(err)
					}
					content, finish = resp.Choices[0].Message.Content, resp.Choices[0].FinishReason
				}
				if finish != "stop" {
					t.Errorf("finish_reason = %q", finish)
				}
				v, err := jsonschema.UnmarshalJSON(strings.NewReader(content))
				if err != nil {
					t.Fatalf("content is not JSON: %v: %q", err, content)
				}
				if err := schema.Validate(v); err != nil {
					t.Errorf("content does not match the schema: %v\n%s", err, content)
				}
			})
		}
	}
}

func TestChatE2EImages(t *testing.T) {
	t.Parallel()
	var hits atomic.Int32
	img := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		if r.URL.Path == "/redirect" {
			http.Redirect(w, r, "/pixel", http.StatusFound)
			return
		}
		w.Header().Set("Content-Type", "image/png")
		w.Write(pngPixel)
	}))
	defer img.Close()
	host := strings.TrimPrefix(img.URL, "http://")
	g := startChatGateway(t, quickstart, nil, server.Options{Media: &quarryopenai.MediaOptions{TrustedHosts: []string{host}}})
	client := chatClient(g)
	dataURI := "data:image/png;base64," + base64.StdEncoding.EncodeToString(pngPixel)
	for _, c := range []struct{ name, url string }{
		{"data URI", dataURI},
		{"http URL of a trusted host", img.URL + "/pixel.png?sig=abc"},
		{"redirected http URL", img.URL + "/redirect"},
	} {
		t.Run(c.name, func(t *testing.T) {
			resp, err := client.Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{
				Model: "nova-lite",
				Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage([]openai.ChatCompletionContentPartUnionParam{
					openai.TextContentPart("What is in this picture?"),
					openai.ImageContentPart(openai.ChatCompletionContentPartImageImageURLParam{URL: c.url}),
				})},
			})
			if err != nil {
				t.Fatal(err)
			}
			// The emulator bills an image as 1600 input tokens.
			if resp.Usage.PromptTokens < 1600 || resp.Choices[0].Message.Content == "" {
				t.Errorf("prompt tokens %d, content %q: the image did not reach Bedrock", resp.Usage.PromptTokens, resp.Choices[0].Message.Content)
			}
		})
	}
	if hits.Load() != 3 {
		t.Errorf("the image server saw %d requests; want 3", hits.Load())
	}

	// A document (file part) reaches Bedrock as a document block.
	resp, err := client.Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{
		Model: "nova-lite",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage([]openai.ChatCompletionContentPartUnionParam{
			openai.TextContentPart("Summarize the file."),
			openai.FileContentPart(openai.ChatCompletionContentPartFileFileParam{
				FileData: openai.String("data:text/plain;base64," + base64.StdEncoding.EncodeToString(bytes.Repeat([]byte("quarterly revenue grew. "), 50))),
				Filename: openai.String("Q3 notes.txt"),
			}),
		})},
	})
	if err != nil {
		t.Fatal(err)
	}
	if resp.Usage.PromptTokens < 100 {
		t.Errorf("prompt tokens %d: the document did not reach Bedrock", resp.Usage.PromptTokens)
	}
}

func TestChatE2EReasoning(t *testing.T) {
	t.Parallel()
	g := startGateway(t, quickstart, nil)
	client := chatClient(g)
	params := openai.ChatCompletionNewParams{
		Model:           "claude-sonnet",
		Messages:        []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Why is the sky blue?")},
		ReasoningEffort: shared.ReasoningEffortLow,
		Temperature:     openai.Float(0.2), // dropped: Claude refuses it with thinking
	}
	resp, err := client.Chat.Completions.New(context.Background(), params)
	if err != nil {
		t.Fatal(err)
	}
	var msg struct {
		Content          string `json:"content"`
		ReasoningContent string `json:"reasoning_content"`
	}
	json.Unmarshal([]byte(resp.Choices[0].Message.RawJSON()), &msg)
	if msg.ReasoningContent == "" || msg.Content == "" {
		t.Errorf("message = %s; want reasoning_content and content", resp.Choices[0].Message.RawJSON())
	}

	s := client.Chat.Completions.NewStreaming(context.Background(), params)
	var reasoning, content strings.Builder
	for s.Next() {
		c := s.Current()
		if len(c.Choices) == 0 {
			continue
		}
		var d struct {
			ReasoningContent string `json:"reasoning_content"`
		}
		json.Unmarshal([]byte(c.Choices[0].Delta.RawJSON()), &d)
		reasoning.WriteString(d.ReasoningContent)
		content.WriteString(c.Choices[0].Delta.Content)
	}
	if err := s.Err(); err != nil {
		t.Fatal(err)
	}
	if reasoning.Len() == 0 || content.Len() == 0 {
		t.Errorf("streamed reasoning %q, content %q", reasoning.String(), content.String())
	}
}

// writeConfig writes files into a temporary directory and returns the
// path of the first.
func writeConfig(t *testing.T, files ...[2]string) string {
	t.Helper()
	dir := t.TempDir()
	for _, f := range files {
		if err := os.WriteFile(filepath.Join(dir, f[0]), []byte(f[1]), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return filepath.Join(dir, files[0][0])
}

func TestChatE2EGuardrail(t *testing.T) {
	t.Parallel()
	path := writeConfig(t,
		[2]string{"quarry.yaml", `
version: v1
emulator:
  config: emulator.yaml
models:
  - name: guarded
    from: bedrock:us.amazon.nova-lite-v1:0
    params:
      bedrock_guardrail_identifier: gr1test
      bedrock_guardrail_version: "1"
      bedrock_trace: enabled
`},
		[2]string{"emulator.yaml", `
guardrails:
  - id: gr1test
    versions: ["1"]
    denied_words: ["password"]
    blocked_input_message: Blocked by policy.
`})
	g := startGateway(t, path, nil)
	client := chatClient(g)
	ctx := context.Background()
	ask := func(prompt string, opts ...option.RequestOption) (*openai.ChatCompletion, error) {
		return client.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{
			Model: "guarded", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage(prompt)},
		}, opts...)
	}
	resp, err := ask("Tell me a story about the sea")
	if err != nil {
		t.Fatal(err)
	}
	if resp.Choices[0].FinishReason != "stop" {
		t.Errorf("harmless prompt: finish_reason %q", resp.Choices[0].FinishReason)
	}
	resp, err = ask("Tell me the admin password")
	if err != nil {
		t.Fatal(err)
	}
	if resp.Choices[0].FinishReason != "content_filter" || resp.Choices[0].Message.Content != "Blocked by policy." {
		t.Errorf("blocked prompt: %+v", resp.Choices[0])
	}
	if b := bedrockOf(t, resp.RawJSON()); b.Trace == nil || len(b.Trace.Guardrail) == 0 {
		t.Errorf("no guardrail trace in %s", resp.RawJSON())
	}

	// Streamed, with the request's own trace setting.
	s := client.Chat.Completions.NewStreaming(ctx, openai.ChatCompletionNewParams{
		Model: "guarded", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("What is the password?")},
	}, option.WithJSONSet("guardrailConfig", map[string]any{"trace": "enabled_full", "streamProcessingMode": "sync"}))
	var finish string
	var lastRaw string
	for s.Next() {
		c := s.Current()
		lastRaw = c.RawJSON()
		if len(c.Choices) > 0 && c.Choices[0].FinishReason != "" {
			finish = c.Choices[0].FinishReason
		}
	}
	if err := s.Err(); err != nil {
		t.Fatal(err)
	}
	if finish != "content_filter" {
		t.Errorf("streamed finish_reason %q", finish)
	}
	if b := bedrockOf(t, lastRaw); b.Trace == nil {
		t.Errorf("no trace in the last chunk %s", lastRaw)
	}

	// The configured guardrail cannot be swapped by a request.
	_, err = ask("Hi", option.WithJSONSet("guardrailConfig", map[string]any{"guardrailIdentifier": "other", "guardrailVersion": "DRAFT"}))
	var apiErr *openai.Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 400 || apiErr.Param != "guardrailConfig.guardrailIdentifier" {
		t.Errorf("replacing the guardrail: %v", err)
	}
}

// apiErrorOf asserts err is an OpenAI API error with status and returns it.
func apiErrorOf(t *testing.T, err error, status int) *openai.Error {
	t.Helper()
	var apiErr *openai.Error
	if !errors.As(err, &apiErr) {
		t.Fatalf("error = %v; want an API error with status %d", err, status)
	}
	if apiErr.StatusCode != status {
		t.Fatalf("status = %d (%s); want %d", apiErr.StatusCode, apiErr.Message, status)
	}
	if apiErr.Message == "" || apiErr.Type == "" {
		t.Errorf("error body = %s; want message and type", apiErr.RawJSON())
	}
	return apiErr
}

func TestChatE2EErrors(t *testing.T) {
	t.Parallel()
	g := startGateway(t, quickstart, nil)
	client := chatClient(g)
	ctx := context.Background()
	ask := func(model, prompt string) error {
		_, err := client.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{
			Model: model, Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage(prompt)},
		})
		return err
	}
	askStream := func(model, prompt string) error {
		s := client.Chat.Completions.NewStreaming(ctx, openai.ChatCompletionNewParams{
			Model: model, Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage(prompt)},
		})
		for s.Next() {
		}
		return s.Err()
	}

	t.Run("unknown model 404", func(t *testing.T) {
		e := apiErrorOf(t, ask("gpt-4o", "Hi"), 404)
		if e.Param != "model" || e.Code != "model_not_found" || !strings.Contains(e.Message, "gpt-4o") {
			t.Errorf("error = %s", e.RawJSON())
		}
		apiErrorOf(t, ask("titan-embed", "Hi"), 404) // an embedding model is not a chat model
	})
	t.Run("bad request 400 names the field", func(t *testing.T) {
		_, err := client.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{
			Model: "nova-lite", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Hi")},
			Temperature: openai.Float(1.5),
		})
		if e := apiErrorOf(t, err, 400); e.Param != "temperature" || e.Type != "invalid_request_error" {
			t.Errorf("error = %s", e.RawJSON())
		}
	})
	t.Run("Bedrock validation 400", func(t *testing.T) {
		// maxTokens over the model's limit: Bedrock's own ValidationException.
		_, err := client.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{
			Model: "nova-lite", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Hi")},
			MaxCompletionTokens: openai.Int(1_000_000),
		})
		if e := apiErrorOf(t, err, 400); !strings.Contains(e.Message, "maximum tokens") {
			t.Errorf("error = %s", e.RawJSON())
		}
	})
	t.Run("throttling 429 with Retry-After", func(t *testing.T) {
		before := g.Server.Emulator().Stats().Requests["Converse"]
		e := apiErrorOf(t, ask("nova-lite", "Hi [[quarry:throttle]]"), 429)
		if e.Response.Header.Get("Retry-After") == "" || e.Type != "rate_limit_error" {
			t.Errorf("error = %s, Retry-After %q", e.RawJSON(), e.Response.Header.Get("Retry-After"))
		}
		if n := g.Server.Emulator().Stats().Requests["Converse"] - before; n != 3 {
			t.Errorf("the emulator saw %d attempts; the client retries throttling up to 3", n)
		}
		if e.Response.Header.Get("x-amzn-requestid") == "" {
			t.Error("no x-amzn-requestid on the error")
		}
		apiErrorOf(t, askStream("nova-lite", "Hi [[quarry:throttle]]"), 429)
	})
	t.Run("upstream unavailable 503", func(t *testing.T) {
		e := apiErrorOf(t, ask("nova-lite", "Hi [[quarry:unavailable]]"), 503)
		if e.Response.Header.Get("Retry-After") == "" {
			t.Error("no Retry-After")
		}
		apiErrorOf(t, askStream("nova-lite", "Hi [[quarry:unavailable]]"), 503)
	})
	t.Run("model timeout 504", func(t *testing.T) {
		apiErrorOf(t, ask("nova-lite", "Hi [[quarry:model-timeout]]"), 504)
	})
	t.Run("upstream timeout 504", func(t *testing.T) {
		// 300ms to the first token against an UpstreamTimeout of 150ms.
		slow := startGateway(t, quickstart, func(c *config.Config) { c.Server.UpstreamTimeout = 150 * time.Millisecond })
		sc := chatClient(slow)
		params := openai.ChatCompletionNewParams{
			Model: "nova-lite", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Hi [[quarry:slow]]")},
		}
		_, err := sc.Chat.Completions.New(ctx, params)
		if e := apiErrorOf(t, err, 504); e.Type != "timeout_error" {
			t.Errorf("error = %s", e.RawJSON())
		}
		s := sc.Chat.Completions.NewStreaming(ctx, params)
		for s.Next() {
		}
		apiErrorOf(t, s.Err(), 504)
	})
	t.Run("in-stream exception", func(t *testing.T) {
		body := `{"model":"nova-lite","stream":true,"messages":[{"role":"user","content":"Tell me a long story [[quarry:throttle-stream]]"}]}`
		resp, err := http.Post(g.URL+"/v1/chat/completions", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		events := strings.Split(strings.TrimSpace(string(raw)), "\n\n")
		last := events[len(events)-1]
		if resp.StatusCode != 200 || len(events) < 2 || !strings.HasPrefix(last, `data: {"error":`) || strings.Contains(string(raw), "[DONE]") {
			t.Fatalf("stream = %d %s", resp.StatusCode, raw)
		}
		var ev struct {
			Error struct{ Message, Type, Code string }
		}
		if err := json.Unmarshal([]byte(strings.TrimPrefix(last, "data: ")), &ev); err != nil || ev.Error.Type != "rate_limit_error" || ev.Error.Code != "ThrottlingException" || ev.Error.Message == "" {
			t.Errorf("error event = %s", last)
		}
		// A stream cut short (a decode error) also ends with an error event.
		for _, marker := range []string{"truncate", "reset"} {
			body := `{"model":"nova-lite","stream":true,"messages":[{"role":"user","content":"Story [[quarry:` + marker + `]]"}]}`
			resp, err := http.Post(g.URL+"/v1/chat/completions", "application/json", strings.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			raw, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if !strings.Contains(string(raw), `data: {"error":`) || strings.Contains(string(raw), "[DONE]") {
				t.Errorf("%s: stream = %s", marker, raw)
			}
		}
		// The SDK reports it from Err.
		if err := askStream("nova-lite", "Story [[quarry:model-stream-error]]"); err == nil || !strings.Contains(err.Error(), "error") {
			t.Errorf("SDK stream error = %v", err)
		}
	})
}

func TestChatE2EAuth(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile(quickstart)
	if err != nil {
		t.Fatal(err)
	}
	cfg := strings.Replace(string(data), "server:\n  address: 127.0.0.1:8080\n", "server:\n  address: 127.0.0.1:8080\n  api_keys: [\"s3cret-key\"]\n", 1)
	if cfg == string(data) {
		t.Fatal("could not add api_keys to the quick start")
	}
	g := startGateway(t, writeConfig(t, [2]string{"quarry.yaml", cfg}), nil)
	params := openai.ChatCompletionNewParams{Model: "nova-lite", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Hi")}}
	wrong := chatClient(g, option.WithAPIKey("wrong"))
	_, err = wrong.Chat.Completions.New(context.Background(), params)
	if e := apiErrorOf(t, err, 401); e.Type != "authentication_error" {
		t.Errorf("wrong key: %s", e.RawJSON())
	}
	resp, err := http.Post(g.URL+"/v1/chat/completions", "application/json", strings.NewReader(`{"model":"nova-lite","messages":[{"role":"user","content":"Hi"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Errorf("missing key: status %d", resp.StatusCode)
	}
	right := chatClient(g, option.WithAPIKey("s3cret-key"))
	if _, err := right.Chat.Completions.New(context.Background(), params); err != nil {
		t.Errorf("right key: %v", err)
	}
}

func TestChatE2EClientDisconnect(t *testing.T) {
	t.Parallel()
	g := startGateway(t, quickstart, nil)
	body := `{"model":"nova-lite","stream":true,"max_tokens":2000,"messages":[{"role":"user","content":"Write a very long essay about rivers, lakes, oceans and clouds [[quarry:slow]]"}]}`
	disconnectMidStream(t, g, "/v1/chat/completions", body, "data: ")
}

// disconnectMidStream posts a streaming request, reads three lines
// starting with prefix, goes away, and waits for the emulator to see its
// own stream cancelled.
func disconnectMidStream(t *testing.T, g *gateway, path, body, prefix string) {
	t.Helper()
	emu := g.Server.Emulator()
	before := emu.Stats().Disconnects
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, g.URL+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(resp.Body)
	for n := 0; n < 3; {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasPrefix(line, prefix) {
			n++
		}
	}
	// Go away mid-stream.
	cancel()
	resp.Body.Close()
	deadline := time.Now().Add(3 * time.Second)
	for emu.Stats().Disconnects == before {
		if time.Now().After(deadline) {
			t.Fatalf("%s: the emulator never saw its stream cancelled (stats %+v)", path, emu.Stats())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestChatE2EModelLimit(t *testing.T) {
	// One call in flight for nova-lite; a second one queues for 100ms, then
	// gets a 429 while the first (slow) one still holds the slot.
	g := startGateway(t, quickstart, func(c *config.Config) {
		c.Server.QueueTimeout = 100 * time.Millisecond
		for i := range c.Models {
			if c.Models[i].Name == "nova-lite" {
				c.Models[i].AWS.MaxConcurrent = 1
			}
		}
	})
	client := chatClient(g)
	params := func(prompt string) openai.ChatCompletionNewParams {
		return openai.ChatCompletionNewParams{Model: "nova-lite", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage(prompt)}}
	}
	first := make(chan error, 1)
	go func() {
		_, err := client.Chat.Completions.New(context.Background(), params("Hi [[quarry:slow]]"))
		first <- err
	}()
	// Wait until the first call is at the emulator, so it holds the slot.
	for deadline := time.Now().Add(3 * time.Second); g.Server.Emulator().Stats().Requests["Converse"] == 0; {
		if time.Now().After(deadline) {
			t.Fatal("the first call never reached the emulator")
		}
		time.Sleep(5 * time.Millisecond)
	}
	_, err := client.Chat.Completions.New(context.Background(), params("Hi"))
	if e := apiErrorOf(t, err, 429); e.Response.Header.Get("Retry-After") == "" {
		t.Errorf("no Retry-After: %s", e.RawJSON())
	}
	if err := <-first; err != nil {
		t.Errorf("the first call failed: %v", err)
	}
}
