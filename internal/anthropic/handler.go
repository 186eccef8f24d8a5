// Package anthropic serves Anthropic's Messages API (/v1/messages and
// /v1/messages/count_tokens) in front of Bedrock: Claude models get their
// native body through InvokeModel (the client's request with what Bedrock
// refuses taken out, everything else byte for byte), other chat models are
// translated to Converse and back. Decoding and encoding are pure functions
// (request.go, native.go, converse.go); the handlers here call the model.
package anthropic

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/quarry-dev/quarry/internal/clip"
	"github.com/quarry-dev/quarry/internal/reqbody"

	"github.com/quarry-dev/quarry/bedrock"
	"github.com/quarry-dev/quarry/internal/accesslog"
	"github.com/quarry-dev/quarry/internal/config"
	"github.com/quarry-dev/quarry/internal/upstream"
)

// Options configure the handler. Zero values take the defaults noted.
type Options struct {
	Logger *slog.Logger // nil: slog.Default()
	// UpstreamTimeout bounds a non-streaming Bedrock call and the wait for a
	// stream's first event. 0: 10 minutes.
	UpstreamTimeout time.Duration
	// StreamIdleTimeout bounds the gap between two stream events (0: none).
	StreamIdleTimeout time.Duration
	// QueueTimeout bounds the wait for a model's limiter before a 429.
	// 0: 2 seconds.
	QueueTimeout time.Duration
}

// Handler serves the Messages API for the chat models of a registry.
type Handler struct {
	reg  *upstream.Registry
	opts Options
	log  *slog.Logger
	mux  *http.ServeMux
	// queue is the per-call option for server.queue_timeout, made once.
	queue bedrock.CallOption
}

// NewHandler returns the Messages API handler.
func NewHandler(reg *upstream.Registry, opts Options) *Handler {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.UpstreamTimeout <= 0 {
		opts.UpstreamTimeout = 10 * time.Minute
	}
	if opts.QueueTimeout <= 0 {
		opts.QueueTimeout = 2 * time.Second
	}
	h := &Handler{reg: reg, opts: opts, log: opts.Logger, mux: http.NewServeMux(), queue: bedrock.WithQueueTimeout(opts.QueueTimeout)}
	h.mux.HandleFunc("POST /v1/messages", h.messages)
	h.mux.HandleFunc("POST /v1/messages/count_tokens", h.countTokens)
	// A known path with another method: 405 with Allow, as the OpenAI
	// surface answers, rather than the catch-all's 404.
	for _, path := range []string{"/v1/messages", "/v1/messages/count_tokens"} {
		h.mux.HandleFunc(path, methodNotAllowed)
	}
	h.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, r, &apiError{Status: http.StatusNotFound, Type: errNotFound,
			Msg: fmt.Sprintf("Unknown request URL: %s %s. The Messages API is POST /v1/messages and POST /v1/messages/count_tokens.", r.Method, r.URL.Path)})
	})
	return h
}

// methodNotAllowed answers a request to a POST route with another method,
// in Anthropic's format (which has no error type of its own for it).
func methodNotAllowed(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Allow", http.MethodPost)
	writeError(w, r, &apiError{Status: http.StatusMethodNotAllowed, Type: errInvalidRequest,
		Msg: fmt.Sprintf("Method %s is not allowed for %s; use POST.", r.Method, r.URL.Path)})
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	accesslog.From(r.Context()).SetSurface("anthropic")
	// Messages, most of the traffic, skip the mux: besides the routing,
	// that saves three frames under every stream's setup, which must stay
	// within an 8 KiB goroutine stack (docs/benchmarks.md, "Open
	// streams").
	if r.Method == http.MethodPost && r.URL.Path == "/v1/messages" {
		h.messages(w, r)
		return
	}
	h.mux.ServeHTTP(w, r)
}

// call is one Messages request being served.
type call struct {
	w     http.ResponseWriter
	r     *http.Request
	ctx   context.Context
	entry *accesslog.Entry
	req   *request
	model *upstream.Model
	// qt bounds the wait for the model's limiter (server.queue_timeout).
	qt bedrock.CallOption
	// failed is the Bedrock failure of a call that wrote nothing yet (a
	// stream before its first event): a fallback model may answer.
	failed error
}

// release lets go of the request once its stream has its first event (no
// fallback can take it after that): a stream lasts minutes, and the
// request is the conversation three times over (the body, its members,
// their decoding; a coding agent's are hundreds of KB). The stream needs
// only the model name the client asked for.
func (c *call) release() {
	c.req = &request{Model: c.req.Model, Stream: c.req.Stream, MaxTokens: c.req.MaxTokens}
}

// begin reads, decodes and resolves a request; nil when it has answered.
func (h *Handler) begin(w http.ResponseWriter, r *http.Request, countOnly bool) *call {
	setRequestID(w, r)
	ctx := r.Context()
	c := &call{w: w, r: r, ctx: ctx, entry: accesslog.From(ctx), qt: h.queue}
	body, rerr := reqbody.Read(r)
	if rerr != nil {
		writeError(w, r, bodyError(rerr))
		return nil
	}
	req, aerr := decodeRequest(body, countOnly)
	if aerr != nil {
		writeError(w, r, aerr)
		return nil
	}
	m, ok := h.reg.Lookup(req.Model)
	if !ok || m.Kind != config.KindChat {
		writeError(w, r, &apiError{Status: http.StatusNotFound, Type: errNotFound,
			Msg: fmt.Sprintf("model: %s is not a chat model of this gateway (see GET /v1/models).", clip.String(req.Model, 100, "…"))})
		return nil
	}
	c.entry.SetModel(m.Name)
	if err := upstream.Allow(ctx, m); err != nil {
		writeFailure(w, r, err)
		return nil
	}
	if !countOnly {
		mt := &req.MaxTokens
		if req.MaxTokens == 0 {
			mt = nil
		}
		upstream.RecordCall(c.entry, upstream.OpChat, m, &bedrock.InferenceConfig{MaxTokens: mt, Temperature: req.Temperature, TopP: req.TopP})
	}
	c.req, c.model = req, m
	return c
}

// messages serves POST /v1/messages (also ?beta=true, which Claude Code and
// the SDKs' beta client add).
func (h *Handler) messages(w http.ResponseWriter, r *http.Request) {
	c := h.begin(w, r, false)
	if c == nil {
		return
	}
	if len(c.model.Fallbacks) == 0 {
		// What messagesWithFallbacks does for a model without fallbacks,
		// without its frames under the stream's setup (see ServeHTTP).
		if h.answer(c, c.model); c.failed != nil {
			writeFailure(c.w, c.r, c.failed)
		}
		return
	}
	h.messagesWithFallbacks(c)
}

// messagesWithFallbacks answers from the request's model or, once its
// targets are exhausted, from each fallback in turn, the request
// translated for it as a direct request would be.
func (h *Handler) messagesWithFallbacks(c *call) {
	err := upstream.Fallback(c.ctx, c.model, func(m *upstream.Model) error {
		h.answer(c, m)
		return c.failed
	})
	if err != nil {
		writeFailure(c.w, c.r, err)
	}
}

// answer serves c from m: natively for Claude models, through Converse
// for the others. c.failed is the Bedrock failure, if any.
func (h *Handler) answer(c *call, m *upstream.Model) {
	c.model, c.failed = m, nil
	if m.Family == bedrock.FamilyAnthropic {
		h.native(c)
	} else {
		h.converse(c)
	}
}

// invokeInput is the InvokeModel call of a Claude request.
func (h *Handler) invokeInput(c *call) *bedrock.InvokeModelInput {
	m := c.model
	betas := filterBetas(c.r.Header.Values("Anthropic-Beta"), c.req.member("anthropic_beta"), allowedBetas(m))
	for _, b := range configuredBetas(m) {
		if !contains(betas, b) {
			betas = append(betas, b)
		}
	}
	body, dropped := nativeBody(c.req, betas, m.SystemPrompt, defaultMembers(c.req, m))
	if len(dropped) > 0 {
		h.log.Debug("dropped request members Bedrock refuses", "request_id", c.entry.ID, "members", dropped)
	}
	in := &bedrock.InvokeModelInput{Body: body}
	if g := m.Guardrail; g != nil {
		in.GuardrailIdentifier, in.GuardrailVersion = g.Identifier, g.Version
		in.Trace = map[string]string{"enabled": bedrock.TraceEnabled, "enabled_full": bedrock.TraceEnabledFull}[g.Trace]
	}
	return in
}

// native serves a Claude model through InvokeModel(WithResponseStream).
func (h *Handler) native(c *call) {
	in := h.invokeInput(c)
	if c.req.Stream && !c.model.Shaping.NoStreaming {
		h.nativeStream(c, in)
		return
	}
	h.nativeUnary(c, in)
}

// nativeUnary answers from InvokeModel: a JSON message, or (the model
// does not stream) its events replayed. Apart from native so that a
// stream's setup does not run on this path's frame.
func (h *Handler) nativeUnary(c *call, in *bedrock.InvokeModelInput) {
	ctx, cancel := context.WithTimeout(c.ctx, h.opts.UpstreamTimeout)
	defer cancel()
	out, err := c.model.InvokeModel(ctx, in, c.qt)
	if err != nil {
		c.failed = err // messages answers it, or a fallback does
		return
	}
	c.entry.SetUpstreamRequestID(out.RequestID)
	body, a, err := nativeResponse(out.Body, c.req.Model)
	if err != nil {
		writeError(c.w, c.r, &apiError{Status: http.StatusInternalServerError, Type: errAPI, Msg: "Bedrock's answer is not a JSON object."})
		return
	}
	recordUsage(c.entry, a.usage)
	c.entry.AddFinishReason(a.stopReason)
	if e := finishError(c.model, a.stopReason); e != nil {
		writeError(c.w, c.r, e)
		return
	}
	if c.req.Stream {
		// supports_streaming: false: the whole answer, as Claude's events.
		evs, _, err := replayEvents(body)
		if err != nil {
			writeError(c.w, c.r, &apiError{Status: http.StatusInternalServerError, Type: errAPI, Msg: "Bedrock's answer could not be read."})
			return
		}
		events := newSSEWriter(c.w, out.RequestID)
		for _, e := range evs {
			if events.Event(e.typ, e.data) != nil {
				return
			}
		}
		return
	}
	writeJSONBody(c.w, out.RequestID, body)
}

func writeJSONBody(w http.ResponseWriter, upstreamID string, body []byte) {
	if upstreamID != "" {
		w.Header().Set("x-amzn-requestid", upstreamID)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	w.Write(body)
}

// recordUsage adds a Claude usage to the access log, each kind apart as the
// OpenAI surface records Converse's. Claude reports no thinking count:
// thinking is in output_tokens, and billed as output.
func recordUsage(e *accesslog.Entry, u bedrock.AnthropicUsage) {
	e.AddUsage(accesslog.Usage{Input: u.InputTokens, Output: u.OutputTokens,
		CacheRead: u.CacheReadInputTokens, CacheWrite: u.CacheCreationInputTokens})
}

// countTokens serves POST /v1/messages/count_tokens through Bedrock's
// CountTokens: the native body for Claude, the Converse form otherwise
// (Bedrock answers a 400 for models it cannot count, passed on naming the
// model).
func (h *Handler) countTokens(w http.ResponseWriter, r *http.Request) {
	c := h.begin(w, r, true)
	if c == nil {
		return
	}
	var ct *bedrock.CountTokensRequest
	if c.model.Family == bedrock.FamilyAnthropic {
		if c.req.MaxTokens == 0 {
			// Claude's body requires max_tokens; it costs nothing here, but
			// must exceed a thinking budget or Bedrock refuses the body.
			c.req.MaxTokens = 1 + thinkingBudget(c.req)
			c.req.members = append(c.req.members, member{"max_tokens", strconv.AppendInt(nil, int64(c.req.MaxTokens), 10)})
		}
		ct = &bedrock.CountTokensRequest{InvokeModel: &bedrock.InvokeModelTokensRequest{Body: h.invokeInput(c).Body}}
	} else {
		creq, aerr := toConverse(c.req, c.model)
		if aerr != nil {
			writeError(w, r, aerr)
			return
		}
		ct = bedrock.ConverseTokens(creq)
	}
	ctx, cancel := context.WithTimeout(c.ctx, h.opts.UpstreamTimeout)
	defer cancel()
	resp, err := c.model.CountTokens(ctx, ct, c.qt)
	if err != nil {
		e, _ := failure(err)
		if e.Type == errInvalidRequest {
			e.Msg = fmt.Sprintf("model: Bedrock cannot count tokens for %s (%s): %s", c.req.Model, c.model.ModelID, e.Msg)
		}
		writeError(w, r, e)
		return
	}
	writeJSONBody(w, resp.RequestID, fmt.Appendf(nil, `{"input_tokens":%d}`, resp.InputTokens))
}
