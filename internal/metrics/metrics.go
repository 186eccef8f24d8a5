// Package metrics exposes the gateway's Prometheus metrics: requests,
// latency, time to first token, tokens and upstream failures, by surface and
// model.
package metrics

import (
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/quarry-dev/quarry/internal/accesslog"
)

// Metrics is one registry of the gateway's metrics.
type Metrics struct {
	reg        *prometheus.Registry
	requests   *prometheus.CounterVec
	duration   *prometheus.HistogramVec
	firstToken *prometheus.HistogramVec
	tokens     *prometheus.CounterVec
	errors     *prometheus.CounterVec

	// series caches, per kind of finished request, the children Observe
	// updates, so that a request costs one map lookup rather than a
	// WithLabelValues (hashing, locking, UTF-8 checks) per metric. The map
	// is copied on write: readers only load the pointer.
	series    atomic.Pointer[map[seriesKey]*series]
	seriesMu  sync.Mutex // serialises writers
	maxSeries int        // beyond this many entries, Observe resolves uncached
}

// seriesKey is what decides which children a request updates: its labels
// and which of the optional metrics it touches (so that a cached entry
// never creates a child, i.e. a /metrics line, the request would not have).
type seriesKey struct {
	surface, model, kind string
	code                 int
	parts                uint8
}

const (
	hasFirstToken = 1 << iota
	hasInput
	hasOutput
	hasCacheRead
)

// series is the children one kind of request updates; nil where it
// updates none.
type series struct {
	requests                 prometheus.Counter
	duration, firstToken     prometheus.Observer
	input, output, cacheRead prometheus.Counter
	errors                   prometheus.Counter
}

// New registers the metrics (and the Go runtime's) in a new registry.
func New() *Metrics {
	m := &Metrics{
		maxSeries: 1000,
		reg:       prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "quarry_requests_total", Help: "HTTP requests served, by API surface, model and status code.",
		}, []string{"surface", "model", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "quarry_request_duration_seconds", Help: "Time to serve a request, to its last byte.",
			Buckets: []float64{.001, .005, .01, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300},
		}, []string{"surface", "model"}),
		firstToken: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "quarry_time_to_first_token_seconds", Help: "Time from request to the first streamed token.",
			Buckets: []float64{.001, .005, .01, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"surface", "model"}),
		tokens: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "quarry_tokens_total", Help: "Tokens billed by Bedrock, by model and type (input, output, cache_read).",
		}, []string{"model", "type"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "quarry_errors_total", Help: "Failed requests by model and kind (rate_limit, upstream_timeout, invalid_request, ...).",
		}, []string{"surface", "model", "kind"}),
	}
	m.reg.MustRegister(m.requests, m.duration, m.firstToken, m.tokens, m.errors,
		// go_gc_heap_live_bytes (the heap live after the last collection)
		// is the figure that shows a leak; heap-in-use swings with GOGC.
		collectors.NewGoCollector(collectors.WithGoCollectorRuntimeMetrics(
			collectors.GoRuntimeMetricsRule{Matcher: regexp.MustCompile(`^/gc/heap/live:bytes$`)})),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Observe records a finished request (the accesslog middleware's done hook).
func (m *Metrics) Observe(_ *http.Request, status int, d time.Duration, s accesslog.Snapshot) {
	if s.Surface == "" {
		return // health, metrics and unknown paths
	}
	k := seriesKey{surface: s.Surface, model: s.Model, kind: s.ErrorKind, code: status}
	if s.FirstToken > 0 {
		k.parts |= hasFirstToken
	}
	if s.Model != "" {
		if s.InputTokens > 0 {
			k.parts |= hasInput
		}
		if s.OutputTokens > 0 {
			k.parts |= hasOutput
		}
		if s.CacheReadTokens > 0 {
			k.parts |= hasCacheRead
		}
	}
	c := m.lookup(k)
	c.requests.Inc()
	c.duration.Observe(d.Seconds())
	if c.firstToken != nil {
		c.firstToken.Observe(s.FirstToken.Seconds())
	}
	if c.input != nil {
		c.input.Add(float64(s.InputTokens))
	}
	if c.output != nil {
		c.output.Add(float64(s.OutputTokens))
	}
	if c.cacheRead != nil {
		c.cacheRead.Add(float64(s.CacheReadTokens))
	}
	if c.errors != nil {
		c.errors.Inc()
	}
}

// lookup returns k's children, from the cache or resolved (and cached
// while the cache has room).
func (m *Metrics) lookup(k seriesKey) *series {
	if p := m.series.Load(); p != nil {
		if c, ok := (*p)[k]; ok {
			return c
		}
	}
	m.seriesMu.Lock()
	defer m.seriesMu.Unlock()
	var old map[seriesKey]*series
	if p := m.series.Load(); p != nil {
		old = *p
		if c, ok := old[k]; ok {
			return c
		}
	}
	c := m.resolve(k)
	if len(old) < m.maxSeries {
		next := make(map[seriesKey]*series, len(old)+1)
		for k, v := range old {
			next[k] = v
		}
		next[k] = c
		m.series.Store(&next)
	}
	return c
}

// resolve looks up (creating) the children k's requests update.
func (m *Metrics) resolve(k seriesKey) *series {
	// WithLabelValues panics on a value that is not UTF-8, and a model
	// label can come from a client (an elastic endpoint ID in the URL,
	// e.g. /_inference/%FF): the panic, in the access log's done hook,
	// cost the client its response.
	k.surface = strings.ToValidUTF8(k.surface, "\uFFFD")
	k.model = strings.ToValidUTF8(k.model, "\uFFFD")
	k.kind = strings.ToValidUTF8(k.kind, "\uFFFD")
	c := &series{
		requests: m.requests.WithLabelValues(k.surface, k.model, strconv.Itoa(k.code)),
		duration: m.duration.WithLabelValues(k.surface, k.model),
	}
	if k.parts&hasFirstToken != 0 {
		c.firstToken = m.firstToken.WithLabelValues(k.surface, k.model)
	}
	if k.parts&hasInput != 0 {
		c.input = m.tokens.WithLabelValues(k.model, "input")
	}
	if k.parts&hasOutput != 0 {
		c.output = m.tokens.WithLabelValues(k.model, "output")
	}
	if k.parts&hasCacheRead != 0 {
		c.cacheRead = m.tokens.WithLabelValues(k.model, "cache_read")
	}
	if k.kind != "" {
		c.errors = m.errors.WithLabelValues(k.surface, k.model, k.kind)
	}
	return c
}

// Register adds other packages' collectors (usage's counters) to the
// registry /metrics serves.
func (m *Metrics) Register(cs ...prometheus.Collector) { m.reg.MustRegister(cs...) }

// Handler serves the metrics in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// Forget drops every series of model on surface: an /_inference endpoint
// (its ID is the model label) that was deleted. Without it, endpoints that
// are created and deleted at run time would grow /metrics, and the
// gateway's memory, without bound. The tokens series, labelled by model
// alone, go too unless another surface serves a model of that name.
func (m *Metrics) Forget(surface, model string) {
	l := prometheus.Labels{"surface": surface, "model": model}
	m.requests.DeletePartialMatch(l)
	m.duration.DeletePartialMatch(l)
	m.firstToken.DeletePartialMatch(l)
	m.errors.DeletePartialMatch(l)
	m.seriesMu.Lock()
	defer m.seriesMu.Unlock()
	shared := false
	next := map[seriesKey]*series{}
	if old := m.series.Load(); old != nil {
		for k, v := range *old {
			switch {
			case k.model != model:
				next[k] = v
			case k.surface != surface:
				next[k] = v
				shared = true
			}
		}
	}
	if !shared {
		m.tokens.DeletePartialMatch(prometheus.Labels{"model": model})
	}
	m.series.Store(&next)
}
