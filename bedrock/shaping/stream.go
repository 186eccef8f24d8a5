package shaping

import (
	"context"

	"github.com/quarry-dev/quarry/bedrock"
)

// Stream sends req to modelID and returns the answer as a stream. With
// o.NoStreaming it calls Converse and returns bedrock.StreamFromResponse of
// the answer, so that a streaming consumer is served by a model (or
// deployment) that must not be streamed; the guardrail's
// StreamProcessingMode, which only ConverseStream accepts, is then left out
// (req itself is not modified). Otherwise, and with a nil o, it calls
// ConverseStream. Stream neither applies o's defaults (see Apply) nor
// checks the finish reason (see CheckFinish, on the messageStop event).
// opts apply to the call made.
func Stream(ctx context.Context, c *bedrock.Client, modelID string, req *bedrock.ConverseRequest, o *Options, opts ...bedrock.CallOption) (*bedrock.ConverseStream, error) {
	if o == nil || !o.NoStreaming {
		return c.ConverseStream(ctx, modelID, req, opts...)
	}
	if req != nil && req.GuardrailConfig != nil && req.GuardrailConfig.StreamProcessingMode != "" {
		r, g := *req, *req.GuardrailConfig
		g.StreamProcessingMode = ""
		r.GuardrailConfig = &g
		req = &r
	}
	resp, err := c.Converse(ctx, modelID, req, opts...)
	if err != nil {
		return nil, err
	}
	return bedrock.StreamFromResponse(resp), nil
}
