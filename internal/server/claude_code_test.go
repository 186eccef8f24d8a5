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

// TestClaudeCode runs Claude Code (npm @anthropic-ai/claude-code, installed
// by `npm ci --prefix internal/server/testdata/claude-code`) in print mode
// against `quarry serve` on the quick start. Both run inside a network
// namespace with only loopback (unshare -rn), so Claude Code can reach
// nothing but the gateway, with its nonessential traffic off. The printed
// answer is the emulator's deterministic reply to Claude Code's request
// (its system prompt makes it start "As a Claude agent").
func TestClaudeCode(t *testing.T) {
	dir := filepath.Join("testdata", "claude-code")
	const env = "QUARRY_REQUIRE_CLAUDE_CODE"
	requireNode(t, dir, "@anthropic-ai/claude-code", env)
	claude, err := filepath.Abs(filepath.Join(dir, "node_modules", "@anthropic-ai", "claude-code", "bin", "claude.exe"))
	if err != nil {
		t.Fatal(err)
	}
	if err := exec.Command("unshare", "-rn", "true").Run(); err != nil {
		if os.Getenv(env) == "1" {
			t.Fatalf("unshare -rn (a user and network namespace) failed: %v", err)
		}
		t.Skipf("unshare -rn is not available here (%v); the test needs a network namespace with loopback only", err)
	}
	tmp := t.TempDir()
	quarry := filepath.Join(tmp, "quarry")
	build := exec.Command("go", "build", "-o", quarry, "../../cmd/quarry")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	qs, err := os.ReadFile(quickstart)
	if err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(tmp, "quarry.yaml")
	os.WriteFile(cfg, []byte(strings.Replace(string(qs), "127.0.0.1:8080", "127.0.0.1:18080", 1)), 0o600)
	home := filepath.Join(tmp, "home")
	os.Mkdir(home, 0o700)
	log := filepath.Join(tmp, "gateway.log")
	script := `set -e
ip link set lo up
"$QUARRY" serve --config "$CONFIG" >"$LOG" 2>&1 &
gw=$!
trap 'kill $gw 2>/dev/null || true' EXIT
for i in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/18080) 2>/dev/null && break; sleep 0.1; done
"$CLAUDE" -p "Say hello" --model claude-sonnet --tools ""
`
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "unshare", "-rn", "sh", "-c", script)
	cmd.Env = []string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + home, "QUARRY=" + quarry, "CONFIG=" + cfg, "LOG=" + log, "CLAUDE=" + claude,
		"AWS_EC2_METADATA_DISABLED=true",
		"ANTHROPIC_BASE_URL=http://127.0.0.1:18080", "ANTHROPIC_API_KEY=sk-test",
		"CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1", "DISABLE_TELEMETRY=1", "DISABLE_AUTOUPDATER=1",
		"DISABLE_ERROR_REPORTING=1", "DISABLE_BUG_COMMAND=1", "CLAUDE_CODE_DISABLE_FEEDBACK_SURVEY=1",
	}
	out, err := cmd.CombinedOutput()
	gw, _ := os.ReadFile(log)
	if err != nil {
		t.Fatalf("claude -p failed: %v\n%s\ngateway log:\n%s", err, out, gw)
	}
	answer := strings.TrimSpace(string(out))
	if !strings.HasPrefix(answer, "As a Claude agent") {
		t.Errorf("Claude Code printed %q; want the emulator's reply, starting \"As a Claude agent\"\ngateway log:\n%s", answer, gw)
	}
	if !strings.Contains(string(gw), `"path":"/v1/messages","status":200`) || !strings.Contains(string(gw), `"model":"claude-sonnet"`) {
		t.Errorf("the gateway did not log a served /v1/messages request:\n%s", gw)
	}
}
