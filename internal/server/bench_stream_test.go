package server_test

import (
	"bytes"
	"io"
	"net/http"
	"testing"

	"github.com/quarry-dev/quarry/internal/config"
)

// BenchmarkChatCompletionStream is one streamed chat completion (~25+
// events) through the gateway and the in-process emulator, over keep-alive
// loopback connections, reading the whole SSE body. It is for profiling the
// per-event path (go test -bench ChatCompletionStream -cpuprofile; then
// go tool pprof -focus streamChat).
func BenchmarkChatCompletionStream(b *testing.B) {
	// Lift the per-model limits (1500/min by default), or they are what
	// gets measured.
	g := startGateway(b, quickstart, func(c *config.Config) {
		for i := range c.Models {
			c.Models[i].AWS.RequestsPerMinute, c.Models[i].AWS.MaxConcurrent = 10_000_000, 256
		}
	})
	body := []byte(`{"model":"nova-lite","messages":[{"role":"user","content":"Tell me a story about streaming gateways number 8."}],"max_tokens":200,"stream":true}`)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
	// Check the shape once: a stream of many events, ending in [DONE].
	resp, err := client.Post(g.URL+"/v1/chat/completions", "application/json", bytes.NewReader(body))
	if err != nil {
		b.Fatal(err)
	}
	sse, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !bytes.HasSuffix(sse, []byte("data: [DONE]\n\n")) {
		b.Fatalf("status %d, body %q", resp.StatusCode, sse)
	}
	if n := bytes.Count(sse, []byte("data: ")); n < 25 {
		b.Fatalf("only %d SSE events; want a long stream:\n%s", n, sse)
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			resp, err := client.Post(g.URL+"/v1/chat/completions", "application/json", bytes.NewReader(body))
			if err != nil {
				b.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				b.Fatalf("status %d", resp.StatusCode)
			}
		}
	})
}
