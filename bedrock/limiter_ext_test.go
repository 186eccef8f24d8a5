package bedrock

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"
)

// countingLimiter admits while open and counts admissions and releases.
type countingLimiter struct {
	deny              error
	acquired, release atomic.Int32
	deadline          atomic.Bool // Acquire saw a deadline
}

func (l *countingLimiter) Acquire(ctx context.Context) (func(), error) {
	_, ok := ctx.Deadline()
	l.deadline.Store(ok)
	if l.deny != nil {
		return nil, l.deny
	}
	l.acquired.Add(1)
	return func() { l.release.Add(1) }, nil
}

type deniedErr struct{}

func (deniedErr) Error() string { return "denied by the shared limit" }

// TestConfigLimiter: Config.Limiter admits every call once, gets its release
// once the response is read (JSON) or the stream closed, sees the queue
// timeout as a deadline, and its error reaches the caller matchable.
func TestConfigLimiter(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"output":{"message":{"role":"assistant","content":[{"text":"hi"}]}},"stopReason":"end_turn","usage":{"inputTokens":1,"outputTokens":1,"totalTokens":2}}`))
	}))
	defer srv.Close()
	newClient := func(l Limiter) *Client {
		c, err := New(context.Background(), Config{Region: "us-east-1", Endpoint: srv.URL, AccessKeyID: "AKIDEXAMPLE", SecretAccessKey: "secret",
			RequestsPerMinute: -1, MaxConcurrent: -1, Limiter: l})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	req := &ConverseRequest{Messages: []Message{{Role: "user", Content: []ContentBlock{{Text: "hi"}}}}}

	l := &countingLimiter{}
	c := newClient(l)
	for range 3 {
		if _, err := c.Converse(context.Background(), "amazon.nova-lite-v1:0", req, WithQueueTimeout(time.Second)); err != nil {
			t.Fatal(err)
		}
	}
	if l.acquired.Load() != 3 || l.release.Load() != 3 || !l.deadline.Load() {
		t.Errorf("acquired %d, released %d, deadline %v; want 3, 3, true", l.acquired.Load(), l.release.Load(), l.deadline.Load())
	}

	denied := &countingLimiter{deny: deniedErr{}}
	_, err := newClient(denied).Converse(context.Background(), "amazon.nova-lite-v1:0", req)
	var de deniedErr
	var oe *OpError
	if !errors.As(err, &de) || !errors.As(err, &oe) {
		t.Errorf("err = %v (%T), want the limiter's error in an *OpError", err, err)
	}
}
