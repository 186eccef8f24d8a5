package server_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// requireNode finds node and an npm package installed in dir, or skips the
// test saying what to install, unless env is 1 (CI), where a missing
// set-up must fail rather than pass silently.
func requireNode(t *testing.T, dir, pkg, env string) string {
	t.Helper()
	prefix := filepath.ToSlash(filepath.Join("internal", "server", dir)) // as seen from the repository root
	missing := func(why string) {
		t.Helper()
		if os.Getenv(env) == "1" {
			t.Fatalf("%s, and %s=1: run `npm ci --prefix %s`", why, env, prefix)
		}
		t.Skipf("%s; run `npm ci --prefix %s` to run this test", why, prefix)
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", pkg, "package.json")); err != nil {
		missing("the npm package " + pkg + " is not installed in " + dir)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		missing("node is not on PATH")
	}
	return node
}

// TestAnthropicSDK drives /v1/messages with the official Anthropic
// TypeScript SDK (npm @anthropic-ai/sdk, installed by `npm ci --prefix
// internal/server/testdata/anthropic-sdk`) on the quick start: create and
// stream on Claude and Nova, parallel tool calls streamed and not, extended
// thinking with the signed block sent back, prompt-cache write then read,
// image and PDF, count_tokens and each error type (sdk_test.mjs).
func TestAnthropicSDK(t *testing.T) {
	dir := filepath.Join("testdata", "anthropic-sdk")
	node := requireNode(t, dir, "@anthropic-ai/sdk", "QUARRY_REQUIRE_ANTHROPIC_SDK")
	const key = "sk-quarry-sdk-test"
	g := startGateway(t, quickstartWith(t, "  api_keys: ["+key+"]\n  max_request_bytes: 2097152\n"), nil)
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "sdk_test.mjs", g.URL, key)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "ANTHROPIC_API_KEY=", "ANTHROPIC_AUTH_TOKEN=", "ANTHROPIC_BASE_URL=")
	out, err := cmd.CombinedOutput()
	t.Logf("node sdk_test.mjs:\n%s", out)
	if err != nil {
		t.Fatalf("the Anthropic SDK checks failed: %v", err)
	}
}

// quickstartWith writes the quick start with extra lines in its server
// section (e.g. api_keys) and returns its path.
func quickstartWith(t *testing.T, serverLines string) string {
	t.Helper()
	b, err := os.ReadFile(quickstart)
	if err != nil {
		t.Fatal(err)
	}
	s := strings.Replace(string(b), "server:\n", "server:\n"+serverLines, 1)
	return writeConfig(t, [2]string{"quarry.yaml", s})
}
