package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/quarry-dev/quarry/emulator"
)

// syncBuffer is a bytes.Buffer safe for the serve goroutine and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestServeLogs runs `quarry serve` on a config whose credentials and API
// key are all secret references (from .env beside the config and from the
// environment, one inside a longer string), at log level debug, against an
// emulator that checks the SigV4 signature made with them. Every request
// succeeding proves the values were resolved; none of them may appear in
// anything the command writes, at start-up or while serving. Each request's
// log line carries the gateway's request ID and Bedrock's x-amzn-RequestId.
func TestServeLogs(t *testing.T) {
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	const (
		apiKey     = "qk-log-test-5e1f0c7a9b"
		keyID      = "AKIAQUARRYLOGTEST0001"
		secretHead = "wJalrXUtnFEMI-"
		secretTail = "quarry-log-test-tail-83d1"
		token      = "quarry-log-test-session-token-6a2b"
	)
	emu, err := emulator.NewServer(emulator.Config{Credentials: []emulator.Credential{
		{AccessKeyID: keyID, SecretAccessKey: secretHead + secretTail, SessionToken: token}}})
	if err != nil {
		t.Fatal(err)
	}
	defer emu.Close()

	dir := t.TempDir()
	env := "QLT_API_KEY=" + apiKey + "\nQLT_KEY_ID=" + keyID + "\nQLT_SECRET_TAIL=\"" + secretTail + "\"\n"
	if err := os.WriteFile(filepath.Join(dir, ".env"), []byte(env), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("QLT_SESSION_TOKEN", token)
	creds := `
      endpoint_url: ` + emu.URL + `
      aws_region: us-east-1
      aws_access_key_id: ${ secrets:QLT_KEY_ID }
      aws_secret_access_key: ` + secretHead + `${ secrets:QLT_SECRET_TAIL }
      aws_session_token: ${ env:QLT_SESSION_TOKEN }`
	cfg := `version: v1
server:
  log_level: debug
  api_keys: ["${ secrets:QLT_API_KEY }"]
  drain_delay: 0s
models:
  - name: nova
    from: bedrock:amazon.nova-lite-v1:0
    params:` + creds + `
embeddings:
  - name: titan
    from: bedrock:amazon.titan-embed-text-v2:0
    params:` + creds + "\n"
	path := filepath.Join(dir, "quarry.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout, stderr syncBuffer
	done := make(chan int, 1)
	go func() { done <- runServe(ctx, []string{"--config", path, "--addr", "127.0.0.1:0"}, &stdout, &stderr) }()
	addrRE := regexp.MustCompile(`http://(127\.0\.0\.1:\d+)`)
	var base string
	for base == "" {
		select {
		case code := <-done:
			t.Fatalf("serve exited with %d: %s%s", code, stdout.String(), stderr.String())
		case <-time.After(10 * time.Millisecond):
		}
		if m := addrRE.FindStringSubmatch(stdout.String()); m != nil {
			base = "http://" + m[1]
		}
	}

	post := func(path, key, reqID, body string) (int, http.Header, string) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, base+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+key)
		req.Header.Set("X-Request-Id", reqID)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header, string(raw)
	}
	upstreamIDs := map[string]string{} // gateway request ID → x-amzn-RequestId
	for _, c := range []struct {
		reqID, path, key, body string
		status                 int
	}{
		{"log-chat", "/v1/chat/completions", apiKey, `{"model":"nova","messages":[{"role":"user","content":"Say hello"}]}`, 200},
		{"log-stream", "/v1/chat/completions", apiKey, `{"model":"nova","stream":true,"messages":[{"role":"user","content":"Say hello"}]}`, 200},
		{"log-embed", "/v1/embeddings", apiKey, `{"model":"titan","input":["a","b"]}`, 200},
		{"log-throttled", "/v1/chat/completions", apiKey, `{"model":"nova","messages":[{"role":"user","content":"Hi [[quarry:throttle]]"}]}`, 429},
		{"log-wrong-key", "/v1/chat/completions", "qk-not-the-key-0000", `{"model":"nova","messages":[{"role":"user","content":"Hi"}]}`, 401},
	} {
		status, hdr, raw := post(c.path, c.key, c.reqID, c.body)
		if status != c.status {
			t.Fatalf("%s: status %d, want %d: %s", c.reqID, status, c.status, raw)
		}
		if c.status != 401 {
			upstreamIDs[c.reqID] = hdr.Get("x-amzn-requestid")
		}
	}

	cancel()
	if code := <-done; code != 0 {
		t.Errorf("serve exited with %d", code)
	}
	out := stdout.String() + stderr.String()
	for name, v := range map[string]string{"API key": apiKey, "access key ID": keyID, "secret access key": secretHead + secretTail,
		"secret access key's referenced part": secretTail, "session token": token} {
		if strings.Contains(out, v) {
			t.Errorf("the %s appears in the gateway's output", name)
		}
	}

	// One JSON line per request, with both IDs.
	lines := map[string]map[string]any{}
	sc := bufio.NewScanner(strings.NewReader(stderr.String()))
	for sc.Scan() {
		var l map[string]any
		if json.Unmarshal(sc.Bytes(), &l) == nil && l["msg"] == "request" {
			if id, _ := l["request_id"].(string); id != "" {
				lines[id] = l
			}
		}
	}
	for reqID, upID := range upstreamIDs {
		l := lines[reqID]
		if l == nil {
			t.Errorf("no request log line with request_id %q in:\n%s", reqID, stderr.String())
			continue
		}
		got, _ := l["upstream_request_id"].(string)
		if reqID == "log-embed" {
			// Several Bedrock calls, so no one header: the log lists them.
			if len(strings.Split(got, ",")) != 2 {
				t.Errorf("%s: log line %v; want the two calls' upstream request IDs", reqID, l)
			}
			continue
		}
		if upID == "" || got != upID {
			t.Errorf("%s: log line %v; want upstream_request_id %q (the response's x-amzn-requestid)", reqID, l, upID)
		}
	}
	if l := lines["log-wrong-key"]; l == nil || l["status"] != float64(401) {
		t.Errorf("the refused request's log line: %v", l)
	}
}

// --addr may not open an unauthenticated gateway beyond loopback.
func TestServeAddrOffLoopbackNeedsKeys(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "quarry.yaml")
	os.WriteFile(path, []byte("version: v1\nemulator: true\nmodels:\n  - name: m\n    from: bedrock:amazon.nova-micro-v1:0\n"), 0o600)
	for _, addr := range []string{"0.0.0.0:0", ":0", "nonsense"} {
		var stdout, stderr syncBuffer
		code := runServe(context.Background(), []string{"--config", path, "--addr", addr}, &stdout, &stderr)
		want := "server.api_keys"
		if addr == "nonsense" {
			want = "host:port"
		}
		if code != 1 || !strings.Contains(stderr.String(), want) || strings.Contains(stdout.String(), "serving") {
			t.Errorf("--addr %s: exit %d, stdout %q, stderr %q; want exit 1 naming %s", addr, code, stdout.String(), stderr.String(), want)
		}
	}
}

// An address in use is reported before anything starts: no emulator, no
// store (its database file beside the config is never created).
func TestServeAddressInUse(t *testing.T) {
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	dir := t.TempDir()
	path := filepath.Join(dir, "quarry.yaml")
	os.WriteFile(path, []byte("version: v1\nemulator: true\nserver:\n  log_level: debug\nmodels:\n  - name: m\n    from: bedrock:amazon.nova-micro-v1:0\n"), 0o600)
	var stdout, stderr syncBuffer
	code := runServe(context.Background(), []string{"--config", path, "--addr", busy.Addr().String()}, &stdout, &stderr)
	if code != 1 || !strings.Contains(stderr.String(), "address already in use") {
		t.Fatalf("exit %d, stderr %q; want 1 and address already in use", code, stderr.String())
	}
	if strings.Contains(stderr.String(), "emulator") || strings.Contains(stdout.String(), "serving") {
		t.Errorf("something started before the address check: stdout %q, stderr %q", stdout.String(), stderr.String())
	}
	if _, err := os.Stat(filepath.Join(dir, "quarry-data")); !os.IsNotExist(err) {
		t.Errorf("the store was opened before the address check (quarry-data: %v)", err)
	}
}

// A model listed under the wrong kind stops start-up with file and line,
// instead of failing its first request.
func TestServeWrongKindModel(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "quarry.yaml")
	os.WriteFile(path, []byte("version: v1\nemulator: true\nmodels:\n  - name: titan\n    from: bedrock:amazon.titan-embed-text-v2:0\n"), 0o600)
	var stdout, stderr syncBuffer
	code := runServe(context.Background(), []string{"--config", path, "--addr", "127.0.0.1:0"}, &stdout, &stderr)
	want := path + `:5: models[0].from: "amazon.titan-embed-text-v2:0" is an embedding model: list it under "embeddings", not "models"`
	if code != 1 || !strings.Contains(stderr.String(), want) {
		t.Fatalf("exit %d, stderr %q; want 1 and %s", code, stderr.String(), want)
	}
}
