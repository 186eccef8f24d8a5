package upstream

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"
)

// FirstEventTimer bounds the wait for a stream's first event: a stream may
// rightly last minutes, but a model that has not started answering within
// the timeout has timed out. Both API surfaces use it.
type FirstEventTimer struct {
	t     *time.Timer
	fired atomic.Bool
}

// StartFirstEventTimer calls cancel if d passes before Stop (d <= 0: never).
func StartFirstEventTimer(d time.Duration, cancel context.CancelFunc) *FirstEventTimer {
	ft := &FirstEventTimer{}
	if d > 0 {
		ft.t = time.AfterFunc(d, func() { ft.fired.Store(true); cancel() })
	}
	return ft
}

// Stop stops the timer once the first event has arrived (or the call
// failed). It reports whether the timer had already fired, i.e. whether
// the stream was cancelled for taking too long.
func (ft *FirstEventTimer) Stop() (fired bool) {
	if ft.t != nil {
		ft.t.Stop()
	}
	return ft.fired.Load()
}

// Err is err, or a timeout (context.DeadlineExceeded, which Classify maps
// to 504) when the failure is the cancellation the timer caused.
func (ft *FirstEventTimer) Err(err error) error {
	if ft.fired.Load() {
		return fmt.Errorf("waiting for the first event: %w", context.DeadlineExceeded)
	}
	return err
}
