package server_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/quarry-dev/quarry/emulator"
	"github.com/quarry-dev/quarry/internal/server"
)

// End-to-end tests of model targets and fallbacks: the gateway in front of
// several emulators (one per target), driven by the OpenAI Go SDK.

// countingEmulator is an emulator target that counts its model calls and
// keeps the last request body.
type countingEmulator struct {
	URL   string
	calls atomic.Int64
	mu    sync.Mutex
	last  string
}

func (c *countingEmulator) lastBody() string { c.mu.Lock(); defer c.mu.Unlock(); return c.last }

func startCountingEmulator(t *testing.T, cfg emulator.Config) *countingEmulator {
	t.Helper()
	em, err := emulator.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	c := &countingEmulator{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/model/") {
			c.calls.Add(1)
			body, _ := io.ReadAll(r.Body)
			c.mu.Lock()
			c.last = string(body)
			c.mu.Unlock()
			r.Body = io.NopCloser(strings.NewReader(string(body)))
		}
		em.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	c.URL = srv.URL
	return c
}

func TestFailoverE2E(t *testing.T) {
	t.Setenv("AWS_ACCESS_KEY_ID", "test")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	throttling := startCountingEmulator(t, emulator.Config{Faults: emulator.Faults{Rules: []emulator.FaultRule{{Fault: "throttle", Rate: 1}}}})
	healthy := startCountingEmulator(t, emulator.Config{})
	claude := startCountingEmulator(t, emulator.Config{})
	pairFirst := startCountingEmulator(t, emulator.Config{})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	down := "http://" + ln.Addr().String()
	ln.Close()

	yml := fmt.Sprintf(`version: v1
models:
  - name: group
    targets:
      - {name: east, from: "bedrock:amazon.nova-lite-v1:0", endpoint_url: %[1]q, aws_region: us-east-1}
      - {name: down, from: "bedrock:amazon.nova-lite-v1:0", endpoint_url: %[2]q, aws_region: us-east-2}
      - {name: west, from: "bedrock:amazon.nova-lite-v1:0", endpoint_url: %[3]q, aws_region: us-west-2}
  - name: nova-only
    targets:
      - {from: "bedrock:amazon.nova-lite-v1:0", endpoint_url: %[1]q, aws_region: us-east-1}
      - {from: "bedrock:amazon.nova-lite-v1:0", endpoint_url: %[2]q, aws_region: us-east-2}
    fallbacks: [claude]
  - name: pair
    targets:
      - {from: "bedrock:amazon.nova-lite-v1:0", endpoint_url: %[5]q, aws_region: us-east-1}
      - {from: "bedrock:amazon.nova-lite-v1:0", endpoint_url: %[3]q, aws_region: us-west-2}
  - name: claude
    from: bedrock:anthropic.claude-3-haiku-20240307-v1:0
    params: {endpoint_url: %[4]q, aws_region: us-east-1, bedrock_top_k: 40}
`, throttling.URL, down, healthy.URL, claude.URL, pairFirst.URL)
	path := filepath.Join(t.TempDir(), "quarry.yaml")
	if err := os.WriteFile(path, []byte(yml), 0o600); err != nil {
		t.Fatal(err)
	}
	logs := &lockedBuffer{}
	g := startChatGateway(t, path, nil, server.Options{Logger: slog.New(slog.NewTextHandler(logs, nil))})
	client := chatClient(g)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ask := func(model, text string) (*openai.ChatCompletion, *http.Response, error) {
		var resp *http.Response
		cc, err := client.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{
			Model:    model,
			Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage(text)},
		}, option.WithResponseInto(&resp))
		return cc, resp, err
	}

	t.Run("fails over to the healthy target and says so", func(t *testing.T) {
		cc, resp, err := ask("group", "hello")
		if err != nil {
			t.Fatal(err)
		}
		if got := resp.Header.Get("x-quarry-target"); got != "west" || cc.Choices[0].Message.Content == "" {
			t.Errorf("x-quarry-target %q, want west", got)
		}
		if throttling.calls.Load() != 1 || healthy.calls.Load() != 1 {
			t.Errorf("calls: throttling %d, healthy %d; want 1 and 1", throttling.calls.Load(), healthy.calls.Load())
		}
		waitForLog(t, logs, "target=west")
	})

	t.Run("a stream fails over before its first byte", func(t *testing.T) {
		var resp *http.Response
		stream := client.Chat.Completions.NewStreaming(ctx, openai.ChatCompletionNewParams{
			Model:    "group",
			Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("stream please")},
		}, option.WithResponseInto(&resp))
		var text strings.Builder
		for stream.Next() {
			if len(stream.Current().Choices) > 0 {
				text.WriteString(stream.Current().Choices[0].Delta.Content)
			}
		}
		if err := stream.Err(); err != nil || text.Len() == 0 {
			t.Fatalf("stream: %v, %q", err, text.String())
		}
		if got := resp.Header.Get("x-quarry-target"); got != "west" {
			t.Errorf("x-quarry-target %q, want west", got)
		}
	})

	t.Run("a 400 is not retried elsewhere", func(t *testing.T) {
		before := healthy.calls.Load()
		var resp *http.Response
		// More tokens than the model allows: Bedrock's ValidationException.
		_, err := client.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{
			Model:               "pair",
			Messages:            []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")},
			MaxCompletionTokens: openai.Int(10_000_000),
		}, option.WithResponseInto(&resp))
		var apiErr *openai.Error
		if !errors.As(err, &apiErr) || apiErr.StatusCode != 400 {
			t.Fatalf("err %v, want a 400", err)
		}
		if pairFirst.calls.Load() != 1 || healthy.calls.Load() != before {
			t.Errorf("calls: first %d, second %d more; want the first only", pairFirst.calls.Load(), healthy.calls.Load()-before)
		}
		if got := resp.Header.Get("x-quarry-target"); got != "0/amazon.nova-lite-v1:0@us-east-1" {
			t.Errorf("x-quarry-target %q, want the target that answered 400", got)
		}
	})

	t.Run("falls back to another model family", func(t *testing.T) {
		cc, resp, err := ask("nova-only", "hello from a throttled model")
		if err != nil {
			t.Fatal(err)
		}
		if got, want := resp.Header.Get("x-quarry-target"), "0/anthropic.claude-3-haiku-20240307-v1:0@us-east-1"; got != want {
			t.Errorf("x-quarry-target %q, want %q", got, want)
		}
		if cc.Model != "claude" || cc.Choices[0].Message.Content == "" {
			t.Errorf("model %q: the answer names the model that answered", cc.Model)
		}
		// Translated as a request to claude: its own params, in the
		// Anthropic family's field.
		if body := claude.lastBody(); !strings.Contains(body, `"top_k":40`) {
			t.Errorf("claude got %s; want its bedrock_top_k in additionalModelRequestFields", body)
		}
		waitForLog(t, logs, "trying its fallback")
	})

	t.Run("a stream falls back before its first byte", func(t *testing.T) {
		before := claude.calls.Load()
		var resp *http.Response
		stream := client.Chat.Completions.NewStreaming(ctx, openai.ChatCompletionNewParams{
			Model:    "nova-only",
			Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("stream please")},
		}, option.WithResponseInto(&resp))
		n := 0
		for stream.Next() {
			n++
		}
		if err := stream.Err(); err != nil || n == 0 {
			t.Fatalf("stream: %v after %d chunks", err, n)
		}
		if claude.calls.Load() != before+1 || !strings.Contains(resp.Header.Get("x-quarry-target"), "claude") {
			t.Errorf("claude calls %d, x-quarry-target %q; want the stream from claude", claude.calls.Load()-before, resp.Header.Get("x-quarry-target"))
		}
	})

	t.Run("Messages falls back from Converse to Claude's native body", func(t *testing.T) {
		for _, stream := range []string{"false", "true"} {
			before := claude.calls.Load()
			resp, b := doJSONResponse(t, "POST", g.URL+"/v1/messages",
				`{"model":"nova-only","max_tokens":50,"stream":`+stream+`,"messages":[{"role":"user","content":"hi"}]}`)
			if resp.StatusCode != 200 || !strings.Contains(resp.Header.Get("x-quarry-target"), "claude") || claude.calls.Load() != before+1 {
				t.Errorf("stream %s: %d, x-quarry-target %q, %d claude calls\n%s", stream, resp.StatusCode, resp.Header.Get("x-quarry-target"), claude.calls.Load()-before, b)
			}
			if body := claude.lastBody(); !strings.Contains(body, `"anthropic_version"`) || !strings.Contains(body, `"top_k":40`) {
				t.Errorf("stream %s: claude got %s; want an InvokeModel Claude body with its top_k", stream, body)
			}
		}
	})

	t.Run("Responses fall back too", func(t *testing.T) {
		for _, stream := range []string{"false", "true"} {
			before := claude.calls.Load()
			resp, b := doJSONResponse(t, "POST", g.URL+"/v1/responses", `{"model":"nova-only","input":"hi","store":false,"stream":`+stream+`}`)
			if resp.StatusCode != 200 || !strings.Contains(resp.Header.Get("x-quarry-target"), "claude") || claude.calls.Load() != before+1 {
				t.Errorf("stream %s: %d, x-quarry-target %q, %d claude calls\n%s", stream, resp.StatusCode, resp.Header.Get("x-quarry-target"), claude.calls.Load()-before, b)
			}
		}
	})

	t.Run("every surface names the target", func(t *testing.T) {
		for _, c := range []struct{ path, body string }{
			{"/v1/messages", `{"model":"group","max_tokens":50,"messages":[{"role":"user","content":"hi"}]}`},
			{"/v1/responses", `{"model":"group","input":"hi","store":false}`},
		} {
			resp, b := doJSONResponse(t, "POST", g.URL+c.path, c.body)
			if resp.StatusCode != 200 || resp.Header.Get("x-quarry-target") != "west" {
				t.Errorf("%s: %d, x-quarry-target %q; want 200 from west\n%s", c.path, resp.StatusCode, resp.Header.Get("x-quarry-target"), b)
			}
		}
	})
}

func waitForLog(t *testing.T, logs *lockedBuffer, want string) {
	t.Helper()
	for range 200 {
		if strings.Contains(logs.String(), want) {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Errorf("the log never said %q:\n%s", want, logs.String())
}
