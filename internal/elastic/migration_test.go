package elastic

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/quarry-dev/quarry/internal/store"
)

// TestEndpointsStoredBeforeChunking: endpoints stored without chunking
// settings (schema version 1, see store.TestMigrateV1) keep working, and
// GET shows chunking settings only where Elasticsearch would: a
// text_embedding endpoint shows what Elasticsearch reads for an endpoint
// stored before the setting existed (ChunkingSettingsBuilder.fromMap(null):
// word, 250, 100); a completion endpoint shows none.
func TestEndpointsStoredBeforeChunking(t *testing.T) {
	h, _ := startHandler(t)
	ctx := context.Background()
	secrets := store.Secrets{secretAccessKey: "AK", secretSecretKey: "SK"}
	for _, e := range []*store.Endpoint{
		{ID: "old-emb", TaskType: taskTextEmbedding, Service: serviceName, Secrets: secrets,
			ServiceSettings: json.RawMessage(`{"region":"us-east-1","provider":"amazontitan","model":"amazon.titan-embed-text-v2:0","rate_limit":{"requests_per_minute":240},"dimensions":1024,"similarity":"cosine"}`)},
		{ID: "old-comp", TaskType: taskCompletion, Service: serviceName, Secrets: secrets,
			ServiceSettings: json.RawMessage(`{"region":"us-east-1","provider":"anthropic","model":"anthropic.claude-3-haiku-20240307-v1:0","rate_limit":{"requests_per_minute":240}}`)},
	} {
		if err := h.st.Create(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	st, b := call(h, "GET", "/_inference/old-emb", "")
	if st != 200 || !strings.Contains(b, `"chunking_settings":{"strategy":"word","max_chunk_size":250,"overlap":100}`) {
		t.Errorf("old text_embedding endpoint: %d %s", st, b)
	}
	st, b = call(h, "GET", "/_inference/old-comp", "")
	if st != 200 || strings.Contains(b, "chunking_settings") {
		t.Errorf("old completion endpoint: %d %s", st, b)
	}
	if st, b := call(h, "POST", "/_inference/old-emb", `{"input":"still works"}`); st != 200 || !strings.Contains(b, `"embedding"`) {
		t.Errorf("inference on an old endpoint: %d %s", st, b)
	}
	if st, b := call(h, "POST", "/_inference/old-comp", `{"input":"still works"}`); st != 200 {
		t.Errorf("completion on an old endpoint: %d %s", st, b)
	}
	// Updating it keeps its chunking settings (they cannot be updated).
	if st, b := call(h, "PUT", "/_inference/text_embedding/old-emb/_update", `{"task_settings":{}}`); st != 200 ||
		!strings.Contains(b, `"strategy":"word"`) {
		t.Errorf("update of an old endpoint: %d %s", st, b)
	}
}
