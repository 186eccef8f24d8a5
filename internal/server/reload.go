package server

import (
	"context"
	"crypto/sha256"
	"errors"
	"net/http"
	"os"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/quarry-dev/quarry/internal/anthropic"
	"github.com/quarry-dev/quarry/internal/config"
	"github.com/quarry-dev/quarry/internal/openai"
	"github.com/quarry-dev/quarry/internal/responses"
	"github.com/quarry-dev/quarry/internal/upstream"
)

// A generation is what one loaded config serves: its models (registry),
// keys, limits and the surfaces built on them. A reload builds a new one and
// swaps it in for new requests; requests already in the old one finish
// there, and the old registry is closed after the last of them.
type generation struct {
	id       int
	cfg      *config.Config
	loadedAt time.Time
	// restartPending names the changed settings this generation kept at
	// their running values (they need a restart).
	restartPending []string
	reg            *upstream.Registry
	openaiAP       *openai.Handler
	anthropicAP    *anthropic.Handler
	responsesAP    *responses.Handler
	handler        http.Handler

	inflight  atomic.Int64
	retired   atomic.Bool
	closed    atomic.Bool
	closeOnce sync.Once
}

// newGeneration builds the models and surfaces cfg describes.
func (s *Server) newGeneration(ctx context.Context, cfg *config.Config) (*generation, error) {
	reg, err := upstream.New(ctx, cfg, s.uopts)
	if err != nil {
		return nil, err
	}
	g := &generation{cfg: cfg, reg: reg, loadedAt: time.Now()}
	cm := cfg.Server.Media
	mopts := openai.MediaOptions{MaxBytes: cm.MaxBytes, Timeout: cm.Timeout, MaxRedirects: cm.MaxRedirects, TrustedHosts: cm.TrustedHosts}
	if s.opts.Media != nil {
		mopts = *s.opts.Media
	}
	g.openaiAP = openai.NewHandler(reg, openai.Options{
		Logger:             s.log,
		UpstreamTimeout:    cfg.Server.UpstreamTimeout,
		StreamIdleTimeout:  cfg.Server.StreamIdleTimeout,
		MaxEmbeddingInputs: cfg.Server.MaxEmbeddingInputs,
		QueueTimeout:       cfg.Server.QueueTimeout,
		Media:              mopts,
	})
	g.anthropicAP = anthropic.NewHandler(reg, anthropic.Options{
		Logger:            s.log,
		UpstreamTimeout:   cfg.Server.UpstreamTimeout,
		StreamIdleTimeout: cfg.Server.StreamIdleTimeout,
		QueueTimeout:      cfg.Server.QueueTimeout,
	})
	g.responsesAP = responses.NewHandler(g.openaiAP, s.respStore, s.log)
	g.handler = s.routes(g)
	return g, nil
}

// currentGeneration serves a request on the server's current generation,
// counting it in flight there until it ends (a stream: until its last
// byte). A type, not http.HandlerFunc(s.method): that would put two more
// frames under every request (see chatConverter.message in
// internal/openai).
type currentGeneration struct{ s *Server }

func (c currentGeneration) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	g := c.s.acquire()
	defer g.release()
	g.handler.ServeHTTP(w, r)
}

// acquire counts a request in the current generation. Seeing the same
// generation current after counting means a reload that swaps it later
// sees the count, so it never closes a registry a request still uses.
func (s *Server) acquire() *generation {
	for {
		g := s.gen.Load()
		g.inflight.Add(1)
		if s.gen.Load() == g {
			return g
		}
		g.release()
	}
}

func (g *generation) release() {
	if g.inflight.Add(-1) == 0 && g.retired.Load() {
		g.close()
	}
}

// retire marks g replaced; it closes when its last request ends.
func (g *generation) retire() {
	g.retired.Store(true)
	if g.inflight.Load() == 0 {
		g.close()
	}
}

func (g *generation) close() {
	g.closeOnce.Do(func() {
		g.reg.Close()
		g.closed.Store(true)
	})
}

// Reload serves next to new requests from now on; requests in flight finish
// on the config they started with. Settings that need a restart
// (RestartOnly) keep their running values in next and are returned by
// name. On error (a model's client cannot be built) nothing changes.
func (s *Server) Reload(ctx context.Context, next *config.Config) (kept []string, err error) {
	s.reloadMu.Lock()
	defer s.reloadMu.Unlock()
	kept = keepRestartOnly(s.cfg, next)
	g, err := s.newGeneration(ctx, next)
	if err != nil {
		return kept, err
	}
	old := s.gen.Load()
	g.id, g.restartPending = old.id+1, kept
	s.gen.Store(g)
	old.retire()
	return kept, nil
}

// keepRestartOnly copies into next the running value of every setting a
// reload cannot change (the listener, the built-in emulator, the stores,
// the logger, and what /_inference was opened with), and names those that
// next wanted to change.
func keepRestartOnly(running, next *config.Config) []string {
	var kept []string
	keep := func(name string, cur, want any, restore func()) {
		if !reflect.DeepEqual(cur, want) {
			kept = append(kept, name)
			restore()
		}
	}
	rs, ns := &running.Server, &next.Server
	keep("server.address", rs.Address, ns.Address, func() { ns.Address = rs.Address })
	keep("server.read_header_timeout", rs.ReadHeaderTimeout, ns.ReadHeaderTimeout, func() { ns.ReadHeaderTimeout = rs.ReadHeaderTimeout })
	keep("server.idle_timeout", rs.IdleTimeout, ns.IdleTimeout, func() { ns.IdleTimeout = rs.IdleTimeout })
	keep("server.log_level", rs.LogLevel, ns.LogLevel, func() { ns.LogLevel = rs.LogLevel })
	keep("server.log_format", rs.LogFormat, ns.LogFormat, func() { ns.LogFormat = rs.LogFormat })
	keep("server.max_inference_inputs", rs.MaxInferenceInputs, ns.MaxInferenceInputs, func() { ns.MaxInferenceInputs = rs.MaxInferenceInputs })
	keep("server.bedrock_endpoint_url", rs.BedrockEndpointURL, ns.BedrockEndpointURL, func() { ns.BedrockEndpointURL = rs.BedrockEndpointURL })
	keep("emulator", running.Emulator, next.Emulator, func() { next.Emulator = running.Emulator })
	keep("store", running.Store, next.Store, func() { next.Store = running.Store })
	// The limiter's backend and the usage recorder live as long as the
	// process (each generation applies its models' limits to them).
	keep("limits", running.Limits, next.Limits, func() { next.Limits = running.Limits })
	keep("usage", running.Usage, next.Usage, func() { next.Usage = running.Usage })
	keep("server.admin_key", rs.AdminKey, ns.AdminKey, func() { ns.AdminKey = rs.AdminKey })
	return kept
}

// ReloadFrom loads a config with load and serves it (Reload). An invalid
// config is refused with each of its problems logged, and the running one
// keeps serving; the error is returned too.
func (s *Server) ReloadFrom(ctx context.Context, load func() (*config.Config, error)) error {
	cfg, err := load()
	if err != nil {
		var ce *config.Error
		if errors.As(err, &ce) {
			for _, p := range ce.Problems {
				s.log.Error("config reload: problem", "problem", p.String())
			}
		}
		s.log.Error("config reload refused; the running config keeps serving", "error", err.Error())
		return err
	}
	kept, err := s.Reload(ctx, cfg)
	for _, k := range kept {
		s.log.Warn("config reload: this setting changes only on restart; the running value is kept", "field", k)
	}
	if err != nil {
		s.log.Error("config reload refused; the running config keeps serving", "error", err.Error())
		return err
	}
	names := make([]string, 0, len(s.Registry().Models()))
	for _, m := range s.Registry().Models() {
		names = append(names, m.Name)
	}
	s.log.Info("config reloaded", "generation", s.gen.Load().id, "models", strings.Join(names, ","))
	return nil
}

// Watch reloads the config on every value from hup (SIGHUP) and, with
// interval > 0, whenever the content of the file at path changes (polled:
// editors replace files, ConfigMaps swap symlinks, and a hash sees both). A
// changed file is reloaded once two polls in a row read the same content,
// so a file caught half written is not refused. It returns when ctx is done.
func (s *Server) Watch(ctx context.Context, path string, interval time.Duration, hup <-chan os.Signal, load func() (*config.Config, error)) {
	last := fileHash(path)
	var pending [sha256.Size]byte
	var tick <-chan time.Time
	if interval > 0 {
		t := time.NewTicker(interval)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			s.log.Info("config reload requested (SIGHUP)", "path", path)
		case <-tick:
			h := fileHash(path)
			if h == last {
				continue
			}
			if h != pending {
				pending = h // changed: wait for it to settle
				continue
			}
			s.log.Info("config file changed; reloading", "path", path)
		}
		last = fileHash(path)
		s.ReloadFrom(ctx, load)
	}
}

func fileHash(path string) [sha256.Size]byte {
	b, err := os.ReadFile(path)
	if err != nil {
		return [sha256.Size]byte{}
	}
	return sha256.Sum256(b)
}

// adminConfig serves GET /admin/config: the effective config of the
// generation serving new requests, secrets redacted (config.View), as JSON,
// or YAML with ?format=yaml or Accept: application/yaml.
func (s *Server) adminConfig(w http.ResponseWriter, r *http.Request) {
	g := s.gen.Load()
	v := map[string]any{
		"generation":       g.id,
		"loaded_at":        g.loadedAt.UTC().Format(time.RFC3339),
		"path":             g.cfg.Path,
		"restart_required": append([]string{}, g.restartPending...),
		"config":           g.cfg.View(),
	}
	if r.URL.Query().Get("format") == "yaml" || strings.Contains(r.Header.Get("Accept"), "yaml") {
		b, err := yaml.Marshal(v)
		if err != nil {
			writeJSON(w, http.StatusInternalServerError, map[string]any{"error": map[string]any{"message": "the configuration could not be encoded", "type": "api_error"}})
			return
		}
		w.Header().Set("Content-Type", "application/yaml")
		w.Write(b)
		return
	}
	writeJSON(w, http.StatusOK, v)
}
