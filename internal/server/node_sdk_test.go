package server_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// TestNodeSDK drives the gateway with the official OpenAI Node SDK (npm
// `openai`, installed by `npm ci --prefix internal/server/testdata/node`):
// chat, streaming chat and embeddings. Without the package it skips, except
// when QUARRY_REQUIRE_NODE=1 (CI), where a missing Node set-up must fail
// rather than pass silently.
func TestNodeSDK(t *testing.T) {
	t.Parallel()
	dir := filepath.Join("testdata", "node")
	node := requireNode(t, dir, "openai", "QUARRY_REQUIRE_NODE")

	g := startGateway(t, quickstart, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "sdk_test.mjs", g.URL+"/v1")
	cmd.Dir = dir
	// The SDK reads these; the script passes its own, and nothing from the
	// developer's environment may point it elsewhere.
	cmd.Env = append(os.Environ(), "OPENAI_API_KEY=unused", "OPENAI_BASE_URL=", "OPENAI_ORG_ID=", "OPENAI_PROJECT_ID=")
	out, err := cmd.CombinedOutput()
	t.Logf("node sdk_test.mjs:\n%s", out)
	if err != nil {
		t.Fatalf("the Node SDK checks failed: %v", err)
	}
}
