// Package usage records what each request consumed and what it cost: the
// price table shipped with the binary (prices.json), the per-request
// recorder that aggregates usage per key, model and hour into the store
// off the request's path, the Prometheus counters, and the
// x-quarry-cost-usd header.
package usage

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"math"
	"strings"

	"github.com/quarry-dev/quarry/internal/accesslog"
	"github.com/quarry-dev/quarry/internal/config"
)

// prices.json is transcribed from the Amazon Bedrock pricing page (its
// "source" and "as_of" members say which page and when): on-demand list
// prices, with the cross-region profile rows where they differ (Claude 4.5
// models: the global profile at list price, geographic profiles and
// in-region 10% above). Figures change; a model's `price:` in the config
// overrides them.
//
//go:embed prices.json
var pricesJSON []byte

// row is one line of the table.
type row struct {
	Model   string   `json:"model"`
	Profile string   `json:"profile"`
	Region  string   `json:"region"`
	Input   *float64 `json:"input_per_mtok"`
	Output  *float64 `json:"output_per_mtok"`
	CRead   *float64 `json:"cache_read_per_mtok"`
	CWrite  *float64 `json:"cache_write_per_mtok"`
	Image   *float64 `json:"per_image"`
	Search  *float64 `json:"per_search_unit"`
}

// Table is a price table: rows by model ID (without profile prefix).
type Table struct {
	Source, AsOf string
	rows         map[string][]row
}

// Builtin returns the table shipped with the binary.
func Builtin() *Table {
	t, err := ParseTable(pricesJSON)
	if err != nil {
		panic(err) // the embedded file is tested
	}
	return t
}

// ParseTable reads a table in prices.json's format.
func ParseTable(b []byte) (*Table, error) {
	var doc struct {
		Source string `json:"source"`
		AsOf   string `json:"as_of"`
		Prices []row  `json:"prices"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("price table: %w", err)
	}
	t := &Table{Source: doc.Source, AsOf: doc.AsOf, rows: map[string][]row{}}
	for _, r := range doc.Prices {
		id := strings.ToLower(r.Model)
		t.rows[id] = append(t.rows[id], r)
	}
	return t, nil
}

// profilePrefixes are the cross-region inference profile prefixes.
var profilePrefixes = []string{"us-gov", "us", "eu", "apac", "jp", "au", "ca", "global"}

// SplitModelID returns the foundation model ID, cross-region profile
// ("" for none) and, for an ARN, its region, of a configured model ID,
// inference-profile ID or ARN.
func SplitModelID(id string) (base, profile, region string) {
	id = strings.ToLower(id)
	if strings.HasPrefix(id, "arn:") {
		// arn:aws:bedrock:REGION:ACCOUNT:TYPE/ID
		parts := strings.SplitN(id, ":", 6)
		if len(parts) == 6 {
			region = parts[3]
			if _, rest, ok := strings.Cut(parts[5], "/"); ok {
				id = rest
			}
		}
	}
	for _, p := range profilePrefixes {
		if rest, ok := strings.CutPrefix(id, p+"."); ok {
			return rest, p, region
		}
	}
	return id, "", region
}

// Lookup returns the price of modelID called in region: the most specific
// row (region and profile both matching beats either alone beats
// neither). ok is false when the table does not know the model.
func (t *Table) Lookup(modelID, region string) (config.Price, bool) {
	base, profile, arnRegion := SplitModelID(modelID)
	if arnRegion != "" {
		region = arnRegion
	}
	best, score := -1, -1
	rows := t.rows[base]
	for i, r := range rows {
		s := 0
		switch {
		case r.Region == region && r.Region != "":
			s += 2
		case r.Region != "":
			continue
		}
		switch {
		case r.Profile == profile && r.Profile != "":
			s++
		case r.Profile != "":
			continue
		}
		if s > score {
			best, score = i, s
		}
	}
	if best < 0 {
		return config.Price{}, false
	}
	r := rows[best]
	return config.Price{InputPerMTok: r.Input, OutputPerMTok: r.Output, CacheReadPerMTok: r.CRead,
		CacheWritePerMTok: r.CWrite, PerImage: r.Image, PerSearchUnit: r.Search}, true
}

// Pricer prices usage: the table, with a model's config override on top.
type Pricer struct{ table *Table }

// NewPricer prices with t (nil: the built-in table).
func NewPricer(t *Table) *Pricer {
	if t == nil {
		t = Builtin()
	}
	return &Pricer{table: t}
}

// Price is the price of modelID in region, with override's fields (a
// model's `price:`, may be nil) over the table's. ok is false when neither
// knows the model: its cost is then unknown, never zero.
func (p *Pricer) Price(modelID, region string, override *config.Price) (config.Price, bool) {
	pr, ok := p.table.Lookup(modelID, region)
	if override != nil {
		dst, src := pr.Fields(), override.Fields()
		for i := range dst {
			if *src[i] != nil {
				*dst[i] = *src[i]
				ok = true
			}
		}
	}
	return pr, ok
}

// Cost is u's cost in USD at price pr: tokens per million at their kind's
// rate, images and search units each. A kind the price leaves out costs
// nothing (Nova's cache writes, say). Reasoning is not added: Bedrock
// counts it inside the output tokens.
func Cost(pr config.Price, u accesslog.Usage) float64 {
	f := func(p *float64) float64 {
		if p == nil {
			return 0
		}
		return *p
	}
	c := (float64(u.Input)*f(pr.InputPerMTok) + float64(u.Output)*f(pr.OutputPerMTok) +
		float64(u.CacheRead)*f(pr.CacheReadPerMTok) + float64(u.CacheWrite)*f(pr.CacheWritePerMTok)) / 1e6
	return c + float64(u.Images)*f(pr.PerImage) + float64(u.SearchUnits)*f(pr.PerSearchUnit)
}

// Nanos converts USD to whole nano-dollars, the store's unit: sums of
// integers do not drift as float sums do.
func Nanos(usd float64) int64 { return int64(math.Round(usd * 1e9)) }
