package emulator

import (
	"strings"
	"testing"
)

func TestInvokeRerank(t *testing.T) {
	amazon := &Model{ID: "amazon.rerank-v1:0", Family: familyAmazonRerank}
	cohere := &Model{ID: "cohere.rerank-v3-5:0", Family: familyCohereRerank}
	for _, c := range []struct {
		name  string
		m     *Model
		body  string
		want  string // the response, or the error message's fragment
		isErr bool
	}{
		{"amazon ranks by overlap", amazon, `{"query":"red apple","documents":["a green pear","a red apple","red"]}`,
			`{"results":[{"index":1,"relevance_score":0.816497},{"index":2,"relevance_score":0.707107},{"index":0,"relevance_score":0}]}`, false},
		{"top_n", amazon, `{"query":"red apple","documents":["a green pear","a red apple"],"top_n":1}`,
			`{"results":[{"index":1,"relevance_score":0.816497}]}`, false},
		{"ties keep order", amazon, `{"query":"x","documents":["y","z"]}`,
			`{"results":[{"index":0,"relevance_score":0},{"index":1,"relevance_score":0}]}`, false},
		{"cohere needs api_version", cohere, `{"query":"q","documents":["a"]}`, "required key [api_version] not found", true},
		{"cohere api_version 1", cohere, `{"query":"q","documents":["a"],"api_version":1}`, "api_version", true},
		{"cohere ok", cohere, `{"query":"q","documents":["q"],"api_version":2}`, `"results":[{"index":0,"relevance_score":1}]`, false},
		{"missing query", amazon, `{"documents":["a"]}`, "required key [query] not found", true},
		{"empty query", amazon, `{"query":"","documents":["a"]}`, "query", true},
		{"no documents", amazon, `{"query":"q","documents":[]}`, "documents", true},
		{"top_n zero", amazon, `{"query":"q","documents":["a"],"top_n":0}`, "top_n", true},
		{"top_n above documents", amazon, `{"query":"q","documents":["a"],"top_n":2}`, "greater than the number of documents", true},
		{"extraneous key", amazon, `{"query":"q","documents":["a"],"return_documents":true}`, "extraneous key [return_documents]", true},
		{"not JSON", amazon, `{`, "Malformed input request", true},
	} {
		t.Run(c.name, func(t *testing.T) {
			resp, _, aerr := invokeRerank(c.m, []byte(c.body))
			if c.isErr {
				if aerr == nil || aerr.Status != 400 || !strings.Contains(aerr.Message, c.want) {
					t.Fatalf("error %+v; want a 400 mentioning %q", aerr, c.want)
				}
				return
			}
			if aerr != nil {
				t.Fatal(aerr.Message)
			}
			if !strings.Contains(string(resp), c.want) {
				t.Errorf("got %s; want %s", resp, c.want)
			}
		})
	}
}
