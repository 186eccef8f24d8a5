package server_test

import (
	"bufio"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestReloadKeepsModelLimits: a reload rebuilds the models' Bedrock
// clients, but not their max_concurrent_invocations count: with the one
// slot held by a stream opened before the reload, a request after it waits
// for that slot and is refused (429) once the queue timeout passes, where
// fresh clients would have let it through to Bedrock. Once the stream
// ends, the slot is free again.
//
// Not parallel: the gateway trusts the fake Bedrock through AWS_CA_BUNDLE.
func TestReloadKeepsModelLimits(t *testing.T) {
	up := newHeldBedrock(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "quarry.yaml")
	write := func(description string) {
		t.Helper()
		yaml := `server:
  drain_delay: 0s
  queue_timeout: 200ms
store:
  path: ` + filepath.Join(dir, "q.db") + `
models:
  - name: nova
    from: bedrock:amazon.nova-lite-v1:0
    description: ` + description + `
    params:
      endpoint_url: ` + up.URL + `
      aws_region: us-east-1
      aws_access_key_id: test
      aws_secret_access_key: test
      max_concurrent_invocations: 1
`
		if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("before the reload")
	t.Setenv("AWS_CA_BUNDLE", up.caFile)
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	base, hup, logs := watchedGateway(t, path, 0)
	chat := func() *http.Response {
		t.Helper()
		resp, err := http.Post(base+"/v1/chat/completions", "application/json",
			strings.NewReader(`{"model":"nova","stream":true,"messages":[{"role":"user","content":"Hi"}]}`))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { resp.Body.Close() })
		return resp
	}

	held := chat()
	br := bufio.NewReader(held.Body)
	if _, err := readUntil(br, "data: "); held.StatusCode != 200 || err != nil {
		t.Fatalf("the first stream: %d, %v", held.StatusCode, err)
	}
	write("after the reload")
	hup <- syscall.SIGHUP
	for deadline := time.Now().Add(5 * time.Second); !strings.Contains(logs.String(), "config reloaded"); {
		if time.Now().After(deadline) {
			t.Fatalf("no reload within 5s; logs:\n%s", logs)
		}
		time.Sleep(10 * time.Millisecond)
	}

	// (A 200 would be a stream the fake Bedrock holds: its body is not
	// read.)
	if resp := chat(); resp.StatusCode != http.StatusTooManyRequests {
		t.Errorf("with the only slot held across the reload: %d, want 429", resp.StatusCode)
	} else if b, _ := io.ReadAll(resp.Body); !strings.Contains(string(b), "max_concurrent_invocations") && !strings.Contains(string(b), "limit") {
		t.Errorf("the 429 does not say which limit: %s", b)
	}
	close(up.release)
	if _, err := readUntil(br, "data: [DONE]"); err != nil {
		t.Fatalf("the first stream did not end: %v", err)
	}
	held.Body.Close()
	resp := chat()
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("once the first stream ended: %d %s", resp.StatusCode, b)
	}
	if _, err := readUntil(bufio.NewReader(resp.Body), "data: [DONE]"); err != nil {
		t.Errorf("the stream after: %v", err)
	}
}
