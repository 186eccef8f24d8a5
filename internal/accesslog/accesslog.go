// Package accesslog keeps one structured log entry per HTTP request: the
// middleware creates it, handlers fill in what they learn (model, Bedrock's
// request ID, token counts), and one line is logged when the request ends.
package accesslog

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/http"
	"sync"
	"time"
)

// Entry is what is known about one request. Handlers set fields through the
// methods; they are safe to call from the goroutines of a request.
type Entry struct {
	ID    string // the gateway's request ID (X-Request-Id)
	Start time.Time

	mu                sync.Mutex
	surface           string // "openai", "elasticsearch"
	model             string
	upstreamRequestID string
	keyID, keyName    string // the client key's identity (SetKey)
	bedrockModel      string // SetBedrockModel's, for pricing
	region            string
	usage             Usage
	firstToken        time.Duration
	errKind           string
	target            string // the upstream target that served (or last failed) the call
	gen               GenAI
}

// GenAI is what a request says in OpenTelemetry's GenAI terms beyond the
// log line's fields: telemetry spans report it. Zero values are unset.
type GenAI struct {
	Operation         string // gen_ai.operation.name: chat, embeddings, ...
	MaxTokens         int
	Temperature, TopP float64
	HasTemperature    bool
	HasTopP           bool
	ResponseID        string
	ResponseModel     string // the Bedrock model ID that answered
	FinishReasons     []string
}

type ctxKey struct{}

// From returns the request's entry; a detached one if the middleware did not
// run (so handlers never need a nil check).
func From(ctx context.Context) *Entry {
	if e, ok := ctx.Value(ctxKey{}).(*Entry); ok {
		return e
	}
	return &Entry{Start: time.Now()}
}

// With returns ctx carrying e.
func With(ctx context.Context, e *Entry) context.Context { return context.WithValue(ctx, ctxKey{}, e) }

// SetSurface names the API surface that served the request.
func (e *Entry) SetSurface(s string) { e.mu.Lock(); e.surface = s; e.mu.Unlock() }

// SetModel names the served model.
func (e *Entry) SetModel(m string) { e.mu.Lock(); e.model = m; e.mu.Unlock() }

// SetBedrockModel records the Bedrock model ID and region a request
// called, where the served model's name does not say (an /_inference
// endpoint's settings): usage is priced by them.
func (e *Entry) SetBedrockModel(modelID, region string) {
	e.mu.Lock()
	e.bedrockModel, e.region = modelID, region
	e.mu.Unlock()
}

// SetUpstreamRequestID records Bedrock's x-amzn-RequestId.
func (e *Entry) SetUpstreamRequestID(id string) {
	if id == "" {
		return
	}
	e.mu.Lock()
	e.upstreamRequestID = id
	e.mu.Unlock()
}

// Usage is what a request consumed, as Bedrock reported it. Input is the
// input billed at the full rate: it excludes CacheRead and CacheWrite, as
// Bedrock's inputTokens does. Reasoning is part of Output (Bedrock bills
// it as output) and is set only where Bedrock reports it separately.
// Images counts generated images (billed per image).
type Usage struct {
	Input, Output, CacheRead, CacheWrite, Reasoning, Images int
	// SearchUnits are rerank's billing unit (a query over up to 100
	// documents).
	SearchUnits int
}

// Add returns u plus o.
func (u Usage) Add(o Usage) Usage {
	return Usage{u.Input + o.Input, u.Output + o.Output, u.CacheRead + o.CacheRead,
		u.CacheWrite + o.CacheWrite, u.Reasoning + o.Reasoning, u.Images + o.Images, u.SearchUnits + o.SearchUnits}
}

// IsZero reports whether u records nothing.
func (u Usage) IsZero() bool { return u == Usage{} }

// AddUsage records usage (added to what the request already recorded: an
// embeddings request may make several calls).
func (e *Entry) AddUsage(u Usage) {
	e.mu.Lock()
	e.usage = e.usage.Add(u)
	e.mu.Unlock()
}

// AddTokens records token usage.
func (e *Entry) AddTokens(input, output, cacheRead int) {
	e.AddUsage(Usage{Input: input, Output: output, CacheRead: cacheRead})
}

// SetKey names the client key the request authenticated with: id is
// stable and safe to show (never the key itself), name is a label for
// people ("" when the key has none).
func (e *Entry) SetKey(id, name string) {
	e.mu.Lock()
	e.keyID, e.keyName = id, name
	e.mu.Unlock()
}

// Usage returns what the request recorded so far.
func (e *Entry) Usage() Usage {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.usage
}

// FirstToken records the time to the first streamed token, once.
func (e *Entry) FirstToken() {
	e.mu.Lock()
	if e.firstToken == 0 {
		e.firstToken = time.Since(e.Start)
	}
	e.mu.Unlock()
}

// SetError records the kind of failure (upstream.Failure.Kind, or the
// surface's own, e.g. "invalid_request").
func (e *Entry) SetError(kind string) { e.mu.Lock(); e.errKind = kind; e.mu.Unlock() }

// SetTarget names the upstream target the request went to (the last one
// tried, when it failed over): the x-quarry-target header and the log's
// target field.
func (e *Entry) SetTarget(name string) { e.mu.Lock(); e.target = name; e.mu.Unlock() }

// Target is the name SetTarget recorded.
func (e *Entry) Target() string { e.mu.Lock(); defer e.mu.Unlock(); return e.target }

// SetOperation names the GenAI operation (gen_ai.operation.name: chat,
// embeddings, generate_content, ...).
func (e *Entry) SetOperation(op string) { e.mu.Lock(); e.gen.Operation = op; e.mu.Unlock() }

// SetRequestParams records the sampling parameters sent upstream (nil:
// not set).
func (e *Entry) SetRequestParams(maxTokens *int, temperature, topP *float64) {
	e.mu.Lock()
	if maxTokens != nil {
		e.gen.MaxTokens = *maxTokens
	}
	if temperature != nil {
		e.gen.Temperature, e.gen.HasTemperature = *temperature, true
	}
	if topP != nil {
		e.gen.TopP, e.gen.HasTopP = *topP, true
	}
	e.mu.Unlock()
}

// SetResponseID records the ID the client's answer carries.
func (e *Entry) SetResponseID(id string) { e.mu.Lock(); e.gen.ResponseID = id; e.mu.Unlock() }

// SetResponseModel records the Bedrock model that answered.
func (e *Entry) SetResponseModel(m string) { e.mu.Lock(); e.gen.ResponseModel = m; e.mu.Unlock() }

// AddFinishReason records why (a choice of) the answer ended.
func (e *Entry) AddFinishReason(r string) {
	if r == "" {
		return
	}
	e.mu.Lock()
	e.gen.FinishReasons = append(e.gen.FinishReasons, r)
	e.mu.Unlock()
}

// Snapshot is a copy of an entry's fields, for metrics.
type Snapshot struct {
	Surface, Model, UpstreamRequestID, ErrorKind string
	InputTokens, OutputTokens, CacheReadTokens   int
	FirstToken                                   time.Duration
	// ID is the request's ID (X-Request-Id), for observers that list requests.
	ID string
	// Usage is the full usage (InputTokens... repeat its first fields for
	// the callers that read them); KeyID and KeyName are SetKey's.
	Usage          Usage
	KeyID, KeyName string
	// BedrockModel and Region are SetBedrockModel's ("" when not set).
	BedrockModel, Region string
	// Target is the upstream target that served (or last failed) the call.
	Target string
	// GenAI is what telemetry reports beyond the log line's fields.
	GenAI GenAI
}

// Snapshot copies the fields.
func (e *Entry) Snapshot() Snapshot {
	e.mu.Lock()
	defer e.mu.Unlock()
	u := e.usage
	g := e.gen
	g.FinishReasons = append([]string(nil), g.FinishReasons...)
	return Snapshot{Surface: e.surface, Model: e.model, UpstreamRequestID: e.upstreamRequestID, ErrorKind: e.errKind,
		InputTokens: u.Input, OutputTokens: u.Output, CacheReadTokens: u.CacheRead, FirstToken: e.firstToken,
		Usage: u, KeyID: e.keyID, KeyName: e.keyName, BedrockModel: e.bedrockModel, Region: e.region, ID: e.ID, Target: e.target, GenAI: g}
}

// NewID returns a random request ID.
func NewID() string {
	var b [12]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Recorder captures the status and size of a response. It forwards Flush
// (through http.ResponseController) so streaming still works behind it.
type Recorder struct {
	http.ResponseWriter
	Status int
	Bytes  int64
	// entry, when set, names the upstream target in the response's
	// x-quarry-target header (targetHdr holds it without an allocation).
	entry     *Entry
	targetHdr [1]string
}

// TargetHeader is the response header naming the upstream target that
// served the request, set on every surface's responses.
const TargetHeader = "X-Quarry-Target"

// header adds the target header, once, before the status line goes out.
func (r *Recorder) header() {
	if r.entry == nil {
		return
	}
	if t := r.entry.Target(); t != "" {
		r.targetHdr[0] = t
		r.ResponseWriter.Header()[TargetHeader] = r.targetHdr[:1:1]
	}
}

func (r *Recorder) WriteHeader(code int) {
	if r.Status == 0 {
		r.Status = code
		r.header()
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *Recorder) Write(p []byte) (int, error) {
	if r.Status == 0 {
		r.Status = http.StatusOK
		r.header()
	}
	n, err := r.ResponseWriter.Write(p)
	r.Bytes += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach Flush and deadlines.
func (r *Recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// request is everything the middleware needs per request, in one
// allocation: the entry, the response recorder, the context that carries
// the entry (see Value) and the X-Request-Id header value.
type request struct {
	context.Context
	entry Entry
	rec   Recorder
	hdr   [1]string
}

// Value makes a request the context From finds its entry in; like
// context.WithValue, it defers every other key to the parent, so
// cancellation and deadlines are the parent's.
func (q *request) Value(key any) any {
	if _, ok := key.(ctxKey); ok {
		return &q.entry
	}
	return q.Context.Value(key)
}

// maxAttrs is the most attributes a request line has.
const maxAttrs = 14

// Middleware assigns each request an ID (honouring a sane incoming
// X-Request-Id), puts an Entry in its context, and logs one line at the
// end. done, if not nil, is called with the finished entry (for metrics).
func Middleware(logger *slog.Logger, next http.Handler, done func(r *http.Request, status int, d time.Duration, s Snapshot)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get("X-Request-Id")
		if !validID(id) {
			id = NewID()
		}
		q := &request{Context: r.Context()}
		e := &q.entry
		e.ID, e.Start = id, time.Now()
		// Header.Set would allocate the one-element slice; the key is
		// already in canonical form.
		q.hdr[0] = id
		w.Header()["X-Request-Id"] = q.hdr[:1:1]
		rec := &q.rec
		rec.ResponseWriter, rec.entry = w, e
		next.ServeHTTP(rec, r.WithContext(q))
		finish(logger, r, rec, e, id, done)
	})
}

// finish logs the request and calls done. It is not part of Middleware's
// closure so that its large frame (the attributes are on the stack) is not
// on the stack while the request is served: a stream's goroutine then
// stays small enough for the collector to shrink its stack.
func finish(logger *slog.Logger, r *http.Request, rec *Recorder, e *Entry, id string, done func(r *http.Request, status int, d time.Duration, s Snapshot)) {
	if rec.Status == 0 {
		rec.Status = http.StatusOK
	}
	end := time.Now()
	d := end.Sub(e.Start)
	s := e.Snapshot()
	level := slog.LevelInfo
	if rec.Status >= 500 {
		level = slog.LevelWarn
	}
	ctx := r.Context()
	if h := logger.Handler(); h.Enabled(ctx, level) {
		// What logger.LogAttrs does, less its runtime.Callers for a
		// source position (always this line, so of no use), and with
		// the attributes on the stack.
		var buf [maxAttrs]slog.Attr
		attrs := append(buf[:0],
			slog.String("request_id", id), slog.String("method", r.Method), slog.String("path", r.URL.Path),
			slog.Int("status", rec.Status), slog.Int64("bytes", rec.Bytes), slog.Duration("duration", d))
		if s.Model != "" {
			attrs = append(attrs, slog.String("model", s.Model))
		}
		if s.Target != "" {
			attrs = append(attrs, slog.String("target", s.Target))
		}
		if s.UpstreamRequestID != "" {
			attrs = append(attrs, slog.String("upstream_request_id", s.UpstreamRequestID))
		}
		if s.InputTokens+s.OutputTokens > 0 {
			attrs = append(attrs, slog.Int("input_tokens", s.InputTokens), slog.Int("output_tokens", s.OutputTokens))
		}
		if s.FirstToken > 0 {
			attrs = append(attrs, slog.Duration("first_token", s.FirstToken))
		}
		if s.ErrorKind != "" {
			attrs = append(attrs, slog.String("error", s.ErrorKind))
		}
		if s.KeyID != "" {
			attrs = append(attrs, slog.String("key_id", s.KeyID))
		}
		lr := slog.NewRecord(end, level, "request", 0)
		lr.AddAttrs(attrs...)
		_ = h.Handle(ctx, lr)
	}
	if done != nil {
		done(r, rec.Status, d, s)
	}
}

// validID accepts short printable IDs only, so a client cannot inject
// arbitrary text into logs.
func validID(id string) bool {
	if id == "" || len(id) > 128 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}
