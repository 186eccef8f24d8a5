package openai

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strings"

	"github.com/quarry-dev/quarry/bedrock"
	"github.com/quarry-dev/quarry/bedrock/shaping"
	"github.com/quarry-dev/quarry/internal/config"
)

// This file holds the per-model request shaping of issue #7 (BAML's client
// options, configured in a chat model's params, see config.Shaping): roles,
// role metadata, finish-reason lists, the streaming switch, top_k and the
// additional model request fields. The rules themselves live in the public
// bedrock/shaping package (Role, CheckFinish, Apply), which library users
// call too; this file adapts them to OpenAI's JSON messages and errors.
// Pure functions; chat_request.go and chat.go call them.

// withShapingDefaults fills what a Shaping built in code (not loaded from a
// config file) leaves empty with the config's defaults.
func withShapingDefaults(s config.Shaping) *config.Shaping {
	s.AllowedRoles, s.DefaultRole = s.EffectiveRoles()
	if s.MediaURLHandler == nil {
		s.MediaURLHandler = map[string]string{"image": config.MediaSendBase64, "audio": config.MediaSendBase64,
			"pdf": config.MediaSendBase64, "video": config.MediaSendURL}
	}
	return &s
}

// shapeMessages applies a model's role rules to the OpenAI messages before
// they are translated:
//
//   - developer counts as system (OpenAI's newer name for it);
//   - a message whose role is not in AllowedRoles gets DefaultRole;
//   - RemapRoles then renames roles (after validation and defaulting, as in
//     BAML);
//   - tool messages and assistant messages that carry tool_calls keep their
//     roles: Bedrock pairs a toolUse with the toolResult that answers it;
//   - roles OpenAI does not define are left for the translation to refuse;
//   - per-message metadata (cache_control, cachePoint, on the message and on
//     its content parts) is dropped unless AllowedRoleMetadata lists it.
//
// Messages it does not change keep their exact bytes. dropped reports
// whether it dropped a cache marker (the client is told: chat.go).
func shapeMessages(msgs []json.RawMessage, s *config.Shaping) (out []json.RawMessage, dropped bool) {
	if s == nil {
		return msgs, false
	}
	// Most models keep every role; then only a cache marker that is not
	// allowed changes a message, and a message without one need not be
	// decoded.
	keepRoles := keepsRoles(s)
	if keepRoles && allowsCacheMarkers(s) {
		return msgs, false
	}
	out = make([]json.RawMessage, len(msgs))
	for i, raw := range msgs {
		if keepRoles && !mayHaveCacheMarker(raw) {
			out[i] = raw
			continue
		}
		var d bool
		out[i], d = shapeMessage(raw, s)
		dropped = dropped || d
	}
	return out, dropped
}

// cacheMarkers are the per-message metadata keys shaping may drop.
var cacheMarkers = []string{"cache_control", "cachePoint"}

// markerOf returns the cache marker a JSON member name decodes to, if any.
// encoding/json matches member names to struct fields ignoring case, so
// "Cache_Control" reaches chatMessage.CacheControl as "cache_control" does,
// and must be dropped as it would be. (ASCII folding is enough: neither
// name has a letter with a non-ASCII fold, as k and s do.)
func markerOf(name string) (string, bool) {
	for _, k := range cacheMarkers {
		if strings.EqualFold(name, k) {
			return k, true
		}
	}
	return "", false
}

// dropMarkers deletes from m the members that decode to a cache marker not
// in allowed, and reports whether it deleted any.
func dropMarkers(m map[string]json.RawMessage, allowed []string) bool {
	dropped := false
	for name := range m {
		if k, ok := markerOf(name); ok && !slices.Contains(allowed, k) {
			delete(m, name)
			dropped = true
		}
	}
	return dropped
}

// openAIRoles are the roles shapeRole may change (tool messages, and
// assistant messages with tool calls, keep theirs).
var openAIRoles = []string{"system", "developer", "user", "assistant"}

// keepsRoles reports whether shapeRole leaves every role as it is.
func keepsRoles(s *config.Shaping) bool {
	for _, r := range openAIRoles {
		if shapeRole(r, false, s) != r {
			return false
		}
	}
	return true
}

// allowsCacheMarkers reports whether every cache marker is forwarded.
func allowsCacheMarkers(s *config.Shaping) bool {
	for _, k := range cacheMarkers {
		if !slices.Contains(s.AllowedRoleMetadata, k) {
			return false
		}
	}
	return true
}

// mayHaveCacheMarker reports whether a message's JSON may hold a cache
// marker key, in the message or in a content part: false only when neither
// name appears, not even spelled with \u escapes of letters or "_".
func mayHaveCacheMarker(raw json.RawMessage) bool {
	for _, k := range cacheMarkers {
		if containsFold(raw, k) {
			return true
		}
	}
	for rest := raw; ; {
		i := bytes.Index(rest, []byte(`\u00`))
		if i < 0 || i+4 >= len(rest) {
			return i >= 0
		}
		if c := rest[i+4]; c >= '4' && c <= '7' { // U+0040 to U+007F
			return true
		}
		rest = rest[i+4:]
	}
}

// containsFold reports whether b contains s, ASCII case ignored.
func containsFold(b []byte, s string) bool {
	for i := 0; i+len(s) <= len(b); i++ {
		if b[i]|0x20 == s[0]|0x20 && bytes.EqualFold(b[i:i+len(s)], []byte(s)) {
			return true
		}
	}
	return false
}

// shapeMessage shapes one message; dropped reports whether it dropped a
// cache marker.
func shapeMessage(raw json.RawMessage, s *config.Shaping) (out json.RawMessage, dropped bool) {
	var msg map[string]json.RawMessage
	if t := bytes.TrimSpace(raw); len(t) == 0 || t[0] != '{' || json.Unmarshal(raw, &msg) != nil {
		return raw, false // the translation reports it
	}
	changed := false
	var role string
	json.Unmarshal(msg["role"], &role)
	if nr := shapeRole(role, hasToolCalls(msg["tool_calls"]), s); nr != role {
		msg["role"], _ = json.Marshal(nr)
		changed = true
	}
	if dropMarkers(msg, s.AllowedRoleMetadata) {
		changed, dropped = true, true
	}
	if c, ok := dropPartMetadata(msg["content"], s.AllowedRoleMetadata); ok {
		msg["content"] = c
		changed, dropped = true, true
	}
	if !changed {
		return raw, false
	}
	b, err := json.Marshal(msg)
	if err != nil {
		return raw, false
	}
	return b, dropped
}

// shapeRole is the role a message is sent with (shaping.Options.Role).
// Roles OpenAI does not define are left for the translation to refuse, and
// developer stays developer where the library says system (the translation
// treats them alike, and the message keeps its bytes).
func shapeRole(role string, toolCalls bool, s *config.Shaping) string {
	out, err := s.Role(role, toolCalls)
	if err != nil || (role == "developer" && out == "system") {
		return role
	}
	return out
}

func hasToolCalls(raw json.RawMessage) bool {
	var calls []json.RawMessage
	return json.Unmarshal(raw, &calls) == nil && len(calls) > 0
}

// dropPartMetadata removes the cache markers not allowed from an array
// content's parts; ok is false when nothing changed.
func dropPartMetadata(raw json.RawMessage, allowed []string) (json.RawMessage, bool) {
	if t := bytes.TrimSpace(raw); len(t) == 0 || t[0] != '[' {
		return nil, false
	}
	var parts []json.RawMessage
	if json.Unmarshal(raw, &parts) != nil {
		return nil, false
	}
	changed := false
	for j, p := range parts {
		var part map[string]json.RawMessage
		if json.Unmarshal(p, &part) != nil || part == nil {
			continue
		}
		if dropMarkers(part, allowed) {
			if b, err := json.Marshal(part); err == nil {
				parts[j], changed = b, true
			}
		}
	}
	if !changed {
		return nil, false
	}
	b, err := json.Marshal(parts)
	return b, err == nil
}

// finishAllowed reports whether an answer that stopped for Bedrock's
// stopReason may be returned (shaping.Options.CheckFinish).
func finishAllowed(s *config.Shaping, stopReason string) bool {
	return s == nil || s.CheckFinish(stopReason) == nil
}

// finishReasonStatus is the status of a refused finish reason: 422, because
// the upstream call worked and the answer is what the configuration refuses.
// It is a 4xx on purpose: OpenAI's SDKs (and most HTTP clients) retry 5xx
// and 408/409/429, and a finish reason is a property of the answer, not a
// transport failure, so retrying would only pay for the same answer again
// (BAML: such failures "prevent fallbacks and retries").
const finishReasonStatus = http.StatusUnprocessableEntity

// finishReasonError is the error for an answer whose finish reason the
// model's configuration does not allow.
func finishReasonError(model string, s *config.Shaping, stopReason string) *apiError {
	// The rule as shaping.FinishReasonError names it, in the gateway's words.
	rule := "finish_reason_deny_list: " + strings.Join(s.FinishReasonDenyList, ", ")
	if s.FinishReasonAllowList != nil {
		rule = "finish_reason_allow_list: " + strings.Join(s.FinishReasonAllowList, ", ")
	}
	return &apiError{Status: finishReasonStatus, Type: "finish_reason_error", Code: "finish_reason_not_allowed",
		Msg: fmt.Sprintf("The model finished with reason %q (Bedrock stop reason %q), which the gateway's configuration of %s does not allow (%s). The answer was discarded; retrying the same request is unlikely to help.",
			finishReason(stopReason), stopReason, model, rule)}
}

// shapeFields adds top_k (the request's, or the model's bedrock_top_k
// default) in the family's native field, then the model's
// additional_model_request_fields, each under what the request and the
// gateway already put in additionalModelRequestFields
// (shaping.Options.Apply, which also drops top_k for Claude with extended
// thinking, as temperature and top_p are for reasoning).
func (c *chatConverter) shapeFields() *apiError {
	var o shaping.Options
	if c.m.Shaping != nil {
		o = c.m.Shaping.Options
	}
	o.Inference, o.TopK = nil, nil // the gateway's are request defaults
	if !isNull(c.req.TopK) {
		k, aerr := topK(c.req.TopK)
		if aerr != nil {
			return aerr
		}
		o.TopK = &k
	}
	if err := o.Apply(c.out, c.m.family()); err != nil {
		if errors.Is(err, bedrock.ErrTopKUnsupported) {
			return invalid("top_k", "'top_k' cannot be sent to %s: %s. Remove 'top_k' (check the model's bedrock_top_k default too).", c.m.Name, err.Error())
		}
		return invalid("top_k", "Invalid 'top_k' for %s: %s.", c.m.Name, err.Error())
	}
	return nil
}

// topK reads a request's top_k (or the model's bedrock_top_k default); raw
// is the member's JSON.
func topK(raw json.RawMessage) (int, *apiError) {
	var k float64
	if err := json.Unmarshal(raw, &k); err != nil {
		return 0, invalid("top_k", "Invalid type for 'top_k': expected an integer.")
	}
	if k != math.Trunc(k) || k < math.MinInt32 || k > math.MaxInt32 {
		return 0, invalid("top_k", "Invalid 'top_k': %v; expected an integer.", k)
	}
	return int(k), nil
}

// completionChunks turns a whole answer into the stream a streaming client
// expects, for a model with supports_streaming: false: one chunk with the
// role, content, reasoning and tool calls, then the finish chunk and, with
// include_usage, the usage chunk; the last of them carries the bedrock
// object, as in a real stream.
func completionChunks(cc *chatCompletion, plan *chatPlan) []chatChunk {
	chunk := func(choices []chunkChoice) chatChunk {
		return chatChunk{ID: cc.ID, Object: "chat.completion.chunk", Created: cc.Created, Model: cc.Model, Choices: choices}
	}
	msg := cc.Choices[0].Message
	d := chunkDelta{Role: "assistant", Content: msg.Content}
	if d.Content == nil && len(msg.ToolCalls) == 0 {
		d.Content = strPtr("")
	}
	if msg.ReasoningContent != "" {
		d.ReasoningContent = strPtr(msg.ReasoningContent)
	}
	for i, tc := range msg.ToolCalls {
		d.ToolCalls = append(d.ToolCalls, chunkToolCall{Index: i, ID: tc.ID, Type: "function",
			Function: chunkToolFunction{Name: tc.Function.Name, Arguments: tc.Function.Arguments}})
	}
	reason := cc.Choices[0].FinishReason
	fc := chunk([]chunkChoice{{Index: 0, FinishReason: &reason}})
	out := []chatChunk{chunk([]chunkChoice{{Index: 0, Delta: d}}), fc}
	if !plan.IncludeUsage {
		out[1].Bedrock = cc.Bedrock
		return out
	}
	uc := chunk([]chunkChoice{})
	uc.Usage, uc.Bedrock = cc.Usage, cc.Bedrock
	return append(out, uc)
}
