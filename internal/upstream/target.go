package upstream

import (
	"cmp"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/quarry-dev/quarry/bedrock"
	"github.com/quarry-dev/quarry/internal/config"
)

// Target is one place a model is served from: a model ID behind its own
// client (region, credentials, endpoint, limiter). Its counters feed the
// strategies.
type Target struct {
	// Name is what x-quarry-target and the access log say.
	Name    string
	ModelID string
	Region  string
	Client  *bedrock.Client

	weight, priority int
	inflight         atomic.Int64

	mu sync.Mutex
	// failures counts consecutive failures, for the cooldown's backoff.
	failures int
	// coolUntil: the target is skipped until then.
	coolUntil time.Time
	// ttft is the EWMA of its time to first token (the whole call for
	// calls that are not streams), in nanoseconds; 0 until measured.
	ttft float64
	// current is its smooth weighted round-robin weight (under group.mu).
	current int
}

// InFlight is how many calls the target is serving now.
func (t *Target) InFlight() int64 { return t.inflight.Load() }

// CoolingUntil is when the target's cooldown ends (zero: not cooling).
func (t *Target) CoolingUntil() time.Time {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.coolUntil
}

// ewmaAlpha weighs the latest time to first token against the past ones.
const ewmaAlpha = 0.3

// succeeded ends the target's cooldown and records its latency.
func (t *Target) succeeded(latency time.Duration) {
	t.mu.Lock()
	t.failures, t.coolUntil = 0, time.Time{}
	if t.ttft == 0 {
		t.ttft = float64(latency)
	} else {
		t.ttft = ewmaAlpha*float64(latency) + (1-ewmaAlpha)*t.ttft
	}
	t.mu.Unlock()
}

// failed puts the target in cooldown: base after its first failure, times
// backoff after each further one, at most max. It returns the cooldown.
func (t *Target) failed(c config.Cooldown, now time.Time) time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	d := c.Base
	for i := 0; i < t.failures && d < c.Max; i++ {
		d = time.Duration(float64(d) * c.Backoff)
	}
	d = min(d, c.Max)
	t.failures++
	t.coolUntil = now.Add(d)
	return d
}

// state is a snapshot of what the strategies read.
func (t *Target) state() (coolUntil time.Time, ttft float64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.coolUntil, t.ttft
}

// group chooses the order of a model's targets for one call.
type group struct {
	strategy config.Strategy
	targets  []*Target
	mu       sync.Mutex // smooth weighted round robin
}

// order lists the targets to try, best first: those not cooling down in
// the strategy's order, then, when every target is cooling down, the one
// whose cooldown ends first (a probe, so that a group recovers without
// waiting for a request to find it idle).
func (g *group) order(now time.Time) []*Target {
	type cand struct {
		t    *Target
		cool time.Time
		ttft float64
	}
	cands := make([]cand, 0, len(g.targets))
	var soonest *Target
	var soonestAt time.Time
	for _, t := range g.targets {
		cool, ttft := t.state()
		if cool.After(now) {
			if soonest == nil || cool.Before(soonestAt) {
				soonest, soonestAt = t, cool
			}
			continue
		}
		cands = append(cands, cand{t, cool, ttft})
	}
	if len(cands) == 0 {
		return []*Target{soonest}
	}
	switch g.strategy {
	case config.StrategyWeighted:
		g.mu.Lock()
		// Smooth weighted round robin (nginx): every available target
		// gains its weight, the highest goes first and loses the total.
		total, best := 0, 0
		for i, c := range cands {
			c.t.current += c.t.weight
			total += c.t.weight
			if c.t.current > cands[best].t.current {
				best = i
			}
		}
		cands[best].t.current -= total
		g.mu.Unlock()
		cands[0], cands[best] = cands[best], cands[0]
		// The others, should the first fail, by weight.
		slices.SortStableFunc(cands[1:], func(a, b cand) int { return cmp.Compare(b.t.weight, a.t.weight) })
	case config.StrategyLeastBusy:
		slices.SortStableFunc(cands, func(a, b cand) int { return cmp.Compare(a.t.inflight.Load(), b.t.inflight.Load()) })
	case config.StrategyLatency:
		// Unmeasured targets first (0), so each gets measured.
		slices.SortStableFunc(cands, func(a, b cand) int { return cmp.Compare(a.ttft, b.ttft) })
	default: // priority
		slices.SortStableFunc(cands, func(a, b cand) int { return cmp.Compare(a.t.priority, b.t.priority) })
	}
	out := make([]*Target, len(cands))
	for i, c := range cands {
		out[i] = c.t
	}
	return out
}
