package telemetry

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"testing/iotest"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
)

// Content capture (telemetry.capture_content: true only): the prompt and
// the answer go on the attempt's span as the GenAI conventions'
// gen_ai.system_instructions, gen_ai.input.messages and
// gen_ai.output.messages, JSON in the conventions' shape
// ({"role", "parts": [{"type": "text", "content"}, …]}). They are read
// from what goes to and comes from Bedrock, so every surface is covered the
// same way: requests with messages (Converse and Anthropic's InvokeModel
// bodies), and Converse answers; streamed answers are not captured.

// maxCapture bounds what is read of a request body for capture.
const maxCapture = 1 << 20

type part struct {
	Type      string          `json:"type"`
	Content   any             `json:"content,omitempty"`
	ID        string          `json:"id,omitempty"`
	Name      string          `json:"name,omitempty"`
	Arguments json.RawMessage `json:"arguments,omitempty"`
	Response  json.RawMessage `json:"response,omitempty"`
}

type message struct {
	Role         string `json:"role"`
	Parts        []part `json:"parts"`
	FinishReason string `json:"finish_reason,omitempty"`
}

// block is a content block of Converse ({"text"}, {"toolUse"}, …) or of
// Anthropic's Messages ({"type": "text", "text"}, {"type": "tool_use"}, …).
type block struct {
	Type       string          `json:"type"`
	Text       *string         `json:"text"`
	ID         string          `json:"id"`
	Name       string          `json:"name"`
	Input      json.RawMessage `json:"input"`
	ToolUseID  string          `json:"tool_use_id"`
	Content    json.RawMessage `json:"content"`
	ToolUse    *toolUse        `json:"toolUse"`
	ToolResult *toolResult     `json:"toolResult"`
}

type toolUse struct {
	ToolUseID string          `json:"toolUseId"`
	Name      string          `json:"name"`
	Input     json.RawMessage `json:"input"`
}

type toolResult struct {
	ToolUseID string          `json:"toolUseId"`
	Content   json.RawMessage `json:"content"`
}

// blocks reads content that is a string or a list of blocks.
func blocks(raw json.RawMessage) []part {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return []part{{Type: "text", Content: s}}
	}
	var bs []block
	if json.Unmarshal(raw, &bs) != nil {
		return nil
	}
	parts := make([]part, 0, len(bs))
	for _, b := range bs {
		switch {
		case b.Text != nil:
			parts = append(parts, part{Type: "text", Content: *b.Text})
		case b.ToolUse != nil:
			parts = append(parts, part{Type: "tool_call", ID: b.ToolUse.ToolUseID, Name: b.ToolUse.Name, Arguments: b.ToolUse.Input})
		case b.Type == "tool_use":
			parts = append(parts, part{Type: "tool_call", ID: b.ID, Name: b.Name, Arguments: b.Input})
		case b.ToolResult != nil:
			parts = append(parts, part{Type: "tool_call_response", ID: b.ToolResult.ToolUseID, Response: b.ToolResult.Content})
		case b.Type == "tool_result":
			parts = append(parts, part{Type: "tool_call_response", ID: b.ToolUseID, Response: b.Content})
		default:
			// Images, documents, reasoning: named, not copied.
			t := b.Type
			if t == "" {
				t = "blob"
			}
			parts = append(parts, part{Type: t})
		}
	}
	return parts
}

type inputBody struct {
	System   json.RawMessage `json:"system"`
	Messages []struct {
		Role    string          `json:"role"`
		Content json.RawMessage `json:"content"`
	} `json:"messages"`
}

func captureInput(span trace.Span, req *http.Request) {
	if req.GetBody == nil {
		return
	}
	rc, err := req.GetBody()
	if err != nil {
		return
	}
	defer rc.Close()
	data, _ := io.ReadAll(io.LimitReader(rc, maxCapture))
	var in inputBody
	if json.Unmarshal(data, &in) != nil || len(in.Messages) == 0 {
		return
	}
	msgs := make([]message, 0, len(in.Messages))
	for _, m := range in.Messages {
		msgs = append(msgs, message{Role: m.Role, Parts: blocks(m.Content)})
	}
	if b, err := json.Marshal(msgs); err == nil {
		span.SetAttributes(attribute.String("gen_ai.input.messages", string(b)))
	}
	if len(in.System) > 0 {
		if b, err := json.Marshal(blocks(in.System)); err == nil && string(b) != "null" {
			span.SetAttributes(attribute.String("gen_ai.system_instructions", string(b)))
		}
	}
}

// captureOutput reads a Converse answer (a JSON body of bounded size) and
// puts it back for the client.
func captureOutput(span trace.Span, resp *http.Response) {
	data, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		// The client still sees the failure, after what did arrive.
		resp.Body = io.NopCloser(io.MultiReader(bytes.NewReader(data), iotest.ErrReader(err)))
		return
	}
	resp.Body = io.NopCloser(bytes.NewReader(data))
	var out struct {
		Output struct {
			Message struct {
				Role    string          `json:"role"`
				Content json.RawMessage `json:"content"`
			} `json:"message"`
		} `json:"output"`
		StopReason string `json:"stopReason"`
	}
	if json.Unmarshal(data, &out) != nil || out.Output.Message.Role == "" {
		return
	}
	msgs := []message{{Role: out.Output.Message.Role, Parts: blocks(out.Output.Message.Content), FinishReason: out.StopReason}}
	if b, err := json.Marshal(msgs); err == nil {
		span.SetAttributes(attribute.String("gen_ai.output.messages", string(b)))
	}
}
