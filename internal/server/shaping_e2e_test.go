package server_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/quarry-dev/quarry/internal/server"
)

// End-to-end tests of issue #7's per-model request shaping: a gateway with
// the built-in emulator, configured from YAML (so the config decoding is on
// the path too), and a recording transport on its Bedrock side that proves
// what reached Bedrock.

// recorder is an http.RoundTripper that keeps every Bedrock request body.
type recorder struct {
	mu    sync.Mutex
	calls []recorded
}

type recorded struct {
	Path   string // e.g. /model/amazon.nova-lite-v1:0/converse
	Header http.Header
	Body   []byte
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	var body []byte
	if req.Body != nil {
		body, _ = io.ReadAll(req.Body)
		req.Body.Close()
		req.Body = io.NopCloser(bytes.NewReader(body))
	}
	p, _ := url.PathUnescape(req.URL.EscapedPath())
	r.mu.Lock()
	r.calls = append(r.calls, recorded{Path: p, Header: req.Header.Clone(), Body: body})
	r.mu.Unlock()
	return http.DefaultTransport.RoundTrip(req)
}

// last returns the latest call to modelID and how many calls it got.
func (r *recorder) last(t *testing.T, modelID string) (recorded, map[string]any, int) {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	var last recorded
	n := 0
	for _, c := range r.calls {
		if strings.HasPrefix(c.Path, "/model/"+modelID+"/") {
			last, n = c, n+1
		}
	}
	if n == 0 {
		t.Fatalf("no Bedrock call to %s", modelID)
	}
	var body map[string]any
	if err := json.Unmarshal(last.Body, &body); err != nil {
		t.Fatalf("Bedrock body: %v", err)
	}
	return last, body, n
}

func (r *recorder) reset() {
	r.mu.Lock()
	r.calls = nil
	r.mu.Unlock()
}

func jsonOf(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

const shapingConfig = `
version: v1
emulator: true
server:
  media:
    max_bytes: 2KiB
    timeout: 5s
    max_redirects: 2
    trusted_hosts: [%q]
models:
  - name: no-system
    from: bedrock:amazon.nova-lite-v1:0
    params:
      allowed_roles: [user, assistant]
  - name: remapped
    from: bedrock:amazon.nova-micro-v1:0
    params:
      remap_roles: {assistant: user}
      allowed_role_metadata: [cache_control]
  - name: plain
    from: bedrock:amazon.nova-pro-v1:0
  - name: deny-length
    from: bedrock:anthropic.claude-3-haiku-20240307-v1:0
    params:
      finish_reason_deny_list: [LENGTH]
  - name: allow-stop
    from: bedrock:anthropic.claude-3-5-haiku-20241022-v1:0
    params:
      finish_reason_allow_list: [Stop]
  - name: no-stream
    from: bedrock:anthropic.claude-3-5-sonnet-20241022-v2:0
    params:
      supports_streaming: false
      inference_configuration: {max_tokens: 200, temperature: 0.5}
  - name: claude
    from: bedrock:anthropic.claude-3-haiku-20240307-v1:0
    params:
      bedrock_top_k: 30
      additional_model_request_fields: {top_k: 99, anthropic_beta: [token-efficient-tools-2025-02-19]}
  - name: nova
    from: bedrock:amazon.nova-premier-v1:0
  - name: mistral
    from: bedrock:mistral.mistral-large-2407-v1:0
  - name: cohere
    from: bedrock:cohere.command-r-v1:0
  - name: llama
    from: bedrock:meta.llama3-1-70b-instruct-v1:0
  - name: titan
    from: bedrock:amazon.titan-text-express-v1
  - name: send-url
    from: bedrock:us.amazon.nova-lite-v1:0
    params:
      media_url_handler: {image: send_url, pdf: send_base64_unless_google_url}
  - name: claude-45
    from: bedrock:anthropic.claude-sonnet-4-5-20250929-v1:0
  - name: add-mime
    from: bedrock:us.amazon.nova-pro-v1:0
    params:
      media_url_handler: {image: send_url_add_mime_type}
`

type shapingEnv struct {
	g       *gateway
	rec     *recorder
	client  openai.Client
	trusted *httptest.Server // a loopback media server the config trusts
	other   *httptest.Server // a loopback media server it does not
}

func startShaping(t *testing.T) *shapingEnv {
	t.Helper()
	media := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/pixel.png":
			w.Header().Set("Content-Type", "image/png")
			w.Write(pngPixel)
		case "/big.png":
			w.Header().Set("Content-Type", "image/png")
			w.Write(append(append([]byte(nil), pngPixel...), make([]byte, 4096)...))
		case "/doc.pdf":
			w.Header().Set("Content-Type", "application/octet-stream") // sniffed as PDF
			w.Write([]byte("%PDF-1.4\n%quarry test\n"))
		case "/redirect":
			http.Redirect(w, r, "/redirect", http.StatusFound)
		default:
			http.NotFound(w, r)
		}
	})
	trusted, other := httptest.NewServer(media), httptest.NewServer(media)
	t.Cleanup(trusted.Close)
	t.Cleanup(other.Close)
	host := strings.TrimPrefix(trusted.URL, "http://")
	path := writeConfig(t, [2]string{"quarry.yaml", fmt.Sprintf(shapingConfig, host)})
	rec := &recorder{}
	g := startChatGateway(t, path, nil, server.Options{UpstreamTransport: rec})
	return &shapingEnv{g: g, rec: rec, client: chatClient(g), trusted: trusted, other: other}
}

// post sends a raw chat request and returns the status, headers and body.
func (e *shapingEnv) post(t *testing.T, body string) (int, http.Header, string) {
	t.Helper()
	resp, err := http.Post(e.g.URL+"/v1/chat/completions", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

// sseEvents splits an SSE body into its data payloads.
func sseEvents(body string) []string {
	var out []string
	sc := bufio.NewScanner(strings.NewReader(body))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if d, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
			out = append(out, d)
		}
	}
	return out
}

func TestShapingE2ERoles(t *testing.T) {
	t.Parallel()
	e := startShaping(t)
	ctx := t.Context()

	// allowed_roles without system: the system message gets the default
	// role (user) and Bedrock sees no system prompt.
	_, err := e.client.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: "no-system",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.SystemMessage("Answer in French."), openai.UserMessage("Hello")}})
	if err != nil {
		t.Fatal(err)
	}
	_, body, _ := e.rec.last(t, "amazon.nova-lite-v1:0")
	if _, ok := body["system"]; ok {
		t.Errorf("system reached Bedrock: %s", jsonOf(body))
	}
	if got := jsonOf(body["messages"]); got != `[{"content":[{"text":"Answer in French."},{"text":"Hello"}],"role":"user"}]` {
		t.Errorf("messages = %s", got)
	}

	// remap_roles {assistant: user}: the history's assistant turn is sent as
	// user (merged with its neighbours); cache_control is allowed and kept.
	status, _, raw := e.post(t, `{"model":"remapped","messages":[
		{"role":"user","content":"Hi"},
		{"role":"assistant","content":"Hello, how can I help?"},
		{"role":"user","content":"Tell me more","cache_control":{"type":"ephemeral"}}]}`)
	if status != 200 {
		t.Fatalf("status %d: %s", status, raw)
	}
	_, body, _ = e.rec.last(t, "amazon.nova-micro-v1:0")
	if got := jsonOf(body["messages"]); got != `[{"content":[{"text":"Hi"},{"text":"Hello, how can I help?"},{"text":"Tell me more"},{"cachePoint":{"type":"default"}}],"role":"user"}]` {
		t.Errorf("messages = %s", got)
	}

	// Tool calls keep their roles under the remap, so a tool round trip
	// still works.
	status, _, raw = e.post(t, `{"model":"remapped","tools":[{"type":"function","function":{"name":"get_weather","parameters":{"type":"object"}}}],"messages":[
		{"role":"user","content":"Weather in Paris?"},
		{"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function","function":{"name":"get_weather","arguments":"{}"}}]},
		{"role":"tool","tool_call_id":"call_1","content":"sunny"}]}`)
	if status != 200 {
		t.Fatalf("tool round trip: status %d: %s", status, raw)
	}
	_, body, _ = e.rec.last(t, "amazon.nova-micro-v1:0")
	if got := jsonOf(body["messages"]); !strings.Contains(got, `"role":"assistant"`) || !strings.Contains(got, `"toolUse"`) || !strings.Contains(got, `"toolResult"`) {
		t.Errorf("tool messages = %s", got)
	}
}

func TestShapingE2ERoleMetadata(t *testing.T) {
	t.Parallel()
	e := startShaping(t)
	req := `{"model":"%s","messages":[{"role":"system","content":"Be brief.","cache_control":{"type":"ephemeral"}},
		{"role":"user","content":[{"type":"text","text":"Hi","cachePoint":{"type":"default"}}]}]}`
	// No allowed_role_metadata: every marker is dropped.
	if status, _, raw := e.post(t, fmt.Sprintf(req, "plain")); status != 200 {
		t.Fatalf("status %d: %s", status, raw)
	}
	rc, _, _ := e.rec.last(t, "amazon.nova-pro-v1:0")
	if bytes.Contains(rc.Body, []byte("cachePoint")) {
		t.Errorf("cache markers reached Bedrock: %s", rc.Body)
	}
	// allowed_role_metadata [cache_control]: that marker is forwarded (as a
	// cachePoint), the other is not.
	if status, _, raw := e.post(t, fmt.Sprintf(req, "remapped")); status != 200 {
		t.Fatalf("status %d: %s", status, raw)
	}
	_, body, _ := e.rec.last(t, "amazon.nova-micro-v1:0")
	if got := jsonOf(body["system"]); got != `[{"text":"Be brief."},{"cachePoint":{"type":"default"}}]` {
		t.Errorf("system = %s", got)
	}
	if got := jsonOf(body["messages"]); got != `[{"content":[{"text":"Hi"}],"role":"user"}]` {
		t.Errorf("messages = %s", got)
	}
}

func TestShapingE2EFinishReasons(t *testing.T) {
	t.Parallel()
	e := startShaping(t)
	ctx := t.Context()
	long := openai.ChatCompletionNewParams{Model: "deny-length", MaxCompletionTokens: openai.Int(3),
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Tell me a long story about the sea")}}

	// Not streamed: 422 finish_reason_error naming the reason. The SDK is
	// given retries here: it must not use them (a 4xx), and the gateway
	// made exactly one Bedrock call.
	retrying := chatClient(e.g, option.WithMaxRetries(2))
	_, err := retrying.Chat.Completions.New(ctx, long)
	apiErr := apiErrorOf(t, err, 422)
	if apiErr.Type != "finish_reason_error" || apiErr.Code != "finish_reason_not_allowed" ||
		!strings.Contains(apiErr.Message, `"length"`) || !strings.Contains(apiErr.Message, `"max_tokens"`) {
		t.Errorf("error = %s", apiErr.RawJSON())
	}
	if _, _, n := e.rec.last(t, "anthropic.claude-3-haiku-20240307-v1:0"); n != 1 {
		t.Errorf("%d Bedrock calls; a refused finish reason must not be retried", n)
	}

	// Streamed: content chunks, then an error event instead of the finish
	// chunk, and no [DONE].
	status, _, raw := e.post(t, `{"model":"deny-length","stream":true,"max_tokens":3,"messages":[{"role":"user","content":"Tell me a long story"}]}`)
	events := sseEvents(raw)
	if status != 200 || len(events) < 2 {
		t.Fatalf("status %d: %s", status, raw)
	}
	lastEv := events[len(events)-1]
	if !strings.Contains(lastEv, `"type":"finish_reason_error"`) || !strings.Contains(lastEv, `\"length\"`) ||
		strings.Contains(raw, "[DONE]") || strings.Contains(raw, `"finish_reason":"length"`) {
		t.Errorf("stream = %s", raw)
	}
	// The SDK's stream reports it as an error.
	stream := e.client.Chat.Completions.NewStreaming(ctx, long)
	for stream.Next() {
	}
	if err := stream.Err(); err == nil || !strings.Contains(err.Error(), "finish_reason") {
		t.Errorf("SDK stream error = %v", err)
	}

	// An allowed reason passes, matched case-insensitively (allow list
	// [Stop]; Bedrock's end_turn is OpenAI's stop).
	resp, err := e.client.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: "allow-stop",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Say hello")}})
	if err != nil || resp.Choices[0].FinishReason != "stop" {
		t.Fatalf("allowed finish: %v %+v", err, resp)
	}
	_, err = e.client.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: "allow-stop", MaxCompletionTokens: openai.Int(2),
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Tell me a long story")}})
	apiErrorOf(t, err, 422)
}

func TestShapingE2ENonStreamingModel(t *testing.T) {
	t.Parallel()
	e := startShaping(t)
	status, hdr, raw := e.post(t, `{"model":"no-stream","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"Say hello"}]}`)
	if status != 200 || !strings.HasPrefix(hdr.Get("Content-Type"), "text/event-stream") || hdr.Get("x-amzn-requestid") == "" {
		t.Fatalf("status %d, headers %v: %s", status, hdr, raw)
	}
	events := sseEvents(raw)
	// One content chunk, the finish chunk, the usage chunk, [DONE].
	if len(events) != 4 || events[3] != "[DONE]" {
		t.Fatalf("events = %q", events)
	}
	var first, finish, usage struct {
		Choices []struct {
			Delta struct {
				Role    string  `json:"role"`
				Content *string `json:"content"`
			} `json:"delta"`
			FinishReason *string `json:"finish_reason"`
		} `json:"choices"`
		Usage *struct {
			TotalTokens int `json:"total_tokens"`
		} `json:"usage"`
	}
	json.Unmarshal([]byte(events[0]), &first)
	json.Unmarshal([]byte(events[1]), &finish)
	json.Unmarshal([]byte(events[2]), &usage)
	if first.Choices[0].Delta.Role != "assistant" || first.Choices[0].Delta.Content == nil || *first.Choices[0].Delta.Content != "Hello." {
		t.Errorf("first chunk = %s", events[0])
	}
	if finish.Choices[0].FinishReason == nil || *finish.Choices[0].FinishReason != "stop" {
		t.Errorf("finish chunk = %s", events[1])
	}
	if usage.Usage == nil || usage.Usage.TotalTokens == 0 || bedrockOf(t, events[2]).RequestID != hdr.Get("x-amzn-requestid") {
		t.Errorf("usage chunk = %s", events[2])
	}
	// The gateway called Converse, not ConverseStream, with the model's
	// inference_configuration.
	rc, body, _ := e.rec.last(t, "anthropic.claude-3-5-sonnet-20241022-v2:0")
	if !strings.HasSuffix(rc.Path, "/converse") || jsonOf(body["inferenceConfig"]) != `{"maxTokens":200,"temperature":0.5}` {
		t.Errorf("Bedrock call %s %s", rc.Path, rc.Body)
	}

	// The official SDK's streaming client reads it like any stream.
	stream := e.client.Chat.Completions.NewStreaming(t.Context(), openai.ChatCompletionNewParams{Model: "no-stream",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Say streamed")}})
	var acc openai.ChatCompletionAccumulator
	for stream.Next() {
		acc.AddChunk(stream.Current())
	}
	if err := stream.Err(); err != nil || len(acc.Choices) != 1 || acc.Choices[0].Message.Content != "Streamed." || acc.Choices[0].FinishReason != "stop" {
		t.Errorf("SDK stream: %v %+v", err, acc.Choices)
	}
}

func TestShapingE2ETopK(t *testing.T) {
	t.Parallel()
	e := startShaping(t)
	for _, c := range []struct {
		model, modelID, body string
		want                 string // additionalModelRequestFields
	}{
		// The model's bedrock_top_k default, over its additional_model_request_fields.
		{"claude", "anthropic.claude-3-haiku-20240307-v1:0", ``, `{"anthropic_beta":["token-efficient-tools-2025-02-19"],"top_k":30}`},
		{"claude", "anthropic.claude-3-haiku-20240307-v1:0", `"top_k":5,`, `{"anthropic_beta":["token-efficient-tools-2025-02-19"],"top_k":5}`},
		{"nova", "amazon.nova-premier-v1:0", `"top_k":20,`, `{"inferenceConfig":{"topK":20}}`},
		{"mistral", "mistral.mistral-large-2407-v1:0", `"top_k":50,`, `{"top_k":50}`},
		{"cohere", "cohere.command-r-v1:0", `"top_k":10,`, `{"k":10}`},
	} {
		status, _, raw := e.post(t, `{"model":"`+c.model+`",`+c.body+`"messages":[{"role":"user","content":"Hi"}]}`)
		if status != 200 {
			t.Errorf("%s: status %d: %s", c.model, status, raw)
			continue
		}
		_, body, _ := e.rec.last(t, c.modelID)
		if got := jsonOf(body["additionalModelRequestFields"]); got != c.want {
			t.Errorf("%s: additionalModelRequestFields = %s, want %s", c.model, got, c.want)
		}
	}
	// Families without top_k: a 400 naming top_k, and no Bedrock call.
	e.rec.reset()
	for _, model := range []string{"llama", "titan"} {
		_, err := e.client.Chat.Completions.New(t.Context(), openai.ChatCompletionNewParams{Model: model,
			Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Hi")}},
			option.WithJSONSet("top_k", 10))
		apiErr := apiErrorOf(t, err, 400)
		if apiErr.Param != "top_k" || !strings.Contains(apiErr.Message, "not supported") {
			t.Errorf("%s: %s", model, apiErr.RawJSON())
		}
	}
	if len(e.rec.calls) != 0 {
		t.Errorf("refused top_k still called Bedrock: %d calls", len(e.rec.calls))
	}
}

func TestShapingE2EMedia(t *testing.T) {
	t.Parallel()
	e := startShaping(t)
	image := func(model, url string) string {
		return `{"model":"` + model + `","messages":[{"role":"user","content":[{"type":"text","text":"What is this?"},{"type":"image_url","image_url":{"url":"` + url + `"}}]}]}`
	}
	for _, c := range []struct {
		name, body string
		status     int
		want       string // in the error message, or in the Bedrock body
	}{
		{"send_base64 fetches a trusted host", image("plain", e.trusted.URL+"/pixel.png"), 200, `"image":{"format":"png","source":{"bytes":"iVBOR`},
		{"private address refused", image("plain", e.other.URL+"/pixel.png"), 400, "loopback, private, link-local or metadata address"},
		{"oversize download refused", image("plain", e.trusted.URL+"/big.png"), 400, "larger than the gateway's limit of 2048 bytes"},
		{"redirects bounded", image("plain", e.trusted.URL+"/redirect"), 400, "more than 2 redirects"},
		{"send_url refuses http", image("send-url", e.trusted.URL+"/pixel.png"), 400, "Bedrock cannot fetch http(s) URLs"},
		{"send_url passes s3", image("send-url", "s3://bucket/photos/cat.png"), 200, `"image":{"format":"png","source":{"s3Location":{"uri":"s3://bucket/photos/cat.png"}}}`},
		{"gs:// kept and refused", `{"model":"send-url","messages":[{"role":"user","content":[{"type":"text","text":"Read"},{"type":"file","file":{"file_data":"gs://bucket/a.pdf","filename":"a.pdf"}}]}]}`, 400, "Bedrock cannot read gs:// URLs"},
		{"send_url_add_mime_type fetches and inlines", image("add-mime", e.trusted.URL+"/pixel.png"), 200, `"image":{"format":"png","source":{"bytes":"iVBOR`},
		{"send_base64_unless_google_url fetches http", `{"model":"send-url","messages":[{"role":"user","content":[{"type":"text","text":"Read"},{"type":"file","file":{"file_data":"` + e.trusted.URL + `/doc.pdf","filename":"doc.pdf"}}]}]}`, 200, `"document":{"format":"pdf","name":"doc","source":{"bytes":"JVBERi0xLjQK`},
		// Nova Lite/Pro read video (so does the emulator): the gateway
		// passes the block on unchanged.
		{"video s3 passes (send_url)", `{"model":"plain","messages":[{"role":"user","content":[{"type":"text","text":"Describe"},{"type":"video_url","video_url":{"url":"s3://bucket/clip.mp4"}}]}]}`, 200, `"video":{"format":"mp4","source":{"s3Location":{"uri":"s3://bucket/clip.mp4"}}}`},
		{"video http refused (send_url)", `{"model":"plain","messages":[{"role":"user","content":[{"type":"text","text":"Describe"},{"type":"video_url","video_url":{"url":"` + e.trusted.URL + `/clip.mp4"}}]}]}`, 400, "media_url_handler.video: send_url"},
	} {
		t.Run(c.name, func(t *testing.T) {
			e.rec.reset()
			status, _, raw := e.post(t, c.body)
			reached := c.status == 200 || c.status < 0 // negative: Bedrock's own refusal
			if c.status < 0 {
				c.status = -c.status
			}
			if status != c.status {
				t.Fatalf("status %d, want %d: %s", status, c.status, raw)
			}
			if !reached {
				var v struct {
					Error struct{ Message, Type string }
				}
				json.Unmarshal([]byte(raw), &v)
				if v.Error.Type != "invalid_request_error" || !strings.Contains(v.Error.Message, c.want) {
					t.Errorf("error = %s; want it to say %q", raw, c.want)
				}
				return
			}
			var model string
			switch {
			case strings.Contains(c.body, `"plain"`):
				model = "amazon.nova-pro-v1:0"
			case strings.Contains(c.body, `"add-mime"`):
				model = "us.amazon.nova-pro-v1:0"
			default:
				model = "us.amazon.nova-lite-v1:0"
			}
			rc, _, _ := e.rec.last(t, model)
			if !strings.Contains(string(rc.Body), c.want) {
				t.Errorf("Bedrock body = %s; want %s", rc.Body, c.want)
			}
		})
	}
}

func TestShapingE2EProviderMetadata(t *testing.T) {
	t.Parallel()
	e := startShaping(t)
	status, hdr, raw := e.post(t, `{"model":"claude","stop":["zzz","llo"],"messages":[{"role":"user","content":"Say hello"}]}`)
	if status != 200 {
		t.Fatalf("status %d: %s", status, raw)
	}
	id := hdr.Get("x-amzn-requestid")
	var v struct {
		Bedrock map[string]json.RawMessage `json:"bedrock"`
	}
	json.Unmarshal([]byte(raw), &v)
	if id == "" || string(v.Bedrock["requestId"]) != `"`+id+`"` || v.Bedrock["usage"] == nil || string(v.Bedrock["stopSequence"]) != `"llo"` {
		t.Errorf("header %q, bedrock %s", id, raw)
	}
	// Streamed: the last chunk carries it, and the header is set.
	status, hdr, raw = e.post(t, `{"model":"plain","stream":true,"messages":[{"role":"user","content":"Say hello"}]}`)
	events := sseEvents(raw)
	if status != 200 || len(events) < 3 || events[len(events)-1] != "[DONE]" {
		t.Fatalf("status %d: %s", status, raw)
	}
	if b := bedrockOf(t, events[len(events)-2]); b.RequestID == "" || b.RequestID != hdr.Get("x-amzn-requestid") || b.Usage.CacheReadInputTokens == nil {
		t.Errorf("last chunk = %s, header %q", events[len(events)-2], hdr.Get("x-amzn-requestid"))
	}
	// Claude 4.5 refuses temperature with top_p: the gateway says so.
	_, err := e.client.Chat.Completions.New(t.Context(), openai.ChatCompletionNewParams{Model: "claude-45",
		Temperature: openai.Float(0.5), TopP: openai.Float(0.9),
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Hi")}})
	apiErr := apiErrorOf(t, err, 400)
	if !strings.Contains(apiErr.Message, "top_p") {
		t.Errorf("error = %s", apiErr.RawJSON())
	}
}
