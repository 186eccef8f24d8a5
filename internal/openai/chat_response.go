package openai

import (
	"bytes"
	"encoding/json"
	"strings"

	"github.com/quarry-dev/quarry/bedrock"
	"github.com/quarry-dev/quarry/bedrock/shaping"
)

// finishReason maps a Converse stop reason to OpenAI's finish_reason.
func finishReason(stop string) string { return shaping.OpenAIFinishReason(stop) }

// openAIUsage converts Bedrock's usage: prompt_tokens counts cache reads and
// writes too, which Bedrock reports apart from inputTokens.
func openAIUsage(u bedrock.TokenUsage) *chatUsage {
	out := usageOf(u)
	return &out
}

func usageOf(u bedrock.TokenUsage) chatUsage {
	out := chatUsage{
		PromptTokens:     u.InputTokens + u.CacheReadInputTokens + u.CacheWriteInputTokens,
		CompletionTokens: u.OutputTokens,
	}
	out.TotalTokens = out.PromptTokens + out.CompletionTokens
	out.PromptTokensDetails.CachedTokens = u.CacheReadInputTokens
	return out
}

// matchedStopSequence is the stop sequence that ended the reply: from the
// model's additional response fields, else the only one requested.
func matchedStopSequence(extra json.RawMessage, stopReason string, plan *chatPlan) *string {
	if len(extra) > 0 {
		var f struct {
			StopSequence *string `json:"stop_sequence"`
		}
		if json.Unmarshal(extra, &f) == nil && f.StopSequence != nil {
			return f.StopSequence
		}
	}
	if stopReason == bedrock.StopReasonStopSequence && len(plan.StopSequences) == 1 {
		s := plan.StopSequences[0]
		return &s
	}
	return nil
}

func newBedrockMeta(u bedrock.TokenUsage, trace *bedrock.ConverseTrace, pc *bedrock.PerformanceConfig, st *bedrock.ServiceTier, stopSeq *string, requestID string) *bedrockMeta {
	m := bedrockMetaOf(u, trace, pc, st, stopSeq, requestID)
	return &m
}

func bedrockMetaOf(u bedrock.TokenUsage, trace *bedrock.ConverseTrace, pc *bedrock.PerformanceConfig, st *bedrock.ServiceTier, stopSeq *string, requestID string) bedrockMeta {
	return bedrockMeta{
		Trace:             trace,
		Usage:             bedrockCacheUsage{CacheReadInputTokens: u.CacheReadInputTokens, CacheWriteInputTokens: u.CacheWriteInputTokens},
		StopSequence:      stopSeq,
		PerformanceConfig: pc,
		ServiceTier:       st,
		RequestID:         requestID,
	}
}

// convertChatResponse translates a Converse response into a chat.completion.
func convertChatResponse(resp *bedrock.ConverseResponse, plan *chatPlan, id string, created int64) *chatCompletion {
	// The completion and what it points to, allocated together.
	a := &struct {
		cc      chatCompletion
		choices [1]chatChoice
		usage   chatUsage
		meta    bedrockMeta
		content string // the message content: the text or the answer
	}{}
	var text, reasoning textJoin
	var calls []responseToolCall
	var notes []annotation
	answered := false // content holds the response_format tool's input
	if m := resp.Output.Message; m != nil {
		for _, b := range m.Content {
			switch {
			case b.ToolUse != nil:
				if plan.JSONTool != "" && b.ToolUse.Name == plan.JSONTool && !answered {
					a.content, answered = compactJSON(b.ToolUse.Input), true
					continue
				}
				if plan.FirstToolOnly && len(calls) > 0 {
					continue
				}
				args := compactJSON(b.ToolUse.Input)
				calls = append(calls, responseToolCall{ID: b.ToolUse.ToolUseID, Type: "function",
					Function: toolFunction{Name: b.ToolUse.Name, Arguments: args}})
			case b.ReasoningContent != nil:
				if rt := b.ReasoningContent.ReasoningText; rt != nil {
					reasoning.add(rt.Text)
				}
			case b.CitationsContent != nil:
				for _, g := range b.CitationsContent.Content {
					text.add(g.Text)
				}
				notes = append(notes, annotationsOf(b.CitationsContent.Citations)...)
			default:
				text.add(b.Text)
			}
		}
	}
	finish := finishReason(resp.StopReason)
	msg := responseMessage{Role: "assistant", ToolCalls: calls, ReasoningContent: reasoning.String(), Annotations: notes}
	switch {
	case answered:
		// Text around the answer tool call (Nova's <thinking>, a preamble)
		// would break the JSON the client asked for: the answer alone is
		// the content.
		msg.Content = &a.content
		msg.Annotations = nil // they cite text that is not the answer
		if len(calls) == 0 && finish == "tool_calls" {
			finish = "stop"
		}
	case text.String() != "" || len(calls) == 0:
		a.content = text.String()
		msg.Content = &a.content
	}
	a.choices[0] = chatChoice{Index: 0, Message: msg, FinishReason: finish}
	a.usage = usageOf(resp.Usage)
	a.meta = bedrockMetaOf(resp.Usage, resp.Trace, resp.PerformanceConfig, resp.ServiceTier,
		matchedStopSequence(resp.AdditionalModelResponseFields, resp.StopReason, plan), resp.RequestID)
	a.cc = chatCompletion{
		ID: id, Object: "chat.completion", Created: created, Model: plan.Model,
		Choices: a.choices[:], Usage: &a.usage, Bedrock: &a.meta,
	}
	return &a.cc
}

// textJoin concatenates strings, copying them only when two or more are
// not empty (a reply is most often one text block).
type textJoin struct {
	first string
	all   strings.Builder // once a second string comes
	n     int
}

func (j *textJoin) add(s string) {
	if s == "" {
		return
	}
	j.n++
	switch j.n {
	case 1:
		j.first = s
		return
	case 2:
		j.all.WriteString(j.first)
	}
	j.all.WriteString(s)
}

func (j *textJoin) String() string {
	if j.n < 2 {
		return j.first
	}
	return j.all.String()
}

// compactJSON is a tool input as OpenAI's arguments string: compact JSON,
// {} when empty.
func compactJSON(raw json.RawMessage) string {
	var b bytes.Buffer
	if len(bytes.TrimSpace(raw)) == 0 || json.Compact(&b, raw) != nil {
		if len(bytes.TrimSpace(raw)) == 0 {
			return "{}"
		}
		return string(raw)
	}
	return b.String()
}
