package bedrock

import (
	"encoding/json"
	"reflect"
	"testing"
)

// TestStreamFromResponse: the replayed events collect back into the same
// response, for every block type a stream can carry; Close and Buffered
// behave as on a network stream.
func TestStreamFromResponse(t *testing.T) {
	resp := &ConverseResponse{
		Output: ConverseOutput{Message: &Message{Role: RoleAssistant, Content: []ContentBlock{
			{ReasoningContent: &ReasoningContentBlock{RedactedContent: []byte("xx")}},
			{Text: ""},
			{CitationsContent: &CitationsContentBlock{Content: []CitationGeneratedContent{{Text: "cited"}}, Citations: []Citation{{Title: "doc"}}}},
			{ToolUse: &ToolUseBlock{ToolUseID: "s1", Name: "web_search", Input: json.RawMessage(`{"q":"x"}`), Type: "server_tool_use"}},
			{ToolResult: &ToolResultBlock{ToolUseID: "s1", Type: "web_search_result", Status: "success", Content: []ToolResultContentBlock{{Text: "found"}, {JSON: json.RawMessage(`{"a":1}`)}}}},
			{Image: &ImageBlock{Format: "png", Source: MediaSource{Bytes: []byte{1, 2}}}},
		}}},
		StopReason:  StopReasonEndTurn,
		Usage:       TokenUsage{InputTokens: 1, OutputTokens: 2, TotalTokens: 3},
		Metrics:     ConverseMetrics{LatencyMs: 9},
		Trace:       &ConverseTrace{Guardrail: json.RawMessage(`{"x":1}`)},
		ServiceTier: &ServiceTier{Type: "priority"},
	}
	resp.RequestID = "r1"
	got, err := StreamFromResponse(resp).Collect()
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, resp) {
		g, _ := json.Marshal(got)
		w, _ := json.Marshal(resp)
		t.Errorf("Collect() =\n%s\nwant\n%s", g, w)
	}

	s := StreamFromResponse(resp)
	if !s.Buffered() || !s.Next() || s.Current().MessageStart == nil || s.RequestID() != "r1" {
		t.Fatal("first event is not messageStart")
	}
	s.Close()
	if s.Buffered() || s.Next() || s.Err() != nil {
		t.Error("Next after Close")
	}

	s = StreamFromResponse(nil)
	if s.Next() || s.Err() != nil || s.Close() != nil {
		t.Error("nil response: not an empty stream")
	}
}
