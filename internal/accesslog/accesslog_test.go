package accesslog

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
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

// The entry's context is the request's: the handler still sees the
// parent's values, deadline and cancellation, also through contexts derived
// from it, and finds its entry under each.
func TestMiddlewareContext(t *testing.T) {
	type parentKey struct{}
	parent, cancel := context.WithCancel(context.WithValue(context.Background(), parentKey{}, "parent value"))
	deadline := time.Now().Add(time.Hour)
	parent, cancelDeadline := context.WithDeadline(parent, deadline)
	defer cancelDeadline()
	var ids []string
	h := Middleware(slog.New(slog.DiscardHandler), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		if ctx.Value(parentKey{}) != "parent value" {
			t.Error("the parent's value is lost")
		}
		if d, ok := ctx.Deadline(); !ok || !d.Equal(deadline) {
			t.Errorf("deadline = %v, %v", d, ok)
		}
		child, stop := context.WithCancel(ctx)
		defer stop()
		ids = append(ids, From(ctx).ID, From(child).ID, From(context.WithoutCancel(child)).ID)
		select {
		case <-child.Done():
			t.Fatal("done before the parent was cancelled")
		default:
		}
		cancel()
		<-ctx.Done() // blocks forever if cancellation does not reach it
		<-child.Done()
		if !errors.Is(child.Err(), context.Canceled) || context.Cause(child) != context.Canceled {
			t.Errorf("child err %v, cause %v", child.Err(), context.Cause(child))
		}
	}), nil)
	req := httptest.NewRequest("GET", "/", nil).WithContext(parent)
	req.Header.Set("X-Request-Id", "ctx-test")
	h.ServeHTTP(httptest.NewRecorder(), req)
	if len(ids) != 3 || ids[0] != "ctx-test" || ids[1] != "ctx-test" || ids[2] != "ctx-test" {
		t.Errorf("entry IDs through the context chain: %q", ids)
	}
}

// Every field the handler sets reaches the log line, under its name, and
// the line of a 5xx is a warning.
func TestMiddlewareLogLine(t *testing.T) {
	var logs bytes.Buffer
	h := Middleware(slog.New(slog.NewJSONHandler(&logs, nil)), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e := From(r.Context())
		e.SetModel("nova")
		e.SetUpstreamRequestID("up-1")
		e.AddTokens(3, 4, 0)
		e.FirstToken()
		e.SetError("upstream_timeout")
		w.WriteHeader(http.StatusGatewayTimeout)
		w.Write([]byte("12345"))
	}), nil)
	req := httptest.NewRequest("POST", "/v1/chat/completions", nil)
	req.Header.Set("X-Request-Id", "line-test")
	h.ServeHTTP(httptest.NewRecorder(), req)
	var line map[string]any
	if err := json.Unmarshal(logs.Bytes(), &line); err != nil {
		t.Fatalf("not one JSON line: %q", logs.String())
	}
	want := map[string]any{"level": "WARN", "msg": "request", "request_id": "line-test", "method": "POST",
		"path": "/v1/chat/completions", "status": float64(504), "bytes": float64(5), "model": "nova",
		"upstream_request_id": "up-1", "input_tokens": float64(3), "output_tokens": float64(4), "error": "upstream_timeout"}
	for k, v := range want {
		if line[k] != v {
			t.Errorf("%s = %v, want %v", k, line[k], v)
		}
	}
	for _, k := range []string{"time", "duration", "first_token"} {
		if _, ok := line[k]; !ok {
			t.Errorf("no %s in %v", k, line)
		}
	}
	if len(line) != len(want)+3 {
		t.Errorf("unexpected keys in %v", line)
	}
}
