package limits

import (
	"context"
	"math"
	"sync"
	"time"
)

// local keeps the limits' state in this process.
type local struct {
	mu sync.Mutex
	st map[string]*scopeState
}

// scopeState is one scope's GCRA state: the theoretical arrival times of
// the next request and token (Unix milliseconds), and the calls in flight.
type scopeState struct {
	tat, tokTat float64
	inUse       int
}

func newLocal() *local { return &local{st: map[string]*scopeState{}} }

func nowMillis() float64 { return float64(time.Now().UnixMicro()) / 1000 }

func (b *local) take(_ context.Context, rules []Rule, est []float64) (ticket, error) {
	now := nowMillis()
	b.mu.Lock()
	defer b.mu.Unlock()
	states := make([]*scopeState, len(rules))
	for i, r := range rules {
		s := b.st[r.Scope]
		if s == nil {
			s = &scopeState{}
			b.st[r.Scope] = s
		}
		states[i] = s
		if r.RequestsPerMinute > 0 {
			_, tau := rateParams(r.RequestsPerMinute)
			if tat := math.Max(s.tat, now); tat-now > tau {
				return nil, &Denied{Scope: r.Scope, Limit: LimitRequests, RetryAfter: millis(tat - tau - now)}
			}
		}
		if r.TokensPerMinute > 0 {
			_, tau := rateParams(r.TokensPerMinute)
			if tat := math.Max(s.tokTat, now); tat-now > tau {
				return nil, &Denied{Scope: r.Scope, Limit: LimitTokens, RetryAfter: millis(tat - tau - now)}
			}
		}
		if r.MaxConcurrent > 0 && s.inUse >= r.MaxConcurrent {
			return nil, &Denied{Scope: r.Scope, Limit: LimitConcurrent, RetryAfter: concurrencyRetry}
		}
	}
	var slots []*scopeState
	for i, r := range rules {
		s := states[i]
		if r.RequestsPerMinute > 0 {
			interval, _ := rateParams(r.RequestsPerMinute)
			s.tat = math.Max(s.tat, now) + interval
		}
		if r.TokensPerMinute > 0 {
			interval, _ := rateParams(r.TokensPerMinute)
			s.tokTat = math.Max(s.tokTat, now) + est[i]*interval
		}
		if r.MaxConcurrent > 0 {
			s.inUse++
			slots = append(slots, s)
		}
	}
	return &localTicket{b: b, states: states, slots: slots}, nil
}

func (b *local) close() error { return nil }

type localTicket struct {
	b      *local
	states []*scopeState // in the order of take's rules
	slots  []*scopeState // those holding a concurrency slot
	once   sync.Once
}

func (t *localTicket) release() {
	t.once.Do(func() {
		t.b.mu.Lock()
		defer t.b.mu.Unlock()
		for _, s := range t.slots {
			s.inUse--
		}
	})
}

func (t *localTicket) addTokens(rules []Rule, delta []float64) {
	now := nowMillis()
	t.b.mu.Lock()
	defer t.b.mu.Unlock()
	for i, r := range rules {
		if r.TokensPerMinute <= 0 || delta[i] == 0 {
			continue
		}
		interval, _ := rateParams(r.TokensPerMinute)
		s := t.states[i]
		if delta[i] > 0 {
			s.tokTat = math.Max(s.tokTat, now) + delta[i]*interval
		} else {
			s.tokTat += delta[i] * interval
		}
	}
}

// millis converts milliseconds to a Duration, at least 1ms.
func millis(ms float64) time.Duration {
	return max(time.Millisecond, time.Duration(math.Ceil(ms*1000))*time.Microsecond)
}
