package openai

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/quarry-dev/quarry/bedrock"
	"github.com/quarry-dev/quarry/internal/accesslog"
	"github.com/quarry-dev/quarry/internal/config"
	"github.com/quarry-dev/quarry/internal/upstream"
)

// This file is the chat surface's API for the other OpenAI-family surfaces
// (internal/responses): they turn their requests into chat request members
// and reuse the whole chat translation (models, defaults, media under the
// fetch rules, tools, response formats, reasoning per family, guardrails,
// shaping) and the error format, instead of copying them.

// Error is an OpenAI error: Status, Type, Param (the field), Code, Msg.
type Error = apiError

// Invalid is a 400 naming the field.
func Invalid(param, format string, args ...any) *Error { return invalid(param, format, args...) }

// WriteError writes e in OpenAI's error format.
func WriteError(w http.ResponseWriter, r *http.Request, e *Error) { writeAPIError(w, r, e) }

// WriteFailure answers a failed Bedrock call with the status
// upstream.Classify gives it.
func WriteFailure(w http.ResponseWriter, r *http.Request, err error) { writeFailure(w, r, err) }

// FailureType is OpenAI's error type for an upstream failure kind.
func FailureType(kind upstream.FailureKind) string { return failureType[kind] }

// ReadBody reads a request body that must not be empty (413 over the
// gateway's limit).
func ReadBody(r *http.Request) ([]byte, *Error) { return readBody(r) }

// UnmarshalBody decodes a body into dst with errors naming the field.
func UnmarshalBody(data []byte, dst any) *Error { return unmarshalBody(data, dst) }

// RecordUsage adds Bedrock's token usage to the access log entry.
func RecordUsage(e *accesslog.Entry, u bedrock.TokenUsage) { recordUsage(e, u) }

// Timeouts are the handler's upstream timeout (a Converse call, or the wait
// for a stream's first event) and limiter queue timeout.
func (h *Handler) Timeouts() (upstreamTimeout, queueTimeout time.Duration) {
	return h.opts.UpstreamTimeout, h.opts.QueueTimeout
}

// ChatModel resolves a served chat model by name (404 naming it).
func (h *Handler) ChatModel(name string) (*upstream.Model, *Error) { return h.chatModelNamed(name) }

// Translation is a chat request translated for Bedrock, with what the
// answer's translation needs to know.
type Translation struct {
	Model   *upstream.Model
	Request *bedrock.ConverseRequest
	// JSONTool names the forced tool standing in for a JSON response
	// format: its input is the answer text.
	JSONTool string
	// FirstToolOnly: parallel tool calls are off; only the first call of a
	// turn is returned.
	FirstToolOnly bool
	shaping       *config.Shaping
}

// Translate resolves members["model"] and translates the chat request
// members (a /v1/chat/completions body) with the model's defaults. The
// returned Translation names the model once resolved, even with an error.
func (h *Handler) Translate(ctx context.Context, members map[string]json.RawMessage) (*Translation, *Error) {
	// One decoder for every chat request: the members go through the same
	// path as a /v1/chat/completions body (RawMessage values are copied
	// as they are, so this costs one pass over bytes already built).
	body, err := json.Marshal(members)
	if err != nil {
		return nil, invalid("", "The request could not be translated: %v", err)
	}
	req, s, aerr := h.decodeChat(ctx, body)
	if s == nil {
		return nil, aerr
	}
	t := &Translation{Model: s.model, shaping: s.chat.Shaping}
	if aerr != nil {
		return t, aerr
	}
	creq, plan, aerr := convertChatRequest(ctx, req, &s.chat, h.fetch)
	if aerr != nil {
		return t, aerr
	}
	t.Request, t.JSONTool, t.FirstToolOnly = creq, plan.JSONTool, plan.FirstToolOnly
	return t, nil
}

// NoStreaming reports the model's supports_streaming: false: a stream is
// answered from Converse.
func (t *Translation) NoStreaming() bool { return t.shaping != nil && t.shaping.NoStreaming }

// FinishAllowed reports whether the model's configuration lets an answer
// with Bedrock's stopReason through.
func (t *Translation) FinishAllowed(stopReason string) bool {
	return finishAllowed(t.shaping, stopReason)
}

// FinishError is the 422 for a refused finish reason.
func (t *Translation) FinishError(stopReason string) *Error {
	return finishReasonError(t.Model.Name, t.shaping, stopReason)
}

// thinkingBlock is an element of an assistant message's thinking_blocks:
// {"type": "thinking", "thinking": ..., "signature": ...} or
// {"type": "redacted_thinking", "data": <base64>}.
type thinkingBlock struct {
	Type      string `json:"type"`
	Thinking  string `json:"thinking"`
	Signature string `json:"signature"`
	Data      []byte `json:"data"`
}

// thinkingContent is the reasoning blocks of thinking_blocks, unchanged
// (Claude checks the signature against the text).
func thinkingContent(tbs []thinkingBlock) []bedrock.ContentBlock {
	out := make([]bedrock.ContentBlock, 0, len(tbs))
	for _, tb := range tbs {
		switch {
		case tb.Type == "redacted_thinking" && len(tb.Data) > 0:
			out = append(out, bedrock.ContentBlock{ReasoningContent: &bedrock.ReasoningContentBlock{RedactedContent: tb.Data}})
		case tb.Thinking != "" || tb.Signature != "":
			out = append(out, bedrock.ContentBlock{ReasoningContent: &bedrock.ReasoningContentBlock{
				ReasoningText: &bedrock.ReasoningTextBlock{Text: tb.Thinking, Signature: tb.Signature}}})
		}
	}
	return out
}

// signedToolTurn reports whether the last assistant turn begins with its
// signed reasoning: then Claude's thinking can stay on mid tool loop.
func (c *chatConverter) signedToolTurn() bool {
	for i := len(c.out.Messages) - 1; i >= 0; i-- {
		if m := c.out.Messages[i]; m.Role == bedrock.RoleAssistant {
			return len(m.Content) > 0 && m.Content[0].ReasoningContent != nil
		}
	}
	return false
}

// Stream is a ConverseStream whose waits are bounded: for the first event
// by server.upstream_timeout, then between two events by
// server.stream_idle_timeout (a stall cancels the call).
type Stream struct {
	*bedrock.ConverseStream
	timer *upstream.StreamTimer
}

// Next advances the stream, restarting the idle bound on each event.
func (s *Stream) Next() bool {
	if !s.ConverseStream.Next() {
		return false
	}
	s.timer.Event()
	return true
}

// Err is the stream's error; a stall the timer cut is a timeout (504).
func (s *Stream) Err() error {
	err := s.ConverseStream.Err()
	if err == nil && s.timer.Stop() {
		// The timer closed a stalled stream, which ended Next without an
		// error of its own.
		err = context.Canceled
	}
	if err != nil {
		err = s.timer.Err(err)
	}
	return err
}

// StartStream calls ConverseStream and waits for Bedrock's first event (see
// startStream).
func (h *Handler) StartStream(ctx context.Context, w http.ResponseWriter, r *http.Request, m *upstream.Model,
	req *bedrock.ConverseRequest) (s *Stream, stop func(), ok bool) {
	return h.startStream(ctx, w, r, m, req)
}

// OpenStream is StartStream returning, unwritten, a failure before the
// first event (for a fallback model to take).
func (h *Handler) OpenStream(ctx context.Context, w http.ResponseWriter, r *http.Request, m *upstream.Model,
	req *bedrock.ConverseRequest) (s *Stream, stop func(), err error) {
	return h.openStream(ctx, w, r, m, req)
}

// startStream calls ConverseStream and waits for the first event. Until
// then a failure is an ordinary error with its status, answered here (ok
// false). See openStream.
func (h *Handler) startStream(ctx context.Context, w http.ResponseWriter, r *http.Request, m *upstream.Model,
	creq *bedrock.ConverseRequest) (s *Stream, stop func(), ok bool) {
	s, stop, err := h.openStream(ctx, w, r, m, creq)
	if err != nil {
		writeFailure(w, r, err)
		return nil, nil, false
	}
	return s, stop, true
}

// openStream calls ConverseStream and waits for the first event. Until
// then a failure is returned, unwritten, as an ordinary error with its
// status (a timeout for the timer's). Otherwise the first event is current and x-amzn-requestid is set;
// stop ends the call and frees the connection, and the stream also closes
// as soon as ctx is done (the client is gone), even while Next is blocked
// reading from Bedrock.
func (h *Handler) openStream(ctx context.Context, w http.ResponseWriter, r *http.Request, m *upstream.Model,
	creq *bedrock.ConverseRequest) (s *Stream, stop func(), err error) {
	sctx, cancel := context.WithCancel(ctx)
	timer := upstream.StartStreamTimer(h.opts.UpstreamTimeout, h.opts.StreamIdleTimeout, cancel)
	fail := func(err error) (*Stream, func(), error) {
		timer.Stop()
		if r.Context().Err() == nil {
			err = timer.Err(err)
		}
		cancel()
		return nil, nil, err
	}
	stream, err := m.ConverseStream(sctx, creq, h.queue)
	if err != nil {
		return fail(err)
	}
	stopWatch := context.AfterFunc(sctx, func() { stream.Close() })
	stop = func() { timer.Stop(); cancel(); stopWatch(); stream.Close() }
	accesslog.From(ctx).SetUpstreamRequestID(stream.RequestID())
	// The pipeline has read the first event (it fails over until then).
	if timer.Event() {
		stop()
		return fail(context.DeadlineExceeded)
	}
	if id := stream.RequestID(); id != "" {
		w.Header().Set("x-amzn-requestid", id)
	}
	return &Stream{ConverseStream: stream, timer: timer}, stop, nil
}
