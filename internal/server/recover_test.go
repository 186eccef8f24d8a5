package server

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/quarry-dev/quarry/internal/accesslog"
)

// A panic before anything was written is a JSON 500; once the headers are
// out it aborts the connection instead (http.ErrAbortHandler, as
// httputil.ReverseProxy does), so the client sees a broken response, never
// an error body glued to a 200's.
func TestRecoverPanics(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		handler http.HandlerFunc
		status  int
		body    string // the whole body read, for a 500
		broken  bool   // reading the body fails
	}{
		{"before writing", func(w http.ResponseWriter, r *http.Request) { panic("boom") },
			500, `{"error":{"code":null,"message":"internal error","param":null,"type":"api_error"}}` + "\n", false},
		{"after the headers", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/event-stream")
			w.WriteHeader(http.StatusOK)
			io.WriteString(w, "data: {\"a\":1}\n\n")
			http.NewResponseController(w).Flush()
			panic("boom")
		}, 200, "", true},
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(accesslog.Middleware(log, recoverPanics(log, tt.handler), nil))
			defer srv.Close()
			resp, err := http.Get(srv.URL)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, rerr := io.ReadAll(resp.Body)
			if resp.StatusCode != tt.status || (rerr != nil) != tt.broken {
				t.Fatalf("status %d, read error %v; want %d, broken %v", resp.StatusCode, rerr, tt.status, tt.broken)
			}
			if tt.broken && strings.Contains(string(body), "internal error") {
				t.Errorf("an error body was written into the stream: %q", body)
			}
			if !tt.broken && string(body) != tt.body {
				t.Errorf("body %q, want %q", body, tt.body)
			}
		})
	}
}
