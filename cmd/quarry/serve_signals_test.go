package main

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/quarry-dev/quarry/emulator"
)

// servedProcess is `quarry serve` running as its own process.
type servedProcess struct {
	cmd    *exec.Cmd
	base   string // http://host:port
	addr   string
	stderr *syncBuffer
	exited chan error
}

// startServeProcess builds the binary and runs `quarry serve --config path`
// on a free loopback port, returning once it announces its address.
func startServeProcess(t *testing.T, path string, extra ...string) *servedProcess {
	t.Helper()
	bin, err := buildQuarry()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, append([]string{"serve", "--config", path, "--addr", "127.0.0.1:0"}, extra...)...)
	cmd.Env = append(os.Environ(), "AWS_EC2_METADATA_DISABLED=true")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	p := &servedProcess{cmd: cmd, stderr: &syncBuffer{}, exited: make(chan error, 1)}
	cmd.Stderr = p.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-p.exited
	})
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			default:
			}
		}
		p.exited <- cmd.Wait()
	}()
	select {
	case l := <-lines:
		m := regexp.MustCompile(`on http://(\S+) `).FindStringSubmatch(l)
		if m == nil {
			t.Fatalf("unexpected first line %q", l)
		}
		p.addr, p.base = m[1], "http://"+m[1]
	case <-time.After(60 * time.Second):
		t.Fatalf("quarry serve did not start; stderr:\n%s", p.stderr)
	}
	return p
}

// slowEmulator answers every stream at 150 ms per event (a few seconds a
// stream: longer than the drain delay).
func slowEmulator(t *testing.T) *emulator.Server {
	t.Helper()
	emu, err := emulator.NewServer(emulator.Config{Latency: emulator.Latency{BetweenTokens: 150 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(emu.Close)
	return emu
}

func signalsConfig(emuURL, keys, extra string) string {
	return `server:
  api_keys: [` + keys + `]
  shutdown_timeout: 30s
` + extra + `store:
  path: quarry-data/q.db
models:
  - name: chat
    from: bedrock:amazon.nova-lite-v1:0
    params:
      endpoint_url: ` + emuURL + `
      aws_region: us-east-1
      aws_access_key_id: test
      aws_secret_access_key: test
`
}

const signalsKey = "qk-signals-key-0001"

// openStream starts a chat stream and returns its body once the first
// event arrived.
func openStream(t *testing.T, base, key string) *bufio.Scanner {
	t.Helper()
	req, _ := http.NewRequest("POST", base+"/v1/chat/completions", strings.NewReader(
		`{"model":"chat","stream":true,"max_tokens":60,"messages":[{"role":"user","content":"Write a long story about a lighthouse keeper."}]}`))
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("stream: %d %s", resp.StatusCode, b)
	}
	sc := bufio.NewScanner(resp.Body)
	if !sc.Scan() {
		t.Fatal("stream: no first event")
	}
	return sc
}

// TestServeSIGTERMDrains runs the gateway as a process with three slow
// streams in flight and sends it SIGTERM: /v1/ready turns 503 first while
// the listener still accepts (drain_delay), then new connections are
// refused while the streams are still running, every stream completes
// with [DONE], and the process exits 0.
func TestServeSIGTERMDrains(t *testing.T) {
	emu := slowEmulator(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "quarry.yaml")
	if err := os.WriteFile(path, []byte(signalsConfig(emu.URL, `"`+signalsKey+`"`, "  drain_delay: 1s\n")), 0o600); err != nil {
		t.Fatal(err)
	}
	p := startServeProcess(t, path)

	var streams []*bufio.Scanner
	for range 3 {
		streams = append(streams, openStream(t, p.base, signalsKey))
	}
	type result struct {
		done   bool
		events int
		at     time.Time
	}
	results := make([]result, len(streams))
	var wg sync.WaitGroup
	for i, sc := range streams {
		wg.Go(func() {
			for sc.Scan() {
				if d, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
					results[i].events++
					results[i].done = results[i].done || d == "[DONE]"
				}
			}
			results[i].at = time.Now()
		})
	}

	sent := time.Now()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	// Readiness turns false first, while the listener still serves.
	var notReady time.Time
	for notReady.IsZero() {
		resp, err := http.Get(p.base + "/v1/ready")
		if err != nil {
			t.Fatalf("/v1/ready unreachable before it reported not ready: %v", err)
		}
		if resp.StatusCode == http.StatusServiceUnavailable {
			notReady = time.Now()
		}
		resp.Body.Close()
		if time.Since(sent) > 5*time.Second {
			t.Fatal("/v1/ready never answered 503")
		}
		time.Sleep(10 * time.Millisecond)
	}
	// Then new connections are refused.
	var refused time.Time
	for refused.IsZero() {
		c, err := net.DialTimeout("tcp", p.addr, time.Second)
		if err != nil {
			if !errors.Is(err, syscall.ECONNREFUSED) {
				t.Fatalf("dial after SIGTERM: %v, want connection refused", err)
			}
			refused = time.Now()
			break
		}
		c.Close()
		if time.Since(sent) > 10*time.Second {
			t.Fatal("the listener never closed")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if d := refused.Sub(sent); d < 900*time.Millisecond {
		t.Errorf("connections refused %v after SIGTERM, before drain_delay (1s)", d)
	}
	wg.Wait()
	for i, r := range results {
		if !r.done || r.events < 5 {
			t.Errorf("stream %d: %d events, [DONE] %v", i, r.events, r.done)
		}
		if !r.at.After(refused) {
			t.Errorf("stream %d ended at %v, before the listener closed (%v): not in flight during the drain", i, r.at.Sub(sent), refused.Sub(sent))
		}
	}
	select {
	case err := <-p.exited:
		if err != nil {
			t.Errorf("exit: %v; stderr:\n%s", err, p.stderr)
		}
		p.exited <- err // for the cleanup
	case <-time.After(30 * time.Second):
		t.Fatal("the process did not exit after its streams ended")
	}
	if !strings.Contains(p.stderr.String(), "shutting down: not ready, draining") {
		t.Errorf("no drain log line:\n%s", p.stderr)
	}
}

// TestServeReloadSignals: SIGHUP reloads an edited config in a running
// process (a new key works, a removed one is refused), and with --watch a
// change to the file alone is enough; an invalid file is refused with each
// problem logged, and the gateway keeps serving.
func TestServeReloadSignals(t *testing.T) {
	emu := slowEmulator(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "quarry.yaml")
	const other = "qk-signals-key-0002"
	write := func(s string) {
		t.Helper()
		if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(signalsConfig(emu.URL, `"`+signalsKey+`"`, "  drain_delay: 0s\n"))
	p := startServeProcess(t, path, "--watch", "--watch-interval", "50ms")
	status := func(key string) int {
		req, _ := http.NewRequest("GET", p.base+"/v1/models", nil)
		req.Header.Set("Authorization", "Bearer "+key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		for deadline := time.Now().Add(15 * time.Second); !cond(); time.Sleep(20 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("%s: timed out; stderr:\n%s", what, p.stderr)
			}
		}
	}
	if status(other) != 401 || status(signalsKey) != 200 {
		t.Fatal("keys before the reload")
	}

	// SIGHUP: the file is rewritten with --watch too, so whichever comes
	// first reloads it; both must end on the new keys.
	write(signalsConfig(emu.URL, `"`+other+`"`, "  drain_delay: 0s\n"))
	p.cmd.Process.Signal(syscall.SIGHUP)
	waitFor("reload to the new key", func() bool { return status(other) == 200 })
	if got := status(signalsKey); got != 401 {
		t.Errorf("removed key after reload: %d, want 401", got)
	}

	// An invalid file, picked up by --watch alone.
	write("server:\n  api_keys: [short]\n  drain_delay: forever\n")
	waitFor("invalid config logged", func() bool { return strings.Contains(p.stderr.String(), "config reload refused") })
	for _, want := range []string{"server.api_keys[0]: a key must be at least 8 characters", "server.drain_delay: must be a duration"} {
		if !strings.Contains(p.stderr.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, p.stderr)
		}
	}
	if got := status(other); got != 200 {
		t.Errorf("after an invalid file the running config answers %d", got)
	}
	// SIGHUP with the invalid file still there: refused again, still serving.
	p.cmd.Process.Signal(syscall.SIGHUP)
	waitFor("second refusal", func() bool { return strings.Count(p.stderr.String(), "config reload refused") >= 2 })
	if got := status(other); got != 200 {
		t.Errorf("after SIGHUP on an invalid file the running config answers %d", got)
	}
}
