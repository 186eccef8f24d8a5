package upstream

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"
)

// StreamTimer bounds the waits of a stream: for its first event (a stream
// may rightly last minutes, but a model that has not started answering
// within the timeout has timed out), then between two events (a stream
// that stalls mid-answer). When a bound passes it cancels the stream's
// context. Every API surface uses it.
type StreamTimer struct {
	t       *time.Timer
	idle    time.Duration
	started atomic.Bool // the first event arrived
	fired   atomic.Bool
	// firedIdle records which bound fired (read only once fired).
	firedIdle atomic.Bool
}

// FirstEventTimer is the StreamTimer of callers that bound only the first
// event.
type FirstEventTimer = StreamTimer

// StartFirstEventTimer calls cancel if d passes before the first Event or
// Stop (d <= 0: never).
func StartFirstEventTimer(d time.Duration, cancel context.CancelFunc) *StreamTimer {
	return StartStreamTimer(d, 0, cancel)
}

// StartStreamTimer calls cancel if first passes before the first Event, or
// idle passes between two Events (each <= 0: no bound).
func StartStreamTimer(first, idle time.Duration, cancel context.CancelFunc) *StreamTimer {
	st := &StreamTimer{idle: idle}
	fire := func() {
		st.firedIdle.Store(st.started.Load())
		st.fired.Store(true)
		cancel()
	}
	switch {
	case first > 0:
		st.t = time.AfterFunc(first, fire)
	case idle > 0:
		// No first-event bound: the timer waits, unarmed, for Event.
		st.t = time.AfterFunc(time.Duration(1<<62), fire)
	}
	return st
}

// Event records that an event arrived: the idle bound starts again (or the
// timer stops, when there is none). It reports whether a bound had
// already passed, i.e. whether the stream was cancelled for taking too
// long.
func (st *StreamTimer) Event() (fired bool) {
	st.started.Store(true)
	if st.t != nil {
		if st.idle > 0 {
			st.t.Reset(st.idle)
		} else {
			st.t.Stop()
		}
	}
	return st.fired.Load()
}

// Stop stops the timer (the first event arrived, the stream ended or the
// call failed). It reports whether a bound had already passed.
func (st *StreamTimer) Stop() (fired bool) {
	if st.t != nil {
		st.t.Stop()
	}
	return st.fired.Load()
}

// Err is err, or a timeout (a *StreamTimeout, which is a
// context.DeadlineExceeded: Classify maps it to 504) when the failure is
// the cancellation the timer caused.
func (st *StreamTimer) Err(err error) error {
	if !st.fired.Load() {
		return err
	}
	if st.firedIdle.Load() {
		return &StreamTimeout{fmt.Sprintf("no stream event for %v", st.idle)}
	}
	return &StreamTimeout{"waiting for the first event"}
}

// StreamTimeout is the error of a stream a StreamTimer cut: what a caller
// tells apart from other deadlines (a limiter's queue timeout, say) with
// errors.As.
type StreamTimeout struct{ wait string }

func (e *StreamTimeout) Error() string { return e.wait + ": " + context.DeadlineExceeded.Error() }
func (e *StreamTimeout) Unwrap() error { return context.DeadlineExceeded }
