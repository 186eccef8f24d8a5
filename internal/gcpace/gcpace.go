// Package gcpace sets the gateway's garbage-collector target (GOGC) from its
// live heap and allocation rate after every collection.
//
// GOGC sets the headroom (heap goal minus live heap) as a share of the live
// heap (and of the stacks and globals: see below). A collection costs
// about the live heap in marking, and one comes every headroom's worth of
// allocation, so the collector's CPU goes with allocation rate × live ÷
// headroom while its memory is the headroom itself.
// The two workloads a gateway sees want opposite settings:
//
//   - Request traffic has a live heap of a few MB and allocates tens of KB
//     per request, hundreds of MB a second: GOGC=400 (MaxHeadroom, 20 MiB)
//     saves two thirds of the collector's CPU against GOGC=100.
//   - Many long open streams keep ~20 KB live each and allocate little (an
//     event now and then): at 1,000 streams a fixed 20 MiB headroom is as
//     big as the live heap and buys nothing, because collections are rare.
//
// So the headroom is what the gateway allocates in Window, between
// MinHeadroom and MaxHeadroom: a busy gateway keeps the 20 MiB, a gateway
// holding streams collects about once per Window with a few MB to spare.
// The pacer adjusts after every collection and once per Window: a gateway
// that opened its streams in a burst set a high goal then, and allocates
// too slowly afterwards to reach it and collect again.
//
// While the live heap grows fast, or the goroutines do (streams opening
// in a burst: see tick), the headroom is at most BurstHeadroom. Each new
// stream leaves objects that outlive the burst among the garbage its
// request made; a span with one of them in it stays in use after the
// garbage is swept, so the more garbage a cycle lets pile up, the more of
// the heap is left holding a stream's few objects. At 1,000 Messages
// streams opened at once, MaxHeadroom left 6.4–7.4 MiB of in-use spans
// unused and 15.1–16.4 MiB of goroutine stacks (the stacks net/http's
// HTTP/2 client frees as it shrinks them, 8 KiB each, among the
// handlers'); BurstHeadroom left 4.0–5.5 and 13.4–14.6. Request
// traffic, whose live heap holds still, keeps MaxHeadroom.
//
// GOGC is a share of more than the live heap: since Go 1.18 the goal is
// live + (live + stacks + globals scanned) × GOGC/100, and 1,000 streams
// have 4 MiB of stack in use, so the base includes them (a share of the
// live heap alone gave a quarter more headroom than meant).
//
// The burst also leaves the heap it grew mapped: at 1,000 streams opened
// at once, 5–25 MiB free beyond what the new, lower goal needs. The
// runtime returns such memory to the system in the background, but its
// scavenger wakes after a collection and works at 1% of a CPU, so a
// gateway holding streams, which collects every few seconds, kept it for
// tens of seconds. The pacer returns it at once (debug.FreeOSMemory) when
// the free heap has exceeded what the goal can use by ReleaseAbove for a
// whole Window (the burst is over: a burst still under way would only
// grow the heap again). That is at most once every two Windows; each costs
// a collection and the page faults of growing the heap again, a few ms.
// ReleaseAbove is 4 MiB: at 2 MiB, 20 s of chat traffic (streaming, at
// concurrency 8) brought three releases; at 4, 80 s of chat and Messages
// traffic at concurrency 1 to 64 brought none, and the 5–6 MiB a burst of
// 1,000 streams left free, which 8 MiB kept, goes back.
package gcpace

import (
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
	"sync/atomic"
	"time"
)

const (
	// MaxHeadroom is the heap growth allowed between collections under
	// request traffic.
	MaxHeadroom = 20 << 20
	// MinHeadroom is the least growth allowed between collections. It
	// binds only where a second's allocation is less (a gateway holding
	// streams, or idle), so collections stay rare and cheap; at 1,000
	// open streams (about 2 MB allocated a second) 2 MiB rather than 4
	// cost no CPU that could be measured and lowered RSS by 1–2 MiB.
	MinHeadroom = 2 << 20
	// BurstHeadroom is the most growth allowed between collections while
	// the live heap grows (see Growing) or streams open (see tick).
	BurstHeadroom = 8 << 20
	// Window is how often, at most, the allocation rate alone should
	// bring a collection (below MaxHeadroom's rate).
	Window = time.Second
	// Watch is how often the pacer counts goroutines, and
	// BurstGoroutines how many more than at the last count mean streams
	// opening in a burst (each has two: its handler and its HTTP/2
	// request upstream). Request traffic at a steady concurrency moves
	// the count by less.
	Watch           = Window / 4
	BurstGoroutines = 256
	// MaxPercent is GOGC for a small live heap.
	MaxPercent = 400
	// MinPercent bounds the collector's work for a large live heap.
	MinPercent = 10
	// ReleaseAbove is how much free heap beyond the goal's headroom is
	// returned to the system at once.
	ReleaseAbove = 4 << 20
)

// Release reports whether free bytes of heap, mapped but unused, are
// worth returning to the system now, for a heap of inUse bytes in spans
// and a goal of goal bytes: more than ReleaseAbove beyond what the heap
// can still grow into before its next collection.
func Release(free, inUse, goal uint64) bool {
	var room uint64
	if goal > inUse {
		room = goal - inUse
	}
	return free > room+ReleaseAbove
}

// Headroom is the heap growth to allow between collections for an
// allocation rate in bytes per second, and whether the live heap is
// growing: what Window allocates, between MinHeadroom and MaxHeadroom, or
// BurstHeadroom while growing.
func Headroom(rate float64, growing bool) uint64 {
	most := float64(MaxHeadroom)
	if growing {
		most = BurstHeadroom
	}
	return uint64(min(most, max(MinHeadroom, rate*Window.Seconds())))
}

// Growing reports whether a live heap of live bytes, after one of prev
// bytes two collections before, grows as when streams open in a burst:
// by over 1 MiB and an eighth. Request traffic moves its live heap by
// what the requests in flight hold, a few hundred KB at a time.
func Growing(prev, live uint64) bool {
	return live > prev+1<<20 && live > prev+prev/8
}

// Percent is the GOGC that gives headroom bytes of growth for a
// collection base of base bytes: the live heap plus the stacks and
// globals the last collection scanned, which the runtime multiplies by
// GOGC/100 to set the goal.
func Percent(base, headroom uint64) int {
	if base == 0 {
		return MaxPercent
	}
	return int(min(MaxPercent, max(MinPercent, headroom*100/base)))
}

// Pacer adjusts GOGC after each collection. Stop it with Stop.
type Pacer struct {
	stopped atomic.Bool
	current atomic.Int64 // the GOGC set last

	mu       sync.Mutex // the cleanup goroutine and the timer both adjust
	timer    *time.Timer
	sample   []metrics.Sample
	allocs   uint64        // cumulative allocations at the last adjustment
	at       time.Time     // and its time
	cycles0  uint64        // collections counted at the last adjustment
	lives    [2]uint64     // the live heap the last two collections found
	growing  bool          // Growing held at the last collection
	opening  bool          // goroutines rose by BurstGoroutines at the last count
	counted  int           // goroutines at the last count
	watches  int           // counts so far: every Window/Watch-th is a tick
	bursts   atomic.Int64  // collections that found the heap growing (tests)
	opens    atomic.Int64  // counts that found streams opening (tests)
	headroom atomic.Uint64 // the headroom meant at the last adjustment (tests)
	excess   bool          // Release held at the last Window's adjustment
	releases atomic.Int64
}

// sampled are the metrics the pacer reads, in Pacer.sample's order; the
// goal comes last, to be read again alone once GOGC has moved it.
var sampled = [...]string{
	sLive: "/gc/heap/live:bytes", sAllocs: "/gc/heap/allocs:bytes",
	sStack: "/gc/scan/stack:bytes", sGlobals: "/gc/scan/globals:bytes",
	sCycles: "/gc/cycles/total:gc-cycles", sFree: "/memory/classes/heap/free:bytes",
	sObjects: "/memory/classes/heap/objects:bytes", sUnused: "/memory/classes/heap/unused:bytes",
	sGoal: "/gc/heap/goal:bytes",
}

const (
	sLive = iota
	sAllocs
	sStack
	sGlobals
	sCycles
	sFree
	sObjects
	sUnused
	sGoal
)

// Start sets GOGC to MaxPercent and adjusts it after every collection.
func Start() *Pacer {
	p := &Pacer{sample: make([]metrics.Sample, len(sampled))}
	for i, name := range sampled {
		p.sample[i].Name = name
	}
	p.current.Store(MaxPercent)
	debug.SetGCPercent(MaxPercent)
	metrics.Read(p.sample)
	p.allocs, p.at = p.sample[sAllocs].Value.Uint64(), time.Now()
	p.cycles0 = p.sample[sCycles].Value.Uint64()
	p.counted = runtime.NumGoroutine()
	p.arm()
	// Under mu: the timer's goroutine reads p.timer.
	p.mu.Lock()
	p.timer = time.AfterFunc(Watch, p.tick)
	p.mu.Unlock()
	return p
}

// tick counts goroutines every Watch, and adjusts once per Window or as
// soon as streams open in a burst. A collection sees a burst only once the
// live heap has grown over two of them, and the first may be far off: a
// gateway whose streams have just closed has a high allocation rate, so a
// goal 20 MiB over its live heap, and a burst of new streams into that
// headroom leaves their objects spread over spans full of garbage (at
// 1,000 Messages streams, a second wave held 2–6 MiB more than the first).
func (p *Pacer) tick() {
	if p.stopped.Load() {
		return
	}
	opened, full := p.count(runtime.NumGoroutine())
	switch {
	case full:
		p.window()
	case opened:
		p.adjust(false)
	}
	p.mu.Lock()
	p.timer.Reset(Watch)
	p.mu.Unlock()
}

// count records a count of n goroutines. It reports whether streams
// started to open since the count before (a rise of BurstGoroutines), and
// whether this count ends a Window.
func (p *Pacer) count(n int) (opened, full bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	rose := n > p.counted+BurstGoroutines
	opened = rose && !p.opening
	p.opening, p.counted = rose, n
	p.watches++
	if opened {
		p.opens.Add(1)
	}
	return opened, p.watches%int(Window/Watch) == 0
}

// window is the once-per-Window adjustment, which may return the free
// heap to the system.
func (p *Pacer) window() {
	if p.adjust(true) {
		// On the timer's goroutine, not the runtime's cleanup one: it
		// waits for a whole collection.
		debug.FreeOSMemory()
		p.releases.Add(1)
	}
}

// arm registers a cleanup on a fresh object: it runs after the collection
// that finds the object unreachable, i.e. once per GC cycle, on the
// runtime's cleanup goroutine (no goroutine of our own).
func (p *Pacer) arm() {
	sentinel := new([64]byte) // not a tiny allocation, so it is freed alone
	runtime.AddCleanup(sentinel, func(p *Pacer) {
		if !p.stopped.Load() {
			p.adjust(false)
			p.arm()
		}
	}, p)
}

// adjust sets GOGC. With timer, it also reports whether the free heap is
// to be returned to the system now (see Release), which the timer does.
func (p *Pacer) adjust(timer bool) (release bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	metrics.Read(p.sample)
	live, allocs, now := p.sample[sLive].Value.Uint64(), p.sample[sAllocs].Value.Uint64(), time.Now()
	var rate float64
	if d := now.Sub(p.at).Seconds(); d > 0 {
		rate = float64(allocs-p.allocs) / d
	}
	p.allocs, p.at = allocs, now
	if n := p.sample[sCycles].Value.Uint64(); n != p.cycles0 {
		// A collection since the last adjustment: the live heap is new.
		// It is compared with the one two collections back, so that the
		// last cycle of a burst, which adds least, still counts.
		p.growing, p.lives, p.cycles0 = Growing(p.lives[0], live), [2]uint64{p.lives[1], live}, n
		if p.growing {
			p.bursts.Add(1)
		}
	}
	headroom := Headroom(rate, p.growing || p.opening)
	p.headroom.Store(headroom)
	base := live + p.sample[sStack].Value.Uint64() + p.sample[sGlobals].Value.Uint64()
	if want := Percent(base, headroom); int64(want) != p.current.Load() {
		p.current.Store(int64(want))
		debug.SetGCPercent(want)
		metrics.Read(p.sample[sGoal:]) // the goal moved with GOGC
	}
	if !timer {
		return false
	}
	free, goal := p.sample[sFree].Value.Uint64(), p.sample[sGoal].Value.Uint64()
	inUse := p.sample[sObjects].Value.Uint64() + p.sample[sUnused].Value.Uint64()
	held := p.excess
	p.excess = Release(free, inUse, goal)
	if held && p.excess {
		p.excess = false // the next release needs two more ticks
		return true
	}
	return false
}

// Stop ends the adjustments; GOGC keeps its last value.
func (p *Pacer) Stop() {
	p.stopped.Store(true)
	p.mu.Lock()
	p.timer.Stop()
	p.mu.Unlock()
}
