package accesslog

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

func TestMiddleware(t *testing.T) {
	for _, c := range []struct {
		name, incoming string
		keep           bool
	}{
		{"fresh id", "", false},
		{"sane incoming id kept", "req-abc_123.x", true},
		{"log injection refused", "x\n{\"level\":\"ERROR\"}", false},
		{"too long refused", string(bytes.Repeat([]byte("a"), 200)), false},
	} {
		t.Run(c.name, func(t *testing.T) {
			var logs bytes.Buffer
			var done Snapshot
			h := Middleware(slog.New(slog.NewJSONHandler(&logs, nil)), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				e := From(r.Context())
				e.SetSurface("openai")
				e.SetModel("nova")
				e.SetUpstreamRequestID("bedrock-req-1")
				e.AddTokens(10, 5, 2)
				e.FirstToken()
				http.NewResponseController(w).Flush() // must reach the real writer through Recorder
				w.WriteHeader(http.StatusTeapot)
			}), func(_ *http.Request, status int, _ time.Duration, s Snapshot) {
				if status != http.StatusTeapot {
					t.Errorf("done status = %d", status)
				}
				done = s
			})
			req := httptest.NewRequest("GET", "/v1/x", nil)
			if c.incoming != "" {
				req.Header.Set("X-Request-Id", c.incoming)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			id := rec.Header().Get("X-Request-Id")
			if (id == c.incoming) != c.keep || id == "" || !validID(id) {
				t.Fatalf("X-Request-Id = %q (incoming %q)", id, c.incoming)
			}
			if !rec.Flushed {
				t.Error("Flush did not reach the underlying writer")
			}
			var line map[string]any
			if err := json.Unmarshal(logs.Bytes(), &line); err != nil {
				t.Fatalf("not one JSON line: %q", logs.String())
			}
			if line["request_id"] != id || line["upstream_request_id"] != "bedrock-req-1" || line["model"] != "nova" || line["status"] != float64(418) {
				t.Errorf("log line = %v", line)
			}
			if done.InputTokens != 10 || done.OutputTokens != 5 || done.CacheReadTokens != 2 || done.FirstToken <= 0 || done.Surface != "openai" {
				t.Errorf("snapshot = %+v", done)
			}
		})
	}
}

func TestFromWithoutMiddleware(t *testing.T) {
	e := From(httptest.NewRequest("GET", "/", nil).Context())
	e.SetModel("m") // a detached entry: usable, never nil
	if e.Snapshot().Model != "m" {
		t.Fatal("detached entry lost its field")
	}
}
