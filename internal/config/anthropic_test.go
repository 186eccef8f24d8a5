package config

import (
	"strings"
	"testing"
)

func TestAliasesAndBetas(t *testing.T) {
	cfg, err := Parse("x.yaml", []byte(`
models:
  - name: claude
    from: bedrock:us.anthropic.claude-sonnet-4-20250514-v1:0
    aliases: [claude-sonnet-4-20250514, claude-3-5-haiku-latest]
    params:
      anthropic_betas: [interleaved-thinking-2025-05-14]
  - name: nova
    from: bedrock:amazon.nova-lite-v1:0
    aliases: nova-latest
    params:
      anthropic_betas: []
  - name: plain
    from: bedrock:amazon.nova-micro-v1:0
`), &Secrets{})
	if err != nil {
		t.Fatal(err)
	}
	c, n, p := cfg.Models[0], cfg.Models[1], cfg.Models[2]
	if strings.Join(c.Aliases, ",") != "claude-sonnet-4-20250514,claude-3-5-haiku-latest" || strings.Join(n.Aliases, ",") != "nova-latest" {
		t.Errorf("aliases %v %v", c.Aliases, n.Aliases)
	}
	if strings.Join(c.AnthropicBetas, ",") != "interleaved-thinking-2025-05-14" {
		t.Errorf("betas %v", c.AnthropicBetas)
	}
	// An empty list passes no beta; no list means the defaults.
	if n.AnthropicBetas == nil || len(n.AnthropicBetas) != 0 || p.AnthropicBetas != nil {
		t.Errorf("nova betas %#v, plain betas %#v", n.AnthropicBetas, p.AnthropicBetas)
	}
}
