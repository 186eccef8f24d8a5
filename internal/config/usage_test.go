package config

import (
	"strings"
	"testing"
	"time"
)

func TestUsageAndPrice(t *testing.T) {
	f := func(v float64) *float64 { return &v }
	for _, c := range []struct {
		name, yaml string
		usage      Usage
		cost       bool
		price      *Price
		problem    string // a line:field: message the error must hold
	}{
		{name: "defaults", usage: Usage{FlushInterval: time.Second, BatchSize: 256}},
		{name: "off, tuned, cost headers", yaml: "server:\n  cost_headers: true\nusage:\n  enabled: false\n  flush_interval: 250ms\n  batch_size: 10\n",
			usage: Usage{Disabled: true, FlushInterval: 250 * time.Millisecond, BatchSize: 10}, cost: true},
		{name: "price override", yaml: "models:\n  - name: m\n    from: bedrock:amazon.nova-lite-v1:0\n    price: {input_per_mtok: 0.5, cache_write_per_mtok: 0}\n",
			usage: Usage{FlushInterval: time.Second, BatchSize: 256}, price: &Price{InputPerMTok: f(0.5), CacheWritePerMTok: f(0)}},
		{name: "negative price", yaml: "models:\n  - name: m\n    from: bedrock:amazon.nova-lite-v1:0\n    price: {output_per_mtok: -1}\n",
			problem: "q.yaml:4: models[0].price.output_per_mtok: must be between 0 and 1e+06 (got -1)"},
		{name: "unknown price key", yaml: "models:\n  - name: m\n    from: bedrock:amazon.nova-lite-v1:0\n    price: {per_token: 1}\n",
			problem: "q.yaml:4: models[0].price.per_token: unknown key"},
		{name: "price not a mapping", yaml: "models:\n  - name: m\n    from: bedrock:amazon.nova-lite-v1:0\n    price: 3\n",
			problem: "q.yaml:4: models[0].price: must be a mapping"},
		{name: "bad interval", yaml: "usage:\n  flush_interval: 1ms\n", problem: "q.yaml:2: usage.flush_interval: must be between 10ms and 1h"},
		{name: "bad batch", yaml: "usage:\n  batch_size: 0\n", problem: "q.yaml:2: usage.batch_size: must be between 1"},
		{name: "unknown usage key", yaml: "usage:\n  enable: true\n", problem: "q.yaml:2: usage.enable: unknown key"},
	} {
		t.Run(c.name, func(t *testing.T) {
			y := c.yaml
			if !strings.Contains(y, "models:") {
				y += "models:\n  - name: m\n    from: bedrock:amazon.nova-lite-v1:0\n"
			}
			cfg, err := Parse("q.yaml", []byte(y), &Secrets{})
			if c.problem != "" {
				if err == nil || !strings.Contains(err.Error(), c.problem) {
					t.Fatalf("err = %v; want %q", err, c.problem)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Usage != c.usage || cfg.Server.CostHeaders != c.cost {
				t.Errorf("usage %+v cost_headers %v; want %+v %v", cfg.Usage, cfg.Server.CostHeaders, c.usage, c.cost)
			}
			got := cfg.Models[0].Price
			if (got == nil) != (c.price == nil) {
				t.Fatalf("price = %+v, want %+v", got, c.price)
			}
			if got != nil {
				gf, wf := got.Fields(), c.price.Fields()
				for i := range gf {
					if (*gf[i] == nil) != (*wf[i] == nil) || *gf[i] != nil && **gf[i] != **wf[i] {
						t.Errorf("price field %s = %v, want %v", priceFields[i], *gf[i], *wf[i])
					}
				}
			}
		})
	}
}
