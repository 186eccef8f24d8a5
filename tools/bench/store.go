package main

import (
	"fmt"
	"net/http"
	"os"
	"slices"
	"time"
)

// The store benchmark (issue 14): what storing a Responses answer costs the
// gateway in CPU per request. On this shared 2-core machine a row's CPU per
// request moves by ±20% from one run to the next, more than the difference
// measured, so one gateway serves store off and store on alternately,
// -pairs times per cell (-duration each), and the cell reports the median
// of each and the median of the pairs' ratios.
func storeBench(o options, dir, bin string) error {
	_, gw, stop, err := startPair(dir, bin, "store")
	if err != nil {
		return err
	}
	defer stop()
	httpc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256}}
	fmt.Printf("### Responses: store off and on, alternated (%d pairs of %v per cell)\n\n", o.pairs, o.duration)
	fmt.Println("| Mode | Concurrency | Gateway CPU µs/request, store off (median) | store on (median) | On/off, median of pairs | Lowest and highest pair | Errors |")
	fmt.Println("|---|---:|---:|---:|---:|---|---:|")
	for _, stream := range []bool{false, true} {
		mode := "non-streaming"
		if stream {
			mode = "streaming"
		}
		for _, c := range o.conc {
			off := func() worker { return surfaceWorker(httpc, gw.url, stream, responsesSurface(false)) }
			on := func() worker { return surfaceWorker(httpc, gw.url, stream, responsesSurface(true)) }
			load(c, 0, o.warmup, on)
			load(c, 0, o.warmup, off)
			cpu := func(w func() worker) (float64, int) {
				c0 := gw.cpuTime()
				r := load(c, 0, o.duration, w)
				if r.firstErr != nil {
					fmt.Fprintln(os.Stderr, "bench: first error:", r.firstErr)
				}
				return float64(gw.cpuTime()-c0) / float64(time.Microsecond) / float64(max(r.n, 1)), r.errs
			}
			var offs, ons, ratios []float64
			errs := 0
			for range o.pairs {
				a, e1 := cpu(off)
				b, e2 := cpu(on)
				offs, ons, ratios = append(offs, a), append(ons, b), append(ratios, b/a-1)
				errs += e1 + e2
			}
			fmt.Printf("| %s | %d | %.0f | %.0f | %+.1f%% | %+.0f%% … %+.0f%% | %d |\n", mode, c, median(offs), median(ons),
				100*median(ratios), 100*slices.Min(ratios), 100*slices.Max(ratios), errs)
		}
	}
	fmt.Println()
	return nil
}

func median(v []float64) float64 {
	s := slices.Sorted(slices.Values(v))
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}
