package server_test

import (
	"bytes"
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
	// Lift the per-model limits (1500/min by default), or they are what
	// gets measured.
	g := startGateway(b, quickstart, func(c *config.Config) {
		for i := range c.Models {
			c.Models[i].AWS.RequestsPerMinute, c.Models[i].AWS.MaxConcurrent = 10_000_000, 256
		}
	})
	body := []byte(`{"model":"nova-micro","messages":[{"role":"user","content":"Say hello to the benchmark."}],"max_tokens":32}`)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
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
