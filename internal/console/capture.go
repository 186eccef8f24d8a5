package console

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
)

// Capture wraps the gateway's upstream transport: it counts the Bedrock
// calls in flight per target (for the overview), and, for a playground
// call, keeps each Bedrock request as it went out, less its credentials.
type Capture struct {
	next     http.RoundTripper
	mu       sync.Mutex
	inFlight map[string]*atomic.Int64
}

// NewCapture wraps next.
func NewCapture(next http.RoundTripper) *Capture {
	return &Capture{next: next, inFlight: map[string]*atomic.Int64{}}
}

// BedrockRequest is a request sent to Bedrock as `quarry sign` prints one,
// without its signature, session token or API key.
type BedrockRequest struct {
	Method  string            `json:"method"`
	URL     string            `json:"url"`
	Headers map[string]string `json:"headers"`
	Body    string            `json:"body"`
}

type captureKey struct{}

type captured struct {
	mu   sync.Mutex
	reqs []BedrockRequest
}

func withCapture(ctx context.Context) (context.Context, *captured) {
	c := &captured{}
	return context.WithValue(ctx, captureKey{}, c), c
}

func (c *captured) list() []BedrockRequest {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]BedrockRequest(nil), c.reqs...)
}

// hidden are the headers that authorize a request: never shown.
var hidden = map[string]bool{"Authorization": true, "X-Amz-Security-Token": true}

// RoundTrip implements http.RoundTripper.
func (c *Capture) RoundTrip(r *http.Request) (*http.Response, error) {
	if cp, ok := r.Context().Value(captureKey{}).(*captured); ok {
		cp.add(r)
	}
	n := c.counter(targetOf(r.URL))
	n.Add(1)
	resp, err := c.next.RoundTrip(r)
	if err != nil || resp.Body == nil {
		n.Add(-1)
		return resp, err
	}
	resp.Body = &countedBody{ReadCloser: resp.Body, n: n}
	return resp, nil
}

// add records r as the console shows it. Apart from RoundTrip so that the
// frame every upstream call runs on stays small (see chatConverter.message
// in internal/openai).
func (cp *captured) add(r *http.Request) {
	br := BedrockRequest{Method: r.Method, URL: r.URL.String(), Headers: map[string]string{}}
	for k, v := range r.Header {
		if !hidden[http.CanonicalHeaderKey(k)] {
			br.Headers[k] = strings.Join(v, ",")
		}
	}
	if r.ContentLength > 0 {
		br.Headers["Content-Length"] = strconv.FormatInt(r.ContentLength, 10)
	}
	if r.GetBody != nil {
		if b, err := r.GetBody(); err == nil {
			body, _ := io.ReadAll(io.LimitReader(b, 1<<20))
			b.Close()
			br.Body = string(body)
		}
	}
	cp.mu.Lock()
	cp.reqs = append(cp.reqs, br)
	cp.mu.Unlock()
}

// InFlight is the number of calls to the Bedrock target (a model ID) whose
// answer has not been read to its end.
func (c *Capture) InFlight(target string) int64 {
	if c == nil {
		return 0
	}
	return c.counter(target).Load()
}

func (c *Capture) counter(target string) *atomic.Int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := c.inFlight[target]
	if n == nil {
		n = new(atomic.Int64)
		c.inFlight[target] = n
	}
	return n
}

// targetOf is the model ID in a Bedrock Runtime path: /model/{id}/{action}.
func targetOf(u *url.URL) string {
	p := u.EscapedPath()
	rest, ok := strings.CutPrefix(p, "/model/")
	if !ok {
		return ""
	}
	id, _, _ := strings.Cut(rest, "/")
	if s, err := url.PathUnescape(id); err == nil {
		return s
	}
	return id
}

// countedBody leaves the in-flight count once, at Close or the end.
type countedBody struct {
	io.ReadCloser
	n    *atomic.Int64
	once sync.Once
}

func (b *countedBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err != nil {
		b.done()
	}
	return n, err
}

func (b *countedBody) Close() error {
	b.done()
	return b.ReadCloser.Close()
}

func (b *countedBody) done() { b.once.Do(func() { b.n.Add(-1) }) }
