package config

import (
	"strings"
	"testing"
)

func TestCitationsParam(t *testing.T) {
	for _, tc := range []struct {
		name, params string
		want         bool
		problem      string // a fragment of the error; "": valid
	}{
		{"on", "citations: true", true, ""},
		{"off", "citations: false", false, ""},
		{"absent", "system_prompt: hi", false, ""},
		{"not a bool", "citations: sometimes", false, "citations"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := Parse("x.yaml", []byte(`
models:
  - name: claude
    from: bedrock:us.anthropic.claude-sonnet-4-20250514-v1:0
    params:
      `+tc.params+`
`), &Secrets{})
			if tc.problem != "" {
				if err == nil || !strings.Contains(err.Error(), tc.problem) {
					t.Fatalf("err = %v, want one naming %q", err, tc.problem)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := cfg.Models[0].Citations; got != tc.want {
				t.Errorf("Citations = %v, want %v", got, tc.want)
			}
		})
	}
	// Only chat models take it.
	if _, err := Parse("x.yaml", []byte(`
embeddings:
  - name: titan
    from: bedrock:amazon.titan-embed-text-v2:0
    params:
      citations: true
`), &Secrets{}); err == nil || !strings.Contains(err.Error(), "citations") {
		t.Errorf("embedding model with citations: err = %v", err)
	}
}
