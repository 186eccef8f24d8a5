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
}

func (c *consoleParts) wrapTransport(next http.RoundTripper) http.RoundTripper {
	c.capture = console.NewCapture(next)
	return c.capture
}

// mountConsole serves the web console under /ui/, behind the admin guard.
func (s *Server) mountConsole(mux *http.ServeMux) {
	live, stats := console.NewLive(0), console.NewStats(nil)
	targets := map[string]string{}
	for _, m := range s.reg.Models() {
		targets[m.Name] = m.ModelID
		for _, a := range m.Aliases {
			targets[a] = m.ModelID
		}
	}
	s.console.live = live
	s.console.observe = console.Observer(live, stats, func(model string) string { return targets[model] })
	h := console.New(console.Options{
		Config:   s.cfg,
		Loopback: config.IsLoopback(s.cfg.Server.Address),
		// The playground's calls run the OpenAI surface in-process, logged
		// and observed like any other request, without an API key: the
		// console's admin guard has let the caller in.
		Gateway:   accesslog.Middleware(s.log, recoverPanics(s.log, s.openaiAP), s.observe),
		Inference: elastic.Product(s.elasticAP),
		Live:      live,
		Stats:     stats,
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
