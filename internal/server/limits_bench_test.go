package server_test

import (
	"bytes"
	"io"
	"net/http"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/quarry-dev/quarry/internal/config"
	"github.com/quarry-dev/quarry/internal/limits/redistest"
)

// BenchmarkChatLimits is one non-streaming chat completion at concurrency
// 1 with the limits kept in this process and usage recording off (off),
// with usage recording on (usage; usage+cost_headers adds
// x-quarry-cost-usd), and with both the limits shared through
// Redis (requests, tokens and concurrency per model, one round trip per
// request) and usage recording on (redis+usage): the docs/benchmarks.md row
// compares their p50 and CPU per request. The Redis case needs
// QUARRY_TEST_REDIS_URL.
func BenchmarkChatLimits(b *testing.B) {
	body := []byte(`{"model":"nova-micro","messages":[{"role":"user","content":"Say hello to the benchmark."}],"max_tokens":32}`)
	for _, c := range []struct {
		name                      string
		redis, usage, costHeaders bool
	}{{"off", false, false, false}, {"usage", false, true, false}, {"usage+cost_headers", false, true, true}, {"redis+usage", true, true, false}} {
		b.Run(c.name, func(b *testing.B) {
			redisURL := ""
			if c.redis {
				redisURL = redistest.URL(b)
			}
			g := startGateway(b, quickstart, func(cfg *config.Config) {
				for i := range cfg.Models {
					cfg.Models[i].AWS.RequestsPerMinute, cfg.Models[i].AWS.MaxConcurrent = 10_000_000, 256
					if c.redis {
						cfg.Models[i].AWS.TokensPerMinute = 1_000_000_000
					}
				}
				cfg.Usage.Disabled = !c.usage
				cfg.Server.CostHeaders = c.costHeaders
				if c.redis {
					cfg.Limits.RedisURL = config.Secret(redisURL)
					cfg.Limits.Prefix = "bench:" + time.Now().Format("150405.000000") + ":"
				}
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
			post() // connections and scripts warm
			lat := make([]time.Duration, 0, b.N)
			cpu0 := cpuTime()
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				start := time.Now()
				post()
				lat = append(lat, time.Since(start))
			}
			b.StopTimer()
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
			b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/float64(b.N), "cpu-µs/op")
		})
	}
}

// cpuTime is the process's user and system CPU time so far (the gateway,
// its emulator and the client all run in it: the difference between two
// cases is the limits').
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
