package server_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// telemetryConfig is a gateway on the built-in emulator with telemetry on,
// exporting to the collector over protocol. The emulator throttles half
// of nova-micro's calls with seed 1: its first call is throttled and the
// retry succeeds (a retried attempt).
func telemetryConfig(t *testing.T, c *collector, protocol string, capture bool) string {
	dir := t.TempDir()
	endpoint := c.GRPC
	if protocol == "http/protobuf" {
		endpoint = c.HTTP
	}
	emu := "faults:\n  rules:\n    - {model: amazon.nova-micro-v1:0, fault: throttle, rate: 0.5}\n"
	if err := os.WriteFile(filepath.Join(dir, "emulator.yaml"), []byte(emu), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := fmt.Sprintf(`version: v1
emulator: {enabled: true, seed: 1, config: emulator.yaml}
telemetry:
  enabled: true
  endpoint: %s
  protocol: %s
  headers: {x-test-token: secret-token}
  capture_content: %v
  service_name: quarry-test
models:
  - name: nova-lite
    from: bedrock:us.amazon.nova-lite-v1:0
  - name: nova-micro
    from: bedrock:amazon.nova-micro-v1:0
embeddings:
  - name: titan-embed
    from: bedrock:amazon.titan-embed-text-v2:0
`, endpoint, protocol, capture)
	path := filepath.Join(dir, "quarry.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func postTraced(t *testing.T, url, body string, header map[string]string) string {
	t.Helper()
	resp, b := postMessages(t, url, "", body, header)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST %s = %d: %s", url, resp.StatusCode, b)
	}
	return resp.Header.Get("X-Request-Id")
}

// waitSpans flushes the gateway and reads the collector's file until want
// says everything arrived (the file exporter writes asynchronously).
func waitSpans(t *testing.T, g *gateway, c *collector, want func([]otlpSpan, map[string][]otlpPoint) bool) ([]otlpSpan, map[string]string, map[string][]otlpPoint) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if err := g.Server.FlushTelemetry(ctx); err != nil {
			t.Logf("flush: %v", err)
		}
		cancel()
		spans, res, metrics := c.exported(t)
		if want(spans, metrics) || time.Now().After(deadline) {
			return spans, res, metrics
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func byRequestID(spans []otlpSpan, id string) *otlpSpan {
	for i := range spans {
		if spans[i].attrs["quarry.request_id"] == id {
			return &spans[i]
		}
	}
	return nil
}

func children(spans []otlpSpan, parent *otlpSpan) []otlpSpan {
	var out []otlpSpan
	for _, s := range spans {
		if parent != nil && s.TraceID == parent.TraceID && s.ParentSpanID == parent.SpanID {
			out = append(out, s)
		}
	}
	return out
}

// checkAttrs reports every attribute of want that s lacks or has with
// another value ("*": any value).
func checkAttrs(t *testing.T, what string, got map[string]string, want map[string]string) {
	t.Helper()
	for k, v := range want {
		g, ok := got[k]
		switch {
		case !ok:
			t.Errorf("%s: no attribute %s (have %v)", what, k, got)
		case v != "*" && g != v:
			t.Errorf("%s: %s = %q, want %q", what, k, g, v)
		}
	}
}

func TestTelemetryCollector(t *testing.T) {
	c := startCollector(t)
	for _, protocol := range []string{"grpc", "http/protobuf"} {
		t.Run(protocol, func(t *testing.T) {
			g := startGateway(t, telemetryConfig(t, c, protocol, false), nil)
			// A client's traceparent: the request's span continues its trace.
			const traceID, parentID = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
			chatID := postTraced(t, g.URL+"/v1/chat/completions",
				`{"model":"nova-lite","max_tokens":50,"temperature":0.5,"top_p":0.9,"messages":[{"role":"user","content":"secret prompt text"}]}`,
				map[string]string{"traceparent": "00-" + traceID + "-" + parentID + "-01"})
			streamID := postTraced(t, g.URL+"/v1/chat/completions",
				`{"model":"nova-lite","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"Hello"}]}`, nil)
			embedID := postTraced(t, g.URL+"/v1/embeddings", `{"model":"titan-embed","input":"hello"}`, nil)
			retryID := postTraced(t, g.URL+"/v1/chat/completions", `{"model":"nova-micro","messages":[{"role":"user","content":"Hi"}]}`, nil)
			putEndpoint(t, g.URL, "/_inference/completion/traced", `{"service":"amazonbedrock","service_settings":{"access_key":"a","secret_key":"s",`+
				`"region":"us-east-1","provider":"amazontitan","model":"amazon.titan-text-premier-v1:0"}}`)
			inferID := postTraced(t, g.URL+"/_inference/completion/traced", `{"input":"hello"}`, nil)

			spans, res, metrics := waitSpans(t, g, c, func(s []otlpSpan, m map[string][]otlpPoint) bool {
				for _, id := range []string{chatID, streamID, embedID, retryID, inferID} {
					if byRequestID(s, id) == nil {
						return false
					}
				}
				return len(m["gen_ai.client.operation.duration"]) > 0 && len(m["gen_ai.client.token.usage"]) > 0 &&
					len(m["gen_ai.server.time_to_first_token"]) > 0
			})
			if res["service.name"] != "quarry-test" {
				t.Errorf("service.name = %q", res["service.name"])
			}

			chat := byRequestID(spans, chatID)
			if chat == nil {
				t.Fatalf("no span for the chat request; spans: %d", len(spans))
			}
			if chat.Name != "chat nova-lite" || chat.Kind != 2 {
				t.Errorf("chat span %q kind %d, want \"chat nova-lite\", server (2)", chat.Name, chat.Kind)
			}
			checkAttrs(t, "chat span", chat.attrs, map[string]string{
				"gen_ai.operation.name": "chat", "gen_ai.system": "aws.bedrock", "gen_ai.provider.name": "aws.bedrock",
				"gen_ai.request.model": "nova-lite", "gen_ai.response.model": "us.amazon.nova-lite-v1:0",
				"gen_ai.request.max_tokens": "50", "gen_ai.request.temperature": "0.5", "gen_ai.request.top_p": "0.9",
				"gen_ai.usage.input_tokens": "*", "gen_ai.usage.output_tokens": "*",
				"gen_ai.response.finish_reasons": `["end_turn"]`, "gen_ai.response.id": "*",
				"http.response.status_code": "200", "aws.request_id": "*",
			})
			if !strings.HasPrefix(chat.attrs["gen_ai.response.id"], "chatcmpl-") {
				t.Errorf("gen_ai.response.id = %q", chat.attrs["gen_ai.response.id"])
			}
			// traceparent: same trace, the client's span as parent.
			if chat.TraceID != traceID || chat.ParentSpanID != parentID {
				t.Errorf("chat span trace %s parent %s, want %s %s", chat.TraceID, chat.ParentSpanID, traceID, parentID)
			}
			att := children(spans, chat)
			if len(att) != 1 {
				t.Fatalf("chat: %d attempt spans, want 1", len(att))
			}
			checkAttrs(t, "chat attempt", att[0].attrs, map[string]string{
				"rpc.method": "Converse", "http.response.status_code": "200", "aws.request_id": chat.attrs["aws.request_id"],
				"http.request.resend_count": "0", "quarry.attempt": "1", "gen_ai.request.model": "us.amazon.nova-lite-v1:0",
				"quarry.target": "*",
			})
			// Content is not captured by default.
			for _, s := range spans {
				for k, v := range s.attrs {
					if strings.HasPrefix(k, "gen_ai.input") || strings.HasPrefix(k, "gen_ai.output") || strings.Contains(v, "secret prompt") {
						t.Errorf("span %q carries content: %s", s.Name, k)
					}
					if strings.Contains(v, "secret-token") {
						t.Errorf("span %q carries the exporter's header", s.Name)
					}
				}
			}

			stream := byRequestID(spans, streamID)
			if stream == nil {
				t.Fatal("no span for the stream")
			}
			checkAttrs(t, "stream span", stream.attrs, map[string]string{
				"gen_ai.operation.name": "chat", "gen_ai.request.model": "nova-lite", "gen_ai.usage.output_tokens": "*",
				"gen_ai.response.finish_reasons": `["end_turn"]`, "quarry.time_to_first_token": "*",
			})
			if a := children(spans, stream); len(a) != 1 || a[0].attrs["rpc.method"] != "ConverseStream" {
				t.Errorf("stream attempts: %+v", a)
			}
			if stream.ParentSpanID != "" {
				t.Errorf("a request without traceparent has parent %s", stream.ParentSpanID)
			}

			embed := byRequestID(spans, embedID)
			if embed == nil {
				t.Fatal("no span for the embedding")
			}
			if embed.Name != "embeddings titan-embed" {
				t.Errorf("embedding span %q", embed.Name)
			}
			checkAttrs(t, "embedding span", embed.attrs, map[string]string{
				"gen_ai.operation.name": "embeddings", "gen_ai.request.model": "titan-embed",
				"gen_ai.response.model": "amazon.titan-embed-text-v2:0", "gen_ai.usage.input_tokens": "*",
			})
			if a := children(spans, embed); len(a) != 1 || a[0].attrs["rpc.method"] != "InvokeModel" {
				t.Errorf("embedding attempts: %+v", a)
			}

			// Throttled, then retried inside the Bedrock client: two attempts.
			retry := byRequestID(spans, retryID)
			if retry == nil {
				t.Fatal("no span for the retried request")
			}
			att = children(spans, retry)
			if len(att) != 2 {
				t.Fatalf("retried request: %d attempt spans, want 2", len(att))
			}
			byAttempt := map[string]map[string]string{}
			for _, a := range att {
				byAttempt[a.attrs["quarry.attempt"]] = a.attrs
			}
			checkAttrs(t, "first attempt", byAttempt["1"], map[string]string{
				"http.response.status_code": "429", "error.type": "ThrottlingException", "http.request.resend_count": "0", "aws.request_id": "*"})
			checkAttrs(t, "second attempt", byAttempt["2"], map[string]string{
				"http.response.status_code": "200", "http.request.resend_count": "1"})
			checkAttrs(t, "retried request", retry.attrs, map[string]string{"http.response.status_code": "200", "gen_ai.request.model": "nova-micro"})

			// /_inference calls Bedrock with its endpoints' own clients:
			// their attempts are spans too.
			infer := byRequestID(spans, inferID)
			if infer == nil {
				t.Fatal("no span for the /_inference request")
			}
			if a := children(spans, infer); len(a) != 1 || a[0].attrs["rpc.method"] != "Converse" {
				t.Errorf("/_inference attempts: %+v", a)
			}

			// Metrics, by attribute set.
			findPoint := func(name string, want map[string]string) *otlpPoint {
				for i, p := range metrics[name] {
					ok := true
					for k, v := range want {
						ok = ok && p.attrs[k] == v
					}
					if ok {
						return &metrics[name][i]
					}
				}
				t.Errorf("%s: no data point with %v (have %d points)", name, want, len(metrics[name]))
				return nil
			}
			base := map[string]string{"gen_ai.operation.name": "chat", "gen_ai.provider.name": "aws.bedrock",
				"gen_ai.request.model": "nova-lite", "gen_ai.response.model": "us.amazon.nova-lite-v1:0"}
			if p := findPoint("gen_ai.client.operation.duration", base); p != nil && p.Count != "2" {
				t.Errorf("operation.duration count for nova-lite = %s, want 2", p.Count)
			}
			in := map[string]string{"gen_ai.token.type": "input"}
			for k, v := range base {
				in[k] = v
			}
			findPoint("gen_ai.client.token.usage", in)
			findPoint("gen_ai.client.token.usage", map[string]string{"gen_ai.operation.name": "embeddings", "gen_ai.token.type": "input", "gen_ai.request.model": "titan-embed"})
			findPoint("gen_ai.server.time_to_first_token", base)
		})
	}
}

// With capture_content: true the prompt and the answer are on the attempt
// span, in the GenAI conventions' message shape.
func TestTelemetryCaptureContent(t *testing.T) {
	c := startCollector(t)
	g := startGateway(t, telemetryConfig(t, c, "grpc", true), nil)
	id := postTraced(t, g.URL+"/v1/chat/completions",
		`{"model":"nova-lite","messages":[{"role":"system","content":"be brief"},{"role":"user","content":"secret prompt text"}]}`, nil)
	spans, _, _ := waitSpans(t, g, c, func(s []otlpSpan, _ map[string][]otlpPoint) bool { return byRequestID(s, id) != nil })
	req := byRequestID(spans, id)
	if req == nil {
		t.Fatal("no request span")
	}
	att := children(spans, req)
	if len(att) != 1 {
		t.Fatalf("%d attempt spans", len(att))
	}
	a := att[0].attrs
	if got := a["gen_ai.input.messages"]; !strings.Contains(got, `{"role":"user","parts":[{"type":"text","content":"secret prompt text"}]}`) {
		t.Errorf("gen_ai.input.messages = %s", got)
	}
	if got := a["gen_ai.system_instructions"]; !strings.Contains(got, "be brief") {
		t.Errorf("gen_ai.system_instructions = %s", got)
	}
	if got := a["gen_ai.output.messages"]; !strings.Contains(got, `"role":"assistant"`) || !strings.Contains(got, `"finish_reason":"end_turn"`) {
		t.Errorf("gen_ai.output.messages = %s", got)
	}
}

// TestTelemetryFailover: a model group whose first target throttles every
// call: the request's span has one attempt span per target, each named by
// its target, the first a 429 and the second a 200, and the answer names
// the target that served it.
func TestTelemetryFailover(t *testing.T) {
	c := startCollector(t)
	dir := t.TempDir()
	emu := "faults:\n  rules:\n    - {model: amazon.nova-pro-v1:0, fault: throttle, rate: 1}\n"
	if err := os.WriteFile(filepath.Join(dir, "emulator.yaml"), []byte(emu), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := fmt.Sprintf(`version: v1
emulator: {enabled: true, seed: 1, config: emulator.yaml}
telemetry: {enabled: true, endpoint: %s, protocol: http/protobuf, service_name: quarry-test}
models:
  - name: group
    strategy: priority
    targets:
      - {name: east, from: "bedrock:amazon.nova-pro-v1:0"}
      - {name: west, from: "bedrock:amazon.nova-lite-v1:0"}
`, c.HTTP)
	path := filepath.Join(dir, "quarry.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	g := startGateway(t, path, nil)
	req, _ := http.NewRequest("POST", g.URL+"/v1/chat/completions", strings.NewReader(`{"model":"group","messages":[{"role":"user","content":"Hi"}]}`))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("X-Quarry-Target") != "west" {
		t.Fatalf("status %d, x-quarry-target %q; want 200 from west", resp.StatusCode, resp.Header.Get("X-Quarry-Target"))
	}
	id := resp.Header.Get("X-Request-Id")
	spans, _, _ := waitSpans(t, g, c, func(s []otlpSpan, _ map[string][]otlpPoint) bool { return byRequestID(s, id) != nil })
	span := byRequestID(spans, id)
	checkAttrs(t, "failed-over request", span.attrs, map[string]string{"http.response.status_code": "200", "gen_ai.request.model": "group"})
	att := children(spans, span)
	if len(att) != 2 {
		t.Fatalf("%d attempt spans, want one per target", len(att))
	}
	byAttempt := map[string]map[string]string{}
	for _, a := range att {
		byAttempt[a.attrs["quarry.attempt"]] = a.attrs
	}
	checkAttrs(t, "first attempt", byAttempt["1"], map[string]string{"quarry.target": "east", "http.response.status_code": "429", "error.type": "ThrottlingException"})
	checkAttrs(t, "second attempt", byAttempt["2"], map[string]string{"quarry.target": "west", "http.response.status_code": "200"})
}
