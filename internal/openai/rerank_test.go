package openai

import (
	"encoding/json"
	"testing"

	"github.com/quarry-dev/quarry/bedrock"
	"github.com/quarry-dev/quarry/internal/config"
)

// TestRerankResponseOf: Bedrock's results are put in relevance order (ties
// by index) whatever order they come in, cut to top_n, with documents
// echoed as sent; an index Bedrock should not have returned is a 502.
func TestRerankResponseOf(t *testing.T) {
	m := testModel(config.KindRerank, "rr", "cohere.rerank-v3-5:0", nil)
	req := &rerankRequest{Model: "rr", Query: new("q"), Documents: []json.RawMessage{
		json.RawMessage(`"a"`), json.RawMessage(`{"text":"b","id":9}`), json.RawMessage(`"c"`)}}
	breq, docs, aerr := rerankRequestOf(m, req)
	if aerr != nil {
		t.Fatal(aerr)
	}
	if got, _ := json.Marshal(breq.Documents); string(got) != `["a","{\"id\":9,\"text\":\"b\"}","c"]` {
		t.Errorf("documents sent %s", got)
	}
	breq.TopN = 2
	resp := &bedrock.RerankResponse{Results: []bedrock.RerankResult{{Index: 2, RelevanceScore: 0.1}, {Index: 1, RelevanceScore: 0.5}, {Index: 0, RelevanceScore: 0.5}}}
	out, aerr := rerankResponseOf(m, resp, breq, docs, true)
	if aerr != nil {
		t.Fatal(aerr)
	}
	got, _ := json.Marshal(out.Results)
	if want := `[{"index":0,"relevance_score":0.5,"document":{"text":"a"}},{"index":1,"relevance_score":0.5,"document":{"text":"b","id":9}}]`; string(got) != want {
		t.Errorf("results %s\nwant %s", got, want)
	}
	resp.Results = append(resp.Results, bedrock.RerankResult{Index: 3})
	if _, aerr := rerankResponseOf(m, resp, breq, docs, false); aerr == nil || aerr.Status != 502 {
		t.Errorf("out-of-range index: %+v; want a 502", aerr)
	}
}
