package anthropic

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"

	"github.com/quarry-dev/quarry/bedrock"
	"github.com/quarry-dev/quarry/bedrock/shaping"
	"github.com/quarry-dev/quarry/internal/upstream"
)

// The model's request shaping (config.Shaping, bedrock/shaping) on the
// Messages API, as on the OpenAI surface: refused finish reasons, the
// streaming switch, and the request defaults (bedrock_<param>,
// additional_model_request_fields) for the native Claude body.

// finishError is the answer for a stop reason the model's
// finish_reason_allow_list or finish_reason_deny_list refuses, or nil. It is
// a 422 (the call worked; the configuration refuses the answer), which the
// Anthropic SDKs do not retry.
func finishError(m *upstream.Model, stopReason string) *apiError {
	if m.Shaping.FinishReasonAllowList == nil && m.Shaping.FinishReasonDenyList == nil {
		return nil
	}
	err := m.Shaping.CheckFinish(stopReason)
	var fe *shaping.FinishReasonError
	if !errors.As(err, &fe) {
		return nil
	}
	rule := "finish_reason_deny_list: " + strings.Join(fe.Denied, ", ")
	if fe.Allowed != nil {
		rule = "finish_reason_allow_list: " + strings.Join(fe.Allowed, ", ")
	}
	return &apiError{Status: http.StatusUnprocessableEntity, Type: errInvalidRequest,
		Msg: fmt.Sprintf("The model finished with stop reason %q, which the gateway's configuration of %s does not allow (%s). The answer was discarded; retrying the same request is unlikely to help.",
			stopReason, m.Name, rule)}
}

// defaultMembers are the members the native Claude body gets from the
// model's configuration where the request has none: the bedrock_<param>
// defaults (OpenAI names) and additional_model_request_fields, in that
// order of precedence. Sampling defaults are left out when the request
// enables thinking, which Claude refuses them with.
func defaultMembers(req *request, m *upstream.Model) []member {
	var out []member
	have := func(k string) bool {
		if req.member(k) != nil {
			return true
		}
		for _, x := range out {
			if x.key == k {
				return true
			}
		}
		return false
	}
	add := func(k string, v any) {
		if v == nil || have(k) {
			return
		}
		if b, err := json.Marshal(v); err == nil {
			out = append(out, member{k, b})
		}
	}
	thinking := req.Thinking != nil && req.Thinking.Type != "disabled"
	d := m.Defaults
	if !thinking {
		add("temperature", d["temperature"])
		add("top_p", d["top_p"])
		add("top_k", d["top_k"])
	}
	add("stop_sequences", d["stop"])
	for _, k := range slices.Sorted(maps.Keys(m.Shaping.AdditionalModelRequestFields)) {
		v := m.Shaping.AdditionalModelRequestFields[k]
		if k == "anthropic_beta" || (thinking && (k == "temperature" || k == "top_k" || k == "top_p")) {
			continue
		}
		if bedrockMembers[k] || betaMembers[k] != "" {
			add(k, v)
		}
	}
	return out
}

// configuredBetas are the betas the model's additional_model_request_fields
// always send (its anthropic_beta member).
func configuredBetas(m *upstream.Model) []string {
	var out []string
	if l, ok := m.Shaping.AdditionalModelRequestFields["anthropic_beta"].([]any); ok {
		for _, v := range l {
			if s, ok := v.(string); ok {
				out = append(out, s)
			}
		}
	}
	return out
}

// replayEvents turns a whole Claude answer into the stream events Claude
// would have sent, for a model configured with supports_streaming: false.
// Blocks the gateway does not know are started with their full content.
func replayEvents(body []byte) ([]sseEvent, string, error) {
	var msg struct {
		Content      []json.RawMessage      `json:"content"`
		StopReason   string                 `json:"stop_reason"`
		StopSequence *string                `json:"stop_sequence"`
		Usage        bedrock.AnthropicUsage `json:"usage"`
	}
	if err := json.Unmarshal(body, &msg); err != nil {
		return nil, "", err
	}
	members, aerr := scanObject(body)
	if aerr != nil {
		return nil, "", aerr
	}
	var shell []member
	for _, mb := range members {
		switch mb.key {
		case "content":
			mb.raw = json.RawMessage("[]")
		case "stop_reason", "stop_sequence":
			mb.raw = json.RawMessage("null")
		}
		shell = append(shell, mb)
	}
	var out []sseEvent
	add := func(typ string, v any) {
		b, _ := json.Marshal(v)
		out = append(out, sseEvent{typ, b})
	}
	start := append([]byte(`{"type":"message_start","message":`), joinObject(shell)...)
	out = append(out, sseEvent{"message_start", append(start, '}')})
	for i, raw := range msg.Content {
		var b bedrock.AnthropicBlock
		json.Unmarshal(raw, &b)
		var dl *delta
		startBlock := json.RawMessage(raw)
		switch b.Type {
		case "text":
			startBlock, dl = json.RawMessage(`{"type":"text","text":""}`), &delta{Type: "text_delta", Text: &b.Text}
		case "thinking":
			startBlock, dl = json.RawMessage(`{"type":"thinking","thinking":"","signature":""}`), &delta{Type: "thinking_delta", Thinking: &b.Thinking}
		case "tool_use":
			in := string(b.Input)
			sb, _ := json.Marshal(block{Type: "tool_use", ID: b.ID, Name: b.Name, Input: json.RawMessage("{}")})
			startBlock, dl = sb, &delta{Type: "input_json_delta", PartialJSON: &in}
		}
		add("content_block_start", struct {
			Type         string          `json:"type"`
			Index        int             `json:"index"`
			ContentBlock json.RawMessage `json:"content_block"`
		}{"content_block_start", i, startBlock})
		if dl != nil {
			add("content_block_delta", blockDeltaEvent{"content_block_delta", i, *dl})
		}
		if b.Type == "thinking" && b.Signature != "" {
			add("content_block_delta", blockDeltaEvent{"content_block_delta", i, delta{Type: "signature_delta", Signature: &b.Signature}})
		}
		out = append(out, sseEvent{"content_block_stop", fmt.Appendf(nil, `{"type":"content_block_stop","index":%d}`, i)})
	}
	md := struct {
		Type  string `json:"type"`
		Delta struct {
			StopReason   string  `json:"stop_reason"`
			StopSequence *string `json:"stop_sequence"`
		} `json:"delta"`
		Usage struct {
			OutputTokens int `json:"output_tokens"`
		} `json:"usage"`
	}{Type: "message_delta"}
	md.Delta.StopReason, md.Delta.StopSequence, md.Usage.OutputTokens = msg.StopReason, msg.StopSequence, msg.Usage.OutputTokens
	add("message_delta", md)
	out = append(out, sseEvent{"message_stop", []byte(`{"type":"message_stop"}`)})
	return out, msg.StopReason, nil
}

// joinObject writes members as a JSON object.
func joinObject(members []member) []byte {
	out := []byte{'{'}
	for i, m := range members {
		if i > 0 {
			out = append(out, ',')
		}
		out = appendKey(out, m.key)
		out = append(out, m.raw...)
	}
	return append(out, '}')
}
