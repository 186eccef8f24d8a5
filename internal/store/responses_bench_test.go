package store

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// BenchmarkResponsesPut is the store's share of a stored /v1/responses
// request: records of a typical small exchange (2 KB) put one after
// another, each committed on its own (batch=1, FlushInterval 0) or queued
// and committed by the writer in batches of 8 or 32 (a gateway doing 800
// or 3,200 stored responses a second, at the default 10 ms interval).
// cpu-ns/record is the process's CPU time (user and system: most of a
// commit is the WAL's write system calls) per record, the figure the
// batching is for; wall time says little when Puts only queue.
func BenchmarkResponsesPut(b *testing.B) {
	for _, batch := range []int{1, 8, 32} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			var flush time.Duration
			if batch > 1 {
				flush = time.Hour // only the explicit flushes below
			}
			ctx := context.Background()
			st, err := OpenResponses(ctx, Config{Path: filepath.Join(b.TempDir(), "q.db")}, ResponsesConfig{FlushInterval: flush}, nil)
			if err != nil {
				b.Fatal(err)
			}
			defer st.Close()
			data := []byte(strings.Repeat("x", 2048))
			now := time.Now()
			b.ReportAllocs()
			c0 := processCPU()
			for i := 0; b.Loop(); i++ {
				if err := st.Put(ctx, &Response{ID: fmt.Sprintf("resp_%d", i), Owner: "bench-owner-hash", CreatedAt: now, Data: data}); err != nil {
					b.Fatal(err)
				}
				if i%batch == batch-1 {
					if err := st.Flush(ctx); err != nil {
						b.Fatal(err)
					}
				}
			}
			if err := st.Flush(ctx); err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(processCPU()-c0)/float64(b.N), "cpu-ns/record")
		})
	}
}

func processCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
