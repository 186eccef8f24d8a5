package upstream

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/quarry-dev/quarry/internal/config"
)

// TestEmulatorWinsOverModelCredentials: with emulator: true, a model that
// names credentials but no endpoint_url still goes to the emulator (and
// the start-up log says so, per model); endpoint_url alone leaves it.
func TestEmulatorWinsOverModelCredentials(t *testing.T) {
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	const yml = `version: v1
emulator: true
models:
  - name: plain
    from: bedrock:amazon.nova-lite-v1:0
  - name: with-keys
    from: bedrock:amazon.nova-lite-v1:0
    params: {aws_access_key_id: AKIAREALKEY0000, aws_secret_access_key: real-secret-value}
  - name: with-profile
    from: bedrock:amazon.nova-lite-v1:0
    params: {aws_profile: prod}
  - name: with-api-key
    from: bedrock:amazon.nova-lite-v1:0
    params: {bedrock_api_key: real-bedrock-api-key}
  - name: elsewhere
    from: bedrock:amazon.nova-lite-v1:0
    params: {endpoint_url: "http://127.0.0.1:9", aws_access_key_id: AKIAREALKEY0000, aws_secret_access_key: real-secret-value}
`
	cfg, err := config.Parse("q.yaml", []byte(yml), &config.Secrets{})
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	const emu = "http://127.0.0.1:4566"
	reg, err := New(context.Background(), cfg, Options{EmulatorURL: emu, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{
		"plain": emu, "with-keys": emu, "with-profile": emu, "with-api-key": emu, "elsewhere": "http://127.0.0.1:9",
	} {
		m, _ := reg.Lookup(name)
		if got := m.Client.Endpoint(); got != want {
			t.Errorf("%s: endpoint %s, want %s", name, got, want)
		}
		if !strings.Contains(logs.String(), "model="+name) {
			t.Errorf("no start-up line for %s", name)
		}
	}
	if n := strings.Count(logs.String(), "credentials are ignored"); n != 3 {
		t.Errorf("%d lines say credentials are ignored, want 3:\n%s", n, logs.String())
	}
	if strings.Contains(logs.String(), "real-secret") || strings.Contains(logs.String(), "AKIAREAL") {
		t.Errorf("the log shows a credential:\n%s", logs.String())
	}
}
