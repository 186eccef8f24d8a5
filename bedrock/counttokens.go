package bedrock

import (
	"context"
	"errors"
)

// CountTokensRequest says what to count: set exactly one of Converse (a
// Converse-shaped conversation) or InvokeModel (a model-native body).
type CountTokensRequest struct {
	Converse    *ConverseTokensRequest
	InvokeModel *InvokeModelTokensRequest
}

// ConverseTokensRequest is the part of a ConverseRequest that costs input
// tokens.
type ConverseTokensRequest struct {
	Messages                     []Message            `json:"messages,omitempty"`
	System                       []SystemContentBlock `json:"system,omitempty"`
	ToolConfig                   *ToolConfig          `json:"toolConfig,omitempty"`
	AdditionalModelRequestFields map[string]any       `json:"additionalModelRequestFields,omitempty"`
}

// InvokeModelTokensRequest is a model-native request body (it travels
// base64-encoded).
type InvokeModelTokensRequest struct {
	Body []byte `json:"body"`
}

// ConverseTokens is the CountTokens request for a Converse request, so that
// a caller can count exactly what it is about to send.
func ConverseTokens(r *ConverseRequest) *CountTokensRequest {
	return &CountTokensRequest{Converse: &ConverseTokensRequest{
		Messages: r.Messages, System: r.System, ToolConfig: r.ToolConfig,
		AdditionalModelRequestFields: r.AdditionalModelRequestFields,
	}}
}

// CountTokensResponse is the number of input tokens the request would use.
type CountTokensResponse struct {
	InputTokens int `json:"inputTokens"`

	ResponseMetadata `json:"-"`
}

// countTokensBody is the wire form: {"input":{"converse":{...}}} or
// {"input":{"invokeModel":{"body":"<base64>"}}}.
type countTokensBody struct {
	Input struct {
		Converse    *ConverseTokensRequest    `json:"converse,omitempty"`
		InvokeModel *InvokeModelTokensRequest `json:"invokeModel,omitempty"`
	} `json:"input"`
}

// CountTokens counts the input tokens of a request without running the
// model (no charge). modelID is a foundation-model ID; the service supports
// it for a subset of models (Anthropic Claude) and regions and answers
// ValidationException for the others.
func (c *Client) CountTokens(ctx context.Context, modelID string, req *CountTokensRequest, opts ...CallOption) (*CountTokensResponse, error) {
	const op = "CountTokens"
	if err := checkModelCall(op, modelID, req == nil); err != nil {
		return nil, err
	}
	if (req.Converse == nil) == (req.InvokeModel == nil) {
		return nil, &OpError{op, errors.New("set exactly one of Converse and InvokeModel")}
	}
	var body countTokensBody
	body.Input.Converse, body.Input.InvokeModel = req.Converse, req.InvokeModel
	out := new(CountTokensResponse)
	md, err := c.doJSON(ctx, &call{opts: callOptionsOf(opts), op: op, modelID: modelID, action: "count-tokens"}, &body, out)
	if err != nil {
		return nil, err
	}
	out.ResponseMetadata = md
	return out, nil
}
