package bedrock

import (
	"context"
	"encoding/json"
)

// CohereCommandRequest is the native body of the legacy Cohere Command
// models (cohere.command-text-v14, cohere.command-light-text-v14).
type CohereCommandRequest struct {
	Prompt            string   `json:"prompt"`
	MaxTokens         int      `json:"max_tokens,omitempty"`
	Temperature       *float64 `json:"temperature,omitempty"`
	P                 *float64 `json:"p,omitempty"`
	K                 *int     `json:"k,omitempty"`
	StopSequences     []string `json:"stop_sequences,omitempty"`
	ReturnLikelihoods string   `json:"return_likelihoods,omitempty"` // GENERATION, ALL, NONE
	NumGenerations    int      `json:"num_generations,omitempty"`
	Truncate          string   `json:"truncate,omitempty"` // NONE, START, END
	Stream            bool     `json:"stream,omitempty"`
}

// CohereCommandResponse is the native Command response body.
type CohereCommandResponse struct {
	ID          string                    `json:"id"`
	Generations []CohereCommandGeneration `json:"generations"`
	Prompt      string                    `json:"prompt,omitempty"`

	InvokeMetadata `json:"-"`
}

// CohereCommandGeneration is one generation; FinishReason is COMPLETE,
// MAX_TOKENS, ERROR or ERROR_TOXIC.
type CohereCommandGeneration struct {
	ID               string          `json:"id"`
	Text             string          `json:"text"`
	FinishReason     string          `json:"finish_reason"`
	Index            *int            `json:"index,omitempty"`
	Likelihood       *float64        `json:"likelihood,omitempty"`
	TokenLikelihoods json.RawMessage `json:"token_likelihoods,omitempty"`
}

func (r *CohereCommandResponse) setMetadata(m InvokeMetadata) { r.InvokeMetadata = m }

// Text is the first generation's text.
func (r *CohereCommandResponse) Text() string {
	if len(r.Generations) == 0 {
		return ""
	}
	return r.Generations[0].Text
}

// InvokeCohereCommand calls a legacy Command model with its native body.
func (c *Client) InvokeCohereCommand(ctx context.Context, modelID string, req *CohereCommandRequest, opts ...CallOption) (*CohereCommandResponse, error) {
	return invokeJSON[CohereCommandRequest, CohereCommandResponse](ctx, c, modelID, req, opts...)
}

// CohereCommandRRequest is the native chat body of Cohere Command R and R+
// (cohere.command-r-v1:0, cohere.command-r-plus-v1:0).
type CohereCommandRRequest struct {
	Message           string              `json:"message"`
	ChatHistory       []CohereChatMessage `json:"chat_history,omitempty"`
	Documents         []map[string]string `json:"documents,omitempty"`
	Preamble          string              `json:"preamble,omitempty"`
	SearchQueriesOnly bool                `json:"search_queries_only,omitempty"`
	MaxTokens         int                 `json:"max_tokens,omitempty"`
	Temperature       *float64            `json:"temperature,omitempty"`
	P                 *float64            `json:"p,omitempty"`
	K                 *int                `json:"k,omitempty"`
	PromptTruncation  string              `json:"prompt_truncation,omitempty"`
	FrequencyPenalty  *float64            `json:"frequency_penalty,omitempty"`
	PresencePenalty   *float64            `json:"presence_penalty,omitempty"`
	Seed              *int                `json:"seed,omitempty"`
	ReturnPrompt      bool                `json:"return_prompt,omitempty"`
	StopSequences     []string            `json:"stop_sequences,omitempty"`
	RawPrompting      bool                `json:"raw_prompting,omitempty"`
	Tools             []CohereTool        `json:"tools,omitempty"`
	ToolResults       []CohereToolResult  `json:"tool_results,omitempty"`
}

// CohereChatMessage is one turn of chat_history: Role USER, CHATBOT,
// SYSTEM or TOOL.
type CohereChatMessage struct {
	Role        string             `json:"role"`
	Message     string             `json:"message,omitempty"`
	ToolCalls   []CohereToolCall   `json:"tool_calls,omitempty"`
	ToolResults []CohereToolResult `json:"tool_results,omitempty"` // role TOOL
}

// CohereTool describes a tool; ParameterDefinitions maps a parameter name
// to {"description","type","required"}.
type CohereTool struct {
	Name                 string          `json:"name"`
	Description          string          `json:"description"`
	ParameterDefinitions json.RawMessage `json:"parameter_definitions,omitempty"`
}

// CohereToolCall is a tool call made by the model.
type CohereToolCall struct {
	Name       string          `json:"name"`
	Parameters json.RawMessage `json:"parameters"`
}

// CohereToolResult answers a tool call with a list of JSON objects.
type CohereToolResult struct {
	Call    CohereToolCall    `json:"call"`
	Outputs []json.RawMessage `json:"outputs"`
}

// CohereCommandRResponse is the native Command R response body.
// FinishReason is COMPLETE, MAX_TOKENS, STOP_SEQUENCE, ERROR, ERROR_TOXIC,
// ERROR_LIMIT or USER_CANCEL.
type CohereCommandRResponse struct {
	ResponseID       string              `json:"response_id"`
	Text             string              `json:"text"`
	GenerationID     string              `json:"generation_id"`
	ChatHistory      []CohereChatMessage `json:"chat_history,omitempty"`
	FinishReason     string              `json:"finish_reason"`
	ToolCalls        []CohereToolCall    `json:"tool_calls,omitempty"`
	Citations        json.RawMessage     `json:"citations,omitempty"`
	Documents        json.RawMessage     `json:"documents,omitempty"`
	SearchQueries    json.RawMessage     `json:"search_queries,omitempty"`
	IsSearchRequired *bool               `json:"is_search_required,omitempty"`

	InvokeMetadata `json:"-"`
}

func (r *CohereCommandRResponse) setMetadata(m InvokeMetadata) { r.InvokeMetadata = m }

// InvokeCohereCommandR calls a Command R model with its native body.
func (c *Client) InvokeCohereCommandR(ctx context.Context, modelID string, req *CohereCommandRRequest, opts ...CallOption) (*CohereCommandRResponse, error) {
	return invokeJSON[CohereCommandRRequest, CohereCommandRResponse](ctx, c, modelID, req, opts...)
}
