package emulator

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// sdkServer starts the emulator an external SDK's script talks to: a
// guardrail guardID that denies "bitcoin", plain or TLS; ctx bounds the
// script.
func sdkServer(t *testing.T, guardID string, useTLS bool) (*Server, context.Context) {
	t.Helper()
	cfg := Config{Guardrails: []Guardrail{{ID: guardID, DeniedWords: []string{"bitcoin"}}}}
	if useTLS {
		cfg.TLS = &TLSConfig{Dir: t.TempDir()}
	}
	srv, err := NewServer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	t.Cleanup(cancel)
	return srv, ctx
}

// envWithout is the environment minus variables with any of the prefixes.
func envWithout(prefixes ...string) []string {
	var env []string
next:
	for _, kv := range os.Environ() {
		for _, p := range prefixes {
			if strings.HasPrefix(kv, p) {
				continue next
			}
		}
		env = append(env, kv)
	}
	return env
}

// TestJSSDK drives the emulator with the AWS SDK for JavaScript v3
// (@aws-sdk/client-bedrock-runtime, installed by `npm ci --prefix
// emulator/testdata/node`) on its default configuration, whose
// NodeHttp2Handler speaks HTTP/2: over h2c and over TLS trusted through
// NODE_EXTRA_CA_CERTS. Every operation, including a Nova Sonic
// bidirectional session (tool round trip, in-stream errors, cancel). Without
// the package it skips, unless QUARRY_REQUIRE_JS_SDK=1 (CI).
func TestJSSDK(t *testing.T) {
	dir := filepath.Join("testdata", "node")
	missing := func(why string) {
		t.Helper()
		if os.Getenv("QUARRY_REQUIRE_JS_SDK") == "1" {
			t.Fatalf("%s, and QUARRY_REQUIRE_JS_SDK=1: run `npm ci --prefix emulator/testdata/node`", why)
		}
		t.Skipf("%s; run `npm ci --prefix emulator/testdata/node` to run the AWS JS SDK test", why)
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "@aws-sdk", "client-bedrock-runtime", "package.json")); err != nil {
		missing("@aws-sdk/client-bedrock-runtime is not installed in " + dir)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		missing("node is not on PATH")
	}
	for _, tls := range []bool{false, true} {
		name := "h2c"
		if tls {
			name = "tls"
		}
		t.Run(name, func(t *testing.T) {
			srv, ctx := sdkServer(t, "js-guard", tls)
			cmd := exec.CommandContext(ctx, node, "sdk_test.mjs", srv.URL)
			cmd.Dir = dir
			// Nothing from the developer's environment may redirect the SDK.
			// (An empty AWS_BEARER_TOKEN_BEDROCK would still switch it to
			// bearer auth, so AWS_* variables are dropped, not blanked.)
			cmd.Env = append(envWithout("AWS_", "NODE_EXTRA_CA_CERTS"), "NODE_EXTRA_CA_CERTS="+srv.CAFile)
			out, err := cmd.CombinedOutput()
			t.Logf("node sdk_test.mjs:\n%s", out)
			if err != nil {
				t.Fatalf("the AWS JS SDK checks failed: %v", err)
			}
			st := srv.Stats()
			total := int64(0)
			for _, n := range st.Requests {
				total += n
			}
			if st.HTTP2 != total || total < 12 {
				t.Errorf("%d of %d requests over HTTP/2; the SDK's default handler should use it for all", st.HTTP2, total)
			}
			if st.Requests[OpInvokeModelBidi] != 4 {
				t.Errorf("%d bidirectional sessions, want 4", st.Requests[OpInvokeModelBidi])
			}
			// The aborted session (and the two the script abandoned after an
			// exception) were seen to go.
			deadline := time.Now().Add(5 * time.Second)
			for srv.Stats().Disconnects < 1 && time.Now().Before(deadline) {
				time.Sleep(10 * time.Millisecond)
			}
			if srv.Stats().Disconnects < 1 {
				t.Error("the emulator did not see the cancelled session")
			}
		})
	}
}
