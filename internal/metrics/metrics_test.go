package metrics

import (
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/quarry-dev/quarry/internal/accesslog"
)

// observeUncached is Observe as it was before the series cache: every
// metric through WithLabelValues. The cached Observe must leave /metrics
// exactly as this does.
func (m *Metrics) observeUncached(status int, d time.Duration, s accesslog.Snapshot) {
	if s.Surface == "" {
		return
	}
	m.requests.WithLabelValues(s.Surface, s.Model, strconv.Itoa(status)).Inc()
	m.duration.WithLabelValues(s.Surface, s.Model).Observe(d.Seconds())
	if s.FirstToken > 0 {
		m.firstToken.WithLabelValues(s.Surface, s.Model).Observe(s.FirstToken.Seconds())
	}
	if s.Model != "" {
		if s.InputTokens > 0 {
			m.tokens.WithLabelValues(s.Model, "input").Add(float64(s.InputTokens))
		}
		if s.OutputTokens > 0 {
			m.tokens.WithLabelValues(s.Model, "output").Add(float64(s.OutputTokens))
		}
		if s.CacheReadTokens > 0 {
			m.tokens.WithLabelValues(s.Model, "cache_read").Add(float64(s.CacheReadTokens))
		}
	}
	if s.ErrorKind != "" {
		m.errors.WithLabelValues(s.Surface, s.Model, s.ErrorKind).Inc()
	}
}

// quarryLines is the gateway's own series in /metrics, sorted.
func quarryLines(t *testing.T, m *Metrics) []string {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	var out []string
	for l := range strings.Lines(rec.Body.String()) {
		if strings.HasPrefix(l, "quarry_") {
			out = append(out, strings.TrimSpace(l))
		}
	}
	slices.Sort(out)
	return out
}

type observation struct {
	status int
	d      time.Duration
	s      accesslog.Snapshot
}

// observations mixes what the surfaces record: streamed and not, with and
// without cache reads, failures, requests with no model and ones that are
// not counted (no surface), several of each kind.
var observations = []observation{
	{200, 120 * time.Millisecond, accesslog.Snapshot{Surface: "openai", Model: "nova", InputTokens: 10, OutputTokens: 20}},
	{200, 80 * time.Millisecond, accesslog.Snapshot{Surface: "openai", Model: "nova", InputTokens: 5, OutputTokens: 7, FirstToken: 30 * time.Millisecond}},
	{200, 90 * time.Millisecond, accesslog.Snapshot{Surface: "openai", Model: "nova", InputTokens: 5, OutputTokens: 7, CacheReadTokens: 4}},
	{429, time.Millisecond, accesslog.Snapshot{Surface: "openai", Model: "nova", ErrorKind: "rate_limit_error"}},
	{401, time.Millisecond, accesslog.Snapshot{Surface: "openai", ErrorKind: "authentication_error"}},
	{200, 3 * time.Second, accesslog.Snapshot{Surface: "elasticsearch", Model: "titan", InputTokens: 9}},
	{404, time.Millisecond, accesslog.Snapshot{Surface: "openai"}},
	{200, time.Millisecond, accesslog.Snapshot{}},
	{200, time.Millisecond, accesslog.Snapshot{Model: "nova", InputTokens: 1}},
	{504, 10 * time.Second, accesslog.Snapshot{Surface: "openai", Model: "nova", ErrorKind: "upstream_timeout", FirstToken: 2 * time.Second, OutputTokens: 3}},
}

func TestObserveMatchesUncached(t *testing.T) {
	for _, max := range []int{1000, 3, 0} {
		t.Run("max "+strconv.Itoa(max), func(t *testing.T) {
			want, got := New(), New()
			got.maxSeries = max
			for range 3 {
				for _, o := range observations {
					want.observeUncached(o.status, o.d, o.s)
					got.Observe(nil, o.status, o.d, o.s)
				}
			}
			w, g := quarryLines(t, want), quarryLines(t, got)
			if len(w) == 0 || !slices.Equal(w, g) {
				t.Errorf("/metrics differs from the uncached Observe:\nwant\n%s\ngot\n%s", strings.Join(w, "\n"), strings.Join(g, "\n"))
			}
			n := 0
			if p := got.series.Load(); p != nil {
				n = len(*p)
			}
			// Ten observations, two not counted (no surface), the rest distinct.
			if distinct := 8; n != min(max, distinct) {
				t.Errorf("%d cached series, want %d", n, min(max, distinct))
			}
		})
	}
}

// Concurrent observations all count (run with -race).
func TestObserveConcurrent(t *testing.T) {
	m := New()
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 500 {
				model := "m" + strconv.Itoa((g+i)%5)
				m.Observe(nil, 200, time.Millisecond, accesslog.Snapshot{Surface: "openai", Model: model, InputTokens: 1})
			}
		})
	}
	wg.Wait()
	var total int
	for _, l := range quarryLines(t, m) {
		if strings.HasPrefix(l, `quarry_tokens_total{`) {
			n, err := strconv.Atoi(l[strings.LastIndexByte(l, ' ')+1:])
			if err != nil {
				t.Fatal(l, err)
			}
			total += n
		}
	}
	if total != 8*500 {
		t.Errorf("input tokens counted %d, want %d", total, 8*500)
	}
}

func BenchmarkObserve(b *testing.B) {
	m := New()
	s := accesslog.Snapshot{Surface: "openai", Model: "nova-micro", InputTokens: 12, OutputTokens: 34}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			m.Observe(nil, 200, 50*time.Millisecond, s)
		}
	})
}

// A label value that is not UTF-8 (a client's endpoint ID) is counted
// under the value with U+FFFD for the bad bytes, instead of panicking.
func TestObserveInvalidUTF8(t *testing.T) {
	m := New()
	for range 2 {
		m.Observe(nil, 404, time.Millisecond, accesslog.Snapshot{Surface: "elasticsearch", Model: "id-\xff", ErrorKind: "resource_not_found_exception"})
	}
	text := strings.Join(quarryLines(t, m), "\n")
	for _, want := range []string{
		`quarry_requests_total{code="404",model="id-` + "\uFFFD" + `",surface="elasticsearch"} 2`,
		`quarry_errors_total{kind="resource_not_found_exception",model="id-` + "\uFFFD" + `",surface="elasticsearch"} 2`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("/metrics lacks %s in\n%s", want, text)
		}
	}
}
