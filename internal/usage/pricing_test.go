package usage

import (
	"math"
	"strings"
	"testing"

	"github.com/quarry-dev/quarry/internal/accesslog"
	"github.com/quarry-dev/quarry/internal/config"
)

func TestBuiltinTable(t *testing.T) {
	tb := Builtin()
	if tb.Source == "" || tb.AsOf == "" {
		t.Error("the table must say where its figures come from and when")
	}
	// Every family the gateway serves has rows.
	for _, id := range []string{"anthropic.claude-sonnet-4-20250514-v1:0", "amazon.nova-lite-v1:0", "meta.llama3-3-70b-instruct-v1:0",
		"mistral.mistral-large-2407-v1:0", "amazon.titan-embed-text-v2:0", "cohere.embed-english-v3", "amazon.nova-canvas-v1:0", "cohere.rerank-v3-5:0"} {
		if _, ok := tb.Lookup(id, "us-east-1"); !ok {
			t.Errorf("%s: not in the table", id)
		}
	}
}

func TestLookup(t *testing.T) {
	tb, err := ParseTable([]byte(`{"source":"test","as_of":"2026-01","prices":[
		{"model":"anthropic.claude-x-v1:0","profile":"global","input_per_mtok":3},
		{"model":"anthropic.claude-x-v1:0","input_per_mtok":3.3},
		{"model":"anthropic.claude-x-v1:0","region":"eu-central-1","input_per_mtok":3.6},
		{"model":"anthropic.claude-x-v1:0","region":"eu-central-1","profile":"eu","input_per_mtok":3.9}]}`))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		id, region string
		want       float64 // 0: unknown
	}{
		{"anthropic.claude-x-v1:0", "us-east-1", 3.3},
		{"global.anthropic.claude-x-v1:0", "us-east-1", 3},
		{"us.anthropic.claude-x-v1:0", "us-west-2", 3.3},
		{"anthropic.claude-x-v1:0", "eu-central-1", 3.6},
		{"eu.anthropic.claude-x-v1:0", "eu-central-1", 3.9},
		{"ANTHROPIC.CLAUDE-X-V1:0", "", 3.3},
		{"arn:aws:bedrock:eu-central-1::foundation-model/anthropic.claude-x-v1:0", "us-east-1", 3.6},
		{"arn:aws:bedrock:eu-central-1:123456789012:inference-profile/eu.anthropic.claude-x-v1:0", "", 3.9},
		{"anthropic.claude-unknown-v1:0", "us-east-1", 0},
		{"arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/abc123", "", 0},
	} {
		p, ok := tb.Lookup(c.id, c.region)
		if ok != (c.want != 0) || ok && *p.InputPerMTok != c.want {
			t.Errorf("Lookup(%s, %s) = %v %v; want %v", c.id, c.region, p.InputPerMTok, ok, c.want)
		}
	}
}

func TestPriceAndCost(t *testing.T) {
	f := func(v float64) *float64 { return &v }
	pr := NewPricer(nil)
	u := accesslog.Usage{Input: 1000, Output: 500, CacheRead: 2000, CacheWrite: 3000, Reasoning: 100}
	for _, c := range []struct {
		name, id string
		override *config.Price
		usd      float64
		known    bool
	}{
		// 1000×3 + 500×15 + 2000×0.30 + 3000×3.75, per million.
		{"table", "us.anthropic.claude-sonnet-4-20250514-v1:0", nil, (3000 + 7500 + 600 + 11250) / 1e6, true},
		// Nova: cache writes free, reads at a quarter.
		{"nova", "amazon.nova-lite-v1:0", nil, (1000*0.06 + 500*0.24 + 2000*0.015) / 1e6, true},
		{"override one field", "amazon.nova-lite-v1:0", &config.Price{OutputPerMTok: f(1)}, (1000*0.06 + 500*1 + 2000*0.015) / 1e6, true},
		{"unknown model", "acme.model-v1:0", nil, 0, false},
		{"unknown model priced by config", "acme.model-v1:0", &config.Price{InputPerMTok: f(2)}, 2000 / 1e6, true},
	} {
		p, ok := pr.Price(c.id, "us-east-1", c.override)
		if ok != c.known {
			t.Errorf("%s: known = %v", c.name, ok)
			continue
		}
		if got := Cost(p, u); ok && math.Abs(got-c.usd) > 1e-12 {
			t.Errorf("%s: cost %v, want %v", c.name, got, c.usd)
		}
	}
	img := Cost(config.Price{PerImage: f(0.04), PerSearchUnit: f(0.002)}, accesslog.Usage{Images: 3, SearchUnits: 2, Input: 10})
	if math.Abs(img-0.124) > 1e-12 {
		t.Errorf("per-unit cost %v, want 0.124", img)
	}
	if got := FormatUSD(0.0000123456789); got != "0.000012346" {
		t.Errorf("FormatUSD = %s", got)
	}
	if s := FormatUSD(1.5); strings.Contains(s, "e") {
		t.Errorf("FormatUSD(1.5) = %s", s)
	}
}
