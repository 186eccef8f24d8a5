package server_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/quarry-dev/quarry/internal/config"
	"github.com/quarry-dev/quarry/internal/server"
)

// citationNote is the gateway's document_citation annotation.
type citationNote struct {
	Type             string `json:"type"`
	DocumentCitation *struct {
		Title         string `json:"title"`
		DocumentIndex int    `json:"document_index"`
		Location      struct {
			Type       string `json:"type"`
			Start, End int
		} `json:"location"`
		Quote string `json:"quote"`
	} `json:"document_citation"`
}

const citedDoc = "The warranty lasts two years from the date of purchase."

// TestChatE2ECitations: on the quick start, with the official OpenAI Go SDK,
// a file part with citations enabled (or a model with the citations param)
// reaches Bedrock as a document with citations enabled, and the cited
// answer comes back with its text and document_citation annotations, in
// a completion and in a stream.
func TestChatE2ECitations(t *testing.T) {
	t.Parallel()
	rec := &recorder{}
	g := startChatGateway(t, quickstart, func(c *config.Config) {
		for i := range c.Models {
			if c.Models[i].Name == "nova-micro" {
				c.Models[i].Citations = true
			}
		}
	}, server.Options{UpstreamTransport: rec})
	client := chatClient(g)
	params := func(model string) openai.ChatCompletionNewParams {
		return openai.ChatCompletionNewParams{
			Model: model,
			Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage([]openai.ChatCompletionContentPartUnionParam{
				openai.TextContentPart("How long is the warranty?"),
				openai.FileContentPart(openai.ChatCompletionContentPartFileFileParam{
					FileData: openai.String("data:text/plain;base64," + base64.StdEncoding.EncodeToString([]byte(citedDoc))),
					Filename: openai.String("warranty.txt"),
				}),
			})},
		}
	}
	checkNotes := func(t *testing.T, raw []json.RawMessage) {
		t.Helper()
		if len(raw) != 1 {
			t.Fatalf("%d annotations, want 1: %s", len(raw), raw)
		}
		var n citationNote
		if err := json.Unmarshal(raw[0], &n); err != nil {
			t.Fatal(err)
		}
		d := n.DocumentCitation
		if n.Type != "document_citation" || d == nil || d.Title != "warranty" || d.DocumentIndex != 0 ||
			d.Quote != citedDoc || d.Location.Type != "char" || d.Location.Start != 0 || d.Location.End != len(citedDoc) {
			t.Errorf("annotation = %s", raw[0])
		}
	}
	checkBody := func(t *testing.T, modelID string) {
		t.Helper()
		_, body, _ := rec.last(t, modelID)
		content := body["messages"].([]any)[0].(map[string]any)["content"].([]any)
		doc, _ := content[1].(map[string]any)["document"].(map[string]any)
		if c, _ := json.Marshal(doc["citations"]); string(c) != `{"enabled":true}` {
			t.Errorf("document sent to Bedrock: %v; want citations {\"enabled\":true}", doc)
		}
	}

	t.Run("file part", func(t *testing.T) {
		resp, err := client.Chat.Completions.New(context.Background(), params("claude-sonnet"),
			option.WithJSONSet("messages.0.content.1.file.citations", map[string]any{"enabled": true}))
		if err != nil {
			t.Fatal(err)
		}
		checkBody(t, "us.anthropic.claude-sonnet-4-20250514-v1:0")
		msg := resp.Choices[0].Message
		if msg.Content == "" {
			t.Error("empty content")
		}
		var raw struct {
			Annotations []json.RawMessage `json:"annotations"`
		}
		if err := json.Unmarshal([]byte(msg.RawJSON()), &raw); err != nil {
			t.Fatal(err)
		}
		checkNotes(t, raw.Annotations)
	})

	t.Run("without citations", func(t *testing.T) {
		resp, err := client.Chat.Completions.New(context.Background(), params("claude-sonnet"))
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(resp.Choices[0].Message.RawJSON(), "annotations") {
			t.Errorf("annotations without citations: %s", resp.Choices[0].Message.RawJSON())
		}
		_, body, _ := rec.last(t, "us.anthropic.claude-sonnet-4-20250514-v1:0")
		if strings.Contains(mustJSON(t, body), "citations") {
			t.Errorf("citations sent though not asked for: %s", mustJSON(t, body))
		}
	})

	t.Run("model param, stream", func(t *testing.T) {
		stream := client.Chat.Completions.NewStreaming(context.Background(), params("nova-micro"))
		var text strings.Builder
		var notes []json.RawMessage
		for stream.Next() {
			ch := stream.Current()
			if len(ch.Choices) == 0 {
				continue
			}
			text.WriteString(ch.Choices[0].Delta.Content)
			var d struct {
				Annotations []json.RawMessage `json:"annotations"`
			}
			if err := json.Unmarshal([]byte(ch.Choices[0].Delta.RawJSON()), &d); err != nil {
				t.Fatal(err)
			}
			if len(d.Annotations) > 0 && ch.Choices[0].Delta.Content != "" {
				t.Errorf("annotations and text in one delta: %s", ch.Choices[0].Delta.RawJSON())
			}
			notes = append(notes, d.Annotations...)
		}
		if err := stream.Err(); err != nil {
			t.Fatal(err)
		}
		checkBody(t, "amazon.nova-micro-v1:0")
		if text.Len() == 0 {
			t.Error("no streamed text")
		}
		checkNotes(t, notes)
	})
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
