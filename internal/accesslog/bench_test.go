package accesslog

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// discardWriter is a ResponseWriter that keeps nothing, so the benchmark
// measures the middleware rather than httptest.ResponseRecorder.
type discardWriter struct{ h http.Header }

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w *discardWriter) WriteHeader(int)             {}

// BenchmarkMiddleware is the middleware's own cost for a typical chat
// completion: a fresh request ID, the fields a handler sets, one JSON log
// line and the done hook.
func BenchmarkMiddleware(b *testing.B) {
	logger := slog.New(slog.NewJSONHandler(io.Discard, nil))
	h := Middleware(logger, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e := From(r.Context())
		e.SetSurface("openai")
		e.SetModel("nova-micro")
		e.SetUpstreamRequestID("0b6a4f9e-1c2d-4e5f-8a9b-0c1d2e3f4a5b")
		e.AddTokens(12, 34, 0)
		w.Write([]byte("{}"))
	}), func(*http.Request, int, time.Duration, Snapshot) {})
	req := httptest.NewRequest("POST", "/v1/chat/completions", nil)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		w := &discardWriter{h: http.Header{}}
		for pb.Next() {
			clear(w.h)
			h.ServeHTTP(w, req)
		}
	})
}
