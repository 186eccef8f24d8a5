package elastic

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/quarry-dev/quarry/bedrock"
	"github.com/quarry-dev/quarry/internal/accesslog"
	"github.com/quarry-dev/quarry/internal/sse"
	"github.com/quarry-dev/quarry/internal/upstream"
)

// startSSE starts Elasticsearch's server-sent events: every event is
// "event: message" with a JSON data line, errors are "event: error" with
// the error body.
func startSSE(w http.ResponseWriter) *sse.Writer { return sse.Start(w, "text/event-stream") }

// failSSE ends a stream with an error event.
func failSSE(out *sse.Writer, r *http.Request, e *Error) {
	accesslog.From(r.Context()).SetError(e.Type)
	out.JSON("error", e.body())
}

// stream serves POST /_inference/[task_type/]id/_stream (and the 8.x
// /_unified alias for chat_completion).
func (h *Handler) stream(w http.ResponseWriter, r *http.Request, urlTask, id string, unified bool) {
	if unified && urlTask == "" {
		urlTask = taskChatCompletion
	}
	var check func([]byte) *Error
	switch urlTask {
	case taskChatCompletion:
		check = func(body []byte) *Error { _, e := parseChat(body); return e }
	case taskCompletion:
		check = func(body []byte) *Error { _, e := parseInferBody(body, h.opts.MaxInputs); return e }
	}
	ep, body, timeout, e := h.inferenceCall(r, urlTask, id, check)
	if e != nil {
		writeError(w, r, e)
		return
	}
	s := ep.s
	switch s.TaskType {
	case taskChatCompletion:
		h.chat(w, r, ep, body, timeout, true)
	case taskCompletion:
		req, e := parseInfer(s, body)
		if e != nil {
			writeError(w, r, e)
			return
		}
		h.completionStream(w, r, ep, req, timeout)
	default:
		writeError(w, r, statusErr(http.StatusMethodNotAllowed, "Streaming is not allowed for service [%s] and task [%s]", serviceName, s.TaskType))
	}
}

// openStream starts a ConverseStream bounded by the first-event timeout.
// The returned cancel ends the stream's context.
func (h *Handler) openStream(ctx context.Context, ep *endpoint, req *bedrock.ConverseRequest, timeout time.Duration) (*bedrock.ConverseStream, *upstream.FirstEventTimer, context.CancelFunc, error) {
	sctx, cancel := context.WithCancel(ctx)
	ft := upstream.StartStreamTimer(timeout, h.opts.StreamIdleTimeout, cancel)
	st, err := ep.client.ConverseStream(sctx, ep.s.Model, req, bedrock.WithQueueTimeout(h.opts.QueueTimeout))
	if err != nil {
		ft.Stop()
		cancel()
		return nil, nil, nil, ft.Err(err)
	}
	return st, ft, cancel, nil
}

// completionStream streams {"completion":[{"delta":…}]} events.
func (h *Handler) completionStream(w http.ResponseWriter, r *http.Request, ep *endpoint, req *inferRequest, timeout time.Duration) {
	log := accesslog.From(r.Context())
	st, ft, cancel, err := h.openStream(r.Context(), ep, completionRequest(req.Input, req.Task), timeout)
	if err != nil {
		writeError(w, r, streamErr(r, timeout, err))
		return
	}
	defer cancel()
	defer ft.Stop()
	defer st.Close()
	log.SetUpstreamRequestID(st.RequestID())
	out := startSSE(w)
	for st.Next() {
		ft.Event()
		ev := st.Current()
		switch {
		case ev.ContentBlockDelta != nil && ev.ContentBlockDelta.Delta.Text != "":
			log.FirstToken()
			delta := ev.ContentBlockDelta.Delta.Text
			if err := out.JSON("message", map[string]any{"completion": []map[string]string{{"delta": delta}}}); err != nil {
				return // the client went away
			}
		case ev.Metadata != nil:
			upstream.RecordUsage(log, ev.Metadata.Usage)
		}
	}
	if err := st.Err(); err != nil && r.Context().Err() == nil {
		failSSE(out, r, streamErr(r, timeout, ft.Err(err)))
	}
}

// chat serves chat_completion: a chat.completion object, or a stream of
// chat.completion.chunk events ending with usage and [DONE].
func (h *Handler) chat(w http.ResponseWriter, r *http.Request, ep *endpoint, body []byte, timeout time.Duration, streaming bool) {
	ctx := r.Context()
	log := accesslog.From(ctx)
	req, e := parseChat(body)
	if e != nil {
		writeError(w, r, e)
		return
	}
	creq, e := chatConverse(req, ep.s.Task)
	if e != nil {
		writeError(w, r, e)
		return
	}
	if creq.AdditionalModelRequestFields != nil {
		if e := checkTaskSettings(ep.s.TaskType, ep.s.Provider, ep.s.Task); e != nil {
			writeError(w, r, e)
			return
		}
	}
	id := "chatcmpl-" + log.ID
	if !streaming {
		cctx, cancel := withTimeout(ctx, timeout)
		defer cancel()
		resp, err := ep.client.Converse(cctx, ep.s.Model, creq, bedrock.WithQueueTimeout(h.opts.QueueTimeout))
		if err != nil {
			writeError(w, r, callErr(ctx, cctx, timeout, err))
			return
		}
		log.SetUpstreamRequestID(resp.RequestID)
		upstream.RecordUsage(log, resp.Usage)
		writeJSON(w, http.StatusOK, chatAnswer(id, ep.s.Model, time.Now().Unix(), resp))
		return
	}
	st, ft, cancel, err := h.openStream(ctx, ep, creq, timeout)
	if err != nil {
		writeError(w, r, streamErr(r, timeout, err))
		return
	}
	defer cancel()
	defer ft.Stop()
	defer st.Close()
	log.SetUpstreamRequestID(st.RequestID())
	out := startSSE(w)
	ch := newChunker(id, ep.s.Model)
	for st.Next() {
		ft.Event()
		ev := st.Current()
		if ev.ContentBlockDelta != nil {
			log.FirstToken()
		}
		if ev.Metadata != nil {
			upstream.RecordUsage(log, ev.Metadata.Usage)
		}
		for _, c := range ch.event(ev) {
			if err := out.JSON("message", c); err != nil {
				return
			}
		}
	}
	if err := st.Err(); err != nil {
		if r.Context().Err() == nil {
			failSSE(out, r, streamErr(r, timeout, ft.Err(err)))
		}
		return
	}
	out.Event("message", []byte("[DONE]"))
}

// streamErr maps a stream's failure; the stream's timer firing (its
// error is an *upstream.StreamTimeout) is the request's ?timeout, a 408.
// Other deadlines, such as the limiter's queue timeout (a 429), are not.
func streamErr(r *http.Request, timeout time.Duration, err error) *Error {
	var st *upstream.StreamTimeout
	if timeout > 0 && errors.As(err, &st) && r.Context().Err() == nil {
		return timedOut(timeout)
	}
	return upstreamErr(err)
}
