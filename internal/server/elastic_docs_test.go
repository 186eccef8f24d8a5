package server_test

import (
	"encoding/json"
	"strings"
	"testing"
)

// The request bodies of Elasticsearch's Amazon Bedrock service
// documentation (docs/reference/inference/service-amazon-bedrock.asciidoc,
// the "Amazon Bedrock service example" section), byte for byte as
// published, placeholder keys included.
const (
	docEmbeddingsPath = "/_inference/text_embedding/amazon_bedrock_embeddings"
	docEmbeddingsBody = `{ "service": "amazonbedrock", "service_settings": { "access_key": "<aws_access_key>", "secret_key": "<aws_secret_key>", "region": "us-east-1", "provider": "amazontitan", "model": "amazon.titan-embed-text-v2:0" } }`
	docCompletionPath = "/_inference/completion/amazon_bedrock_completion"
	docCompletionBody = `{ "service": "amazonbedrock", "service_settings": { "access_key": "<aws_access_key>", "secret_key": "<aws_secret_key>", "region": "us-east-1", "provider": "amazontitan", "model": "amazon.titan-text-premier-v1:0" } }`
)

// TestElasticDocumentedExamples replays the documented create requests
// against the quick start (built-in emulator), then runs inference and a
// stream on the endpoints as Elasticsearch's inference docs show.
func TestElasticDocumentedExamples(t *testing.T) {
	t.Parallel()
	g := startES(t, "", nil)

	st, b := g.do(t, "PUT", docEmbeddingsPath, docEmbeddingsBody)
	wantEmb := `{"inference_id":"amazon_bedrock_embeddings","task_type":"text_embedding","service":"amazonbedrock",` +
		`"service_settings":{"region":"us-east-1","model":"amazon.titan-embed-text-v2:0","provider":"AMAZONTITAN",` +
		`"rate_limit":{"requests_per_minute":240},"dimensions":1024,"similarity":"cosine"},"task_settings":{},` +
		`"chunking_settings":{"strategy":"sentence","max_chunk_size":250,"sentence_overlap":1}}`
	if st != 200 || strings.TrimSpace(string(b)) != wantEmb {
		t.Fatalf("PUT embeddings = %d\n got %s\nwant %s", st, b, wantEmb)
	}
	st, b = g.do(t, "PUT", docCompletionPath, docCompletionBody)
	wantCompl := `{"inference_id":"amazon_bedrock_completion","task_type":"completion","service":"amazonbedrock",` +
		`"service_settings":{"region":"us-east-1","model":"amazon.titan-text-premier-v1:0","provider":"AMAZONTITAN",` +
		`"rate_limit":{"requests_per_minute":240}},"task_settings":{}}`
	if st != 200 || strings.TrimSpace(string(b)) != wantCompl {
		t.Fatalf("PUT completion = %d\n got %s\nwant %s", st, b, wantCompl)
	}

	// POST _inference/text_embedding/<id> {"input": …}
	var emb struct {
		TextEmbedding []struct {
			Embedding []float64 `json:"embedding"`
		} `json:"text_embedding"`
	}
	remarshal(t, g.ok(t, "POST", docEmbeddingsPath, `{"input": ["The sky above the port was the color of television tuned to a dead channel.", "second"]}`), &emb)
	if len(emb.TextEmbedding) != 2 || len(emb.TextEmbedding[0].Embedding) != 1024 || len(emb.TextEmbedding[1].Embedding) != 1024 {
		t.Errorf("text_embedding answer: %+v", emb)
	}
	// Without the task type in the path too.
	remarshal(t, g.ok(t, "POST", "/_inference/amazon_bedrock_embeddings", `{"input": "one"}`), &emb)
	if len(emb.TextEmbedding) != 1 {
		t.Errorf("text_embedding answer: %+v", emb)
	}

	// POST _inference/completion/<id> {"input": …}
	var compl struct {
		Completion []struct {
			Result string `json:"result"`
		} `json:"completion"`
	}
	remarshal(t, g.ok(t, "POST", docCompletionPath+"?timeout=30s", `{"input": "What is Elastic?"}`), &compl)
	if len(compl.Completion) != 1 || compl.Completion[0].Result == "" {
		t.Fatalf("completion answer: %+v", compl)
	}

	// POST _inference/completion/<id>/_stream: event: message, data:
	// {"completion":[{"delta":…}]}, the deltas adding up to the answer.
	resp, events := g.stream(t, docCompletionPath+"/_stream", `{"input": "What is Elastic?"}`)
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		t.Fatalf("stream = %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	if len(events) == 0 {
		t.Fatalf("stream events: %+v", events)
	}
	var text strings.Builder
	for _, ev := range events {
		var d struct {
			Completion []struct {
				Delta *string `json:"delta"`
			} `json:"completion"`
		}
		if ev.Event != "message" || json.Unmarshal([]byte(ev.Data), &d) != nil || len(d.Completion) != 1 || d.Completion[0].Delta == nil {
			t.Fatalf("stream event %+v", ev)
		}
		text.WriteString(*d.Completion[0].Delta)
	}
	if text.String() != compl.Completion[0].Result {
		t.Errorf("streamed text %q differs from the completion %q", text.String(), compl.Completion[0].Result)
	}
}

// TestElasticChatCompletion streams and answers chat_completion in
// OpenAI's chunk shape, with usage in the last chunk and [DONE].
func TestElasticChatCompletion(t *testing.T) {
	t.Parallel()
	g := startES(t, "", nil)
	g.ok(t, "PUT", "/_inference/chat_completion/claude-chat", `{"service":"amazonbedrock","service_settings":{"access_key":"a","secret_key":"s",`+
		`"region":"us-east-1","provider":"anthropic","model":"anthropic.claude-3-haiku-20240307-v1:0"},"task_settings":{"max_new_tokens":200}}`)
	body := `{"messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"Say hello"}],"max_completion_tokens":100}`

	resp, events := g.stream(t, "/_inference/chat_completion/claude-chat/_stream", body)
	if resp.StatusCode != 200 || len(events) < 4 {
		t.Fatalf("stream = %d, %+v", resp.StatusCode, events)
	}
	last := events[len(events)-1]
	if last.Event != "message" || last.Data != "[DONE]" {
		t.Errorf("stream ends with %+v, want data: [DONE]", last)
	}
	var text strings.Builder
	var usage map[string]any
	for i, ev := range events[:len(events)-1] {
		var c struct {
			Object  string `json:"object"`
			Model   string `json:"model"`
			Choices []struct {
				Delta struct {
					Content *string `json:"content"`
					Role    string  `json:"role"`
				} `json:"delta"`
			} `json:"choices"`
			Usage map[string]any `json:"usage"`
		}
		if ev.Event != "message" || json.Unmarshal([]byte(ev.Data), &c) != nil || c.Object != "chat.completion.chunk" {
			t.Fatalf("chunk %d: %+v", i, ev)
		}
		if i == 0 && (len(c.Choices) != 1 || c.Choices[0].Delta.Role != "assistant") {
			t.Errorf("first chunk %s", ev.Data)
		}
		for _, ch := range c.Choices {
			if ch.Delta.Content != nil {
				text.WriteString(*ch.Delta.Content)
			}
		}
		if c.Usage != nil {
			if i != len(events)-2 {
				t.Errorf("usage in chunk %d of %d", i, len(events)-1)
			}
			usage = c.Usage
		}
	}
	if text.Len() == 0 || usage == nil || usage["total_tokens"].(float64) <= 0 {
		t.Errorf("text %q, usage %v", text.String(), usage)
	}

	// The non-streaming form (object chat.completion).
	var cc struct {
		Object  string `json:"object"`
		Choices []struct {
			FinishReason string `json:"finish_reason"`
			Message      struct {
				Role    string `json:"role"`
				Content string `json:"content"`
			} `json:"message"`
		} `json:"choices"`
		Usage map[string]any `json:"usage"`
	}
	remarshal(t, g.ok(t, "POST", "/_inference/chat_completion/claude-chat", body), &cc)
	if cc.Object != "chat.completion" || len(cc.Choices) != 1 || cc.Choices[0].Message.Role != "assistant" ||
		cc.Choices[0].Message.Content == "" || cc.Choices[0].FinishReason == "" || cc.Usage == nil {
		t.Errorf("chat.completion %+v", cc)
	}

	// A chat endpoint does not take {"input": …} on the plain path.
	st, b := g.do(t, "POST", "/_inference/claude-chat", `{"input":"hi"}`)
	if st != 400 || !strings.Contains(string(b), "please use the _inference/chat_completion/claude-chat/_stream URL") {
		t.Errorf("plain inference on a chat endpoint = %d %s", st, b)
	}
}

func remarshal(t testing.TB, in any, out any) {
	t.Helper()
	b, _ := json.Marshal(in)
	if err := json.Unmarshal(b, out); err != nil {
		t.Fatal(err)
	}
}
