package server_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/quarry-dev/quarry/emulator"
	"github.com/quarry-dev/quarry/internal/config"
	"github.com/quarry-dev/quarry/internal/server"
)

const (
	reloadKeyStay    = "qk-reload-stays-0001"
	reloadKeyRemoved = "qk-reload-removed-0002"
	reloadKeyAdded   = "qk-reload-added-0003"
)

// reloadConfig is a gateway config with one chat model on endpoint, and keys.
func reloadConfig(endpoint, modelID, store string, keys ...string) string {
	return `server:
  api_keys: ["` + strings.Join(keys, `", "`) + `"]
  drain_delay: 0s
store:
  path: ` + store + `
models:
  - name: chat
    from: bedrock:` + modelID + `
    params:
      endpoint_url: ` + endpoint + `
      aws_region: us-east-1
      aws_access_key_id: test
      aws_secret_access_key: test
`
}

// watchedGateway serves the config at path, reloading it on every value
// sent on hup and, with interval > 0, when the file changes; it logs (as
// JSON) into logs and stops when the test ends.
func watchedGateway(t *testing.T, path string, interval time.Duration) (base string, hup chan<- os.Signal, logs *lockedBuffer) {
	t.Helper()
	load := func() (*config.Config, error) { return config.Load(path) }
	cfg, err := load()
	if err != nil {
		t.Fatal(err)
	}
	logs = &lockedBuffer{}
	signals := make(chan os.Signal, 1)
	g := serveGateway(t, cfg, server.Options{Logger: slog.New(slog.NewJSONHandler(logs, nil))}, func(ctx context.Context, srv *server.Server) {
		srv.Watch(ctx, path, interval, signals, load)
	})
	return g.URL, signals, logs
}

// TestReloadSwapsTargetAndKeys: with a stream in flight on the first
// config, the file is rewritten to send the model to a second emulator and
// to swap a key. The watcher (polling the file) reloads it: the stream
// completes on the first emulator, the next request goes to the second, the
// removed key is refused and the added one accepted. Then an invalid file
// (two problems) sent by SIGHUP is refused, each problem logged, and the
// second config keeps serving. GET /admin/config shows the effective config
// without any key.
func TestReloadSwapsTargetAndKeys(t *testing.T) {
	t.Parallel()
	slow, err := emulator.NewServer(emulator.Config{Latency: emulator.Latency{BetweenTokens: 40 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	fast, err := emulator.NewServer(emulator.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer fast.Close()

	dir := t.TempDir()
	store := filepath.Join(dir, "q.db")
	path := filepath.Join(dir, "quarry.yaml")
	write := func(s string) {
		t.Helper()
		// Write beside and rename, as editors and ConfigMap updates do.
		tmp := path + ".tmp"
		if err := os.WriteFile(tmp, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, path); err != nil {
			t.Fatal(err)
		}
	}
	write(reloadConfig(slow.URL, "amazon.nova-lite-v1:0", store, reloadKeyStay, reloadKeyRemoved))
	base, hup, logs := watchedGateway(t, path, 20*time.Millisecond)

	chat := func(key string, stream bool) *http.Response {
		t.Helper()
		body := `{"model":"chat","max_tokens":40,"stream":` + map[bool]string{true: "true", false: "false"}[stream] +
			`,"messages":[{"role":"user","content":"Tell me a long story about reloads."}]}`
		req, _ := http.NewRequest("POST", base+"/v1/chat/completions", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+key)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	status := func(key string) int {
		t.Helper()
		resp := chat(key, false)
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	adminConfig := func() map[string]any {
		t.Helper()
		resp, err := http.Get(base + "/admin/config")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 {
			t.Fatalf("GET /admin/config = %d %s", resp.StatusCode, b)
		}
		for _, k := range []string{reloadKeyStay, reloadKeyRemoved, reloadKeyAdded} {
			if strings.Contains(string(b), k) {
				t.Fatalf("/admin/config shows key %s: %s", k, b)
			}
		}
		var v map[string]any
		if err := json.Unmarshal(b, &v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	if g := adminConfig()["generation"]; g != 1.0 {
		t.Fatalf("generation %v at start", g)
	}

	// A stream in flight on the first config: read its first chunk.
	stream := chat(reloadKeyRemoved, true)
	defer stream.Body.Close()
	if stream.StatusCode != 200 {
		t.Fatalf("stream: %d", stream.StatusCode)
	}
	sc := bufio.NewScanner(stream.Body)
	if !sc.Scan() {
		t.Fatal("no first stream line")
	}

	// The new config: another target (emulator and model ID), a key swapped,
	// and a setting that needs a restart.
	write(strings.Replace(reloadConfig(fast.URL, "amazon.nova-pro-v1:0", store, reloadKeyStay, reloadKeyAdded),
		"  drain_delay: 0s\n", "  drain_delay: 0s\n  read_header_timeout: 3s\n", 1))
	deadline := time.Now().Add(10 * time.Second)
	var v map[string]any
	for v = adminConfig(); v["generation"] != 2.0; v = adminConfig() {
		if time.Now().After(deadline) {
			t.Fatalf("the watcher did not reload; logs:\n%s", logs)
		}
		time.Sleep(20 * time.Millisecond)
	}

	// The stream started before the reload completes on the old target.
	var chunks int
	var sawDone bool
	for sc.Scan() {
		if d, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
			chunks++
			sawDone = sawDone || d == "[DONE]"
		}
	}
	if !sawDone || chunks < 5 {
		t.Fatalf("in-flight stream: %d chunks, [DONE] %v (err %v)", chunks, sawDone, sc.Err())
	}
	slowBefore, fastBefore := slow.Stats().Requests["ConverseStream"]+slow.Stats().Requests["Converse"], fast.Stats().Requests["Converse"]

	for _, tc := range []struct {
		key  string
		want int
	}{{reloadKeyStay, 200}, {reloadKeyAdded, 200}, {reloadKeyRemoved, 401}} {
		if got := status(tc.key); got != tc.want {
			t.Errorf("after reload, key %s: %d, want %d", tc.key, got, tc.want)
		}
	}
	if got := fast.Stats().Requests["Converse"] - fastBefore; got != 2 {
		t.Errorf("second emulator got %d Converse calls after the reload, want 2", got)
	}
	if got := slow.Stats().Requests["ConverseStream"] + slow.Stats().Requests["Converse"]; got != slowBefore {
		t.Errorf("first emulator still called after the reload (%d → %d)", slowBefore, got)
	}
	cv := v["config"].(map[string]any)
	model := cv["models"].([]any)[0].(map[string]any)
	if model["from"] != "bedrock:amazon.nova-pro-v1:0" || model["params"].(map[string]any)["endpoint_url"] != fast.URL {
		t.Errorf("/admin/config model after reload: %v", model)
	}
	if rr := v["restart_required"].([]any); len(rr) != 1 || rr[0] != "server.read_header_timeout" {
		t.Errorf("restart_required = %v, want [server.read_header_timeout]", rr)
	}
	if got := cv["server"].(map[string]any)["read_header_timeout"]; got != "10s" {
		t.Errorf("read_header_timeout shown %v, want the running 10s", got)
	}

	// An invalid file: refused, each problem logged, the last good config
	// keeps serving.
	write(`server:
  api_keys: ["short"]
models:
  - name: chat
    from: bedrock:amazon.nova-pro-v1:0
    params:
      bedrock_trace: loud
`)
	// The poller may see the bad file first; either way it is refused.
	hup <- os.Interrupt
	deadline = time.Now().Add(10 * time.Second)
	for !strings.Contains(logs.String(), "bedrock_trace") {
		if time.Now().After(deadline) {
			t.Fatalf("the invalid config's problems were not logged:\n%s", logs)
		}
		time.Sleep(20 * time.Millisecond)
	}
	out := logs.String()
	for _, want := range []string{
		`quarry.yaml:2: server.api_keys[0]: a key must be at least 8 characters`,
		`quarry.yaml:7: models[0].params.bedrock_trace: must be one of disabled, enabled, enabled_full (got \"loud\")`,
		"config reload refused; the running config keeps serving",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("logs lack %s:\n%s", want, out)
		}
	}
	if g := adminConfig()["generation"]; g != 2.0 {
		t.Errorf("generation %v after an invalid file, want 2", g)
	}
	if got := status(reloadKeyAdded); got != 200 {
		t.Errorf("after an invalid file, the running config answers %d", got)
	}
}
