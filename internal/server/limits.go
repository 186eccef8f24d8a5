package server

import (
	"log/slog"
	"net/http"

	"github.com/quarry-dev/quarry/internal/accesslog"
	"github.com/quarry-dev/quarry/internal/config"
	"github.com/quarry-dev/quarry/internal/limits"
)

// newLimiter builds the gateway's limits: shared by every replica through
// Redis when limits.redis_url is set, else kept in this process.
func newLimiter(c config.Limits, log *slog.Logger) (*limits.Limiter, error) {
	if c.RedisURL.Reveal() == "" {
		return limits.NewLocal(), nil
	}
	l, err := limits.NewRedis(limits.RedisOptions{URL: c.RedisURL.Reveal(), Replicas: c.Replicas, Timeout: c.Timeout,
		Lease: c.Lease, Prefix: c.Prefix, Logger: log.With("component", "limits")})
	if err != nil {
		return nil, err
	}
	log.Info("limits shared through Redis", "replicas", c.Replicas, "timeout", c.Timeout.String(), "lease", c.Lease.String())
	return l, nil
}

// withLimits gives each request a limits record (the key's rules, the
// calls admitted) and, once it is done, tells the limiter the tokens
// Bedrock reported for it, for tokens_per_min_limit.
func withLimits(l *limits.Limiter, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := limits.WithRequest(r.Context())
		next.ServeHTTP(w, r.WithContext(ctx))
		// Usage, not Snapshot: a Snapshot is hundreds of bytes in this
		// frame, which every request's deepest call sits on (see
		// chatConverter.message in internal/openai).
		u := accesslog.From(ctx).Usage()
		l.Finish(ctx, u.Input+u.Output)
	})
}
