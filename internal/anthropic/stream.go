package anthropic

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"

	"github.com/quarry-dev/quarry/bedrock"
	"github.com/quarry-dev/quarry/internal/accesslog"
	"github.com/quarry-dev/quarry/internal/sse"
	"github.com/quarry-dev/quarry/internal/upstream"
)

// newSSEWriter starts Anthropic's server-sent events ("event: <type>" and
// "data: <json>"), each written as soon as the gateway has it (see
// sse.Writer's Hold for bursts).
func newSSEWriter(w http.ResponseWriter, upstreamID string) *sse.Writer {
	if upstreamID != "" {
		w.Header().Set("x-amzn-requestid", upstreamID)
	}
	return sse.Start(w, "text/event-stream; charset=utf-8")
}

// sseError writes an in-stream error event.
func sseError(events *sse.Writer, typ, msg string) {
	b, _ := json.Marshal(newErrorBody(typ, msg))
	events.Event("error", b)
}

// upstreamStream is what the handlers need of a Bedrock stream
// (bedrock.InvokeStream, bedrock.ConverseStream).
type upstreamStream interface {
	Next() bool
	Err() error
	Close() error
	RequestID() string
}

// streamStart is a Bedrock stream being started (openStream).
type streamStart struct {
	cancel context.CancelFunc
	timer  *upstream.StreamTimer
	stop   func() bool // ends the watch that closes the stream on cancel
}

// openStream opens a Bedrock stream with open and waits for its first
// event. Until that event a failure is recorded in c.failed, for messages
// to answer with its status or a fallback to take (and nil is returned);
// after it, only an error event.
// UpstreamTimeout bounds the wait for the first event and StreamIdleTimeout
// the gap between two (a stall cancels the call); the stream runs
// on the request's context, so a client that goes away cancels the
// upstream call at once (the stream is closed even while Next is blocked).
// The caller must call st.close.
func openStream[S upstreamStream](h *Handler, c *call, open func(context.Context) (S, error)) (S, *streamStart, *sse.Writer) {
	ctx, cancel := context.WithCancel(c.ctx)
	st := &streamStart{cancel: cancel, timer: upstream.StartStreamTimer(h.opts.UpstreamTimeout, h.opts.StreamIdleTimeout, cancel), stop: func() bool { return true }}
	s, err := open(ctx)
	if err != nil {
		st.fail(c, err)
		return s, st, nil
	}
	st.stop = context.AfterFunc(ctx, func() { s.Close() })
	prev := st.cancel
	// The timer goes too: armed, it would hold the request (its
	// cancel, its context) until the idle bound passed, a minute after the
	// stream ended.
	st.cancel = func() { st.timer.Stop(); prev(); st.stop(); s.Close() }
	c.entry.SetUpstreamRequestID(s.RequestID())
	// The pipeline has read the first event (it fails over until then).
	if st.timer.Event() {
		st.fail(c, context.DeadlineExceeded)
		return s, st, nil
	}
	c.release()
	return s, st, newSSEWriter(c.w, s.RequestID())
}

// next advances s, restarting the idle bound on each event.
func (st *streamStart) next(s upstreamStream) bool {
	if !s.Next() {
		return false
	}
	st.timer.Event()
	return true
}

// fail records a failure before the first event, for messages to answer
// (or a fallback model).
func (st *streamStart) fail(c *call, err error) {
	st.timer.Stop()
	if c.r.Context().Err() == nil {
		err = st.timer.Err(err)
	}
	c.failed = err
}

// end finishes a stream that has started: an error event for a Bedrock
// failure (unless the client is gone).
func (st *streamStart) end(c *call, events *sse.Writer, err error) {
	if err == nil && st.timer.Stop() {
		// The timer closed a stalled stream, which ended Next without an
		// error of its own.
		err = context.Canceled
	}
	if err == nil {
		return
	}
	err = st.timer.Err(err)
	if c.r.Context().Err() != nil {
		c.entry.SetError("canceled")
		return
	}
	e, f := failure(err)
	c.entry.SetError(string(f.Kind))
	sseError(events, e.Type, e.Msg)
}

// nativeStream serves a streamed Claude request: Bedrock's chunks already
// are Anthropic's events, so each is written on as it comes, with only the
// model name (message_start) and Bedrock's metrics (message_stop) changed.
func (h *Handler) nativeStream(c *call, in *bedrock.InvokeModelInput) {
	s, st, events := openStream(h, c, func(ctx context.Context) (*bedrock.InvokeStream, error) {
		return c.model.InvokeModelWithResponseStream(ctx, in, c.qt)
	})
	defer st.cancel()
	if events == nil {
		return
	}
	var a nativeAnswer
	defer func() { recordUsage(c.entry, a.usage); c.entry.AddFinishReason(a.stopReason) }()
	ft := firstTokenOnce{e: c.entry}
	for ok := true; ok; ok = st.next(s) {
		chunk := s.Current()
		typ := eventType(chunk)
		switch typ {
		case "message_start", "message_delta", "message_stop":
			chunk = nativeEvent(typ, chunk, c.req.Model, &a)
		case "content_block_delta":
			ft.mark()
		case "error":
			c.entry.SetError("upstream_error")
		}
		if typ == "message_delta" {
			if e := finishError(c.model, a.stopReason); e != nil {
				// An error event instead of the end of the message.
				c.entry.SetError("finish_reason")
				sseError(events, e.Type, e.Msg)
				return
			}
		}
		if events.Event(typ, chunk) != nil {
			st.cancel() // the client is gone: stop reading Bedrock now
			return
		}
	}
	st.end(c, events, s.Err())
}

// nativeEvent rewrites the Claude stream events the client must see
// changed, and reads their usage and stop reason into a: message_start's
// model is the name the client asked for; message_stop loses Bedrock's
// invocation metrics.
func nativeEvent(typ string, chunk []byte, model string, a *nativeAnswer) []byte {
	members, aerr := scanObject(chunk)
	if aerr != nil {
		return chunk
	}
	kept := members[:0]
	for _, m := range members {
		switch {
		case strings.HasPrefix(m.key, "amazon-bedrock-"):
			continue
		case typ == "message_start" && m.key == "message":
			var msg struct {
				Usage bedrock.AnthropicUsage `json:"usage"`
			}
			json.Unmarshal(m.raw, &msg)
			a.usage.InputTokens, a.usage.CacheCreationInputTokens, a.usage.CacheReadInputTokens =
				msg.Usage.InputTokens, msg.Usage.CacheCreationInputTokens, msg.Usage.CacheReadInputTokens
			if mm, aerr := scanObject(m.raw); aerr == nil {
				for i := range mm {
					if mm[i].key == "model" {
						mm[i].raw, _ = json.Marshal(model)
					}
				}
				m.raw = joinObject(mm)
			}
		case typ == "message_delta" && m.key == "usage":
			var u bedrock.AnthropicUsage
			json.Unmarshal(m.raw, &u)
			a.usage.OutputTokens = u.OutputTokens
		case typ == "message_delta" && m.key == "delta":
			var d bedrock.AnthropicDelta
			json.Unmarshal(m.raw, &d)
			a.stopReason = d.StopReason
		}
		kept = append(kept, m)
	}
	return joinObject(kept)
}

// firstTokenOnce marks the access log's time to first token once.
type firstTokenOnce struct {
	e    *accesslog.Entry
	done bool
}

func (f *firstTokenOnce) mark() {
	if !f.done {
		f.e.FirstToken()
		f.done = true
	}
}
