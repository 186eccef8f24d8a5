package openai

import (
	"strings"

	"github.com/quarry-dev/quarry/bedrock"
)

// chatStreamTranslator turns ConverseStream events into chunks. Tool calls
// are indexed by their order among tool calls (OpenAI's index), not by
// content block. The finish chunk waits for the metadata event that follows
// messageStop, so that the last chunk can carry usage and the bedrock
// object.
type chatStreamTranslator struct {
	plan      *chatPlan
	id        string
	created   int64
	requestID string

	roleSent   bool
	tools      map[int]int // content block index → tool call index; -1: dropped
	jsonBlocks map[int]bool
	nCalls     int
	jsonUsed   bool
	held       strings.Builder // text held back while an answer tool may come
	stop       *bedrock.MessageStopEvent
	finished   bool
}

func newChatStreamTranslator(plan *chatPlan, id string, created int64, requestID string) *chatStreamTranslator {
	return &chatStreamTranslator{plan: plan, id: id, created: created, requestID: requestID,
		tools: map[int]int{}, jsonBlocks: map[int]bool{}}
}

func (t *chatStreamTranslator) chunk(d chunkDelta) chatChunk {
	return chatChunk{ID: t.id, Object: "chat.completion.chunk", Created: t.created, Model: t.plan.Model,
		Choices: []chunkChoice{{Index: 0, Delta: d}}}
}

// delta returns the chunks for d, preceded by the role chunk if it has not
// been sent.
func (t *chatStreamTranslator) delta(d chunkDelta) []chatChunk {
	if !t.roleSent {
		t.roleSent = true
		if d.Role == "" {
			d.Role = "assistant"
		}
	}
	return []chatChunk{t.chunk(d)}
}

func strPtr(s string) *string { return &s }

// textDelta reports whether event(ev) would return exactly one chunk whose
// delta is just the content text (the role already sent, not held back for
// an answer tool), and that text: the common text delta, which the caller
// can write with sseWriter.textChunk without building the chunk. When it
// returns true the translator's state is as event(ev) would leave it (a
// text delta changes none).
func (t *chatStreamTranslator) textDelta(ev *bedrock.StreamEvent) (string, bool) {
	if ev.MessageStart != nil || ev.ContentBlockStart != nil || ev.ContentBlockDelta == nil ||
		!t.roleSent || t.plan.JSONTool != "" {
		return "", false
	}
	d := &ev.ContentBlockDelta.Delta
	if d.ToolUse != nil || d.ReasoningContent != nil || d.Citation != nil || d.ToolResult != nil || d.Image != nil || d.Text == "" {
		return "", false
	}
	return d.Text, true
}

// event translates one event.
func (t *chatStreamTranslator) event(ev bedrock.StreamEvent) []chatChunk {
	switch {
	case ev.MessageStart != nil:
		if t.roleSent {
			return nil
		}
		return t.delta(chunkDelta{Role: "assistant", Content: strPtr("")})
	case ev.ContentBlockStart != nil:
		tu := ev.ContentBlockStart.Start.ToolUse
		if tu == nil {
			return nil
		}
		i := ev.ContentBlockStart.ContentBlockIndex
		if t.plan.JSONTool != "" && tu.Name == t.plan.JSONTool && !t.jsonUsed {
			t.jsonBlocks[i], t.jsonUsed = true, true
			t.held.Reset()
			return nil
		}
		if t.plan.FirstToolOnly && t.nCalls > 0 {
			t.tools[i] = -1
			return nil
		}
		k := t.nCalls
		t.nCalls++
		t.tools[i] = k
		return t.delta(chunkDelta{ToolCalls: []chunkToolCall{{Index: k, ID: tu.ToolUseID, Type: "function",
			Function: chunkToolFunction{Name: tu.Name, Arguments: ""}}}})
	case ev.ContentBlockDelta != nil:
		i, d := ev.ContentBlockDelta.ContentBlockIndex, &ev.ContentBlockDelta.Delta
		switch {
		case d.ToolUse != nil:
			if d.ToolUse.Input == "" {
				return nil
			}
			if t.jsonBlocks[i] {
				return t.delta(chunkDelta{Content: strPtr(d.ToolUse.Input)})
			}
			if k, ok := t.tools[i]; ok && k >= 0 {
				return t.delta(chunkDelta{ToolCalls: []chunkToolCall{{Index: k, Function: chunkToolFunction{Arguments: d.ToolUse.Input}}}})
			}
		case d.ReasoningContent != nil:
			if d.ReasoningContent.Text != "" {
				return t.delta(chunkDelta{ReasoningContent: strPtr(d.ReasoningContent.Text)})
			}
		case d.Citation != nil:
			if t.plan.JSONTool != "" {
				return nil // the JSON answer has no citations
			}
			return t.delta(chunkDelta{Annotations: []annotation{annotationOf(d.Citation)}})
		case d.ToolResult != nil, d.Image != nil:
		default:
			if d.Text == "" {
				return nil
			}
			if t.plan.JSONTool != "" {
				// The answer may still come as a tool call; text before it
				// is not part of the JSON answer.
				if !t.jsonUsed {
					t.held.WriteString(d.Text)
				}
				return nil
			}
			return t.delta(chunkDelta{Content: strPtr(d.Text)})
		}
	case ev.MessageStop != nil:
		t.stop = ev.MessageStop
		if t.held.Len() > 0 && !t.jsonUsed {
			s := t.held.String()
			t.held.Reset()
			return t.delta(chunkDelta{Content: &s})
		}
	case ev.Metadata != nil:
		return t.finish(ev.Metadata)
	}
	return nil
}

// finish returns the finish chunk and, with include_usage, the usage chunk;
// the last of them carries the bedrock object.
func (t *chatStreamTranslator) finish(md *bedrock.ConverseStreamMetadataEvent) []chatChunk {
	if t.finished || t.stop == nil {
		return nil
	}
	t.finished = true
	var out []chatChunk
	if !t.roleSent {
		out = t.delta(chunkDelta{Role: "assistant", Content: strPtr("")})
	}
	reason := finishReason(t.stop.StopReason)
	if t.jsonUsed && t.nCalls == 0 && reason == "tool_calls" {
		reason = "stop"
	}
	fc := t.chunk(chunkDelta{})
	fc.Choices[0].FinishReason = &reason
	var u bedrock.TokenUsage
	var meta *bedrockMeta
	if md != nil {
		u = md.Usage
		meta = newBedrockMeta(u, md.Trace, md.PerformanceConfig, md.ServiceTier,
			matchedStopSequence(t.stop.AdditionalModelResponseFields, t.stop.StopReason, t.plan), t.requestID)
	} else {
		meta = newBedrockMeta(u, nil, nil, nil, matchedStopSequence(t.stop.AdditionalModelResponseFields, t.stop.StopReason, t.plan), t.requestID)
	}
	if !t.plan.IncludeUsage || md == nil {
		fc.Bedrock = meta
		return append(out, fc)
	}
	uc := chatChunk{ID: t.id, Object: "chat.completion.chunk", Created: t.created, Model: t.plan.Model,
		Choices: []chunkChoice{}, Usage: openAIUsage(u), Bedrock: meta}
	return append(out, fc, uc)
}

// end returns what is still owed after the last event of a stream that
// ended cleanly: the finish chunk, if no metadata event came.
func (t *chatStreamTranslator) end() []chatChunk { return t.finish(nil) }
