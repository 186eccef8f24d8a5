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
	"sync"
	"sync/atomic"
	"time"

	"github.com/quarry-dev/quarry/emulator"
	"github.com/quarry-dev/quarry/internal/accesslog"
	"github.com/quarry-dev/quarry/internal/anthropic"
	"github.com/quarry-dev/quarry/internal/auth"
	"github.com/quarry-dev/quarry/internal/config"
	"github.com/quarry-dev/quarry/internal/elastic"
	"github.com/quarry-dev/quarry/internal/limits"
	"github.com/quarry-dev/quarry/internal/metrics"
	"github.com/quarry-dev/quarry/internal/openai"
	"github.com/quarry-dev/quarry/internal/reqbody"
	"github.com/quarry-dev/quarry/internal/store"
	"github.com/quarry-dev/quarry/internal/telemetry"
	"github.com/quarry-dev/quarry/internal/upstream"
	"github.com/quarry-dev/quarry/internal/usage"
	"github.com/quarry-dev/quarry/internal/vkeys"
)

// Server is a configured gateway, ready to serve. What a reload may change
// (models, keys, limits, surfaces) lives in a generation (reload.go); the
// rest (listener, emulator, stores, metrics) lives as long as the Server.
type Server struct {
	cfg     *config.Config // as started; restart-only settings come from here
	log     *slog.Logger
	opts    Options
	uopts   upstream.Options
	emu     *emulator.Server // nil unless the config enables it
	metrics *metrics.Metrics
	handler http.Handler
	ready   atomic.Bool
	// draining is set once shutdown has begun (/v1/ready says so).
	draining atomic.Bool
	gen      atomic.Pointer[generation]
	reloadMu sync.Mutex
	// elasticAP serves /_inference; it owns the endpoint store.
	elasticAP *elastic.Surface
	// respStore keeps stored responses for /v1/responses.
	respStore *store.Responses
	// console serves the web console (/ui/, console.go).
	console consoleParts
	// limits admits the models' calls (limits.go).
	limits *limits.Limiter
	// Virtual keys (/admin/keys): the store and the in-memory copy the
	// request path reads.
	keyStore *store.VirtualKeys
	keyCache *vkeys.Cache
	// Usage and cost (usage.go).
	meter      *usage.Meter
	usageRec   *usage.Recorder
	usageStore *store.UsageStore
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
	// Spend reads virtual keys' spend for their budgets (the usage
	// store); nil: budgets are not enforced.
	Spend vkeys.Spender
	// KeyPollInterval is how often the virtual keys are re-read from the
	// store (0: vkeys.DefaultPollInterval).
	KeyPollInterval time.Duration
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
	s := &Server{cfg: cfg, log: log, opts: opts, metrics: metrics.New()}
	uopts := upstream.Options{UserAgent: "quarry-gateway", Transport: opts.UpstreamTransport, Logger: log,
		HTTP1Only: cfg.Server.UpstreamHTTP1Only}
	uopts.WrapTransport = s.console.wrapTransport
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
		// Each attempt's span wraps what the console counts.
		s.tel = tel
		uopts.WrapTransport = func(rt http.RoundTripper) http.RoundTripper { return tel.Transport(s.console.wrapTransport(rt)) }
	}
	// The limiter keeps its backend (Redis) for the process; each
	// generation's registry applies its models' rules to it.
	lim, err := newLimiter(cfg.Limits, log)
	if err != nil {
		s.Close()
		return nil, err
	}
	s.limits, uopts.Limits = lim, lim
	s.uopts = uopts
	// The Elasticsearch inference API and its store.
	emuURL := ""
	if s.emu != nil {
		emuURL = s.emu.URL
	}
	// Each of its Bedrock attempts gets a span, as the models' do.
	var wrap func(http.RoundTripper) http.RoundTripper
	if tel != nil {
		wrap = tel.Transport
	}
	if s.elasticAP, err = elastic.Open(ctx, cfg, emuURL, log, func(id string) {
		s.metrics.Forget(elastic.SurfaceName, id)
		s.forgetUsageSeries(id)
	}, wrap); err != nil {
		s.Close()
		return nil, err
	}
	if err := s.openResponses(ctx); err != nil {
		s.Close()
		return nil, err
	}
	if err := s.openUsage(ctx); err != nil {
		s.Close()
		return nil, err
	}
	if err := s.openKeys(ctx, opts); err != nil {
		s.Close()
		return nil, err
	}
	s.startConsole()
	g, err := s.newGeneration(ctx, cfg)
	if err != nil {
		s.Close()
		return nil, err
	}
	g.id = 1
	s.gen.Store(g)
	// recoverPanics must get the access log's Recorder (it checks whether
	// headers are out), so the cost headers go inside it.
	var h http.Handler = recoverPanics(log, s.withCostHeaders(currentGeneration{s}))
	if s.tel != nil {
		h = s.tel.Middleware(h) // inside the access log: it reads the entry
	}
	s.handler = accesslog.Middleware(log, withLimits(s.limits, h), s.observe)
	s.ready.Store(true)
	return s, nil
}

// routes is one generation's handler: its keys, models and surfaces.
func (s *Server) routes(g *generation) http.Handler {
	keys := auth.Keys(g.cfg.Server.APIKeys)
	// The API surfaces take config keys and virtual keys; /metrics only
	// config keys.
	gate := auth.Gate{Keys: keys, Virtual: s.keyCache}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /health", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /v1/ready", func(w http.ResponseWriter, r *http.Request) {
		if !s.ready.Load() {
			status := "starting"
			if s.draining.Load() {
				status = "draining"
			}
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": status})
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
	// The gateway's management routes, behind the one admin guard.
	mux.Handle("GET /admin/config", auth.Admin(g.cfg.Server.AdminKey, config.IsLoopback(s.cfg.Server.Address),
		http.HandlerFunc(s.adminConfig), denyOpenAI))
	openaiH := gate.Require(g.openaiAP, denyOpenAI)
	mux.Handle("/v1/", openaiH)
	// The busiest OpenAI route also by its exact pattern, to the same
	// handler: the mux matches an exact pattern in one walk of its tree,
	// while a path matched by the "/v1/" prefix costs three allocations
	// and a second walk (to rule out a trailing-slash redirect). A wrong
	// method still falls through to "/v1/", whose handler answers 405
	// (TestRoutes). POST /v1/chat/completions is taken before the mux
	// (below).
	mux.Handle("POST /v1/embeddings", openaiH)
	// POST /v1/responses is taken before the mux (below).
	respH := gate.Require(g.responsesAP, denyOpenAI)
	mux.Handle("/v1/responses", respH)
	mux.Handle("/v1/responses/", respH)
	// Anthropic's Messages API (also with ?beta=true, the same path);
	// keys in x-api-key or Authorization: Bearer.
	// POST /v1/messages is taken before the mux (below).
	anthropicH := gate.Require(g.anthropicAP, anthropic.Deny)
	mux.Handle("POST /v1/messages/count_tokens", anthropicH)
	// Anything else at /v1/messages or under /v1/messages/ is Anthropic's
	// too: a 405 or 404 in its error format, with a request-id (without
	// the exact pattern, the mux redirected GET /v1/messages to
	// /v1/messages/).
	mux.Handle("/v1/messages", anthropicH)
	mux.Handle("/v1/messages/", anthropicH)
	// Elasticsearch's clients check the product header on every answer,
	// the 401 included, and ping GET / (HEAD /) for cluster info.
	elasticH := elastic.Product(gate.Require(s.elasticAP, elastic.Deny))
	mux.Handle("/_inference", elasticH)
	mux.Handle("/_inference/", elasticH)
	mux.Handle("GET /{$}", elastic.Product(gate.Require(http.HandlerFunc(elastic.ClusterInfo), elastic.Deny)))
	// Virtual keys' admin API (admin key, or loopback without one).
	keysAdmin := s.keysAdmin()
	mux.Handle("/admin/keys", keysAdmin)
	mux.Handle("/admin/keys/", keysAdmin)
	s.usageRoutes(mux)
	s.mountConsole(mux, g)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusNotFound, map[string]any{"error": map[string]any{
			"message": "Unknown request URL: " + r.Method + " " + r.URL.Path + ". The OpenAI API is under /v1/.",
			"type":    "invalid_request_error", "param": nil, "code": "unknown_url"}})
	})
	limit, bodyTimeout := g.cfg.Server.MaxRequestBytes, g.cfg.Server.BodyReadTimeout
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The surfaces turn the body's errors into 413 and 408 in their
		// own format (reqbody.Read); nothing reads the body before the
		// API key is checked.
		reqbody.Guard(w, r, limit, bodyTimeout)
		// Chat completions, Messages and Responses, most of the
		// traffic, skip the mux walk and its two frames under the
		// stream's setup and wait (see chatConverter.message in
		// internal/openai).
		if r.Method == http.MethodPost {
			switch r.URL.Path {
			case "/v1/chat/completions":
				openaiH.ServeHTTP(w, r)
				return
			case "/v1/messages":
				anthropicH.ServeHTTP(w, r)
				return
			case "/v1/responses":
				respH.ServeHTTP(w, r)
				return
			}
		}
		mux.ServeHTTP(w, r)
	})
}

// denyOpenAI answers a request without a valid key in OpenAI's format.
func denyOpenAI(w http.ResponseWriter, r *http.Request, presented bool) {
	msg := "Missing API key: send it as 'Authorization: Bearer <key>'."
	code := "missing_api_key"
	if presented {
		msg, code = "Incorrect API key provided.", "invalid_api_key"
	}
	if why := auth.Refusal(r); why != "" {
		msg = why
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

// Registry is the set of models served to new requests.
func (s *Server) Registry() *upstream.Registry { return s.gen.Load().reg }

// Emulator is the built-in emulator, or nil when it is not enabled.
func (s *Server) Emulator() *emulator.Server { return s.emu }

// Serve serves on ln until ctx is done, then drains and shuts down: /v1/ready
// answers 503 at once while requests are still served for
// server.drain_delay (load balancers notice and stop sending), then the
// listener closes (new connections are refused) and in-flight requests and
// streams get server.shutdown_timeout to finish.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	// HTTP/1.1, and HTTP/2 with prior knowledge (h2c) for proxies and
	// clients that multiplex: an h2c stream costs the gateway one
	// goroutine and a few KB, an HTTP/1.1 connection two and ~13 KB.
	var protocols http.Protocols
	protocols.SetHTTP1(true)
	protocols.SetUnencryptedHTTP2(true)
	hs := &http.Server{
		Protocols:         &protocols,
		Handler:           s.handler,
		ReadHeaderTimeout: s.cfg.Server.ReadHeaderTimeout,
		IdleTimeout:       s.cfg.Server.IdleTimeout,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	hs.RegisterOnShutdown(s.console.shutdown)
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	cfg := s.gen.Load().cfg.Server // drain_delay and shutdown_timeout are reloadable
	s.draining.Store(true)
	s.ready.Store(false)
	// Answers during the drain ask clients to reconnect, which sends
	// their next request to a replica that is staying.
	hs.SetKeepAlivesEnabled(false)
	s.log.Info("shutting down: not ready, draining", "drain_delay", cfg.DrainDelay.String(), "shutdown_timeout", cfg.ShutdownTimeout.String())
	if cfg.DrainDelay > 0 {
		t := time.NewTimer(cfg.DrainDelay)
		select {
		case <-t.C:
		case err := <-errc:
			t.Stop()
			return err
		}
	}
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil {
		hs.Close()
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	s.log.Info("shut down: every in-flight request finished")
	return nil
}

// Close closes the inference endpoint store and stops the built-in
// emulator, if any.
func (s *Server) Close() {
	s.closeKeys()
	s.closeUsage()
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
	if g := s.gen.Load(); g != nil {
		g.reg.Close()
	}
	if s.emu != nil {
		s.emu.Close()
	}
	if s.limits != nil {
		s.limits.Close()
		s.limits = nil
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
