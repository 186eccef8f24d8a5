package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"testing"

	"github.com/quarry-dev/quarry/bedrock"
	"github.com/quarry-dev/quarry/emulator"
)

// BenchmarkEmbedLines is quarry embed's throughput against the emulator at
// the default concurrency (8), with Titan Text Embeddings v2 (one line per
// call) and Cohere Embed (96 per call), reported as lines/s. The client's
// own requests-per-minute cap is off: it measures the pipeline, not the
// quota.
func BenchmarkEmbedLines(b *testing.B) {
	setTestCredentials(b)
	emu, err := emulator.NewServer(emulator.Config{})
	if err != nil {
		b.Fatal(err)
	}
	defer emu.Close()
	records := make([]embedRecord, 500)
	for i := range records {
		records[i] = embedRecord{id: json.RawMessage(fmt.Sprint(i + 1)), text: fmt.Sprintf("line %d of the benchmark input, a few words long", i)}
	}
	for _, model := range []string{"amazon.titan-embed-text-v2:0", "cohere.embed-english-v3"} {
		b.Run(model, func(b *testing.B) {
			ctx := context.Background()
			c, err := bedrock.New(ctx, bedrock.Config{Endpoint: emu.URL, RequestsPerMinute: -1})
			if err != nil {
				b.Fatal(err)
			}
			plan, err := newEmbedPlan(&embedOptions{model: model, concurrency: 8})
			if err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := embedAll(ctx, c, plan, records, 8, io.Discard, func(int) {}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*len(records))/b.Elapsed().Seconds(), "lines/s")
		})
	}
}
