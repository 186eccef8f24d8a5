// Package metrics exposes the gateway's Prometheus metrics: requests,
// latency, time to first token, tokens and upstream failures, by surface and
// model.
package metrics

import (
	"net/http"
	"regexp"
	"strconv"
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
}

// New registers the metrics (and the Go runtime's) in a new registry.
func New() *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
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

// Handler serves the metrics in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}
