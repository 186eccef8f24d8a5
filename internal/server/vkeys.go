package server

import (
	"context"
	"fmt"
	"net/http"

	"github.com/quarry-dev/quarry/internal/auth"
	"github.com/quarry-dev/quarry/internal/config"
	"github.com/quarry-dev/quarry/internal/store"
	"github.com/quarry-dev/quarry/internal/vkeys"
)

// openKeys (after openUsage) opens the virtual keys in the gateway's store (SQLite or
// PostgreSQL, as for /_inference), loads them and starts polling for
// other replicas' changes; /admin/keys manages them.
func (s *Server) openKeys(ctx context.Context, opts Options) error {
	sc := store.Config{Path: s.cfg.Store.Path, PostgresDSN: s.cfg.Store.PostgresDSN.Reveal()}
	st, err := store.OpenVirtualKeys(ctx, sc, s.log)
	if err != nil {
		return fmt.Errorf("virtual key store: %w", err)
	}
	// Budgets read the usage recorder's spend (the store's, plus what
	// waits to be written), unless a test gives its own.
	spend := opts.Spend
	if spend == nil && s.usageRec != nil {
		spend = s.usageRec
	}
	cache, err := vkeys.NewCache(ctx, st, vkeys.Options{Spend: spend, Logger: s.log, PollInterval: opts.KeyPollInterval})
	if err != nil {
		st.Close()
		return fmt.Errorf("virtual key store: %w", err)
	}
	s.keyStore, s.keyCache = st, cache
	return nil
}

// keysAdmin is /admin/keys behind the admin guard.
func (s *Server) keysAdmin() http.Handler {
	return auth.Admin(s.cfg.Server.AdminKey, config.IsLoopback(s.cfg.Server.Address),
		vkeys.NewAdmin(s.keyStore, s.keyCache, s.log), denyOpenAI)
}

// closeKeys stops the polling and closes the key store.
func (s *Server) closeKeys() {
	if s.keyCache != nil {
		s.keyCache.Close()
		s.keyCache = nil
	}
	if s.keyStore != nil {
		s.keyStore.Close()
		s.keyStore = nil
	}
}
