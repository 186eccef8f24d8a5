package anthropic

import (
	"bytes"
	"encoding/json"
	"strings"

	"github.com/quarry-dev/quarry/bedrock"
	"github.com/quarry-dev/quarry/internal/rawjson"
	"github.com/quarry-dev/quarry/internal/upstream"
)

// The native Claude body: the client's request with what Bedrock refuses
// taken out. Bedrock's documented request schema for Claude ("Anthropic
// Claude Messages API", InvokeModel request body) has anthropic_version,
// anthropic_beta, max_tokens, system, messages, temperature, top_p, top_k,
// tools, tool_choice, stop_sequences and thinking; every other member is an
// "extraneous key" error there. So model and stream (which the API itself
// carries), metadata, service_tier, container, mcp_servers and the like are
// dropped. Two members that Bedrock takes only behind a beta pass when the
// model's anthropic_betas allow that beta and the client asked for it:
// context_management (context-management-2025-06-27) and output_config
// (effort-2025-11-24). No default allowlist includes them, so Claude Code's
// context_management and output_config are dropped unless an operator opts
// in for a model that supports them.

// bedrockMembers are the body members Bedrock accepts for Claude.
var bedrockMembers = map[string]bool{
	"max_tokens": true, "messages": true, "system": true, "temperature": true, "top_p": true,
	"top_k": true, "tools": true, "tool_choice": true, "stop_sequences": true, "thinking": true,
}

// betaMembers are members Bedrock accepts only with a beta.
var betaMembers = map[string]string{
	"context_management": "context-management-2025-06-27",
	"output_config":      "effort-2025-11-24",
}

// DefaultBetas are the anthropic-beta values Bedrock documents for a Claude
// model (its model ID, any form): what the Messages API passes on when the
// model's params set no anthropic_betas. Bedrock answers 400 "invalid beta
// flag" for a beta the model lacks, so each is listed only for the models
// the Bedrock documentation names it for; Claude 3 and 3.5 Haiku have none.
// dev-full-thinking needs an account team's approval and is never a
// default.
func DefaultBetas(modelID string) []string {
	id := strings.ToLower(modelID)
	claude4 := strings.Contains(id, "claude-sonnet-4") || strings.Contains(id, "claude-opus-4") ||
		strings.Contains(id, "claude-haiku-4")
	claude45 := strings.Contains(id, "-4-5")
	var betas []string
	switch {
	case strings.Contains(id, "claude-3-5-sonnet-20241022"):
		betas = append(betas, "computer-use-2024-10-22")
	case strings.Contains(id, "claude-3-7-sonnet"):
		betas = append(betas, "computer-use-2025-01-24", "token-efficient-tools-2025-02-19", "output-128k-2025-02-19")
	case claude4:
		betas = append(betas, "interleaved-thinking-2025-05-14")
		if !strings.Contains(id, "claude-haiku-4") {
			betas = append(betas, "computer-use-2025-01-24", "token-efficient-tools-2025-02-19")
		}
	}
	if strings.Contains(id, "claude-sonnet-4") {
		betas = append(betas, "context-1m-2025-08-07")
	}
	if claude45 && (strings.Contains(id, "claude-sonnet-4") || strings.Contains(id, "claude-haiku-4")) {
		betas = append(betas, "context-management-2025-06-27")
	}
	if strings.Contains(id, "claude-opus-4-5") {
		betas = append(betas, "effort-2025-11-24")
	}
	return betas
}

// allowedBetas is the model's anthropic_betas, or its defaults.
func allowedBetas(m *upstream.Model) []string {
	if m.AnthropicBetas != nil {
		return m.AnthropicBetas
	}
	return DefaultBetas(m.ModelID)
}

// filterBetas keeps the betas of the anthropic-beta header values and of
// the body's own anthropic_beta member that allowed lists, once each, in
// the client's order.
func filterBetas(headers []string, body json.RawMessage, allowed []string) []string {
	var asked []string
	for _, h := range headers {
		for b := range strings.SplitSeq(h, ",") {
			if b = strings.TrimSpace(b); b != "" {
				asked = append(asked, b)
			}
		}
	}
	if body != nil {
		var l []string
		json.Unmarshal(body, &l) // validated by decodeRequest
		asked = append(asked, l...)
	}
	var out []string
	for _, b := range asked {
		if contains(allowed, b) && !contains(out, b) {
			out = append(out, b)
		}
	}
	return out
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

// nativeBody builds the InvokeModel body for a Claude model: the request's
// members in their order and with their exact bytes, less what Bedrock
// refuses, with anthropic_version first and the filtered betas after it.
// systemPrompt (the model's system_prompt param) goes before the request's
// own system text. dropped are the members left out (for the log);
// extra (the model's defaults, defaultMembers) go last.
func nativeBody(req *request, betas []string, systemPrompt string, extra []member) (body []byte, dropped []string) {
	size := 64
	for _, m := range req.members {
		size += len(m.key) + len(m.raw) + 4
	}
	b := make([]byte, 0, size)
	b = append(b, `{"anthropic_version":"`+bedrock.AnthropicVersion+`"`...)
	if len(betas) > 0 {
		bb, _ := json.Marshal(betas)
		b = append(append(b, `,"anthropic_beta":`...), bb...)
	}
	rewriteSystem := req.systemChanged || systemPrompt != ""
	wroteSystem := false
	for _, m := range req.members {
		raw := m.raw
		switch {
		case m.key == "messages" && req.systemChanged:
			raw = rawjson.Array(req.rawMessages)
		case m.key == "system" && rewriteSystem:
			raw, wroteSystem = systemJSON(req, systemPrompt), true
		case bedrockMembers[m.key]:
		case betaMembers[m.key] != "" && contains(betas, betaMembers[m.key]):
		default:
			if m.key != "model" && m.key != "stream" && m.key != "anthropic_beta" && m.key != "anthropic_version" {
				dropped = append(dropped, m.key)
			}
			continue
		}
		b = append(b, ',')
		b = appendKey(b, m.key)
		b = append(b, raw...)
		if m.key == "messages" && rewriteSystem && !wroteSystem && req.member("system") == nil {
			b = append(b, `,"system":`...)
			b = append(b, systemJSON(req, systemPrompt)...)
			wroteSystem = true
		}
	}
	for _, m := range extra {
		b = append(b, ',')
		b = appendKey(b, m.key)
		b = append(b, m.raw...)
	}
	return append(b, '}'), dropped
}

func appendKey(b []byte, key string) []byte {
	k, _ := json.Marshal(key)
	return append(append(b, k...), ':')
}

// systemJSON is the system member when it must be rebuilt: the model's
// system prompt, then the request's system blocks (moved ones included).
func systemJSON(req *request, systemPrompt string) json.RawMessage {
	blocks := req.System
	if systemPrompt != "" {
		blocks = append([]bedrock.AnthropicBlock{{Type: "text", Text: systemPrompt}}, blocks...)
	}
	if blocks == nil {
		blocks = []bedrock.AnthropicBlock{}
	}
	b, _ := json.Marshal(blocks)
	return b
}

// nativeAnswer is what the gateway reads of a Claude answer or stream.
type nativeAnswer struct {
	usage      bedrock.AnthropicUsage
	stopReason string
}

// nativeResponse rewrites Claude's InvokeModel answer for the client:
// model becomes the name the client asked for, and Bedrock's own members
// (amazon-bedrock-*) go; every other member keeps its bytes, so thinking
// signatures reach the client unchanged.
func nativeResponse(body []byte, model string) ([]byte, *nativeAnswer, error) {
	members, aerr := scanObject(body)
	if aerr != nil {
		return nil, nil, aerr
	}
	a := &nativeAnswer{}
	kept := members[:0]
	for _, m := range members {
		switch {
		case strings.HasPrefix(m.key, "amazon-bedrock-"):
			continue
		case m.key == "model":
			m.raw, _ = json.Marshal(model)
		case m.key == "usage":
			json.Unmarshal(m.raw, &a.usage)
		case m.key == "stop_reason":
			json.Unmarshal(m.raw, &a.stopReason)
		}
		kept = append(kept, m)
	}
	return joinObject(kept), a, nil
}

// eventType reads the type of a streamed Claude event ({"type":"…",…}).
func eventType(chunk []byte) string {
	const prefix = `{"type":"`
	if bytes.HasPrefix(chunk, []byte(prefix)) {
		rest := chunk[len(prefix):]
		if i := bytes.IndexByte(rest, '"'); i >= 0 {
			return string(rest[:i])
		}
	}
	var ev struct {
		Type string `json:"type"`
	}
	json.Unmarshal(chunk, &ev)
	return ev.Type
}
