// Package server assembles the gateway: the upstream models, the built-in
// emulator when configured, the OpenAI and Elasticsearch API surfaces
// behind API-key auth, health and metrics, logging, and graceful
// shutdown.
package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync/atomic"
	"time"

	"github.com/quarry-dev/quarry/emulator"
	"github.com/quarry-dev/quarry/internal/accesslog"
	"github.com/quarry-dev/quarry/internal/anthropic"
	"github.com/quarry-dev/quarry/internal/auth"
	"github.com/quarry-dev/quarry/internal/config"
	"github.com/quarry-dev/quarry/internal/elastic"
	"github.com/quarry-dev/quarry/internal/metrics"
	"github.com/quarry-dev/quarry/internal/openai"
	"github.com/quarry-dev/quarry/internal/reqbody"
	"github.com/quarry-dev/quarry/internal/responses"
	"github.com/quarry-dev/quarry/internal/store"
	"github.com/quarry-dev/quarry/internal/telemetry"
	"github.com/quarry-dev/quarry/internal/upstream"
)

// Server is a configured gateway, ready to serve.
type Server struct {
	cfg      *config.Config
	log      *slog.Logger
	emu      *emulator.Server // nil unless the config enables it
	reg      *upstream.Registry
	metrics  *metrics.Metrics
	handler  http.Handler
	ready    atomic.Bool
	openaiAP *openai.Handler
	// anthropicAP serves Anthropic's Messages API (/v1/messages).
	anthropicAP *anthropic.Handler
	// elasticAP serves /_inference; it owns the endpoint store.
	elasticAP *elastic.Surface
	// responsesAP serves /v1/responses; respStore keeps stored responses.
	responsesAP *responses.Handler
	respStore   *store.Responses
	// tel is OpenTelemetry; nil when telemetry is off.
	tel *telemetry.Telemetry
}

// Options adjust a Server beyond its config.
type Options struct {
	// Logger receives the gateway's logs; nil builds one on stderr from the
	// config's log_level and log_format.
	Logger *slog.Logger
	// Media overrides the OpenAI surface's media fetching options (tests);
	// nil: the config's server.media.
	Media *openai.MediaOptions
	// UpstreamTransport, when set, carries every model's Bedrock calls
	// (tests record what reached Bedrock with it).
	UpstreamTransport http.RoundTripper
	// Telemetry overrides the OTLP exporters (tests, benchmarks).
	Telemetry telemetry.Options
}

// New builds everything the config describes: it starts the built-in
// emulator if enabled and resolves each model's client once.
func New(ctx context.Context, cfg *config.Config, opts Options) (*Server, error) {
	log := opts.Logger
	if log == nil {
		log = NewLogger(os.Stderr, cfg.Server.LogLevel, cfg.Server.LogFormat)
	}
	s := &Server{cfg: cfg, log: log, metrics: metrics.New()}
	uopts := upstream.Options{UserAgent: "quarry-gateway", Transport: opts.UpstreamTransport, Logger: log}
	if cfg.Emulator.Enabled {
		ecfg := emulator.Config{}
		if cfg.Emulator.ConfigFile != "" {
			var err error
			if ecfg, err = emulator.LoadConfig(cfg.Emulator.ConfigFile); err != nil {
				return nil, fmt.Errorf("emulator: %w", err)
			}
		}
		if cfg.Emulator.Seed != 0 {
			ecfg.Seed = cfg.Emulator.Seed
		}
		ecfg.Logger = log.With("component", "emulator")
		if len(ecfg.Credentials) == 0 {
			// /_inference endpoints sign with the keys their creator gave
			// (placeholders in the documented examples): the built-in
			// emulator accepts any, unless its config names key pairs.
			ecfg.NoAuth = true
		}
		emu, err := emulator.NewServer(ecfg)
		if err != nil {
			return nil, fmt.Errorf("emulator: %w", err)
		}
		s.emu = emu
		uopts.EmulatorURL = emu.URL
		if len(ecfg.Credentials) > 0 {
			uopts.EmulatorAccessKeyID, uopts.EmulatorSecretAccessKey = ecfg.Credentials[0].AccessKeyID, ecfg.Credentials[0].SecretAccessKey
		}
		log.Info("built-in Bedrock emulator started", "url", emu.URL)
	}
	tel, err := telemetry.New(ctx, cfg.Telemetry, opts.Telemetry)
	if err != nil {
		s.Close()
		return nil, err
	}
	if tel != nil {
		s.tel = tel
		uopts.WrapTransport = tel.Transport
	}
	reg, err := upstream.New(ctx, cfg, uopts)
	if err != nil {
		s.Close()
		return nil, err
	}
	s.reg = reg
	cm := cfg.Server.Media
	mopts := openai.MediaOptions{MaxBytes: cm.MaxBytes, Timeout: cm.Timeout, MaxRedirects: cm.MaxRedirects, TrustedHosts: cm.TrustedHosts}
	if opts.Media != nil {
		mopts = *opts.Media
	}
	s.openaiAP = openai.NewHandler(reg, openai.Options{
		Logger:             log,
		UpstreamTimeout:    cfg.Server.UpstreamTimeout,
		StreamIdleTimeout:  cfg.Server.StreamIdleTimeout,
		MaxEmbeddingInputs: cfg.Server.MaxEmbeddingInputs,
		QueueTimeout:       cfg.Server.QueueTimeout,
		Media:              mopts,
	})
	s.anthropicAP = anthropic.NewHandler(reg, anthropic.Options{
		Logger:            log,
		UpstreamTimeout:   cfg.Server.UpstreamTimeout,
		StreamIdleTimeout: cfg.Server.StreamIdleTimeout,
		QueueTimeout:      cfg.Server.QueueTimeout,
	})
	// The Elasticsearch inference API and its store.
	emuURL := ""
	if s.emu != nil {
		emuURL = s.emu.URL
	}
	if s.elasticAP, err = elastic.Open(ctx, cfg, emuURL, log, func(id string) { s.metrics.Forget(elastic.SurfaceName, id) }); err != nil {
		s.Close()
		return nil, err
	}
	if err := s.openResponses(ctx); err != nil {
		s.Close()
		return nil, err
	}
	s.handler = s.routes()
	s.ready.Store(true)
	return s, nil
}

func (s *Server) routes() http.Handler {
	keys := auth.Keys(s.cfg.Server.APIKeys)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /health", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /v1/ready", func(w http.ResponseWriter, r *http.Request) {
		if !s.ready.Load() {
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "starting"})
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
	})
	mux.Handle("GET /metrics", keys.Require(s.metrics.Handler(), denyPlain))
	// The gateway's own routes with another method: 405 with Allow, in
	// the OpenAI format the rest of /v1 and the catch-all use.
	for _, path := range []string{"/health", "/v1/ready", "/metrics"} {
		mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) { openai.MethodNotAllowed(w, r, "GET, HEAD") })
	}
	openaiH := keys.Require(s.openaiAP, denyOpenAI)
	mux.Handle("/v1/", openaiH)
	// The busiest OpenAI routes also by their exact pattern, to the same
	// handler: the mux matches an exact pattern in one walk of its tree,
	// while a path matched by the "/v1/" prefix costs three allocations
	// and a second walk (to rule out a trailing-slash redirect). A wrong
	// method still falls through to "/v1/", whose handler answers 405
	// (TestRoutes).
	mux.Handle("POST /v1/chat/completions", openaiH)
	mux.Handle("POST /v1/embeddings", openaiH)
	respH := keys.Require(s.responsesAP, denyOpenAI)
	mux.Handle("/v1/responses", respH)
	mux.Handle("/v1/responses/", respH)
	// Anthropic's Messages API (also with ?beta=true, the same path);
	// keys in x-api-key or Authorization: Bearer.
	anthropicH := keys.Require(s.anthropicAP, anthropic.Deny)
	mux.Handle("POST /v1/messages", anthropicH)
	mux.Handle("POST /v1/messages/count_tokens", anthropicH)
	// Anything else under /v1/messages/ is Anthropic's too: a 404 (or 405)
	// in its error format, with a request-id.
	mux.Handle("/v1/messages/", anthropicH)
	// Elasticsearch's clients check the product header on every answer,
	// the 401 included, and ping GET / (HEAD /) for cluster info.
	elasticH := elastic.Product(keys.Require(s.elasticAP, elastic.Deny))
	mux.Handle("/_inference", elasticH)
	mux.Handle("/_inference/", elasticH)
	mux.Handle("GET /{$}", elastic.Product(keys.Require(http.HandlerFunc(elastic.ClusterInfo), elastic.Deny)))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusNotFound, map[string]any{"error": map[string]any{
			"message": "Unknown request URL: " + r.Method + " " + r.URL.Path + ". The OpenAI API is under /v1/.",
			"type":    "invalid_request_error", "param": nil, "code": "unknown_url"}})
	})
	limit, bodyTimeout := s.cfg.Server.MaxRequestBytes, s.cfg.Server.BodyReadTimeout
	var h http.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The surfaces turn the body's errors into 413 and 408 in their
		// own format (reqbody.Read); nothing reads the body before the
		// API key is checked.
		reqbody.Guard(w, r, limit, bodyTimeout)
		mux.ServeHTTP(w, r)
	})
	h = recoverPanics(s.log, h)
	if s.tel != nil {
		h = s.tel.Middleware(h)
	}
	return accesslog.Middleware(s.log, h, s.metrics.Observe)
}

// denyOpenAI answers a request without a valid key in OpenAI's format.
func denyOpenAI(w http.ResponseWriter, r *http.Request, presented bool) {
	msg := "Missing API key: send it as 'Authorization: Bearer <key>'."
	code := "missing_api_key"
	if presented {
		msg, code = "Incorrect API key provided.", "invalid_api_key"
	}
	accesslog.From(r.Context()).SetError("authentication_error")
	w.Header().Set("WWW-Authenticate", `Bearer realm="quarry"`)
	writeJSON(w, http.StatusUnauthorized, map[string]any{"error": map[string]any{
		"message": msg, "type": "authentication_error", "param": nil, "code": code}})
}

func denyPlain(w http.ResponseWriter, r *http.Request, presented bool) {
	w.Header().Set("WWW-Authenticate", `Bearer realm="quarry"`)
	http.Error(w, "unauthorized", http.StatusUnauthorized)
}

// recoverPanics turns a handler panic into a logged 500 for that request
// only; the server keeps serving. (Handlers are written not to panic; this
// is the last line of defence.) Once the response's headers are out, a 500
// can no longer be sent: like httputil.ReverseProxy, it then aborts the
// connection (http.ErrAbortHandler), so the client sees a broken response
// rather than a JSON error glued to a 200's body.
func recoverPanics(log *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				log.Error("handler panic", "request_id", accesslog.From(r.Context()).ID, "panic", fmt.Sprint(v))
				if rec, ok := w.(*accesslog.Recorder); ok && rec.Status != 0 {
					panic(http.ErrAbortHandler)
				}
				writeJSON(w, http.StatusInternalServerError, map[string]any{"error": map[string]any{
					"message": "internal error", "type": "api_error", "param": nil, "code": nil}})
			}
		}()
		next.ServeHTTP(w, r)
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// Handler is the gateway's HTTP handler (for tests and embedding).
func (s *Server) Handler() http.Handler { return s.handler }

// FlushTelemetry exports the spans and metrics buffered so far (tests;
// Close does it too). Without telemetry it does nothing.
func (s *Server) FlushTelemetry(ctx context.Context) error { return s.tel.ForceFlush(ctx) }

// Registry is the set of served models.
func (s *Server) Registry() *upstream.Registry { return s.reg }

// Emulator is the built-in emulator, or nil when it is not enabled.
func (s *Server) Emulator() *emulator.Server { return s.emu }

// Serve serves on ln until ctx is done, then shuts down gracefully:
// in-flight requests get ShutdownTimeout to finish.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	hs := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: s.cfg.Server.ReadHeaderTimeout,
		IdleTimeout:       s.cfg.Server.IdleTimeout,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	s.ready.Store(false)
	sctx, cancel := context.WithTimeout(context.Background(), s.cfg.Server.ShutdownTimeout)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil {
		hs.Close()
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// Close closes the inference endpoint store and stops the built-in
// emulator, if any.
func (s *Server) Close() {
	if s.respStore != nil {
		s.respStore.Close()
		s.respStore = nil
	}
	if s.elasticAP != nil {
		if err := s.elasticAP.Close(); err != nil {
			s.log.Warn("closing the inference endpoint store", "error", err)
		}
		s.elasticAP = nil
	}
	if s.emu != nil {
		s.emu.Close()
	}
	if s.tel != nil {
		// What is still buffered is exported, within a bound.
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if err := s.tel.Shutdown(ctx); err != nil {
			s.log.Warn("telemetry shutdown", "error", err)
		}
		cancel()
		s.tel = nil
	}
}

// NewLogger builds the gateway's slog logger.
func NewLogger(w io.Writer, level, format string) *slog.Logger {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		lv = slog.LevelInfo
	}
	o := &slog.HandlerOptions{Level: lv}
	if format == "text" {
		return slog.New(slog.NewTextHandler(w, o))
	}
	return slog.New(slog.NewJSONHandler(w, o))
}
