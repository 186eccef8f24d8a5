package config

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
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
