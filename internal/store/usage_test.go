package store

import (
	"context"
	"testing"
	"time"
)

func TestUsageStore(t *testing.T) {
	for name, fresh := range map[string]fresher{"sqlite": sqliteFresh, "postgres": postgresFresh} {
		t.Run(name, func(t *testing.T) {
			_, base := fresh(t)
			ctx := context.Background()
			st, err := OpenUsage(ctx, base)
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			h0 := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
			h1 := h0.Add(time.Hour)
			// Two replicas' batches for the same hour, key and model add up.
			for _, batch := range [][]UsageRow{
				{{Hour: h0.Add(5 * time.Minute), KeyID: "config:aa", Model: "nova", Requests: 2, InputTokens: 10, OutputTokens: 5, CacheReadTokens: 3, CostNanos: 1500},
					{Hour: h0, KeyID: "config:bb", Model: "nova", Requests: 1, InputTokens: 7, CostNanos: 700}},
				{{Hour: h0, KeyID: "config:aa", KeyName: "team-a", Model: "nova", Requests: 1, InputTokens: 1, OutputTokens: 1, CacheWriteTokens: 4, ReasoningTokens: 2, CostNanos: 500},
					{Hour: h1, KeyID: "config:aa", Model: "canvas", Requests: 1, Images: 2, UnpricedRequests: 1},
					{Hour: h1, KeyID: "config:aa", Model: "rerank", Requests: 1, SearchUnits: 1, CostNanos: 2_000_000}},
			} {
				if err := st.Add(ctx, batch); err != nil {
					t.Fatal(err)
				}
			}
			all, err := st.Query(ctx, UsageFilter{})
			if err != nil {
				t.Fatal(err)
			}
			if len(all) != 4 {
				t.Fatalf("%d rows: %+v", len(all), all)
			}
			want := UsageRow{Hour: h0, KeyID: "config:aa", KeyName: "team-a", Model: "nova", Requests: 3, InputTokens: 11, OutputTokens: 6,
				CacheReadTokens: 3, CacheWriteTokens: 4, ReasoningTokens: 2, CostNanos: 2000}
			if all[0] != want {
				t.Errorf("merged row = %+v\nwant %+v", all[0], want)
			}
			for _, c := range []struct {
				name string
				f    UsageFilter
				n    int
			}{
				{"by key", UsageFilter{KeyID: "config:bb"}, 1},
				{"by model", UsageFilter{Model: "nova"}, 2},
				{"from mid-hour keeps the hour", UsageFilter{From: h1.Add(30 * time.Minute)}, 2},
				{"to is exclusive", UsageFilter{To: h1}, 2},
				{"nothing", UsageFilter{KeyID: "config:aa", From: h1, Model: "nova"}, 0},
			} {
				rows, err := st.Query(ctx, c.f)
				if err != nil || len(rows) != c.n {
					t.Errorf("%s: %d rows, %v; want %d", c.name, len(rows), err, c.n)
				}
			}
			for _, c := range []struct {
				key   string
				since time.Time
				usd   float64
			}{
				{"config:aa", h0, 0.002002}, {"config:aa", h1.Add(time.Minute), 0.002}, {"config:bb", h0, 0.0000007}, {"nobody", h0, 0},
			} {
				if got, err := st.Spend(ctx, c.key, c.since); err != nil || got != c.usd {
					t.Errorf("Spend(%s, %v) = %v, %v; want %v", c.key, c.since, got, err, c.usd)
				}
			}
		})
	}
}
