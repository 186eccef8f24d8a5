package bedrock

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// ErrLimited is matched (errors.Is) by the error of a call that gave up
// waiting for the client-side limiter because its context ended or its
// queue timeout (WithQueueTimeout) passed: the caller asked for more than
// Config.RequestsPerMinute or Config.MaxConcurrent allow.
var ErrLimited = errors.New("bedrock: client-side limit reached")

// LimitError is returned when a call could not get through the limiter
// before its context ended or its queue timeout passed.
type LimitError struct {
	// Limit names the Config field that held the call back:
	// "RequestsPerMinute" or "MaxConcurrent".
	Limit string
	Err   error // the context's error
}

func (e *LimitError) Error() string {
	return fmt.Sprintf("bedrock: client-side limit %s reached: %v", e.Limit, e.Err)
}

func (e *LimitError) Unwrap() []error { return []error{ErrLimited, e.Err} }

// Limiter admits calls on behalf of limits the Client cannot see alone:
// limits shared by several processes (through Redis, say), or several
// scopes at once. Config.Limiter applies it to every call, in addition to
// RequestsPerMinute and MaxConcurrent (set those negative to leave the
// limiting to it).
type Limiter interface {
	// Acquire admits one call, before its first attempt. It may wait, but
	// no longer than ctx allows (its deadline includes the call's queue
	// timeout, WithQueueTimeout). On success the Client calls release
	// exactly once, when the call is done: its response read, or its
	// stream closed. An error is returned to the caller wrapped in an
	// *OpError, so that errors.As finds the Limiter's own error type.
	Acquire(ctx context.Context) (release func(), err error)
}

// limiter enforces a request rate and a cap on calls in flight, shared by all
// calls of a Client (and with other Clients: Config.Limits). A nil *limiter
// does not limit.
type limiter struct {
	rate  *rate.Limiter // nil: no rate limit
	slots chan struct{} // nil: no concurrency limit
	ext   Limiter       // nil: none (Config.Limiter)
}

// slot is what take hands out: the built-in concurrency slot and the
// external Limiter's admission, given back together by release.
type slot struct {
	l   *limiter
	ext func()
}

// release gives back what take took; call it exactly once.
func (s slot) release() {
	s.l.release()
	if s.ext != nil {
		s.ext()
	}
}

// Limits is a request rate and a cap on calls in flight that several
// Clients can share (Config.Limits): their calls count together. A program
// that rebuilds its Clients while calls are in flight (a gateway reloading
// its configuration) gives the new ones the old ones' Limits, so that the
// calls still running count against the cap, and the rate goes on from
// where it was instead of starting with a full burst.
type Limits struct {
	rate  *rate.Limiter
	slots chan struct{}
}

// NewLimits returns Limits allowing requestsPerMinute (negative: no limit,
// 0: DefaultRequestsPerMinute) and maxConcurrent calls in flight
// (negative: no limit, 0: DefaultMaxConcurrent), as Config's fields.
func NewLimits(requestsPerMinute, maxConcurrent int) *Limits {
	if requestsPerMinute == 0 {
		requestsPerMinute = DefaultRequestsPerMinute
	}
	if maxConcurrent == 0 {
		maxConcurrent = DefaultMaxConcurrent
	}
	l := &Limits{}
	if requestsPerMinute > 0 {
		// A burst of one second's worth (at least 1): short bursts are not
		// delayed, yet no minute can see much more than the limit.
		burst := int(math.Max(1, math.Ceil(float64(requestsPerMinute)/60)))
		l.rate = rate.NewLimiter(rate.Limit(float64(requestsPerMinute)/60), burst)
	}
	if maxConcurrent > 0 {
		l.slots = make(chan struct{}, maxConcurrent)
	}
	return l
}

// limiterOf is a Client's limiter: the rate and slots of lim, or when nil
// of fresh Limits (requestsPerMinute, maxConcurrent), and ext.
func limiterOf(lim *Limits, requestsPerMinute, maxConcurrent int, ext Limiter) *limiter {
	if lim == nil {
		lim = NewLimits(requestsPerMinute, maxConcurrent)
	}
	return &limiter{rate: lim.rate, slots: lim.slots, ext: ext}
}

// take takes a concurrency slot and the external Limiter's admission,
// waiting at most queueTimeout (0: as long as ctx allows); the caller gives
// them back with the slot's release, exactly once.
func (l *limiter) take(ctx context.Context, queueTimeout time.Duration) (slot, error) {
	if err := l.takeSlot(ctx, queueTimeout); err != nil {
		return slot{}, err
	}
	s := slot{l: l}
	if l != nil && l.ext != nil {
		qctx, cancel := queueContext(ctx, queueTimeout)
		rel, err := l.ext.Acquire(qctx)
		cancel()
		if err != nil {
			l.release()
			return slot{}, err
		}
		s.ext = rel
	}
	return s, nil
}

// takeSlot takes a built-in concurrency slot (see take).
func (l *limiter) takeSlot(ctx context.Context, queueTimeout time.Duration) error {
	if l == nil || l.slots == nil {
		return nil
	}
	if err := ctx.Err(); err != nil {
		// Ended before it ever waited: not the limiter's doing.
		return err
	}
	select {
	case l.slots <- struct{}{}:
		return nil
	default:
	}
	qctx, cancel := queueContext(ctx, queueTimeout)
	defer cancel()
	select {
	case l.slots <- struct{}{}:
		return nil
	case <-qctx.Done():
		return &LimitError{Limit: "MaxConcurrent", Err: qctx.Err()}
	}
}

// release gives back a slot taken by takeSlot.
func (l *limiter) release() {
	if l == nil || l.slots == nil {
		return
	}
	<-l.slots
}

// wait takes one request token, waiting at most queueTimeout (0: as long as
// ctx allows). It fails at once if the deadline would pass before a token is
// available.
func (l *limiter) wait(ctx context.Context, queueTimeout time.Duration) error {
	if l == nil || l.rate == nil {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	// A free token is taken without waiting (as take takes a free
	// slot): a deadline that passes meanwhile is then the call's own
	// timeout, not the limit's doing.
	if l.rate.Allow() {
		return nil
	}
	qctx, cancel := queueContext(ctx, queueTimeout)
	defer cancel()
	if err := l.rate.Wait(qctx); err != nil {
		cause := qctx.Err()
		if cause == nil {
			cause = context.DeadlineExceeded
		}
		return &LimitError{Limit: "RequestsPerMinute", Err: cause}
	}
	return nil
}

// CallOption adjusts one call of a Client; pass it after the request.
type CallOption func(*callOptions)

// callOptions are the settings CallOptions write.
type callOptions struct {
	queueTimeout time.Duration // 0: wait for the limiter as long as ctx allows
}

// callOptionsOf applies opts in order.
func callOptionsOf(opts []CallOption) callOptions {
	var o callOptions
	for _, opt := range opts {
		opt(&o)
	}
	return o
}

// WithQueueTimeout bounds how long the call may wait for the client's
// limiter (a concurrency slot or a rate token). Past it the call fails with
// a *LimitError (errors.Is(err, ErrLimited)) even though its context may
// allow a long call: a gateway queues briefly, then answers 429. Zero or
// negative: no bound but the context's.
func WithQueueTimeout(d time.Duration) CallOption {
	return func(o *callOptions) { o.queueTimeout = d }
}

// queueContext is ctx bounded by the queue timeout d, if positive.
func queueContext(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	if d > 0 {
		return context.WithTimeout(ctx, d)
	}
	return ctx, func() {}
}

// inFlight is the number of calls currently holding a concurrency slot.
func (l *limiter) inFlight() int {
	if l == nil || l.slots == nil {
		return 0
	}
	return len(l.slots)
}

// Reserve takes, ahead of time, the rate-limit tokens of n calls a caller
// is about to make with the returned context (an embeddings request fanned
// out into n calls, say), so that the batch cannot run out of quota half
// way and throw away the results it already paid for. It fails at once,
// with a *LimitError and no token taken, when the n tokens would not all
// be available before ctx's deadline (or, without one, the queue timeout
// of opts).
// The calls made with the returned context use the reserved tokens, each
// waiting until its own is due, instead of the limiter's (retries take
// ordinary ones). release gives back the tokens no call used; call it once
// the calls are done.
func (c *Client) Reserve(ctx context.Context, n int, opts ...CallOption) (_ context.Context, release func(), err error) {
	l := c.limiter
	if l == nil || l.rate == nil || n <= 0 {
		return ctx, func() {}, nil
	}
	now := time.Now()
	var limit time.Duration
	if dl, ok := ctx.Deadline(); ok {
		limit = dl.Sub(now)
	} else if d := callOptionsOf(opts).queueTimeout; d > 0 {
		limit = d
	} else {
		limit = time.Duration(math.MaxInt64)
	}
	p := &prepaid{due: make([]time.Time, 0, n)}
	burst := max(1, l.rate.Burst())
	for left := n; left > 0; {
		k := min(left, burst)
		r := l.rate.ReserveN(now, k)
		if !r.OK() || r.DelayFrom(now) > limit {
			if r.OK() {
				r.CancelAt(now)
			}
			p.cancel(now)
			return ctx, func() {}, &LimitError{Limit: "RequestsPerMinute", Err: context.DeadlineExceeded}
		}
		p.rs, p.ks = append(p.rs, r), append(p.ks, k)
		at := now.Add(r.DelayFrom(now))
		for range k {
			p.due = append(p.due, at)
		}
		left -= k
	}
	return context.WithValue(ctx, prepaidKey{}, p), func() { p.cancel(time.Now()) }, nil
}

type prepaidKey struct{}

// prepaid are the tokens Reserve took: due[i] is when the i-th may be used.
type prepaid struct {
	mu   sync.Mutex
	due  []time.Time
	next int
	rs   []*rate.Reservation
	ks   []int // tokens of each reservation
	done bool
}

// take hands out the next reserved token, waiting until it is due; it
// reports false when none is left (the caller waits on the limiter).
func (p *prepaid) take(ctx context.Context) (bool, error) {
	p.mu.Lock()
	if p.done || p.next >= len(p.due) {
		p.mu.Unlock()
		return false, nil
	}
	at := p.due[p.next]
	p.next++
	p.mu.Unlock()
	return true, sleep(ctx, time.Until(at))
}

// cancel returns the tokens of the reservations no call reached.
func (p *prepaid) cancel(now time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.done {
		return
	}
	p.done = true
	// Last first: the limiter restores a reservation's tokens only as far
	// as no later reservation depends on them. A reservation goes back only
	// if none of its tokens was used.
	start := 0
	for _, k := range p.ks {
		start += k
	}
	for i := len(p.rs) - 1; i >= 0; i-- {
		start -= p.ks[i]
		if start < p.next {
			break
		}
		p.rs[i].CancelAt(now)
	}
}
