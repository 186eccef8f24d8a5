package bedrock

import (
	"context"
	"strings"
)

// MistralRequest is the native Mistral text-completion body
// (mistral.mistral-7b-instruct, mixtral-8x7b, mistral-large-2402, -small).
// Prompt carries the instruction template ("<s>[INST] ... [/INST]").
// Mistral Large 2407 and Pixtral take a chat body instead; use Converse for
// them.
type MistralRequest struct {
	Prompt      string   `json:"prompt"`
	MaxTokens   int      `json:"max_tokens,omitempty"`
	Temperature *float64 `json:"temperature,omitempty"`
	TopP        *float64 `json:"top_p,omitempty"`
	TopK        *int     `json:"top_k,omitempty"`
	Stop        []string `json:"stop,omitempty"`
}

// MistralResponse is the native Mistral response body, and the shape of
// each stream chunk.
type MistralResponse struct {
	Outputs []MistralOutput `json:"outputs"`

	// InvocationMetrics is set on the last chunk of a stream.
	InvocationMetrics *InvocationMetrics `json:"amazon-bedrock-invocationMetrics,omitempty"`

	InvokeMetadata `json:"-"`
}

// MistralOutput is one generation; StopReason is "stop" or "length" (null
// in stream chunks before the last).
type MistralOutput struct {
	Text       string  `json:"text"`
	StopReason *string `json:"stop_reason"`
}

func (r *MistralResponse) setMetadata(m InvokeMetadata) { r.InvokeMetadata = m }

// Text is the concatenated text of the outputs.
func (r *MistralResponse) Text() string {
	var b strings.Builder
	for _, o := range r.Outputs {
		b.WriteString(o.Text)
	}
	return b.String()
}

// InvokeMistral calls a Mistral text-completion model with its native body.
func (c *Client) InvokeMistral(ctx context.Context, modelID string, req *MistralRequest, opts ...CallOption) (*MistralResponse, error) {
	return invokeJSON[MistralRequest, MistralResponse](ctx, c, modelID, req, opts...)
}

// DecodeMistralStreamChunk decodes one chunk of InvokeStream.Current.
func DecodeMistralStreamChunk(chunk []byte) (*MistralResponse, error) {
	return decodeChunk[MistralResponse](chunk, "mistral stream chunk")
}
