package emulator

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"unicode"
)

// Rerank families: amazon.rerank-v1:0 and cohere.rerank-v3-5:0 take the same
// body ({"query", "documents", "top_n"}); Cohere's also requires
// api_version 2.
const (
	familyAmazonRerank = "amazon-rerank"
	familyCohereRerank = "cohere-rerank"
	kindRerank         = "rerank"
)

// rerankMaxDocuments is Bedrock's limit on documents per rerank call.
const rerankMaxDocuments = 1000

func rerankSpec(family string) *famSpec {
	props := map[string]*famSpec{
		"query":     famStrLen(1, 32000),
		"documents": famList(famOneOf(famStrLen(1, 32000), famOpen(famObj(nil, map[string]*famSpec{}))), 1, rerankMaxDocuments),
		"top_n":     famInt(1, rerankMaxDocuments),
	}
	required := []string{"query", "documents"}
	if family == familyCohereRerank {
		props["api_version"] = famInt(2, 2)
		props["max_tokens_per_doc"] = famInt(1, 4096)
		required = append(required, "api_version")
	}
	return famObj(required, props)
}

// invokeRerank answers a rerank body deterministically: a document's score
// is the cosine of the query's and the document's word sets, so documents
// sharing more of the query's words rank higher; ties keep document order.
func invokeRerank(m *Model, body []byte) (resp []byte, inputTokens int, aerr *apiError) {
	req, aerr := famDecode(body, rerankSpec(m.Family))
	if aerr != nil {
		return nil, 0, aerr
	}
	query := famGetString(req, "query")
	docs := famGetList(req, "documents")
	topN := famGetInt(req, "top_n", len(docs))
	if topN > len(docs) {
		return nil, 0, famMalformed(fmt.Sprintf("#/top_n: %d is greater than the number of documents (%d)", topN, len(docs)))
	}
	q := rerankWords(query)
	inputTokens = countTokens(query)
	type result struct {
		Index          int     `json:"index"`
		RelevanceScore float64 `json:"relevance_score"`
	}
	results := make([]result, len(docs))
	for i, d := range docs {
		text, ok := d.(string)
		if !ok {
			text = string(mustJSON(d))
		}
		inputTokens += countTokens(text)
		results[i] = result{Index: i, RelevanceScore: rerankScore(q, rerankWords(text))}
	}
	sort.SliceStable(results, func(i, j int) bool { return results[i].RelevanceScore > results[j].RelevanceScore })
	out := map[string]any{"results": results[:topN]}
	if m.Family == familyCohereRerank {
		out["id"] = fmt.Sprintf("%016x", fnv64(body))
	}
	return mustJSON(out), inputTokens, nil
}

func rerankWords(s string) map[string]bool {
	words := map[string]bool{}
	for _, w := range strings.FieldsFunc(strings.ToLower(s), func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) }) {
		words[w] = true
	}
	return words
}

// rerankScore is the cosine of two word sets, in [0, 1], rounded to six
// places so that the JSON is stable.
func rerankScore(q, d map[string]bool) float64 {
	if len(q) == 0 || len(d) == 0 {
		return 0
	}
	shared := 0
	for w := range q {
		if d[w] {
			shared++
		}
	}
	s := float64(shared) / math.Sqrt(float64(len(q)*len(d)))
	return math.Round(s*1e6) / 1e6
}

func fnv64(b []byte) uint64 {
	h := uint64(14695981039346656037)
	for _, c := range b {
		h ^= uint64(c)
		h *= 1099511628211
	}
	return h
}
