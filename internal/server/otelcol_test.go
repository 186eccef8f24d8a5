package server_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// collector is a real OpenTelemetry Collector (tools/otelcol: OTLP
// receiver, file exporter) started for one test.
type collector struct {
	GRPC, HTTP string // OTLP endpoints, http://127.0.0.1:port
	out        string // the file exporter's JSON lines
}

// startCollector runs the collector QUARRY_TEST_OTELCOL names, or skips
// (fails under QUARRY_REQUIRE_OTELCOL=1).
func startCollector(t *testing.T) *collector {
	t.Helper()
	bin := os.Getenv("QUARRY_TEST_OTELCOL")
	if bin == "" {
		msg := "no collector: build one with (cd tools/otelcol && go build -o /tmp/otelcol .) and set QUARRY_TEST_OTELCOL=/tmp/otelcol"
		if os.Getenv("QUARRY_REQUIRE_OTELCOL") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	dir := t.TempDir()
	c := &collector{out: filepath.Join(dir, "out.jsonl")}
	grpcPort, httpPort := freePort(t), freePort(t)
	c.GRPC, c.HTTP = "http://127.0.0.1:"+grpcPort, "http://127.0.0.1:"+httpPort
	cfg := fmt.Sprintf(`receivers:
  otlp:
    protocols:
      grpc: {endpoint: "127.0.0.1:%s"}
      http: {endpoint: "127.0.0.1:%s"}
exporters:
  file:
    path: %q
service:
  telemetry:
    metrics: {level: none}
    logs: {level: warn}
  pipelines:
    traces: {receivers: [otlp], exporters: [file]}
    metrics: {receivers: [otlp], exporters: [file]}
`, grpcPort, httpPort, c.out)
	cfgPath := filepath.Join(dir, "otelcol.yaml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	cmd := exec.Command(bin, "--config", "file:"+cfgPath)
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
		if t.Failed() {
			t.Logf("collector output:\n%s", logs.String())
		}
	})
	// Ready once both receivers accept connections.
	deadline := time.Now().Add(30 * time.Second)
	for _, p := range []string{grpcPort, httpPort} {
		for {
			conn, err := net.Dial("tcp", "127.0.0.1:"+p)
			if err == nil {
				conn.Close()
				break
			}
			select {
			case <-exited:
				t.Fatalf("collector exited: %s", logs.String())
			default:
			}
			if time.Now().After(deadline) {
				t.Fatalf("collector not listening on %s: %v\n%s", p, err, logs.String())
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	return c
}

func freePort(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
}

// otlpAttr is an OTLP JSON attribute.
type otlpAttr struct {
	Key   string `json:"key"`
	Value struct {
		String *string  `json:"stringValue"`
		Int    *string  `json:"intValue"` // int64 as a JSON string
		Double *float64 `json:"doubleValue"`
		Array  *struct {
			Values []struct {
				String string `json:"stringValue"`
			} `json:"values"`
		} `json:"arrayValue"`
	} `json:"value"`
}

// text renders a value as the tests compare it.
func (a otlpAttr) text() string {
	v := a.Value
	switch {
	case v.String != nil:
		return *v.String
	case v.Int != nil:
		return *v.Int
	case v.Double != nil:
		return strconv.FormatFloat(*v.Double, 'g', -1, 64)
	case v.Array != nil:
		var b []string
		for _, x := range v.Array.Values {
			b = append(b, x.String)
		}
		s, _ := json.Marshal(b)
		return string(s)
	}
	return ""
}

type otlpSpan struct {
	TraceID      string     `json:"traceId"`
	SpanID       string     `json:"spanId"`
	ParentSpanID string     `json:"parentSpanId"`
	Name         string     `json:"name"`
	Kind         int        `json:"kind"`
	Attributes   []otlpAttr `json:"attributes"`
	attrs        map[string]string
}

type otlpPoint struct {
	Attributes []otlpAttr `json:"attributes"`
	Count      string     `json:"count"`
	Sum        float64    `json:"sum"`
	attrs      map[string]string
}

type otlpMetric struct {
	Name      string `json:"name"`
	Unit      string `json:"unit"`
	Histogram *struct {
		DataPoints  []otlpPoint `json:"dataPoints"`
		Temporality int         `json:"aggregationTemporality"`
	} `json:"histogram"`
}

type otlpLine struct {
	ResourceSpans []struct {
		Resource struct {
			Attributes []otlpAttr `json:"attributes"`
		} `json:"resource"`
		ScopeSpans []struct {
			Spans []otlpSpan `json:"spans"`
		} `json:"scopeSpans"`
	} `json:"resourceSpans"`
	ResourceMetrics []struct {
		ScopeMetrics []struct {
			Metrics []otlpMetric `json:"metrics"`
		} `json:"scopeMetrics"`
	} `json:"resourceMetrics"`
}

func attrMap(as []otlpAttr) map[string]string {
	m := make(map[string]string, len(as))
	for _, a := range as {
		m[a.Key] = a.text()
	}
	return m
}

// exported reads what the collector has written so far: every span, the
// resource attributes seen, and the last data points of each metric.
func (c *collector) exported(t *testing.T) (spans []otlpSpan, resource map[string]string, metrics map[string][]otlpPoint) {
	t.Helper()
	data, err := os.ReadFile(c.out)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	resource, metrics = map[string]string{}, map[string][]otlpPoint{}
	// A line still being written is read next time.
	data = data[:bytes.LastIndexByte(data, '\n')+1]
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 64<<20)
	for sc.Scan() {
		var l otlpLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("collector output: %v", err)
		}
		for _, rs := range l.ResourceSpans {
			for k, v := range attrMap(rs.Resource.Attributes) {
				resource[k] = v
			}
			for _, ss := range rs.ScopeSpans {
				for _, s := range ss.Spans {
					s.attrs = attrMap(s.Attributes)
					spans = append(spans, s)
				}
			}
		}
		for _, rm := range l.ResourceMetrics {
			for _, sm := range rm.ScopeMetrics {
				for _, m := range sm.Metrics {
					if m.Histogram == nil {
						continue
					}
					pts := m.Histogram.DataPoints
					for i := range pts {
						pts[i].attrs = attrMap(pts[i].Attributes)
					}
					// Cumulative temporality: the latest export has it all.
					metrics[m.Name] = pts
				}
			}
		}
	}
	return spans, resource, metrics
}
