// Package telemetry exports the gateway's OpenTelemetry traces and metrics
// over OTLP, in the GenAI semantic conventions: a server span per client
// request (Middleware), a client span per upstream attempt (Transport), and
// the gen_ai.client.token.usage, gen_ai.client.operation.duration and
// gen_ai.server.time_to_first_token histograms. Off (telemetry.enabled
// false), New returns nil and the server wraps nothing.
package telemetry

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetricgrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetrichttp"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/quarry-dev/quarry/internal/config"
)

// scope is the instrumentation scope of every span and metric.
const scope = "github.com/quarry-dev/quarry"

// Options override the OTLP exporters (tests, benchmarks).
type Options struct {
	// SpanExporter, when set, receives the spans instead of OTLP.
	SpanExporter sdktrace.SpanExporter
	// MetricReader, when set, collects the metrics instead of a periodic
	// OTLP export.
	MetricReader sdkmetric.Reader
}

// Telemetry is the gateway's tracer and meter. A nil *Telemetry is off.
type Telemetry struct {
	tp      *sdktrace.TracerProvider
	mp      *sdkmetric.MeterProvider
	tracer  trace.Tracer
	prop    propagation.TextMapPropagator
	capture bool

	tokenUsage metric.Int64Histogram
	duration   metric.Float64Histogram
	firstToken metric.Float64Histogram
}

// New starts telemetry as cfg says; nil (and no error) when it is off.
func New(ctx context.Context, cfg config.Telemetry, opts Options) (*Telemetry, error) {
	if !cfg.Enabled {
		return nil, nil
	}
	res, err := newResource(ctx, cfg)
	if err != nil {
		return nil, err
	}
	se, mr := opts.SpanExporter, opts.MetricReader
	protocol := otlpProtocol(cfg)
	if se == nil {
		if se, err = newSpanExporter(ctx, cfg, protocol); err != nil {
			return nil, fmt.Errorf("telemetry: traces exporter: %w", err)
		}
	}
	if mr == nil {
		me, err := newMetricExporter(ctx, cfg, protocol)
		if err != nil {
			_ = se.Shutdown(ctx)
			return nil, fmt.Errorf("telemetry: metrics exporter: %w", err)
		}
		// The interval honours OTEL_METRIC_EXPORT_INTERVAL (default 60s).
		mr = sdkmetric.NewPeriodicReader(me)
	}
	t := &Telemetry{
		tp: sdktrace.NewTracerProvider(
			sdktrace.WithBatcher(se),
			sdktrace.WithResource(res),
			// A client's sampled traceparent is followed; new traces are
			// kept at the configured ratio.
			sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.TraceIDRatioBased(cfg.SamplingRatio)))),
		mp:      sdkmetric.NewMeterProvider(sdkmetric.WithReader(mr), sdkmetric.WithResource(res)),
		prop:    propagation.TraceContext{},
		capture: cfg.CaptureContent,
	}
	t.tracer = t.tp.Tracer(scope)
	if err := t.instruments(); err != nil {
		_ = t.Shutdown(ctx)
		return nil, err
	}
	return t, nil
}

// Bucket boundaries the GenAI semantic conventions advise.
var (
	tokenBuckets    = []float64{1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864}
	durationBuckets = []float64{0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92}
	ttftBuckets     = []float64{0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0}
)

func (t *Telemetry) instruments() error {
	m := t.mp.Meter(scope)
	var errs [3]error
	t.tokenUsage, errs[0] = m.Int64Histogram("gen_ai.client.token.usage", metric.WithUnit("{token}"),
		metric.WithDescription("Number of input and output tokens used."), metric.WithExplicitBucketBoundaries(tokenBuckets...))
	t.duration, errs[1] = m.Float64Histogram("gen_ai.client.operation.duration", metric.WithUnit("s"),
		metric.WithDescription("GenAI operation duration."), metric.WithExplicitBucketBoundaries(durationBuckets...))
	t.firstToken, errs[2] = m.Float64Histogram("gen_ai.server.time_to_first_token", metric.WithUnit("s"),
		metric.WithDescription("Time to generate the first token, for streamed requests."), metric.WithExplicitBucketBoundaries(ttftBuckets...))
	return errors.Join(errs[:]...)
}

// ForceFlush exports what is buffered (tests; shutdown does it too).
func (t *Telemetry) ForceFlush(ctx context.Context) error {
	if t == nil {
		return nil
	}
	return errors.Join(t.tp.ForceFlush(ctx), t.mp.ForceFlush(ctx))
}

// Shutdown flushes and stops the exporters.
func (t *Telemetry) Shutdown(ctx context.Context) error {
	if t == nil {
		return nil
	}
	return errors.Join(t.tp.Shutdown(ctx), t.mp.Shutdown(ctx))
}

func newResource(ctx context.Context, cfg config.Telemetry) (*resource.Resource, error) {
	name := cfg.ServiceName
	if name == "" {
		name = os.Getenv("OTEL_SERVICE_NAME")
	}
	if name == "" {
		name = "quarry"
	}
	// The configured name wins over OTEL_RESOURCE_ATTRIBUTES' service.name:
	// WithAttributes comes after WithFromEnv.
	return resource.New(ctx, resource.WithFromEnv(), resource.WithTelemetrySDK(), resource.WithHost(),
		resource.WithAttributes(attribute.String("service.name", name)))
}

// otlpProtocol is the configured protocol, else OTEL_EXPORTER_OTLP_PROTOCOL,
// else http/protobuf (the OTLP exporter specification's default).
func otlpProtocol(cfg config.Telemetry) string {
	if cfg.Protocol != "" {
		return cfg.Protocol
	}
	for _, env := range []string{"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL"} {
		if p := strings.TrimSpace(os.Getenv(env)); p != "" {
			return p
		}
	}
	return config.TelemetryHTTP
}

func headers(cfg config.Telemetry) map[string]string {
	if len(cfg.Headers) == 0 {
		return nil
	}
	h := make(map[string]string, len(cfg.Headers))
	for k, v := range cfg.Headers {
		h[k] = v.Reveal()
	}
	return h
}

// The exporters read OTEL_EXPORTER_OTLP_* themselves; options given here
// (from the config) override them.
func newSpanExporter(ctx context.Context, cfg config.Telemetry, protocol string) (sdktrace.SpanExporter, error) {
	switch protocol {
	case config.TelemetryGRPC:
		var o []otlptracegrpc.Option
		if cfg.Endpoint != "" {
			o = append(o, otlptracegrpc.WithEndpointURL(cfg.Endpoint))
		}
		if h := headers(cfg); h != nil {
			o = append(o, otlptracegrpc.WithHeaders(h))
		}
		return otlptracegrpc.New(ctx, o...)
	case config.TelemetryHTTP:
		var o []otlptracehttp.Option
		if cfg.Endpoint != "" {
			o = append(o, otlptracehttp.WithEndpointURL(strings.TrimSuffix(cfg.Endpoint, "/")+"/v1/traces"))
		}
		if h := headers(cfg); h != nil {
			o = append(o, otlptracehttp.WithHeaders(h))
		}
		return otlptracehttp.New(ctx, o...)
	}
	return nil, fmt.Errorf("unsupported OTLP protocol %q (grpc or http/protobuf)", protocol)
}

func newMetricExporter(ctx context.Context, cfg config.Telemetry, protocol string) (sdkmetric.Exporter, error) {
	switch protocol {
	case config.TelemetryGRPC:
		var o []otlpmetricgrpc.Option
		if cfg.Endpoint != "" {
			o = append(o, otlpmetricgrpc.WithEndpointURL(cfg.Endpoint))
		}
		if h := headers(cfg); h != nil {
			o = append(o, otlpmetricgrpc.WithHeaders(h))
		}
		return otlpmetricgrpc.New(ctx, o...)
	case config.TelemetryHTTP:
		var o []otlpmetrichttp.Option
		if cfg.Endpoint != "" {
			o = append(o, otlpmetrichttp.WithEndpointURL(strings.TrimSuffix(cfg.Endpoint, "/")+"/v1/metrics"))
		}
		if h := headers(cfg); h != nil {
			o = append(o, otlpmetrichttp.WithHeaders(h))
		}
		return otlpmetrichttp.New(ctx, o...)
	}
	return nil, fmt.Errorf("unsupported OTLP protocol %q (grpc or http/protobuf)", protocol)
}
