package vkeys

import (
	"context"
	"crypto/sha256"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/quarry-dev/quarry/internal/accesslog"
	"github.com/quarry-dev/quarry/internal/limits"
	"github.com/quarry-dev/quarry/internal/store"
	"github.com/quarry-dev/quarry/internal/upstream"
)

// Source is where the keys are kept (*store.VirtualKeys).
type Source interface {
	Generation(ctx context.Context) (int64, error)
	List(ctx context.Context) ([]*store.VirtualKey, error)
}

// Spender tells what a key has spent, in USD, since a time: the usage
// store, which records every request's cost.
type Spender interface {
	Spend(ctx context.Context, keyID string, since time.Time) (float64, error)
}

// DefaultPollInterval is how often a Cache polls the store for changes.
const DefaultPollInterval = 250 * time.Millisecond

// spendTTL is how long a key's spend, once read, is used without asking
// the Spender again; a stale value is still used while it is re-read off
// the request.
const spendTTL = time.Second

// Options adjust a Cache. Zero values take the defaults noted.
type Options struct {
	// PollInterval is how often the store is polled. Default
	// DefaultPollInterval.
	PollInterval time.Duration
	// Spend reads keys' spend for their budgets; nil: budgets are not
	// enforced (the log says so once, when a key has one).
	Spend Spender
	// Logger receives the cache's notices; nil discards them.
	Logger *slog.Logger
	// Now is the clock (tests); nil: time.Now.
	Now func() time.Time
}

// Cache holds the virtual keys in memory for the request path and keeps
// them current. It implements auth.Virtual. Safe for concurrent use.
type Cache struct {
	src    Source
	opts   Options
	log    *slog.Logger
	snap   atomic.Pointer[snapshot]
	reload sync.Mutex // one reload at a time
	spends sync.Map   // key ID → *spendEntry
	warned atomic.Bool
	stop   context.CancelFunc
	done   chan struct{}
}

// snapshot is the keys at one generation; never modified once published.
type snapshot struct {
	gen      int64
	byHash   map[[sha256.Size]byte]*grant
	required bool // some key is not revoked
}

// NewCache loads the keys from src and polls it until Close.
func NewCache(ctx context.Context, src Source, opts Options) (*Cache, error) {
	if opts.PollInterval <= 0 {
		opts.PollInterval = DefaultPollInterval
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	c := &Cache{src: src, opts: opts, log: log.With("component", "virtual_keys"), done: make(chan struct{})}
	c.snap.Store(&snapshot{gen: -1})
	if err := c.Refresh(ctx); err != nil {
		return nil, err
	}
	pctx, stop := context.WithCancel(context.WithoutCancel(ctx))
	c.stop = stop
	go c.poll(pctx)
	return c, nil
}

// Close stops polling.
func (c *Cache) Close() {
	c.stop()
	<-c.done
}

func (c *Cache) poll(ctx context.Context) {
	defer close(c.done)
	t := time.NewTicker(c.opts.PollInterval)
	defer t.Stop()
	failing := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		err := c.Refresh(ctx)
		switch {
		case err != nil && ctx.Err() != nil:
			return
		case err != nil && !failing:
			failing = true
			c.log.Warn("cannot read the virtual keys from the store; the keys loaded last stay in force until it answers again", "error", err)
		case err == nil && failing:
			failing = false
			c.log.Info("reading the virtual keys from the store again")
		}
	}
}

// Refresh reloads the keys if the store changed since the last load. The
// admin API calls it after each write, so that this replica sees its own
// writes at once.
func (c *Cache) Refresh(ctx context.Context) error {
	c.reload.Lock()
	defer c.reload.Unlock()
	gen, err := c.src.Generation(ctx)
	if err != nil {
		return err
	}
	if gen == c.snap.Load().gen {
		return nil
	}
	// The generation is read before the keys: a write in between makes
	// the next poll reload again, never miss it.
	keys, err := c.src.List(ctx)
	if err != nil {
		return err
	}
	s := &snapshot{gen: gen, byHash: make(map[[sha256.Size]byte]*grant, len(keys))}
	budgets := false
	for _, k := range keys {
		s.byHash[k.Hash] = &grant{key: k, c: c}
		if k.RevokedAt.IsZero() {
			s.required = true
			budgets = budgets || k.BudgetUSD > 0
		}
	}
	c.snap.Store(s)
	if budgets && c.opts.Spend == nil && c.warned.CompareAndSwap(false, true) {
		c.log.Warn("virtual keys have budgets, but no usage store records spend: budgets are not enforced")
	}
	return nil
}

// Required reports whether keys are required even without config keys:
// once a virtual key exists (and is not revoked), an open gateway closes.
func (c *Cache) Required() bool { return c.snap.Load().required }

// Resolve finds the key whose SHA-256 is sum (auth.Virtual).
func (c *Cache) Resolve(ctx context.Context, sum [sha256.Size]byte) (context.Context, bool, string) {
	g := c.snap.Load().byHash[sum]
	if g == nil {
		return ctx, false, ""
	}
	k := g.key
	if !k.RevokedAt.IsZero() {
		return ctx, true, fmt.Sprintf("This API key (%s…) was revoked at %s.", k.Prefix, k.RevokedAt.Format(time.RFC3339))
	}
	if !k.ExpiresAt.IsZero() && !c.opts.Now().Before(k.ExpiresAt) {
		return ctx, true, fmt.Sprintf("This API key (%s…) expired at %s.", k.Prefix, k.ExpiresAt.Format(time.RFC3339))
	}
	accesslog.From(ctx).SetKey(k.ID, k.Name)
	if k.RPM > 0 || k.TPM > 0 {
		// Counted across replicas when the limits are shared (Redis).
		limits.AddRule(ctx, limits.Rule{Scope: limits.KeyScope(k.ID), RequestsPerMinute: int(k.RPM), TokensPerMinute: int(k.TPM)})
	}
	return upstream.WithGrant(ctx, g), true, ""
}

// KeyFrom returns the virtual key that authenticated the request carrying
// ctx, or nil (a config key, or none). Per-key limits (RPM, TPM) are
// enforced from it.
func KeyFrom(ctx context.Context) *store.VirtualKey {
	if g, ok := upstream.GrantFrom(ctx).(*grant); ok {
		return g.key
	}
	return nil
}

// grant is a key's upstream.Grant.
type grant struct {
	key *store.VirtualKey
	c   *Cache
}

// Permits reports whether the key's model list has a model known by any
// of names.
func (g *grant) Permits(names ...string) bool { return allows(g.key, names) }

// Allow refuses a model outside the key's list (403), then a spent budget
// (429 until the period resets).
func (g *grant) Allow(ctx context.Context, names ...string) error {
	k := g.key
	if !allows(k, names) {
		return &upstream.Denied{Status: http.StatusForbidden, Message: fmt.Sprintf(
			"The API key %q may not use the model %q: it may use only %s.", k.Name, names[0], strings.Join(k.Models, ", "))}
	}
	if k.BudgetUSD <= 0 || g.c.opts.Spend == nil {
		return nil
	}
	now := g.c.opts.Now()
	start, reset := period(now, k.BudgetPeriod)
	spent, err := g.c.spent(ctx, k.ID, start)
	if err != nil {
		// The usage store is down: serve rather than refuse everyone;
		// the spend is recorded and the budget applies when it is back.
		g.c.log.Warn("cannot read a virtual key's spend: its budget is not checked for this request", "key_id", k.ID, "error", err)
		return nil
	}
	if spent < k.BudgetUSD {
		return nil
	}
	return &upstream.Denied{Status: http.StatusTooManyRequests, RetryAfter: reset.Sub(now), Message: fmt.Sprintf(
		"Budget exceeded: the API key %q has spent $%s of its %s budget of $%s; the budget resets at %s.",
		k.Name, usd(spent), periodly[k.BudgetPeriod], usd(k.BudgetUSD), reset.Format(time.RFC3339))}
}

// usd formats dollars with cents, and up to micro-dollars where a small
// budget or spend needs them: 1 → "1.00", 0.000016 → "0.000016".
func usd(v float64) string {
	s := strings.TrimRight(strconv.FormatFloat(v, 'f', 6, 64), "0")
	if i := strings.IndexByte(s, '.'); len(s)-i < 3 {
		s += strings.Repeat("0", 3-(len(s)-i))
	}
	return s
}

var periodly = map[string]string{PeriodDay: "daily", PeriodMonth: "monthly"}

// spendEntry is a key's spend as last read.
type spendEntry struct {
	mu         sync.Mutex
	since, at  time.Time
	value      float64
	refreshing bool
}

// spent is the key's spend since start: read from the Spender the first
// time in a period, then at most once per spendTTL, off the request when a
// value is at hand.
func (c *Cache) spent(ctx context.Context, id string, start time.Time) (float64, error) {
	v, _ := c.spends.LoadOrStore(id, &spendEntry{})
	e := v.(*spendEntry)
	e.mu.Lock()
	if e.since.Equal(start) && !e.at.IsZero() {
		value := e.value
		if c.opts.Now().Sub(e.at) >= spendTTL && !e.refreshing {
			e.refreshing = true
			go c.readSpend(context.WithoutCancel(ctx), e, id, start)
		}
		e.mu.Unlock()
		return value, nil
	}
	e.mu.Unlock()
	return c.readSpend(ctx, e, id, start)
}

func (c *Cache) readSpend(ctx context.Context, e *spendEntry, id string, start time.Time) (float64, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	value, err := c.opts.Spend.Spend(ctx, id, start)
	e.mu.Lock()
	defer e.mu.Unlock()
	e.refreshing = false
	if err != nil {
		return 0, err
	}
	if e.at.IsZero() || !start.Before(e.since) {
		e.since, e.at, e.value = start, c.opts.Now(), value
	}
	return value, nil
}
