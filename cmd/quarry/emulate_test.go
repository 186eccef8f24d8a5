package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/quarry-dev/quarry/emulator"
)

// startEmulate runs `quarry emulate args...` on a free loopback port and
// returns its base URL (from the first line it prints) and a stop function
// that cancels it and returns its exit code.
func startEmulate(t *testing.T, args ...string) (string, func() int) {
	t.Helper()
	return startEmulateTo(t, io.Discard, args...)
}

// startEmulateTo is startEmulate with its log (stderr) going to stderr.
func startEmulateTo(t *testing.T, stderr io.Writer, args ...string) (string, func() int) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan int, 1)
	go func() {
		code := runEmulate(ctx, append([]string{"--addr", "127.0.0.1:0"}, args...), pw, stderr)
		pw.Close()
		done <- code
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	go io.Copy(io.Discard, pr)
	const prefix = "Bedrock Runtime emulator listening on "
	if err != nil || !strings.HasPrefix(line, prefix) {
		cancel()
		t.Fatalf("first line %q, %v", line, err)
	}
	return strings.TrimSpace(strings.TrimPrefix(line, prefix)), func() int {
		cancel()
		select {
		case code := <-done:
			return code
		case <-time.After(15 * time.Second):
			t.Fatal("quarry emulate did not stop")
			return -1
		}
	}
}

func postConverse(t *testing.T, base string) int {
	t.Helper()
	resp, err := http.Post(base+"/model/amazon.nova-lite-v1%3A0/converse", "application/json",
		strings.NewReader(`{"messages":[{"role":"user","content":[{"text":"hi"}]}]}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func TestEmulateServesAndStops(t *testing.T) {
	// Default: SigV4 required, so an unsigned request is refused.
	base, stop := startEmulate(t)
	if code := postConverse(t, base); code != http.StatusForbidden {
		t.Errorf("unsigned request with auth on: %d, want 403", code)
	}
	if code := stop(); code != 0 {
		t.Errorf("exit code %d after cancel", code)
	}
	// --no-auth serves unsigned requests.
	base, stop = startEmulate(t, "--no-auth", "--seed", "7")
	if code := postConverse(t, base); code != http.StatusOK {
		t.Errorf("unsigned request with --no-auth: %d, want 200", code)
	}
	if code := stop(); code != 0 {
		t.Errorf("exit code %d after cancel", code)
	}
	// A config file extends the catalogue and can turn auth off.
	cfg := filepath.Join(t.TempDir(), "emu.yaml")
	os.WriteFile(cfg, []byte("no_auth: true\nmodels:\n  - id: acme.custom-v1:0\n    family: nova\n"), 0o600)
	base, stop = startEmulate(t, "--config", cfg)
	resp, err := http.Post(base+"/model/acme.custom-v1%3A0/converse", "application/json", strings.NewReader(`{"messages":[{"role":"user","content":[{"text":"hi"}]}]}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("configured model: %d", resp.StatusCode)
	}
	stop()
}

func TestEmulateErrors(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	dir := t.TempDir()
	badKey := filepath.Join(dir, "bad.yaml")
	os.WriteFile(badKey, []byte("seed: 1\nlatencyy: {}\n"), 0o600)
	badFamily := filepath.Join(dir, "family.yaml")
	os.WriteFile(badFamily, []byte("models:\n  - id: x.y\n    family: gpt\n"), 0o600)
	cases := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"unknown flag", []string{"--bogus"}, 2, "flag provided but not defined: -bogus"},
		{"extra argument", []string{"now"}, 2, `unexpected argument "now"`},
		{"help", []string{"--help"}, 0, "usage: quarry emulate [--addr 127.0.0.1:4566] [--config FILE]"},
		{"missing config", []string{"--config", filepath.Join(dir, "none.yaml")}, 1, "no such file or directory"},
		{"unknown config key", []string{"--config", badKey}, 1, "bad.yaml:2: latencyy: unknown key (allowed: "},
		{"unknown family", []string{"--config", badFamily}, 1, `model x.y: unknown family "gpt"`},
		{"address in use", []string{"--addr", busy.Addr().String()}, 1, "address already in use"},
		{"record without upstream", []string{"--record", dir}, 2, "--record needs --upstream"},
		{"record and replay", []string{"--record", dir, "--upstream", "https://x", "--replay", dir}, 2, "cannot be used together"},
		{"ignore without replay", []string{"--ignore", "a.b"}, 2, "--ignore and --fallback with --replay"},
		{"replay of nothing", []string{"--replay", t.TempDir()}, 1, "no cassettes"},
		{"bad fallback", []string{"--replay", "../../testdata/bedrock-recordings", "--fallback", "maybe"}, 1, `fallback "maybe"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			ctx, cancel := context.WithCancel(context.Background())
			cancel() // a run that got past its checks returns at once
			code := runEmulate(ctx, tc.args, &out, &errOut)
			if code != tc.code || !strings.Contains(errOut.String(), tc.want) {
				t.Errorf("exit %d, stderr %q; want %d and %q", code, errOut.String(), tc.code, tc.want)
			}
			if tc.code != 0 && strings.Contains(strings.TrimSpace(errOut.String()), "\n") {
				t.Errorf("error spans several lines: %q", errOut.String())
			}
		})
	}
}

func TestOpenWarning(t *testing.T) {
	for addr, warn := range map[string]bool{
		"127.0.0.1:4566": false, "[::1]:4566": false, "localhost:4566": false,
		"0.0.0.0:4566": true, "[::]:4566": true, "192.168.1.7:4566": true, ":4566": true,
	} {
		if got := openWarning(addr); (got != "") != warn || (warn && !strings.Contains(got, addr)) {
			t.Errorf("openWarning(%q) = %q, want a warning: %v", addr, got, warn)
		}
	}
}

// TestEmulateTLSReplay: --tls prints the CA file that makes a client trust
// it over HTTP/2; --replay answers from a recording of real Bedrock and
// refuses what was not recorded.
func TestEmulateTLSReplay(t *testing.T) {
	dir := t.TempDir()
	const name = "test_converse_with_content.yaml"
	raw, err := os.ReadFile(filepath.Join("../../testdata/bedrock-recordings", name))
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, name), raw, 0o644)

	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan int, 1)
	go func() {
		code := runEmulate(ctx, []string{"--addr", "127.0.0.1:0", "--no-auth", "--tls", "--replay", dir}, pw, io.Discard)
		pw.Close()
		done <- code
	}()
	defer func() {
		cancel()
		if code := <-done; code != 0 {
			t.Errorf("exit code %d", code)
		}
	}()
	var base, caFile string
	sc := bufio.NewScanner(pr)
	for sc.Scan() && (base == "" || caFile == "") {
		line := sc.Text()
		if u, ok := strings.CutPrefix(line, "Bedrock Runtime emulator listening on "); ok {
			base = u
		}
		if rest, ok := strings.CutPrefix(line, "trust its certificate with AWS_CA_BUNDLE="); ok {
			caFile, _, _ = strings.Cut(rest, " ")
		}
	}
	go io.Copy(io.Discard, pr)
	if !strings.HasPrefix(base, "https://") || caFile == "" {
		t.Fatalf("base %q, CA %q", base, caFile)
	}
	pem, err := os.ReadFile(caFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: true}}
	body := `{"messages":[{"role":"user","content":[{"text":"Say this is a test"}]}],"inferenceConfig":{"maxTokens":10,"temperature":0.8,"topP":1,"stopSequences":["|"]}}`
	for _, tc := range []struct {
		body   string
		status int
		want   string
	}{
		{body, 200, `"text": "Hi, how can I help you"`},
		{strings.Replace(body, "a test", "no test", 1), 404, "closest recording is " + name},
	} {
		resp, err := client.Post(base+"/model/amazon.titan-text-lite-v1/converse", "application/json", strings.NewReader(tc.body))
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.ProtoMajor != 2 || resp.StatusCode != tc.status || !strings.Contains(string(got), tc.want) {
			t.Errorf("%s %d %s; want HTTP/2 %d with %q", resp.Proto, resp.StatusCode, got, tc.status, tc.want)
		}
	}
}

// -v logs every request, successful ones included, as its help says;
// without it a successful request logs nothing.
func TestEmulateVerboseLogsEveryRequest(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		wantLog bool
	}{
		{"verbose", []string{"--no-auth", "-v"}, true},
		{"quiet", []string{"--no-auth"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var log syncBuffer
			base, stop := startEmulateTo(t, &log, tt.args...)
			if code := postConverse(t, base); code != http.StatusOK {
				t.Fatalf("converse: %d", code)
			}
			if code := stop(); code != 0 {
				t.Fatalf("exit code %d", code)
			}
			got := log.String()
			logged := strings.Contains(got, "msg=request") && strings.Contains(got, "path=/model/amazon.nova-lite-v1:0/converse") &&
				strings.Contains(got, "status=200")
			if logged != tt.wantLog {
				t.Fatalf("request line logged = %v, want %v; log:\n%s", logged, tt.wantLog, got)
			}
		})
	}
}

// The sample config in `quarry emulate --help` is a valid config file that
// sets what it shows, so the documentation cannot drift from the keys.
func TestEmulateHelpConfigLoads(t *testing.T) {
	_, sample, ok := strings.Cut(emulateConfigHelp, "errors name file, line and field):\n")
	if !ok {
		t.Fatal("no sample in the help")
	}
	var b strings.Builder
	for line := range strings.Lines(sample) {
		b.WriteString(strings.TrimPrefix(line, "  "))
	}
	path := filepath.Join(t.TempDir(), "emulator.yaml")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := emulator.LoadConfig(path)
	if err != nil {
		t.Fatalf("the help's sample does not load: %v\n%s", err, b.String())
	}
	if cfg.Seed != 7 || cfg.Credentials[0].AccessKeyID != "AKID" || cfg.Guardrails[0].BlockedInputMessage == "" ||
		cfg.Quotas.PerModel["amazon.nova-lite-v1:0"].RequestsPerMinute != 10 || cfg.Latency.BetweenTokens != 20*time.Millisecond {
		t.Errorf("sample decoded to %+v", cfg)
	}
	if _, err := emulator.New(cfg); err != nil {
		t.Errorf("the help's sample is refused by the emulator: %v", err)
	}
}
