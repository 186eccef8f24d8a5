package gcpace

import (
	"runtime"
	"runtime/debug"
	"testing"
	"time"
)

func TestPercent(t *testing.T) {
	const busy = 500 << 20 // bytes/s: request traffic
	for _, tt := range []struct {
		live uint64
		rate float64
		want int
	}{
		{0, busy, MaxPercent},
		{1 << 20, busy, MaxPercent},      // request traffic: a few MB live
		{5 << 20, busy, MaxPercent},      // MaxHeadroom/4: still 400
		{10 << 20, busy, 200},            // goal = live + 20 MiB
		{20 << 20, busy, 100},            // goal = live + 20 MiB
		{1 << 20, 0, MaxPercent},         // idle, small heap: MinHeadroom is 400%
		{8 << 20, 0, 50},                 // idle: goal = live + MinHeadroom
		{24 << 20, 3 << 20, 16},          // 1,000 open streams: live + 4 MiB
		{24 << 20, 12 << 20, 50},         // a second's allocation as headroom
		{24 << 20, busy, 83},             // streams and requests: MaxHeadroom
		{1 << 30, busy, MinPercent},      // never below MinPercent
		{200 << 20, 1 << 20, MinPercent}, // 5,000 streams, little traffic
	} {
		if got := Percent(tt.live, tt.rate); got != tt.want {
			t.Errorf("Percent(%d MiB, %.0f MiB/s) = %d, want %d", tt.live>>20, tt.rate/(1<<20), got, tt.want)
		}
	}
}

// TestPacerFollowsLiveHeap: after collections with a large live heap GOGC
// drops, and it comes back to MaxPercent once the heap is freed.
func TestPacerFollowsLiveHeap(t *testing.T) {
	old := debug.SetGCPercent(100)
	defer debug.SetGCPercent(old)
	p := Start()
	defer p.Stop()
	gcUntil := func(want func(int) bool) int {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			before := p.cycles.Load()
			runtime.GC()
			for p.cycles.Load() == before && time.Now().Before(deadline) {
				runtime.Gosched()
			}
			got := int(p.current.Load())
			if want(got) || time.Now().After(deadline) {
				return got
			}
		}
	}
	live := make([][]byte, 64)
	for i := range live {
		live[i] = make([]byte, 1<<20) // 64 MiB live
	}
	if got := gcUntil(func(g int) bool { return g < 100 }); got >= 100 {
		t.Fatalf("GOGC %d with 64 MiB live, want < 100", got)
	}
	runtime.KeepAlive(live)
	live = nil
	if got := gcUntil(func(g int) bool { return g == MaxPercent }); got != MaxPercent {
		t.Fatalf("GOGC %d after the heap was freed, want %d", got, MaxPercent)
	}
}
