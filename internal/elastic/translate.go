package elastic

import (
	"strings"

	"github.com/quarry-dev/quarry/bedrock"
)

// completionRequest is the Converse request for a completion: the inputs
// as the user's turn, and the task settings as inference parameters,
// sending only what is set (AmazonBedrockConverseUtils): no default
// max_new_tokens, and top_k as an additional model field, a float.
func completionRequest(inputs []string, ts TaskSettings) *bedrock.ConverseRequest {
	// One user message with a block per input: Bedrock wants the roles to
	// alternate, so separate user messages would be refused.
	blocks := make([]bedrock.ContentBlock, len(inputs))
	for i, in := range inputs {
		blocks[i] = bedrock.TextBlock(in)
	}
	req := &bedrock.ConverseRequest{Messages: []bedrock.Message{{Role: bedrock.RoleUser, Content: blocks}}}
	req.InferenceConfig = inferenceConfig(ts)
	if ts.TopK != nil {
		req.AdditionalModelRequestFields = map[string]any{"top_k": *ts.TopK}
	}
	return req
}

func inferenceConfig(ts TaskSettings) *bedrock.InferenceConfig {
	if ts.Temperature == nil && ts.TopP == nil && ts.MaxNewTokens == nil {
		return nil
	}
	return &bedrock.InferenceConfig{MaxTokens: ts.MaxNewTokens, Temperature: ts.Temperature, TopP: ts.TopP}
}

// responseText is the text of a Converse answer.
func responseText(r *bedrock.ConverseResponse) string {
	if r == nil || r.Output.Message == nil {
		return ""
	}
	var b strings.Builder
	for _, c := range r.Output.Message.Content {
		b.WriteString(c.Text)
	}
	return b.String()
}

// Elasticsearch's input types and what Cohere calls them
// (AmazonBedrockCohereEmbeddingsRequestEntity).
var cohereInputTypes = map[string]string{
	"ingest": bedrock.CohereSearchDocument, "internal_ingest": bedrock.CohereSearchDocument,
	"search": bedrock.CohereSearchQuery, "internal_search": bedrock.CohereSearchQuery,
	"classification": bedrock.CohereClassification, "clustering": bedrock.CohereClustering,
}

// cohereRequest embeds up to cohereBatch texts. Without an input type the
// texts are documents, as Elasticsearch sends them.
func cohereRequest(model string, texts []string, inputType, truncate string) *bedrock.CohereEmbedRequest {
	it := cohereInputTypes[inputType]
	if it == "" {
		it = bedrock.CohereSearchDocument
	}
	req := &bedrock.CohereEmbedRequest{Texts: texts, InputType: it, Truncate: strings.ToUpper(truncate)}
	if strings.Contains(model, "embed-v4") {
		// Embed v4 answers by type; ask for floats only.
		req.EmbeddingTypes = []string{"float"}
	}
	return req
}

// titanRequest embeds one text (Titan takes no batches).
func titanRequest(text string) *bedrock.TitanEmbedRequest {
	return &bedrock.TitanEmbedRequest{InputText: text}
}

// batches splits inputs into runs of at most n.
func batches(inputs []string, n int) [][]string {
	var out [][]string
	for len(inputs) > 0 {
		k := min(n, len(inputs))
		out = append(out, inputs[:k])
		inputs = inputs[k:]
	}
	return out
}

// defaultSimilarity is the provider's similarity when the user set none.
func defaultSimilarity(provider string) string {
	if provider == "cohere" {
		return "dot_product"
	}
	return "cosine"
}
