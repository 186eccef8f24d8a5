package server_test

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/quarry-dev/quarry/internal/config"
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
    deniedWords: ["password"]
    blockedInputMessage: Blocked by policy.
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
