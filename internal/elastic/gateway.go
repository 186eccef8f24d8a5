package elastic

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"time"

	"github.com/quarry-dev/quarry/internal/config"
	"github.com/quarry-dev/quarry/internal/store"
)

// Surface is the /_inference API as the gateway runs it: the handler and
// the store it owns.
type Surface struct {
	*Handler
	st store.Store
}

// replicaRefresh is how often a gateway sharing a PostgreSQL store with
// others re-reads it for their updates and deletes.
const replicaRefresh = 5 * time.Second

// BedrockEndpoint is the server-level default Bedrock Runtime URL: the
// config's server.bedrock_endpoint_url, else AWS_ENDPOINT_URL_BEDROCK_RUNTIME,
// else the built-in emulator's URL when it runs (emulatorURL), else ""
// (AWS).
func BedrockEndpoint(cfg *config.Config, emulatorURL string) string {
	if u := cfg.Server.BedrockEndpointURL; u != "" {
		return u
	}
	if u := os.Getenv("AWS_ENDPOINT_URL_BEDROCK_RUNTIME"); u != "" {
		return u
	}
	return emulatorURL
}

// Open opens the configured store and loads its endpoints. The store
// itself generates a key file beside a SQLite database when no key is
// configured, and logs where. wrap, when set, wraps the endpoints' Bedrock
// transport (telemetry's span per attempt).
func Open(ctx context.Context, cfg *config.Config, emulatorURL string, log *slog.Logger, deleted func(id string),
	wrap func(http.RoundTripper) http.RoundTripper) (*Surface, error) {
	sc := store.Config{Path: cfg.Store.Path, PostgresDSN: cfg.Store.PostgresDSN.Reveal()}
	if k := cfg.Store.EncryptionKey.Reveal(); k != "" {
		sc.Key = []byte(k)
	}
	backend := "sqlite"
	if sc.PostgresDSN != "" {
		backend = "postgres"
	}
	st, err := store.Open(ctx, sc, log)
	if err != nil {
		return nil, fmt.Errorf("inference endpoint store (%s): %w", backend, err)
	}
	opts := Options{
		Logger:            log,
		BedrockEndpoint:   BedrockEndpoint(cfg, emulatorURL),
		QueueTimeout:      cfg.Server.QueueTimeout,
		StreamIdleTimeout: cfg.Server.StreamIdleTimeout,
		MaxInputs:         cfg.Server.MaxInferenceInputs,
		UserAgent:         "quarry-gateway",
		Deleted:           deleted,
		HTTP1Only:         cfg.Server.UpstreamHTTP1Only,
		WrapTransport:     wrap,
	}
	if sc.PostgresDSN != "" {
		opts.Refresh = replicaRefresh
	}
	h, err := New(ctx, st, opts)
	if err != nil {
		st.Close()
		return nil, err
	}
	attrs := []any{"backend", backend, "bedrock_endpoint", opts.BedrockEndpoint}
	if backend == "sqlite" {
		attrs = append(attrs, "path", sc.Path)
	}
	log.Info("Elasticsearch inference API at /_inference", attrs...)
	return &Surface{Handler: h, st: st}, nil
}

// Close stops the handler and closes the store.
func (s *Surface) Close() error {
	s.Handler.Close()
	return s.st.Close()
}
