package upstream

import (
	"context"
	"errors"
	"net/http"
	"time"
)

// A Grant is what the request's credentials may use: a virtual key's model
// list and budget (internal/vkeys). The auth layer puts it on the request's
// context; requests made with a config key or none carry no grant and may
// use every model.
type Grant interface {
	// Allow returns nil when the key may call a model known by any of
	// names now, else a *Denied.
	Allow(ctx context.Context, names ...string) error
	// Permits reports whether the key's model list has a model known by
	// any of names (Allow without the budget: for listing models).
	Permits(names ...string) bool
}

type grantKey struct{}

// WithGrant returns ctx carrying g.
func WithGrant(ctx context.Context, g Grant) context.Context {
	return context.WithValue(ctx, grantKey{}, g)
}

// GrantFrom returns the grant ctx carries, or nil.
func GrantFrom(ctx context.Context) Grant {
	g, _ := ctx.Value(grantKey{}).(Grant)
	return g
}

// Allow is the check every surface makes once it has resolved a served
// model, before calling it: nil, or a *Denied that Classify maps to the
// surface's 403 or 429. A model is known by its name, its aliases and its
// Bedrock model ID.
func Allow(ctx context.Context, m *Model) error {
	g := GrantFrom(ctx)
	if g == nil {
		return nil
	}
	return g.Allow(ctx, namesOf(m)...)
}

// Listed reports whether the request's key may use m at all (its model
// list; a spent budget does not hide models).
func Listed(ctx context.Context, m *Model) bool {
	g := GrantFrom(ctx)
	return g == nil || g.Permits(namesOf(m)...)
}

// namesOf is every name a model is known by.
func namesOf(m *Model) []string {
	names := make([]string, 0, 2+len(m.Aliases))
	return append(append(names, m.Name, m.ModelID), m.Aliases...)
}

// AllowModelID is Allow for a model the request names only by its Bedrock
// model ID (an /_inference endpoint, whose own name its creator chose).
func AllowModelID(ctx context.Context, modelID string) error {
	g := GrantFrom(ctx)
	if g == nil {
		return nil
	}
	return g.Allow(ctx, modelID)
}

// Denied is a request the key's grant refuses: a model outside its list
// (403) or a spent budget (429 until RetryAfter).
type Denied struct {
	Status     int // 403 or 429
	Message    string
	RetryAfter time.Duration
}

func (d *Denied) Error() string { return d.Message }

// denied is Classify's row for a *Denied.
func denied(err error) (Failure, bool) {
	var d *Denied
	if !errors.As(err, &d) {
		return Failure{}, false
	}
	if d.Status == http.StatusTooManyRequests {
		return Failure{Status: d.Status, Kind: FailureBudget, Message: d.Message, RetryAfter: d.RetryAfter}, true
	}
	return Failure{Status: http.StatusForbidden, Kind: FailurePermission, Message: d.Message}, true
}
