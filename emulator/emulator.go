package emulator

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/quarry-dev/quarry/internal/accesslog"
	"github.com/quarry-dev/quarry/internal/jsonstring"
)

// Operations, as named in Stats and in the Bedrock API.
const (
	OpConverse          = "Converse"
	OpConverseStream    = "ConverseStream"
	OpInvokeModel       = "InvokeModel"
	OpInvokeModelStream = "InvokeModelWithResponseStream"
	OpApplyGuardrail    = "ApplyGuardrail"
	OpCountTokens       = "CountTokens"
	OpInvokeModelBidi   = "InvokeModelWithBidirectionalStream"
	// The control plane's listings (bedrock.<region>, same signing service).
	OpListFoundationModels  = "ListFoundationModels"
	OpListInferenceProfiles = "ListInferenceProfiles"
	opUnknown               = "Unknown"
	maxRequestBody          = 25_000_000 + 1<<20
	defaultClockSkew        = 5 * time.Minute
	defaultBodyReadTimeout  = 30 * time.Second
	defaultAccessKeyID      = "test"
	defaultSecretAccessKey  = "test"
)

var opIndex = map[string]int{
	OpConverse: 0, OpConverseStream: 1, OpInvokeModel: 2, OpInvokeModelStream: 3,
	OpApplyGuardrail: 4, OpCountTokens: 5, OpInvokeModelBidi: 6, OpListFoundationModels: 7, OpListInferenceProfiles: 8, opUnknown: 9,
}

var opNames = [...]string{OpConverse, OpConverseStream, OpInvokeModel, OpInvokeModelStream, OpApplyGuardrail, OpCountTokens,
	OpInvokeModelBidi, OpListFoundationModels, OpListInferenceProfiles, opUnknown}

// Emulator is an http.Handler that answers the Bedrock Runtime API.
type Emulator struct {
	cfg        Config
	log        *slog.Logger
	models     *catalogue
	guardrails map[string]*guardrail
	auth       *verifier
	faults     *faultInjector
	quotas     *quotaSet
	cache      *promptCache
	record     *recorder // nil unless Config.Record
	replay     *replayer // nil unless Config.Replay

	requests    [len(opNames)]atomic.Int64
	errors      atomic.Int64
	streams     atomic.Int64
	disconnects atomic.Int64
	http2       atomic.Int64
}

// Stats are the emulator's counters since it started.
type Stats struct {
	// Requests counts requests by operation (Converse, ConverseStream,
	// InvokeModel, InvokeModelWithResponseStream, ApplyGuardrail, CountTokens,
	// InvokeModelWithBidirectionalStream, ListFoundationModels,
	// ListInferenceProfiles, and Unknown for unrouted paths), whatever their
	// outcome.
	Requests map[string]int64
	// Errors counts HTTP error responses (status >= 400).
	Errors int64
	// Streams counts streamed responses that were started (HTTP 200 sent).
	Streams int64
	// Disconnects counts requests and streams whose client went away before
	// the response was finished (context canceled or a write failed). A
	// gateway that cancels its upstream call when its own client disconnects
	// shows up here. A bidirectional session whose client closes its input
	// without sessionEnd counts too.
	Disconnects int64
	// HTTP2 counts requests that arrived over HTTP/2 (h2c or h2).
	HTTP2 int64
}

// Stats returns a snapshot of the counters.
func (e *Emulator) Stats() Stats {
	s := Stats{Requests: make(map[string]int64, len(opNames))}
	for i, n := range opNames {
		if v := e.requests[i].Load(); v > 0 {
			s.Requests[n] = v
		}
	}
	s.Errors = e.errors.Load()
	s.Streams = e.streams.Load()
	s.Disconnects = e.disconnects.Load()
	s.HTTP2 = e.http2.Load()
	return s
}

// New validates cfg and returns an Emulator.
func New(cfg Config) (*Emulator, error) {
	if cfg.BodyReadTimeout == 0 {
		cfg.BodyReadTimeout = defaultBodyReadTimeout
	}
	if cfg.ClockSkew == 0 {
		cfg.ClockSkew = defaultClockSkew
	}
	if len(cfg.Credentials) == 0 {
		cfg.Credentials = []Credential{{AccessKeyID: defaultAccessKeyID, SecretAccessKey: defaultSecretAccessKey}}
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	models, err := newCatalogue(cfg.Models)
	if err != nil {
		return nil, fmt.Errorf("emulator: %w", err)
	}
	grs, err := newGuardrails(cfg.Guardrails)
	if err != nil {
		return nil, fmt.Errorf("emulator: %w", err)
	}
	faults, err := newFaultInjector(cfg.Seed, cfg.Faults)
	if err != nil {
		return nil, fmt.Errorf("emulator: %w", err)
	}
	if cfg.Record != nil && cfg.Replay != nil {
		return nil, fmt.Errorf("emulator: record and replay cannot both be set")
	}
	var rec *recorder
	if cfg.Record != nil {
		if rec, err = newRecorder(*cfg.Record); err != nil {
			return nil, fmt.Errorf("emulator: %w", err)
		}
	}
	var rp *replayer
	if cfg.Replay != nil {
		if rp, err = newReplayer(*cfg.Replay); err != nil {
			return nil, fmt.Errorf("emulator: %w", err)
		}
	}
	return &Emulator{
		record:     rec,
		replay:     rp,
		cfg:        cfg,
		log:        log,
		models:     models,
		guardrails: grs,
		auth:       newVerifier(cfg),
		faults:     faults,
		quotas:     newQuotaSet(cfg.Quotas),
		cache:      newPromptCache(),
	}, nil
}

// call is one request in flight.
type call struct {
	e     *Emulator
	w     http.ResponseWriter
	r     *http.Request
	op    string
	id    string // x-amzn-RequestId
	body  []byte
	start time.Time
}

func (c *call) fail(err *apiError) {
	c.e.errors.Add(1)
	c.e.log.Debug("bedrock error", "op", c.op, "status", err.Status, "code", err.Code, "message", err.Message, "requestId", c.id)
	writeError(c.w, c.id, err)
}

// ServeHTTP routes a Bedrock Runtime request.
func (e *Emulator) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if e.log.Enabled(r.Context(), slog.LevelDebug) {
		// One line per request, as Config.Logger promises; the recorder
		// costs nothing when Debug is off.
		rec := &accesslog.Recorder{ResponseWriter: w}
		start := time.Now()
		defer func() {
			e.log.Debug("request", "method", r.Method, "path", r.URL.Path, "status", rec.Status,
				"bytes", rec.Bytes, "duration", time.Since(start))
		}()
		w = rec
	}
	c := &call{e: e, w: w, r: r, id: newRequestID(), start: time.Now()}
	if r.ProtoMajor == 2 {
		e.http2.Add(1)
	}
	// The path as sent: the request line's when there is one (a server
	// request), else the URL's re-escaped (a handler called directly).
	path := r.RequestURI
	if path != "" && path[0] == '/' {
		if i := strings.IndexByte(path, '?'); i >= 0 {
			path = path[:i]
		}
	} else {
		path = r.URL.EscapedPath()
	}
	op, ids := route(r.Method, path)
	c.op = op
	e.requests[opIndex[op]].Add(1)
	if op == opUnknown {
		// Bedrock's front door answers unknown routes like this.
		c.fail(&apiError{Status: 404, Code: "UnknownOperationException", Message: "Unknown operation " + r.Method + " " + path, Namespace: "com.amazon.coral.service"})
		return
	}
	if op == OpInvokeModelBidi {
		if e.record != nil || (e.replay != nil && e.replay.cfg.Fallback != "generate") {
			c.fail(&apiError{Status: 404, Code: "ResourceNotFoundException", Message: "InvokeModelWithBidirectionalStream is not recorded or replayed; replay with fallback generate to emulate it."})
			return
		}
		// The body is the input event stream, read as the session goes.
		e.serveBidi(c, ids[0], path)
		return
	}
	// Credentials are checked before the body is read, so that a client
	// without them is refused at once; the signature, which covers the
	// body, after.
	var sig *sigV4
	if !e.cfg.NoAuth {
		var aerr *apiError
		if sig, aerr = e.auth.verifyHeaders(r, time.Now()); aerr != nil {
			if r.ContentLength != 0 && r.ProtoMajor == 1 {
				// Do not wait for the unread body. (Over HTTP/2 the stream
				// is reset instead: closing would end every other stream
				// sharing the connection.)
				w.Header().Set("Connection", "close")
			}
			c.fail(aerr)
			return
		}
	}
	body, err := e.readBody(w, r)
	if err != nil {
		if errors.Is(err, os.ErrDeadlineExceeded) {
			if r.ProtoMajor == 1 {
				w.Header().Set("Connection", "close")
			}
			c.fail(&apiError{Status: http.StatusRequestTimeout, Code: "RequestTimeoutException",
				Message: "The request body did not arrive within the timeout.", Namespace: "com.amazon.coral.service"})
			return
		}
		e.disconnects.Add(1)
		return
	}
	if len(body) > maxRequestBody {
		c.fail(validationError("Input is too long for requested model."))
		return
	}
	c.body = body
	if sig != nil {
		if aerr := e.auth.verifySignature(r, path, body, sig); aerr != nil {
			c.fail(aerr)
			return
		}
	}
	if e.replay != nil && e.replay.serve(c, op, ids[0]) {
		return
	}
	if e.record != nil {
		e.record.serve(c, path)
		return
	}
	switch op {
	case OpConverse, OpConverseStream:
		e.serveConverse(c, ids[0])
	case OpInvokeModel, OpInvokeModelStream:
		e.serveInvoke(c, ids[0])
	case OpCountTokens:
		e.serveCountTokens(c, ids[0])
	case OpApplyGuardrail:
		e.serveApplyGuardrail(c, ids[0], ids[1])
	case OpListFoundationModels:
		e.serveListFoundationModels(c)
	case OpListInferenceProfiles:
		e.serveListInferenceProfiles(c)
	}
}

// readBody reads the request body within Config.BodyReadTimeout (when
// served by net/http: a handler called directly has no deadline to set).
func (e *Emulator) readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	rc := http.NewResponseController(w)
	timed := r.ContentLength != 0 && e.cfg.BodyReadTimeout > 0 &&
		rc.SetReadDeadline(time.Now().Add(e.cfg.BodyReadTimeout)) == nil
	body, err := io.ReadAll(io.LimitReader(r.Body, maxRequestBody+1))
	if timed && err == nil {
		// Lifted once the body is in: the server's background read of an
		// idle connection would otherwise cancel a long stream.
		rc.SetReadDeadline(time.Time{})
	}
	return body, err
}

// route maps the raw (still percent-encoded) path to an operation and its
// decoded path labels.
func route(method, path string) (string, [2]string) {
	var ids [2]string
	if method == http.MethodGet {
		switch path {
		case "/foundation-models":
			return OpListFoundationModels, ids
		case "/inference-profiles":
			return OpListInferenceProfiles, ids
		}
		return opUnknown, ids
	}
	if method != http.MethodPost {
		return opUnknown, ids
	}
	if rest, ok := strings.CutPrefix(path, "/model/"); ok {
		i := strings.LastIndexByte(rest, '/')
		if i <= 0 {
			return opUnknown, ids
		}
		id, err := url.PathUnescape(rest[:i])
		if err != nil {
			return opUnknown, ids
		}
		ids[0] = id
		switch rest[i+1:] {
		case "converse":
			return OpConverse, ids
		case "converse-stream":
			return OpConverseStream, ids
		case "invoke":
			return OpInvokeModel, ids
		case "invoke-with-response-stream":
			return OpInvokeModelStream, ids
		case "count-tokens":
			return OpCountTokens, ids
		case "invoke-with-bidirectional-stream":
			return OpInvokeModelBidi, ids
		}
		return opUnknown, ids
	}
	if rest, ok := strings.CutPrefix(path, "/guardrail/"); ok {
		parts := strings.Split(rest, "/")
		if len(parts) == 4 && parts[1] == "version" && parts[3] == "apply" {
			g, err1 := url.PathUnescape(parts[0])
			v, err2 := url.PathUnescape(parts[2])
			if err1 == nil && err2 == nil {
				ids[0], ids[1] = g, v
				return OpApplyGuardrail, ids
			}
		}
	}
	return opUnknown, ids
}

// lookupModel resolves the model of a request or fails it the way Bedrock does.
func (e *Emulator) lookupModel(c *call, id string) *Model {
	m := e.models.lookup(id)
	if m == nil {
		c.fail(errInvalidModel())
	}
	return m
}

// newRequestID is a random version-4 UUID, the shape of x-amzn-RequestId.
// math/rand/v2's global source is fast and safe for concurrent use; request
// IDs need to be unique, not secret.
func newRequestID() string {
	var b [16]byte
	a, c := rand.Uint64(), rand.Uint64()
	for i := 0; i < 8; i++ {
		b[i] = byte(a >> (8 * i))
		b[8+i] = byte(c >> (8 * i))
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	const hexd = "0123456789abcdef"
	var s [36]byte
	j := 0
	for i := 0; i < 16; i++ {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			s[j] = '-'
			j++
		}
		s[j] = hexd[b[i]>>4]
		s[j+1] = hexd[b[i]&0xf]
		j += 2
	}
	return string(s[:])
}

// wait is sleep for the call's request, counting a disconnect when the
// client goes away first; it reports whether the call may go on.
func (c *call) wait(d time.Duration) bool {
	if !sleep(c.r.Context(), d) {
		c.e.disconnects.Add(1)
		return false
	}
	return true
}

// sleep waits d or until ctx ends; it reports whether the wait completed.
func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// mustJSON marshals values that cannot fail to marshal (maps and structs of
// plain data built by the emulator).
func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("emulator: marshal %T: %v", v, err))
	}
	return b
}

// appendJSONString appends s as a JSON string as Bedrock writes it:
// escaped like encoding/json, without HTML escaping.
func appendJSONString(b []byte, s string) []byte { return jsonstring.Append(b, s, false) }
