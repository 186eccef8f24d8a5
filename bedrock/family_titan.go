package bedrock

import (
	"context"
	"strings"
)

// TitanTextRequest is the native Amazon Titan Text body
// (amazon.titan-text-lite/express/premier).
type TitanTextRequest struct {
	InputText            string               `json:"inputText"`
	TextGenerationConfig *TitanTextGeneration `json:"textGenerationConfig,omitempty"`
}

// TitanTextGeneration holds Titan's inference parameters; optional numbers
// are pointers so that 0 can be sent.
type TitanTextGeneration struct {
	MaxTokenCount int      `json:"maxTokenCount,omitempty"`
	Temperature   *float64 `json:"temperature,omitempty"`
	TopP          *float64 `json:"topP,omitempty"`
	StopSequences []string `json:"stopSequences,omitempty"`
}

// TitanTextResponse is the native Titan Text response body.
type TitanTextResponse struct {
	InputTextTokenCount int               `json:"inputTextTokenCount"`
	Results             []TitanTextResult `json:"results"`

	InvokeMetadata `json:"-"`
}

// TitanTextResult is one generation. CompletionReason is FINISH, LENGTH,
// STOP_CRITERIA_MET, RAG_QUERY_WHEN_RAG_DISABLED or CONTENT_FILTERED.
type TitanTextResult struct {
	TokenCount       int    `json:"tokenCount"`
	OutputText       string `json:"outputText"`
	CompletionReason string `json:"completionReason"`
}

func (r *TitanTextResponse) setMetadata(m InvokeMetadata) { r.InvokeMetadata = m }

// Text is the concatenated output of the results.
func (r *TitanTextResponse) Text() string {
	var b strings.Builder
	for _, x := range r.Results {
		b.WriteString(x.OutputText)
	}
	return b.String()
}

// InvokeTitanText calls a Titan Text model with its native body.
func (c *Client) InvokeTitanText(ctx context.Context, modelID string, req *TitanTextRequest, opts ...CallOption) (*TitanTextResponse, error) {
	return invokeJSON[TitanTextRequest, TitanTextResponse](ctx, c, modelID, req, opts...)
}

// TitanTextStreamChunk is one chunk of a Titan Text stream. Titan sends
// the counts with every chunk; the last one has CompletionReason and
// InvocationMetrics.
type TitanTextStreamChunk struct {
	OutputText                string             `json:"outputText"`
	Index                     int                `json:"index"`
	TotalOutputTextTokenCount int                `json:"totalOutputTextTokenCount"`
	CompletionReason          *string            `json:"completionReason"`
	InputTextTokenCount       int                `json:"inputTextTokenCount"`
	InvocationMetrics         *InvocationMetrics `json:"amazon-bedrock-invocationMetrics,omitempty"`
}

// DecodeTitanTextStreamChunk decodes one chunk of InvokeStream.Current.
func DecodeTitanTextStreamChunk(chunk []byte) (*TitanTextStreamChunk, error) {
	return decodeChunk[TitanTextStreamChunk](chunk, "titan stream chunk")
}
