package openai

import (
	"encoding/json"

	"github.com/quarry-dev/quarry/bedrock"
)

// This file holds the OpenAI chat-completions wire types as the gateway
// reads and writes them. Union-typed members (content, stop, tool_choice,
// response_format, ...) stay json.RawMessage and are decoded by the
// translation, which can then name the exact offending field
// (messages[2].content[1].image_url) instead of a Go type.
//
// Members OpenAI defines but Bedrock has no use for (store, ...) are not
// declared: they are accepted and ignored whatever their value. Those that
// would change the answer (seed, logprobs, frequency_penalty,
// presence_penalty, logit_bias) are accepted too, and named in the
// answer's X-Quarry-Warning (chatBody.ignoredMembers).

// chatRequest is the body of POST /v1/chat/completions.
type chatRequest struct {
	Model               string            `json:"model"`
	Messages            []json.RawMessage `json:"messages"`
	MaxTokens           *int              `json:"max_tokens"`
	MaxCompletionTokens *int              `json:"max_completion_tokens"`
	Temperature         *float64          `json:"temperature"`
	TopP                *float64          `json:"top_p"`
	Stop                json.RawMessage   `json:"stop"`
	N                   *int              `json:"n"`
	Stream              bool              `json:"stream"`
	StreamOptions       *struct {
		IncludeUsage bool `json:"include_usage"`
	} `json:"stream_options"`
	Tools             []json.RawMessage `json:"tools"`
	ToolChoice        json.RawMessage   `json:"tool_choice"`
	ParallelToolCalls *bool             `json:"parallel_tool_calls"`
	ResponseFormat    json.RawMessage   `json:"response_format"`
	ReasoningEffort   string            `json:"reasoning_effort"`
	User              string            `json:"user"`
	Metadata          json.RawMessage   `json:"metadata"`
	ServiceTier       string            `json:"service_tier"`
	// TopK is mapped per model family (shaping.go); raw to name errors.
	TopK json.RawMessage `json:"top_k"`
	// ReasoningConfig is the Vercel AI SDK's Bedrock reasoning option, sent
	// as a top-level member: {"type": "enabled", "budgetTokens": N} or
	// Nova's {"type": "enabled", "maxReasoningEffort": "low"}.
	ReasoningConfig json.RawMessage `json:"reasoningConfig"`

	// Bedrock extras, in Converse's own spelling.
	GuardrailConfig                   *bedrock.GuardrailConfig   `json:"guardrailConfig"`
	AdditionalModelRequestFields      json.RawMessage            `json:"additionalModelRequestFields"`
	AdditionalModelResponseFieldPaths []string                   `json:"additionalModelResponseFieldPaths"`
	PerformanceConfig                 *bedrock.PerformanceConfig `json:"performanceConfig"`
	BedrockServiceTier                *bedrock.ServiceTier       `json:"serviceTier"`

	// ignored lists the members set that Bedrock cannot honour (seed,
	// presence_penalty, ...), for the answer's warning.
	ignored string
}

// chatMessage is one element of messages. name is not declared: Bedrock has
// nowhere to put it.
type chatMessage struct {
	Role       string            `json:"role"`
	Content    json.RawMessage   `json:"content"`
	ToolCalls  []json.RawMessage `json:"tool_calls"`
	ToolCallID *string           `json:"tool_call_id"`
	// ThinkingBlocks are an assistant turn's signed reasoning, sent back
	// first in the turn (LiteLLM's spelling; translate.go).
	ThinkingBlocks []thinkingBlock `json:"thinking_blocks"`
	// Anthropic-style and Bedrock-style prompt-cache markers: a cachePoint
	// block follows the message's content.
	CacheControl *cacheControl            `json:"cache_control"`
	CachePoint   *bedrock.CachePointBlock `json:"cachePoint"`
}

// cacheControl is Anthropic's prompt-cache marker.
type cacheControl struct {
	Type string `json:"type"`
	TTL  string `json:"ttl"`
}

// contentPart is one element of an array content.
type contentPart struct {
	Type         string                   `json:"type"`
	Text         *string                  `json:"text"`
	ImageURL     *imageURL                `json:"image_url"`
	InputAudio   *inputAudio              `json:"input_audio"`
	File         *filePart                `json:"file"`
	VideoURL     *imageURL                `json:"video_url"` // {"url": ...}, media_modes.go
	AudioURL     *imageURL                `json:"audio_url"`
	Refusal      *string                  `json:"refusal"`
	CacheControl *cacheControl            `json:"cache_control"`
	CachePoint   *bedrock.CachePointBlock `json:"cachePoint"`
}

// imageURL is {"url": ..., "detail": ...}; a bare string is accepted too.
type imageURL struct {
	URL    string `json:"url"`
	Detail string `json:"detail"`
}

func (u *imageURL) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		return json.Unmarshal(b, &u.URL)
	}
	type plain imageURL
	return json.Unmarshal(b, (*plain)(u))
}

type inputAudio struct {
	Data   string `json:"data"`
	Format string `json:"format"`
}

type filePart struct {
	FileData string `json:"file_data"`
	FileID   string `json:"file_id"`
	Filename string `json:"filename"`
	// Citations, when set, turns citations on or off for this document
	// (the model's citations param otherwise).
	Citations *bedrock.CitationsConfig `json:"citations"`
}

// chatToolCall is an assistant message's tool call.
type chatToolCall struct {
	ID       string `json:"id"`
	Type     string `json:"type"`
	Function struct {
		Name      string          `json:"name"`
		Arguments json.RawMessage `json:"arguments"`
	} `json:"function"`
}

// chatTool is an element of tools.
type chatTool struct {
	Type     string `json:"type"`
	Function *struct {
		Name        string          `json:"name"`
		Description string          `json:"description"`
		Parameters  json.RawMessage `json:"parameters"`
		Strict      *bool           `json:"strict"`
	} `json:"function"`
	CachePoint *bedrock.CachePointBlock `json:"cachePoint"`
}

// chatCompletion is a non-streamed response.
type chatCompletion struct {
	ID      string       `json:"id"`
	Object  string       `json:"object"`
	Created int64        `json:"created"`
	Model   string       `json:"model"`
	Choices []chatChoice `json:"choices"`
	Usage   *chatUsage   `json:"usage,omitempty"`
	Bedrock *bedrockMeta `json:"bedrock,omitempty"`
}

type chatChoice struct {
	Index        int             `json:"index"`
	Message      responseMessage `json:"message"`
	FinishReason string          `json:"finish_reason"`
	Logprobs     *struct{}       `json:"logprobs"`
}

// responseMessage is the assistant's reply. Content is null when the reply
// is tool calls only, as OpenAI sends it.
type responseMessage struct {
	Role             string             `json:"role"`
	Content          *string            `json:"content"`
	Refusal          *string            `json:"refusal"`
	ToolCalls        []responseToolCall `json:"tool_calls,omitempty"`
	ReasoningContent string             `json:"reasoning_content,omitempty"`
	// Annotations are the citations of a cited answer (chat_citations.go).
	Annotations []annotation `json:"annotations,omitempty"`
}

type responseToolCall struct {
	ID       string       `json:"id"`
	Type     string       `json:"type"`
	Function toolFunction `json:"function"`
}

type toolFunction struct {
	Name      string `json:"name"`
	Arguments string `json:"arguments"`
}

// chatUsage counts tokens the OpenAI way: prompt_tokens includes the cached
// (read and written) prompt tokens, which Bedrock counts apart.
type chatUsage struct {
	PromptTokens        int `json:"prompt_tokens"`
	CompletionTokens    int `json:"completion_tokens"`
	TotalTokens         int `json:"total_tokens"`
	PromptTokensDetails struct {
		CachedTokens int `json:"cached_tokens"`
	} `json:"prompt_tokens_details"`
}

// bedrockMeta is the "bedrock" extension object: what Bedrock reported that
// OpenAI's shape has no place for (the AI SDK's providerMetadata.bedrock).
type bedrockMeta struct {
	Trace             *bedrock.ConverseTrace     `json:"trace,omitempty"`
	Usage             bedrockCacheUsage          `json:"usage"`
	StopSequence      *string                    `json:"stopSequence"`
	PerformanceConfig *bedrock.PerformanceConfig `json:"performanceConfig,omitempty"`
	ServiceTier       *bedrock.ServiceTier       `json:"serviceTier,omitempty"`
	RequestID         string                     `json:"requestId,omitempty"`
}

type bedrockCacheUsage struct {
	CacheReadInputTokens  int `json:"cacheReadInputTokens"`
	CacheWriteInputTokens int `json:"cacheWriteInputTokens"`
}

// chatChunk is one streamed chat.completion.chunk. Choices is never null:
// the usage chunk has an empty list, as OpenAI sends it.
type chatChunk struct {
	ID      string        `json:"id"`
	Object  string        `json:"object"`
	Created int64         `json:"created"`
	Model   string        `json:"model"`
	Choices []chunkChoice `json:"choices"`
	Usage   *chatUsage    `json:"usage,omitempty"`
	Bedrock *bedrockMeta  `json:"bedrock,omitempty"`
}

type chunkChoice struct {
	Index        int        `json:"index"`
	Delta        chunkDelta `json:"delta"`
	FinishReason *string    `json:"finish_reason"`
	Logprobs     *struct{}  `json:"logprobs"`
}

type chunkDelta struct {
	Role             string          `json:"role,omitempty"`
	Content          *string         `json:"content,omitempty"`
	ReasoningContent *string         `json:"reasoning_content,omitempty"`
	ToolCalls        []chunkToolCall `json:"tool_calls,omitempty"`
	Annotations      []annotation    `json:"annotations,omitempty"`
}

type chunkToolCall struct {
	Index    int               `json:"index"`
	ID       string            `json:"id,omitempty"`
	Type     string            `json:"type,omitempty"`
	Function chunkToolFunction `json:"function"`
}

type chunkToolFunction struct {
	Name      string `json:"name,omitempty"`
	Arguments string `json:"arguments"`
}

// streamError is the body of the SSE event that reports an upstream failure
// after the stream has started.
type streamError struct {
	Error struct {
		Message string `json:"message"`
		Type    string `json:"type"`
		Code    string `json:"code,omitempty"`
	} `json:"error"`
}
