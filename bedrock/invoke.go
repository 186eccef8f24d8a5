package bedrock

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"strconv"
	"time"
)

// Values of InvokeModelInput.Trace.
const (
	TraceEnabled     = "ENABLED"
	TraceDisabled    = "DISABLED"
	TraceEnabledFull = "ENABLED_FULL"
)

// Values of InvokeModelInput.PerformanceConfigLatency.
const (
	LatencyStandard  = "standard"
	LatencyOptimized = "optimized"
)

// maxRequestMetadata is the service's limit on the X-Amzn-Bedrock-Request-Metadata
// header value (service model, InvokeModel requestMetadata).
const maxRequestMetadata = 8500

// InvokeModelInput is one InvokeModel or InvokeModelWithResponseStream call:
// the model's native request body plus the optional Bedrock headers. Empty
// fields send no header.
type InvokeModelInput struct {
	// Body is the model-native request JSON (see the family types, e.g.
	// AnthropicRequest, NovaRequest). It is sent as is.
	Body []byte
	// ContentType of Body. Empty: application/json (the only type the
	// service documents, and required when a guardrail is applied).
	ContentType string
	// Accept is the wanted response type. Empty: application/json. For the
	// streaming call it travels as X-Amzn-Bedrock-Accept.
	Accept string

	// Trace is X-Amzn-Bedrock-Trace: TraceEnabled, TraceDisabled or
	// TraceEnabledFull (guardrail trace in the response body).
	Trace string
	// GuardrailIdentifier (ID or ARN) and GuardrailVersion (number or
	// "DRAFT") apply a guardrail; both or neither.
	GuardrailIdentifier string
	GuardrailVersion    string
	// PerformanceConfigLatency is LatencyStandard or LatencyOptimized.
	PerformanceConfigLatency string
	// ServiceTier is X-Amzn-Bedrock-Service-Tier, e.g. "priority", "default",
	// "flex" (left unchecked so that new tiers need no new release).
	ServiceTier string
	// RequestMetadata tags the invocation in model-invocation logs; sent as a
	// JSON object in X-Amzn-Bedrock-Request-Metadata (at most 8500 bytes).
	RequestMetadata map[string]string
}

// InvokeMetadata is what an InvokeModel response says about the call outside
// its body.
type InvokeMetadata struct {
	// PerformanceConfigLatency and ServiceTier echo what the service used.
	PerformanceConfigLatency string
	ServiceTier              string

	// Token counts and latency from the X-Amzn-Bedrock-* response headers.
	// These headers are not in the service model, so they are best effort:
	// a missing or malformed header reads as 0.
	InputTokenCount           int
	OutputTokenCount          int
	InvocationLatency         time.Duration
	CacheReadInputTokenCount  int
	CacheWriteInputTokenCount int

	ResponseMetadata
}

// InvokeModelOutput is the result of InvokeModel.
type InvokeModelOutput struct {
	// Body is the model-native response JSON; decode it with the family
	// types (AnthropicResponse, NovaResponse, ...).
	Body []byte
	// ContentType of Body, normally application/json.
	ContentType string
	InvokeMetadata
}

// InvokeModel sends a model-native request body to the model and returns its
// native response body. modelID is a model ID, a cross-region inference
// profile ID or an ARN.
func (c *Client) InvokeModel(ctx context.Context, modelID string, in *InvokeModelInput, opts ...CallOption) (*InvokeModelOutput, error) {
	const op = "InvokeModel"
	if err := checkModelCall(op, modelID, in == nil); err != nil {
		return nil, err
	}
	h, err := in.header(false)
	if err != nil {
		return nil, &OpError{op, err}
	}
	resp, err := c.send(ctx, &call{opts: callOptionsOf(opts), op: op, modelID: modelID, action: "invoke", body: in.Body, header: h})
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	out := &InvokeModelOutput{ContentType: resp.Header.Get("Content-Type"), InvokeMetadata: invokeMetadataOf(resp)}
	if out.Body, err = readBody(resp); err != nil {
		return nil, &OpError{op, fmt.Errorf("reading response (request id %s): %w", out.RequestID, err)}
	}
	return out, nil
}

// header builds the request headers; stream selects the accept header name
// of InvokeModelWithResponseStream.
func (in *InvokeModelInput) header(stream bool) (http.Header, error) {
	if (in.GuardrailIdentifier == "") != (in.GuardrailVersion == "") {
		return nil, errors.New("GuardrailIdentifier and GuardrailVersion must be set together")
	}
	h := make(http.Header, 8)
	h.Set("Content-Type", cmp.Or(in.ContentType, "application/json"))
	accept := cmp.Or(in.Accept, "application/json")
	if stream {
		h.Set("X-Amzn-Bedrock-Accept", accept)
	} else {
		h.Set("Accept", accept)
	}
	setIf(h, "X-Amzn-Bedrock-Trace", in.Trace)
	setIf(h, "X-Amzn-Bedrock-GuardrailIdentifier", in.GuardrailIdentifier)
	setIf(h, "X-Amzn-Bedrock-GuardrailVersion", in.GuardrailVersion)
	setIf(h, "X-Amzn-Bedrock-PerformanceConfig-Latency", in.PerformanceConfigLatency)
	setIf(h, "X-Amzn-Bedrock-Service-Tier", in.ServiceTier)
	if len(in.RequestMetadata) > 0 {
		b, err := json.Marshal(in.RequestMetadata)
		if err != nil {
			return nil, fmt.Errorf("encoding RequestMetadata: %w", err)
		}
		if len(b) > maxRequestMetadata {
			return nil, fmt.Errorf("RequestMetadata is %d bytes as JSON; the limit is %d", len(b), maxRequestMetadata)
		}
		h.Set("X-Amzn-Bedrock-Request-Metadata", string(b))
	}
	return h, nil
}

func invokeMetadataOf(resp *http.Response) InvokeMetadata {
	h := resp.Header
	return InvokeMetadata{
		PerformanceConfigLatency:  h.Get("X-Amzn-Bedrock-PerformanceConfig-Latency"),
		ServiceTier:               h.Get("X-Amzn-Bedrock-Service-Tier"),
		InputTokenCount:           headerInt(h, "X-Amzn-Bedrock-Input-Token-Count"),
		OutputTokenCount:          headerInt(h, "X-Amzn-Bedrock-Output-Token-Count"),
		InvocationLatency:         time.Duration(headerInt(h, "X-Amzn-Bedrock-Invocation-Latency")) * time.Millisecond,
		CacheReadInputTokenCount:  headerInt(h, "X-Amzn-Bedrock-Cache-Read-Input-Token-Count"),
		CacheWriteInputTokenCount: headerInt(h, "X-Amzn-Bedrock-Cache-Write-Input-Token-Count"),
		ResponseMetadata:          metadataOf(resp),
	}
}

// headerInt reads a non-negative integer header; anything else is 0, since
// these unmodeled headers must never fail a call that succeeded.
func headerInt(h http.Header, name string) int {
	n, err := strconv.Atoi(h.Get(name))
	if err != nil || n < 0 {
		return 0
	}
	return n
}

func setIf(h http.Header, name, value string) {
	if value != "" {
		h.Set(name, value)
	}
}

// InvokeJSON encodes req as the body of an InvokeModel call and decodes the
// response body into a new Resp. headers, if not nil, supplies the headers
// (its Body is ignored). It is the generic form behind the typed calls
// (InvokeAnthropic, EmbedTitan, GenerateImage, ...) for bodies this package
// has no type for.
func InvokeJSON[Resp any](ctx context.Context, c *Client, modelID string, req any, headers *InvokeModelInput, opts ...CallOption) (*Resp, *InvokeModelOutput, error) {
	const op = "InvokeModel"
	if err := checkModelCall(op, modelID, isNilRequest(req)); err != nil {
		return nil, nil, err
	}
	body, err := json.Marshal(req)
	if err != nil {
		return nil, nil, &OpError{op, fmt.Errorf("encoding request: %w", err)}
	}
	in := InvokeModelInput{}
	if headers != nil {
		in = *headers
	}
	in.Body = body
	out, err := c.InvokeModel(ctx, modelID, &in, opts...)
	if err != nil {
		return nil, nil, err
	}
	resp := new(Resp)
	if err := json.Unmarshal(out.Body, resp); err != nil {
		return nil, out, &OpError{op, fmt.Errorf("decoding response (request id %s): %w", out.RequestID, err)}
	}
	return resp, out, nil
}

// isNilRequest reports whether req is nil, including a typed nil pointer,
// map or slice held in the interface (which json.Marshal would send as
// the body null).
func isNilRequest(req any) bool {
	if req == nil {
		return true
	}
	switch v := reflect.ValueOf(req); v.Kind() {
	case reflect.Pointer, reflect.Map, reflect.Slice, reflect.Interface:
		return v.IsNil()
	}
	return false
}

// invokeJSON is InvokeJSON for the typed calls: it hands the response
// headers to the response's Metadata field.
func invokeJSON[Req any, Resp any, PR interface {
	*Resp
	setMetadata(InvokeMetadata)
}](ctx context.Context, c *Client, modelID string, req *Req, opts ...CallOption) (*Resp, error) {
	resp, out, err := InvokeJSON[Resp](ctx, c, modelID, req, nil, opts...)
	if err != nil {
		return nil, err
	}
	PR(resp).setMetadata(out.InvokeMetadata)
	return resp, nil
}
