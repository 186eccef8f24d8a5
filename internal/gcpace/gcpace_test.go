package gcpace

import (
	"runtime"
	"runtime/debug"
	"testing"
	"time"
)

func TestPercent(t *testing.T) {
	for _, tt := range []struct {
		live uint64
		want int
	}{
		{0, MaxPercent},
		{1 << 20, MaxPercent}, // request traffic: a few MB live
		{5 << 20, MaxPercent}, // Headroom/4: still 400
		{10 << 20, 200},       // goal = live + 20 MiB
		{20 << 20, 100},       // goal = live + 20 MiB
		{27 << 20, 74},        // 1,000 open streams: goal = live + 20 MiB
		{1 << 30, MinPercent}, // never below MinPercent
	} {
		if got := Percent(tt.live); got != tt.want {
			t.Errorf("Percent(%d MiB) = %d, want %d", tt.live>>20, got, tt.want)
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
