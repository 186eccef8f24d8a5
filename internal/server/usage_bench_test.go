package server_test

import (
	"bytes"
	"io"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/quarry-dev/quarry/internal/config"
)

// BenchmarkUsageRecording is one non-streamed chat completion at
// concurrency 1, with usage recording off, on (priced, counted, batched
// into the SQLite store) and on with cost headers: the difference between
// the sub-benchmarks is what recording adds per request. p50-µs is the
// median latency; ns/op includes the client's side.
//
//	go test -run '^$' -bench UsageRecording -benchtime 2000x -count 5 ./internal/server
func BenchmarkUsageRecording(b *testing.B) {
	body := []byte(`{"model":"nova-micro","messages":[{"role":"user","content":"Say hello to the benchmark."}],"max_tokens":32}`)
	for _, m := range []struct {
		name string
		edit func(*config.Config)
	}{
		{"off", func(c *config.Config) { c.Usage.Disabled = true }},
		{"on", func(c *config.Config) {}},
		{"on+cost_headers", func(c *config.Config) { c.Server.CostHeaders = true }},
	} {
		b.Run(m.name, func(b *testing.B) {
			g := startGateway(b, quickstart, func(c *config.Config) {
				for i := range c.Models {
					c.Models[i].AWS.RequestsPerMinute = 10_000_000
				}
				m.edit(c)
			})
			client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
			post := func() {
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
			post() // warm the connection and the model's client
			lat := make([]time.Duration, 0, b.N)
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				t0 := time.Now()
				post()
				lat = append(lat, time.Since(t0))
			}
			b.StopTimer()
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)/2].Nanoseconds())/1e3, "p50-µs")
		})
	}
}
