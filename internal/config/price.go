package config

import (
	"go.yaml.in/yaml/v3"
)

// Price is a model's price in USD, as the built-in table (internal/usage)
// keeps it; in the config, a model's `price:` overrides the table's
// figures field by field (a field left out keeps the table's, or 0 for a
// model the table does not know).
type Price struct {
	InputPerMTok, OutputPerMTok, CacheReadPerMTok, CacheWritePerMTok *float64
	// PerImage prices each generated image; PerSearchUnit each rerank
	// search unit (a query over up to 100 documents).
	PerImage, PerSearchUnit *float64
}

// priceFields are the config keys of Price, in its order.
var priceFields = []string{"input_per_mtok", "output_per_mtok", "cache_read_per_mtok", "cache_write_per_mtok", "per_image", "per_search_unit"}

// Fields returns p's fields in priceFields' order (for merging).
func (p *Price) Fields() []**float64 {
	return []**float64{&p.InputPerMTok, &p.OutputPerMTok, &p.CacheReadPerMTok, &p.CacheWritePerMTok, &p.PerImage, &p.PerSearchUnit}
}

// price decodes a model's `price:` mapping: non-negative USD figures,
// per million tokens or per unit.
func (d *decoder) price(n *yaml.Node, field string) *Price {
	f := d.mapping(n, field, priceFields...)
	if n.Kind != yaml.MappingNode {
		return nil
	}
	p := &Price{}
	dst := p.Fields()
	for i, key := range priceFields {
		v, ok := f[key]
		if !ok {
			continue
		}
		if x, ok := d.float(v, field+"."+key, 0, 1e6); ok {
			*dst[i] = &x
		}
	}
	return p
}
