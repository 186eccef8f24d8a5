package server_test

import (
	"strings"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/quarry-dev/quarry/internal/config"
	"github.com/quarry-dev/quarry/internal/server"
)

// TestChatE2EConverseNames: Spice.ai's Converse parameter names (maxTokens,
// topP, topK, stopSequences) and the Vercel AI SDK's top-level
// reasoningConfig reach Bedrock as their OpenAI equivalents would, through
// the quick start; both names of one parameter with different values, and
// a reasoningConfig beside reasoning_effort, are 400s naming both.
func TestChatE2EConverseNames(t *testing.T) {
	rec := &recorder{}
	g := startChatGateway(t, quickstart, func(c *config.Config) {
		c.Models = append(c.Models, config.Model{Kind: config.KindChat, Name: "nova-2", ModelID: "us.amazon.nova-2-lite-v1:0"})
	}, server.Options{UpstreamTransport: rec})
	e := &shapingEnv{g: g, rec: rec}
	const hi = `"messages":[{"role":"user","content":"Hi"}]`
	for _, c := range []struct {
		name, body, modelID, field, want string
	}{
		// nova-lite's default max_completion_tokens (1024) must not apply:
		// maxTokens is the same parameter.
		{"Spice's names", `{"model":"nova-lite","maxTokens":64,"topP":0.5,"temperature":0.2,"stopSequences":["END"],` + hi + `}`,
			"us.amazon.nova-lite-v1:0", "inferenceConfig", `{"maxTokens":64,"stopSequences":["END"],"temperature":0.2,"topP":0.5}`},
		{"both names, one value", `{"model":"nova-lite","maxTokens":64,"max_tokens":64,"topP":0.5,"top_p":0.5,"stop":"END","stopSequences":["END"],` + hi + `}`,
			"us.amazon.nova-lite-v1:0", "inferenceConfig", `{"maxTokens":64,"stopSequences":["END"],"temperature":0.3,"topP":0.5}`},
		{"topK in the family's field", `{"model":"claude-sonnet","topK":40,` + hi + `}`,
			"us.anthropic.claude-sonnet-4-20250514-v1:0", "additionalModelRequestFields", `{"top_k":40}`},
		{"reasoningConfig budget on Claude", `{"model":"claude-sonnet","reasoningConfig":{"type":"enabled","budgetTokens":2048},` + hi + `}`,
			"us.anthropic.claude-sonnet-4-20250514-v1:0", "additionalModelRequestFields", `{"thinking":{"budget_tokens":2048,"type":"enabled"}}`},
		{"reasoningConfig budget leaves room for the answer", `{"model":"claude-sonnet","reasoningConfig":{"type":"enabled","budgetTokens":2048},"maxTokens":500,` + hi + `}`,
			"us.anthropic.claude-sonnet-4-20250514-v1:0", "inferenceConfig", `{"maxTokens":2548}`},
		{"reasoningConfig effort on Claude", `{"model":"claude-sonnet","reasoningConfig":{"type":"enabled","maxReasoningEffort":"low"},` + hi + `}`,
			"us.anthropic.claude-sonnet-4-20250514-v1:0", "additionalModelRequestFields", `{"thinking":{"budget_tokens":1024,"type":"enabled"}}`},
		{"reasoningConfig effort on Nova 2", `{"model":"nova-2","reasoningConfig":{"type":"enabled","maxReasoningEffort":"high"},` + hi + `}`,
			"us.amazon.nova-2-lite-v1:0", "additionalModelRequestFields", `{"reasoningConfig":{"maxReasoningEffort":"high","type":"enabled"}}`},
		{"reasoningConfig budget on Nova 2", `{"model":"nova-2","reasoningConfig":{"type":"enabled","budgetTokens":3000},` + hi + `}`,
			"us.amazon.nova-2-lite-v1:0", "additionalModelRequestFields", `{"reasoningConfig":{"maxReasoningEffort":"medium","type":"enabled"}}`},
		{"reasoningConfig disabled", `{"model":"claude-sonnet","reasoningConfig":{"type":"disabled"},` + hi + `}`,
			"us.anthropic.claude-sonnet-4-20250514-v1:0", "additionalModelRequestFields", `null`},
	} {
		t.Run(c.name, func(t *testing.T) { e.expectSent(t, c.body, c.modelID, c.field, c.want) })
	}

	for _, c := range []struct{ name, body, param, msg string }{
		{"maxTokens and max_tokens", `{"model":"nova-lite","maxTokens":64,"max_tokens":32,` + hi + `}`, "maxTokens", "'maxTokens' and 'max_tokens'"},
		{"maxTokens and max_completion_tokens", `{"model":"nova-lite","maxTokens":64,"max_completion_tokens":32,` + hi + `}`, "maxTokens", "'maxTokens' and 'max_completion_tokens'"},
		{"topP and top_p", `{"model":"nova-lite","topP":0.5,"top_p":0.9,` + hi + `}`, "topP", "'topP' and 'top_p'"},
		{"topK and top_k", `{"model":"claude-sonnet","topK":5,"top_k":6,` + hi + `}`, "topK", "'topK' and 'top_k'"},
		{"stopSequences and stop", `{"model":"nova-lite","stopSequences":["A"],"stop":"B",` + hi + `}`, "stopSequences", "'stopSequences' and 'stop'"},
		{"maxTokens below 1", `{"model":"nova-lite","maxTokens":0,` + hi + `}`, "maxTokens", "at least 1"},
		{"maxTokens not a number", `{"model":"nova-lite","maxTokens":"64",` + hi + `}`, "maxTokens", "expected a number"},
		{"stopSequences a string", `{"model":"nova-lite","stopSequences":"END",` + hi + `}`, "stopSequences", "array of strings"},
		{"reasoningConfig with reasoning_effort", `{"model":"claude-sonnet","reasoning_effort":"low","reasoningConfig":{"type":"enabled"},` + hi + `}`, "reasoningConfig", "'reasoning_effort' and 'reasoningConfig'"},
		{"reasoningConfig budget too small", `{"model":"claude-sonnet","reasoningConfig":{"type":"enabled","budgetTokens":10},` + hi + `}`, "reasoningConfig.budgetTokens", "at least 1024"},
		{"reasoningConfig type", `{"model":"claude-sonnet","reasoningConfig":{"type":"on"},` + hi + `}`, "reasoningConfig.type", "enabled or disabled"},
		{"reasoningConfig effort", `{"model":"nova-2","reasoningConfig":{"type":"enabled","maxReasoningEffort":"max"},` + hi + `}`, "reasoningConfig.maxReasoningEffort", "low, medium, high"},
	} {
		t.Run(c.name, func(t *testing.T) {
			rec.reset()
			status, _, raw := e.post(t, c.body)
			if status != 400 || !strings.Contains(raw, `"param":"`+c.param+`"`) || !strings.Contains(raw, c.msg) {
				t.Errorf("got %d %s; want 400 on %s saying %q", status, raw, c.param, c.msg)
			}
			if n := len(rec.calls); n != 0 {
				t.Errorf("%d Bedrock calls for a bad request", n)
			}
		})
	}

	// The OpenAI Go SDK, with Spice's names as extra body members.
	t.Run("openai-go", func(t *testing.T) {
		rec.reset()
		client := openai.NewClient(option.WithBaseURL(g.URL+"/v1"), option.WithAPIKey("unused"))
		_, err := client.Chat.Completions.New(t.Context(), openai.ChatCompletionNewParams{
			Model:    "nova-lite",
			Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Hi")},
		}, option.WithJSONSet("maxTokens", 48), option.WithJSONSet("topP", 0.25))
		if err != nil {
			t.Fatal(err)
		}
		_, body, _ := rec.last(t, "us.amazon.nova-lite-v1:0")
		if got, want := jsonOf(body["inferenceConfig"]), `{"maxTokens":48,"temperature":0.3,"topP":0.25}`; got != want {
			t.Errorf("inferenceConfig %s; want %s", got, want)
		}
	})
}

// expectSent posts a chat body that must succeed, and checks one member of
// the Converse request that reached Bedrock for modelID.
func (e *shapingEnv) expectSent(t *testing.T, body, modelID, field, want string) {
	t.Helper()
	e.rec.reset()
	if status, _, raw := e.post(t, body); status != 200 {
		t.Fatalf("status %d: %s", status, raw)
	}
	_, sent, _ := e.rec.last(t, modelID)
	if got := jsonOf(sent[field]); got != want {
		t.Errorf("Bedrock got %s = %s; want %s", field, got, want)
	}
}
