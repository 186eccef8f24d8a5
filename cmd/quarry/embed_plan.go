package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/quarry-dev/quarry/bedrock"
)

// embedPlan is how one model family embeds: records per call, the largest
// text it takes, and the call itself.
type embedPlan struct {
	family    bedrock.Family
	model     string
	batch     int // records per call
	maxChars  int // longest text (0: the model truncates)
	dims      int
	inputType string
}

// Limits from the Bedrock model parameter pages: Titan Text Embeddings take
// one text of up to 50,000 characters per call; Cohere Embed up to 96 texts
// (truncated at their end here); Nova embeddings one text per call.
func newEmbedPlan(o *embedOptions) (*embedPlan, error) {
	p := &embedPlan{family: bedrock.ModelFamily(o.model), model: o.model, dims: o.dimensions, inputType: o.inputType}
	switch p.family {
	case bedrock.FamilyTitanEmbed:
		p.batch, p.maxChars = 1, 50000
		if o.inputType != "" {
			return nil, fmt.Errorf("--input-type applies to Cohere and Nova models, not Titan")
		}
		if o.dimensions != 0 {
			if !strings.Contains(o.model, "titan-embed-text-v2") {
				return nil, fmt.Errorf("--dimensions: %s has a fixed size; Titan Text Embeddings v2 takes 256, 512 or 1024", o.model)
			}
			if !slices.Contains([]int{256, 512, 1024}, o.dimensions) {
				return nil, fmt.Errorf("--dimensions must be 256, 512 or 1024 for Titan Text Embeddings v2 (got %d)", o.dimensions)
			}
		}
	case bedrock.FamilyCohereEmbed:
		p.batch = 96
		if p.inputType == "" {
			p.inputType = "search_document"
		}
		if !slices.Contains([]string{"search_document", "search_query", "classification", "clustering"}, p.inputType) {
			return nil, fmt.Errorf("--input-type must be search_document, search_query, classification or clustering for Cohere (got %q)", o.inputType)
		}
		if o.dimensions != 0 {
			if !strings.Contains(o.model, "embed-v4") {
				return nil, fmt.Errorf("--dimensions: %s has a fixed size; Cohere Embed v4 takes 256, 512, 1024 or 1536", o.model)
			}
			if !slices.Contains([]int{256, 512, 1024, 1536}, o.dimensions) {
				return nil, fmt.Errorf("--dimensions must be 256, 512, 1024 or 1536 for Cohere Embed v4 (got %d)", o.dimensions)
			}
		}
	case bedrock.FamilyNovaEmbed:
		p.batch = 1
		if p.inputType == "" {
			p.inputType = "GENERIC_INDEX"
		}
		p.inputType = strings.ToUpper(p.inputType)
		if o.dimensions != 0 && !slices.Contains([]int{256, 384, 1024, 3072}, o.dimensions) {
			return nil, fmt.Errorf("--dimensions must be 256, 384, 1024 or 3072 for Nova embeddings (got %d)", o.dimensions)
		}
	default:
		return nil, fmt.Errorf("--model %s is not an embedding model quarry embed knows (Titan Text Embeddings, Cohere Embed or Nova multimodal embeddings)", o.model)
	}
	return p, nil
}

// checkTexts refuses, before any call, a text the model cannot take.
func (p *embedPlan) checkTexts(records []embedRecord) error {
	if p.maxChars == 0 {
		return nil
	}
	for _, r := range records {
		if n := utf8.RuneCountInString(r.text); n > p.maxChars {
			return fmt.Errorf("record %s is %d characters; %s takes at most %d", r.id, n, p.model, p.maxChars)
		}
	}
	return nil
}

// embed makes one call for batch and returns its output lines.
func (p *embedPlan) embed(ctx context.Context, c *bedrock.Client, batch []embedRecord) ([]byte, error) {
	var vectors [][]float64
	switch p.family {
	case bedrock.FamilyTitanEmbed:
		resp, err := c.EmbedTitan(ctx, p.model, &bedrock.TitanEmbedRequest{InputText: batch[0].text, Dimensions: p.dims})
		if err != nil {
			return nil, err
		}
		vectors = [][]float64{resp.Embedding}
	case bedrock.FamilyCohereEmbed:
		texts := make([]string, len(batch))
		for i, r := range batch {
			texts[i] = r.text
		}
		resp, err := c.EmbedCohere(ctx, p.model, &bedrock.CohereEmbedRequest{Texts: texts, InputType: p.inputType, Truncate: "END", OutputDimension: p.dims})
		if err != nil {
			return nil, err
		}
		vectors = resp.Embeddings.Float
	case bedrock.FamilyNovaEmbed:
		resp, err := c.EmbedNova(ctx, p.model, bedrock.NovaTextEmbedRequest(batch[0].text, p.inputType, p.dims))
		if err != nil {
			return nil, err
		}
		if len(resp.Embeddings) > 0 {
			vectors = [][]float64{resp.Embeddings[0].Embedding}
		}
	}
	if len(vectors) != len(batch) {
		return nil, fmt.Errorf("%s returned %d embeddings for %d texts", p.model, len(vectors), len(batch))
	}
	var buf bytes.Buffer
	for i, r := range batch {
		v, _ := json.Marshal(vectors[i])
		buf.WriteString(`{"id":`)
		buf.Write(r.id)
		buf.WriteString(`,"embedding":`)
		buf.Write(v)
		buf.WriteString("}\n")
	}
	return buf.Bytes(), nil
}
