package config

import (
	"fmt"
	"strings"
	"testing"
)

func TestTelemetrySection(t *testing.T) {
	t.Setenv("QUARRY_TEST_OTLP_TOKEN", "otlp-s3cret")
	models := "models:\n  - name: a\n    from: bedrock:amazon.nova-lite-v1:0\n"
	for _, c := range []struct {
		name, yaml string
		want       Telemetry
		problems   []string // substrings of the error, each with its line
	}{
		{name: "absent: off, full sampling", want: Telemetry{SamplingRatio: 1}},
		{name: "everything", yaml: "telemetry:\n  enabled: true\n  endpoint: http://127.0.0.1:4317\n  protocol: grpc\n" +
			"  headers:\n    authorization: Bearer ${ env:QUARRY_TEST_OTLP_TOKEN }\n  sampling_ratio: 0.25\n  capture_content: true\n  service_name: gw\n",
			want: Telemetry{Enabled: true, Endpoint: "http://127.0.0.1:4317", Protocol: TelemetryGRPC,
				Headers: map[string]Secret{"authorization": "Bearer otlp-s3cret"}, SamplingRatio: 0.25, CaptureContent: true, ServiceName: "gw"}},
		{name: "http protocol", yaml: "telemetry:\n  enabled: true\n  protocol: http/protobuf\n",
			want: Telemetry{Enabled: true, Protocol: TelemetryHTTP, SamplingRatio: 1}},
		{name: "bad values, each by line", yaml: "telemetry:\n  enabled: maybe\n  endpoint: 127.0.0.1:4317\n  protocol: thrift\n  sampling_ratio: 2\n  service_name: ' '\n  colour: red\n",
			problems: []string{
				"q.yaml:2: telemetry.enabled: must be true or false",
				"q.yaml:3: telemetry.endpoint: must be an http:// or https:// URL",
				`q.yaml:4: telemetry.protocol: must be grpc or http/protobuf (got "thrift")`,
				"q.yaml:5: telemetry.sampling_ratio: must be between 0 and 1",
				"q.yaml:6: telemetry.service_name: must not be empty",
				"q.yaml:7: telemetry.colour: unknown key",
			}},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg, err := Parse("q.yaml", []byte(c.yaml+models), &Secrets{})
			if len(c.problems) > 0 {
				if err == nil {
					t.Fatal("no error")
				}
				for _, p := range c.problems {
					if !strings.Contains(err.Error(), p) {
						t.Errorf("error lacks %q:\n%v", p, err)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := cfg.Telemetry
			if fmt.Sprintf("%#v", got.Headers) != fmt.Sprintf("%#v", c.want.Headers) || got.Headers != nil && got.Headers["authorization"].Reveal() != c.want.Headers["authorization"].Reveal() {
				t.Errorf("headers = %v", got.Headers)
			}
			got.Headers, c.want.Headers = nil, nil
			if fmt.Sprint(got) != fmt.Sprint(c.want) {
				t.Errorf("telemetry = %+v, want %+v", got, c.want)
			}
			// A header's secret never prints.
			if out := fmt.Sprintf("%v %+v", cfg.Telemetry, cfg.Telemetry.Headers); strings.Contains(out, "otlp-s3cret") {
				t.Errorf("telemetry config prints a secret: %s", out)
			}
		})
	}
}
