package openai

import (
	"testing"

	"github.com/quarry-dev/quarry/bedrock"
	"github.com/quarry-dev/quarry/internal/config"
	"github.com/quarry-dev/quarry/internal/upstream"
)

// The wrong-endpoint messages say what the model is, grammatically, from
// its Bedrock family ("is a embedding model, not an embedding model" was
// the old message for a chat model listed under embeddings).
func TestWrongKindMessages(t *testing.T) {
	model := func(kind config.Kind, id string) *upstream.Model {
		return &upstream.Model{Model: config.Model{Kind: kind, Name: "m", ModelID: id}, Family: bedrock.ModelFamily(id)}
	}
	arn := "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/abc"
	tests := []struct {
		name string
		err  *apiError
		want string
	}{
		{"chat to embeddings", notEmbeddingModel(model(config.KindChat, "amazon.nova-lite-v1:0")),
			"The model 'm' is a chat model, not an embedding model; use one of the gateway's embedding models with /v1/embeddings (GET /v1/models lists them)."},
		{"image to embeddings", notEmbeddingModel(model(config.KindImage, "amazon.nova-canvas-v1:0")),
			"The model 'm' is an image generation model, not an embedding model; use one of the gateway's embedding models with /v1/embeddings (GET /v1/models lists them)."},
		{"unknown family listed as embedding", notEmbeddingModel(model(config.KindEmbedding, arn)),
			"The model 'm' (" + arn + ") is of a Bedrock model family the gateway does not know, not an embedding model; use one of the gateway's embedding models with /v1/embeddings (GET /v1/models lists them)."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.err.Msg != tt.want || tt.err.Param != "model" || tt.err.Status != 400 {
				t.Errorf("got %d %s %q\nwant 400 model %q", tt.err.Status, tt.err.Param, tt.err.Msg, tt.want)
			}
		})
	}
	if _, e := imageRequestOf(model(config.KindEmbedding, "amazon.titan-embed-text-v2:0"), &imageRequest{}); e == nil ||
		e.Msg != "The model 'm' is an embedding model, not an image generation model; use one of the gateway's image models with /v1/images/generations (GET /v1/models lists them)." {
		t.Errorf("image endpoint: %v", e)
	}
}
