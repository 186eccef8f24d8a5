package openai

import (
	"context"
	"strconv"
	"strings"

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
}

// modelGuardrail is a guardrail configured for a model: it applies to every
// request and a request cannot replace it.
type modelGuardrail struct {
	Identifier string `json:"identifier"`
	Version    string `json:"version"`
	Trace      string `json:"trace,omitempty"`
}

func chatModelOf(m *upstream.Model) chatModel {
	cm := chatModel{Name: m.Name, ModelID: m.ModelID, Family: m.Family, SystemPrompt: m.SystemPrompt, Defaults: m.Defaults}
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
}

// fetchFunc fetches an http(s) media URL: its bytes and MIME type.
type fetchFunc func(ctx context.Context, rawURL string) ([]byte, string, error)

// Model capabilities. One place decides what the gateway may ask of a model
// in Converse; everything else asks these functions.

// claudeVersion parses the generation of a Claude model ID
// ("anthropic.claude-sonnet-4-5-20250929-v1:0" is 4.5,
// "us.anthropic.claude-3-7-sonnet-20250219-v1:0" is 3.7). ok is false for
// IDs that do not name a Claude model (application inference profiles).
func claudeVersion(modelID string) (major, minor int, ok bool) {
	id := strings.ToLower(modelID)
	i := strings.Index(id, "claude-")
	if i < 0 {
		return 0, 0, false
	}
	var nums [2]int
	found := 0
	for seg := range strings.SplitSeq(id[i+len("claude-"):], "-") {
		n, err := strconv.Atoi(seg)
		switch {
		case err == nil && len(seg) <= 2:
			nums[found] = n
			if found++; found == 2 {
				return nums[0], nums[1], true
			}
		case found > 0:
			// A date or "v1:0" ends the version.
			return nums[0], 0, true
		}
	}
	if found > 0 {
		return nums[0], 0, true
	}
	return 0, 0, false
}

// claudeAtLeast reports whether modelID is a Claude model of generation
// major.minor or later.
func claudeAtLeast(modelID string, major, minor int) bool {
	ma, mi, ok := claudeVersion(modelID)
	return ok && (ma > major || ma == major && mi >= minor)
}

// modelCaps are the Converse features the gateway relies on per model.
type modelCaps struct {
	// StructuredOutput: outputConfig.textFormat (json_schema). Claude 4.5
	// and later. (The emulator's catalogue accepts it for more models; the
	// gateway sends it only where real Bedrock is known to take it and uses
	// a forced tool elsewhere, which every tool-calling model accepts.)
	StructuredOutput bool
	// ExclusiveSampling: temperature and top_p may not both be set (Claude
	// 4.5 and later reject the pair).
	ExclusiveSampling bool
	// Thinking: Claude extended thinking (3.7 and later).
	Thinking bool
	// NovaReasoning: Nova reasoningConfig (Nova 2 and Premier).
	NovaReasoning bool
}

func capsOf(m *chatModel) modelCaps {
	switch m.family() {
	case bedrock.FamilyAnthropic:
		return modelCaps{
			StructuredOutput:  claudeAtLeast(m.ModelID, 4, 5),
			ExclusiveSampling: claudeAtLeast(m.ModelID, 4, 5),
			Thinking:          claudeAtLeast(m.ModelID, 3, 7),
		}
	case bedrock.FamilyNova:
		id := strings.ToLower(m.ModelID)
		return modelCaps{NovaReasoning: strings.Contains(id, "nova-2-") || strings.Contains(id, "nova-premier")}
	}
	return modelCaps{}
}
