package emulator

import (
	"bytes"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
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
	benchPosts(b, client, url, body, 0)
}

// benchPosts posts body to url from parallel goroutines and reports
// requests/s; proto, when set, is the HTTP major version every response
// must have come over.
func benchPosts(b *testing.B, client *http.Client, url string, body []byte, proto int) {
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
			if resp.StatusCode != 200 || (proto != 0 && resp.ProtoMajor != proto) {
				b.Errorf("%s status %d", resp.Proto, resp.StatusCode)
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

// benchWriter is a reusable http.ResponseWriter (and Flusher) that discards
// the body, so that BenchmarkHandler* measure the emulator's handler alone,
// without net/http or the loopback.
type benchWriter struct {
	h      http.Header
	status int
	n      int
}

func (w *benchWriter) Header() http.Header         { return w.h }
func (w *benchWriter) WriteHeader(s int)           { w.status = s }
func (w *benchWriter) Write(p []byte) (int, error) { w.n += len(p); return len(p), nil }
func (w *benchWriter) Flush()                      {}

// benchHandler serves the same Converse(Stream) request to the handler b.N
// times: unsigned (NoAuth) or signed once with the default test/test keys.
func benchHandler(b *testing.B, stream, signed bool) {
	em, err := New(Config{NoAuth: !signed})
	if err != nil {
		b.Fatal(err)
	}
	op := "converse"
	if stream {
		op = "converse-stream"
	}
	path := "/model/amazon.nova-lite-v1%3A0/" + op
	body := []byte(`{"messages":[{"role":"user","content":[{"text":"Explain how solar panels convert sunlight into electricity"}]}],"inferenceConfig":{"maxTokens":200}}`)
	hdr := http.Header{"Content-Type": {"application/json"}}
	if signed {
		hdr = signedBenchHeader(b, path, body)
	}
	w := &benchWriter{}
	b.ReportAllocs()
	for b.Loop() {
		r, _ := http.NewRequest(http.MethodPost, "http://127.0.0.1:4566"+path, bytes.NewReader(body))
		r.RequestURI = path
		r.Header = hdr
		w.h, w.status = http.Header{}, 0
		em.ServeHTTP(w, r)
		if w.status != 200 {
			b.Fatalf("status %d", w.status)
		}
	}
}

// signedBenchHeader signs path and body as the AWS SDKs would (SigV4 with
// the emulator's default test/test keys, now), with the emulator's own
// canonicalisation, so the header verifies for the next few minutes.
func signedBenchHeader(b *testing.B, path string, body []byte) http.Header {
	now := time.Now().UTC()
	amzDate, date := now.Format("20060102T150405Z"), now.Format("20060102")
	h := http.Header{"Content-Type": {"application/json"}, "X-Amz-Date": {amzDate}}
	r, _ := http.NewRequest(http.MethodPost, "http://127.0.0.1:4566"+path, nil)
	r.Header = h
	r.Host = "127.0.0.1:4566"
	sum := sha256.Sum256(body)
	signed := "content-type;host;x-amz-date"
	canon := canonicalRequest(r, path, signed, hex.EncodeToString(sum[:]))
	ch := sha256.Sum256([]byte(canon))
	scope := date + "/us-east-1/bedrock/aws4_request"
	sts := "AWS4-HMAC-SHA256\n" + amzDate + "\n" + scope + "\n" + hex.EncodeToString(ch[:])
	v := newVerifier(Config{Credentials: []Credential{{AccessKeyID: "test", SecretAccessKey: "test"}}})
	sig := hex.EncodeToString(hmacSHA256(v.signingKey("test", date, "us-east-1", "bedrock"), []byte(sts)))
	h.Set("Authorization", "AWS4-HMAC-SHA256 Credential=test/"+scope+", SignedHeaders="+signed+", Signature="+sig)
	return h
}

// BenchmarkHandlerConverse is the emulator's per-request CPU for Converse,
// handler only (no net/http, no loopback).
func BenchmarkHandlerConverse(b *testing.B) { benchHandler(b, false, false) }

// BenchmarkHandlerConverseSigV4 adds SigV4 verification.
func BenchmarkHandlerConverseSigV4(b *testing.B) { benchHandler(b, false, true) }

// BenchmarkHandlerConverseStream is BenchmarkHandlerConverse for a stream.
func BenchmarkHandlerConverseStream(b *testing.B) { benchHandler(b, true, false) }

// BenchmarkConverseTransports measures non-streaming Converse requests/s
// over each transport the emulator serves: HTTP/1.1, h2c (prior knowledge)
// and TLS (h2). Run with GOMAXPROCS=1 for per-core figures:
//
//	GOMAXPROCS=1 go test -run '^$' -bench BenchmarkConverseTransports -benchtime=3s ./emulator
func BenchmarkConverseTransports(b *testing.B) {
	body := []byte(`{"messages":[{"role":"user","content":[{"text":"Explain how solar panels convert sunlight into electricity"}]}],"inferenceConfig":{"maxTokens":200}}`)
	for _, tr := range []struct {
		name string
		tls  bool
		h2   bool
	}{{"http1", false, false}, {"h2c", false, true}, {"tls-h2", true, true}} {
		b.Run(tr.name, func(b *testing.B) {
			cfg := Config{NoAuth: true}
			if tr.tls {
				cfg.TLS = &TLSConfig{Dir: b.TempDir()}
			}
			srv, err := NewServer(cfg)
			if err != nil {
				b.Fatal(err)
			}
			defer srv.Close()
			t := &http.Transport{MaxIdleConnsPerHost: 64, DialContext: (&net.Dialer{Timeout: 5 * time.Second}).DialContext}
			var p http.Protocols
			switch {
			case tr.tls:
				t.TLSClientConfig = &tls.Config{RootCAs: srv.CertPool}
				p.SetHTTP2(true)
			case tr.h2:
				p.SetUnencryptedHTTP2(true)
			default:
				p.SetHTTP1(true)
			}
			t.Protocols = &p
			defer t.CloseIdleConnections()
			client := &http.Client{Transport: t}
			proto := 1
			if tr.h2 {
				proto = 2
			}
			benchPosts(b, client, srv.URL+"/model/amazon.nova-lite-v1%3A0/converse", body, proto)
		})
	}
}
