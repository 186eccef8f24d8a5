// Package openai serves the OpenAI-compatible API (chat completions,
// embeddings, image generation, models) in front of Bedrock: pure
// translations between OpenAI and Bedrock wire types, and the handlers that
// call the upstream models.
package openai

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/quarry-dev/quarry/bedrock"
	"github.com/quarry-dev/quarry/internal/accesslog"
	"github.com/quarry-dev/quarry/internal/config"
	"github.com/quarry-dev/quarry/internal/reqbody"
	"github.com/quarry-dev/quarry/internal/upstream"
)

// Options configure the handler. Zero values take the defaults noted.
type Options struct {
	Logger *slog.Logger // nil: slog.Default()
	// UpstreamTimeout bounds a non-streaming Bedrock call and the wait for a
	// stream's first event. 0: 10 minutes.
	UpstreamTimeout time.Duration
	// StreamIdleTimeout bounds the wait between two events of a stream
	// once it has started. 0: 60 seconds; negative: no bound.
	StreamIdleTimeout time.Duration
	// QueueTimeout bounds the wait for a model's limiter before a 429.
	// 0: 2 seconds.
	QueueTimeout time.Duration
	// MaxEmbeddingInputs caps the inputs of one embeddings request.
	// 0: 2048 (OpenAI's limit).
	MaxEmbeddingInputs int
	// Media controls how the gateway fetches http(s) media URLs in requests.
	Media MediaOptions
}

// MediaOptions limit the gateway's own fetching of media URLs.
type MediaOptions struct {
	MaxBytes     int64         // 0: 20 MiB
	Timeout      time.Duration // 0: 30s
	MaxRedirects int           // 0: 5
	// TrustedHosts may be fetched even when they resolve to loopback,
	// private, link-local or metadata addresses (host or host:port).
	TrustedHosts []string
	// Client overrides the HTTP client used for fetching (tests).
	Client *http.Client
}

// Handler serves the OpenAI API for the models of a registry.
type Handler struct {
	reg  *upstream.Registry
	opts Options
	log  *slog.Logger
	mux  *http.ServeMux
	// queue is the per-call option for server.queue_timeout, made once
	// (a fresh one per call would cost an allocation).
	queue bedrock.CallOption
	// started is the gateway's start, the "created" time of its models.
	started time.Time
	// media fetches the http(s) media URLs of chat requests; fetch is its
	// fetch method, made into a func value once rather than per request.
	media *mediaFetcher
	fetch fetchFunc
	// chats are the registry's chat models, as the chat handler serves them.
	chats map[*upstream.Model]*servedChat
}

// NewHandler returns the OpenAI API handler.
func NewHandler(reg *upstream.Registry, opts Options) *Handler {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.UpstreamTimeout <= 0 {
		opts.UpstreamTimeout = 10 * time.Minute
	}
	if opts.MaxEmbeddingInputs <= 0 {
		opts.MaxEmbeddingInputs = config.DefaultMaxEmbeddingInputs
	}
	if opts.StreamIdleTimeout == 0 {
		opts.StreamIdleTimeout = time.Minute
	}
	if opts.QueueTimeout <= 0 {
		opts.QueueTimeout = 2 * time.Second
	}
	h := &Handler{reg: reg, opts: opts, log: opts.Logger, mux: http.NewServeMux(), started: time.Now(),
		queue: bedrock.WithQueueTimeout(opts.QueueTimeout), media: newMediaFetcher(opts.Media),
		chats: map[*upstream.Model]*servedChat{}}
	h.fetch = h.media.fetch
	if reg != nil {
		for _, m := range reg.Models() {
			if m.Kind == config.KindChat {
				h.chats[m] = newServedChat(m)
			}
		}
	}
	h.mux.HandleFunc("POST /v1/chat/completions", h.chatCompletions)
	h.mux.HandleFunc("POST /v1/embeddings", h.embeddings)
	h.mux.HandleFunc("POST /v1/images/generations", h.imageGenerations)
	h.mux.HandleFunc("POST /v1/images/edits", h.imageEdits)
	h.mux.HandleFunc("POST /v1/images/variations", h.imageVariations)
	h.mux.HandleFunc("POST /v1/rerank", h.rerank)
	h.mux.HandleFunc("POST /v1/count_tokens", h.countTokens)
	h.mux.HandleFunc("POST /v1/guardrails/apply", h.applyGuardrail)
	h.mux.HandleFunc("GET /v1/models", h.listModels)
	h.mux.HandleFunc("GET /v1/models/{id...}", h.getModel)
	// A route's path with another method: 405 naming the methods it takes
	// (the method-less pattern loses to the ones above when they match).
	for path, allow := range map[string]string{
		"/v1/chat/completions":   "POST",
		"/v1/embeddings":         "POST",
		"/v1/images/generations": "POST",
		"/v1/models":             "GET, HEAD",
		"/v1/models/{id...}":     "GET, HEAD",
	} {
		h.mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) { MethodNotAllowed(w, r, allow) })
	}
	h.mux.HandleFunc("/v1/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, r, http.StatusNotFound, "invalid_request_error", "", "unknown_url",
			fmt.Sprintf("Unknown request URL: %s %s.", r.Method, r.URL.Path))
	})
	return h
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	accesslog.From(r.Context()).SetSurface("openai")
	// Chat completions, most of the traffic, skip the mux: besides the
	// routing, that saves three frames under every stream's setup, which
	// must stay within an 8 KiB goroutine stack (see chatConverter.message).
	if r.Method == http.MethodPost && r.URL.Path == "/v1/chat/completions" {
		h.chatCompletions(w, r)
		return
	}
	h.mux.ServeHTTP(w, r)
}

// apiError is an OpenAI error response.
type apiError struct {
	Status int
	Type   string // invalid_request_error, authentication_error, ...
	Param  string // the offending request field, when there is one
	Code   string
	Msg    string
}

func (e *apiError) Error() string { return e.Msg }

// invalid is a 400 naming the field.
func invalid(param, format string, args ...any) *apiError {
	return &apiError{Status: http.StatusBadRequest, Type: "invalid_request_error", Param: param, Msg: fmt.Sprintf(format, args...)}
}

// writeError writes OpenAI's error body:
// {"error":{"message":…,"type":…,"param":…,"code":…}}.
func writeError(w http.ResponseWriter, r *http.Request, status int, typ, param, code, msg string) {
	accesslog.From(r.Context()).SetError(typ)
	body := struct {
		Error struct {
			Message string  `json:"message"`
			Type    string  `json:"type"`
			Param   *string `json:"param"`
			Code    *string `json:"code"`
		} `json:"error"`
	}{}
	body.Error.Message, body.Error.Type = msg, typ
	if param != "" {
		body.Error.Param = &param
	}
	if code != "" {
		body.Error.Code = &code
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(body)
}

// MethodNotAllowed answers a method a route does not take: 405 with Allow
// (e.g. "POST" or "GET, HEAD"), in OpenAI's error format.
func MethodNotAllowed(w http.ResponseWriter, r *http.Request, allow string) {
	w.Header().Set("Allow", allow)
	writeError(w, r, http.StatusMethodNotAllowed, "invalid_request_error", "", "method_not_allowed",
		fmt.Sprintf("Method %s is not allowed for %s; use %s.", r.Method, r.URL.Path, allow))
}

func writeAPIError(w http.ResponseWriter, r *http.Request, e *apiError) {
	writeError(w, r, e.Status, e.Type, e.Param, e.Code, e.Msg)
}

// failureType maps an upstream failure kind to OpenAI's error type.
var failureType = map[upstream.FailureKind]string{
	upstream.FailureInvalidRequest:      "invalid_request_error",
	upstream.FailureNotFound:            "not_found_error",
	upstream.FailureRateLimit:           "rate_limit_error",
	upstream.FailureUpstreamTimeout:     "timeout_error",
	upstream.FailureUpstreamUnavailable: "service_unavailable_error",
	upstream.FailureUpstreamError:       "api_error",
	upstream.FailureCanceled:            "canceled",
	upstream.FailurePermission:          "permission_error",
	upstream.FailureBudget:              "insufficient_quota",
}

// allowed is nil when the request's key may use m now (upstream.Allow),
// else OpenAI's 403 permission_error or 429 insufficient_quota (its own
// answer for an exhausted quota), with the kind as the code.
func allowed(ctx context.Context, m *upstream.Model) *apiError {
	err := upstream.Allow(ctx, m)
	if err == nil {
		return nil
	}
	f := upstream.Classify(err)
	return &apiError{Status: f.Status, Type: failureType[f.Kind], Param: "model", Code: string(f.Kind), Msg: f.Message}
}

// writeFailure answers a failed Bedrock call (see upstream.Classify).
func writeFailure(w http.ResponseWriter, r *http.Request, err error) {
	f := upstream.Classify(err)
	if f.RequestID != "" {
		accesslog.From(r.Context()).SetUpstreamRequestID(f.RequestID)
		w.Header().Set("x-amzn-requestid", f.RequestID)
	}
	if f.RetryAfter > 0 {
		w.Header().Set("Retry-After", fmt.Sprint(int(f.RetryAfter.Round(time.Second)/time.Second)))
	}
	writeError(w, r, f.Status, failureType[f.Kind], "", f.Code, f.Message)
}

// decodeBody reads a JSON request body into dst, with errors that say what
// is wrong and where. Unknown fields are ignored, as clients send parameters
// Bedrock has no use for.
func decodeBody(r *http.Request, dst any) *apiError {
	data, aerr := readBody(r)
	if aerr != nil {
		return aerr
	}
	return unmarshalBody(data, dst)
}

// readBody reads a request body that must not be empty (see decodeBody).
func readBody(r *http.Request) ([]byte, *apiError) {
	data, rerr := reqbody.Read(r)
	if rerr != nil {
		return nil, &apiError{Status: rerr.Status, Type: "invalid_request_error", Param: rerr.Param, Msg: rerr.Msg}
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, invalid("", "The request body is empty; send a JSON object.")
	}
	return data, nil
}

// unmarshalBody decodes a body readBody read into dst (see decodeBody).
func unmarshalBody(data []byte, dst any) *apiError {
	if err := json.Unmarshal(data, dst); err != nil {
		return bodyError(err)
	}
	return nil
}

// bodyError words an error from decoding a request body.
func bodyError(err error) *apiError {
	var te *json.UnmarshalTypeError
	var se *json.SyntaxError
	switch {
	case errors.As(err, &te):
		field := te.Field
		if field == "" {
			return invalid("", "The request body must be a JSON object.")
		}
		return invalid(field, "Invalid type for '%s': expected %s, got %s.", field, jsonTypeName(te.Type.Kind().String()), te.Value)
	case errors.As(err, &se):
		return invalid("", "The request body is not valid JSON (offset %d): %s.", se.Offset, se.Error())
	default:
		return invalid("", "The request body is not valid: %s.", err.Error())
	}
}

func jsonTypeName(kind string) string {
	switch kind {
	case "string":
		return "a string"
	case "bool":
		return "a boolean"
	case "slice", "array":
		return "an array"
	case "map", "struct", "ptr":
		return "an object"
	case "float64", "float32", "int", "int64", "int32", "uint", "uint64":
		return "a number"
	}
	return kind
}
