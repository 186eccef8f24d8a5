package server_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"

	"github.com/quarry-dev/quarry/internal/config"
)

// metricsText returns GET /metrics.
func metricsText(t *testing.T, g *gateway) string {
	t.Helper()
	resp, err := http.Get(g.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("GET /metrics = %d: %s", resp.StatusCode, raw)
	}
	return string(raw)
}

// TestMetricsE2E: /metrics counts requests by model and status, the tokens
// Bedrock billed (the same numbers the client got in usage), and failures by
// kind.
func TestMetricsE2E(t *testing.T) {
	t.Parallel()
	g := startGateway(t, quickstart, nil)
	client := chatClient(g)
	ctx := context.Background()
	var prompt, completion int64
	for range 2 {
		resp, err := client.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{
			Model: "nova-micro", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Say metrics")},
		})
		if err != nil {
			t.Fatal(err)
		}
		prompt += resp.Usage.PromptTokens
		completion += resp.Usage.CompletionTokens
	}
	_, err := client.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{
		Model: "nova-micro", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Hi [[quarry:throttle]]")},
	})
	apiErrorOf(t, err, 429)

	text := metricsText(t, g)
	for _, want := range []string{
		`quarry_requests_total{code="200",model="nova-micro",surface="openai"} 2`,
		`quarry_requests_total{code="429",model="nova-micro",surface="openai"} 1`,
		fmt.Sprintf(`quarry_tokens_total{model="nova-micro",type="input"} %d`, prompt),
		fmt.Sprintf(`quarry_tokens_total{model="nova-micro",type="output"} %d`, completion),
		`quarry_errors_total{kind="rate_limit_error",model="nova-micro",surface="openai"} 1`,
		`quarry_request_duration_seconds_count{model="nova-micro",surface="openai"} 3`,
	} {
		if !strings.Contains(text, want+"\n") {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if prompt == 0 || completion == 0 {
		t.Errorf("usage %d/%d: nothing to count", prompt, completion)
	}
}

// TestChatE2ERequestsPerMinute: a model at its requests_per_min_limit
// queues for the queue timeout, then answers 429 with Retry-After, without
// calling Bedrock. With a limit of 1 a minute the next token is ~60s away,
// far beyond the 100ms queue, so no wall-clock bound is involved.
func TestChatE2ERequestsPerMinute(t *testing.T) {
	g := startGateway(t, quickstart, func(c *config.Config) {
		c.Server.QueueTimeout = 100 * time.Millisecond
		for i := range c.Models {
			if c.Models[i].Name == "nova-micro" {
				c.Models[i].AWS.RequestsPerMinute = 1
			}
		}
	})
	client := chatClient(g)
	params := openai.ChatCompletionNewParams{Model: "nova-micro", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Hi")}}
	if _, err := client.Chat.Completions.New(context.Background(), params); err != nil {
		t.Fatal(err)
	}
	before := g.Server.Emulator().Stats().Requests["Converse"]
	_, err := client.Chat.Completions.New(context.Background(), params)
	e := apiErrorOf(t, err, 429)
	if e.Type != "rate_limit_error" || e.Response.Header.Get("Retry-After") == "" || !strings.Contains(e.Message, "requests_per_min_limit") {
		t.Errorf("error %s, Retry-After %q", e.RawJSON(), e.Response.Header.Get("Retry-After"))
	}
	if n := g.Server.Emulator().Stats().Requests["Converse"] - before; n != 0 {
		t.Errorf("the limited request reached Bedrock (%d calls)", n)
	}
	// Other models have their own limiter.
	if _, err := client.Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{
		Model: "nova-lite", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Hi")}}); err != nil {
		t.Errorf("another model: %v", err)
	}
}
