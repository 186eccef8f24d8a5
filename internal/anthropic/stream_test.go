package anthropic

import (
	"context"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/quarry-dev/quarry/bedrock"
	"github.com/quarry-dev/quarry/internal/accesslog"
)

// fakeStream yields n events and then ends.
type fakeStream struct {
	n      int
	closed atomic.Bool // Close may come from the context's watch too
}

func (f *fakeStream) Next() bool {
	if f.n == 0 {
		return false
	}
	f.n--
	return true
}
func (f *fakeStream) Err() error        { return nil }
func (f *fakeStream) Close() error      { f.closed.Store(true); return nil }
func (f *fakeStream) RequestID() string { return "req-1" }

// TestStreamTimerStopsWithStream: once a stream is cancelled, as every
// stream is when its handler returns, its idle bound is not armed any
// more, whether the stream ended through st.end or not (a refused finish
// reason, a client gone). An armed one held the request (its cancel, its
// context) for the idle bound, a minute by default, after the stream
// (6f79f7c).
func TestStreamTimerStopsWithStream(t *testing.T) {
	for _, viaEnd := range []bool{true, false} {
		synctest.Test(t, func(t *testing.T) {
			const idle = time.Minute
			h := NewHandler(nil, Options{UpstreamTimeout: time.Second, StreamIdleTimeout: idle})
			r := httptest.NewRequest("POST", "/v1/messages", strings.NewReader("{}"))
			c := &call{w: httptest.NewRecorder(), r: r, ctx: r.Context(), entry: accesslog.From(r.Context()),
				req: &request{Model: "m", Stream: true, Messages: []bedrock.AnthropicMessage{{Role: "user"}}}}
			var streamCtx context.Context
			s, st, events := openStream(h, c, func(ctx context.Context) (*fakeStream, error) {
				streamCtx = ctx
				return &fakeStream{n: 3}, nil
			})
			if events == nil || c.failed != nil {
				t.Fatalf("the stream did not start: %v", c.failed)
			}
			// Started, it holds the model name and nothing else of the
			// request (TestOpenStreamsLetGoOfTheRequest in internal/server).
			if c.req.Model != "m" || c.req.Messages != nil {
				t.Errorf("the open stream's request: %+v", c.req)
			}
			n := 0
			for st.next(s) {
				n++
			}
			if viaEnd {
				st.end(c, events, s.Err())
			}
			st.cancel()
			if n != 3 || !s.closed.Load() || streamCtx.Err() == nil {
				t.Fatalf("%d events, closed %v, context %v: want 3, the stream closed and its context done", n, s.closed.Load(), streamCtx.Err())
			}
			time.Sleep(2 * idle) // the bubble's clock: no wait
			if st.timer.Stop() {
				t.Errorf("ended through st.end: %v; the idle bound fired after the stream was cancelled: its timer was left armed", viaEnd)
			}
		})
	}
}
