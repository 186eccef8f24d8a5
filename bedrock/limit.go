package bedrock

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"golang.org/x/time/rate"
)

// ErrLimited is matched (errors.Is) by the error of a call that gave up
// waiting for the client-side limiter because its context ended: the caller
// asked for more than RequestsPerMinute or MaxConcurrent allow.
var ErrLimited = errors.New("bedrock: client-side limit reached")

// LimitError is returned when a call could not get through the limiter
// before its context ended.
type LimitError struct {
	Limit string // "requests_per_min_limit" or "max_concurrent_invocations"
	Err   error  // the context's error
}

func (e *LimitError) Error() string {
	return fmt.Sprintf("bedrock: client-side limit %s reached: %v", e.Limit, e.Err)
}

func (e *LimitError) Unwrap() []error { return []error{ErrLimited, e.Err} }

// Limiter enforces a request rate and a cap on calls in flight, shared by all
// calls of a Client. A nil *Limiter does not limit.
type Limiter struct {
	rate  *rate.Limiter // nil: no rate limit
	slots chan struct{} // nil: no concurrency limit
}

// NewLimiter returns a limiter allowing requestsPerMinute (negative: no
// limit, 0: DefaultRequestsPerMinute) and maxConcurrent calls in flight
// (negative: no limit, 0: DefaultMaxConcurrent).
func NewLimiter(requestsPerMinute, maxConcurrent int) *Limiter {
	if requestsPerMinute == 0 {
		requestsPerMinute = DefaultRequestsPerMinute
	}
	if maxConcurrent == 0 {
		maxConcurrent = DefaultMaxConcurrent
	}
	l := &Limiter{}
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

// take takes a concurrency slot, waiting at most the queue timeout; the
// caller gives it back with l.release, exactly once.
func (l *Limiter) take(ctx context.Context) error {
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
	qctx, cancel := queueContext(ctx)
	defer cancel()
	select {
	case l.slots <- struct{}{}:
		return nil
	case <-qctx.Done():
		return &LimitError{Limit: "max_concurrent_invocations", Err: qctx.Err()}
	}
}

// release gives back a slot taken by take.
func (l *Limiter) release() {
	if l == nil || l.slots == nil {
		return
	}
	<-l.slots
}

// wait takes one request token. It fails at once if the context's deadline
// would pass before a token is available.
func (l *Limiter) wait(ctx context.Context) error {
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
	qctx, cancel := queueContext(ctx)
	defer cancel()
	if err := l.rate.Wait(qctx); err != nil {
		cause := qctx.Err()
		if cause == nil {
			cause = context.DeadlineExceeded
		}
		return &LimitError{Limit: "requests_per_min_limit", Err: cause}
	}
	return nil
}

type queueTimeoutKey struct{}

// WithQueueTimeout bounds how long calls made with the returned context may
// wait for the client's limiter (a concurrency slot or a rate token). Past
// it the call fails with a *LimitError (errors.Is(err, ErrLimited)) even
// though ctx itself may allow a long call: a gateway queues briefly, then
// answers 429.
func WithQueueTimeout(ctx context.Context, d time.Duration) context.Context {
	return context.WithValue(ctx, queueTimeoutKey{}, d)
}

// queueContext is ctx bounded by its queue timeout, if it has one.
func queueContext(ctx context.Context) (context.Context, context.CancelFunc) {
	if d, ok := ctx.Value(queueTimeoutKey{}).(time.Duration); ok && d > 0 {
		return context.WithTimeout(ctx, d)
	}
	return ctx, func() {}
}

// InFlight is the number of calls currently holding a concurrency slot.
func (l *Limiter) InFlight() int {
	if l == nil || l.slots == nil {
		return 0
	}
	return len(l.slots)
}
