package openai

import (
	"context"

	"github.com/quarry-dev/quarry/bedrock"
	"github.com/quarry-dev/quarry/internal/config"
	"github.com/quarry-dev/quarry/internal/upstream"
)

// The chat surface's pure translations: an OpenAI request to a Converse
// request (chat_request.go, chat_content.go), a Converse response to a
// chat.completion (chat_response.go), and ConverseStream events to
// chat.completion.chunks (chat_stream_translate.go). They do no I/O except
// through the fetch function given for http(s) media URLs, and are tested by
// the golden files in testdata/chat. This file: what the translation knows
// of the served model and its family's capabilities.

// chatModel is what the translation needs to know about the served model.
type chatModel struct {
	Name         string          `json:"name"`
	ModelID      string          `json:"model_id"`
	Family       bedrock.Family  `json:"family,omitempty"` // empty: from ModelID
	SystemPrompt string          `json:"system_prompt,omitempty"`
	Guardrail    *modelGuardrail `json:"guardrail,omitempty"`
	Defaults     map[string]any  `json:"defaults,omitempty"`
	// Shaping is the model's request shaping (shaping.go); nil: none.
	Shaping *config.Shaping `json:"shaping,omitempty"`
	// Citations: every document is sent with citations enabled.
	Citations bool `json:"citations,omitempty"`
}

// modelGuardrail is a guardrail configured for a model: it applies to every
// request and a request cannot replace it.
type modelGuardrail struct {
	Identifier string `json:"identifier"`
	Version    string `json:"version"`
	Trace      string `json:"trace,omitempty"`
}

func chatModelOf(m *upstream.Model) chatModel {
	cm := chatModel{Name: m.Name, ModelID: m.ModelID, Family: m.Family, SystemPrompt: m.SystemPrompt, Defaults: m.Defaults,
		Citations: m.Citations}
	if m.Kind == config.KindChat {
		cm.Shaping = withShapingDefaults(m.Shaping)
	}
	if g := m.Guardrail; g != nil {
		cm.Guardrail = &modelGuardrail{Identifier: g.Identifier, Version: g.Version, Trace: g.Trace}
	}
	return cm
}

func (m *chatModel) family() bedrock.Family {
	if m.Family != "" {
		return m.Family
	}
	return bedrock.ModelFamily(m.ModelID)
}

// chatPlan is what the response translation needs to know about the request.
type chatPlan struct {
	Model        string `json:"model"` // the served model name, echoed in responses
	Stream       bool   `json:"stream,omitempty"`
	IncludeUsage bool   `json:"include_usage,omitempty"`
	// JSONTool names the forced tool standing in for response_format: its
	// input is the answer, returned as the message content.
	JSONTool string `json:"json_tool,omitempty"`
	// FirstToolOnly is parallel_tool_calls: false. Converse has no such
	// switch, so the gateway returns only the first tool call.
	FirstToolOnly bool `json:"first_tool_only,omitempty"`
	// StopSequences tell which one matched when Bedrock does not say.
	StopSequences []string `json:"stop_sequences,omitempty"`
	// DroppedCacheMarkers: the model's shaping dropped cache markers the
	// request carried (allowed_role_metadata): the answer says so.
	DroppedCacheMarkers bool `json:"dropped_cache_markers,omitempty"`
}

// fetchFunc fetches an http(s) media URL: its bytes and MIME type.
type fetchFunc func(ctx context.Context, rawURL string) ([]byte, string, error)

// caps is what the gateway may ask of the model in Converse: bedrock's
// model table (bedrock.LookupModel), for the model's ID and family.
func (m *chatModel) caps() bedrock.ModelInfo {
	info, _ := bedrock.LookupModel(m.ModelID, m.family())
	return info
}
