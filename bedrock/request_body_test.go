package bedrock

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"testing"
	"weak"
)

// TestStreamLetsGoOfItsBody: once a stream has its response, the client
// keeps no reference to the request body, over HTTP/2 and HTTP/1.1, though
// net/http keeps the request for as long as the stream is open; a stream's
// body is a conversation, often hundreds of KB. Over HTTP/2 nothing keeps
// the request the client built, which the response pointed to; over
// HTTP/1.1 net/http's Transport does (in its map for CancelRequest).
func TestStreamLetsGoOfItsBody(t *testing.T) {
	for _, h2 := range []bool{true, false} {
		name := map[bool]string{true: "HTTP/2", false: "HTTP/1.1"}[h2]
		t.Run(name, func(t *testing.T) {
			release := make(chan struct{})
			srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				io.Copy(io.Discard, r.Body)
				if r.ProtoMajor != map[bool]int{true: 2, false: 1}[h2] {
					t.Errorf("request over %s", r.Proto)
				}
				w.Header().Set("Content-Type", "application/vnd.amazon.eventstream")
				w.Write(invChunk(t, invTitanChunk1))
				w.(http.Flusher).Flush()
				select {
				case <-release:
					w.Write(invChunk(t, invTitanChunk2))
				case <-r.Context().Done():
				}
			}))
			srv.EnableHTTP2 = h2
			srv.StartTLS()
			t.Cleanup(srv.Close)
			defer close(release)
			hc := srv.Client()
			seen := &seenRequests{next: hc.Transport}
			hc.Transport = seen
			c, err := New(context.Background(), Config{Endpoint: srv.URL, HTTPClient: hc,
				AccessKeyID: "AKID", SecretAccessKey: "SECRET", Region: "us-east-1"})
			if err != nil {
				t.Fatal(err)
			}
			s, body := openWithBody(t, c, 1<<20)
			defer s.Close()
			if !s.Next() {
				t.Fatalf("no first chunk: %v", s.Err())
			}
			runtime.GC()
			if body.Value() != nil {
				t.Error("the open stream still holds its request body")
			}
			if h2 && seen.last.Value() != nil {
				t.Error("the open stream still holds the request the client built")
			}
		})
	}
}

// seenRequests is a transport that keeps a weak pointer to the last
// request it sent.
type seenRequests struct {
	next http.RoundTripper
	last weak.Pointer[http.Request]
}

func (s *seenRequests) RoundTrip(r *http.Request) (*http.Response, error) {
	s.last = weak.Make(r)
	return s.next.RoundTrip(r)
}

// openWithBody opens a stream with a body of n bytes, and returns it with a
// weak pointer to the body: nothing of the caller's holds it.
func openWithBody(t *testing.T, c *Client, n int) (*InvokeStream, weak.Pointer[byte]) {
	t.Helper()
	b := make([]byte, n)
	copy(b, `{"inputText":"hello"}`)
	for i := len(`{"inputText":"hello"}`); i < n; i++ {
		b[i] = ' '
	}
	s, err := c.InvokeModelWithResponseStream(context.Background(), "amazon.titan-text-express-v1", &InvokeModelInput{Body: b})
	if err != nil {
		t.Fatal(err)
	}
	return s, weak.Make(&b[0])
}

// TestRequestBody: what requestBody reads, and what GetBody gives before
// and after the attempt returns.
func TestRequestBody(t *testing.T) {
	b := &requestBody{rest: []byte("hello"), all: []byte("hello")}
	again, err := b.reopen()
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range []io.Reader{b, again} {
		got, err := io.ReadAll(r)
		if err != nil || string(got) != "hello" {
			t.Errorf("body %d: %q, %v", i, got, err)
		}
	}
	if b.rest != nil {
		t.Error("the body read to its end still holds its bytes")
	}
	if n, err := b.Read(make([]byte, 8)); n != 0 || err != io.EOF {
		t.Errorf("read past the end: %d, %v", n, err)
	}
	b.sent()
	if _, err := b.reopen(); !errors.Is(err, errBodyReleased) {
		t.Errorf("GetBody after the attempt: %v, want errBodyReleased", err)
	}
}
