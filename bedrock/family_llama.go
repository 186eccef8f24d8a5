package bedrock

import (
	"context"
)

// LlamaRequest is the native Meta Llama body (meta.llama*). Prompt is the
// fully formatted prompt, chat template included: Bedrock applies none.
type LlamaRequest struct {
	Prompt      string   `json:"prompt"`
	MaxGenLen   int      `json:"max_gen_len,omitempty"`
	Temperature *float64 `json:"temperature,omitempty"`
	TopP        *float64 `json:"top_p,omitempty"`
	// Images are base64 images for the Llama 3.2 vision models.
	Images []string `json:"images,omitempty"`
}

// LlamaResponse is the native Llama response body, and the shape of each
// stream chunk (Generation then holds the fragment, StopReason is null
// until the last chunk).
type LlamaResponse struct {
	Generation           string  `json:"generation"`
	PromptTokenCount     *int    `json:"prompt_token_count"`
	GenerationTokenCount int     `json:"generation_token_count"`
	StopReason           *string `json:"stop_reason"` // "stop" or "length"

	// InvocationMetrics is set on the last chunk of a stream.
	InvocationMetrics *InvocationMetrics `json:"amazon-bedrock-invocationMetrics,omitempty"`

	InvokeMetadata `json:"-"`
}

func (r *LlamaResponse) setMetadata(m InvokeMetadata) { r.InvokeMetadata = m }

// InvokeLlama calls a Llama model with its native body.
func (c *Client) InvokeLlama(ctx context.Context, modelID string, req *LlamaRequest, opts ...CallOption) (*LlamaResponse, error) {
	return invokeJSON[LlamaRequest, LlamaResponse](ctx, c, modelID, req, opts...)
}

// DecodeLlamaStreamChunk decodes one chunk of InvokeStream.Current.
func DecodeLlamaStreamChunk(chunk []byte) (*LlamaResponse, error) {
	return decodeChunk[LlamaResponse](chunk, "llama stream chunk")
}
