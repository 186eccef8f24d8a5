package bedrock

import (
	"context"
	"errors"
	"testing"
	"time"
)

// A queue timeout bounds the wait for the limiter, not the call: the caller
// gets ErrLimited quickly while its own context is still alive.
func TestWithQueueTimeout(t *testing.T) {
	l := NewLimiter(-1, 1)
	if err := l.take(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer l.release()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	start := time.Now()
	err := l.take(WithQueueTimeout(ctx, 30*time.Millisecond))
	if !errors.Is(err, ErrLimited) {
		t.Fatalf("err = %v, want ErrLimited", err)
	}
	if waited := time.Since(start); waited > 30*time.Second { // the caller's own deadline is a minute away
		t.Errorf("waited %v; the queue timeout was 30ms", waited)
	}
	if ctx.Err() != nil {
		t.Error("the caller's context must be unaffected")
	}

	r := NewLimiter(60, -1) // one token per second, burst 1
	if err := r.wait(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := r.wait(WithQueueTimeout(ctx, 10*time.Millisecond)); !errors.Is(err, ErrLimited) {
		t.Fatalf("rate wait: err = %v, want ErrLimited", err)
	}
}
