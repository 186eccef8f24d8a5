package config

import (
	"fmt"
	"net/url"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Telemetry configures OpenTelemetry traces and metrics over OTLP. The
// exporters also read the standard OTEL_EXPORTER_OTLP_* environment
// variables; a value set here wins over the environment.
type Telemetry struct {
	// Enabled turns telemetry on; off, the gateway has no tracer, meter or
	// exporter at all.
	Enabled bool
	// Endpoint is the collector's URL (http://host:4317 for gRPC,
	// http://host:4318 for HTTP); empty: the environment or the exporters'
	// default (localhost).
	Endpoint string
	// Protocol is "grpc" or "http/protobuf"; empty: OTEL_EXPORTER_OTLP_PROTOCOL,
	// else grpc.
	Protocol string
	// Headers are sent with every export (typically an auth token): secrets.
	Headers map[string]Secret
	// SamplingRatio is the fraction of new traces kept (0..1, default 1); a
	// client's sampled traceparent is always followed.
	SamplingRatio float64
	// CaptureContent records prompts and completions on spans (GenAI
	// conventions). Off by default: they may hold personal data.
	CaptureContent bool
	// ServiceName is the service.name resource attribute (default
	// OTEL_SERVICE_NAME, else "quarry").
	ServiceName string
}

// Telemetry protocols.
const (
	TelemetryGRPC = "grpc"
	TelemetryHTTP = "http/protobuf"
)

func (d *decoder) telemetry(n *yaml.Node, t *Telemetry) {
	t.SamplingRatio = 1
	if n == nil {
		return
	}
	f := d.mapping(n, "telemetry", "enabled", "endpoint", "protocol", "headers", "sampling_ratio", "capture_content", "service_name")
	if v, ok := f["enabled"]; ok {
		t.Enabled, _ = d.boolean(v, "telemetry.enabled")
	}
	if v, ok := f["endpoint"]; ok {
		if s, ok := d.str(v, "telemetry.endpoint"); ok {
			u, err := url.Parse(s)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				d.problem(v, "telemetry.endpoint", "must be an http:// or https:// URL with a host (e.g. http://127.0.0.1:4317)")
			} else {
				t.Endpoint = s
			}
		}
	}
	if v, ok := f["protocol"]; ok {
		if s, ok := d.str(v, "telemetry.protocol"); ok {
			switch s {
			case TelemetryGRPC, TelemetryHTTP:
				t.Protocol = s
			default:
				d.problem(v, "telemetry.protocol", fmt.Sprintf("must be grpc or http/protobuf (got %q)", s))
			}
		}
	}
	if v, ok := f["headers"]; ok {
		hs := d.mapping(v, "telemetry.headers")
		t.Headers = make(map[string]Secret, len(hs))
		for k, hv := range hs {
			field := "telemetry.headers." + k
			if k == "" || strings.ContainsAny(k, " \t\r\n:") {
				d.problem(v, field, "must be an HTTP header name")
				continue
			}
			t.Headers[k] = d.secret(hv, field)
		}
	}
	if v, ok := f["sampling_ratio"]; ok {
		if r, ok := d.float(v, "telemetry.sampling_ratio", 0, 1); ok {
			t.SamplingRatio = r
		}
	}
	if v, ok := f["capture_content"]; ok {
		t.CaptureContent, _ = d.boolean(v, "telemetry.capture_content")
	}
	if v, ok := f["service_name"]; ok {
		if s, ok := d.str(v, "telemetry.service_name"); ok {
			if strings.TrimSpace(s) == "" {
				d.problem(v, "telemetry.service_name", "must not be empty (leave it out for the default)")
			} else {
				t.ServiceName = s
			}
		}
	}
}
