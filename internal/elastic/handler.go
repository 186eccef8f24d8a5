// Package elastic serves Elasticsearch's inference API (/_inference) for
// its amazonbedrock service, so that the requests, scripts and clients
// written for Elasticsearch work against Quarry: create, read, update and
// delete inference endpoints, run completion and text_embedding inference,
// and stream completion and chat_completion.
//
// Endpoints are kept in an internal/store Store (their keys encrypted
// there) and survive restarts. Each has its own Bedrock client, with its
// own credentials and limiter (rate_limit.requests_per_minute), built once
// when the endpoint is created or loaded and reused by every request. An
// update or a delete publishes a new immutable entry (or none) in place of
// the old one: requests in flight keep the client they started with.
//
// Requests and answers follow Elasticsearch: paths, verbs, parameters,
// bodies, validation rules and messages, and the error format
// {"error":{"root_cause":[…],"type":…,"reason":…},"status":N}. Failed
// Bedrock calls take their status from upstream.Classify, like every other
// surface of the gateway.
package elastic

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/quarry-dev/quarry/bedrock"
	"github.com/quarry-dev/quarry/internal/accesslog"
	"github.com/quarry-dev/quarry/internal/reqbody"
	"github.com/quarry-dev/quarry/internal/store"
)

// Options configure a Handler. Zero values take the defaults noted.
type Options struct {
	// Logger receives the handler's logs; nil discards them.
	Logger *slog.Logger
	// BedrockEndpoint is the Bedrock Runtime URL every endpoint's client
	// uses (the gateway's server-level default: the emulator in the quick
	// start). Empty: the bedrock package's own resolution
	// (AWS_ENDPOINT_URL_BEDROCK_RUNTIME, AWS_ENDPOINT_URL, then AWS).
	BedrockEndpoint string
	// HTTPClient is shared by the endpoints' clients; nil builds one.
	HTTPClient *http.Client
	// HTTP1Only forces HTTP/1.1 on the client built when HTTPClient is
	// nil (server.upstream_http2: false).
	HTTP1Only bool
	// WrapTransport, when set, wraps the transport of the client built
	// when HTTPClient is nil (telemetry: a span per Bedrock attempt).
	WrapTransport func(http.RoundTripper) http.RoundTripper
	// StreamIdleTimeout bounds the gap between stream events (0: none).
	StreamIdleTimeout time.Duration
	// QueueTimeout bounds the wait for an endpoint's limiter before a 429.
	// Default 2s.
	QueueTimeout time.Duration
	// UserAgent is appended to the Bedrock clients' User-Agent.
	UserAgent string
	// MaxInputs bounds the inputs of one inference request; larger
	// requests are refused with a 400 before any Bedrock call. Default
	// DefaultMaxInputs.
	MaxInputs int
	// Deleted, if set, is told the ID of each endpoint that stops being
	// served (deleted here or, with Refresh, by another replica), so that
	// what is kept per endpoint elsewhere (metrics series) can go too.
	Deleted func(id string)
	// Refresh, when positive, re-reads the store that often, so that
	// endpoints changed by another gateway sharing it (PostgreSQL) are
	// seen here. Endpoints created elsewhere are found on first use anyway.
	Refresh time.Duration
}

// DefaultTimeout is how long an inference call may take when the request
// sets no ?timeout (Elasticsearch's InferenceAction default).
const DefaultTimeout = 30 * time.Second

// SurfaceName is this surface's name in the access log and metrics.
const SurfaceName = "elasticsearch"

// Handler serves /_inference. Create it with New; it is safe for
// concurrent use.
type Handler struct {
	st    store.Store
	opts  Options
	log   *slog.Logger
	httpc *http.Client

	mu   sync.RWMutex
	live map[string]*endpoint // immutable entries, replaced whole
	// deletes counts deletions, so that a lookup that read the store
	// before a delete does not bring the deleted endpoint back.
	deletes uint64

	// writeMu orders store writes with the publication of their result, so
	// that a create racing a delete cannot leave a deleted endpoint live.
	writeMu sync.Mutex

	stop chan struct{}
	done chan struct{}
}

// endpoint is a served endpoint: its settings and the client built for
// them. Never modified once published.
type endpoint struct {
	s       *Settings
	client  *bedrock.Client
	version int64
}

// New loads every stored endpoint and builds its client. An endpoint that
// cannot be served (unreadable settings, bad region) is logged and skipped,
// not fatal: the others still work, and it can be deleted through the API.
func New(ctx context.Context, st store.Store, opts Options) (*Handler, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.QueueTimeout <= 0 {
		opts.QueueTimeout = 2 * time.Second
	}
	if opts.MaxInputs <= 0 {
		opts.MaxInputs = DefaultMaxInputs
	}
	h := &Handler{st: st, opts: opts, log: opts.Logger.With("component", "elastic"), httpc: opts.HTTPClient,
		live: map[string]*endpoint{}}
	if h.httpc == nil {
		t, err := bedrock.NewTransportWith(bedrock.TransportOptions{MaxConcurrent: bedrock.DefaultMaxConcurrent, HTTP1Only: opts.HTTP1Only})
		if err != nil {
			return nil, err
		}
		var rt http.RoundTripper = t
		if opts.WrapTransport != nil {
			rt = opts.WrapTransport(rt)
		}
		h.httpc = &http.Client{Transport: rt}
	}
	all, err := st.List(ctx)
	if err != nil {
		return nil, fmt.Errorf("loading inference endpoints: %w", err)
	}
	for _, e := range all {
		ep, err := h.load(ctx, e)
		if err != nil {
			h.log.Error("inference endpoint cannot be served; delete and create it again", "inference_id", e.ID, "error", err)
			continue
		}
		h.live[e.ID] = ep
	}
	h.log.Info("inference endpoints loaded", "count", len(h.live))
	if opts.Refresh > 0 {
		h.stop, h.done = make(chan struct{}), make(chan struct{})
		go h.refreshLoop(opts.Refresh)
	}
	return h, nil
}

// Close stops the background refresh, if any. The store is the caller's.
func (h *Handler) Close() {
	if h.stop != nil {
		close(h.stop)
		<-h.done
		h.stop = nil
	}
}

// load builds the served form of a stored endpoint.
func (h *Handler) load(ctx context.Context, e *store.Endpoint) (*endpoint, error) {
	s, c, err := fromStore(e)
	if err != nil {
		return nil, err
	}
	client, err := h.client(ctx, s, c)
	if err != nil {
		return nil, err
	}
	return &endpoint{s: s, client: client, version: e.Version}, nil
}

// client builds an endpoint's own Bedrock client. It does not call AWS.
func (h *Handler) client(ctx context.Context, s *Settings, c Credentials) (*bedrock.Client, error) {
	return bedrock.New(ctx, bedrock.Config{
		Region:            s.Region,
		Endpoint:          h.opts.BedrockEndpoint,
		AccessKeyID:       c.AccessKey,
		SecretAccessKey:   c.SecretKey,
		RequestsPerMinute: int(min(s.RequestsPerMinute, 1<<31-1)),
		HTTPClient:        h.httpc,
		UserAgent:         h.opts.UserAgent,
	})
}

// lookup returns the live endpoint id, finding it in the store when this
// process has not seen it (another replica created it).
func (h *Handler) lookup(ctx context.Context, id string) (*endpoint, *Error) {
	h.mu.RLock()
	ep, deletes := h.live[id], h.deletes
	h.mu.RUnlock()
	if ep != nil {
		return ep, nil
	}
	e, err := h.st.Get(ctx, id)
	if err != nil {
		return nil, storeErr(id, err)
	}
	ep, err = h.load(ctx, e)
	if err != nil {
		h.log.Error("inference endpoint cannot be served", "inference_id", id, "error", err)
		return nil, storedGarbage(id)
	}
	h.mu.Lock()
	if h.deletes == deletes && h.live[id] == nil {
		h.live[id] = ep
	}
	h.mu.Unlock()
	return ep, nil
}

// publish makes ep the live entry for id (nil removes it). Unless force,
// an entry never replaces a newer one.
func (h *Handler) publish(id string, ep *endpoint, force bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if cur := h.live[id]; !force && cur != nil && ep != nil && cur.version >= ep.version {
		return
	}
	if ep == nil {
		delete(h.live, id)
		h.deletes++
		h.forget(id)
		return
	}
	h.live[id] = ep
}

// forget tells Options.Deleted that id is no longer served.
func (h *Handler) forget(id string) {
	if h.opts.Deleted != nil {
		h.opts.Deleted(id)
	}
}

// refreshLoop reconciles the live endpoints with the store.
func (h *Handler) refreshLoop(every time.Duration) {
	defer close(h.done)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-h.stop:
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), every)
		h.refresh(ctx)
		cancel()
	}
}

func (h *Handler) refresh(ctx context.Context) {
	all, err := h.st.List(ctx)
	if err != nil {
		h.log.Warn("refreshing inference endpoints", "error", err)
		return
	}
	h.writeMu.Lock()
	defer h.writeMu.Unlock()
	seen := make(map[string]bool, len(all))
	for _, e := range all {
		seen[e.ID] = true
		h.mu.RLock()
		cur := h.live[e.ID]
		h.mu.RUnlock()
		if cur != nil && cur.version == e.Version {
			continue
		}
		ep, err := h.load(ctx, e)
		if err != nil {
			h.log.Error("inference endpoint cannot be served", "inference_id", e.ID, "error", err)
			continue
		}
		h.publish(e.ID, ep, true)
	}
	h.mu.Lock()
	for id := range h.live {
		if !seen[id] {
			delete(h.live, id)
			h.deletes++
			h.forget(id)
		}
	}
	h.mu.Unlock()
}

// storeErr maps a store failure.
func storeErr(id string, err error) *Error {
	switch {
	case errors.Is(err, store.ErrNotFound):
		return notFound(id)
	case errors.Is(err, store.ErrExists):
		return alreadyExists(id)
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return upstreamErr(err)
	}
	// The store's errors name no secrets, but they may name files and
	// hosts: the details go to the log, not to the client.
	return statusErr(http.StatusInternalServerError, "Failed to access the inference endpoint store for [%s]", id)
}

func storedGarbage(id string) *Error {
	return statusErr(http.StatusInternalServerError,
		"Failed to parse stored model [%s] for [%s] service, please delete and add the service again", id, serviceName)
}

// ServeHTTP routes /_inference requests as Elasticsearch's REST layer does.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	accesslog.From(r.Context()).SetSurface(SurfaceName)
	// Routed on the escaped path, segment by segment, as Elasticsearch's
	// REST layer does: a %2F inside a segment is part of that segment (an
	// id), never a separator.
	parts := splitPath(r.URL.EscapedPath())
	if parts == nil {
		h.noRoute(w, r)
		return
	}
	m := r.Method
	switch n := len(parts); {
	case n == 0: // /_inference
		h.only(w, r, []string{"GET"}, func() { h.get(w, r, "", "_all") })
	case n == 1 && parts[0] == "_services":
		h.only(w, r, []string{"GET"}, func() { h.services(w, r, "") })
	case n == 2 && parts[0] == "_services":
		h.only(w, r, []string{"GET"}, func() { h.services(w, r, parts[1]) })
	case n == 1:
		switch m {
		case "GET":
			h.get(w, r, "", parts[0])
		case "PUT":
			h.create(w, r, "", parts[0])
		case "DELETE":
			h.delete(w, r, "", parts[0])
		case "POST":
			h.infer(w, r, "", parts[0])
		default:
			h.methodNotAllowed(w, r, "GET", "PUT", "DELETE", "POST")
		}
	case n == 2 && parts[1] == "_update":
		h.only(w, r, []string{"PUT", "POST"}, func() { h.update(w, r, "", parts[0]) })
	case n == 2 && (parts[1] == "_stream" || parts[1] == "_unified"):
		h.only(w, r, []string{"POST"}, func() { h.stream(w, r, "", parts[0], parts[1] == "_unified") })
	case n == 2:
		task, e := parseTaskType(parts[0])
		if e != nil {
			writeError(w, r, e)
			return
		}
		switch m {
		case "GET":
			h.get(w, r, task, parts[1])
		case "PUT":
			h.create(w, r, task, parts[1])
		case "DELETE":
			h.delete(w, r, task, parts[1])
		case "POST":
			h.infer(w, r, task, parts[1])
		default:
			h.methodNotAllowed(w, r, "GET", "PUT", "DELETE", "POST")
		}
	case n == 3 && parts[2] == "_update":
		h.withTask(w, r, parts[0], func(task string) {
			h.only(w, r, []string{"PUT", "POST"}, func() { h.update(w, r, task, parts[1]) })
		})
	case n == 3 && (parts[2] == "_stream" || parts[2] == "_unified"):
		h.withTask(w, r, parts[0], func(task string) {
			h.only(w, r, []string{"POST"}, func() { h.stream(w, r, task, parts[1], parts[2] == "_unified") })
		})
	default:
		h.noRoute(w, r)
	}
}

func (h *Handler) withTask(w http.ResponseWriter, r *http.Request, raw string, next func(task string)) {
	task, e := parseTaskType(raw)
	if e != nil {
		writeError(w, r, e)
		return
	}
	next(task)
}

func (h *Handler) only(w http.ResponseWriter, r *http.Request, methods []string, next func()) {
	if !slices.Contains(methods, r.Method) {
		h.methodNotAllowed(w, r, methods...)
		return
	}
	next()
}

// methodNotAllowed answers as Elasticsearch's REST controller does.
func (h *Handler) methodNotAllowed(w http.ResponseWriter, r *http.Request, allowed ...string) {
	w.Header().Set("Allow", strings.Join(allowed, ","))
	accesslog.From(r.Context()).SetError("method_not_allowed")
	writeJSON(w, http.StatusMethodNotAllowed, map[string]any{
		"error":  fmt.Sprintf("Incorrect HTTP method for uri [%s] and method [%s], allowed: [%s]", r.URL.Path, r.Method, strings.Join(allowed, ", ")),
		"status": http.StatusMethodNotAllowed,
	})
}

func (h *Handler) noRoute(w http.ResponseWriter, r *http.Request) {
	accesslog.From(r.Context()).SetError("no_handler")
	writeJSON(w, http.StatusBadRequest, map[string]any{
		"error":  fmt.Sprintf("no handler found for uri [%s] and method [%s]", r.URL.Path, r.Method),
		"status": http.StatusBadRequest,
	})
}

// splitPath returns the segments after /_inference, or nil for another
// path. Empty segments (a trailing slash) are dropped, as Elasticsearch
// does.
func splitPath(p string) []string {
	rest, ok := strings.CutPrefix(p, "/_inference")
	if !ok || (rest != "" && rest[0] != '/') {
		return nil
	}
	out := []string{}
	for _, s := range strings.Split(rest, "/") {
		if s == "" {
			continue
		}
		if u, err := url.PathUnescape(s); err == nil {
			s = u
		}
		out = append(out, s)
	}
	return out
}

// readBody reads the request body (reqbody.Read: 408, 413, 415, UTF-8).
func readBody(r *http.Request) ([]byte, *Error) {
	b, rerr := reqbody.Read(r)
	if rerr != nil {
		if rerr.Status == http.StatusRequestEntityTooLarge {
			return nil, statusErr(rerr.Status, "Request content length exceeds the limit of [%d] bytes", rerr.Limit)
		}
		return nil, statusErr(rerr.Status, "%s", rerr.Msg)
	}
	return b, nil
}

// boolParam reads a boolean query parameter as Elasticsearch does: absent
// is false, present without a value is true.
func boolParam(r *http.Request, name string) (bool, *Error) {
	q := r.URL.Query()
	if !q.Has(name) {
		return false, nil
	}
	switch v := q.Get(name); v {
	case "", "true":
		return true, nil
	case "false":
		return false, nil
	default:
		return false, &Error{Status: http.StatusBadRequest, Type: "illegal_argument_exception",
			Reason: fmt.Sprintf("Failed to parse value [%s] as only [true] or [false] are allowed.", v)}
	}
}
