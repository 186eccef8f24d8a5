package bedrock

import (
	"context"
	"errors"
	"io"
	"net/http"
	"testing"
	"time"
)

// doJSON holds its concurrency slot without a releasingBody and gives it
// back itself, and sendHeld gives it back on its own failures. Every path
// must give back exactly the one slot it took. The test holds another slot
// throughout, so that a second release shows as a count that drops below
// one (rather than as a release blocking on an empty limiter), and a
// missing one as a count above one.
func TestDoJSONReleasesItsSlotOnce(t *testing.T) {
	isolateAWSEnv(t)
	hit := make(chan struct{}, 16)
	tests := []struct {
		name    string
		respond func(w http.ResponseWriter, r *http.Request, n int64)
		retry   RetryPolicy
		cancel  bool // cancel the call once the server has answered once
		wantErr bool
	}{
		{"success", nil, fastRetry, false, false},
		{"undecodable response", func(w http.ResponseWriter, _ *http.Request, _ int64) {
			io.WriteString(w, `{"output":`)
		}, fastRetry, false, true},
		{"response cut short", func(w http.ResponseWriter, _ *http.Request, _ int64) {
			w.Header().Set("Content-Length", "100")
			io.WriteString(w, `{"output":`)
		}, fastRetry, false, true},
		{"not retryable", func(w http.ResponseWriter, _ *http.Request, _ int64) {
			w.Header().Set("X-Amzn-Errortype", "ValidationException")
			w.WriteHeader(http.StatusBadRequest)
			io.WriteString(w, `{"message":"no"}`)
		}, fastRetry, false, true},
		{"retries exhausted", func(w http.ResponseWriter, _ *http.Request, _ int64) {
			w.WriteHeader(http.StatusServiceUnavailable)
			io.WriteString(w, `{"message":"busy"}`)
		}, fastRetry, false, true},
		{"cancelled while retrying", func(w http.ResponseWriter, _ *http.Request, _ int64) {
			w.WriteHeader(http.StatusServiceUnavailable)
			io.WriteString(w, `{"message":"busy"}`)
			hit <- struct{}{}
		}, RetryPolicy{MaxAttempts: 5, BaseDelay: time.Hour, MaxDelay: time.Hour}, true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fb := newFakeBedrock(t, tt.respond)
			c := mustNew(t, Config{Endpoint: fb.URL, APIKey: "k", Retry: tt.retry, MaxConcurrent: 3, RequestsPerMinute: -1})
			if err := c.limiter.takeSlot(context.Background(), 0); err != nil {
				t.Fatal(err)
			}
			defer giveBack(c.limiter)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if tt.cancel {
				go func() { <-hit; cancel() }()
			}
			var out ConverseResponse
			_, err := c.doJSON(ctx, &call{op: "Converse", modelID: "m", action: "converse"}, struct{}{}, &out)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want an error: %v", err, tt.wantErr)
			}
			if n := c.limiter.inFlight(); n != 1 {
				t.Fatalf("InFlight = %d after the call, want 1 (the test's own slot)", n)
			}
		})
	}

	// send's body gives the slot back at its first Close only.
	t.Run("body closed twice", func(t *testing.T) {
		fb := newFakeBedrock(t, nil)
		c := mustNew(t, Config{Endpoint: fb.URL, APIKey: "k", MaxConcurrent: 3, RequestsPerMinute: -1})
		if err := c.limiter.takeSlot(context.Background(), 0); err != nil {
			t.Fatal(err)
		}
		defer giveBack(c.limiter)
		resp, err := c.send(context.Background(), &call{op: "ConverseStream", modelID: "m", action: "converse-stream", header: jsonHeader})
		if err != nil {
			t.Fatal(err)
		}
		if n := c.limiter.inFlight(); n != 2 {
			t.Fatalf("InFlight = %d with the body open, want 2", n)
		}
		resp.Body.Close()
		resp.Body.Close()
		if n := c.limiter.inFlight(); n != 1 {
			t.Fatalf("InFlight = %d after two Closes, want 1 (the test's own slot)", n)
		}
	})

	// A call that never got a slot gives none back.
	t.Run("no slot", func(t *testing.T) {
		fb := newFakeBedrock(t, nil)
		c := mustNew(t, Config{Endpoint: fb.URL, APIKey: "k", MaxConcurrent: 1, RequestsPerMinute: -1})
		if err := c.limiter.takeSlot(context.Background(), 0); err != nil {
			t.Fatal(err)
		}
		defer giveBack(c.limiter)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		var out ConverseResponse
		_, err := c.doJSON(context.Background(), &call{opts: callOptionsOf([]CallOption{WithQueueTimeout(time.Nanosecond)}), op: "Converse", modelID: "m", action: "converse"}, struct{}{}, &out)
		if !errors.Is(err, ErrLimited) {
			t.Fatalf("err = %v, want ErrLimited", err)
		}
		if _, err := c.doJSON(ctx, &call{op: "Converse", modelID: "m", action: "converse"}, struct{}{}, &out); !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v, want context.Canceled", err)
		}
		if n := c.limiter.inFlight(); n != 1 {
			t.Fatalf("InFlight = %d, want 1 (the test's own slot)", n)
		}
	})
}

// giveBack releases the test's own slot unless a faulty release already
// took it (a plain release would then block for good).
func giveBack(l *limiter) {
	select {
	case <-l.slots:
	default:
	}
}
