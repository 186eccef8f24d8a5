package bedrock

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
)

// NovaSchemaVersion is the schemaVersion of Nova's native text body.
const NovaSchemaVersion = "messages-v1"

// NovaRequest is the native Amazon Nova understanding-model body
// (amazon.nova-micro/lite/pro/premier, nova-2-lite), schema "messages-v1".
// It is close to Converse but not equal: inferenceConfig uses
// max_new_tokens, and there is no guardrailConfig (use the InvokeModel
// guardrail headers).
type NovaRequest struct {
	SchemaVersion   string               `json:"schemaVersion,omitempty"`
	System          []NovaSystemBlock    `json:"system,omitempty"`
	Messages        []NovaMessage        `json:"messages"`
	InferenceConfig *NovaInferenceConfig `json:"inferenceConfig,omitempty"`
	ToolConfig      *NovaToolConfig      `json:"toolConfig,omitempty"`
}

// NovaSystemBlock is {"text": ...} or {"cachePoint": ...}.
type NovaSystemBlock struct {
	Text       string          `json:"text,omitempty"`
	CachePoint *NovaCachePoint `json:"cachePoint,omitempty"`
}

// NovaInferenceConfig; optional numbers are pointers so that 0 can be sent.
type NovaInferenceConfig struct {
	MaxNewTokens  int      `json:"max_new_tokens,omitempty"`
	Temperature   *float64 `json:"temperature,omitempty"`
	TopP          *float64 `json:"topP,omitempty"`
	TopK          *int     `json:"topK,omitempty"`
	StopSequences []string `json:"stopSequences,omitempty"`
}

// NovaMessage is one turn: Role "user" or "assistant".
type NovaMessage struct {
	Role    string             `json:"role"`
	Content []NovaContentBlock `json:"content"`
}

// NovaContentBlock is a union: exactly one field is set.
type NovaContentBlock struct {
	Text             string                `json:"text,omitempty"`
	Image            *NovaMedia            `json:"image,omitempty"`
	Video            *NovaMedia            `json:"video,omitempty"`
	Document         *NovaMedia            `json:"document,omitempty"`
	ToolUse          *NovaToolUse          `json:"toolUse,omitempty"`
	ToolResult       *NovaToolResult       `json:"toolResult,omitempty"`
	ReasoningContent *NovaReasoningContent `json:"reasoningContent,omitempty"`
	CachePoint       *NovaCachePoint       `json:"cachePoint,omitempty"`
}

// NovaMedia is an image (format png|jpeg|gif|webp), video (mp4, mov, ...)
// or document (pdf, csv, ..., with Name).
type NovaMedia struct {
	Format string          `json:"format"`
	Name   string          `json:"name,omitempty"`
	Source NovaMediaSource `json:"source"`
}

// NovaMediaSource holds the bytes (base64 in JSON) or an S3 location.
type NovaMediaSource struct {
	Bytes      []byte          `json:"bytes,omitempty"`
	S3Location *NovaS3Location `json:"s3Location,omitempty"`
}

// NovaS3Location points at an object in S3.
type NovaS3Location struct {
	URI         string `json:"uri"`
	BucketOwner string `json:"bucketOwner,omitempty"`
}

// NovaToolUse is a tool call made by the model.
type NovaToolUse struct {
	ToolUseID string          `json:"toolUseId"`
	Name      string          `json:"name"`
	Input     json.RawMessage `json:"input"`
}

// NovaToolResult answers a tool call; Status is "success" or "error".
type NovaToolResult struct {
	ToolUseID string                  `json:"toolUseId"`
	Content   []NovaToolResultContent `json:"content"`
	Status    string                  `json:"status,omitempty"`
}

// NovaToolResultContent is {"text"} | {"json"} | {"image"} | {"document"} | {"video"}.
type NovaToolResultContent struct {
	Text     string          `json:"text,omitempty"`
	JSON     json.RawMessage `json:"json,omitempty"`
	Image    *NovaMedia      `json:"image,omitempty"`
	Document *NovaMedia      `json:"document,omitempty"`
	Video    *NovaMedia      `json:"video,omitempty"`
}

// NovaReasoningContent is model reasoning (Nova 2 with reasoning enabled).
type NovaReasoningContent struct {
	ReasoningText   *NovaReasoningText `json:"reasoningText,omitempty"`
	RedactedContent []byte             `json:"redactedContent,omitempty"`
}

// NovaReasoningText is reasoning text and its signature.
type NovaReasoningText struct {
	Text      string `json:"text"`
	Signature string `json:"signature,omitempty"`
}

// NovaCachePoint marks a prompt-cache checkpoint; Type is "default".
type NovaCachePoint struct {
	Type string `json:"type"`
}

// NovaToolConfig lists the tools and how the model may choose them.
type NovaToolConfig struct {
	Tools      []NovaTool      `json:"tools"`
	ToolChoice *NovaToolChoice `json:"toolChoice,omitempty"`
}

// NovaTool is {"toolSpec": ...}.
type NovaTool struct {
	ToolSpec *NovaToolSpec `json:"toolSpec,omitempty"`
}

// NovaToolSpec describes one tool; InputSchema.JSON is a JSON Schema.
type NovaToolSpec struct {
	Name        string          `json:"name"`
	Description string          `json:"description,omitempty"`
	InputSchema NovaInputSchema `json:"inputSchema"`
}

// NovaInputSchema wraps a tool's JSON Schema.
type NovaInputSchema struct {
	JSON json.RawMessage `json:"json"`
}

// NovaToolChoice is {"auto":{}} | {"any":{}} | {"tool":{"name":...}}.
type NovaToolChoice struct {
	Auto *struct{}     `json:"auto,omitempty"`
	Any  *struct{}     `json:"any,omitempty"`
	Tool *NovaToolName `json:"tool,omitempty"`
}

// NovaToolName names the tool the model must use.
type NovaToolName struct {
	Name string `json:"name"`
}

// NovaResponse is the native Nova response body.
type NovaResponse struct {
	Output struct {
		Message NovaMessage `json:"message"`
	} `json:"output"`
	StopReason string    `json:"stopReason"` // end_turn, max_tokens, stop_sequence, tool_use, content_filtered, ...
	Usage      NovaUsage `json:"usage"`

	InvokeMetadata `json:"-"`
}

func (r *NovaResponse) setMetadata(m InvokeMetadata) { r.InvokeMetadata = m }

// Text is the concatenated text of the output message.
func (r *NovaResponse) Text() string {
	var b strings.Builder
	for _, c := range r.Output.Message.Content {
		b.WriteString(c.Text)
	}
	return b.String()
}

// ToolUses are the tool calls of the output message, in order.
func (r *NovaResponse) ToolUses() []NovaToolUse {
	var out []NovaToolUse
	for _, c := range r.Output.Message.Content {
		if c.ToolUse != nil {
			out = append(out, *c.ToolUse)
		}
	}
	return out
}

// NovaUsage counts tokens. Bedrock names the cache counts
// ...InputTokenCount in native Nova bodies (Converse says ...InputTokens).
type NovaUsage struct {
	InputTokens               int `json:"inputTokens"`
	OutputTokens              int `json:"outputTokens"`
	TotalTokens               int `json:"totalTokens,omitempty"`
	CacheReadInputTokenCount  int `json:"cacheReadInputTokenCount,omitempty"`
	CacheWriteInputTokenCount int `json:"cacheWriteInputTokenCount,omitempty"`
}

// InvokeNova calls a Nova model with its native body. An empty
// SchemaVersion is filled in with NovaSchemaVersion.
func (c *Client) InvokeNova(ctx context.Context, modelID string, req *NovaRequest, opts ...CallOption) (*NovaResponse, error) {
	if req != nil && req.SchemaVersion == "" {
		r := *req
		r.SchemaVersion = NovaSchemaVersion
		req = &r
	}
	return invokeJSON[NovaRequest, NovaResponse](ctx, c, modelID, req, opts...)
}

// NovaStreamEvent is one chunk of a Nova InvokeModelWithResponseStream: a
// single-key object like Converse's stream events; the last one (metadata)
// also carries InvocationMetrics.
type NovaStreamEvent struct {
	MessageStart *struct {
		Role string `json:"role"`
	} `json:"messageStart,omitempty"`
	ContentBlockStart *struct {
		ContentBlockIndex int `json:"contentBlockIndex"`
		Start             struct {
			ToolUse *struct {
				ToolUseID string `json:"toolUseId"`
				Name      string `json:"name"`
			} `json:"toolUse,omitempty"`
		} `json:"start"`
	} `json:"contentBlockStart,omitempty"`
	ContentBlockDelta *struct {
		ContentBlockIndex int `json:"contentBlockIndex"`
		Delta             struct {
			Text    *string `json:"text,omitempty"`
			ToolUse *struct {
				Input string `json:"input"`
			} `json:"toolUse,omitempty"`
			ReasoningContent *struct {
				Text      string `json:"text,omitempty"`
				Signature string `json:"signature,omitempty"`
			} `json:"reasoningContent,omitempty"`
		} `json:"delta"`
	} `json:"contentBlockDelta,omitempty"`
	ContentBlockStop *struct {
		ContentBlockIndex int `json:"contentBlockIndex"`
	} `json:"contentBlockStop,omitempty"`
	MessageStop *struct {
		StopReason string `json:"stopReason"`
	} `json:"messageStop,omitempty"`
	Metadata *struct {
		Usage   NovaUsage       `json:"usage"`
		Metrics json.RawMessage `json:"metrics,omitempty"`
		Trace   json.RawMessage `json:"trace,omitempty"`
	} `json:"metadata,omitempty"`
	InvocationMetrics *InvocationMetrics `json:"amazon-bedrock-invocationMetrics,omitempty"`
}

// DecodeNovaStreamEvent decodes one chunk of InvokeStream.Current.
func DecodeNovaStreamEvent(chunk []byte) (*NovaStreamEvent, error) {
	return decodeChunk[NovaStreamEvent](chunk, "nova stream event")
}

// NovaAccumulator rebuilds the full response from a Nova stream. Nova
// streams each text fragment as its own content block; the rebuilt message
// keeps them apart (Text joins them) and orders blocks by index.
type NovaAccumulator struct {
	resp    NovaResponse
	blocks  map[int]*NovaContentBlock
	partial map[int]*strings.Builder
	// Metrics is the stream's amazon-bedrock-invocationMetrics, once seen.
	Metrics *InvocationMetrics
}

func (a *NovaAccumulator) block(i int) *NovaContentBlock {
	if a.blocks == nil {
		a.blocks = map[int]*NovaContentBlock{}
	}
	if a.blocks[i] == nil {
		a.blocks[i] = &NovaContentBlock{}
	}
	return a.blocks[i]
}

// Add folds one event in. It fails when a tool input is not valid JSON at
// contentBlockStop.
func (a *NovaAccumulator) Add(ev *NovaStreamEvent) error {
	if ev.InvocationMetrics != nil {
		a.Metrics = ev.InvocationMetrics
	}
	switch {
	case ev.MessageStart != nil:
		a.resp.Output.Message.Role = ev.MessageStart.Role
	case ev.ContentBlockStart != nil:
		if tu := ev.ContentBlockStart.Start.ToolUse; tu != nil {
			a.block(ev.ContentBlockStart.ContentBlockIndex).ToolUse = &NovaToolUse{ToolUseID: tu.ToolUseID, Name: tu.Name}
		}
	case ev.ContentBlockDelta != nil:
		i, d := ev.ContentBlockDelta.ContentBlockIndex, ev.ContentBlockDelta.Delta
		b := a.block(i)
		switch {
		case d.Text != nil:
			b.Text += *d.Text
		case d.ToolUse != nil:
			if b.ToolUse == nil {
				return fmt.Errorf("nova stream: tool input for block %d without contentBlockStart", i)
			}
			if a.partial == nil {
				a.partial = map[int]*strings.Builder{}
			}
			if a.partial[i] == nil {
				a.partial[i] = &strings.Builder{}
			}
			a.partial[i].WriteString(d.ToolUse.Input)
		case d.ReasoningContent != nil:
			if b.ReasoningContent == nil {
				b.ReasoningContent = &NovaReasoningContent{ReasoningText: &NovaReasoningText{}}
			}
			b.ReasoningContent.ReasoningText.Text += d.ReasoningContent.Text
			b.ReasoningContent.ReasoningText.Signature += d.ReasoningContent.Signature
		}
	case ev.ContentBlockStop != nil:
		i := ev.ContentBlockStop.ContentBlockIndex
		if p := a.partial[i]; p != nil {
			in := p.String()
			if in == "" {
				in = "{}"
			}
			if !json.Valid([]byte(in)) {
				return fmt.Errorf("nova stream: tool input of block %d is not valid JSON: %q", i, in)
			}
			a.block(i).ToolUse.Input = json.RawMessage(in)
			delete(a.partial, i)
		}
	case ev.MessageStop != nil:
		a.resp.StopReason = ev.MessageStop.StopReason
	case ev.Metadata != nil:
		a.resp.Usage = ev.Metadata.Usage
		if a.resp.Usage.TotalTokens == 0 {
			a.resp.Usage.TotalTokens = a.resp.Usage.InputTokens + a.resp.Usage.OutputTokens
		}
	}
	// Other (future) events are ignored.
	return nil
}

// Response is the message accumulated so far.
func (a *NovaAccumulator) Response() *NovaResponse {
	r := a.resp
	idx := make([]int, 0, len(a.blocks))
	for i := range a.blocks {
		idx = append(idx, i)
	}
	sort.Ints(idx)
	r.Output.Message.Content = make([]NovaContentBlock, 0, len(idx))
	for _, i := range idx {
		b := *a.blocks[i]
		if b.ToolUse != nil && b.ToolUse.Input == nil {
			tu := *b.ToolUse
			tu.Input = json.RawMessage("{}")
			b.ToolUse = &tu
		}
		r.Output.Message.Content = append(r.Output.Message.Content, b)
	}
	return &r
}
