// Package limits is the gateway's admission control: per-model and per-key
// requests per minute, tokens per minute and concurrency, kept in this
// process (Local) or shared by every replica through Redis (Redis). A
// model's bedrock.Client asks it before each call (bedrock.Config.Limiter);
// the gateway tells it each request's tokens once the request is done.
package limits

import (
	"context"
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/quarry-dev/quarry/bedrock"
	"github.com/quarry-dev/quarry/internal/config"
)

// Rule is one scope's limits; a zero field does not limit.
type Rule struct {
	// Scope names what the limits apply to: "model:<name>" or "key:<id>".
	Scope             string
	RequestsPerMinute int
	TokensPerMinute   int
	MaxConcurrent     int
}

// ModelScope and KeyScope build the scopes of Rules.
func ModelScope(name string) string { return "model:" + name }
func KeyScope(id string) string     { return "key:" + id }

// The limits a Denied names, as the config spells them.
const (
	LimitRequests   = "requests_per_min_limit"
	LimitTokens     = "tokens_per_min_limit"
	LimitConcurrent = "max_concurrent_invocations"
)

// Denied is the error of a call refused by a limit: which scope and limit,
// and when the limiter's state says a retry can succeed.
type Denied struct {
	Scope      string
	Limit      string // LimitRequests, LimitTokens or LimitConcurrent
	RetryAfter time.Duration
}

func (e *Denied) Error() string {
	return fmt.Sprintf("the %s of %s is reached; retry after %s", e.Limit, e.Scope, e.RetryAfter.Round(time.Millisecond))
}

// concurrencyPoll is how often a call queued for a concurrency slot asks
// again: a slot's release is not announced.
const concurrencyPoll = 20 * time.Millisecond

// concurrencyRetry is the Retry-After of a concurrency refusal: when a slot
// frees is not known, a call typically lasts about this long.
const concurrencyRetry = time.Second

// backend keeps the state of the limits.
type backend interface {
	// take admits one call under every rule at once, or none: est[i] are
	// the tokens charged ahead to rules[i]'s tokens per minute.
	take(ctx context.Context, rules []Rule, est []float64) (ticket, error)
	close() error
}

// ticket is one admitted call.
type ticket interface {
	// release gives back the call's concurrency slots.
	release()
	// addTokens corrects the tokens charged ahead: delta[i] more (or
	// fewer) tokens for rules[i].
	addTokens(rules []Rule, delta []float64)
}

// Limiter admits calls under model and key rules. Build one with NewLocal
// or NewRedis and share it; Close it when done.
type Limiter struct {
	b      backend
	shared bool // the state is shared by replicas (Redis)

	mu  sync.Mutex
	est map[string]float64 // tokens per call, a moving average per scope
	// clients are the per-process limits Apply hands each model scope's
	// clients, kept while their settings stay the same (see Apply).
	clients map[string]clientLimits
}

// clientLimits are the bedrock.Limits of one scope and their settings.
type clientLimits struct {
	rpm, concurrent int
	limits          *bedrock.Limits
}

// NewLocal returns a Limiter whose state lives in this process.
func NewLocal() *Limiter {
	return &Limiter{b: newLocal(), est: map[string]float64{}, clients: map[string]clientLimits{}}
}

// Close stops the Limiter's background work and connections.
func (l *Limiter) Close() error { return l.b.close() }

// Apply sets bc's Limiter for the model name with params a. With shared
// limits (Redis) it takes over requests_per_min_limit and
// max_concurrent_invocations from the client's own per-process limiter;
// otherwise that keeps them (with its queue and Reserve), its
// bedrock.Limits the same for every client of the model built with the
// same settings (a reload's), and this Limiter adds tokens_per_min_limit
// and the keys' limits.
func (l *Limiter) Apply(name string, a config.AWS, bc *bedrock.Config) {
	r := Rule{Scope: ModelScope(name), TokensPerMinute: a.TokensPerMinute}
	if l.shared {
		r.RequestsPerMinute, r.MaxConcurrent = a.RequestsPerMinute, a.MaxConcurrent
		if r.RequestsPerMinute == 0 {
			r.RequestsPerMinute = bedrock.DefaultRequestsPerMinute
		}
		if r.MaxConcurrent == 0 {
			r.MaxConcurrent = bedrock.DefaultMaxConcurrent
		}
		bc.RequestsPerMinute, bc.MaxConcurrent = -1, -1
	}
	bc.Limiter = &scoped{l: l, rule: r}
	if !l.shared {
		bc.Limits = l.clientLimits(r.Scope, bc.RequestsPerMinute, bc.MaxConcurrent)
	}
}

// clientLimits is the bedrock.Limits of scope's clients: the same as the
// last clients' while the settings are the same, so that a reloaded
// gateway's new clients count the calls still in flight on the old ones,
// and go on with their rate, instead of starting afresh.
func (l *Limiter) clientLimits(scope string, rpm, concurrent int) *bedrock.Limits {
	l.mu.Lock()
	defer l.mu.Unlock()
	if c, ok := l.clients[scope]; ok && c.rpm == rpm && c.concurrent == concurrent {
		return c.limits
	}
	c := clientLimits{rpm: rpm, concurrent: concurrent, limits: bedrock.NewLimits(rpm, concurrent)}
	l.clients[scope] = c
	return c.limits
}

// scoped is the bedrock.Limiter of one model.
type scoped struct {
	l    *Limiter
	rule Rule
}

// Acquire admits a call under the model's rule and the request's key
// rules, waiting while the limiter says a retry would succeed before ctx's
// deadline.
func (s *scoped) Acquire(ctx context.Context) (func(), error) {
	req, _ := ctx.Value(requestKey{}).(*request)
	rules := []Rule{s.rule}
	if req != nil {
		rules = req.rules(rules)
	}
	if !limited(rules) {
		return func() {}, nil
	}
	est := s.l.estimates(rules)
	for {
		t, err := s.l.b.take(ctx, rules, est)
		if err == nil {
			if req != nil {
				req.admitted(admission{t: t, rules: rules, est: est})
			}
			return t.release, nil
		}
		d, ok := err.(*Denied)
		if !ok {
			return nil, err
		}
		wait := d.RetryAfter
		if d.Limit == LimitConcurrent {
			wait = concurrencyPoll
		}
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < wait {
			return nil, d
		}
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return nil, d
		case <-timer.C:
		}
	}
}

func limited(rules []Rule) bool {
	for _, r := range rules {
		if r.RequestsPerMinute > 0 || r.TokensPerMinute > 0 || r.MaxConcurrent > 0 {
			return true
		}
	}
	return false
}

// estimates are the tokens to charge ahead for a call under each rule:
// the scope's recent average, at first a second's worth of its limit, so
// that a burst of calls admitted before any has reported its usage cannot
// overrun the minute's tokens.
func (l *Limiter) estimates(rules []Rule) []float64 {
	est := make([]float64, len(rules))
	l.mu.Lock()
	defer l.mu.Unlock()
	for i, r := range rules {
		if r.TokensPerMinute <= 0 {
			continue
		}
		e, ok := l.est[r.Scope]
		if !ok {
			e = math.Ceil(float64(r.TokensPerMinute) / 60)
		}
		est[i] = e
	}
	return est
}

// observe updates the scope's average tokens per call.
func (l *Limiter) observe(scope string, tokens float64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if e, ok := l.est[scope]; ok {
		l.est[scope] = 0.8*e + 0.2*tokens
	} else {
		l.est[scope] = tokens
	}
}

// Finish tells the limiter the tokens (input plus output, as Bedrock
// reported them) that the request of ctx used, once it is done: they
// replace what its calls were charged ahead.
func (l *Limiter) Finish(ctx context.Context, tokens int) {
	req, _ := ctx.Value(requestKey{}).(*request)
	if req == nil {
		return
	}
	req.mu.Lock()
	adm := req.adm
	req.adm = nil
	req.mu.Unlock()
	if len(adm) == 0 {
		return
	}
	per := float64(tokens) / float64(len(adm))
	for _, a := range adm {
		delta := make([]float64, len(a.rules))
		changed := false
		for i, r := range a.rules {
			if r.TokensPerMinute > 0 {
				delta[i] = per - a.est[i]
				changed = changed || delta[i] != 0
				l.observe(r.Scope, per)
			}
		}
		if changed {
			a.t.addTokens(a.rules, delta)
		}
	}
}

type requestKey struct{}

// request is what one client request's calls share: the key's rules, and
// the admissions whose tokens Finish settles.
type request struct {
	mu      sync.Mutex
	keys    []Rule
	counted bool // the key rules' requests per minute were charged
	adm     []admission
}

type admission struct {
	t     ticket
	rules []Rule
	est   []float64
}

// WithRequest returns ctx carrying a fresh per-request record, for the
// gateway's middleware (before AddRule and the calls, then Finish).
func WithRequest(ctx context.Context) context.Context {
	return context.WithValue(ctx, requestKey{}, &request{})
}

// AddRule adds r (a key's limits, say: Rule{Scope: KeyScope(id),
// RequestsPerMinute: …, TokensPerMinute: …}) to every call of the request
// of ctx. A request counts once against a key's requests per minute, however
// many Bedrock calls it makes. It reports false when ctx carries no
// request (WithRequest).
func AddRule(ctx context.Context, r Rule) bool {
	req, _ := ctx.Value(requestKey{}).(*request)
	if req == nil {
		return false
	}
	req.mu.Lock()
	req.keys = append(req.keys, r)
	req.mu.Unlock()
	return true
}

// rules appends the request's key rules to model's.
func (q *request) rules(model []Rule) []Rule {
	q.mu.Lock()
	defer q.mu.Unlock()
	for _, k := range q.keys {
		if q.counted {
			k.RequestsPerMinute = 0
		}
		model = append(model, k)
	}
	return model
}

func (q *request) admitted(a admission) {
	q.mu.Lock()
	q.counted = true
	q.adm = append(q.adm, a)
	q.mu.Unlock()
}

// rateParams are GCRA's emission interval and tolerance, in milliseconds,
// for n per minute with a burst of one second's worth.
func rateParams(n int) (interval, tau float64) {
	interval = 60000 / float64(n)
	burst := math.Max(1, math.Ceil(float64(n)/60))
	return interval, interval * (burst - 1)
}
