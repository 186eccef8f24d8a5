package server

import (
	"context"
	"fmt"

	"github.com/quarry-dev/quarry/internal/store"
)

// openResponses opens the stored-response table in the gateway's store
// (SQLite or PostgreSQL, as for /_inference); each generation builds
// /v1/responses on its OpenAI surface's models over it.
func (s *Server) openResponses(ctx context.Context) error {
	sc := store.Config{Path: s.cfg.Store.Path, PostgresDSN: s.cfg.Store.PostgresDSN.Reveal()}
	rc := store.ResponsesConfig{Retention: s.cfg.Store.ResponsesRetention, MaxBytes: s.cfg.Store.ResponsesMaxBytes, FlushInterval: s.cfg.Store.ResponsesFlushInterval}
	st, err := store.OpenResponses(ctx, sc, rc, s.log)
	if err != nil {
		return fmt.Errorf("response store: %w", err)
	}
	s.respStore = st
	return nil
}
