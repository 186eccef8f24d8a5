package telemetry

import (
	"context"
	"net/http"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/quarry-dev/quarry/internal/accesslog"
)

// ProviderName is gen_ai.provider.name (and the older gen_ai.system) for
// every call the gateway makes.
const ProviderName = "aws.bedrock"

var (
	providerAttr = attribute.String("gen_ai.provider.name", ProviderName)
	systemAttr   = attribute.String("gen_ai.system", ProviderName)
)

// Middleware traces each client request: it continues the client's W3C
// traceparent, opens a server span around next, and when next returns
// names and annotates the span from what the surface recorded on the
// request's accesslog.Entry (it must run inside accesslog.Middleware), and
// records the GenAI metrics.
func (t *Telemetry) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/health", "/v1/ready", "/metrics":
			next.ServeHTTP(w, r) // probes and scrapes: no spans
			return
		}
		ctx := t.prop.Extract(r.Context(), propagation.HeaderCarrier(r.Header))
		ctx, span := t.tracer.Start(ctx, r.Method, trace.WithSpanKind(trace.SpanKindServer))
		ctx = context.WithValue(ctx, attemptsKey{}, &attempts{})
		next.ServeHTTP(w, r.WithContext(ctx))
		status := http.StatusOK
		if rec, ok := w.(*accesslog.Recorder); ok && rec.Status != 0 {
			status = rec.Status
		}
		e := accesslog.From(ctx)
		s := e.Snapshot()
		t.finish(ctx, span, r, status, time.Since(e.Start), s)
	})
}

// finish annotates and ends a request's span and records its metrics.
func (t *Telemetry) finish(ctx context.Context, span trace.Span, r *http.Request, status int, d time.Duration, s accesslog.Snapshot) {
	g := s.GenAI
	if span.IsRecording() {
		if g.Operation != "" {
			name := g.Operation
			if s.Model != "" {
				name += " " + s.Model
			}
			span.SetName(name)
		}
		attrs := make([]attribute.KeyValue, 0, 24)
		attrs = append(attrs,
			attribute.String("http.request.method", r.Method),
			attribute.String("url.path", r.URL.Path),
			attribute.Int("http.response.status_code", status),
			attribute.String("quarry.request_id", accesslog.From(ctx).ID))
		if s.Surface != "" {
			attrs = append(attrs, attribute.String("quarry.surface", s.Surface))
		}
		if g.Operation != "" || s.Model != "" {
			attrs = append(attrs, providerAttr, systemAttr)
		}
		if g.Operation != "" {
			attrs = append(attrs, attribute.String("gen_ai.operation.name", g.Operation))
		}
		if s.Model != "" {
			attrs = append(attrs, attribute.String("gen_ai.request.model", s.Model))
		}
		if g.ResponseModel != "" {
			attrs = append(attrs, attribute.String("gen_ai.response.model", g.ResponseModel))
		}
		if g.ResponseID != "" {
			attrs = append(attrs, attribute.String("gen_ai.response.id", g.ResponseID))
		}
		if g.MaxTokens > 0 {
			attrs = append(attrs, attribute.Int("gen_ai.request.max_tokens", g.MaxTokens))
		}
		if g.HasTemperature {
			attrs = append(attrs, attribute.Float64("gen_ai.request.temperature", g.Temperature))
		}
		if g.HasTopP {
			attrs = append(attrs, attribute.Float64("gen_ai.request.top_p", g.TopP))
		}
		if len(g.FinishReasons) > 0 {
			attrs = append(attrs, attribute.StringSlice("gen_ai.response.finish_reasons", g.FinishReasons))
		}
		if in := inputTokens(&s); in+s.OutputTokens > 0 {
			attrs = append(attrs, attribute.Int("gen_ai.usage.input_tokens", in),
				attribute.Int("gen_ai.usage.output_tokens", s.OutputTokens))
		}
		if s.Usage.CacheRead > 0 {
			attrs = append(attrs, attribute.Int("gen_ai.usage.cache_read.input_tokens", s.Usage.CacheRead))
		}
		if s.Usage.CacheWrite > 0 {
			attrs = append(attrs, attribute.Int("gen_ai.usage.cache_creation.input_tokens", s.Usage.CacheWrite))
		}
		if s.UpstreamRequestID != "" {
			attrs = append(attrs, attribute.String("aws.request_id", s.UpstreamRequestID))
		}
		if s.FirstToken > 0 {
			attrs = append(attrs, attribute.Float64("quarry.time_to_first_token", s.FirstToken.Seconds()))
		}
		if s.ErrorKind != "" {
			attrs = append(attrs, attribute.String("error.type", s.ErrorKind))
		}
		span.SetAttributes(attrs...)
		if status >= 500 {
			span.SetStatus(codes.Error, s.ErrorKind)
		}
	}
	span.End()
	if s.Model == "" || g.Operation == "" {
		return // not a model call: no GenAI metrics
	}
	base := []attribute.KeyValue{
		attribute.String("gen_ai.operation.name", g.Operation), providerAttr,
		attribute.String("gen_ai.request.model", s.Model),
	}
	if g.ResponseModel != "" {
		base = append(base, attribute.String("gen_ai.response.model", g.ResponseModel))
	}
	durAttrs := base
	if s.ErrorKind != "" {
		durAttrs = append(durAttrs[:len(durAttrs):len(durAttrs)], attribute.String("error.type", s.ErrorKind))
	}
	t.duration.Record(ctx, d.Seconds(), metric.WithAttributeSet(attribute.NewSet(durAttrs...)))
	if in := inputTokens(&s); in > 0 {
		t.tokenUsage.Record(ctx, int64(in), metric.WithAttributeSet(attribute.NewSet(
			append(base[:len(base):len(base)], attribute.String("gen_ai.token.type", "input"))...)))
	}
	if s.OutputTokens > 0 {
		t.tokenUsage.Record(ctx, int64(s.OutputTokens), metric.WithAttributeSet(attribute.NewSet(
			append(base[:len(base):len(base)], attribute.String("gen_ai.token.type", "output"))...)))
	}
	if s.FirstToken > 0 {
		t.firstToken.Record(ctx, s.FirstToken.Seconds(), metric.WithAttributeSet(attribute.NewSet(base...)))
	}
}

// inputTokens is every input token of a request, cached ones included, as
// the GenAI conventions count gen_ai.usage.input_tokens (the access log's
// input excludes what was read from or written to the prompt cache, as
// Bedrock's inputTokens does; the cache attributes give those apart).
func inputTokens(s *accesslog.Snapshot) int {
	return s.Usage.Input + s.Usage.CacheRead + s.Usage.CacheWrite
}

// attempts counts a client request's upstream attempts (Transport).
type attempts struct {
	mu     sync.Mutex
	n      int            // attempts so far
	failed map[string]int // failed attempts per target
}

type attemptsKey struct{}

// next numbers an attempt at target: its ordinal in the client request
// (1-based) and how many earlier attempts at the same target failed (its
// retry number).
func (a *attempts) next(target string) (ordinal, retry int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.n++
	return a.n, a.failed[target]
}

func (a *attempts) fail(target string) {
	a.mu.Lock()
	if a.failed == nil {
		a.failed = map[string]int{}
	}
	a.failed[target]++
	a.mu.Unlock()
}
