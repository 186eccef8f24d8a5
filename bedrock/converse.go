package bedrock

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
)

// This file models the Converse request and response exactly as they travel
// in restJson1 (service model bedrock-runtime 2023-09-30): member names are
// the model's lowerCamel names, unions are structs of optional members (set
// exactly one so that they encode as single-key objects), blobs are []byte
// (base64 in JSON) and Documents are json.RawMessage or any.

// ConverseRequest is the body of Converse and ConverseStream. The model ID is
// not part of it: it travels in the request path.
type ConverseRequest struct {
	Messages                          []Message                 `json:"messages,omitempty"`
	System                            []SystemContentBlock      `json:"system,omitempty"`
	InferenceConfig                   *InferenceConfig          `json:"inferenceConfig,omitempty"`
	ToolConfig                        *ToolConfig               `json:"toolConfig,omitempty"`
	GuardrailConfig                   *GuardrailConfig          `json:"guardrailConfig,omitempty"`
	AdditionalModelRequestFields      map[string]any            `json:"additionalModelRequestFields,omitempty"`
	AdditionalModelResponseFieldPaths []string                  `json:"additionalModelResponseFieldPaths,omitempty"`
	PromptVariables                   map[string]PromptVariable `json:"promptVariables,omitempty"`
	RequestMetadata                   map[string]string         `json:"requestMetadata,omitempty"`
	PerformanceConfig                 *PerformanceConfig        `json:"performanceConfig,omitempty"`
	ServiceTier                       *ServiceTier              `json:"serviceTier,omitempty"`
	OutputConfig                      *OutputConfig             `json:"outputConfig,omitempty"`
}

// Conversation roles.
const (
	RoleUser      = "user"
	RoleAssistant = "assistant"
)

// Message is one turn of the conversation.
type Message struct {
	Role    string         `json:"role"`
	Content []ContentBlock `json:"content"`
}

// ContentBlock is a union: set exactly one member.
type ContentBlock struct {
	Text             string                 `json:"text,omitempty"`
	Image            *ImageBlock            `json:"image,omitempty"`
	Document         *DocumentBlock         `json:"document,omitempty"`
	Video            *VideoBlock            `json:"video,omitempty"`
	Audio            *AudioBlock            `json:"audio,omitempty"`
	ToolUse          *ToolUseBlock          `json:"toolUse,omitempty"`
	ToolResult       *ToolResultBlock       `json:"toolResult,omitempty"`
	GuardContent     *GuardrailContent      `json:"guardContent,omitempty"`
	CachePoint       *CachePointBlock       `json:"cachePoint,omitempty"`
	ReasoningContent *ReasoningContentBlock `json:"reasoningContent,omitempty"`
	CitationsContent *CitationsContentBlock `json:"citationsContent,omitempty"`
	SearchResult     *SearchResultBlock     `json:"searchResult,omitempty"`
	ToolAddition     *ToolChangeBlock       `json:"toolAddition,omitempty"`
	ToolRemoval      *ToolChangeBlock       `json:"toolRemoval,omitempty"`
}

// MediaSource is where image, video and audio bytes come from (a union: Bytes
// or S3Location).
type MediaSource struct {
	Bytes      []byte      `json:"bytes,omitempty"`
	S3Location *S3Location `json:"s3Location,omitempty"`
}

// S3Location names an object in S3.
type S3Location struct {
	URI         string `json:"uri"`
	BucketOwner string `json:"bucketOwner,omitempty"`
}

// ErrorBlock reports a media block the service could not process.
type ErrorBlock struct {
	Message string `json:"message,omitempty"`
}

// ImageBlock is an image: Format is png, jpeg, gif or webp.
type ImageBlock struct {
	Format string      `json:"format,omitempty"`
	Source MediaSource `json:"source,omitzero"`
	Error  *ErrorBlock `json:"error,omitempty"`
}

// DocumentBlock is a document: Format is pdf, csv, doc, docx, xls, xlsx,
// html, txt or md; Name is required.
type DocumentBlock struct {
	Format    string           `json:"format,omitempty"`
	Name      string           `json:"name"`
	Source    DocumentSource   `json:"source"`
	Context   string           `json:"context,omitempty"`
	Citations *CitationsConfig `json:"citations,omitempty"`
}

// DocumentSource is a union: Bytes, S3Location, Text or Content.
type DocumentSource struct {
	Bytes      []byte                 `json:"bytes,omitempty"`
	S3Location *S3Location            `json:"s3Location,omitempty"`
	Text       string                 `json:"text,omitempty"`
	Content    []DocumentContentBlock `json:"content,omitempty"`
}

// DocumentContentBlock is a piece of a document given as content.
type DocumentContentBlock struct {
	Text string `json:"text,omitempty"`
}

// VideoBlock is a video: Format is mkv, mov, mp4, webm, flv, mpeg, mpg, wmv
// or three_gp.
type VideoBlock struct {
	Format string      `json:"format"`
	Source MediaSource `json:"source"`
}

// AudioBlock is an audio clip.
type AudioBlock struct {
	Format string      `json:"format"`
	Source MediaSource `json:"source,omitzero"`
	Error  *ErrorBlock `json:"error,omitempty"`
}

// ToolUseBlock is a tool call made by the model. Input is the tool's JSON
// input; an empty Input is sent as {} (the service requires an object).
type ToolUseBlock struct {
	ToolUseID string          `json:"toolUseId"`
	Name      string          `json:"name"`
	Input     json.RawMessage `json:"input"`
	// Type is "server_tool_use" for tools run by the service.
	Type string `json:"type,omitempty"`
}

// MarshalJSON sends an empty Input as {} rather than null.
func (b ToolUseBlock) MarshalJSON() ([]byte, error) {
	type plain ToolUseBlock
	if len(b.Input) == 0 {
		b.Input = json.RawMessage("{}")
	}
	return json.Marshal(plain(b))
}

// Tool result statuses.
const (
	ToolResultSuccess = "success"
	ToolResultError   = "error"
)

// ToolResultBlock returns a tool's result to the model.
type ToolResultBlock struct {
	ToolUseID string                   `json:"toolUseId"`
	Content   []ToolResultContentBlock `json:"content"`
	// Status is "success" or "error" (Claude 3+, Nova only).
	Status string `json:"status,omitempty"`
	Type   string `json:"type,omitempty"`
}

// ToolResultContentBlock is a union: JSON, Text, Image, Document, Video or
// SearchResult.
type ToolResultContentBlock struct {
	JSON         json.RawMessage    `json:"json,omitempty"`
	Text         string             `json:"text,omitempty"`
	Image        *ImageBlock        `json:"image,omitempty"`
	Document     *DocumentBlock     `json:"document,omitempty"`
	Video        *VideoBlock        `json:"video,omitempty"`
	SearchResult *SearchResultBlock `json:"searchResult,omitempty"`
}

// CachePointBlock marks a prompt-cache checkpoint. Type is "default"; TTL is
// "5m" or "1h" (empty: the service default).
type CachePointBlock struct {
	Type string `json:"type"`
	TTL  string `json:"ttl,omitempty"`
}

// ReasoningContentBlock is the model's reasoning (a union: ReasoningText or
// RedactedContent).
type ReasoningContentBlock struct {
	ReasoningText   *ReasoningTextBlock `json:"reasoningText,omitempty"`
	RedactedContent []byte              `json:"redactedContent,omitempty"`
}

// ReasoningTextBlock is reasoning text and the signature that must be sent
// back with it in multi-turn conversations.
type ReasoningTextBlock struct {
	Text      string `json:"text"`
	Signature string `json:"signature,omitempty"`
}

// CitationsContentBlock is generated text with the citations behind it.
type CitationsContentBlock struct {
	Content   []CitationGeneratedContent `json:"content,omitempty"`
	Citations []Citation                 `json:"citations,omitempty"`
}

// CitationGeneratedContent is a piece of generated, cited text.
type CitationGeneratedContent struct {
	Text string `json:"text,omitempty"`
}

// Citation points from generated text to a source.
type Citation struct {
	Title         string                  `json:"title,omitempty"`
	Source        string                  `json:"source,omitempty"`
	SourceContent []CitationSourceContent `json:"sourceContent,omitempty"`
	Location      *CitationLocation       `json:"location,omitempty"`
}

// CitationSourceContent is quoted source text.
type CitationSourceContent struct {
	Text string `json:"text,omitempty"`
}

// CitationLocation is a union locating a citation in its source.
type CitationLocation struct {
	Web                  *WebLocation          `json:"web,omitempty"`
	DocumentChar         *DocumentLocation     `json:"documentChar,omitempty"`
	DocumentPage         *DocumentLocation     `json:"documentPage,omitempty"`
	DocumentChunk        *DocumentLocation     `json:"documentChunk,omitempty"`
	SearchResultLocation *SearchResultLocation `json:"searchResultLocation,omitempty"`
}

// WebLocation is a web page cited.
type WebLocation struct {
	URL    string `json:"url,omitempty"`
	Domain string `json:"domain,omitempty"`
}

// DocumentLocation is a character, page or chunk range of a document (the
// service model's DocumentCharLocation, DocumentPageLocation and
// DocumentChunkLocation have the same members).
type DocumentLocation struct {
	DocumentIndex int `json:"documentIndex"`
	Start         int `json:"start"`
	End           int `json:"end"`
}

// SearchResultLocation is a range of a search result's content blocks.
type SearchResultLocation struct {
	SearchResultIndex int `json:"searchResultIndex"`
	Start             int `json:"start"`
	End               int `json:"end"`
}

// CitationsConfig turns citations on for a document or search result.
type CitationsConfig struct {
	Enabled bool `json:"enabled"`
}

// SearchResultBlock is a search result given to the model.
type SearchResultBlock struct {
	Source    string                     `json:"source"`
	Title     string                     `json:"title"`
	Content   []SearchResultContentBlock `json:"content"`
	Citations *CitationsConfig           `json:"citations,omitempty"`
}

// SearchResultContentBlock is a piece of a search result.
type SearchResultContentBlock struct {
	Text string `json:"text"`
}

// ToolChangeBlock is the service model's ToolAdditionBlock and
// ToolRemovalBlock: a tool added to or removed from the conversation.
type ToolChangeBlock struct {
	Tool ToolReference `json:"tool"`
}

// ToolReference names a tool.
type ToolReference struct {
	Type       string `json:"type,omitempty"`
	Name       string `json:"name,omitempty"`
	ServerName string `json:"serverName,omitempty"`
}

// SystemContentBlock is a union: Text, GuardContent or CachePoint.
type SystemContentBlock struct {
	Text         string            `json:"text,omitempty"`
	GuardContent *GuardrailContent `json:"guardContent,omitempty"`
	CachePoint   *CachePointBlock  `json:"cachePoint,omitempty"`
}

// InferenceConfig holds the common inference parameters. Pointers, because
// 0 is a meaningful temperature.
type InferenceConfig struct {
	MaxTokens     *int     `json:"maxTokens,omitempty"`
	Temperature   *float64 `json:"temperature,omitempty"`
	TopP          *float64 `json:"topP,omitempty"`
	StopSequences []string `json:"stopSequences,omitempty"`
}

// ToolConfig lists the tools the model may call.
type ToolConfig struct {
	Tools      []Tool      `json:"tools"`
	ToolChoice *ToolChoice `json:"toolChoice,omitempty"`
}

// Tool is a union: ToolSpec, SystemTool or CachePoint.
type Tool struct {
	ToolSpec   *ToolSpecification `json:"toolSpec,omitempty"`
	SystemTool *SystemTool        `json:"systemTool,omitempty"`
	CachePoint *CachePointBlock   `json:"cachePoint,omitempty"`
}

// ToolSpecification describes a tool; InputSchema.JSON is its JSON Schema.
type ToolSpecification struct {
	Name        string          `json:"name"`
	Description string          `json:"description,omitempty"`
	InputSchema ToolInputSchema `json:"inputSchema"`
	Strict      *bool           `json:"strict,omitempty"`
}

// ToolInputSchema is a union; today only JSON.
type ToolInputSchema struct {
	JSON json.RawMessage `json:"json,omitempty"`
}

// SystemTool is a tool provided by the service.
type SystemTool struct {
	Name string `json:"name"`
}

// ToolChoice is a union: Auto, Any (set them to &struct{}{}) or Tool.
type ToolChoice struct {
	Auto *struct{}           `json:"auto,omitempty"`
	Any  *struct{}           `json:"any,omitempty"`
	Tool *SpecificToolChoice `json:"tool,omitempty"`
}

// SpecificToolChoice forces a call of the named tool.
type SpecificToolChoice struct {
	Name string `json:"name"`
}

// GuardrailConfig applies a guardrail. Trace is enabled, disabled or
// enabled_full; StreamProcessingMode (sync or async) is for ConverseStream
// only.
type GuardrailConfig struct {
	GuardrailIdentifier  string `json:"guardrailIdentifier,omitempty"`
	GuardrailVersion     string `json:"guardrailVersion,omitempty"`
	Trace                string `json:"trace,omitempty"`
	StreamProcessingMode string `json:"streamProcessingMode,omitempty"`
}

// PromptVariable is the value of a prompt-management variable (a union;
// today only Text).
type PromptVariable struct {
	Text string `json:"text"`
}

// PerformanceConfig selects latency-optimized inference: "standard" or
// "optimized".
type PerformanceConfig struct {
	Latency string `json:"latency,omitempty"`
}

// ServiceTier selects the tier: priority, default, flex or reserved.
type ServiceTier struct {
	Type string `json:"type,omitempty"`
}

// OutputConfig asks for structured output and sets the reasoning effort.
type OutputConfig struct {
	TextFormat *OutputFormat `json:"textFormat,omitempty"`
	Effort     string        `json:"effort,omitempty"`
}

// OutputFormat is the output format; Type is "json_schema".
type OutputFormat struct {
	Type      string                 `json:"type"`
	Structure *OutputFormatStructure `json:"structure,omitempty"`
}

// OutputFormatStructure is a union; today only JSONSchema.
type OutputFormatStructure struct {
	JSONSchema *JSONSchemaDefinition `json:"jsonSchema,omitempty"`
}

// JSONSchemaDefinition is a JSON Schema, given as a string.
type JSONSchemaDefinition struct {
	Schema      string `json:"schema"`
	Name        string `json:"name,omitempty"`
	Description string `json:"description,omitempty"`
}

// The stop reasons of the service model.
const (
	StopReasonEndTurn                    = "end_turn"
	StopReasonToolUse                    = "tool_use"
	StopReasonMaxTokens                  = "max_tokens"
	StopReasonStopSequence               = "stop_sequence"
	StopReasonGuardrailIntervened        = "guardrail_intervened"
	StopReasonContentFiltered            = "content_filtered"
	StopReasonMalformedModelOutput       = "malformed_model_output"
	StopReasonMalformedToolUse           = "malformed_tool_use"
	StopReasonModelContextWindowExceeded = "model_context_window_exceeded"
)

// ConverseResponse is the result of Converse (and of collecting a
// ConverseStream).
type ConverseResponse struct {
	Output                        ConverseOutput     `json:"output"`
	StopReason                    string             `json:"stopReason"`
	Usage                         TokenUsage         `json:"usage"`
	Metrics                       ConverseMetrics    `json:"metrics"`
	AdditionalModelResponseFields json.RawMessage    `json:"additionalModelResponseFields,omitempty"`
	Trace                         *ConverseTrace     `json:"trace,omitempty"`
	PerformanceConfig             *PerformanceConfig `json:"performanceConfig,omitempty"`
	ServiceTier                   *ServiceTier       `json:"serviceTier,omitempty"`

	// ResponseMetadata is not part of the JSON body.
	ResponseMetadata
}

// ConverseOutput is a union; today only Message.
type ConverseOutput struct {
	Message *Message `json:"message,omitempty"`
}

// TokenUsage counts tokens. With prompt caching, TotalTokens includes the
// cache reads and writes.
type TokenUsage struct {
	InputTokens           int           `json:"inputTokens"`
	OutputTokens          int           `json:"outputTokens"`
	TotalTokens           int           `json:"totalTokens"`
	CacheReadInputTokens  int           `json:"cacheReadInputTokens,omitempty"`
	CacheWriteInputTokens int           `json:"cacheWriteInputTokens,omitempty"`
	CacheDetails          []CacheDetail `json:"cacheDetails,omitempty"`
}

// CacheDetail is the cache write count for one TTL.
type CacheDetail struct {
	TTL         string `json:"ttl"`
	InputTokens int    `json:"inputTokens"`
}

// ConverseMetrics holds the call's latency (also ConverseStreamMetrics).
type ConverseMetrics struct {
	LatencyMs int64 `json:"latencyMs"`
}

// ConverseTrace is the guardrail assessment (kept as raw JSON: it is large
// and rarely inspected field by field) and the prompt router's choice.
type ConverseTrace struct {
	Guardrail    json.RawMessage    `json:"guardrail,omitempty"`
	PromptRouter *PromptRouterTrace `json:"promptRouter,omitempty"`
}

// PromptRouterTrace names the model a prompt router picked.
type PromptRouterTrace struct {
	InvokedModelID string `json:"invokedModelId,omitempty"`
}

// Text returns the text blocks of the output message, concatenated.
func (r *ConverseResponse) Text() string {
	if r == nil || r.Output.Message == nil {
		return ""
	}
	var b strings.Builder
	for _, c := range r.Output.Message.Content {
		b.WriteString(c.Text)
	}
	return b.String()
}

// ToolUses returns the tool calls in the output message, in order.
func (r *ConverseResponse) ToolUses() []ToolUseBlock {
	if r == nil || r.Output.Message == nil {
		return nil
	}
	var out []ToolUseBlock
	for _, c := range r.Output.Message.Content {
		if c.ToolUse != nil {
			out = append(out, *c.ToolUse)
		}
	}
	return out
}

// Reasoning returns the reasoning text of the output message, concatenated
// (redacted reasoning is left out).
func (r *ConverseResponse) Reasoning() string {
	if r == nil || r.Output.Message == nil {
		return ""
	}
	var b strings.Builder
	for _, c := range r.Output.Message.Content {
		if c.ReasoningContent != nil && c.ReasoningContent.ReasoningText != nil {
			b.WriteString(c.ReasoningContent.ReasoningText.Text)
		}
	}
	return b.String()
}

// UserText is a user message holding one text block.
func UserText(s string) Message {
	return Message{Role: RoleUser, Content: []ContentBlock{{Text: s}}}
}

// AssistantText is an assistant message holding one text block.
func AssistantText(s string) Message {
	return Message{Role: RoleAssistant, Content: []ContentBlock{{Text: s}}}
}

// TextBlock is a text content block.
func TextBlock(s string) ContentBlock { return ContentBlock{Text: s} }

// SystemText is a system prompt block.
func SystemText(s string) SystemContentBlock { return SystemContentBlock{Text: s} }

// CachePoint is a default cache checkpoint (ContentBlock); for system
// prompts and tools use &CachePointBlock{Type: "default"} directly.
func CachePoint() ContentBlock {
	return ContentBlock{CachePoint: &CachePointBlock{Type: "default"}}
}

// ToolResultText is a successful tool result holding text.
func ToolResultText(toolUseID, text string) ContentBlock {
	return ContentBlock{ToolResult: &ToolResultBlock{
		ToolUseID: toolUseID,
		Content:   []ToolResultContentBlock{{Text: text}},
	}}
}

// ToolResultJSON is a successful tool result holding a JSON value.
func ToolResultJSON(toolUseID string, v json.RawMessage) ContentBlock {
	return ContentBlock{ToolResult: &ToolResultBlock{
		ToolUseID: toolUseID,
		Content:   []ToolResultContentBlock{{JSON: v}},
	}}
}

// ToolResultErrorText is a failed tool result (status "error") holding text.
func ToolResultErrorText(toolUseID, text string) ContentBlock {
	b := ToolResultText(toolUseID, text)
	b.ToolResult.Status = ToolResultError
	return b
}

// errEmptyModelID is returned for an empty model ID argument.
var errEmptyModelID = errors.New("bedrock: empty model ID")

// checkModelCall refuses what every model operation op refuses before
// sending: a nil request (reqIsNil), then an empty model ID.
func checkModelCall(op, modelID string, reqIsNil bool) error {
	if reqIsNil {
		return &OpError{op, errNilRequest}
	}
	if modelID == "" {
		return &OpError{op, errEmptyModelID}
	}
	return nil
}

// Converse sends a conversation to modelID (a model ID, inference profile or
// ARN) and returns the model's reply.
func (c *Client) Converse(ctx context.Context, modelID string, req *ConverseRequest, opts ...CallOption) (*ConverseResponse, error) {
	const op = "Converse"
	if err := checkModelCall(op, modelID, req == nil); err != nil {
		return nil, err
	}
	out := new(ConverseResponse)
	md, err := c.doJSON(ctx, &call{opts: callOptionsOf(opts), op: op, modelID: modelID, action: "converse"}, req, out)
	if err != nil {
		return nil, err
	}
	out.ResponseMetadata = md
	return out, nil
}
