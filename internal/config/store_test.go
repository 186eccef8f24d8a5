package config

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestStoreSection(t *testing.T) {
	const key = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	t.Setenv("QUARRY_TEST_STORE_KEY", key)
	t.Setenv("QUARRY_TEST_PG_PASSWORD", "pg-s3cret")
	models := "models:\n  - name: a\n    from: bedrock:amazon.nova-lite-v1:0\n"
	for _, c := range []struct {
		name, yaml string
		path, dsn  string
		key        string
		endpoint   string
	}{
		{name: "default beside the config", yaml: "", path: filepath.Join("dir", DefaultStorePath)},
		{name: "relative path", yaml: "store:\n  path: data/e.db\n", path: filepath.Join("dir", "data/e.db")},
		{name: "absolute path and key", yaml: "store:\n  path: /var/lib/q.db\n  encryption_key: ${ secrets:QUARRY_TEST_STORE_KEY }\n", path: "/var/lib/q.db", key: key},
		{name: "postgres", yaml: "store:\n  postgres_dsn: postgres://q:${ env:QUARRY_TEST_PG_PASSWORD }@127.0.0.1/q\n",
			path: filepath.Join("dir", DefaultStorePath), dsn: "postgres://q:pg-s3cret@127.0.0.1/q"},
		{name: "bedrock endpoint", yaml: "server:\n  bedrock_endpoint_url: http://127.0.0.1:4566\n",
			path: filepath.Join("dir", DefaultStorePath), endpoint: "http://127.0.0.1:4566"},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg, err := Parse("dir/quarry.yaml", []byte(c.yaml+models), &Secrets{})
			if err != nil {
				t.Fatal(err)
			}
			s := cfg.Store
			if s.Path != c.path || s.PostgresDSN.Reveal() != c.dsn || s.EncryptionKey.Reveal() != c.key || cfg.Server.BedrockEndpointURL != c.endpoint {
				t.Errorf("store = %q %q %q, endpoint %q", s.Path, s.PostgresDSN.Reveal(), s.EncryptionKey.Reveal(), cfg.Server.BedrockEndpointURL)
			}
			// The key and the DSN's password never print.
			if out := fmt.Sprintf("%v %+v", s, cfg.Store); strings.Contains(out, key) || strings.Contains(out, "pg-s3cret") {
				t.Errorf("store config prints a secret: %s", out)
			}
		})
	}
}

func TestResponsesFlushInterval(t *testing.T) {
	models := "models:\n  - name: a\n    from: bedrock:amazon.nova-lite-v1:0\n"
	for _, c := range []struct {
		yaml    string
		want    time.Duration
		problem string
	}{
		{"", DefaultResponsesFlushInterval, ""},
		{"store:\n  responses_flush_interval: 0s\n", 0, ""},
		{"store:\n  responses_flush_interval: 50ms\n", 50 * time.Millisecond, ""},
		{"store:\n  responses_flush_interval: 5s\n", 0, "quarry.yaml:2: store.responses_flush_interval: must be at most 1s"},
	} {
		cfg, err := Parse("quarry.yaml", []byte(c.yaml+models), &Secrets{})
		switch {
		case c.problem != "":
			if err == nil || !strings.Contains(err.Error(), c.problem) {
				t.Errorf("%q: error %v, want %q", c.yaml, err, c.problem)
			}
		case err != nil:
			t.Errorf("%q: %v", c.yaml, err)
		case cfg.Store.ResponsesFlushInterval != c.want:
			t.Errorf("%q: %v, want %v", c.yaml, cfg.Store.ResponsesFlushInterval, c.want)
		}
	}
}
