package bedrock

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"
)

// A queue timeout bounds the wait for the limiter, not the call: the caller
// gets ErrLimited after exactly the queue timeout while its own context is
// still alive, for a concurrency slot and for a rate token alike.
func TestWithQueueTimeout(t *testing.T) {
	tests := []struct {
		name  string
		l     func() *limiter
		fill  func(*limiter) error // uses up what the limiter allows
		wait  func(context.Context, *limiter, time.Duration) error
		limit string
	}{
		{
			name:  "concurrency",
			l:     func() *limiter { return newLimiter(-1, 1, nil) },
			fill:  func(l *limiter) error { return l.takeSlot(context.Background(), 0) },
			wait:  func(ctx context.Context, l *limiter, d time.Duration) error { return l.takeSlot(ctx, d) },
			limit: "MaxConcurrent",
		},
		{
			name:  "rate",
			l:     func() *limiter { return newLimiter(60, -1, nil) }, // one token per second, burst 1
			fill:  func(l *limiter) error { return l.wait(context.Background(), 0) },
			wait:  func(ctx context.Context, l *limiter, d time.Duration) error { return l.wait(ctx, d) },
			limit: "RequestsPerMinute",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				l := tt.l()
				if err := tt.fill(l); err != nil {
					t.Fatal(err)
				}
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				defer cancel()
				start := time.Now()
				err := tt.wait(ctx, l, 300*time.Millisecond)
				var le *LimitError
				if !errors.Is(err, ErrLimited) || !errors.As(err, &le) || le.Limit != tt.limit {
					t.Fatalf("err = %v, want a *LimitError for %s", err, tt.limit)
				}
				if waited := time.Since(start); waited > 300*time.Millisecond {
					t.Errorf("waited %v; the queue timeout was 300ms", waited)
				}
				if ctx.Err() != nil {
					t.Error("the caller's context must be unaffected")
				}
			})
		})
	}
}

// Without a queue timeout a call waits as long as its context allows.
func TestNoQueueTimeoutWaitsForContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLimiter(-1, 1, nil)
		if err := l.takeSlot(context.Background(), 0); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		start := time.Now()
		if err := l.takeSlot(ctx, 0); !errors.Is(err, ErrLimited) || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err = %v, want ErrLimited and DeadlineExceeded", err)
		}
		if waited := time.Since(start); waited != 10*time.Second {
			t.Errorf("waited %v, want the context's 10s", waited)
		}
	})
}
