package console

import (
	"slices"
	"sync"
	"time"
)

// Window is how far back the overview's live state looks.
const Window = 15 * time.Minute

// maxSamples bounds the latencies kept per model and minute: past it, the
// percentiles are those of the minute's first maxSamples requests.
const maxSamples = 512

// bucket is one model's minute.
type bucket struct {
	minute          int64 // Unix minute
	requests, fails int
	latency, ttft   []float64 // milliseconds
}

// Stats keeps, per model, a ring of per-minute buckets over Window.
type Stats struct {
	now    func() time.Time
	mu     sync.Mutex
	models map[string]*[windowMinutes]bucket
}

const windowMinutes = int(Window / time.Minute)

// NewStats uses now for the clock (nil: time.Now).
func NewStats(now func() time.Time) *Stats {
	if now == nil {
		now = time.Now
	}
	return &Stats{now: now, models: map[string]*[windowMinutes]bucket{}}
}

// Observe counts one finished request; a status of 500 and above, or 429,
// is an error.
func (s *Stats) Observe(model string, status int, d, firstToken time.Duration) {
	min := s.now().Unix() / 60
	s.mu.Lock()
	defer s.mu.Unlock()
	ring := s.models[model]
	if ring == nil {
		ring = new([windowMinutes]bucket)
		s.models[model] = ring
	}
	b := &ring[min%int64(windowMinutes)]
	if b.minute != min {
		*b = bucket{minute: min, latency: b.latency[:0], ttft: b.ttft[:0]}
	}
	b.requests++
	if status >= 500 || status == 429 {
		b.fails++
	}
	if len(b.latency) < maxSamples {
		b.latency = append(b.latency, ms(d))
	}
	if firstToken > 0 && len(b.ttft) < maxSamples {
		b.ttft = append(b.ttft, ms(firstToken))
	}
}

// Point is one minute of a model's chart.
type Point struct {
	Time     int64    `json:"t"` // Unix seconds, start of the minute
	Requests int      `json:"requests"`
	Errors   int      `json:"errors"`
	P50      *float64 `json:"p50_ms"`
	P95      *float64 `json:"p95_ms"`
	TTFT50   *float64 `json:"ttft_p50_ms"`
}

// Summary is a model's live state over Window.
type Summary struct {
	RPM       float64  `json:"rpm"` // requests in the last minute
	ErrorRate float64  `json:"error_rate"`
	P50       *float64 `json:"p50_ms"`
	P95       *float64 `json:"p95_ms"`
	TTFT50    *float64 `json:"ttft_p50_ms"`
	TTFT95    *float64 `json:"ttft_p95_ms"`
	Requests  int      `json:"requests"`
	Series    []Point  `json:"series"` // oldest first, one per minute, Window long
}

// Summary returns model's state now (zeros for a model never called).
func (s *Stats) Summary(model string) Summary {
	now := s.now()
	cur := now.Unix() / 60
	s.mu.Lock()
	defer s.mu.Unlock()
	ring := s.models[model]
	out := Summary{Series: make([]Point, 0, windowMinutes)}
	var all, allTTFT []float64
	fails := 0
	for m := cur - int64(windowMinutes) + 1; m <= cur; m++ {
		p := Point{Time: m * 60}
		if ring != nil {
			if b := ring[m%int64(windowMinutes)]; b.minute == m {
				p.Requests, p.Errors = b.requests, b.fails
				p.P50, p.P95, p.TTFT50 = pct(b.latency, 50), pct(b.latency, 95), pct(b.ttft, 50)
				all = append(all, b.latency...)
				allTTFT = append(allTTFT, b.ttft...)
				out.Requests += b.requests
				fails += b.fails
				if m == cur {
					// The current minute so far, plus the part of the
					// previous one still within the last 60 seconds.
					out.RPM += float64(b.requests)
				} else if m == cur-1 {
					out.RPM += float64(b.requests) * float64(60-now.Unix()%60) / 60
				}
			}
		}
		out.Series = append(out.Series, p)
	}
	if out.Requests > 0 {
		out.ErrorRate = float64(fails) / float64(out.Requests)
	}
	out.P50, out.P95 = pct(all, 50), pct(all, 95)
	out.TTFT50, out.TTFT95 = pct(allTTFT, 50), pct(allTTFT, 95)
	return out
}

// pct is the nearest-rank percentile of v, nil for no samples.
func pct(v []float64, p int) *float64 {
	if len(v) == 0 {
		return nil
	}
	s := slices.Clone(v)
	slices.Sort(s)
	i := (len(s)*p + 99) / 100
	if i < 1 {
		i = 1
	}
	x := s[i-1]
	return &x
}
