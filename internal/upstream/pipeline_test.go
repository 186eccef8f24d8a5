package upstream

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"reflect"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/quarry-dev/quarry/bedrock"
	"github.com/quarry-dev/quarry/internal/accesslog"
	"github.com/quarry-dev/quarry/internal/config"
)

// testGroup is a model of targets a, b, c, ... with no clients: the tests
// call the pipeline's loop (call) with a do of their own.
func testGroup(strategy config.Strategy, cooldown config.Cooldown, weights ...int) *Model {
	m := &Model{log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	m.Name, m.Routing.Strategy, m.Routing.Cooldown = "g", strategy, cooldown
	for i, w := range weights {
		m.Targets = append(m.Targets, &Target{Name: string(rune('a' + i)), weight: w, priority: i})
	}
	m.group = &group{strategy: strategy, targets: m.Targets}
	return m
}

var (
	errThrottled = &bedrock.Error{Code: bedrock.CodeThrottling, StatusCode: 429, Message: "Too many requests"}
	errInvalid   = &bedrock.Error{Code: bedrock.CodeValidation, StatusCode: 400, Message: "bad"}
)

// failing answers with the error its target's name maps to (nil: success,
// the target's name).
func failing(errs map[string]error, tried *[]string) func(context.Context, *Target) (string, error) {
	var mu sync.Mutex
	return func(_ context.Context, t *Target) (string, error) {
		mu.Lock()
		*tried = append(*tried, t.Name)
		mu.Unlock()
		if err := errs[t.Name]; err != nil {
			return "", err
		}
		return t.Name, nil
	}
}

// TestFailoverDecisions: which failures move on to the next target, and
// what the caller sees.
func TestFailoverDecisions(t *testing.T) {
	for _, c := range []struct {
		name      string
		errs      map[string]error
		wantTried []string
		wantOK    string
		wantKind  FailureKind
	}{
		{"healthy first target", nil, []string{"a"}, "a", ""},
		{"throttled moves on", map[string]error{"a": errThrottled}, []string{"a", "b"}, "b", ""},
		{"unreachable and 5xx move on", map[string]error{"a": fmt.Errorf("dial: %w", bedrock.ErrUnreachable),
			"b": &bedrock.Error{Code: bedrock.CodeInternalServer, StatusCode: 500}}, []string{"a", "b", "c"}, "c", ""},
		{"timeout moves on", map[string]error{"a": context.DeadlineExceeded}, []string{"a", "b"}, "b", ""},
		{"access denied is per target", map[string]error{"a": &bedrock.Error{Code: bedrock.CodeAccessDenied, StatusCode: 403}}, []string{"a", "b"}, "b", ""},
		{"model not ready is per target", map[string]error{"a": &bedrock.Error{Code: bedrock.CodeModelNotReady, StatusCode: 429}}, []string{"a", "b"}, "b", ""},
		{"a 400 is not retried", map[string]error{"a": errInvalid}, []string{"a"}, "", FailureInvalidRequest},
		{"all throttled: exhausted, a 429", map[string]error{"a": errThrottled, "b": errThrottled, "c": errThrottled},
			[]string{"a", "b", "c"}, "", FailureRateLimit},
	} {
		t.Run(c.name, func(t *testing.T) {
			m := testGroup(config.StrategyPriority, config.DefaultCooldown, 1, 1, 1)
			var tried []string
			entry := &accesslog.Entry{}
			got, err := call(accesslog.With(context.Background(), entry), m, false, failing(c.errs, &tried))
			if !reflect.DeepEqual(tried, c.wantTried) {
				t.Errorf("tried %v, want %v", tried, c.wantTried)
			}
			if c.wantKind == "" {
				if err != nil || got != c.wantOK || entry.Target() != c.wantOK {
					t.Fatalf("got %q, %v (log target %q); want %q", got, err, entry.Target(), c.wantOK)
				}
				return
			}
			if f := Classify(err); f.Kind != c.wantKind {
				t.Fatalf("err %v is %s, want %s", err, f.Kind, c.wantKind)
			}
			var ex *ExhaustedError
			if errors.As(err, &ex) != (len(c.wantTried) == 3) {
				t.Errorf("err %v: ExhaustedError only when every target failed", err)
			}
		})
	}
}

// TestCooldownAndRecovery: a failing target is skipped for base, then
// base*backoff after a second failure (capped at max), and serves again
// once its cooldown is over and it succeeds. Virtual time (synctest).
func TestCooldownAndRecovery(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cd := config.Cooldown{Base: 10 * time.Second, Max: 25 * time.Second, Backoff: 2}
		m := testGroup(config.StrategyPriority, cd, 1, 1)
		errs := map[string]error{"a": errThrottled}
		ctx := context.Background()
		serve := func() []string {
			var tried []string
			if _, err := call(ctx, m, false, failing(errs, &tried)); err != nil {
				t.Fatal(err)
			}
			return tried
		}
		steps := []struct {
			after time.Duration
			fixed bool // a no longer fails
			want  []string
		}{
			{0, false, []string{"a", "b"}},               // a fails: 10s cooldown
			{5 * time.Second, false, []string{"b"}},      // cooling
			{6 * time.Second, false, []string{"a", "b"}}, // 11s: tried again, fails: 20s
			{15 * time.Second, false, []string{"b"}},     // 26s: still cooling (until 31s)
			{6 * time.Second, false, []string{"a", "b"}}, // 32s: fails a third time: 40s capped at 25s
			{24 * time.Second, true, []string{"b"}},      // 56s: cooling (until 57s)
			{2 * time.Second, true, []string{"a"}},       // 58s: recovered
			{time.Second, true, []string{"a"}},           // stays, cooldown reset
		}
		for i, s := range steps {
			time.Sleep(s.after)
			if s.fixed {
				errs = nil
			}
			if got := serve(); !reflect.DeepEqual(got, s.want) {
				t.Fatalf("step %d: tried %v, want %v", i, got, s.want)
			}
		}
		// Every target cooling: the one whose cooldown ends first is tried.
		errs = map[string]error{"a": errThrottled, "b": errThrottled}
		var tried []string
		call(ctx, m, false, failing(errs, &tried)) // a then b cool down, a first
		tried = nil
		if _, err := call(ctx, m, false, failing(errs, &tried)); err == nil || !reflect.DeepEqual(tried, []string{"a"}) {
			t.Errorf("all cooling: tried %v (err %v), want a probe of a", tried, err)
		}
	})
}

// TestStrategies counts where requests go.
func TestStrategies(t *testing.T) {
	ctx := context.Background()
	count := func(m *Model, n int) map[string]int {
		got := map[string]int{}
		for range n {
			var tried []string
			name, err := call(ctx, m, false, failing(nil, &tried))
			if err != nil {
				t.Fatal(err)
			}
			got[name]++
		}
		return got
	}
	t.Run("priority", func(t *testing.T) {
		m := testGroup(config.StrategyPriority, config.DefaultCooldown, 1, 1, 1)
		m.Targets[0].priority, m.Targets[2].priority = 5, 0
		if got := count(m, 10); !reflect.DeepEqual(got, map[string]int{"c": 10}) {
			t.Errorf("went to %v, want all to c (priority 0)", got)
		}
	})
	t.Run("weighted", func(t *testing.T) {
		m := testGroup(config.StrategyWeighted, config.DefaultCooldown, 5, 1, 1)
		// Smooth: a's five turns are spread, never five in a row.
		var seq []string
		for range 7 {
			var tried []string
			name, _ := call(ctx, m, false, failing(nil, &tried))
			seq = append(seq, name)
		}
		if want := []string{"a", "a", "b", "a", "c", "a", "a"}; !reflect.DeepEqual(seq, want) {
			t.Errorf("sequence %v, want nginx's smooth %v", seq, want)
		}
		if got := count(m, 70); !reflect.DeepEqual(got, map[string]int{"a": 50, "b": 10, "c": 10}) {
			t.Errorf("went to %v, want 5:1:1", got)
		}
	})
	t.Run("least_busy", func(t *testing.T) {
		m := testGroup(config.StrategyLeastBusy, config.DefaultCooldown, 1, 1, 1)
		m.Targets[0].inflight.Store(3)
		m.Targets[1].inflight.Store(1)
		m.Targets[2].inflight.Store(2)
		if got := count(m, 4); !reflect.DeepEqual(got, map[string]int{"b": 4}) {
			t.Errorf("went to %v, want b (fewest in flight)", got)
		}
		// Calls in flight count: each blocked call makes its target busier.
		release := make(chan struct{})
		var mu sync.Mutex
		got := map[string]int{}
		var wg sync.WaitGroup
		m2 := testGroup(config.StrategyLeastBusy, config.DefaultCooldown, 1, 1, 1)
		started := make(chan struct{}, 6)
		for range 6 {
			wg.Go(func() {
				call(ctx, m2, false, func(_ context.Context, t *Target) (string, error) {
					mu.Lock()
					got[t.Name]++
					mu.Unlock()
					started <- struct{}{}
					<-release
					return t.Name, nil
				})
			})
			<-started // the next call sees this one in flight
		}
		close(release)
		wg.Wait()
		if !reflect.DeepEqual(got, map[string]int{"a": 2, "b": 2, "c": 2}) {
			t.Errorf("6 concurrent calls went to %v, want 2 each", got)
		}
	})
	t.Run("latency", func(t *testing.T) {
		m := testGroup(config.StrategyLatency, config.DefaultCooldown, 1, 1, 1)
		m.Targets[0].succeeded(300 * time.Millisecond)
		m.Targets[1].succeeded(100 * time.Millisecond)
		m.Targets[2].succeeded(200 * time.Millisecond)
		if got := count(m, 1); got["b"] != 1 {
			t.Errorf("went to %v, want b (lowest time to first token)", got)
		}
		// b slows down: its average rises above c's.
		for range 5 {
			m.Targets[1].succeeded(time.Second)
		}
		if got := count(m, 1); got["c"] != 1 {
			t.Errorf("went to %v, want c once b slowed down", got)
		}
	})
}

// TestAttemptTimeout: a target slower than attempt_timeout gives way to
// the next; the request's own deadline still ends everything.
func TestAttemptTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := testGroup(config.StrategyPriority, config.DefaultCooldown, 1, 1)
		m.Routing.AttemptTimeout = time.Second
		slowA := func(ctx context.Context, t *Target) (string, error) {
			if t.Name == "a" {
				<-ctx.Done()
				return "", ctx.Err()
			}
			return t.Name, nil
		}
		got, err := call(context.Background(), m, false, slowA)
		if err != nil || got != "b" {
			t.Fatalf("got %q, %v; want b after a timed out", got, err)
		}
		if until := m.Targets[0].CoolingUntil(); until.IsZero() {
			t.Error("a timed-out target must cool down")
		}
		// The client gone: no failover.
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		var tried []string
		if _, err := call(ctx, testGroup(config.StrategyPriority, config.DefaultCooldown, 1, 1), false, func(ctx context.Context, t *Target) (string, error) {
			tried = append(tried, t.Name)
			return "", ctx.Err()
		}); !errors.Is(err, context.Canceled) || len(tried) != 1 {
			t.Errorf("canceled: err %v after %v, want context.Canceled after one attempt", err, tried)
		}
	})
}

// TestFallbackHelper: fallbacks run in order only after a failover-class
// failure; a 400 ends the chain.
func TestFallbackHelper(t *testing.T) {
	mk := func(name string) *Model {
		m := &Model{log: slog.New(slog.NewTextHandler(io.Discard, nil))}
		m.Name = name
		return m
	}
	a, b, c := mk("a"), mk("b"), mk("c")
	a.Fallbacks = []*Model{b, c}
	for _, tc := range []struct {
		name string
		errs map[string]error
		want []string
		kind FailureKind
	}{
		{"no failure", nil, []string{"a"}, ""},
		{"throttled, then b", map[string]error{"a": errThrottled}, []string{"a", "b"}, ""},
		{"both down, then c", map[string]error{"a": errThrottled, "b": bedrock.ErrUnreachable}, []string{"a", "b", "c"}, ""},
		{"a 400 is the answer", map[string]error{"a": errInvalid}, []string{"a"}, FailureInvalidRequest},
		{"all fail", map[string]error{"a": errThrottled, "b": errThrottled, "c": errThrottled}, []string{"a", "b", "c"}, FailureRateLimit},
		{"b not the key's", map[string]error{"a": errThrottled}, []string{"a", "c"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			if tc.name == "b not the key's" {
				ctx = WithGrant(ctx, onlyModels{"a", "c"})
			}
			var got []string
			err := Fallback(ctx, a, func(m *Model) error {
				got = append(got, m.Name)
				return tc.errs[m.Name]
			})
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("called %v, want %v", got, tc.want)
			}
			if k := Classify(err).Kind; (err != nil || tc.kind != "") && k != tc.kind {
				t.Errorf("err %v (%s), want %s", err, k, tc.kind)
			}
		})
	}
}

// onlyModels is a key's grant for the models it lists.
type onlyModels []string

func (o onlyModels) Permits(names ...string) bool {
	for _, n := range names {
		if slices.Contains(o, n) {
			return true
		}
	}
	return false
}

func (o onlyModels) Allow(_ context.Context, names ...string) error {
	if o.Permits(names...) {
		return nil
	}
	return errors.New("not this key's model")
}
