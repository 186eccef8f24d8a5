package bedrock

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"golang.org/x/time/rate"
)

// newLimiter returns a limiter of fresh Limits (see NewLimits) and ext.
func newLimiter(requestsPerMinute, maxConcurrent int, ext Limiter) *limiter {
	return limiterOf(nil, requestsPerMinute, maxConcurrent, ext)
}

func TestLimiterDefaults(t *testing.T) {
	l := newLimiter(0, 0, nil)
	if cap(l.slots) != 40 {
		t.Errorf("default MaxConcurrent = %d, want 40", cap(l.slots))
	}
	if l.rate.Limit() != rate.Limit(1500.0/60) || l.rate.Burst() != 25 {
		t.Errorf("default rate %v/s burst %d, want 25/s (1500 rpm) burst 25", l.rate.Limit(), l.rate.Burst())
	}
	isolateAWSEnv(t)
	c := mustNew(t, Config{APIKey: "k"})
	if cap(c.limiter.slots) != DefaultMaxConcurrent || c.limiter.rate.Limit() != rate.Limit(DefaultRequestsPerMinute)/60 {
		t.Error("a zero Config does not get the default limits")
	}
	// Negative disables; a nil limiter limits nothing.
	for _, l := range []*limiter{newLimiter(-1, -1, nil), nil} {
		err := l.takeSlot(context.Background(), 0)
		if err != nil || l.wait(context.Background(), 0) != nil || l.inFlight() != 0 {
			t.Fatalf("unlimited limiter limited: %v", err)
		}
		l.release()
	}
}

func TestMaxConcurrentHolds(t *testing.T) {
	isolateAWSEnv(t)
	const limit = 3
	var inFlight, peak atomic.Int64
	gate := make(chan struct{})
	fb := newFakeBedrock(t, func(w http.ResponseWriter, _ *http.Request, _ int64) {
		n := inFlight.Add(1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		<-gate
		inFlight.Add(-1)
		io.WriteString(w, "{}")
	})
	c := mustNew(t, Config{Endpoint: fb.URL, APIKey: "k", MaxConcurrent: limit, RequestsPerMinute: -1})

	var wg sync.WaitGroup
	errs := make(chan error, limit+1)
	for range limit {
		wg.Go(func() { errs <- converseCall(context.Background(), c, "m") })
	}
	waitFor(t, func() bool { return fb.hits.Load() == limit })

	// The N+1th call waits while N are in flight...
	done := make(chan error, 1)
	go func() { done <- converseCall(context.Background(), c, "m") }()
	select {
	case err := <-done:
		t.Fatalf("call %d ran past MaxConcurrent=%d: %v", limit+1, limit, err)
	case <-time.After(100 * time.Millisecond):
	}
	if fb.hits.Load() != limit || c.limiter.inFlight() != limit {
		t.Fatalf("server saw %d, limiter holds %d; want %d", fb.hits.Load(), c.limiter.inFlight(), limit)
	}
	// ...and a waiter whose deadline passes gets ErrLimited.
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	err := converseCall(ctx, c, "m")
	cancel()
	var le *LimitError
	if !errors.Is(err, ErrLimited) || !errors.Is(err, context.DeadlineExceeded) || !errors.As(err, &le) || le.Limit != "MaxConcurrent" {
		t.Fatalf("err = %v, want ErrLimited (MaxConcurrent) and DeadlineExceeded", err)
	}
	var op *OpError
	if !errors.As(err, &op) || op.Op != "Converse" {
		t.Fatalf("limiter error not wrapped in OpError: %v", err)
	}

	// One finishing lets the waiter through.
	gate <- struct{}{}
	waitFor(t, func() bool { return fb.hits.Load() == limit+1 })
	close(gate)
	wg.Wait()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if peak.Load() > limit {
		t.Fatalf("server saw %d concurrent calls, limit %d", peak.Load(), limit)
	}
	if c.limiter.inFlight() != 0 {
		t.Fatalf("slots leaked: %d", c.limiter.inFlight())
	}
}

// TestSlotHeldUntilBodyClosed: an open response (a stream) counts against
// MaxConcurrent until its body is closed.
func TestSlotHeldUntilBodyClosed(t *testing.T) {
	isolateAWSEnv(t)
	fb := newFakeBedrock(t, nil)
	c := mustNew(t, Config{Endpoint: fb.URL, APIKey: "k", MaxConcurrent: 1})
	resp, err := c.send(context.Background(), &call{op: "ConverseStream", path: modelPath("m", "converse-stream"), header: jsonHeader})
	if err != nil {
		t.Fatal(err)
	}
	if c.limiter.inFlight() != 1 {
		t.Fatalf("InFlight = %d with an open body", c.limiter.inFlight())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	if err := converseCall(ctx, c, "m"); !errors.Is(err, ErrLimited) {
		t.Fatalf("second call with the slot taken: %v", err)
	}
	resp.Body.Close()
	resp.Body.Close() // a second Close returns (that it frees no second slot: slots_test.go)
	if c.limiter.inFlight() != 0 {
		t.Fatalf("InFlight = %d after close", c.limiter.inFlight())
	}
	if err := converseCall(context.Background(), c, "m"); err != nil {
		t.Fatal(err)
	}
}

func TestRequestsPerMinutePaces(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const rpm = 1200 // 20/s, burst 20
		l := newLimiter(rpm, -1, nil)
		if b := l.rate.Burst(); b != 20 {
			t.Fatalf("burst = %d, want one second's worth (20)", b)
		}
		start := time.Now()
		for range 30 {
			if err := l.wait(context.Background(), 0); err != nil {
				t.Fatal(err)
			}
		}
		// 10 calls beyond the burst at 20/s take 500ms.
		if d := time.Since(start); d != 500*time.Millisecond {
			t.Fatalf("30 calls at %d rpm took %v, want 500ms", rpm, d)
		}
	})
}

// TestQueueTimeoutOption: WithQueueTimeout reaches the limiter through a
// call, and only the limiter wait is bounded, so a slow call cannot
// masquerade as a limit.
func TestQueueTimeoutOption(t *testing.T) {
	isolateAWSEnv(t)
	fb := newFakeBedrock(t, nil)
	c := mustNew(t, Config{Endpoint: fb.URL, APIKey: "k", RequestsPerMinute: 60}) // burst 1
	req := &ConverseRequest{Messages: []Message{UserText("hi")}}
	if _, err := c.Converse(context.Background(), "m", req, WithQueueTimeout(time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	_, err := c.Converse(context.Background(), "m", req, WithQueueTimeout(time.Millisecond))
	var le *LimitError
	if !errors.Is(err, ErrLimited) || !errors.As(err, &le) || le.Limit != "RequestsPerMinute" {
		t.Fatalf("err = %v, want ErrLimited (RequestsPerMinute)", err)
	}
	if strings.Contains(err.Error(), "requests_per_min_limit") || strings.Contains(err.Error(), "max_concurrent_invocations") {
		t.Errorf("library error names a gateway setting: %v", err)
	}
	if fb.hits.Load() != 1 {
		t.Fatalf("server saw %d calls, want 1", fb.hits.Load())
	}
}

// TestRetriesCountAgainstRate: every attempt takes a token, so retries cannot
// exceed RequestsPerMinute.
func TestRetriesCountAgainstRate(t *testing.T) {
	isolateAWSEnv(t)
	fb := newFakeBedrock(t, failWith(503, CodeServiceUnavailable))
	c := mustNew(t, Config{Endpoint: fb.URL, APIKey: "k", RequestsPerMinute: 600, Retry: fastRetry}) // burst 10
	before := c.limiter.rate.Tokens()
	_ = converseCall(context.Background(), c, "m")
	used := before - c.limiter.rate.Tokens()
	if fb.hits.Load() != 3 || used < 2.5 || used > 3.5 {
		t.Fatalf("%d attempts used %.2f tokens, want 3", fb.hits.Load(), used)
	}
}

// TestCancelledContextIsNotALimit: a context that ended before the call is
// reported as such, not as the limiter's doing.
func TestCancelledContextIsNotALimit(t *testing.T) {
	isolateAWSEnv(t)
	fb := newFakeBedrock(t, nil)
	c := mustNew(t, Config{Endpoint: fb.URL, APIKey: "k"})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := converseCall(ctx, c, "m")
	if !errors.Is(err, context.Canceled) || errors.Is(err, ErrLimited) || fb.hits.Load() != 0 {
		t.Fatalf("err = %v (hits %d), want context.Canceled and not ErrLimited", err, fb.hits.Load())
	}
	if c.limiter.inFlight() != 0 {
		t.Fatal("slot leaked")
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute) // only a failing test waits this long
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached in a minute")
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// TestSharedLimits: Clients given the same Limits count their calls in
// flight together, as a gateway's clients before and after a reload do: a
// stream open on one holds the only slot against the other, until closed.
func TestSharedLimits(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/vnd.amazon.eventstream")
		w.Write(invChunk(t, invTitanChunk1))
		w.Write(invChunk(t, invTitanChunk2))
	}))
	t.Cleanup(srv.Close)
	lim := NewLimits(-1, 1)
	client := func() *Client {
		c, err := New(context.Background(), Config{Endpoint: srv.URL, AccessKeyID: "AKID", SecretAccessKey: "SECRET",
			Region: "us-east-1", Limits: lim, MaxConcurrent: 100})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	old, reloaded := client(), client()
	in := &InvokeModelInput{Body: []byte(`{"inputText":"hi"}`)}
	s, err := old.InvokeModelWithResponseStream(context.Background(), "amazon.titan-text-express-v1", in)
	if err != nil {
		t.Fatal(err)
	}
	_, err = reloaded.InvokeModelWithResponseStream(context.Background(), "amazon.titan-text-express-v1", in, WithQueueTimeout(10*time.Millisecond))
	var le *LimitError
	if !errors.As(err, &le) || le.Limit != "MaxConcurrent" {
		t.Fatalf("with the shared slot held: %v, want a MaxConcurrent LimitError (Config.MaxConcurrent is ignored with Limits)", err)
	}
	s.Close()
	s2, err := reloaded.InvokeModelWithResponseStream(context.Background(), "amazon.titan-text-express-v1", in, WithQueueTimeout(time.Second))
	if err != nil {
		t.Fatalf("once the other client's stream closed: %v", err)
	}
	s2.Close()
}
