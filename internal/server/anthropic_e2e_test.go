package server_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/quarry-dev/quarry/internal/config"
	"github.com/quarry-dev/quarry/internal/server"
)

var updateGolden = flag.Bool("update", false, "rewrite the golden files under testdata/anthropic from the actual output")

// lastCall is the latest Bedrock call rec saw.
func lastCall(t *testing.T, rec *recorder) recorded {
	t.Helper()
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.calls) == 0 {
		t.Fatal("no Bedrock call")
	}
	return rec.calls[len(rec.calls)-1]
}

// postMessages sends a Messages request with the given headers.
func postMessages(t *testing.T, base, path, body string, header map[string]string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, base+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// golden compares got with testdata/anthropic/name (rewritten by -update).
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", "anthropic", name)
	if *updateGolden {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (run with -update after checking):\n got: %.600s\nwant: %.600s", name, got, want)
	}
}

// TestMessagesClaudeCodeRecording pins what reaches Bedrock for a real
// Claude Code request: betas filtered through the model's allowlist,
// members Bedrock refuses gone, the role "system" entry moved into system,
// and every other member (and every other message) byte for byte.
func TestMessagesClaudeCodeRecording(t *testing.T) {
	body, err := os.ReadFile("../../testdata/clients/claude-code-2.1.197-messages.body.json")
	if err != nil {
		t.Fatal(err)
	}
	var hdrs map[string]string
	raw, err := os.ReadFile("../../testdata/clients/claude-code-2.1.197-messages.headers.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &hdrs); err != nil {
		t.Fatal(err)
	}
	send := map[string]string{}
	for _, k := range []string{"anthropic-beta", "anthropic-version", "x-api-key", "User-Agent", "X-Claude-Code-Session-Id", "x-app"} {
		send[k] = hdrs[k]
	}
	rec := &recorder{}
	g := startChatGateway(t, quickstart, nil, server.Options{UpstreamTransport: rec})
	resp, out := postMessages(t, g.URL, "/v1/messages?beta=true", string(body), send)
	if resp.StatusCode != http.StatusOK || !strings.Contains(out, "event: message_stop") {
		t.Fatalf("status %d: %.500s", resp.StatusCode, out)
	}
	call := lastCall(t, rec)
	if call.Path != "/model/us.anthropic.claude-sonnet-4-20250514-v1:0/invoke-with-response-stream" {
		t.Errorf("path = %s", call.Path)
	}
	golden(t, "claude-code-2.1.197.bedrock-body.json", call.Body)
	h := map[string]string{}
	for k := range call.Header {
		if strings.HasPrefix(k, "X-Amzn-Bedrock-") || k == "Content-Type" {
			h[k] = call.Header.Get(k)
		}
	}
	hj, _ := json.MarshalIndent(h, "", "  ")
	golden(t, "claude-code-2.1.197.bedrock-headers.json", append(hj, '\n'))
	for k, v := range call.Header {
		if strings.Contains(strings.Join(v, ","), "sk-test") {
			t.Errorf("the client's API key reached Bedrock in %s", k)
		}
	}

	// The properties the golden file holds, checked one by one.
	var sent, got map[string]json.RawMessage
	json.Unmarshal(body, &sent)
	if err := json.Unmarshal(call.Body, &got); err != nil {
		t.Fatal(err)
	}
	var betas []string
	json.Unmarshal(got["anthropic_beta"], &betas)
	if strings.Join(betas, ",") != "interleaved-thinking-2025-05-14" {
		t.Errorf("anthropic_beta = %v; want only the allowed interleaved-thinking-2025-05-14", betas)
	}
	if string(got["anthropic_version"]) != `"bedrock-2023-05-31"` {
		t.Errorf("anthropic_version = %s", got["anthropic_version"])
	}
	for _, k := range []string{"model", "stream", "metadata", "context_management", "output_config"} {
		if _, ok := got[k]; ok {
			t.Errorf("%s reached Bedrock", k)
		}
	}
	for _, k := range []string{"tools", "max_tokens", "thinking"} {
		if !bytes.Equal(got[k], sent[k]) {
			t.Errorf("%s is not byte-equal to the client's", k)
		}
	}
	var sentMsgs, gotMsgs []json.RawMessage
	json.Unmarshal(sent["messages"], &sentMsgs)
	json.Unmarshal(got["messages"], &gotMsgs)
	var kept []json.RawMessage
	for _, m := range sentMsgs {
		var role struct{ Role string }
		json.Unmarshal(m, &role)
		if role.Role != "system" {
			kept = append(kept, m)
		}
	}
	if len(kept) == len(sentMsgs) || len(gotMsgs) != len(kept) {
		t.Fatalf("messages: %d sent, %d without system entries, %d reached Bedrock", len(sentMsgs), len(kept), len(gotMsgs))
	}
	for i := range kept {
		if !bytes.Equal(kept[i], gotMsgs[i]) {
			t.Errorf("messages.%d is not byte-equal to the client's", i)
		}
	}
	var system []map[string]any
	json.Unmarshal(got["system"], &system)
	var sentSystem []json.RawMessage
	json.Unmarshal(sent["system"], &sentSystem)
	if len(system) != len(sentSystem)+1 || !strings.HasPrefix(system[len(system)-1]["text"].(string), "Available agent types") {
		t.Errorf("system has %d blocks (client sent %d plus one system message)", len(system), len(sentSystem))
	}
}

// TestMessagesBetaAllowlist checks that anthropic_betas replaces the
// default allowlist and that members behind a beta pass only with it.
func TestMessagesBetaAllowlist(t *testing.T) {
	rec := &recorder{}
	g := startChatGateway(t, quickstart, func(c *config.Config) {
		for i := range c.Models {
			if c.Models[i].Name == "claude-sonnet" {
				c.Models[i].AnthropicBetas = []string{"context-management-2025-06-27", "token-efficient-tools-2025-02-19"}
			}
		}
	}, server.Options{UpstreamTransport: rec})
	body := `{"model":"claude-sonnet","max_tokens":50,"messages":[{"role":"user","content":"hi"}],
		"context_management":{"edits":[]},"output_config":{"effort":"high"},"metadata":{"user_id":"u"},"service_tier":"auto"}`
	for _, c := range []struct {
		header    string
		wantBetas string
		wantCM    bool
	}{
		{"interleaved-thinking-2025-05-14, token-efficient-tools-2025-02-19", `["token-efficient-tools-2025-02-19"]`, false},
		{"context-management-2025-06-27,made-up-2099-01-01", `["context-management-2025-06-27"]`, true},
		{"", "", false},
	} {
		rec.calls = nil
		resp, out := postMessages(t, g.URL, "/v1/messages", body, map[string]string{"anthropic-beta": c.header})
		call := lastCall(t, rec)
		var got map[string]json.RawMessage
		json.Unmarshal(call.Body, &got)
		if string(got["anthropic_beta"]) != c.wantBetas {
			t.Errorf("header %q: anthropic_beta = %s, want %s", c.header, got["anthropic_beta"], c.wantBetas)
		}
		if _, ok := got["context_management"]; ok != c.wantCM {
			t.Errorf("header %q: context_management sent = %v, want %v", c.header, ok, c.wantCM)
		}
		for _, k := range []string{"output_config", "metadata", "service_tier"} {
			if _, ok := got[k]; ok {
				t.Errorf("%s reached Bedrock", k)
			}
		}
		_ = resp
		_ = out
	}
}

// TestMessagesCountTokensThinking: a count_tokens body with thinking and
// no max_tokens is counted; the max_tokens the gateway fills in for Claude's
// body exceeds the budget, or Bedrock would refuse it.
func TestMessagesCountTokensThinking(t *testing.T) {
	t.Parallel()
	rec := &recorder{}
	g := startChatGateway(t, quickstart, nil, server.Options{UpstreamTransport: rec})
	resp, body := postMessages(t, g.URL, "/v1/messages/count_tokens",
		`{"model":"claude-sonnet","thinking":{"type":"enabled","budget_tokens":2048},"messages":[{"role":"user","content":"How many tokens is this?"}]}`, nil)
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, `"input_tokens":`) {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	var sent struct {
		Input struct {
			InvokeModel struct {
				Body []byte `json:"body"` // base64 on the wire
			} `json:"invokeModel"`
		} `json:"input"`
	}
	call := lastCall(t, rec)
	if err := json.Unmarshal(call.Body, &sent); err != nil {
		t.Fatalf("%v: %s", err, call.Body)
	}
	if !strings.Contains(string(sent.Input.InvokeModel.Body), `"max_tokens":2049`) {
		t.Errorf("Claude's counted body does not carry max_tokens 2049: %.400s", sent.Input.InvokeModel.Body)
	}
}
