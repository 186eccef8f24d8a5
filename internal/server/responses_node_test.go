package server_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// TestResponsesNodeSDK drives /v1/responses with the official OpenAI Node
// SDK (npm `openai`, installed by `npm ci --prefix
// internal/responses/testdata/node`). Without it the test skips, except
// when QUARRY_REQUIRE_RESPONSES_NODE=1 (CI), where it fails.
func TestResponsesNodeSDK(t *testing.T) {
	dir := filepath.Join("..", "responses", "testdata", "node")
	node := requireNode(t, dir, "openai", "QUARRY_REQUIRE_RESPONSES_NODE")
	g := startGateway(t, quickstartWithKeys(t, "node-key-one", "node-key-two"), nil)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "responses_test.mjs", g.URL+"/v1", "node-key-one", "node-key-two")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "OPENAI_API_KEY=", "OPENAI_BASE_URL=", "OPENAI_ORG_ID=", "OPENAI_PROJECT_ID=")
	out, err := cmd.CombinedOutput()
	t.Logf("node responses_test.mjs:\n%s", out)
	if err != nil {
		t.Fatalf("the Node SDK checks failed: %v", err)
	}
}
