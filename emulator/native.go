package emulator

// Native InvokeModel bodies of the text model families. The HTTP handler
// (invoke.go) reads the body, calls parseNative, runs generate, and writes
// renderNative (InvokeModel) or renderNativeChunks (InvokeModelWithResponseStream).

// Text model families with a native InvokeModel body.
const (
	familyAnthropic = "anthropic"        // Claude Messages API (anthropic_version bedrock-2023-05-31)
	familyNova      = "nova"             // Amazon Nova messages-v1
	familyTitanText = "titan-text"       // Amazon Titan Text
	familyLlama     = "llama"            // Meta Llama
	familyMistral   = "mistral"          // Mistral (prompt/outputs)
	familyCohere    = "cohere-command"   // Cohere Command (generations)
	familyCohereR   = "cohere-command-r" // Cohere Command R/R+ (message/chat_history)
)

// invocationMetrics is the "amazon-bedrock-invocationMetrics" member of the
// last streamed chunk.
type invocationMetrics struct {
	InputTokenCount           int `json:"inputTokenCount"`
	OutputTokenCount          int `json:"outputTokenCount"`
	InvocationLatency         int `json:"invocationLatency"`
	FirstByteLatency          int `json:"firstByteLatency"`
	CacheReadInputTokenCount  int `json:"cacheReadInputTokenCount,omitempty"`
	CacheWriteInputTokenCount int `json:"cacheWriteInputTokenCount,omitempty"`
}

// parseNative validates a family's native request body as Bedrock does and
// reduces it to a genRequest.
func parseNative(family string, body []byte) (*genRequest, *apiError) {
	return nil, &apiError{Status: 501, Code: "InternalServerException", Message: "native bodies are not implemented yet"}
}

// renderNative is the family's native InvokeModel response body.
func renderNative(family, modelID string, req *genRequest, res genResult) []byte {
	return nil
}

// renderNativeChunks are the decoded payloads of the family's streamed
// `chunk` events, in order; the last one carries metrics.
func renderNativeChunks(family, modelID string, req *genRequest, res genResult, metrics invocationMetrics) [][]byte {
	return nil
}
