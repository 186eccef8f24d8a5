package gcpace

import (
	"runtime"
	"runtime/debug"
	"runtime/metrics"
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

func TestRelease(t *testing.T) {
	const mib = 1 << 20
	for _, tt := range []struct {
		free, inUse, goal uint64
		want              bool
	}{
		{2 * mib, 25 * mib, 22 * mib, false},  // holding streams, little free
		{13 * mib, 25 * mib, 22 * mib, true},  // after a burst: the goal is below the heap in use
		{13 * mib, 10 * mib, 30 * mib, false}, // request traffic: the heap grows into it
		{29 * mib, 10 * mib, 30 * mib, true},  // more than the goal can use, and 8 MiB
		{28 * mib, 10 * mib, 30 * mib, false}, // exactly room + ReleaseAbove
	} {
		if got := Release(tt.free, tt.inUse, tt.goal); got != tt.want {
			t.Errorf("Release(free %d MiB, in use %d MiB, goal %d MiB) = %v, want %v", tt.free/mib, tt.inUse/mib, tt.goal/mib, got, tt.want)
		}
	}
}

// TestPacerReturnsABurstsHeap: the heap a burst grew and left free goes
// back to the system once it has stayed free for a tick.
func TestPacerReturnsABurstsHeap(t *testing.T) {
	old := debug.SetGCPercent(100)
	defer debug.SetGCPercent(old)
	p := Start()
	defer p.Stop()
	burst := make([][]byte, 64)
	for i := range burst {
		burst[i] = make([]byte, 1<<20)
	}
	runtime.KeepAlive(burst)
	burst = nil
	runtime.GC() // 64 MiB free now, far more than the goal can use
	free := func() uint64 {
		s := []metrics.Sample{{Name: "/memory/classes/heap/free:bytes"}}
		metrics.Read(s)
		return s[0].Value.Uint64()
	}
	if f := free(); f < 32<<20 {
		t.Fatalf("only %d MiB free after the burst: the runtime returned it before the pacer could", f>>20)
	}
	p.tick()
	if n := p.releases.Load(); n != 0 {
		t.Fatalf("%d releases at the first tick after the burst, want 0 (it may not be over)", n)
	}
	p.tick()
	if n := p.releases.Load(); n != 1 {
		t.Fatalf("%d releases at the second tick after the burst, want 1", n)
	}
	if f := free(); f >= ReleaseAbove {
		t.Errorf("%d MiB still free after the release", f>>20)
	}
	p.tick() // the free heap is gone: nothing to return
	if n := p.releases.Load(); n != 1 {
		t.Errorf("%d releases after the heap was returned, want 1", n)
	}
}
