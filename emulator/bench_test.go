package emulator

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"testing"
	"time"
)

// benchClient is a keep-alive client over loopback.
func benchClient() *http.Client {
	return &http.Client{Transport: &http.Transport{
		MaxIdleConnsPerHost: 64,
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
	}}
}

// BenchmarkConverse measures non-streaming Converse over a real loopback
// listener with keep-alive connections (run with GOMAXPROCS=1 to see one
// core's throughput; the client shares that core).
func BenchmarkConverse(b *testing.B) {
	srv, err := NewServer(Config{NoAuth: true})
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Close()
	client := benchClient()
	url := srv.URL + "/model/amazon.nova-lite-v1%3A0/converse"
	body := []byte(`{"messages":[{"role":"user","content":[{"text":"Explain how solar panels convert sunlight into electricity"}]}],"inferenceConfig":{"maxTokens":200}}`)
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			resp, err := client.Post(url, "application/json", bytes.NewReader(body))
			if err != nil {
				b.Error(err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				b.Errorf("status %d", resp.StatusCode)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "req/s")
}

// BenchmarkConverseStream measures ConverseStream events per second.
func BenchmarkConverseStream(b *testing.B) {
	srv, err := NewServer(Config{NoAuth: true})
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Close()
	client := benchClient()
	url := srv.URL + "/model/anthropic.claude-3-haiku-20240307-v1%3A0/converse-stream"
	body := []byte(`{"messages":[{"role":"user","content":[{"text":"Describe the history of the printing press in Europe"}]}]}`)
	events := 0
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		resp, err := client.Post(url, "application/json", bytes.NewReader(body))
		if err != nil {
			b.Fatal(err)
		}
		data, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		// Count frames by walking the length prefixes.
		for len(data) >= 4 {
			n := int(data[0])<<24 | int(data[1])<<16 | int(data[2])<<8 | int(data[3])
			if n <= 0 || n > len(data) {
				break
			}
			data = data[n:]
			events++
		}
	}
	el := time.Since(start).Seconds()
	b.ReportMetric(float64(events)/el, "events/s")
	b.ReportMetric(float64(b.N)/el, "streams/s")
}

// BenchmarkGenerate measures the reply generator alone.
func BenchmarkGenerate(b *testing.B) {
	req := &genRequest{ModelID: "amazon.nova-lite-v1:0", Messages: []genMessage{{Role: "user", Text: "Explain how solar panels convert sunlight into electricity"}}}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		generate(0, req)
	}
}
