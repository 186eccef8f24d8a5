package config

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestViewRedacts: GET /admin/config shows the effective config, and no
// secret value, wherever the file put it (a Secret field, an API key, a
// reference inside an ordinary string).
func TestViewRedacts(t *testing.T) {
	const (
		accessKey = "AKIAVIEWTEST00000001"
		secretKey = "view-secret-key-9f8e7d6c5b4a"
		apiKey    = "qk-view-api-key-123456"
		adminKey  = "qk-view-admin-key-654321"
		dsn       = "postgres://quarry:pgpass-view-77@db:5432/q"
		urlToken  = "tok-in-url-5a5a5a"
	)
	t.Setenv("VIEW_AK", accessKey)
	t.Setenv("VIEW_SK", secretKey)
	t.Setenv("VIEW_API", apiKey)
	t.Setenv("VIEW_DSN", dsn)
	t.Setenv("VIEW_URLTOK", urlToken)
	src := `
server:
  address: 0.0.0.0:8080
  api_keys: ["${ secrets:VIEW_API }"]
  admin_key: ` + adminKey + `
  drain_delay: 0s
store:
  postgres_dsn: ${ secrets:VIEW_DSN }
models:
  - name: nova
    from: bedrock:amazon.nova-lite-v1:0
    params:
      aws_region: eu-west-1
      aws_access_key_id: ${ secrets:VIEW_AK }
      aws_secret_access_key: ${ secrets:VIEW_SK }
      endpoint_url: http://127.0.0.1:9/${ env:VIEW_URLTOK }
embeddings:
  - name: titan
    from: bedrock:amazon.titan-embed-text-v2:0
`
	cfg, err := Parse("view.yaml", []byte(src), &Secrets{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(cfg.View())
	if err != nil {
		t.Fatal(err)
	}
	out := string(b)
	for _, secret := range []string{accessKey, secretKey, apiKey, adminKey, dsn, "pgpass-view-77", urlToken} {
		if strings.Contains(out, secret) {
			t.Errorf("view shows secret %q:\n%s", secret, out)
		}
	}
	for _, want := range []string{
		`"address":"0.0.0.0:8080"`, `"drain_delay":"0s"`, `"aws_region":"eu-west-1"`,
		`"aws_secret_access_key":"[redacted]"`, `"postgres_dsn":"[redacted]"`,
		`"endpoint_url":"http://127.0.0.1:9/[redacted]"`, `"from":"bedrock:amazon.titan-embed-text-v2:0"`,
		`"api_keys":["sha256:` + HashAPIKey(apiKey)[7:23] + `…"]`,
		`"aws_session_token":""`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("view lacks %s:\n%s", want, out)
		}
	}
}

// TestDrainDelay: server.drain_delay defaults to 5s and takes a duration.
func TestDrainDelay(t *testing.T) {
	for _, tc := range []struct {
		src  string
		want string
	}{
		{"server: {}\n", "5s"},
		{"server: {drain_delay: 0s}\n", "0s"},
		{"server: {drain_delay: 12s}\n", "12s"},
	} {
		cfg, err := Parse("d.yaml", []byte(tc.src), &Secrets{})
		if err != nil {
			t.Fatal(err)
		}
		if got := cfg.Server.DrainDelay.String(); got != tc.want {
			t.Errorf("%q: drain_delay %s, want %s", tc.src, got, tc.want)
		}
	}
	_, err := Parse("d.yaml", []byte("server: {drain_delay: soon}\n"), &Secrets{})
	if err == nil || !strings.Contains(err.Error(), "d.yaml:1: server.drain_delay: must be a duration") {
		t.Errorf("bad drain_delay: %v", err)
	}
}
