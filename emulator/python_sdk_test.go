package emulator

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// pythonClients runs boto3 and the AWS CLI (the machine image's Python
// ships both) against the emulator over HTTP/1.1 and HTTPS (trusted
// through AWS_CA_BUNDLE). Without them the test skips, unless
// QUARRY_REQUIRE_BOTO3=1.
func TestBoto3AndAWSCLI(t *testing.T) {
	python, err := exec.LookPath("python3")
	if err == nil {
		err = exec.Command(python, "-c", "import boto3").Run()
	}
	if err != nil {
		if os.Getenv("QUARRY_REQUIRE_BOTO3") == "1" {
			t.Fatalf("python3 with boto3 is missing (%v), and QUARRY_REQUIRE_BOTO3=1", err)
		}
		t.Skipf("python3 with boto3 is missing (%v); install boto3 to run this test", err)
	}
	for _, useTLS := range []bool{false, true} {
		t.Run(map[bool]string{false: "http1", true: "https"}[useTLS], func(t *testing.T) {
			srv, ctx := sdkServer(t, "py-guard", useTLS)
			env := append(envWithout("AWS_", "REQUESTS_CA_BUNDLE"), "AWS_EC2_METADATA_DISABLED=true", "AWS_CONFIG_FILE=/dev/null",
				"AWS_SHARED_CREDENTIALS_FILE=/dev/null")
			if useTLS {
				env = append(env, "AWS_CA_BUNDLE="+srv.CAFile)
			}
			cmd := exec.CommandContext(ctx, python, filepath.Join("testdata", "python", "boto3_check.py"), srv.URL)
			cmd.Env = env
			out, err := cmd.CombinedOutput()
			t.Logf("boto3_check.py:\n%s", out)
			if err != nil {
				t.Fatalf("boto3 checks failed: %v", err)
			}

			aws, err := exec.LookPath("aws")
			if err != nil {
				t.Log("the aws CLI is not installed; skipping its checks")
				return
			}
			env = append(env, "AWS_ACCESS_KEY_ID=test", "AWS_SECRET_ACCESS_KEY=test", "AWS_DEFAULT_REGION=us-east-1")
			run := func(args ...string) string {
				t.Helper()
				cmd := exec.CommandContext(ctx, aws, append([]string{"--endpoint-url", srv.URL, "--output", "json"}, args...)...)
				cmd.Env = env
				cmd.Dir = t.TempDir()
				out, err := cmd.CombinedOutput()
				if err != nil {
					t.Fatalf("aws %s: %v\n%s", strings.Join(args, " "), err, out)
				}
				return string(out)
			}
			if out := run("bedrock-runtime", "converse", "--model-id", "amazon.nova-lite-v1:0",
				"--messages", `[{"role":"user","content":[{"text":"Say hello"}]}]`); !strings.Contains(out, `"text": "Hello."`) {
				t.Errorf("aws bedrock-runtime converse:\n%s", out)
			}
			outFile := filepath.Join(t.TempDir(), "out.json")
			run("bedrock-runtime", "invoke-model", "--model-id", "anthropic.claude-3-haiku-20240307-v1:0",
				"--body", `{"anthropic_version":"bedrock-2023-05-31","max_tokens":50,"messages":[{"role":"user","content":"Say hi"}]}`, outFile)
			if b, _ := os.ReadFile(outFile); !strings.Contains(string(b), `"text":"Hi."`) {
				t.Errorf("aws bedrock-runtime invoke-model wrote %s", b)
			}
		})
	}
}
