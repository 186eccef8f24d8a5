package server

import (
	"context"
	"fmt"
	"net/http"

	"github.com/quarry-dev/quarry/internal/auth"
	"github.com/quarry-dev/quarry/internal/config"
	"github.com/quarry-dev/quarry/internal/store"
	"github.com/quarry-dev/quarry/internal/usage"
)

// openUsage builds usage and cost recording: the meter every finished
// request goes through, and (unless usage.enabled is false) the usage
// table in the gateway's store with its batching recorder.
func (s *Server) openUsage(ctx context.Context) error {
	var rec *usage.Recorder
	if !s.cfg.Usage.Disabled {
		sc := store.Config{Path: s.cfg.Store.Path, PostgresDSN: s.cfg.Store.PostgresDSN.Reveal()}
		st, err := store.OpenUsage(ctx, sc)
		if err != nil {
			return fmt.Errorf("usage store: %w", err)
		}
		s.usageStore = st
		rec = usage.NewRecorder(st, usage.RecorderOptions{FlushInterval: s.cfg.Usage.FlushInterval,
			BatchSize: s.cfg.Usage.BatchSize, Logger: s.log.With("component", "usage")})
		s.usageRec = rec
	}
	s.meter = usage.NewMeter(usage.NewPricer(nil), func(name string) (usage.ModelInfo, bool) {
		m, ok := s.Registry().Lookup(name)
		if !ok {
			return usage.ModelInfo{}, false
		}
		return usage.ModelInfo{ModelID: m.ModelID, Region: m.AWS.Region, Price: m.Price}, true
	}, rec)
	s.metrics.Register(s.meter.Collectors()...)
	return nil
}

// forgetUsageSeries drops the usage counters of a deleted /_inference
// endpoint, unless a configured model has the same name.
func (s *Server) forgetUsageSeries(id string) {
	if _, ok := s.Registry().Lookup(id); !ok && s.meter != nil {
		s.meter.Forget(id)
	}
}

// usageRoutes adds /admin/usage (behind the admin guard).
func (s *Server) usageRoutes(mux *http.ServeMux) {
	if s.usageStore == nil {
		return
	}
	mux.Handle("GET /admin/usage", auth.Admin(s.cfg.Server.AdminKey, config.IsLoopback(s.cfg.Server.Address),
		usage.AdminHandler(s.usageStore), denyPlain))
}

// withCostHeaders adds x-quarry-cost-usd when server.cost_headers is on.
func (s *Server) withCostHeaders(h http.Handler) http.Handler {
	if !s.cfg.Server.CostHeaders {
		return h
	}
	return s.meter.CostHeaders(h)
}

// closeUsage writes the usage still waiting, then closes its table.
func (s *Server) closeUsage() {
	if s.usageRec != nil {
		s.usageRec.Close()
		s.usageRec = nil
	}
	if s.usageStore != nil {
		s.usageStore.Close()
		s.usageStore = nil
	}
}

// UsageRecorder is the usage recorder (nil when recording is off): its
// Spend is what budgets read.
func (s *Server) UsageRecorder() *usage.Recorder { return s.usageRec }
