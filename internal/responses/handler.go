package responses

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"strconv"
	"time"

	"github.com/quarry-dev/quarry/bedrock"
	"github.com/quarry-dev/quarry/internal/accesslog"
	"github.com/quarry-dev/quarry/internal/auth"
	"github.com/quarry-dev/quarry/internal/clip"
	"github.com/quarry-dev/quarry/internal/jsonstring"
	"github.com/quarry-dev/quarry/internal/openai"
	"github.com/quarry-dev/quarry/internal/rawjson"
	"github.com/quarry-dev/quarry/internal/sse"
	"github.com/quarry-dev/quarry/internal/store"
	"github.com/quarry-dev/quarry/internal/upstream"
)

// Store keeps stored responses (store.Responses).
type Store interface {
	Put(ctx context.Context, r *store.Response) error
	Get(ctx context.Context, id, owner string) (*store.Response, error)
	Delete(ctx context.Context, id, owner string) error
}

// Handler serves /v1/responses.
type Handler struct {
	chat  *openai.Handler
	store Store // nil: nothing is stored
	log   *slog.Logger
	mux   *http.ServeMux
}

// NewHandler serves the Responses API on the chat surface's models, with
// st keeping stored responses (nil: none are kept).
func NewHandler(chat *openai.Handler, st Store, log *slog.Logger) *Handler {
	if log == nil {
		log = slog.Default()
	}
	h := &Handler{chat: chat, store: st, log: log, mux: http.NewServeMux()}
	h.mux.HandleFunc("POST /v1/responses", h.create)
	h.mux.HandleFunc("POST /v1/responses/input_tokens", h.inputTokens)
	h.mux.HandleFunc("GET /v1/responses/{id}", h.get)
	h.mux.HandleFunc("DELETE /v1/responses/{id}", h.delete)
	h.mux.HandleFunc("GET /v1/responses/{id}/input_items", h.inputItems)
	// Creating with another method: 405 with Allow, as for chat
	// completions, rather than the catch-all's 404.
	h.mux.HandleFunc("/v1/responses", func(w http.ResponseWriter, r *http.Request) { openai.MethodNotAllowed(w, r, http.MethodPost) })
	h.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		openai.WriteError(w, r, &openai.Error{Status: http.StatusNotFound, Type: "invalid_request_error", Code: "unknown_url",
			Msg: fmt.Sprintf("Unknown request URL: %s %s.", r.Method, r.URL.Path)})
	})
	return h
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	accesslog.From(r.Context()).SetSurface("openai_responses")
	// Creating, most of the traffic, skips the mux: that saves its frames
	// under every stream's wait (see stream).
	if r.Method == http.MethodPost && r.URL.Path == "/v1/responses" {
		h.create(w, r)
		return
	}
	h.mux.ServeHTTP(w, r)
}

// record is what the store keeps of a response.
type record struct {
	Response *response         `json:"response"` // complete, with encrypted_content
	Include  bool              `json:"include_encrypted,omitempty"`
	Input    []json.RawMessage `json:"input"`
	// Before is the conversation this response continued: its previous
	// response's whole history. The history previous_response_id
	// continues is Before, Input and the output (conversation): kept
	// apart, the record holds each item once.
	Before []json.RawMessage `json:"before,omitempty"`
	// History is that whole history, as records stored it before Before;
	// it is only read.
	History []json.RawMessage `json:"history,omitempty"`

	full []json.RawMessage // conversation's result, worked out once
}

// conversation is the history a response continuing r starts from. A next
// turn asks twice (decoding the request, then storing its own record), so
// the output's encoding is kept.
func (r *record) conversation() []json.RawMessage {
	if r.History != nil {
		return r.History
	}
	if r.full == nil {
		h := make([]json.RawMessage, 0, len(r.Before)+len(r.Input)+len(r.Response.Output))
		h = append(append(h, r.Before...), r.Input...)
		for _, it := range r.Response.Output {
			h = append(h, mustJSON(it))
		}
		r.full = h
	}
	return r.full
}

// owner is who a stored response belongs to: a hash of the presented API
// key, never the key.
func owner(r *http.Request) string {
	key, ok := auth.Presented(r)
	if !ok {
		return "anonymous"
	}
	sum := sha256.Sum256([]byte("quarry-responses\x00" + key))
	return hex.EncodeToString(sum[:])
}

func notFound(id string) *openai.Error {
	return &openai.Error{Status: http.StatusNotFound, Type: "invalid_request_error", Param: "response_id", Code: "not_found",
		Msg: fmt.Sprintf("No response found with id '%s'.", clip.String(id, 80, "..."))}
}

// load reads a stored response of the request's owner.
func (h *Handler) load(ctx context.Context, r *http.Request, id, param string) (*record, *openai.Error) {
	if h.store == nil {
		e := notFound(id)
		e.Param = param
		return nil, e
	}
	sr, err := h.store.Get(ctx, id, owner(r))
	if errors.Is(err, store.ErrResponseNotFound) {
		e := notFound(id)
		e.Param = param
		return nil, e
	}
	if err != nil {
		h.log.Error("reading a stored response", "error", err)
		return nil, &openai.Error{Status: http.StatusServiceUnavailable, Type: "service_unavailable_error", Msg: "The response store is unavailable; try again."}
	}
	var rec record
	if err := json.Unmarshal(sr.Data, &rec); err != nil || rec.Response == nil {
		return nil, &openai.Error{Status: http.StatusInternalServerError, Type: "api_error", Msg: "The stored response could not be read."}
	}
	rec.Response.OutputText = joinedText(rec.Response) // not stored (save)
	return &rec, nil
}

// create serves POST /v1/responses.
func (h *Handler) create(w http.ResponseWriter, r *http.Request) {
	upTimeout, queueTimeout := h.chat.Timeouts()
	ctx := r.Context()
	qt := bedrock.WithQueueTimeout(queueTimeout)
	d, prev, tr, ok := h.prepare(ctx, w, r, false)
	if !ok {
		return
	}
	store := d.req.Store == nil || *d.req.Store
	resp := newResponse(d, newResponseID(time.Now()), time.Now().Unix(), d.req.PreviousResponseID, store)
	x := &exchange{h: h, r: r, d: d, tr: tr, resp: resp, prev: prev, store: store}
	var err error
	if len(tr.Model.Fallbacks) == 0 {
		// Without upstream.Fallback's frames under a stream's wait.
		err = x.answer(ctx, w, upTimeout, qt)
	} else {
		err = x.withFallbacks(ctx, w, upTimeout, qt)
	}
	if err != nil {
		openai.WriteFailure(w, r, err)
	}
}

// withFallbacks answers with x's model and, once its targets are
// exhausted, its fallbacks, each with the request translated for it, as a
// direct request would be.
func (x *exchange) withFallbacks(ctx context.Context, w http.ResponseWriter, upTimeout time.Duration, qt bedrock.CallOption) error {
	var last error
	return upstream.Fallback(ctx, x.tr.Model, func(m *upstream.Model) error {
		if m != x.tr.Model {
			ftr, aerr := x.h.translateFor(ctx, x.d, m)
			if aerr != nil {
				return last // a request m cannot take skips it
			}
			x.tr = ftr
		}
		last = x.answer(ctx, w, upTimeout, qt)
		return last
	})
}

// translateFor translates the request d as a direct request to m.
func (h *Handler) translateFor(ctx context.Context, d *decoded, m *upstream.Model) (*openai.Translation, *openai.Error) {
	members := maps.Clone(d.members)
	members["model"], _ = json.Marshal(m.Name)
	return h.chat.Translate(ctx, members)
}

// answer calls x's model and writes its answer. A Bedrock failure before
// anything was written is returned, unwritten, for a fallback to take.
func (x *exchange) answer(ctx context.Context, w http.ResponseWriter, upTimeout time.Duration, qt bedrock.CallOption) error {
	d, tr, entry := x.d, x.tr, accesslog.From(ctx)
	upstream.RecordCall(entry, upstream.OpChat, tr.Model, tr.Request.InferenceConfig)
	entry.SetResponseID(x.resp.ID)
	if d.req.Stream && !tr.NoStreaming() {
		return x.stream(ctx, w)
	}
	return x.unary(ctx, w, upTimeout, qt)
}

// unary answers with one Converse call: a response, or a stream of it for
// a model that does not stream. It is apart from answer so that a stream,
// which waits under answer's frame, does not hold this path's locals.
func (x *exchange) unary(ctx context.Context, w http.ResponseWriter, upTimeout time.Duration, qt bedrock.CallOption) error {
	r, d, tr, resp, entry := x.r, x.d, x.tr, x.resp, accesslog.From(ctx)
	m := tr.Model
	if d.req.Stream && tr.Request.GuardrailConfig != nil {
		tr.Request.GuardrailConfig.StreamProcessingMode = "" // ConverseStream only
	}
	cctx, cancel := context.WithTimeout(ctx, upTimeout)
	defer cancel()
	out, err := m.Converse(cctx, tr.Request, qt)
	if err != nil {
		return err
	}
	entry.SetUpstreamRequestID(out.RequestID)
	openai.RecordUsage(entry, out.Usage)
	entry.AddFinishReason(out.StopReason)
	if out.RequestID != "" {
		w.Header().Set("x-amzn-requestid", out.RequestID)
	}
	if !tr.FinishAllowed(out.StopReason) {
		openai.WriteError(w, r, tr.FinishError(out.StopReason))
		return nil
	}
	if d.req.Stream {
		// supports_streaming: false: the Converse answer as one stream.
		events := sse.Start(w, "text/event-stream")
		a := x.assembler(events)
		a.send("response.created", map[string]any{"response": a.publicResp()})
		a.send("response.in_progress", map[string]any{"response": a.publicResp()})
		a.fromConverse(out)
		x.save(ctx)
		a.send("response."+terminal(resp.Status), map[string]any{"response": a.publicResp()})
		return nil
	}
	a := x.assembler(nil)
	a.fromConverse(out)
	if enc := x.save(ctx); enc != nil && samePublic(resp, d.plan.IncludeEncrypted) {
		// The stored encoding is the answer, output_text aside.
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		w.Write(append(appendOutputText(enc, resp.OutputText), '\n'))
		return nil
	}
	writeJSON(w, http.StatusOK, publicResponse(resp, d.plan.IncludeEncrypted))
	return nil
}

// prepare reads, decodes and translates a create (or input_tokens, which
// never streams) request, answering its error itself when !ok.
func (h *Handler) prepare(ctx context.Context, w http.ResponseWriter, r *http.Request, count bool) (d *decoded, prev *record, tr *openai.Translation, ok bool) {
	body, aerr := openai.ReadBody(r)
	if aerr == nil {
		d, prev, aerr = h.decode(ctx, r, body)
	}
	if aerr != nil {
		openai.WriteError(w, r, aerr)
		return nil, nil, nil, false
	}
	if count {
		delete(d.members, "stream")
	}
	tr, aerr = h.chat.Translate(ctx, d.members)
	if tr != nil {
		accesslog.From(ctx).SetModel(tr.Model.Name)
	}
	if aerr != nil {
		openai.WriteError(w, r, d.rename(aerr))
		return nil, nil, nil, false
	}
	return d, prev, tr, true
}

// decode decodes the body with the stored conversation it continues.
func (h *Handler) decode(ctx context.Context, r *http.Request, body []byte) (*decoded, *record, *openai.Error) {
	var probe struct {
		Prev string `json:"previous_response_id"`
	}
	json.Unmarshal(body, &probe)
	var prev *record
	var history []json.RawMessage
	if probe.Prev != "" {
		rec, aerr := h.load(ctx, r, probe.Prev, "previous_response_id")
		if aerr != nil {
			return nil, nil, aerr
		}
		prev, history = rec, rec.conversation()
	}
	d, aerr := decodeRequest(body, history)
	return d, prev, aerr
}

func terminal(status string) string {
	if status == "incomplete" {
		return "incomplete"
	}
	return "completed"
}

// exchange is one create call in progress.
type exchange struct {
	h     *Handler
	r     *http.Request
	d     *decoded
	tr    *openai.Translation
	resp  *response
	prev  *record
	store bool
	seq   int
}

func (x *exchange) assembler(events *sse.Writer) *assembler {
	var emit emitFunc
	if events != nil {
		emit = func(name string, ev map[string]any) error {
			ev["type"] = name
			ev["sequence_number"] = x.seq
			x.seq++
			return events.JSON(name, ev)
		}
	}
	return newAssembler(&x.d.plan, x.resp, x.tr.JSONTool, x.tr.FirstToolOnly, emit)
}

func (a *assembler) publicResp() *response { return publicResponse(a.resp, a.p.IncludeEncrypted) }

// save stores the finished response when store is on, and returns the
// response's JSON as stored (all of it, without output_text), or nil when
// nothing was stored. A store failure is logged: the client has its
// answer, only the continuation is lost.
func (x *exchange) save(ctx context.Context) []byte {
	if !x.store || x.h.store == nil {
		return nil
	}
	// output_text repeats the output's text: it is not stored, but worked
	// out again when the record is read (load).
	resp := *x.resp
	resp.OutputText = ""
	enc, err := json.Marshal(&resp)
	if err != nil {
		return nil
	}
	var before []json.RawMessage
	if x.prev != nil {
		before = x.prev.conversation()
	}
	data := appendRecord(make([]byte, 0, len(enc)+256), enc, x.d.plan.IncludeEncrypted, x.d.items, before)
	sr := &store.Response{ID: x.resp.ID, Owner: owner(x.r), CreatedAt: time.Unix(x.resp.CreatedAt, 0), Data: data}
	// The answer waits for the store, so a store that stalls must not hold
	// it (and the model's concurrency slot) for ever.
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := x.h.store.Put(sctx, sr); err != nil {
		x.h.log.Error("storing a response", "response_id", x.resp.ID, "error", err)
	}
	return enc
}

// appendRecord appends what json.Marshal writes for
//
//	record{Response: resp, Include: include, Input: input, Before: before}
//
// with the response already encoded (resp): a stored response's JSON is
// then encoded once, and the answer reuses it (answer). Every part is JSON
// this package wrote, or decoded from a request or the store.
func appendRecord(b, resp []byte, include bool, input, before []json.RawMessage) []byte {
	b = append(append(b, `{"response":`...), resp...)
	if include {
		b = append(b, `,"include_encrypted":true`...)
	}
	b = rawjson.AppendArray(append(b, `,"input":`...), input)
	if len(before) > 0 {
		b = rawjson.AppendArray(append(b, `,"before":`...), before)
	}
	return append(b, '}')
}

// appendOutputText turns a response encoded without output_text (save)
// into what the client gets: the same object with output_text last.
func appendOutputText(enc []byte, text string) []byte {
	if text == "" {
		return enc // omitempty: the encoding has no output_text either
	}
	b := append(enc[:len(enc)-1:len(enc)-1], `,"output_text":`...)
	return append(jsonstring.Append(b, text, true), '}')
}

// samePublic reports whether the client sees r's output as stored: no
// encrypted content is withheld (publicResponse).
func samePublic(r *response, includeEncrypted bool) bool {
	for _, it := range r.Output {
		if publicItem(it, includeEncrypted) != it {
			return false
		}
	}
	return true
}

// stream serves a streamed response. Until Bedrock's first event a
// failure is an ordinary JSON error with its status; after that it is a
// response.failed event, and the stream ends.
func (x *exchange) stream(ctx context.Context, w http.ResponseWriter) error {
	s, cancel, err := x.h.chat.OpenStream(ctx, w, x.r, x.tr.Model, x.tr.Request)
	if err != nil {
		return err
	}
	defer cancel()
	x.release()
	entry := accesslog.From(ctx)
	events := sse.Start(w, "text/event-stream")
	a := x.begin(events, entry)
	// The stream waits for Bedrock under relay, whose frame is kept small
	// (the rest is in begin and end): a stream's handler then waits less
	// than 4 KiB deep, so the collector can halve the stack its setup grew
	// to 16 KiB (docs/benchmarks.md, "Open streams").
	if stop, u, ok := x.relay(s, a, events, entry, cancel); ok {
		x.end(ctx, s, a, events, entry, stop, u)
	}
	return nil
}

// release lets go of what only the stream's setup needed, once Bedrock's
// first event is in (no fallback can take the request after it): the
// request as decoded and as translated, and unless the response is to be
// stored, its input and the conversation it continues. A stream lasts
// minutes, and these are the conversation several times over (a coding
// agent's: hundreds of KB); what the stream's events and the stored record
// need (x.resp, x.d.plan, x.d.items) stays.
func (x *exchange) release() {
	x.tr.Request = nil
	x.d.req, x.d.members, x.d.msgIndex = nil, nil, nil
	if !x.store {
		x.d.items, x.prev = nil, nil
	}
}

// begin starts a stream's events: response.created and
// response.in_progress.
func (x *exchange) begin(events *sse.Writer, entry *accesslog.Entry) *assembler {
	a := x.assembler(events)
	a.token = entry.FirstToken
	a.send("response.created", map[string]any{"response": a.publicResp()})
	a.send("response.in_progress", map[string]any{"response": a.publicResp()})
	return a
}

// relay turns Bedrock's events into the stream's as they come, until the
// last; ok is false when the stream has ended already (a refused finish,
// or the client gone).
func (x *exchange) relay(s *openai.Stream, a *assembler, events *sse.Writer, entry *accesslog.Entry, cancel func()) (stop string, u bedrock.TokenUsage, ok bool) {
	for more := true; more; more = s.Next() {
		ev := s.Current()
		events.Hold = s.Buffered()
		switch {
		case ev.ContentBlockStart != nil:
			if tu := ev.ContentBlockStart.Start.ToolUse; tu != nil {
				a.toolStart(ev.ContentBlockStart.ContentBlockIndex, tu)
			}
		case ev.ContentBlockDelta != nil:
			a.delta(ev.ContentBlockDelta.ContentBlockIndex, &ev.ContentBlockDelta.Delta)
		case ev.ContentBlockStop != nil:
			a.stop(ev.ContentBlockStop.ContentBlockIndex)
		case ev.MessageStop != nil:
			stop = ev.MessageStop.StopReason
			if !x.tr.FinishAllowed(stop) {
				events.Hold = false
				x.refuse(a, entry, stop)
				return stop, u, false
			}
		case ev.Metadata != nil:
			u = ev.Metadata.Usage
			openai.RecordUsage(entry, u)
		}
		if a.err != nil {
			cancel() // the client is gone: stop reading Bedrock now
			return stop, u, false
		}
	}
	return stop, u, true
}

// refuse ends a stream whose finish reason the request does not allow.
func (x *exchange) refuse(a *assembler, entry *accesslog.Entry, stop string) {
	e := x.tr.FinishError(stop)
	entry.SetError(e.Type)
	x.fail(a, e.Code, e.Msg)
}

// end ends a stream read to its end: response.failed if Bedrock's
// stream failed, otherwise the finished response, stored.
func (x *exchange) end(ctx context.Context, s *openai.Stream, a *assembler, events *sse.Writer, entry *accesslog.Entry, stop string, u bedrock.TokenUsage) {
	events.Hold = false
	if err := s.Err(); err != nil {
		if x.r.Context().Err() != nil {
			entry.SetError("canceled")
			return
		}
		f := upstream.Classify(err)
		entry.SetError(string(f.Kind))
		code := f.Code
		if code == "" {
			code = openai.FailureType(f.Kind)
		}
		x.fail(a, code, f.Message)
		return
	}
	a.finish(stop, u)
	x.save(ctx)
	a.send("response."+terminal(x.resp.Status), map[string]any{"response": a.publicResp()})
}

// fail ends a stream with response.failed.
func (x *exchange) fail(a *assembler, code, msg string) {
	x.resp.Status = "failed"
	x.resp.Error = &respError{Code: code, Message: msg}
	a.send("response.failed", map[string]any{"response": a.publicResp()})
}

// get serves GET /v1/responses/{id}.
func (h *Handler) get(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	rec, aerr := h.load(r.Context(), r, id, "response_id")
	if aerr != nil {
		openai.WriteError(w, r, aerr)
		return
	}
	accesslog.From(r.Context()).SetModel(rec.Response.Model)
	include := rec.Include
	for _, inc := range r.URL.Query()["include"] {
		include = include || inc == "reasoning.encrypted_content"
	}
	writeJSON(w, http.StatusOK, publicResponse(rec.Response, include))
}

// delete serves DELETE /v1/responses/{id}.
func (h *Handler) delete(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if h.store == nil {
		openai.WriteError(w, r, notFound(id))
		return
	}
	err := h.store.Delete(r.Context(), id, owner(r))
	if errors.Is(err, store.ErrResponseNotFound) {
		openai.WriteError(w, r, notFound(id))
		return
	}
	if err != nil {
		h.log.Error("deleting a stored response", "error", err)
		openai.WriteError(w, r, &openai.Error{Status: http.StatusServiceUnavailable, Type: "service_unavailable_error", Msg: "The response store is unavailable; try again."})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"id": id, "object": "response.deleted", "deleted": true})
}

// inputItems serves GET /v1/responses/{id}/input_items: the request's
// input items, newest first by default (order=asc for oldest first),
// paged by limit (1-100, default 20) and after (an item ID).
func (h *Handler) inputItems(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	limit := 20
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 100 {
			openai.WriteError(w, r, openai.Invalid("limit", "Invalid 'limit': %q; it must be an integer from 1 to 100.", clip.String(s, 20, "...")))
			return
		}
		limit = n
	}
	order := q.Get("order")
	if order != "" && order != "asc" && order != "desc" {
		openai.WriteError(w, r, openai.Invalid("order", "Invalid 'order': %q. Supported: asc, desc.", clip.String(order, 20, "...")))
		return
	}
	rec, aerr := h.load(r.Context(), r, r.PathValue("id"), "response_id")
	if aerr != nil {
		openai.WriteError(w, r, aerr)
		return
	}
	items := append([]json.RawMessage(nil), rec.Input...)
	if order != "asc" {
		for i, j := 0, len(items)-1; i < j; i, j = i+1, j-1 {
			items[i], items[j] = items[j], items[i]
		}
	}
	if after := q.Get("after"); after != "" {
		for i, it := range items {
			var x struct {
				ID string `json:"id"`
			}
			json.Unmarshal(it, &x)
			if x.ID == after {
				items = items[i+1:]
				break
			}
		}
	}
	more := len(items) > limit
	if more {
		items = items[:limit]
	}
	out := map[string]any{"object": "list", "data": items, "has_more": more, "first_id": nil, "last_id": nil}
	if len(items) > 0 {
		var f, l struct {
			ID string `json:"id"`
		}
		json.Unmarshal(items[0], &f)
		json.Unmarshal(items[len(items)-1], &l)
		out["first_id"], out["last_id"] = f.ID, l.ID
	}
	writeJSON(w, http.StatusOK, out)
}

// inputTokens serves POST /v1/responses/input_tokens: Bedrock CountTokens
// on the request as create would send it.
func (h *Handler) inputTokens(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	_, _, tr, ok := h.prepare(ctx, w, r, true)
	if !ok {
		return
	}
	upTimeout, _ := h.chat.Timeouts()
	cctx, cancel := context.WithTimeout(ctx, upTimeout)
	defer cancel()
	m := tr.Model
	out, err := m.CountTokens(cctx, bedrock.ConverseTokens(tr.Request))
	if err != nil {
		openai.WriteFailure(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"object": "response.input_tokens", "input_tokens": out.InputTokens})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// newResponseID is "resp_" and 32 hex digits: the time in milliseconds
// first, so that IDs sort by creation and the store's primary-key index
// takes each new one at its end (a random ID dirties a random index page
// per insert, the larger part of a stored response's cost), then 80
// random bits.
func newResponseID(now time.Time) string {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], uint64(now.UnixMilli())<<16)
	rand.Read(b[6:])
	return "resp_" + hex.EncodeToString(b[:])
}
