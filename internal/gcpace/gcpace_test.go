package gcpace

import (
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
	"testing"
	"time"
)

func TestHeadroom(t *testing.T) {
	const busy = 500 << 20 // bytes/s: request traffic
	for _, tt := range []struct {
		rate    float64
		growing bool
		want    uint64
	}{
		{busy, false, MaxHeadroom},      // request traffic
		{0, false, MinHeadroom},         // idle
		{1 << 20, false, MinHeadroom},   // holding a few streams: an event now and then
		{3 << 20, false, 3 << 20},       // more streams: a second's allocation
		{12 << 20, false, 12 << 20},     // a second's allocation
		{busy, true, BurstHeadroom},     // streams opening in a burst
		{12 << 20, true, BurstHeadroom}, // growing, and a second's allocation is more
		{6 << 20, true, 6 << 20},        // growing slowly: a second's allocation
		{0, true, MinHeadroom},          // never below MinHeadroom
	} {
		if got := Headroom(tt.rate, tt.growing); got != tt.want {
			t.Errorf("Headroom(%.0f MiB/s, growing %v) = %d MiB, want %d MiB", tt.rate/(1<<20), tt.growing, got>>20, tt.want>>20)
		}
	}
}

func TestGrowing(t *testing.T) {
	const mib = 1 << 20
	for _, tt := range []struct {
		prev, live uint64
		want       bool
	}{
		{0, 3 * mib, true},              // the first collection
		{4 * mib, 9 * mib, true},        // streams opening
		{16 * mib, 17 * mib, false},     // exactly 1 MiB more: not over it
		{24 * mib, 27 * mib, false},     // over 1 MiB but not over an eighth
		{24 * mib, 27*mib + 1, true},    // over both
		{4 * mib, 4*mib + 1<<19, false}, // request traffic: half a MiB of requests in flight
		{18 * mib, 4 * mib, false},      // streams ended
	} {
		if got := Growing(tt.prev, tt.live); got != tt.want {
			t.Errorf("Growing(%.1f MiB, %.1f MiB) = %v, want %v", float64(tt.prev)/mib, float64(tt.live)/mib, got, tt.want)
		}
	}
}

func TestPercent(t *testing.T) {
	const mib = 1 << 20
	for _, tt := range []struct {
		base, headroom uint64
		want           int
	}{
		{0, MaxHeadroom, MaxPercent},
		{1 * mib, MaxHeadroom, MaxPercent},    // request traffic: a few MB live
		{5 * mib, MaxHeadroom, MaxPercent},    // MaxHeadroom/4: still 400
		{10 * mib, MaxHeadroom, 200},          // goal = live + 20 MiB
		{20 * mib, MaxHeadroom, 100},          // goal = live + 20 MiB
		{1 * mib, MinHeadroom, 200},           // idle, small heap: goal = live + MinHeadroom
		{8 * mib, MinHeadroom, 25},            // idle
		{18 * mib, MinHeadroom, 11},           // 1,000 open streams, 14 MiB live and 4 MiB of stacks
		{24 * mib, 12 * mib, 50},              // a second's allocation as headroom
		{1024 * mib, MaxHeadroom, MinPercent}, // never below MinPercent
		{200 * mib, MinHeadroom, MinPercent},  // 5,000 streams, little traffic
	} {
		if got := Percent(tt.base, tt.headroom); got != tt.want {
			t.Errorf("Percent(%d MiB, %d MiB) = %d, want %d", tt.base/mib, tt.headroom/mib, got, tt.want)
		}
	}
}

// collect runs a collection and waits for the adjustment that saw it:
// each must have its own, or two collections could share one and the
// pacer compare a live heap with the wrong one.
func collect(t *testing.T, p *Pacer) {
	t.Helper()
	runtime.GC()
	s := []metrics.Sample{{Name: "/gc/cycles/total:gc-cycles"}}
	metrics.Read(s)
	for deadline := time.Now().Add(10 * time.Second); ; runtime.Gosched() {
		p.mu.Lock()
		seen := p.cycles0
		p.mu.Unlock()
		if seen >= s[0].Value.Uint64() {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("no adjustment after a collection")
		}
	}
}

// TestPacerSeesABurst: a collection that finds the live heap grown by
// streams opening caps the headroom; one that finds it as it was does not.
func TestPacerSeesABurst(t *testing.T) {
	old := debug.SetGCPercent(100)
	defer debug.SetGCPercent(old)
	p := Start()
	defer p.Stop()
	collect(t, p)
	bursts := p.bursts.Load()
	live := make([][]byte, 32)
	for i := range live {
		live[i] = make([]byte, 1<<20)
	}
	collect(t, p)
	if p.bursts.Load() == bursts {
		t.Fatal("32 MiB more live heap was not seen as a burst")
	}
	collect(t, p)
	collect(t, p)
	p.mu.Lock()
	growing := p.growing
	p.mu.Unlock()
	if growing {
		t.Error("the heap held still for two collections and is still seen as growing")
	}
	runtime.KeepAlive(live)
}

// TestPacerCountsStacks: the heap goal is the live heap plus the headroom
// meant, even when goroutine stacks are as big as the live heap (the
// runtime multiplies GOGC by both).
func TestPacerCountsStacks(t *testing.T) {
	old := debug.SetGCPercent(100)
	defer debug.SetGCPercent(old)
	// 8 MiB live and 8 MiB of stack: a base of 16 MiB, whose MinPercent
	// (1.6 MiB) is under MinHeadroom, so the headroom meant is not
	// clamped; a GOGC taken on the live heap alone would double it.
	live := make([][]byte, 8)
	for i := range live {
		live[i] = make([]byte, 1<<20)
	}
	// 128 goroutines each waiting 64 KiB deep: 8 MiB of stack to scan.
	release := make(chan struct{})
	var ready sync.WaitGroup
	for range 128 {
		ready.Add(1)
		go deep(64, &ready, release)
	}
	ready.Wait()
	defer close(release)
	p := Start()
	defer p.Stop()
	s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}, {Name: "/gc/scan/stack:bytes"}, {Name: "/gc/heap/goal:bytes"}}
	deadline := time.Now().Add(10 * time.Second)
	for {
		collect(t, p)
		metrics.Read(s)
		liveB, stack, goal := s[0].Value.Uint64(), s[1].Value.Uint64(), s[2].Value.Uint64()
		want := p.headroom.Load()
		if stack < 6<<20 {
			t.Fatalf("only %d MiB of stack scanned, want 8", stack>>20)
		}
		// GOGC is whole percent: the goal may fall short by 1% of the base.
		got, slack := goal-liveB, (liveB+stack)/100+64<<10
		if got+slack >= want && got <= want+64<<10 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("goal %d MiB over a live heap of %d MiB and %d MiB of stack: %.1f MiB of headroom, want %.1f (GOGC %d)",
				goal>>20, liveB>>20, stack>>20, float64(got)/(1<<20), float64(want)/(1<<20), p.current.Load())
		}
	}
	runtime.KeepAlive(live)
}

// deep recurses n KiB deep and waits there.
func deep(n int, ready *sync.WaitGroup, release chan struct{}) {
	var pad [1024]byte
	if n > 0 {
		deep(n-1, ready, release)
	} else {
		ready.Done()
		<-release
	}
	runtime.KeepAlive(&pad)
}

// TestPacerFollowsLiveHeap: after collections with a large live heap GOGC
// drops, and it comes back up once the heap is freed.
func TestPacerFollowsLiveHeap(t *testing.T) {
	old := debug.SetGCPercent(100)
	defer debug.SetGCPercent(old)
	p := Start()
	defer p.Stop()
	gcUntil := func(want func(int) bool) int {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			collect(t, p)
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
	// The test's own live heap, stacks and globals are under 2 MiB:
	// MinHeadroom over them is at least 100%.
	if got := gcUntil(func(g int) bool { return g >= 100 }); got < 100 {
		t.Fatalf("GOGC %d after the heap was freed, want at least 100", got)
	}
}

func TestRelease(t *testing.T) {
	const mib = 1 << 20
	for _, tt := range []struct {
		free, inUse, goal uint64
		want              bool
	}{
		{2 * mib, 25 * mib, 22 * mib, false},  // holding streams, little free
		{5 * mib, 25 * mib, 22 * mib, true},   // what 1,000 streams opened at once left
		{13 * mib, 25 * mib, 22 * mib, true},  // after a burst: the goal is below the heap in use
		{13 * mib, 10 * mib, 30 * mib, false}, // request traffic: the heap grows into it
		{25 * mib, 10 * mib, 30 * mib, true},  // more than the goal can use, and 4 MiB
		{24 * mib, 10 * mib, 30 * mib, false}, // exactly room + ReleaseAbove
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
	p.window()
	if n := p.releases.Load(); n != 0 {
		t.Fatalf("%d releases at the first tick after the burst, want 0 (it may not be over)", n)
	}
	p.window()
	if n := p.releases.Load(); n != 1 {
		t.Fatalf("%d releases at the second tick after the burst, want 1", n)
	}
	if f := free(); f >= ReleaseAbove {
		t.Errorf("%d MiB still free after the release", f>>20)
	}
	p.window() // the free heap is gone: nothing to return
	if n := p.releases.Load(); n != 1 {
		t.Errorf("%d releases after the heap was returned, want 1", n)
	}
}

// TestPacerSeesStreamsOpen: goroutines rising by BurstGoroutines between
// two counts are streams opening, seen before any collection, and cap
// the headroom; fewer are not, and the burst is over at the next count
// that finds no more.
func TestPacerSeesStreamsOpen(t *testing.T) {
	old := debug.SetGCPercent(100)
	defer debug.SetGCPercent(old)
	p := Start()
	p.Stop() // the test counts, not the timer
	p.mu.Lock()
	n := p.counted
	p.mu.Unlock()
	opening := func() bool {
		p.mu.Lock()
		defer p.mu.Unlock()
		return p.opening
	}
	n += BurstGoroutines / 2
	if opened, _ := p.count(n); opened || opening() {
		t.Fatalf("%d more goroutines were seen as streams opening", BurstGoroutines/2)
	}
	n += BurstGoroutines + 64
	if opened, _ := p.count(n); !opened || !opening() {
		t.Fatalf("%d more goroutines were not seen as streams opening", BurstGoroutines+64)
	}
	// At a burst's allocation rate (here: all the test process ever
	// allocated, as if in the last millisecond) the headroom is
	// BurstHeadroom while streams open, and MaxHeadroom once not.
	headroomAtRate := func() uint64 {
		p.mu.Lock()
		p.growing, p.allocs, p.at = false, 0, time.Now().Add(-time.Millisecond)
		p.mu.Unlock()
		p.adjust(false)
		return p.headroom.Load()
	}
	if h := headroomAtRate(); h != BurstHeadroom {
		t.Errorf("headroom %d MiB while streams open, want %d", h>>20, BurstHeadroom>>20)
	}
	if opened, _ := p.count(n); opened || opening() {
		t.Error("the burst is not over at a count that found no more goroutines")
	}
	if h := headroomAtRate(); h != MaxHeadroom {
		t.Errorf("headroom %d MiB at the same rate once the burst is over, want %d", h>>20, MaxHeadroom>>20)
	}
	// Every Window/Watch-th count is the Window's adjustment.
	var full int
	for range 2 * int(Window/Watch) {
		if _, f := p.count(n); f {
			full++
		}
	}
	if full != 2 {
		t.Errorf("%d Window adjustments in %d counts, want 2", full, 2*int(Window/Watch))
	}
}

// TestPacerCountsGoroutines: the pacer's own timer counts the goroutines.
func TestPacerCountsGoroutines(t *testing.T) {
	p := Start()
	defer p.Stop()
	opens := p.opens.Load()
	release := make(chan struct{})
	defer close(release)
	// Three times the rise: if a count falls while they start, the
	// goroutines after it are still a burst.
	for range 3 * BurstGoroutines {
		go func() { <-release }()
	}
	for deadline := time.Now().Add(10 * time.Second); p.opens.Load() == opens; time.Sleep(Watch / 10) {
		if time.Now().After(deadline) {
			t.Fatalf("%d new goroutines were not counted as streams opening", 3*BurstGoroutines)
		}
	}
}
