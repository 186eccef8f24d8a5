package elastic

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/quarry-dev/quarry/bedrock"
	"github.com/quarry-dev/quarry/bedrock/shaping"
)

// This file translates Elasticsearch's unified chat completion API
// (OpenAI-shaped messages in, chat.completion[.chunk] objects out) to and
// from Bedrock Converse. Elasticsearch's shapes differ from the OpenAI
// surface's (strict parsing, no cache counts in usage), so only the
// finish-reason mapping is shared, from bedrock/shaping.

// chatRequest is UnifiedCompletionRequest.
type chatRequest struct {
	Messages            []chatMessage   `json:"messages"`
	Model               string          `json:"model,omitempty"`
	MaxCompletionTokens *int            `json:"max_completion_tokens,omitempty"`
	Stop                []string        `json:"stop,omitempty"`
	Temperature         *float64        `json:"temperature,omitempty"`
	ToolChoice          json.RawMessage `json:"tool_choice,omitempty"`
	Tools               []chatTool      `json:"tools,omitempty"`
	TopP                *float64        `json:"top_p,omitempty"`
}

type chatMessage struct {
	Role       string          `json:"role"`
	Content    json.RawMessage `json:"content,omitempty"`
	Name       string          `json:"name,omitempty"`
	ToolCallID string          `json:"tool_call_id,omitempty"`
	ToolCalls  []chatToolCall  `json:"tool_calls,omitempty"`
}

type chatToolCall struct {
	Index    *int   `json:"index,omitempty"`
	ID       string `json:"id,omitempty"`
	Type     string `json:"type,omitempty"`
	Function struct {
		Name      string `json:"name,omitempty"`
		Arguments string `json:"arguments"`
	} `json:"function"`
}

type chatTool struct {
	Type     string `json:"type"`
	Function struct {
		Name        string          `json:"name"`
		Description string          `json:"description,omitempty"`
		Parameters  json.RawMessage `json:"parameters,omitempty"`
		Strict      *bool           `json:"strict,omitempty"`
	} `json:"function"`
}

// parseChat decodes a unified chat request strictly (unknown fields are
// refused, as Elasticsearch's parser does) and checks what Bedrock needs.
func parseChat(body []byte) (*chatRequest, *Error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	var req chatRequest
	if err := dec.Decode(&req); err != nil {
		msg := err.Error()
		if f, ok := strings.CutPrefix(msg, "json: unknown field "); ok {
			return nil, parseErr("[chat_completion_request] unknown field [%s]", strings.Trim(f, `"`))
		}
		return nil, parseErr("Failed to parse the chat completion request: %s", jsonProblem(err))
	}
	var v validation
	if len(req.Messages) == 0 {
		v.add("Field [messages] cannot be empty")
	}
	if req.Temperature != nil && (*req.Temperature < 0 || *req.Temperature > 2) {
		v.add("[temperature] must be between 0 and 2")
	}
	if req.TopP != nil && (*req.TopP < 0 || *req.TopP > 1) {
		v.add("[top_p] must be between 0 and 1")
	}
	if req.MaxCompletionTokens != nil && *req.MaxCompletionTokens <= 0 {
		v.add("[max_completion_tokens] must be a positive integer")
	}
	return &req, v.err()
}

// contentText reads a message's content: a string, or a list of
// {"type":"text","text":…} parts.
func contentText(raw json.RawMessage) (string, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return "", nil
	}
	if raw[0] == '"' {
		var s string
		err := json.Unmarshal(raw, &s)
		return s, err
	}
	var parts []struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}
	if err := json.Unmarshal(raw, &parts); err != nil {
		return "", errors.New("content must be a string or a list of text parts")
	}
	var b strings.Builder
	for _, p := range parts {
		if p.Type != "text" {
			return "", fmt.Errorf("content part type [%s] is not supported", p.Type)
		}
		b.WriteString(p.Text)
	}
	return b.String(), nil
}

// chatConverse maps a unified request onto Converse. Stored task settings
// are the defaults; the request's own parameters win.
func chatConverse(req *chatRequest, ts TaskSettings) (*bedrock.ConverseRequest, *Error) {
	out := &bedrock.ConverseRequest{}
	for i, m := range req.Messages {
		text, err := contentText(m.Content)
		if err != nil {
			return nil, badRequest("messages[%d]: %s", i, err)
		}
		switch m.Role {
		case "system", "developer":
			if text != "" {
				out.System = append(out.System, bedrock.SystemText(text))
			}
		case "user":
			appendTurn(out, bedrock.RoleUser, bedrock.TextBlock(text))
		case "assistant":
			var blocks []bedrock.ContentBlock
			if text != "" {
				blocks = append(blocks, bedrock.TextBlock(text))
			}
			for j, tc := range m.ToolCalls {
				args := strings.TrimSpace(tc.Function.Arguments)
				if args == "" {
					args = "{}"
				}
				if !json.Valid([]byte(args)) {
					return nil, badRequest("messages[%d].tool_calls[%d].function.arguments is not valid JSON", i, j)
				}
				blocks = append(blocks, bedrock.ContentBlock{ToolUse: &bedrock.ToolUseBlock{
					ToolUseID: tc.ID, Name: tc.Function.Name, Input: json.RawMessage(args)}})
			}
			if len(blocks) == 0 {
				blocks = append(blocks, bedrock.TextBlock(" "))
			}
			appendTurn(out, bedrock.RoleAssistant, blocks...)
		case "tool":
			if m.ToolCallID == "" {
				return nil, badRequest("messages[%d]: a tool message needs [tool_call_id]", i)
			}
			appendTurn(out, bedrock.RoleUser, bedrock.ToolResultText(m.ToolCallID, text))
		default:
			return nil, badRequest("messages[%d]: unknown role [%s]", i, m.Role)
		}
	}
	if len(out.Messages) == 0 {
		return nil, badRequest("the request has no user or assistant message")
	}
	if len(req.Tools) > 0 {
		tc := &bedrock.ToolConfig{}
		for i, t := range req.Tools {
			if t.Type != "function" || t.Function.Name == "" {
				return nil, badRequest("tools[%d]: only function tools with a name are supported", i)
			}
			schema := t.Function.Parameters
			if len(schema) == 0 || bytes.Equal(bytes.TrimSpace(schema), []byte("null")) {
				schema = json.RawMessage(`{"type":"object","properties":{}}`)
			}
			tc.Tools = append(tc.Tools, bedrock.Tool{ToolSpec: &bedrock.ToolSpecification{
				Name: t.Function.Name, Description: t.Function.Description,
				InputSchema: bedrock.ToolInputSchema{JSON: schema}, Strict: t.Function.Strict}})
		}
		choice, e := toolChoice(req.ToolChoice)
		if e != nil {
			return nil, e
		}
		tc.ToolChoice = choice
		out.ToolConfig = tc
	}
	ts = ts.override(TaskSettings{Temperature: req.Temperature, TopP: req.TopP, MaxNewTokens: req.MaxCompletionTokens})
	out.InferenceConfig = inferenceConfig(ts)
	if len(req.Stop) > 0 {
		if out.InferenceConfig == nil {
			out.InferenceConfig = &bedrock.InferenceConfig{}
		}
		out.InferenceConfig.StopSequences = req.Stop
	}
	if ts.TopK != nil {
		out.AdditionalModelRequestFields = map[string]any{"top_k": *ts.TopK}
	}
	return out, nil
}

// appendTurn adds blocks to the conversation, merging consecutive turns
// of one role (Bedrock wants user and assistant to alternate; tool results
// are user turns).
func appendTurn(r *bedrock.ConverseRequest, role string, blocks ...bedrock.ContentBlock) {
	if n := len(r.Messages); n > 0 && r.Messages[n-1].Role == role {
		r.Messages[n-1].Content = append(r.Messages[n-1].Content, blocks...)
		return
	}
	r.Messages = append(r.Messages, bedrock.Message{Role: role, Content: blocks})
}

// toolChoice maps OpenAI's tool_choice. Bedrock has no "none": the tools
// stay declared (earlier tool calls need them) and the model chooses.
func toolChoice(raw json.RawMessage) (*bedrock.ToolChoice, *Error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return nil, nil
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		switch s {
		case "auto", "none":
			return &bedrock.ToolChoice{Auto: &struct{}{}}, nil
		case "required":
			return &bedrock.ToolChoice{Any: &struct{}{}}, nil
		}
		return nil, badRequest("[tool_choice] must be auto, none, required or a function, got [%s]", s)
	}
	var obj struct {
		Type     string `json:"type"`
		Function struct {
			Name string `json:"name"`
		} `json:"function"`
	}
	if err := json.Unmarshal(raw, &obj); err != nil || obj.Type != "function" || obj.Function.Name == "" {
		return nil, badRequest("[tool_choice] must be auto, none, required or {\"type\":\"function\",\"function\":{\"name\":…}}")
	}
	return &bedrock.ToolChoice{Tool: &bedrock.SpecificToolChoice{Name: obj.Function.Name}}, nil
}

type chatUsage struct {
	CompletionTokens int `json:"completion_tokens"`
	PromptTokens     int `json:"prompt_tokens"`
	TotalTokens      int `json:"total_tokens"`
}

func usageOf(u bedrock.TokenUsage) *chatUsage {
	return &chatUsage{CompletionTokens: u.OutputTokens, PromptTokens: u.InputTokens, TotalTokens: u.InputTokens + u.OutputTokens}
}

// chatCompletion is the non-streaming answer (object chat.completion).
type chatCompletion struct {
	ID      string       `json:"id"`
	Choices []chatChoice `json:"choices"`
	Created int64        `json:"created"`
	Model   string       `json:"model"`
	Object  string       `json:"object"`
	Usage   *chatUsage   `json:"usage"`
}

type chatChoice struct {
	FinishReason string     `json:"finish_reason"`
	Index        int        `json:"index"`
	Message      chatOutMsg `json:"message"`
}

type chatOutMsg struct {
	Content   *string        `json:"content"`
	Role      string         `json:"role"`
	ToolCalls []chatToolCall `json:"tool_calls,omitempty"`
}

// chatAnswer renders a Converse response as a chat.completion.
func chatAnswer(id, model string, created int64, r *bedrock.ConverseResponse) chatCompletion {
	msg := chatOutMsg{Role: "assistant"}
	var text strings.Builder
	if r.Output.Message != nil {
		for _, c := range r.Output.Message.Content {
			switch {
			case c.ToolUse != nil:
				tc := chatToolCall{ID: c.ToolUse.ToolUseID, Type: "function"}
				tc.Function.Name = c.ToolUse.Name
				tc.Function.Arguments = string(orEmptyObject(c.ToolUse.Input))
				msg.ToolCalls = append(msg.ToolCalls, tc)
			default:
				text.WriteString(c.Text)
			}
		}
	}
	if s := text.String(); s != "" || len(msg.ToolCalls) == 0 {
		msg.Content = &s
	}
	return chatCompletion{ID: id, Created: created, Model: model, Object: "chat.completion", Usage: usageOf(r.Usage),
		Choices: []chatChoice{{FinishReason: shaping.OpenAIFinishReason(r.StopReason), Message: msg}}}
}

func orEmptyObject(b json.RawMessage) json.RawMessage {
	if len(bytes.TrimSpace(b)) == 0 {
		return json.RawMessage("{}")
	}
	return b
}

// chatChunk is one streamed chat.completion.chunk, as Elasticsearch's
// StreamingUnifiedChatCompletionResults writes it.
type chatChunk struct {
	ID      string        `json:"id"`
	Choices []chunkChoice `json:"choices"`
	Model   string        `json:"model"`
	Object  string        `json:"object"`
	Usage   *chatUsage    `json:"usage,omitempty"`
}

type chunkChoice struct {
	Delta        chunkDelta `json:"delta"`
	FinishReason *string    `json:"finish_reason,omitempty"`
	Index        int        `json:"index"`
}

type chunkDelta struct {
	Content   *string        `json:"content,omitempty"`
	Role      string         `json:"role,omitempty"`
	ToolCalls []chatToolCall `json:"tool_calls,omitempty"`
}

// chunker turns ConverseStream events into chunks. Tool calls are
// numbered in order of appearance, as OpenAI's stream numbers them.
type chunker struct {
	id, model string
	tools     map[int]int // content block index -> tool call index
}

func newChunker(id, model string) *chunker {
	return &chunker{id: id, model: model, tools: map[int]int{}}
}

func (c *chunker) chunk(choices ...chunkChoice) chatChunk {
	return chatChunk{ID: c.id, Model: c.model, Object: "chat.completion.chunk", Choices: choices}
}

// event returns the chunks for one stream event (often none).
func (c *chunker) event(ev bedrock.StreamEvent) []chatChunk {
	switch {
	case ev.MessageStart != nil:
		return []chatChunk{c.chunk(chunkChoice{Delta: chunkDelta{Role: "assistant"}})}
	case ev.ContentBlockStart != nil && ev.ContentBlockStart.Start.ToolUse != nil:
		tu := ev.ContentBlockStart.Start.ToolUse
		n := len(c.tools)
		c.tools[ev.ContentBlockStart.ContentBlockIndex] = n
		tc := chatToolCall{Index: &n, ID: tu.ToolUseID, Type: "function"}
		tc.Function.Name = tu.Name
		return []chatChunk{c.chunk(chunkChoice{Delta: chunkDelta{ToolCalls: []chatToolCall{tc}}})}
	case ev.ContentBlockDelta != nil:
		d := ev.ContentBlockDelta.Delta
		switch {
		case d.ToolUse != nil:
			n, ok := c.tools[ev.ContentBlockDelta.ContentBlockIndex]
			if !ok {
				return nil
			}
			tc := chatToolCall{Index: &n}
			tc.Function.Arguments = d.ToolUse.Input
			return []chatChunk{c.chunk(chunkChoice{Delta: chunkDelta{ToolCalls: []chatToolCall{tc}}})}
		case d.Text != "":
			t := d.Text
			return []chatChunk{c.chunk(chunkChoice{Delta: chunkDelta{Content: &t}})}
		}
	case ev.MessageStop != nil:
		fr := shaping.OpenAIFinishReason(ev.MessageStop.StopReason)
		return []chatChunk{c.chunk(chunkChoice{FinishReason: &fr})}
	case ev.Metadata != nil:
		ch := c.chunk()
		ch.Choices = []chunkChoice{}
		ch.Usage = usageOf(ev.Metadata.Usage)
		return []chatChunk{ch}
	}
	return nil
}
