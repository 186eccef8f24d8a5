package config

import (
	"reflect"
	"testing"
	"time"
)

// TestTargetsParse: targets inherit the model's region, endpoint and
// credentials unless they name their own; defaults fill weight, priority,
// names and cooldown; a from: model has no Targets.
func TestTargetsParse(t *testing.T) {
	const in = `
models:
  - name: group
    strategy: weighted
    cooldown: {base: 2s, max: 1m, backoff: 3}
    attempt_timeout: 20s
    fallbacks: [single]
    params: {aws_region: us-east-1, aws_profile: shared, endpoint_url: "http://127.0.0.1:9"}
    targets:
      - from: bedrock:us.amazon.nova-lite-v1:0
        weight: 3
      - name: west
        from: bedrock:us.amazon.nova-lite-v1:0
        aws_region: us-west-2
        bedrock_api_key: west-key
  - name: single
    from: bedrock:amazon.nova-lite-v1:0
`
	cfg, err := Parse("q.yaml", []byte(in), &Secrets{})
	if err != nil {
		t.Fatal(err)
	}
	g, s := cfg.Models[0], cfg.Models[1]
	r := g.Routing
	if r.Strategy != StrategyWeighted || r.AttemptTimeout != 20*time.Second || !reflect.DeepEqual(r.Fallbacks, []string{"single"}) {
		t.Errorf("routing %+v", r)
	}
	if r.Cooldown != (Cooldown{Base: 2 * time.Second, Max: time.Minute, Backoff: 3}) {
		t.Errorf("cooldown %+v", r.Cooldown)
	}
	for i, want := range []struct {
		name, region, profile, apiKey string
		weight                        int
	}{
		{"0/us.amazon.nova-lite-v1:0@us-east-1", "us-east-1", "shared", "", 3},
		{"west", "us-west-2", "", "west-key", 1},
	} {
		tg := r.Targets[i]
		if tg.Name != want.name || tg.AWS.Region != want.region || tg.AWS.Profile != want.profile ||
			tg.AWS.APIKey.Reveal() != want.apiKey || tg.Weight != want.weight || tg.AWS.EndpointURL != "http://127.0.0.1:9" || tg.Priority != i {
			t.Errorf("target %d = %+v, want %+v", i, tg, want)
		}
	}
	if g.ModelID != "us.amazon.nova-lite-v1:0" || g.AWS.Region != "us-east-1" {
		t.Errorf("a group's ModelID and AWS must be its first target's: %q %q", g.ModelID, g.AWS.Region)
	}
	if s.Routing.Targets != nil || s.Routing.Strategy != StrategyPriority || s.Routing.Cooldown != DefaultCooldown {
		t.Errorf("from: model routing %+v", s.Routing)
	}
}
