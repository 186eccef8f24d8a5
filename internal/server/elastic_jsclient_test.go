package server_test

import (
	"context"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// TestJSClient drives /_inference with the official Elasticsearch
// JavaScript client (npm @elastic/elasticsearch, installed by `npm ci
// --prefix internal/elastic/testdata/node`). Without it the test skips,
// unless QUARRY_REQUIRE_ES_JS=1 (CI), where it fails.
func TestJSClient(t *testing.T) {
	dir := filepath.Join("..", "elastic", "testdata", "node")
	node := requireNode(t, dir, "@elastic/elasticsearch", "QUARRY_REQUIRE_ES_JS")
	g := esWithKey(t, "es-js-key")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "client_test.mjs", g.URL, "es-js-key")
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	t.Logf("node client_test.mjs:\n%s", out)
	if err != nil {
		t.Fatalf("the Elasticsearch JS client checks failed: %v", err)
	}
}
