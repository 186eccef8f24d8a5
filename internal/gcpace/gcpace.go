// Package gcpace sets the gateway's garbage-collector target (GOGC) from its
// live heap after every collection.
//
// A gateway serving requests has a live heap of a few MB and allocates tens
// of KB per request: there GOGC=400 saves two thirds of the collector's CPU
// for ~20 MB of memory. Holding many long streams is the opposite case:
// each open stream keeps ~25 KB live and allocates little, so at 1,000
// streams a fixed GOGC=400 would let the heap grow to five times 25 MB. The
// pacer keeps the headroom (heap goal minus live heap) near Headroom
// instead: GOGC=400 while the live heap is at most Headroom/4, less as it
// grows, never below MinPercent.
package gcpace

import (
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync/atomic"
)

const (
	// Headroom is the heap growth allowed between collections once the
	// live heap is above Headroom/MaxPercent*100.
	Headroom = 20 << 20
	// MaxPercent is GOGC for a small live heap (request traffic).
	MaxPercent = 400
	// MinPercent bounds the collector's work for a large live heap.
	MinPercent = 50
)

// Percent is the GOGC for a live heap of live bytes.
func Percent(live uint64) int {
	if live == 0 {
		return MaxPercent
	}
	return int(min(MaxPercent, max(MinPercent, Headroom*100/live)))
}

// Pacer adjusts GOGC after each collection. Stop it with Stop.
type Pacer struct {
	stopped atomic.Bool
	cycles  atomic.Int64 // adjustments made (tests)
	current atomic.Int64 // the GOGC set last
	sample  []metrics.Sample
}

// Start sets GOGC to MaxPercent and adjusts it after every collection.
func Start() *Pacer {
	p := &Pacer{sample: []metrics.Sample{{Name: "/gc/heap/live:bytes"}}}
	p.current.Store(MaxPercent)
	debug.SetGCPercent(MaxPercent)
	p.arm()
	return p
}

// arm registers a cleanup on a fresh object: it runs after the collection
// that finds the object unreachable, i.e. once per GC cycle, on the
// runtime's cleanup goroutine (no goroutine of our own).
func (p *Pacer) arm() {
	sentinel := new([64]byte) // not a tiny allocation, so it is freed alone
	runtime.AddCleanup(sentinel, func(p *Pacer) { p.adjust() }, p)
}

func (p *Pacer) adjust() {
	if p.stopped.Load() {
		return
	}
	metrics.Read(p.sample)
	if v := p.sample[0].Value; v.Kind() == metrics.KindUint64 {
		if want := Percent(v.Uint64()); int64(want) != p.current.Load() {
			p.current.Store(int64(want))
			debug.SetGCPercent(want)
		}
	}
	p.cycles.Add(1)
	p.arm()
}

// Stop ends the adjustments; GOGC keeps its last value.
func (p *Pacer) Stop() { p.stopped.Store(true) }
