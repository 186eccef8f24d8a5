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

// codexDir holds the npm install of Codex CLI (`npm ci --prefix
// internal/responses/testdata/codex`).
const codexDir = "../responses/testdata/codex"

// TestResponsesCodexCLI runs `codex exec` (npm @openai/codex) through the
// quick start: the quarry binary, built here, and Codex both run inside one
// network namespace with loopback only (unshare -rn), Codex with a custom
// provider (wire_api = "responses") in a temporary CODEX_HOME and its
// nonessential traffic off. Without Codex or user namespaces it skips,
// unless QUARRY_REQUIRE_CODEX=1 (CI), where it fails.
func TestResponsesCodexCLI(t *testing.T) {
	missing := func(why string) {
		t.Helper()
		if os.Getenv("QUARRY_REQUIRE_CODEX") == "1" {
			t.Fatalf("%s, and QUARRY_REQUIRE_CODEX=1: run `npm ci --prefix internal/responses/testdata/codex`", why)
		}
		t.Skipf("%s; run `npm ci --prefix internal/responses/testdata/codex` to run the Codex CLI test", why)
	}
	codex, err := filepath.Abs(filepath.Join(codexDir, "node_modules", ".bin", "codex"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(codex); err != nil {
		missing("Codex CLI is not installed in " + codexDir)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		missing("node is not on PATH")
	}
	if err := exec.Command("unshare", "-rn", "true").Run(); err != nil {
		missing("unshare -rn does not work here (" + err.Error() + ")")
	}

	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	bin := filepath.Join(dir, "quarry")
	if out, err := exec.CommandContext(ctx, "go", "build", "-o", bin, "../../cmd/quarry").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	qs, err := os.ReadFile(quickstart)
	if err != nil {
		t.Fatal(err)
	}
	const addr = "127.0.0.1:18080" // inside the namespace: always free
	cfg := strings.Replace(string(qs), "127.0.0.1:8080", addr, 1) + "\nstore:\n  path: " + filepath.Join(dir, "data", "quarry.db") + "\n"
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	write("quarry.yaml", cfg)
	// Codex's own built-in web_search tool is off: Bedrock has no hosted
	// web search, and the gateway refuses built-in tools with a 400.
	write("codex-home/config.toml", `model = "claude-sonnet"
model_provider = "quarry"
web_search = "disabled"
check_for_update_on_startup = false

[analytics]
enabled = false

[feedback]
enabled = false

[model_providers.quarry]
name = "Quarry"
base_url = "http://`+addr+`/v1"
wire_api = "responses"
env_key = "QUARRY_API_KEY"
`)
	script := `ip link set lo up
"$QUARRY" serve --config quarry.yaml > gateway.log 2>&1 &
qpid=$!
"$NODE" -e 'const go=async()=>{for(let i=0;i<200;i++){try{if((await fetch("http://` + addr + `/health")).ok)return}catch{}await new Promise(r=>setTimeout(r,100))}process.exit(1)};go()' || { echo "gateway did not start"; kill $qpid; exit 1; }
mkdir -p work && cd work
"$CODEX" exec --skip-git-repo-check -o ../last-message.txt "Say hello"
rc=$?
kill $qpid
wait $qpid
exit $rc`
	cmd := exec.CommandContext(ctx, "unshare", "-rn", "sh", "-c", script)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "QUARRY="+bin, "NODE="+node, "CODEX="+codex, "CODEX_HOME="+filepath.Join(dir, "codex-home"),
		"QUARRY_API_KEY=test", "OPENAI_API_KEY=", "OPENAI_BASE_URL=", "HOME="+dir, "AWS_EC2_METADATA_DISABLED=true")
	out, err := cmd.CombinedOutput()
	t.Logf("codex exec:\n%s", out)
	if err != nil {
		gw, _ := os.ReadFile(filepath.Join(dir, "gateway.log"))
		t.Fatalf("codex exec failed: %v\ngateway log:\n%s", err, gw)
	}
	last, err := os.ReadFile(filepath.Join(dir, "last-message.txt"))
	if err != nil {
		t.Fatal(err)
	}
	// The emulator calls a tool Codex offers (it picks one by the prompt's
	// words), Codex runs it and sends the result back, and the emulator's
	// answer quotes the result: a full two-turn agent loop.
	if !strings.Contains(string(last), "tool returned") {
		t.Errorf("Codex printed %q; want the answer to its tool call", last)
	}
	if !strings.Contains(string(out), strings.TrimSpace(string(last))) {
		t.Errorf("the printed output does not hold the last message")
	}
	if strings.Contains(string(out), "without active item") || strings.Contains(string(out), "stream disconnected") {
		t.Errorf("Codex could not follow the event stream")
	}
	gw, _ := os.ReadFile(filepath.Join(dir, "gateway.log"))
	if n := strings.Count(string(gw), `"path":"/v1/responses","status":200`); n < 2 {
		t.Errorf("%d successful /v1/responses calls; want the two of the loop\n%s", n, gw)
	}
}
