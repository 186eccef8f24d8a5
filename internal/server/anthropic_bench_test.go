package server_test

import (
	"bytes"
	"testing"
)

// BenchmarkMessages is BenchmarkChatCompletion's request on /v1/messages:
// the same model, prompt and limit through Anthropic's Messages API (the
// Converse path), so the two compare directly.
func BenchmarkMessages(b *testing.B) {
	benchPost(b, "/v1/messages", `{"model":"nova-micro","messages":[{"role":"user","content":"Say hello to the benchmark."}],"max_tokens":32}`, nil)
}

// BenchmarkMessagesStream is BenchmarkChatCompletionStream's request on
// /v1/messages, reading the whole SSE body.
func BenchmarkMessagesStream(b *testing.B) {
	body := `{"model":"nova-lite","messages":[{"role":"user","content":"Tell me a story about streaming gateways number 8."}],"max_tokens":200,"stream":true}`
	benchPost(b, "/v1/messages", body, checkMessagesStream(b))
}

// BenchmarkMessagesClaude and BenchmarkMessagesClaudeStream are the native
// Claude path (InvokeModel, the client's body passed on).
func BenchmarkMessagesClaude(b *testing.B) {
	benchPost(b, "/v1/messages", `{"model":"claude-sonnet","messages":[{"role":"user","content":"Say hello to the benchmark."}],"max_tokens":32}`, nil)
}

func BenchmarkMessagesClaudeStream(b *testing.B) {
	body := `{"model":"claude-sonnet","messages":[{"role":"user","content":"Tell me a story about streaming gateways number 8."}],"max_tokens":200,"stream":true}`
	benchPost(b, "/v1/messages", body, checkMessagesStream(b))
}

func checkMessagesStream(b *testing.B) func([]byte) {
	return func(sse []byte) {
		if !bytes.HasSuffix(sse, []byte("event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n")) {
			b.Fatalf("the stream does not end with message_stop: %q", sse)
		}
		if n := bytes.Count(sse, []byte("data: ")); n < 25 {
			b.Fatalf("only %d SSE events; want a long stream:\n%s", n, sse)
		}
	}
}
