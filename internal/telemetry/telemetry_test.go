package telemetry

import (
	"context"
	"encoding/json"
	"net/url"
	"testing"

	"github.com/quarry-dev/quarry/internal/config"
)

func TestBedrockOperation(t *testing.T) {
	for _, c := range []struct{ path, op, model string }{
		{"/model/amazon.nova-lite-v1:0/converse", "Converse", "amazon.nova-lite-v1:0"},
		{"/model/us.anthropic.claude-sonnet-4-20250514-v1:0/converse-stream", "ConverseStream", "us.anthropic.claude-sonnet-4-20250514-v1:0"},
		{"/model/amazon.titan-embed-text-v2:0/invoke", "InvokeModel", "amazon.titan-embed-text-v2:0"},
		{"/model/arn%3Aaws%3Abedrock%3Aus-east-1%3A123%3Ainference-profile%2Fx/invoke-with-response-stream", "InvokeModelWithResponseStream", "arn:aws:bedrock:us-east-1:123:inference-profile/x"},
		{"/model/m/count-tokens", "CountTokens", "m"},
		{"/guardrail/g1/version/1/apply", "ApplyGuardrail", ""},
		{"/elsewhere", "call", ""},
	} {
		u, err := url.Parse("http://127.0.0.1" + c.path)
		if err != nil {
			t.Fatal(err)
		}
		if op, model := bedrockOperation(u); op != c.op || model != c.model {
			t.Errorf("%s: %q %q, want %q %q", c.path, op, model, c.op, c.model)
		}
	}
}

func TestBlocks(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{`"hi"`, `[{"type":"text","content":"hi"}]`},
		{`[{"text":"a"},{"toolUse":{"toolUseId":"t1","name":"f","input":{"x":1}}},{"toolResult":{"toolUseId":"t1","content":[{"text":"r"}]}},{"image":{}}]`,
			`[{"type":"text","content":"a"},{"type":"tool_call","id":"t1","name":"f","arguments":{"x":1}},{"type":"tool_call_response","id":"t1","response":[{"text":"r"}]},{"type":"blob"}]`},
		{`[{"type":"text","text":"b"},{"type":"tool_use","id":"u","name":"g","input":{}},{"type":"image","source":{}}]`,
			`[{"type":"text","content":"b"},{"type":"tool_call","id":"u","name":"g","arguments":{}},{"type":"image"}]`},
	} {
		got, _ := json.Marshal(blocks(json.RawMessage(c.in)))
		if string(got) != c.want {
			t.Errorf("blocks(%s) = %s, want %s", c.in, got, c.want)
		}
	}
}

func TestOffIsNil(t *testing.T) {
	tel, err := New(context.Background(), config.Telemetry{}, Options{})
	if err != nil || tel != nil {
		t.Fatalf("New(off) = %v, %v; want nil, nil", tel, err)
	}
	// A nil Telemetry flushes and shuts down as a no-op.
	if tel.ForceFlush(context.Background()) != nil || tel.Shutdown(context.Background()) != nil {
		t.Error("nil Telemetry returned an error")
	}
}

func TestProtocol(t *testing.T) {
	t.Setenv("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "")
	t.Setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "")
	if p := otlpProtocol(config.Telemetry{}); p != config.TelemetryHTTP {
		t.Errorf("default protocol %q", p)
	}
	t.Setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
	if p := otlpProtocol(config.Telemetry{}); p != config.TelemetryGRPC {
		t.Errorf("environment's protocol: %q", p)
	}
	if p := otlpProtocol(config.Telemetry{Protocol: config.TelemetryHTTP}); p != config.TelemetryHTTP {
		t.Errorf("the config must win: %q", p)
	}
}
