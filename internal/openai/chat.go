package openai

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/quarry-dev/quarry/bedrock"
	"github.com/quarry-dev/quarry/internal/accesslog"
	"github.com/quarry-dev/quarry/internal/clip"
	"github.com/quarry-dev/quarry/internal/config"
	"github.com/quarry-dev/quarry/internal/sse"
	"github.com/quarry-dev/quarry/internal/upstream"
)

// chatCompletions serves POST /v1/chat/completions: it translates the
// request (chat_request.go), calls Converse or ConverseStream on the model's
// client, and translates the answer back. When the model's targets are
// exhausted, its fallbacks get the request translated for them.
func (h *Handler) chatCompletions(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	entry := accesslog.From(ctx)

	body, aerr := readBody(r)
	if aerr != nil {
		writeAPIError(w, r, aerr)
		return
	}
	req, served, aerr := h.decodeChat(ctx, body)
	if served != nil {
		entry.SetModel(served.model.Name)
	}
	if aerr != nil {
		writeAPIError(w, r, aerr)
		return
	}
	if len(served.model.Fallbacks) > 0 {
		h.chatWithFallbacks(ctx, w, r, body, req, served)
		return
	}
	// What chatWithFallbacks does for a model without fallbacks, without
	// its frames under the stream's setup (see chatConverter.message).
	if err := h.answerChat(ctx, w, r, req, served); err != nil {
		if ae, ok := err.(*apiError); ok {
			writeAPIError(w, r, ae)
		} else {
			writeFailure(w, r, err)
		}
	}
}

// chatWithFallbacks answers from the request's model or, when it fails
// over, from its fallbacks in turn (upstream.Fallback).
func (h *Handler) chatWithFallbacks(ctx context.Context, w http.ResponseWriter, r *http.Request, body []byte, req *chatRequest, served *servedChat) {
	primary := served.model
	var last error // the last Bedrock failure
	err := upstream.Fallback(ctx, primary, func(m *upstream.Model) error {
		req, served := req, served
		if m != primary {
			// The same translation as a direct request to m; a request m
			// cannot take skips it.
			var aerr *apiError
			if req, served, aerr = h.decodeChatAs(body, m); aerr != nil {
				return last
			}
		}
		err := h.answerChat(ctx, w, r, req, served)
		if ae, ok := err.(*apiError); ok { // not errors.As: no allocation
			if m != primary {
				return last
			}
			writeAPIError(w, r, ae)
			return nil
		}
		last = err
		return err
	})
	if err != nil {
		writeFailure(w, r, err)
	}
}

// answerChat translates req for served's model, calls it and writes the
// answer. It returns, unwritten, the request's translation error (an
// *apiError) and a Bedrock failure before anything was written, so that a
// fallback may answer instead.
func (h *Handler) answerChat(ctx context.Context, w http.ResponseWriter, r *http.Request, req *chatRequest, served *servedChat) error {
	entry := accesslog.From(ctx)
	m, cm := served.model, &served.chat
	creq, plan, aerr := convertChatRequest(ctx, req, cm, h.fetch)
	if aerr != nil {
		return aerr
	}
	if plan.DroppedCacheMarkers {
		served.warnDroppedMarkers(w, h.log)
	}
	if req.ignored != "" {
		w.Header().Add(warningHeader, "ignored: "+req.ignored+" (Bedrock has no equivalent)")
	}
	id, created := "chatcmpl-"+accesslog.NewID(), time.Now().Unix()
	upstream.RecordCall(entry, upstream.OpChat, m, creq.InferenceConfig)
	entry.SetResponseID(id)
	// supports_streaming: false answers a streaming client from Converse,
	// as a one-event stream (shaping.go).
	oneEvent := plan.Stream && cm.Shaping != nil && cm.Shaping.NoStreaming
	if plan.Stream && !oneEvent {
		// Opened here and pumped in streamChat, not opened there: the
		// call's deep setup (encoding, signing) then runs without
		// streamChat's frame under it, and a handler's goroutine stack
		// stays at 8 KiB for the stream's life (docs/benchmarks.md).
		stream, cancel, err := h.openStream(ctx, w, r, m, creq)
		if err != nil {
			return err
		}
		defer cancel()
		// The response's headers are written here too, for the same
		// reason: net/http's HTTP/1.1 header writer has a 2.8 KiB frame.
		out := startStream(w)
		return h.streamChat(ctx, r, m, cm.Shaping, stream, cancel, out, plan, id, created)
	}
	return h.converseChat(ctx, w, r, served, creq, plan, id, created, oneEvent)
}

// converseChat answers from Converse: a JSON completion, or (oneEvent) a
// one-event stream. Apart from answerChat so that a stream's frames,
// held for the stream's life, do not carry this path's locals.
func (h *Handler) converseChat(ctx context.Context, w http.ResponseWriter, r *http.Request, served *servedChat, creq *bedrock.ConverseRequest, plan *chatPlan, id string, created int64, oneEvent bool) error {
	entry := accesslog.From(ctx)
	m, cm := served.model, &served.chat
	if oneEvent && creq.GuardrailConfig != nil {
		creq.GuardrailConfig.StreamProcessingMode = "" // ConverseStream only
	}
	cctx, cancel := context.WithTimeout(ctx, h.opts.UpstreamTimeout)
	defer cancel()
	resp, err := m.Converse(cctx, creq, h.queue)
	if err != nil {
		return err
	}
	entry.SetUpstreamRequestID(resp.RequestID)
	recordUsage(entry, resp.Usage)
	entry.AddFinishReason(resp.StopReason)
	if resp.RequestID != "" {
		w.Header().Set("x-amzn-requestid", resp.RequestID)
	}
	if !finishAllowed(cm.Shaping, resp.StopReason) {
		writeAPIError(w, r, finishReasonError(m.Name, cm.Shaping, resp.StopReason))
		return nil
	}
	cc := convertChatResponse(resp, plan, id, created)
	if oneEvent {
		out := startStream(w)
		for _, c := range completionChunks(cc, plan) {
			if out.JSON("", &c) != nil {
				return nil
			}
		}
		out.Event("", doneData)
		return nil
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	json.NewEncoder(w).Encode(cc)
	return nil
}

// servedChat is what serving a chat model takes that does not change
// between requests, worked out once (NewHandler).
type servedChat struct {
	model    *upstream.Model
	chat     chatModel
	defaults chatDefaults
	// markersLogged: the log has said the model drops cache markers.
	markersLogged atomic.Bool
}

// warningHeader carries what the gateway changed in a request without
// refusing it.
const warningHeader = "X-Quarry-Warning"

// warnDroppedMarkers tells the client that cache markers were dropped, and
// the log, once per model, that they are.
func (s *servedChat) warnDroppedMarkers(w http.ResponseWriter, log *slog.Logger) {
	w.Header().Add(warningHeader, "cache markers dropped: model '"+s.model.Name+"' does not allow them (see allowed_role_metadata)")
	if !s.markersLogged.Swap(true) {
		log.Warn("chat model drops the cache markers requests send; list them in its allowed_role_metadata to forward them",
			"model", s.model.Name)
	}
}

func newServedChat(m *upstream.Model) *servedChat {
	return &servedChat{model: m, chat: chatModelOf(m), defaults: newChatDefaults(m.Defaults)}
}

// served returns m's servedChat.
func (h *Handler) served(m *upstream.Model) *servedChat {
	if s, ok := h.chats[m]; ok {
		return s
	}
	return newServedChat(m) // not in the registry NewHandler saw
}

// decodeChat decodes a chat request body (chatBody) and resolves its model:
// the model is returned (served) once resolved, even with an error after
// that. What is wrong with the body as a whole is said first, then what is
// wrong with the model (unknown, or not the request key's to use), then
// with the other members.
func (h *Handler) decodeChat(ctx context.Context, body []byte) (*chatRequest, *servedChat, *apiError) {
	b, aerr := decodeChatBody(body)
	if b == nil {
		return nil, nil, aerr
	}
	name, merr := chatModelName(b.Model)
	if merr != nil {
		return nil, nil, merr
	}
	m, merr := h.chatModelNamed(name)
	if merr != nil {
		return nil, nil, merr
	}
	s := h.served(m)
	if kerr := allowed(ctx, m); kerr != nil {
		return nil, s, kerr
	}
	if aerr != nil {
		return nil, s, aerr
	}
	req, aerr := s.defaults.request(b, name)
	return req, s, aerr
}

// decodeChatAs decodes a chat request body (already decoded once, for the
// model it names) as a request to m: m's defaults apply.
func (h *Handler) decodeChatAs(body []byte, m *upstream.Model) (*chatRequest, *servedChat, *apiError) {
	b, aerr := decodeChatBody(body)
	if aerr != nil {
		return nil, nil, aerr
	}
	name, _ := chatModelName(b.Model)
	s := h.served(m)
	req, aerr := s.defaults.request(b, name)
	return req, s, aerr
}

// chatModelName reads the request's model member.
func chatModelName(raw json.RawMessage) (string, *apiError) {
	if isNull(raw) {
		return "", invalid("model", "Missing required parameter: 'model'.")
	}
	name, ok := jsonString(raw)
	if !ok {
		return "", invalid("model", "Invalid type for 'model': expected a string.")
	}
	return name, nil
}

// chatModelNamed resolves a model name ("": none) to a served chat model.
func (h *Handler) chatModelNamed(name string) (*upstream.Model, *apiError) {
	if name == "" {
		return nil, invalid("model", "Missing required parameter: 'model'.")
	}
	m, ok := h.reg.Lookup(name)
	if !ok || m.Kind != config.KindChat {
		e := &apiError{Status: http.StatusNotFound, Type: "invalid_request_error", Param: "model", Code: "model_not_found",
			Msg: fmt.Sprintf("The model '%s' does not exist or is not a chat model on this gateway (see GET /v1/models).", clip.String(name, 100, "..."))}
		return nil, e
	}
	return m, nil
}

func recordUsage(e *accesslog.Entry, u bedrock.TokenUsage) { upstream.RecordUsage(e, u) }

// streamChat serves a streamed completion from stream (opened by
// openStream, which answers a failure before the first Bedrock event as an
// ordinary JSON error with its status, UpstreamTimeout bounding the wait
// for that event) on out (started by startStream). From then on a failure
// can only be an error event, and the stream ends without [DONE]. The
// stream runs on the request's context, so a client that goes away
// cancels the upstream call at once; cancel stops it when the client's
// writes fail. shaping is the model's (chatModelOf), which decides the
// finish reasons allowed.
func (h *Handler) streamChat(ctx context.Context, r *http.Request, m *upstream.Model,
	shaping *config.Shaping, stream *Stream, cancel func(), out *sse.Writer, plan *chatPlan, id string, created int64) error {
	entry := accesslog.From(ctx)
	tr := newChatStreamTranslator(plan, id, created, stream.RequestID())
	first := true
	send := func(chunks []chatChunk) bool {
		for i := range chunks {
			if first && hasToken(&chunks[i]) {
				entry.FirstToken()
				first = false
			}
			if out.JSON("", &chunks[i]) != nil {
				return false
			}
		}
		return true
	}
	for ok := true; ok; ok = stream.Next() {
		ev := stream.Current()
		if ev.Metadata != nil {
			recordUsage(entry, ev.Metadata.Usage)
		}
		if ev.MessageStop != nil {
			entry.AddFinishReason(ev.MessageStop.StopReason)
		}
		if ev.MessageStop != nil && !finishAllowed(shaping, ev.MessageStop.StopReason) {
			// An error event instead of the finish chunk, and no [DONE].
			e := finishReasonError(m.Name, shaping, ev.MessageStop.StopReason)
			entry.SetError(e.Type)
			writeStreamError(out, e.Msg, e.Type, e.Code)
			return nil
		}
		out.Hold = stream.Buffered()
		if text, ok := tr.textDelta(&ev); ok {
			// The common case, written without building a chunk.
			if first {
				entry.FirstToken()
				first = false
			}
			if writeTextChunk(out, tr.id, tr.created, tr.plan.Model, text) != nil {
				cancel()
				return nil
			}
			continue
		}
		if !send(tr.event(ev)) {
			// The client is gone: stop reading Bedrock now.
			cancel()
			return nil
		}
	}
	out.Hold = false // what follows ends the stream: flush it
	if err := stream.Err(); err != nil {
		if r.Context().Err() != nil {
			accesslog.From(ctx).SetError("canceled")
			return nil
		}
		streamFailed(entry, out, err)
		return nil
	}
	if !send(tr.end()) {
		return nil
	}
	out.Event("", doneData)
	return nil
}

// streamFailed ends a stream that Bedrock broke off with an error event.
// It and writeStreamError are apart from streamChat to keep that frame,
// held for the stream's life, small.
func streamFailed(entry *accesslog.Entry, out *sse.Writer, err error) {
	f := upstream.Classify(err)
	entry.SetError(string(f.Kind))
	writeStreamError(out, f.Message, failureType[f.Kind], f.Code)
}

// writeStreamError writes the error event that ends a stream.
func writeStreamError(out *sse.Writer, msg, typ, code string) {
	out.Hold = false
	var body streamError
	body.Error.Message, body.Error.Type, body.Error.Code = msg, typ, code
	out.JSON("", &body)
}

// hasToken reports whether a chunk carries generated content (for the
// access log's time to first token).
func hasToken(c *chatChunk) bool {
	for _, ch := range c.Choices {
		d := &ch.Delta
		if (d.Content != nil && *d.Content != "") || d.ReasoningContent != nil || len(d.ToolCalls) > 0 {
			return true
		}
	}
	return false
}
