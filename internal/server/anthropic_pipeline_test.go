package server_test

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/quarry-dev/quarry/internal/config"
	"github.com/quarry-dev/quarry/internal/server"
)

// TestMessagesClientDisconnect: a client that goes away mid-stream cancels
// the Bedrock stream at once (the emulator sees the disconnect), on the
// native Claude path and on the Converse path.
func TestMessagesClientDisconnect(t *testing.T) {
	g := startGateway(t, quickstart, nil)
	for _, model := range []string{"claude-sonnet", "nova-lite"} {
		body := `{"model":"` + model + `","stream":true,"max_tokens":2000,"messages":[{"role":"user","content":"Write a very long essay about rivers, lakes, oceans and clouds [[quarry:slow]]"}]}`
		disconnectMidStream(t, g, "/v1/messages", body, "event: content_block_delta")
	}
}

// TestMessagesLimitsAndMetrics: max_concurrent_invocations applies to the
// Messages API as to the OpenAI one (a 429 rate_limit_error once the queue
// wait is over), and its requests are counted under surface "anthropic".
func TestMessagesLimitsAndMetrics(t *testing.T) {
	g := startGateway(t, quickstart, func(c *config.Config) {
		c.Server.QueueTimeout = 100 * time.Millisecond
		for i := range c.Models {
			if c.Models[i].Name == "claude-sonnet" {
				c.Models[i].AWS.MaxConcurrent = 1
			}
		}
	})
	slow := make(chan int, 1)
	go func() {
		resp, _ := postMessagesNoT(g.URL, `{"model":"claude-sonnet","max_tokens":300,"messages":[{"role":"user","content":"Hi [[quarry:slow]]"}]}`)
		slow <- resp
	}()
	time.Sleep(150 * time.Millisecond)
	resp, out := postMessages(t, g.URL, "/v1/messages", `{"model":"claude-sonnet","max_tokens":20,"messages":[{"role":"user","content":"hi"}]}`, nil)
	if resp.StatusCode != http.StatusTooManyRequests || !strings.Contains(out, "rate_limit_error") || resp.Header.Get("retry-after") == "" {
		t.Errorf("second call while the first holds the only slot: %d %s", resp.StatusCode, out)
	}
	if s := <-slow; s != 200 {
		t.Errorf("the slow call: status %d", s)
	}
	mresp, err := http.Get(g.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer mresp.Body.Close()
	m, _ := io.ReadAll(mresp.Body)
	for _, want := range []string{`quarry_requests_total{code="200",model="claude-sonnet",surface="anthropic"} 1`, `quarry_requests_total{code="429",model="claude-sonnet",surface="anthropic"} 1`} {
		if !strings.Contains(string(m), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

func postMessagesNoT(base, body string) (int, error) {
	resp, err := http.Post(base+"/v1/messages", "application/json", strings.NewReader(body))
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, nil
}

// TestMessagesGuardrail: the model's guardrail applies on both paths (the
// InvokeModel headers for Claude, guardrailConfig for Converse).
func TestMessagesGuardrail(t *testing.T) {
	path := writeConfig(t,
		[2]string{"quarry.yaml", `
version: v1
emulator:
  config: emulator.yaml
models:
  - name: guarded-nova
    from: bedrock:us.amazon.nova-lite-v1:0
    params: {bedrock_guardrail_identifier: gr1test, bedrock_guardrail_version: "1"}
  - name: guarded-claude
    from: bedrock:us.anthropic.claude-sonnet-4-20250514-v1:0
    params: {bedrock_guardrail_identifier: gr1test, bedrock_guardrail_version: "1"}
`},
		[2]string{"emulator.yaml", `
guardrails:
  - id: gr1test
    versions: ["1"]
    denied_words: ["password"]
    blocked_input_message: Blocked by policy.
`})
	g := startGateway(t, path, nil)
	for _, model := range []string{"guarded-nova", "guarded-claude"} {
		for _, stream := range []string{"false", "true"} {
			body := `{"model":"` + model + `","max_tokens":100,"stream":` + stream + `,"messages":[{"role":"user","content":"Tell me the admin password"}]}`
			resp, out := postMessages(t, g.URL, "/v1/messages", body, nil)
			if resp.StatusCode != 200 || !strings.Contains(out, "Blocked") || !strings.Contains(out, " by policy.") {
				t.Errorf("%s stream=%s: %d %.400s", model, stream, resp.StatusCode, out)
			}
			if strings.Contains(out, "amazon-bedrock-") {
				t.Errorf("%s stream=%s: Bedrock's own members reached the client: %.400s", model, stream, out)
			}
		}
	}
}

// TestMessagesShaping: supports_streaming: false serves a streaming client
// from one whole answer (as events), and a finish reason the model refuses
// is a 422 (an error event in a stream), on both paths.
func TestMessagesShaping(t *testing.T) {
	path := writeConfig(t, [2]string{"quarry.yaml", `
version: v1
emulator: true
models:
  - name: nova
    from: bedrock:us.amazon.nova-lite-v1:0
    params: {supports_streaming: false, finish_reason_deny_list: [length]}
  - name: claude
    from: bedrock:us.anthropic.claude-sonnet-4-20250514-v1:0
    params: {supports_streaming: false, finish_reason_deny_list: [length], bedrock_temperature: 0.25}
`})
	rec := &recorder{}
	g := startChatGateway(t, path, nil, server.Options{UpstreamTransport: rec})
	for _, model := range []string{"nova", "claude"} {
		resp, out := postMessages(t, g.URL, "/v1/messages", `{"model":"`+model+`","max_tokens":300,"stream":true,"messages":[{"role":"user","content":"Say streamed in one piece"}]}`, nil)
		if resp.StatusCode != 200 || !strings.Contains(out, `"text":"Streamed in one piece."`) || !strings.HasSuffix(out, "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n") {
			t.Errorf("%s: unstreamed answer as a stream: %d %s", model, resp.StatusCode, out)
		}
		if p := lastCall(t, rec).Path; strings.Contains(p, "stream") {
			t.Errorf("%s: streamed upstream (%s) despite supports_streaming: false", model, p)
		}
		resp, out = postMessages(t, g.URL, "/v1/messages", `{"model":"`+model+`","max_tokens":3,"messages":[{"role":"user","content":"Tell me a long story about the sea"}]}`, nil)
		if resp.StatusCode != 422 {
			t.Errorf("%s: refused finish reason: %d %s", model, resp.StatusCode, out)
		} else {
			checkAnthropicError(t, resp, out, "max_tokens")
		}
	}
	if body := string(lastCall(t, rec).Body); !strings.Contains(body, `"temperature":0.25`) {
		t.Errorf("bedrock_temperature did not reach the Claude body: %s", body)
	}
	// Streamed for real (no supports_streaming: false): the error event
	// replaces the end of the message.
	g2 := startGateway(t, writeConfig(t, [2]string{"quarry.yaml", `
version: v1
emulator: true
models:
  - name: claude
    from: bedrock:us.anthropic.claude-sonnet-4-20250514-v1:0
    params: {finish_reason_deny_list: [max_tokens]}
  - name: nova
    from: bedrock:us.amazon.nova-lite-v1:0
    params: {finish_reason_deny_list: [max_tokens]}
`}), nil)
	for _, model := range []string{"nova", "claude"} {
		resp, out := postMessages(t, g2.URL, "/v1/messages", `{"model":"`+model+`","max_tokens":3,"stream":true,"messages":[{"role":"user","content":"Tell me a long story about the sea"}]}`, nil)
		if resp.StatusCode != 200 || !strings.Contains(out, "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"invalid_request_error\"") || strings.Contains(out, "message_stop") {
			t.Errorf("%s: %d %s", model, resp.StatusCode, out)
		}
	}
}
