package server_test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"testing"

	"github.com/quarry-dev/quarry/internal/config"
)

// BenchmarkChatCompletion is one non-streaming chat completion through the
// gateway and the in-process emulator, over keep-alive loopback connections.
// It is for profiling the gateway's hot path (go test -bench ChatCompletion
// -cpuprofile); the gateway-vs-direct comparison is tools/bench.
func BenchmarkChatCompletion(b *testing.B) {
	benchChat(b, `{"model":"nova-micro","messages":[{"role":"user","content":"Say hello to the benchmark."}],"max_tokens":32}`, nil)
}

// BenchmarkChatCompletionStream is one streamed chat completion (~25+
// events), reading the whole SSE body: the per-event path (then go tool
// pprof -focus streamChat).
func BenchmarkChatCompletionStream(b *testing.B) {
	body := `{"model":"nova-lite","messages":[{"role":"user","content":"Tell me a story about streaming gateways number 8."}],"max_tokens":200,"stream":true}`
	benchChat(b, body, func(sse []byte) {
		if !bytes.HasSuffix(sse, []byte("data: [DONE]\n\n")) {
			b.Fatalf("the stream does not end with [DONE]: %q", sse)
		}
		if n := bytes.Count(sse, []byte("data: ")); n < 25 {
			b.Fatalf("only %d SSE events; want a long stream:\n%s", n, sse)
		}
	})
}

// benchChat posts body to /v1/chat/completions in parallel on a quick-start
// gateway. check, if set, vets one answer's body before timing starts, so
// that a benchmark cannot quietly measure something shorter than it says.
func benchChat(b *testing.B, body string, check func([]byte)) {
	benchPost(b, "/v1/chat/completions", body, check)
}

// benchPost posts body to path in parallel on a quick-start gateway (see
// benchChat).
func benchPost(b *testing.B, path, body string, check func([]byte)) {
	// Lift the per-model limits (1500/min by default), or they are what
	// gets measured.
	g := startGateway(b, quickstart, func(c *config.Config) {
		for i := range c.Models {
			c.Models[i].AWS.RequestsPerMinute, c.Models[i].AWS.MaxConcurrent = 10_000_000, 256
		}
	})
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
	// post returns an error rather than failing: RunParallel's goroutines
	// may not call b.Fatal.
	post := func(w io.Writer) error {
		resp, err := client.Post(g.URL+path, "application/json", bytes.NewReader([]byte(body)))
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		io.Copy(w, resp.Body)
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("status %d", resp.StatusCode)
		}
		return nil
	}
	if check != nil {
		var first bytes.Buffer
		if err := post(&first); err != nil {
			b.Fatal(err)
		}
		check(first.Bytes())
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := post(io.Discard); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkResponses is BenchmarkChatCompletion's request through
// /v1/responses, with store off and on (SQLite in the test's directory),
// and streamed like BenchmarkChatCompletionStream: what the Responses
// translation and the store cost over chat.
func BenchmarkResponses(b *testing.B) {
	for _, store := range []bool{false, true} {
		b.Run(fmt.Sprintf("store=%v", store), func(b *testing.B) {
			body := fmt.Sprintf(`{"model":"nova-micro","input":"Say hello to the benchmark.","max_output_tokens":32,"store":%v}`, store)
			benchPost(b, "/v1/responses", body, func(out []byte) {
				if !bytes.Contains(out, []byte(`"status":"completed"`)) {
					b.Fatalf("not a completed response: %s", out)
				}
			})
		})
		b.Run(fmt.Sprintf("stream/store=%v", store), func(b *testing.B) {
			body := fmt.Sprintf(`{"model":"nova-lite","input":"Tell me a story about streaming gateways number 8.","max_output_tokens":200,"stream":true,"store":%v}`, store)
			benchPost(b, "/v1/responses", body, func(sse []byte) {
				if !bytes.Contains(sse, []byte("event: response.completed")) {
					b.Fatalf("the stream does not complete: %q", sse)
				}
				if n := bytes.Count(sse, []byte("event: response.output_text.delta")); n < 20 {
					b.Fatalf("only %d text deltas; want a long stream", n)
				}
			})
		})
	}
}
