package emulator

import "encoding/json"

// genRequest is any model call (Converse, or a family's native InvokeModel
// body) reduced to what the deterministic reply generator needs.
type genRequest struct {
	ModelID       string
	System        []string
	Messages      []genMessage
	MaxTokens     int // 0: the model's default
	StopSequences []string
	Tools         []genTool
	// ToolChoice is "" or "auto" (the model decides), "any" (must call some
	// tool), or the name of the one tool it must call.
	ToolChoice string
	// Reasoning asks for a reasoning block before the answer.
	Reasoning bool
	// JSONSchema, when set, asks for a reply that is JSON valid against it
	// (structured output).
	JSONSchema map[string]any
}

type genMessage struct {
	Role        string // "user" or "assistant"
	Text        string // all text content of the message, joined
	ToolUses    []genToolUse
	ToolResults []genToolResult
}

type genTool struct {
	Name        string
	Description string
	Schema      map[string]any // the tool's input JSON schema
}

type genToolUse struct {
	ID    string
	Name  string
	Input json.RawMessage
}

type genToolResult struct {
	ToolUseID string
	Text      string
}

// genResult is the deterministic reply to a genRequest.
type genResult struct {
	Reasoning    string // non-empty when reasoning was requested
	Text         string
	ToolUses     []genToolUse
	StopReason   string // end_turn | max_tokens | stop_sequence | tool_use
	StopSequence string // the matched stop sequence, when StopReason is stop_sequence
	InputTokens  int
	OutputTokens int
}

// generate produces the reply. It is a pure function of the request and the
// server's seed: the same input always gives the same output.
func generate(seed uint64, req *genRequest) genResult {
	in := 0
	for _, s := range req.System {
		in += countTokens(s)
	}
	var last string
	for _, m := range req.Messages {
		in += countTokens(m.Text)
		if m.Role == "user" {
			last = m.Text
		}
	}
	text := "You said: " + last
	return genResult{Text: text, StopReason: "end_turn", InputTokens: in, OutputTokens: countTokens(text)}
}
