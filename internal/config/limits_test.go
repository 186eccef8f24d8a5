package config

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestLimitsSection(t *testing.T) {
	t.Setenv("QUARRY_TEST_REDIS_PASSWORD", "r3dis-s3cret")
	models := "models:\n  - name: a\n    from: bedrock:amazon.nova-lite-v1:0\n    params: {tokens_per_min_limit: 6000}\n"
	for _, c := range []struct {
		name, yaml string
		want       Limits
	}{
		{name: "defaults", yaml: "", want: Limits{Replicas: 1, Timeout: DefaultLimitsTimeout, Lease: DefaultLimitsLease, Prefix: DefaultLimitsPrefix}},
		{name: "redis from a secret", yaml: "limits:\n  redis_url: redis://:${ env:QUARRY_TEST_REDIS_PASSWORD }@127.0.0.1:6379/0\n  replicas: 3\n  timeout: 50ms\n  lease: 5s\n  prefix: \"fleet-a:\"\n",
			want: Limits{RedisURL: "redis://:r3dis-s3cret@127.0.0.1:6379/0", Replicas: 3, Timeout: 50 * time.Millisecond, Lease: 5 * time.Second, Prefix: "fleet-a:"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg, err := Parse("dir/quarry.yaml", []byte(c.yaml+models), &Secrets{})
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Limits != c.want {
				t.Errorf("limits = %+v, want %+v", cfg.Limits, c.want)
			}
			if cfg.Models[0].AWS.TokensPerMinute != 6000 {
				t.Errorf("tokens_per_min_limit = %d", cfg.Models[0].AWS.TokensPerMinute)
			}
			if out := fmt.Sprintf("%v %+v", cfg.Limits, cfg.Limits); strings.Contains(out, "r3dis-s3cret") {
				t.Errorf("limits config prints a secret: %s", out)
			}
		})
	}
}

func TestLimitsSectionErrors(t *testing.T) {
	t.Setenv("QUARRY_TEST_REDIS_PASSWORD", "r3dis-s3cret")
	models := "models:\n  - name: a\n    from: bedrock:amazon.nova-lite-v1:0\n"
	for _, c := range []struct{ name, yaml, want string }{
		{"not redis", "limits:\n  redis_url: http://:${ env:QUARRY_TEST_REDIS_PASSWORD }@h:1\n", "quarry.yaml:2: limits.redis_url: must be a Redis URL"},
		{"replicas", "limits:\n  replicas: 0\n", "quarry.yaml:2: limits.replicas"},
		{"timeout", "limits:\n  timeout: 0s\n", "quarry.yaml:2: limits.timeout: must be between 1ms and 10s"},
		{"lease", "limits:\n  lease: 10ms\n", "quarry.yaml:2: limits.lease: must be between 1s and 1h"},
		{"unknown", "limits:\n  redis: x\n", "quarry.yaml:2: limits.redis: unknown key"},
		{"tpm", "models:\n  - name: b\n    from: bedrock:amazon.nova-lite-v1:0\n    params: {tokens_per_min_limit: 0}\n", "tokens_per_min_limit"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse("dir/quarry.yaml", []byte(c.yaml+models), &Secrets{})
			var ce *Error
			if !errors.As(err, &ce) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want it to contain %q", err, c.want)
			}
			if strings.Contains(err.Error(), "r3dis-s3cret") {
				t.Errorf("error shows the secret: %v", err)
			}
		})
	}
}
