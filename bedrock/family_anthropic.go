package bedrock

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// AnthropicVersion is the anthropic_version every Claude body on Bedrock
// carries.
const AnthropicVersion = "bedrock-2023-05-31"

// AnthropicRequest is the native Anthropic Claude Messages body
// (anthropic.claude-*). Optional numbers are pointers so that 0 can be sent.
type AnthropicRequest struct {
	AnthropicVersion string             `json:"anthropic_version"`
	AnthropicBeta    []string           `json:"anthropic_beta,omitempty"`
	Messages         []AnthropicMessage `json:"messages"`
	// System is a plain string or a list of text blocks (for cache_control).
	System        AnthropicContent     `json:"system,omitzero"`
	MaxTokens     int                  `json:"max_tokens"`
	Temperature   *float64             `json:"temperature,omitempty"`
	TopP          *float64             `json:"top_p,omitempty"`
	TopK          *int                 `json:"top_k,omitempty"`
	StopSequences []string             `json:"stop_sequences,omitempty"`
	Tools         []AnthropicTool      `json:"tools,omitempty"`
	ToolChoice    *AnthropicToolChoice `json:"tool_choice,omitempty"`
	Thinking      *AnthropicThinking   `json:"thinking,omitempty"`
}

// AnthropicMessage is one turn; Content is a plain string or a list of blocks.
type AnthropicMessage struct {
	Role    string           `json:"role"` // "user" or "assistant"
	Content AnthropicContent `json:"content"`
}

// AnthropicContent is the string-or-blocks value Anthropic accepts for message
// content, tool_result content and system: Blocks when the JSON was an array
// (or Blocks is non-nil), else Text as a JSON string. It re-encodes in the
// form it was decoded from.
type AnthropicContent struct {
	Text   string
	Blocks []AnthropicBlock
}

// AnthropicText is content given as a plain string.
func AnthropicText(s string) AnthropicContent { return AnthropicContent{Text: s} }

// AnthropicBlocks is content given as a list of blocks.
func AnthropicBlocks(b ...AnthropicBlock) AnthropicContent {
	if b == nil {
		b = []AnthropicBlock{}
	}
	return AnthropicContent{Blocks: b}
}

// IsZero reports an absent value (for omitzero).
func (c AnthropicContent) IsZero() bool { return c.Text == "" && c.Blocks == nil }

// String is the concatenated text of the content.
func (c AnthropicContent) String() string {
	if c.Blocks == nil {
		return c.Text
	}
	var b strings.Builder
	for _, blk := range c.Blocks {
		if blk.Type == "text" {
			b.WriteString(blk.Text)
		}
	}
	return b.String()
}

func (c AnthropicContent) MarshalJSON() ([]byte, error) {
	if c.Blocks != nil {
		return json.Marshal(c.Blocks)
	}
	return json.Marshal(c.Text)
}

func (c *AnthropicContent) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	*c = AnthropicContent{}
	switch {
	case len(b) > 0 && b[0] == '"':
		return json.Unmarshal(b, &c.Text)
	case len(b) > 0 && b[0] == '[':
		c.Blocks = []AnthropicBlock{}
		return json.Unmarshal(b, &c.Blocks)
	case bytes.Equal(b, []byte("null")):
		return nil
	}
	return errors.New("anthropic content: want a string or an array of blocks")
}

// AnthropicBlock is one content block. Type says which fields are used:
//
//	text               Text (+ Citations)
//	image, document    Source (document: + Title, Context, Citations)
//	tool_use           ID, Name, Input
//	tool_result        ToolUseID, Content, IsError
//	thinking           Thinking, Signature
//	redacted_thinking  Data
type AnthropicBlock struct {
	Type string `json:"type"`
	Text string `json:"text,omitempty"`

	Source  *AnthropicSource `json:"source,omitempty"`
	Title   string           `json:"title,omitempty"`
	Context string           `json:"context,omitempty"`

	ID    string          `json:"id,omitempty"`
	Name  string          `json:"name,omitempty"`
	Input json.RawMessage `json:"input,omitempty"`

	ToolUseID string            `json:"tool_use_id,omitempty"`
	Content   *AnthropicContent `json:"content,omitempty"`
	IsError   bool              `json:"is_error,omitempty"`

	Thinking  string `json:"thinking,omitempty"`
	Signature string `json:"signature,omitempty"`
	Data      string `json:"data,omitempty"`

	Citations    json.RawMessage        `json:"citations,omitempty"`
	CacheControl *AnthropicCacheControl `json:"cache_control,omitempty"`
}

// AnthropicSource is an image or document source: Type "base64" with
// MediaType and Data (base64), or "text" with Data (plain text documents).
type AnthropicSource struct {
	Type      string `json:"type"`
	MediaType string `json:"media_type,omitempty"`
	Data      string `json:"data,omitempty"`
}

// AnthropicCacheControl marks a prompt-cache breakpoint: Type "ephemeral",
// TTL "5m" or "1h".
type AnthropicCacheControl struct {
	Type string `json:"type"`
	TTL  string `json:"ttl,omitempty"`
}

// AnthropicTool is a client tool (Name, Description, InputSchema) or, with
// Type set (e.g. "bash_20250124"), an Anthropic-defined tool.
type AnthropicTool struct {
	Type         string                 `json:"type,omitempty"`
	Name         string                 `json:"name"`
	Description  string                 `json:"description,omitempty"`
	InputSchema  json.RawMessage        `json:"input_schema,omitempty"`
	CacheControl *AnthropicCacheControl `json:"cache_control,omitempty"`
}

// AnthropicToolChoice: Type "auto", "any", "tool" (with Name) or "none".
type AnthropicToolChoice struct {
	Type                   string `json:"type"`
	Name                   string `json:"name,omitempty"`
	DisableParallelToolUse bool   `json:"disable_parallel_tool_use,omitempty"`
}

// AnthropicThinking enables extended thinking: Type "enabled" with
// BudgetTokens, or "disabled".
type AnthropicThinking struct {
	Type         string `json:"type"`
	BudgetTokens int    `json:"budget_tokens,omitempty"`
}

// AnthropicResponse is the native Claude response body (and, in a stream,
// the message of message_start).
type AnthropicResponse struct {
	ID           string           `json:"id"`
	Type         string           `json:"type"` // "message"
	Role         string           `json:"role"`
	Model        string           `json:"model"`
	Content      []AnthropicBlock `json:"content"`
	StopReason   string           `json:"stop_reason"` // end_turn, max_tokens, stop_sequence, tool_use, ...
	StopSequence *string          `json:"stop_sequence"`
	Usage        AnthropicUsage   `json:"usage"`

	InvokeMetadata `json:"-"`
}

func (r *AnthropicResponse) setMetadata(m InvokeMetadata) { r.InvokeMetadata = m }

// Text is the concatenated text of the response's text blocks.
func (r *AnthropicResponse) Text() string {
	return AnthropicContent{Blocks: r.Content}.String()
}

// ToolUses are the response's tool_use blocks, in order.
func (r *AnthropicResponse) ToolUses() []AnthropicBlock {
	var out []AnthropicBlock
	for _, b := range r.Content {
		if b.Type == "tool_use" {
			out = append(out, b)
		}
	}
	return out
}

// AnthropicUsage counts tokens.
type AnthropicUsage struct {
	InputTokens              int `json:"input_tokens"`
	OutputTokens             int `json:"output_tokens"`
	CacheCreationInputTokens int `json:"cache_creation_input_tokens,omitempty"`
	CacheReadInputTokens     int `json:"cache_read_input_tokens,omitempty"`
}

// InvokeAnthropic calls a Claude model with its native body. An empty
// AnthropicVersion is filled in with AnthropicVersion.
func (c *Client) InvokeAnthropic(ctx context.Context, modelID string, req *AnthropicRequest, opts ...CallOption) (*AnthropicResponse, error) {
	if req != nil && req.AnthropicVersion == "" {
		r := *req
		r.AnthropicVersion = AnthropicVersion
		req = &r
	}
	return invokeJSON[AnthropicRequest, AnthropicResponse](ctx, c, modelID, req, opts...)
}

// AnthropicStreamEvent is one chunk of a Claude InvokeModelWithResponseStream:
// an Anthropic streaming event without the SSE framing. Type says which
// fields are set:
//
//	message_start        Message
//	content_block_start  Index, ContentBlock
//	content_block_delta  Index, Delta (text_delta, input_json_delta, thinking_delta, signature_delta)
//	content_block_stop   Index
//	message_delta        Delta (StopReason, StopSequence), Usage
//	message_stop         InvocationMetrics
//	ping
//	error                Error
type AnthropicStreamEvent struct {
	Type         string             `json:"type"`
	Message      *AnthropicResponse `json:"message,omitempty"`
	Index        int                `json:"index"`
	ContentBlock *AnthropicBlock    `json:"content_block,omitempty"`
	Delta        *AnthropicDelta    `json:"delta,omitempty"`
	Usage        *AnthropicUsage    `json:"usage,omitempty"`
	Error        *struct {
		Type    string `json:"type"`
		Message string `json:"message"`
	} `json:"error,omitempty"`
	InvocationMetrics *InvocationMetrics `json:"amazon-bedrock-invocationMetrics,omitempty"`
}

// AnthropicDelta is the delta of content_block_delta and message_delta.
type AnthropicDelta struct {
	Type         string  `json:"type,omitempty"`
	Text         string  `json:"text,omitempty"`
	PartialJSON  string  `json:"partial_json,omitempty"`
	Thinking     string  `json:"thinking,omitempty"`
	Signature    string  `json:"signature,omitempty"`
	StopReason   string  `json:"stop_reason,omitempty"`
	StopSequence *string `json:"stop_sequence,omitempty"`
}

// DecodeAnthropicStreamEvent decodes one chunk of InvokeStream.Current.
func DecodeAnthropicStreamEvent(chunk []byte) (*AnthropicStreamEvent, error) {
	return decodeChunk[AnthropicStreamEvent](chunk, "anthropic stream event")
}

// AnthropicAccumulator rebuilds the full response from a Claude stream, so
// that a streaming caller ends with the same AnthropicResponse a
// non-streaming call returns (text joined, tool inputs parsed).
type AnthropicAccumulator struct {
	msg     AnthropicResponse
	partial map[int]*strings.Builder // tool_use input JSON by block index
	// Metrics is the stream's amazon-bedrock-invocationMetrics, once seen.
	Metrics *InvocationMetrics
}

// Add folds one event in. It fails on an "error" event or a tool input that
// is not valid JSON at content_block_stop.
func (a *AnthropicAccumulator) Add(ev *AnthropicStreamEvent) error {
	if ev.InvocationMetrics != nil {
		a.Metrics = ev.InvocationMetrics
	}
	switch ev.Type {
	case "message_start":
		if ev.Message != nil {
			a.msg = *ev.Message
			a.msg.Content = append([]AnthropicBlock(nil), ev.Message.Content...)
		}
	case "content_block_start":
		if ev.ContentBlock == nil {
			return errors.New("anthropic stream: content_block_start without content_block")
		}
		if ev.Index < 0 || ev.Index >= maxContentBlocks {
			return fmt.Errorf("anthropic stream: content block index %d out of range", ev.Index)
		}
		for len(a.msg.Content) <= ev.Index {
			a.msg.Content = append(a.msg.Content, AnthropicBlock{})
		}
		a.msg.Content[ev.Index] = *ev.ContentBlock
	case "content_block_delta":
		if ev.Delta == nil || ev.Index < 0 || ev.Index >= len(a.msg.Content) {
			return fmt.Errorf("anthropic stream: delta for unknown block %d", ev.Index)
		}
		blk := &a.msg.Content[ev.Index]
		switch ev.Delta.Type {
		case "text_delta":
			blk.Text += ev.Delta.Text
		case "thinking_delta":
			blk.Thinking += ev.Delta.Thinking
		case "signature_delta":
			blk.Signature += ev.Delta.Signature
		case "input_json_delta":
			if a.partial == nil {
				a.partial = map[int]*strings.Builder{}
			}
			if a.partial[ev.Index] == nil {
				a.partial[ev.Index] = &strings.Builder{}
			}
			a.partial[ev.Index].WriteString(ev.Delta.PartialJSON)
		}
	case "content_block_stop":
		if p := a.partial[ev.Index]; p != nil && ev.Index < len(a.msg.Content) {
			in := p.String()
			if in == "" {
				in = "{}"
			}
			if !json.Valid([]byte(in)) {
				return fmt.Errorf("anthropic stream: tool input of block %d is not valid JSON: %q", ev.Index, in)
			}
			a.msg.Content[ev.Index].Input = json.RawMessage(in)
			delete(a.partial, ev.Index)
		}
	case "message_delta":
		if ev.Delta != nil {
			a.msg.StopReason = ev.Delta.StopReason
			a.msg.StopSequence = ev.Delta.StopSequence
		}
		if ev.Usage != nil {
			// message_delta's usage is cumulative output; input comes from
			// message_start.
			a.msg.Usage.OutputTokens = ev.Usage.OutputTokens
		}
	case "error":
		if ev.Error != nil {
			return fmt.Errorf("anthropic stream: %s: %s", ev.Error.Type, ev.Error.Message)
		}
		return errors.New("anthropic stream: error event")
	}
	return nil
}

// Response is the message accumulated so far.
func (a *AnthropicAccumulator) Response() *AnthropicResponse {
	r := a.msg
	return &r
}
