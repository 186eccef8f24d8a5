package bedrock

import (
	"context"
	"encoding/pem"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/quarry-dev/quarry/emulator"
)

// testProto is what this package's test servers (newFakeBedrock, stServer)
// and clients (mustNew, cvTestClient) speak: "" plain HTTP/1.1, "h2" HTTPS
// negotiating HTTP/2, "h1" HTTPS with HTTP/1.1 forced by Config.HTTP1Only.
// TestExistingTestsOverTLS sets it to run existing tests over both.
var testProto string

// startTestServer starts srv as testProto says. Over TLS it makes the
// client's default transport trust srv's certificate (AWS_CA_BUNDLE, read
// by New) and fails the test if a request arrives over the wrong protocol.
func startTestServer(t *testing.T, srv *httptest.Server) {
	t.Helper()
	if testProto == "" {
		srv.Start()
		return
	}
	wantMajor := map[string]int{"h2": 2, "h1": 1}[testProto]
	var wrong atomic.Int64
	next := srv.Config.Handler
	srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ProtoMajor != wantMajor {
			wrong.Add(1)
		}
		next.ServeHTTP(w, r)
	})
	srv.EnableHTTP2 = true // the server offers h2; the client decides
	srv.StartTLS()
	bundle := filepath.Join(t.TempDir(), "ca.pem")
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	if err := os.WriteFile(bundle, pemBytes, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("AWS_CA_BUNDLE", bundle)
	t.Cleanup(func() {
		if n := wrong.Load(); n > 0 {
			t.Errorf("%d requests arrived over HTTP/%d.x, want HTTP/%d (%s)", n, 3-wantMajor, wantMajor, testProto)
		}
	})
}

// withTestProto forces HTTP/1.1 in "h1" mode.
func withTestProto(cfg Config) Config {
	if testProto == "h1" && cfg.HTTPClient == nil {
		cfg.HTTP1Only = true
	}
	return cfg
}

// TestExistingTestsOverTLS runs the client's retry, cancellation, slot
// accounting and event-stream tests again over HTTPS, once negotiating
// HTTP/2 and once with HTTP/1.1 forced: they must behave the same.
func TestExistingTestsOverTLS(t *testing.T) {
	tests := []struct {
		name string
		fn   func(*testing.T)
	}{
		{"StreamCloseMidStream", TestStreamCloseMidStream},
		{"StreamCloseUnblocksNext", TestStreamCloseUnblocksNext},
		{"StreamContextCancel", TestStreamContextCancel},
		{"StreamInStreamException", TestStreamInStreamException},
		{"StreamUnknownEventsSkipped", TestStreamUnknownEventsSkipped},
		{"StreamTruncatedFinalFrame", TestStreamTruncatedFinalFrame},
		{"StreamBadEventPayload", TestStreamBadEventPayload},
		{"StreamAllBreak", TestStreamAllBreak},
		{"RetryPolicyOutcomes", TestRetryPolicyOutcomes},
		{"RetryMaxAttemptsOne", TestRetryMaxAttemptsOne},
		{"RetryNotAfterResponseStarted", TestRetryNotAfterResponseStarted},
		{"RetryContextCancelledDuringBackoff", TestRetryContextCancelledDuringBackoff},
		{"RetryNotAfterStreamStarted", TestRetryNotAfterStreamStarted},
		{"DoJSONReleasesItsSlotOnce", TestDoJSONReleasesItsSlotOnce},
		{"MaxConcurrentHolds", TestMaxConcurrentHolds},
		{"SlotHeldUntilBodyClosed", TestSlotHeldUntilBodyClosed},
		{"CancelledContextIsNotALimit", TestCancelledContextIsNotALimit},
		{"OpErrorWrapping", TestOpErrorWrapping},
	}
	for _, proto := range []string{"h2", "h1"} {
		t.Run(proto, func(t *testing.T) {
			testProto = proto
			t.Cleanup(func() { testProto = "" })
			for _, tt := range tests {
				t.Run(tt.name, tt.fn)
			}
		})
	}
}

// TestClientNegotiatesHTTP2 is the client against the emulator's TLS
// listener: by default every call (Converse, ConverseStream) arrives over
// HTTP/2 and concurrent streams share one connection; with HTTP1Only every
// call arrives over HTTP/1.1.
func TestClientNegotiatesHTTP2(t *testing.T) {
	for _, tt := range []struct {
		name      string
		http1Only bool
		wantH2    bool
	}{{"default negotiates h2", false, true}, {"HTTP1Only", true, false}} {
		t.Run(tt.name, func(t *testing.T) {
			isolateAWSEnv(t)
			emu, err := emulator.NewServer(emulator.Config{TLS: &emulator.TLSConfig{Dir: t.TempDir()}})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(emu.Close)
			t.Setenv("AWS_CA_BUNDLE", emu.CAFile)
			var dials atomic.Int64
			c := mustNew(t, Config{Endpoint: emu.URL, AccessKeyID: "test", SecretAccessKey: "test", Region: "us-east-1", HTTP1Only: tt.http1Only})
			tr := c.httpc.Transport.(*http.Transport)
			dial := tr.DialContext
			tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
				dials.Add(1)
				return dial(ctx, network, addr)
			}
			ctx := context.Background()
			req := &ConverseRequest{Messages: []Message{UserText("Say hello")}}
			if _, err := c.Converse(ctx, "amazon.nova-lite-v1:0", req); err != nil {
				t.Fatalf("Converse: %v", err)
			}
			// Four streams open at once.
			const n = 4
			streams := make([]*ConverseStream, n)
			for i := range streams {
				s, err := c.ConverseStream(ctx, "amazon.nova-lite-v1:0", req)
				if err != nil {
					t.Fatalf("ConverseStream %d: %v", i, err)
				}
				if !s.Next() {
					t.Fatalf("stream %d: no first event: %v", i, s.Err())
				}
				streams[i] = s
			}
			for i, s := range streams {
				events := 1
				for s.Next() {
					events++
				}
				if events < 3 {
					t.Errorf("stream %d: %d events", i, events)
				}
				if err := s.Err(); err != nil {
					t.Fatalf("stream %d: %v", i, err)
				}
				s.Close()
			}
			if got := c.limiter.inFlight(); got != 0 {
				t.Errorf("%d limiter slots still held", got)
			}
			st := emu.Stats()
			total := st.Requests["Converse"] + st.Requests["ConverseStream"]
			if total != 1+n {
				t.Fatalf("emulator saw %d calls, want %d", total, 1+n)
			}
			wantH2 := int64(0)
			if tt.wantH2 {
				wantH2 = total
			}
			if st.HTTP2 != wantH2 {
				t.Errorf("%d of %d calls over HTTP/2, want %d", st.HTTP2, total, wantH2)
			}
			// HTTP/2 multiplexes the concurrent streams on one connection;
			// HTTP/1.1 needs one per stream open at once.
			if tt.wantH2 && dials.Load() != 1 {
				t.Errorf("%d connections dialled over HTTP/2, want 1", dials.Load())
			}
			if !tt.wantH2 && dials.Load() < n {
				t.Errorf("%d connections dialled over HTTP/1.1 for %d concurrent streams, want >= %d", dials.Load(), n, n)
			}
		})
	}
}

// TestHTTP1OnlyWithHTTPClient: HTTP1Only cannot apply to a caller's client.
func TestHTTP1OnlyWithHTTPClient(t *testing.T) {
	_, err := New(context.Background(), Config{APIKey: "k", HTTP1Only: true, HTTPClient: http.DefaultClient})
	var ce *ConfigError
	if !errors.As(err, &ce) || ce.Field != "HTTP1Only" {
		t.Fatalf("err = %v, want a ConfigError on HTTP1Only", err)
	}
}
