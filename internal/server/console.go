package server

import (
	"net/http"
	"time"

	"github.com/quarry-dev/quarry/internal/accesslog"
	"github.com/quarry-dev/quarry/internal/config"
	"github.com/quarry-dev/quarry/internal/console"
	"github.com/quarry-dev/quarry/internal/elastic"
)

// consoleParts are the web console's pieces the rest of the server feeds:
// the upstream transport wrapper and the request observer.
type consoleParts struct {
	capture *console.Capture
	observe func(r *http.Request, status int, d time.Duration, s accesslog.Snapshot)
	live    *console.Live
	stats   *console.Stats
}

func (c *consoleParts) wrapTransport(next http.RoundTripper) http.RoundTripper {
	c.capture = console.NewCapture(next)
	return c.capture
}

// startConsole starts what the console keeps for the life of the Server
// (the live view and the charts' buckets), across reloads.
func (s *Server) startConsole() {
	live, stats := console.NewLive(0), console.NewStats(nil)
	s.console.live, s.console.stats = live, stats
	s.console.observe = console.Observer(live, stats, func(model string) string {
		if m, ok := s.Registry().Lookup(model); ok {
			return m.ModelID
		}
		return ""
	}, func(snap *accesslog.Snapshot) (float64, bool) {
		if s.meter == nil {
			return 0, false
		}
		return s.meter.Cost(snap)
	})
}

// mountConsole serves the web console of generation g under /ui/, behind
// the admin guard.
func (s *Server) mountConsole(mux *http.ServeMux, g *generation) {
	h := console.New(console.Options{
		Config:   g.cfg,
		Loopback: config.IsLoopback(s.cfg.Server.Address),
		// The playground's calls run the OpenAI surface in-process, logged
		// and observed like any other request, without an API key: the
		// console's admin guard has let the caller in.
		Gateway:   accesslog.Middleware(s.log, recoverPanics(s.log, g.openaiAP), s.observe),
		Inference: elastic.Product(s.elasticAP),
		Live:      s.console.live,
		Stats:     s.console.stats,
		Capture:   s.console.capture,
		Logger:    s.log,
	})
	mux.Handle("/ui/", h)
	mux.Handle("/ui", h)
}

// shutdown ends the console's live streams, which never end on their own.
func (c *consoleParts) shutdown() {
	if c.live != nil {
		c.live.Stop()
	}
}

// observe is the access log's end-of-request hook: metrics, usage, then
// the console's live view and charts.
func (s *Server) observe(r *http.Request, status int, d time.Duration, snap accesslog.Snapshot) {
	s.metrics.Observe(r, status, d, snap)
	if s.meter != nil {
		s.meter.Observe(r, status, d, snap)
	}
	if s.console.observe != nil {
		s.console.observe(r, status, d, snap)
	}
}
