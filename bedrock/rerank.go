package bedrock

import (
	"context"
	"strings"
)

// RerankRequest is the InvokeModel body of Bedrock's rerank models,
// amazon.rerank-v1:0 and cohere.rerank-v3-5:0: a query and up to 1,000
// documents (strings; structured documents are sent as their JSON text).
type RerankRequest struct {
	Query     string   `json:"query"`
	Documents []string `json:"documents"`
	// TopN limits the results (0: all documents).
	TopN int `json:"top_n,omitempty"`
	// APIVersion is Cohere's api_version; Rerank fills in 2 for Cohere
	// models and leaves it out for Amazon's.
	APIVersion int `json:"api_version,omitempty"`
}

// RerankResult is one ranked document: its index in the request and its
// relevance score. Results come most relevant first.
type RerankResult struct {
	Index          int     `json:"index"`
	RelevanceScore float64 `json:"relevance_score"`
}

// RerankResponse is a rerank model's answer.
type RerankResponse struct {
	ID       string         `json:"id,omitempty"`
	Results  []RerankResult `json:"results"`
	Metadata InvokeMetadata `json:"-"`
}

func (r *RerankResponse) setMetadata(m InvokeMetadata) { r.Metadata = m }

// IsRerankModel reports whether modelID (an ID, profile or ARN ending in
// one) is one of Bedrock's rerank models.
func IsRerankModel(modelID string) bool {
	return strings.Contains(modelID, "amazon.rerank-") || strings.Contains(modelID, "cohere.rerank-")
}

// Rerank scores documents against a query with a rerank model.
func (c *Client) Rerank(ctx context.Context, modelID string, req *RerankRequest, opts ...CallOption) (*RerankResponse, error) {
	r := *req
	if strings.Contains(modelID, "cohere.rerank-") && r.APIVersion == 0 {
		r.APIVersion = 2 // Cohere Rerank 3.5 on Bedrock requires it (minimum 2)
	}
	return invokeJSON[RerankRequest, RerankResponse](ctx, c, modelID, &r, opts...)
}
