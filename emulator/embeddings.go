package emulator

// invokeEmbedding answers InvokeModel for an embedding model (Titan Text
// Embeddings v1/v2, Cohere Embed v3/v4, Nova multimodal embeddings) with the
// model's native response body, and the input token count for the
// X-Amzn-Bedrock-Input-Token-Count header.
func invokeEmbedding(modelID string, body []byte) (resp []byte, inputTokens int, err *apiError) {
	return nil, 0, &apiError{Status: 501, Code: "InternalServerException", Message: "embeddings are not implemented yet"}
}
