package usage

import (
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/quarry-dev/quarry/internal/accesslog"
	"github.com/quarry-dev/quarry/internal/config"
)

// ModelInfo is what pricing needs of a served model.
type ModelInfo struct {
	ModelID, Region string
	Price           *config.Price // the config's override, or nil
}

// Meter prices each finished request, counts it in Prometheus and hands
// it to the recorder. Observe is the access log's done hook.
type Meter struct {
	pricer *Pricer
	models func(name string) (ModelInfo, bool)
	rec    *Recorder // nil: not recorded in the store
	now    func() time.Time

	tokens   *prometheus.CounterVec
	cost     *prometheus.CounterVec
	unpriced *prometheus.CounterVec
	mu       sync.Mutex
	pairs    map[[2]string]bool // (model, key) label pairs in use
}

// maxKeyPairs bounds the (model, key) label pairs of the counters: past
// it, further keys count under key="other", so that many virtual keys do
// not grow /metrics without bound.
const maxKeyPairs = 500

// NewMeter builds a meter. models resolves a served model's name;
// rec may be nil.
func NewMeter(pricer *Pricer, models func(name string) (ModelInfo, bool), rec *Recorder) *Meter {
	return &Meter{pricer: pricer, models: models, rec: rec, now: time.Now, pairs: map[[2]string]bool{},
		tokens: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "quarry_usage_tokens_total",
			Help: "Tokens Bedrock reported, by model, client key and type (input, output, cache_read, cache_write, reasoning).",
		}, []string{"model", "key", "type"}),
		cost: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "quarry_usage_cost_usd_total", Help: "Cost in USD at the price table's prices, by model and client key.",
		}, []string{"model", "key"}),
		unpriced: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "quarry_usage_unpriced_requests_total", Help: "Requests of a model without a known price (their cost is unknown).",
		}, []string{"model"}),
	}
}

// Collectors are the meter's Prometheus metrics, to register.
func (m *Meter) Collectors() []prometheus.Collector {
	return []prometheus.Collector{m.tokens, m.cost, m.unpriced}
}

// Forget drops model's series (a deleted /_inference endpoint), so that
// endpoints created and deleted at run time do not grow /metrics.
func (m *Meter) Forget(model string) {
	l := prometheus.Labels{"model": model}
	m.tokens.DeletePartialMatch(l)
	m.cost.DeletePartialMatch(l)
	m.unpriced.DeletePartialMatch(l)
	m.mu.Lock()
	for p := range m.pairs {
		if p[0] == model {
			delete(m.pairs, p)
		}
	}
	m.mu.Unlock()
}

// Cost prices a request's snapshot; ok is false when the model's price
// is unknown.
func (m *Meter) Cost(s *accesslog.Snapshot) (usd float64, ok bool) {
	info, known := m.models(s.Model)
	if s.BedrockModel != "" {
		// The target that served (a group's), or an /_inference
		// endpoint's model; a served model's price: override still holds.
		info.ModelID, info.Region = s.BedrockModel, s.Region
	} else if !known {
		return 0, false
	}
	pr, ok := m.pricer.Price(info.ModelID, info.Region, info.Price)
	if !ok {
		return 0, false
	}
	return Cost(pr, s.Usage), true
}

// Observe records a finished request that named a model and used
// something (the access log's done hook).
func (m *Meter) Observe(_ *http.Request, _ int, _ time.Duration, s accesslog.Snapshot) {
	if s.Surface == "" || s.Model == "" || s.Usage.IsZero() {
		return
	}
	usd, priced := m.Cost(&s)
	model := strings.ToValidUTF8(s.Model, "\uFFFD")
	key := m.keyLabel(model, s.KeyID)
	u := s.Usage
	for _, c := range [...]struct {
		kind string
		n    int
	}{{"input", u.Input}, {"output", u.Output}, {"cache_read", u.CacheRead}, {"cache_write", u.CacheWrite}, {"reasoning", u.Reasoning}} {
		if c.n > 0 {
			m.tokens.WithLabelValues(model, key, c.kind).Add(float64(c.n))
		}
	}
	if priced {
		m.cost.WithLabelValues(model, key).Add(usd)
	} else {
		m.unpriced.WithLabelValues(model).Inc()
	}
	if m.rec != nil {
		m.rec.Record(Record{Time: m.now(), KeyID: s.KeyID, KeyName: s.KeyName, Model: s.Model, Usage: u,
			CostNanos: Nanos(usd), Priced: priced})
	}
}

func (m *Meter) keyLabel(model, key string) string {
	key = strings.ToValidUTF8(key, "\uFFFD")
	p := [2]string{model, key}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.pairs[p] {
		return key
	}
	if len(m.pairs) >= maxKeyPairs {
		return "other"
	}
	m.pairs[p] = true
	return key
}

// CostHeader is the header (or trailer) carrying a request's cost.
const CostHeader = "X-Quarry-Cost-Usd"

// CostHeaders adds x-quarry-cost-usd to answers whose usage is known. A
// non-streamed answer's usage is recorded before its headers are written,
// so it is a header. A stream's headers leave before its usage (the last
// event) is known, so it is an HTTP trailer, declared with the headers and
// sent after the last event when the model's price is known. The wrapper
// must sit inside the access log middleware, which holds the entry.
func (m *Meter) CostHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cw := &costWriter{ResponseWriter: w, m: m, e: accesslog.From(r.Context())}
		next.ServeHTTP(cw, r)
		if cw.trailer {
			s := cw.e.Snapshot()
			if usd, ok := m.Cost(&s); ok && !s.Usage.IsZero() {
				w.Header().Set(CostHeader, FormatUSD(usd))
			}
		}
	})
}

// FormatUSD writes a cost as the header carries it: dollars, to the
// nano-dollar.
func FormatUSD(usd float64) string {
	return strconv.FormatFloat(float64(Nanos(usd))/1e9, 'f', -1, 64)
}

type costWriter struct {
	http.ResponseWriter
	m       *Meter
	e       *accesslog.Entry
	wrote   bool
	trailer bool
}

func (c *costWriter) WriteHeader(code int) {
	if !c.wrote {
		c.wrote = true
		h := c.Header()
		ct := h.Get("Content-Type")
		if strings.HasPrefix(ct, "text/event-stream") || strings.HasPrefix(ct, "application/vnd.amazon.eventstream") ||
			strings.HasPrefix(ct, "application/x-ndjson") {
			c.trailer = true
			h.Add("Trailer", CostHeader)
		} else if s := c.e.Snapshot(); !s.Usage.IsZero() {
			if usd, ok := c.m.Cost(&s); ok {
				h.Set(CostHeader, FormatUSD(usd))
			}
		}
	}
	c.ResponseWriter.WriteHeader(code)
}

func (c *costWriter) Write(p []byte) (int, error) {
	if !c.wrote {
		c.WriteHeader(http.StatusOK)
	}
	return c.ResponseWriter.Write(p)
}

// Flush and Unwrap keep streaming working through the wrapper.
func (c *costWriter) Flush() {
	if !c.wrote {
		c.WriteHeader(http.StatusOK)
	}
	http.NewResponseController(c.ResponseWriter).Flush()
}

func (c *costWriter) Unwrap() http.ResponseWriter { return c.ResponseWriter }
