package limits

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/quarry-dev/quarry/bedrock"
	"github.com/quarry-dev/quarry/internal/config"
	"github.com/quarry-dev/quarry/internal/limits/redistest"
)

// backends are the two implementations every behaviour test runs on: the
// Redis one against a real redis-server (its scripts), each test with its
// own key prefix.
func backends(t *testing.T) map[string]func(t *testing.T) *Limiter {
	return map[string]func(t *testing.T) *Limiter{
		"local": func(t *testing.T) *Limiter { return NewLocal() },
		"redis": func(t *testing.T) *Limiter {
			l, err := NewRedis(RedisOptions{URL: redistest.URL(t), Prefix: "test:" + t.Name() + ":" + leaseID() + ":", Timeout: time.Second})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { l.Close() })
			return l
		},
	}
}

func take(l *Limiter, rules ...Rule) (ticket, error) {
	return l.b.take(context.Background(), rules, l.estimates(rules))
}

func denied(t *testing.T, err error, limit string, maxRetry time.Duration) {
	t.Helper()
	var d *Denied
	if !errors.As(err, &d) || d.Limit != limit || d.RetryAfter <= 0 || d.RetryAfter > maxRetry {
		t.Fatalf("err = %v, want a Denied by %s retrying within %s", err, limit, maxRetry)
	}
}

func TestRequestsPerMinute(t *testing.T) {
	for name, newL := range backends(t) {
		t.Run(name, func(t *testing.T) {
			l := newL(t)
			r := Rule{Scope: "model:m", RequestsPerMinute: 600} // 10 a second: a burst of 10, then one per 100ms
			for i := range 10 {
				if _, err := take(l, r); err != nil {
					t.Fatalf("call %d: %v", i, err)
				}
			}
			_, err := take(l, r)
			denied(t, err, LimitRequests, 100*time.Millisecond)
			time.Sleep(110 * time.Millisecond)
			if _, err := take(l, r); err != nil {
				t.Fatalf("after the interval: %v", err)
			}
		})
	}
}

func TestTokensPerMinute(t *testing.T) {
	for name, newL := range backends(t) {
		t.Run(name, func(t *testing.T) {
			l := newL(t)
			r := Rule{Scope: "model:m", TokensPerMinute: 600} // 10 tokens a second
			tk, err := take(l, r)                             // charged ahead: a second's worth
			if err != nil {
				t.Fatal(err)
			}
			_, err = take(l, r)
			denied(t, err, LimitTokens, 150*time.Millisecond)
			// The call used 100 tokens: ten seconds' worth.
			tk.addTokens([]Rule{r}, []float64{90})
			time.Sleep(150 * time.Millisecond)
			_, err = take(l, r)
			denied(t, err, LimitTokens, 10*time.Second)
			var d *Denied
			errors.As(err, &d)
			if d.RetryAfter < 8*time.Second {
				t.Errorf("retry after %s, want about 9s: the limiter's state, not a constant", d.RetryAfter)
			}
			// Fewer tokens than charged give the rest back (in Redis,
			// asynchronously: off the request's path).
			tk.addTokens([]Rule{r}, []float64{-100})
			eventually(t, func() error { _, err := take(l, r); return err })
		})
	}
}

func TestConcurrency(t *testing.T) {
	for name, newL := range backends(t) {
		t.Run(name, func(t *testing.T) {
			l := newL(t)
			r := Rule{Scope: "model:m", MaxConcurrent: 2}
			a, err := take(l, r)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := take(l, r); err != nil {
				t.Fatal(err)
			}
			_, err = take(l, r)
			denied(t, err, LimitConcurrent, time.Second)
			a.release()
			a.release() // idempotent
			eventually(t, func() error { _, err := take(l, r); return err })
			_, err = take(l, r)
			denied(t, err, LimitConcurrent, time.Second)
		})
	}
}

// eventually retries f for up to 2s: the Redis backend settles releases
// and tokens off the request's path.
func eventually(t *testing.T, f func() error) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal(err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestAllOrNothing: a call refused by one rule (the key's) takes nothing
// from the others (the model's).
func TestAllOrNothing(t *testing.T) {
	for name, newL := range backends(t) {
		t.Run(name, func(t *testing.T) {
			l := newL(t)
			model := Rule{Scope: "model:m", RequestsPerMinute: 60, MaxConcurrent: 5} // burst 1
			key := Rule{Scope: "key:k", RequestsPerMinute: 60}
			if _, err := take(l, key); err != nil {
				t.Fatal(err)
			}
			_, err := take(l, model, key)
			var d *Denied
			if !errors.As(err, &d) || d.Scope != "key:k" {
				t.Fatalf("err = %v, want the key's refusal", err)
			}
			if _, err := take(l, model); err != nil {
				t.Fatalf("the model's quota was spent by a refused call: %v", err)
			}
		})
	}
}

// TestLeaseExpires: the slots of a replica that stopped renewing them (it
// died) come back once their lease ends, while a live replica keeps its.
func TestLeaseExpires(t *testing.T) {
	url := redistest.URL(t)
	prefix := "test:lease:" + leaseID() + ":"
	open := func() *Limiter {
		l, err := NewRedis(RedisOptions{URL: url, Prefix: prefix, Lease: time.Second, Timeout: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	r := Rule{Scope: "model:m", MaxConcurrent: 2}
	live, dead := open(), open()
	defer live.Close()
	if _, err := take(live, r); err != nil {
		t.Fatal(err)
	}
	if _, err := take(dead, r); err != nil {
		t.Fatal(err)
	}
	dead.Close() // stops renewing, as a killed process would
	_, err := take(live, r)
	denied(t, err, LimitConcurrent, time.Second)
	time.Sleep(1500 * time.Millisecond)
	if _, err := take(live, r); err != nil {
		t.Fatalf("the dead replica's slot did not come back after its lease: %v", err)
	}
	// The live replica's first slot was renewed, so the set is full again.
	_, err = take(live, r)
	denied(t, err, LimitConcurrent, time.Second)
}

// TestRedisDown: with Redis gone each call is decided within the timeout by
// the replica's share (limit / replicas), logged once; when Redis returns
// the limits are shared again.
func TestRedisDown(t *testing.T) {
	srv := redistest.Start(t)
	// Written only by take, in this goroutine (the background work logs
	// at Debug, below the handler's level).
	var logs bytes.Buffer
	const timeout = 200 * time.Millisecond
	l, err := NewRedis(RedisOptions{URL: srv.URL, Prefix: "down:", Replicas: 3, Timeout: timeout,
		Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	r := Rule{Scope: "model:m", RequestsPerMinute: 180} // a share of 60: a burst of 1
	if _, err := take(l, r); err != nil {
		t.Fatal(err)
	}
	srv.Stop()
	start := time.Now()
	if _, err := take(l, r); err != nil {
		t.Fatalf("first call with Redis down: %v", err)
	}
	_, err = take(l, r)
	denied(t, err, LimitRequests, time.Second)
	if d := time.Since(start); d > 2*timeout {
		t.Errorf("two calls with Redis down took %s, want under %s", d, 2*timeout)
	}
	if n := strings.Count(logs.String(), "Redis unreachable"); n != 1 {
		t.Errorf("logged the fallback %d times, want once:\n%s", n, logs.String())
	}
	srv.Restart(t)
	time.Sleep(redisRetry + 100*time.Millisecond)
	// Shared again: the full 180 rpm has a burst of 3.
	for i := range 3 {
		if _, err := take(l, r); err != nil {
			t.Fatalf("call %d after Redis returned: %v", i, err)
		}
	}
	if !strings.Contains(logs.String(), "Redis reachable again") {
		t.Errorf("recovery not logged:\n%s", logs.String())
	}
	if strings.Contains(logs.String(), srv.URL) && strings.Contains(srv.URL, "@") {
		t.Errorf("the log shows the Redis URL's credentials")
	}
}

// TestAcquire: through bedrock.Config.Limiter, a request's key rule
// counts once however many calls it makes, and Finish settles the tokens
// charged ahead with the real ones.
func TestAcquire(t *testing.T) {
	l := NewLocal()
	var bc bedrock.Config
	l.Apply("m", config.AWS{}, &bc)
	if bc.Limiter == nil || bc.RequestsPerMinute != 0 || bc.MaxConcurrent != 0 {
		t.Fatalf("local Apply: %+v; want a Limiter and the client's own limits untouched", bc)
	}
	ctx := WithRequest(context.Background())
	if !AddRule(ctx, Rule{Scope: KeyScope("k1"), RequestsPerMinute: 60}) {
		t.Fatal("AddRule found no request")
	}
	for range 3 { // one request, three calls (an embeddings batch)
		release, err := bc.Limiter.Acquire(ctx)
		if err != nil {
			t.Fatal(err)
		}
		release()
	}
	l.Finish(ctx, 30)
	// A second request with the same key: its one request per second is spent.
	ctx2 := WithRequest(context.Background())
	AddRule(ctx2, Rule{Scope: KeyScope("k1"), RequestsPerMinute: 60})
	qctx, cancel := context.WithTimeout(ctx2, 50*time.Millisecond)
	defer cancel()
	_, err := bc.Limiter.Acquire(qctx)
	denied(t, err, LimitRequests, time.Second)

	// Tokens: charged ahead a second's worth, then what the call used.
	var tc bedrock.Config
	l.Apply("t", config.AWS{TokensPerMinute: 6000}, &tc)
	ctx3 := WithRequest(context.Background())
	release, err := tc.Limiter.Acquire(ctx3)
	if err != nil {
		t.Fatal(err)
	}
	release()
	l.Finish(ctx3, 30)
	if e := l.estimates([]Rule{{Scope: "model:t", TokensPerMinute: 6000}})[0]; e != 30 {
		t.Errorf("estimate %v tokens per call, want 30", e)
	}
	if st := l.b.(*local).st["model:t"]; st.tokTat-nowMillis() > 300 {
		t.Errorf("the model's tokens were not settled: %.0fms ahead, want at most 300", st.tokTat-nowMillis())
	}

	var shared bedrock.Config
	(&Limiter{shared: true}).Apply("m", config.AWS{}, &shared)
	if shared.RequestsPerMinute != -1 || shared.MaxConcurrent != -1 {
		t.Errorf("shared Apply left the client's own limits on: %+v", shared)
	}
	if r := shared.Limiter.(*scoped).rule; r.RequestsPerMinute != bedrock.DefaultRequestsPerMinute || r.MaxConcurrent != bedrock.DefaultMaxConcurrent {
		t.Errorf("shared rule %+v, want the defaults", r)
	}
}

// TestApplyKeepsClientLimits: in this process, the clients Apply configures
// for a model share one bedrock.Limits while the model's settings stay the
// same, as a reload rebuilds them (TestReloadKeepsModelLimits in
// internal/server); new settings, or another model, get their own.
func TestApplyKeepsClientLimits(t *testing.T) {
	l := NewLocal()
	apply := func(name string, rpm, concurrent int) *bedrock.Limits {
		bc := bedrock.Config{RequestsPerMinute: rpm, MaxConcurrent: concurrent}
		l.Apply(name, config.AWS{RequestsPerMinute: rpm, MaxConcurrent: concurrent}, &bc)
		if bc.Limits == nil {
			t.Fatal("Apply set no Limits")
		}
		return bc.Limits
	}
	first := apply("m", 60, 2)
	if apply("m", 60, 2) != first {
		t.Error("the same model and settings got new Limits")
	}
	if apply("other", 60, 2) == first {
		t.Error("another model shares the first one's Limits")
	}
	changed := apply("m", 60, 3)
	if changed == first {
		t.Error("new settings kept the old Limits")
	}
	if apply("m", 60, 3) != changed {
		t.Error("the new settings' Limits were not kept")
	}
}
