package config

import "testing"

// TestUpstreamHTTP2: server.upstream_http2 defaults to HTTP/2 (the zero
// UpstreamHTTP1Only) and false forces HTTP/1.1; a non-boolean is reported
// by line (testdata/invalid/upstream_http2.txt).
func TestUpstreamHTTP2(t *testing.T) {
	models := "models:\n  - name: a\n    from: bedrock:amazon.nova-lite-v1:0\n"
	for _, c := range []struct {
		name, yaml string
		http1Only  bool
	}{
		{"default", "", false},
		{"true", "server:\n  upstream_http2: true\n", false},
		{"false", "server:\n  upstream_http2: false\n", true},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg, err := Parse("dir/quarry.yaml", []byte(c.yaml+models), &Secrets{})
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Server.UpstreamHTTP1Only != c.http1Only {
				t.Errorf("UpstreamHTTP1Only = %v, want %v", cfg.Server.UpstreamHTTP1Only, c.http1Only)
			}
		})
	}
}
