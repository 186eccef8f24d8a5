package upstream

import (
	"context"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/quarry-dev/quarry/bedrock"
	"github.com/quarry-dev/quarry/emulator"
	"github.com/quarry-dev/quarry/internal/accesslog"
	"github.com/quarry-dev/quarry/internal/config"
)

// emuTarget is an emulator serving as one target.
type emuTarget struct{ *emulator.Server }

// calls counts the model calls it received (Converse and ConverseStream).
func (e emuTarget) calls() int64 {
	st := e.Stats()
	return st.Requests["Converse"] + st.Requests["ConverseStream"]
}

// newEmuTarget starts an emulator with cfg (its faults and latency).
func newEmuTarget(t *testing.T, cfg emulator.Config) emuTarget {
	t.Helper()
	s, err := emulator.NewServer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return emuTarget{s}
}

// downURL is an address nothing listens on (a closed listener).
func downURL(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return "http://" + addr
}

func always(fault string) emulator.Config {
	return emulator.Config{Faults: emulator.Faults{Rules: []emulator.FaultRule{{Fault: fault, Rate: 1}}}}
}

// groupOf builds the registry of one chat model "g" whose targets are the
// given endpoints, in order, named t0, t1, ...
func groupOf(t *testing.T, extra string, urls ...string) *Model {
	t.Helper()
	var b strings.Builder
	b.WriteString("models:\n  - name: g\n" + extra + "    targets:\n")
	for i, u := range urls {
		fmt.Fprintf(&b, "      - {name: t%d, from: \"bedrock:amazon.nova-lite-v1:0\", endpoint_url: %q, aws_region: us-east-1, aws_access_key_id: test, aws_secret_access_key: test}\n", i, u)
	}
	return modelOf(t, b.String(), "g")
}

// modelOf is the model name of the registry of the config yml.
func modelOf(t *testing.T, yml, name string) *Model {
	t.Helper()
	cfg, err := config.Parse("q.yaml", []byte(yml), &config.Secrets{})
	if err != nil {
		t.Fatal(err)
	}
	reg, err := New(context.Background(), cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	m, _ := reg.Lookup(name)
	return m
}

func hello(s string) *bedrock.ConverseRequest {
	return &bedrock.ConverseRequest{Messages: []bedrock.Message{bedrock.UserText(s)}}
}

// converse calls m and returns the target the access log names.
func converse(t *testing.T, m *Model, text string) (string, error) {
	t.Helper()
	e := &accesslog.Entry{}
	ctx, cancel := context.WithTimeout(accesslog.With(context.Background(), e), 10*time.Second)
	defer cancel()
	_, err := m.Converse(ctx, hello(text))
	return e.Target(), err
}

// TestFailoverAcrossEmulators: one target throttling, one down, one slow
// (attempt_timeout), one healthy; priority tries them in order and the
// request is served by the healthy one; the others cool down.
func TestFailoverAcrossEmulators(t *testing.T) {
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	throttling := newEmuTarget(t, always("throttle"))
	slow := newEmuTarget(t, emulator.Config{Latency: emulator.Latency{FirstToken: 3 * time.Second}})
	healthy := newEmuTarget(t, emulator.Config{})
	m := groupOf(t, "    attempt_timeout: 200ms\n", throttling.URL, downURL(t), slow.URL, healthy.URL)

	target, err := converse(t, m, "hello")
	if err != nil || target != "t3" {
		t.Fatalf("served by %q, %v; want t3", target, err)
	}
	if throttling.calls() != 1 || slow.calls() != 1 || healthy.calls() != 1 {
		t.Errorf("calls: throttling %d, slow %d, healthy %d; want one each (no retries on a target)",
			throttling.calls(), slow.calls(), healthy.calls())
	}
	for _, tg := range m.Targets[:3] {
		if tg.CoolingUntil().IsZero() {
			t.Errorf("%s failed but is not cooling down", tg.Name)
		}
	}
	// Cooling targets are skipped: the next request goes straight to t3.
	if target, err := converse(t, m, "again"); err != nil || target != "t3" || throttling.calls() != 1 || slow.calls() != 1 {
		t.Errorf("second request: %q, %v; throttling %d, slow %d calls; want t3 without trying the cooling ones",
			target, err, throttling.calls(), slow.calls())
	}
}

// TestValidationNotRetried: a 400 from the first target is the answer.
func TestValidationNotRetried(t *testing.T) {
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	a, b := newEmuTarget(t, emulator.Config{}), newEmuTarget(t, emulator.Config{})
	m := groupOf(t, "", a.URL, b.URL)
	e := &accesslog.Entry{}
	bad := &bedrock.ConverseRequest{Messages: []bedrock.Message{bedrock.UserText("x")},
		InferenceConfig: &bedrock.InferenceConfig{Temperature: ptr(5.0)}}
	_, err := m.Converse(accesslog.With(context.Background(), e), bad)
	if f := Classify(err); f.Status != 400 {
		t.Fatalf("err %v (%d), want a 400", err, f.Status)
	}
	if a.calls() != 1 || b.calls() != 0 || e.Target() != "t0" {
		t.Errorf("calls a %d, b %d, target %q; want the 400 from t0 only", a.calls(), b.calls(), e.Target())
	}
}

func ptr[T any](v T) *T { return &v }

// TestStrategiesAcrossEmulators counts where requests went.
func TestStrategiesAcrossEmulators(t *testing.T) {
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Run("weighted", func(t *testing.T) {
		a, b := newEmuTarget(t, emulator.Config{}), newEmuTarget(t, emulator.Config{})
		m := groupOf(t, "    strategy: weighted\n", a.URL, b.URL)
		m.Targets[0].weight = 3 // as weight: 3 would
		for range 8 {
			if _, err := converse(t, m, "hi"); err != nil {
				t.Fatal(err)
			}
		}
		if a.calls() != 6 || b.calls() != 2 {
			t.Errorf("a %d, b %d calls; want 6 and 2 (3:1)", a.calls(), b.calls())
		}
	})
	t.Run("least_busy", func(t *testing.T) {
		// Streams in flight hold their target: three open streams spread
		// over three targets, a fourth goes to the one whose stream ended.
		a, b, c := newEmuTarget(t, emulator.Config{}), newEmuTarget(t, emulator.Config{}), newEmuTarget(t, emulator.Config{})
		m := groupOf(t, "    strategy: least_busy\n", a.URL, b.URL, c.URL)
		var cancels []context.CancelFunc
		for range 3 {
			ctx, cancel := context.WithCancel(context.Background())
			cancels = append(cancels, cancel)
			s, err := m.ConverseStream(ctx, hello("hi"))
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
		}
		if a.calls() != 1 || b.calls() != 1 || c.calls() != 1 {
			t.Fatalf("three streams went to a %d, b %d, c %d; want one each", a.calls(), b.calls(), c.calls())
		}
		cancels[1]() // b's stream ends
		waitFor(t, func() bool { return m.Targets[1].InFlight() == 0 })
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		e := &accesslog.Entry{}
		s, err := m.ConverseStream(accesslog.With(ctx, e), hello("hi"))
		if err != nil {
			t.Fatal(err)
		}
		s.Close()
		if e.Target() != "t1" {
			t.Errorf("fourth stream went to %s, want t1 (the idle one)", e.Target())
		}
		for _, c := range cancels {
			c()
		}
	})
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for range 200 {
		if cond() {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatal("condition not reached")
}

// TestStreamFailover: a stream whose opening or first event fails moves to
// the next target; one that fails after its first event does not.
func TestStreamFailover(t *testing.T) {
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	for _, c := range []struct {
		name     string
		first    emulator.Config
		wantFrom string
		wantB    int64
	}{
		{"throttled when opening", always("throttle"), "t1", 1},
		{"unavailable when opening", always("unavailable"), "t1", 1},
		{"fails after its first events", always("model-stream-error"), "t0", 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			a, b := newEmuTarget(t, c.first), newEmuTarget(t, emulator.Config{})
			m := groupOf(t, "", a.URL, b.URL)
			e := &accesslog.Entry{}
			ctx, cancel := context.WithTimeout(accesslog.With(context.Background(), e), 10*time.Second)
			defer cancel()
			s, err := m.ConverseStream(ctx, hello("tell me a story"))
			if err != nil {
				t.Fatalf("open: %v", err)
			}
			defer s.Close()
			events := 1 // the first is current
			for s.Next() {
				events++
			}
			if e.Target() != c.wantFrom || b.calls() != c.wantB {
				t.Errorf("served by %s with %d calls to t1; want %s and %d", e.Target(), b.calls(), c.wantFrom, c.wantB)
			}
			if c.wantB == 0 && (s.Err() == nil || events < 2) {
				t.Errorf("after %d events err %v: want the mid-stream error passed on, not a failover", events, s.Err())
			}
			if c.wantB == 1 && s.Err() != nil {
				t.Errorf("the failed-over stream ended with %v", s.Err())
			}
		})
	}
}

// TestSingleTargetUnchanged: a from: model is a group of one, named by its
// model ID and region, that retries as before and never cools down.
func TestSingleTargetUnchanged(t *testing.T) {
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	emu := newEmuTarget(t, always("throttle"))
	m := modelOf(t, fmt.Sprintf(`models:
  - name: one
    from: bedrock:amazon.nova-lite-v1:0
    params: {endpoint_url: %q, aws_region: eu-west-1, aws_access_key_id: test, aws_secret_access_key: test}
`, emu.URL), "one")
	if len(m.Targets) != 1 || m.group != nil || m.Targets[0].Name != "0/amazon.nova-lite-v1:0@eu-west-1" {
		t.Fatalf("targets %+v", m.Targets)
	}
	target, err := converse(t, m, "hi")
	if Classify(err).Status != 429 || target != m.Targets[0].Name || !m.Targets[0].CoolingUntil().IsZero() {
		t.Errorf("err %v, target %q; want a 429 from the one target, no cooldown", err, target)
	}
	if emu.calls() < 2 {
		t.Errorf("%d calls: a single target keeps the client's own retries", emu.calls())
	}
}
