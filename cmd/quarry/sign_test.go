package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/quarry-dev/quarry/emulator"
)

// signEnv points the credential chain at static test keys only.
func signEnv(t *testing.T) {
	t.Helper()
	home := t.TempDir()
	for k, v := range map[string]string{
		"HOME": home, "AWS_CONFIG_FILE": filepath.Join(home, "config"), "AWS_SHARED_CREDENTIALS_FILE": filepath.Join(home, "credentials"),
		"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_SESSION_TOKEN": "", "AWS_PROFILE": "",
		"AWS_BEARER_TOKEN_BEDROCK": "", "AWS_ENDPOINT_URL": "", "AWS_ENDPOINT_URL_BEDROCK_RUNTIME": "",
		"AWS_REGION": "us-east-1", "AWS_EC2_METADATA_DISABLED": "true",
	} {
		t.Setenv(k, v)
	}
}

func TestSignedRequestIsAcceptedAndTamperFails(t *testing.T) {
	signEnv(t)
	emu, err := emulator.NewServer(emulator.Config{}) // SigV4 verification on, keys test/test
	if err != nil {
		t.Fatal(err)
	}
	defer emu.Close()

	var out, errOut bytes.Buffer
	code := run(context.Background(), []string{"sign", "--model", "us.amazon.nova-lite-v1:0", "--endpoint-url", emu.URL,
		"--system", "Be brief.", "What is the capital of France?"}, &out, &errOut)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	var signed struct {
		Method, URL, Body, Note string
		Headers                 map[string]string
	}
	if err := json.Unmarshal(out.Bytes(), &signed); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, out.String())
	}
	if !strings.Contains(signed.URL, "/model/us.amazon.nova-lite-v1%3A0/converse") || !strings.HasPrefix(signed.Headers["Authorization"], "AWS4-HMAC-SHA256 ") {
		t.Fatalf("unexpected request: %s %v", signed.URL, signed.Headers)
	}
	if !strings.Contains(signed.Note, "accepts it until") {
		t.Errorf("note = %q, want how long the signature stays valid", signed.Note)
	}

	// A plain HTTP client, nothing AWS-specific, sends it as printed.
	send := func(body string) (*http.Response, []byte) {
		req, err := http.NewRequest(signed.Method, signed.URL, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range signed.Headers {
			if k != "Content-Length" {
				req.Header.Set(k, v)
			}
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, b
	}
	resp, body := send(signed.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("signed request: status %d: %s", resp.StatusCode, body)
	}
	var conv struct {
		Output struct {
			Message struct {
				Content []struct{ Text string }
			}
		}
		StopReason string
	}
	if err := json.Unmarshal(body, &conv); err != nil || len(conv.Output.Message.Content) == 0 || conv.Output.Message.Content[0].Text == "" || conv.StopReason == "" {
		t.Fatalf("not a valid Converse answer: %s", body)
	}

	// One changed byte (same length, so only the signature can catch it).
	tampered := strings.Replace(signed.Body, "France", "Frankr", 1)
	if tampered == signed.Body {
		t.Fatal("test bug: nothing replaced")
	}
	resp, body = send(tampered)
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("tampered request: status %d, want 403: %s", resp.StatusCode, body)
	}
}

func TestSignCurl(t *testing.T) {
	signEnv(t)
	emu, err := emulator.NewServer(emulator.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer emu.Close()
	var out, errOut bytes.Buffer
	if code := run(context.Background(), []string{"sign", "--curl", "--model", "amazon.nova-micro-v1:0", "--endpoint-url", emu.URL, "Hello"}, &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	cmd := out.String()
	if !strings.HasPrefix(cmd, "# Signed with SigV4") || !strings.Contains(cmd, "curl -sS -X POST") {
		t.Fatalf("unexpected --curl output:\n%s", cmd)
	}
	if _, err := exec.LookPath("curl"); err != nil {
		t.Skip("curl is not installed; the command text was checked")
	}
	got, err := exec.Command("sh", "-c", cmd).Output()
	if err != nil {
		t.Fatalf("running the printed command: %v", err)
	}
	if !strings.Contains(string(got), `"stopReason"`) {
		t.Fatalf("curl did not get a Converse answer: %s", got)
	}
}

func TestSignUsageErrors(t *testing.T) {
	signEnv(t)
	for _, args := range [][]string{{"sign", "hello"}, {"sign", "--model", "m", "--temperature", "3", "x"}, {"sign", "--model", "amazon.nova-micro-v1:0"}} {
		var out, errOut bytes.Buffer
		if code := run(context.Background(), args, &out, &errOut); code != 2 || strings.Count(strings.TrimSpace(errOut.String()), "\n") != 0 {
			t.Errorf("%v: exit %d, stderr %q; want 2 and one line", args, code, errOut.String())
		}
	}
}

// "-" reads the prompt from stdin, with chat's rules: the prompt lands in
// the signed body, and an empty stdin is a usage error.
func TestSignPromptFromStdin(t *testing.T) {
	signEnv(t)
	old := chatStdin
	t.Cleanup(func() { chatStdin = old })
	args := []string{"sign", "--model", "amazon.nova-micro-v1:0", "--endpoint-url", "http://127.0.0.1:1", "-"}

	chatStdin = strings.NewReader("piped prompt\n")
	var out, errOut bytes.Buffer
	if code := run(context.Background(), args, &out, &errOut); code != 0 || !strings.Contains(out.String(), "piped prompt") {
		t.Fatalf("exit %d, out %s, err %s", code, out.String(), errOut.String())
	}

	chatStdin = strings.NewReader(" \n")
	out.Reset()
	errOut.Reset()
	if code := run(context.Background(), args, &out, &errOut); code != 2 || !strings.Contains(errOut.String(), "quarry sign: the prompt read from stdin is empty") {
		t.Fatalf("empty stdin: exit %d, stderr %q", code, errOut.String())
	}
}
