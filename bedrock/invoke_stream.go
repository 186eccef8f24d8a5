package bedrock

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"sync/atomic"
	"time"
)

// InvocationMetrics is the "amazon-bedrock-invocationMetrics" member Bedrock
// adds to the last chunk of an InvokeModelWithResponseStream.
type InvocationMetrics struct {
	InputTokenCount           int
	OutputTokenCount          int
	InvocationLatency         time.Duration
	FirstByteLatency          time.Duration
	CacheReadInputTokenCount  int // Nova and Claude only
	CacheWriteInputTokenCount int // Nova and Claude only
}

// invocationMetricsJSON is the wire form: latencies in milliseconds.
type invocationMetricsJSON struct {
	InputTokenCount           int   `json:"inputTokenCount"`
	OutputTokenCount          int   `json:"outputTokenCount"`
	InvocationLatency         int64 `json:"invocationLatency"`
	FirstByteLatency          int64 `json:"firstByteLatency"`
	CacheReadInputTokenCount  *int  `json:"cacheReadInputTokenCount,omitempty"`
	CacheWriteInputTokenCount *int  `json:"cacheWriteInputTokenCount,omitempty"`
}

func (m *InvocationMetrics) UnmarshalJSON(b []byte) error {
	var w invocationMetricsJSON
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	*m = InvocationMetrics{
		InputTokenCount:   w.InputTokenCount,
		OutputTokenCount:  w.OutputTokenCount,
		InvocationLatency: time.Duration(w.InvocationLatency) * time.Millisecond,
		FirstByteLatency:  time.Duration(w.FirstByteLatency) * time.Millisecond,
	}
	if w.CacheReadInputTokenCount != nil {
		m.CacheReadInputTokenCount = *w.CacheReadInputTokenCount
	}
	if w.CacheWriteInputTokenCount != nil {
		m.CacheWriteInputTokenCount = *w.CacheWriteInputTokenCount
	}
	return nil
}

func (m InvocationMetrics) MarshalJSON() ([]byte, error) {
	w := invocationMetricsJSON{
		InputTokenCount:   m.InputTokenCount,
		OutputTokenCount:  m.OutputTokenCount,
		InvocationLatency: m.InvocationLatency.Milliseconds(),
		FirstByteLatency:  m.FirstByteLatency.Milliseconds(),
	}
	if m.CacheReadInputTokenCount != 0 || m.CacheWriteInputTokenCount != 0 {
		w.CacheReadInputTokenCount = &m.CacheReadInputTokenCount
		w.CacheWriteInputTokenCount = &m.CacheWriteInputTokenCount
	}
	return json.Marshal(w)
}

// InvokeStream iterates over the chunks of an InvokeModelWithResponseStream
// response:
//
//	s, err := c.InvokeModelWithResponseStream(ctx, id, in)
//	if err != nil { ... }
//	defer s.Close()
//	for s.Next() {
//		ev, err := bedrock.DecodeAnthropicStreamEvent(s.Current())
//		...
//	}
//	if err := s.Err(); err != nil { ... }
//
// Next and Current must be called from one goroutine; Close may be called
// from any goroutine and makes a blocked Next return false at once.
type InvokeStream struct {
	ctx         context.Context
	r           *eventReader
	contentType string
	meta        ResponseMetadata
	cur         []byte
	err         error
	metrics     *InvocationMetrics
	done        bool
	closed      atomic.Bool
}

// InvokeModelWithResponseStream is InvokeModel with the response streamed
// as model-native chunks. in.Accept travels as X-Amzn-Bedrock-Accept.
// An HTTP error (bad model, throttling before the stream starts) is
// returned here; exceptions inside the stream come out of Err.
func (c *Client) InvokeModelWithResponseStream(ctx context.Context, modelID string, in *InvokeModelInput, opts ...CallOption) (*InvokeStream, error) {
	const op = "InvokeModelWithResponseStream"
	if err := checkModelCall(op, modelID, in == nil); err != nil {
		return nil, err
	}
	h, err := in.header(true)
	if err != nil {
		return nil, &OpError{op, err}
	}
	resp, err := c.send(ctx, &call{opts: callOptionsOf(opts), op: op, modelID: modelID, action: "invoke-with-response-stream", body: in.Body, stream: true, header: h})
	if err != nil {
		return nil, err
	}
	md := metadataOf(resp)
	return &InvokeStream{
		ctx:         ctx,
		r:           newEventReader(resp.Body, md.RequestID),
		contentType: resp.Header.Get("X-Amzn-Bedrock-Content-Type"),
		meta:        md,
	}, nil
}

// Next advances to the next chunk. It returns false at the end of the
// stream, on an error (see Err) and after Close.
func (s *InvokeStream) Next() bool {
	s.cur = nil
	if s.done || s.closed.Load() {
		return false
	}
	for {
		// Wait here, not under next (see await).
		if err := s.r.await(); err != nil {
			s.finish(err)
			return false
		}
		et, payload, err := s.r.next()
		if err != nil {
			s.finish(err)
			return false
		}
		if et != "chunk" {
			// Unknown event types are skipped, as the SDKs do, so that a new
			// event never breaks an old client.
			continue
		}
		var ch struct {
			Bytes []byte `json:"bytes"`
		}
		if err := json.Unmarshal(payload, &ch); err != nil {
			s.finish(fmt.Errorf("decoding chunk (request id %s): %w", s.meta.RequestID, err))
			return false
		}
		if bytes.Contains(ch.Bytes, []byte(`"amazon-bedrock-invocationMetrics"`)) {
			var m struct {
				M *InvocationMetrics `json:"amazon-bedrock-invocationMetrics"`
			}
			if json.Unmarshal(ch.Bytes, &m) == nil && m.M != nil {
				s.metrics = m.M
			}
		}
		s.cur = ch.Bytes
		return true
	}
}

// finish ends the iteration with err and releases the connection (and the
// limiter slot) at once, so a stream read to its end holds nothing even if
// the caller never calls Close.
func (s *InvokeStream) finish(err error) {
	s.done = true
	if s.closed.Load() {
		err = nil
	}
	s.err = streamEndError(s.ctx, "InvokeModelWithResponseStream", err)
	s.r.close()
}

// decodeChunk decodes a model-native chunk (InvokeStream.Current) into a new
// T; what names the chunk in the error. The Decode*Stream* functions of the
// families are this for their types.
func decodeChunk[T any](chunk []byte, what string) (*T, error) {
	v := new(T)
	if err := json.Unmarshal(chunk, v); err != nil {
		return nil, fmt.Errorf("decoding %s: %w", what, err)
	}
	return v, nil
}

// Current is the model-native JSON of the current chunk (the base64 "bytes"
// of the chunk event, decoded). The slice is the caller's to keep.
func (s *InvokeStream) Current() []byte { return s.cur }

// Err is the error that ended the stream, nil at a clean end or after
// Close: a *Error with InStream set for an exception inside the stream
// (match with errors.Is(err, ErrModelTimeout) and the like), the context's
// error if it was cancelled, else an *OpError (a stream cut inside a frame
// wraps io.ErrUnexpectedEOF).
func (s *InvokeStream) Err() error { return s.err }

// Close releases the connection. It is idempotent and safe to call at any
// time, also before the stream is consumed.
func (s *InvokeStream) Close() error {
	s.closed.Store(true)
	return s.r.close()
}

// ContentType is the type of the chunks (X-Amzn-Bedrock-Content-Type),
// normally application/json.
func (s *InvokeStream) ContentType() string { return s.contentType }

// RequestID is Bedrock's x-amzn-RequestId of the call.
func (s *InvokeStream) RequestID() string { return s.meta.RequestID }

// ResponseMetadata is the request ID and the HTTP header of the response.
func (s *InvokeStream) ResponseMetadata() ResponseMetadata { return s.meta }

// InvocationMetrics are the token counts and latencies Bedrock appends to
// the last chunk; nil until that chunk has been read (normally: until Next
// has returned false).
func (s *InvokeStream) InvocationMetrics() *InvocationMetrics { return s.metrics }
