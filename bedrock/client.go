package bedrock

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// Version is the library version reported in the User-Agent.
const Version = "0.1.0"

// Client calls Bedrock Runtime. Create it once with New and share it: its
// credentials, limiter and connection pool are resolved once and reused.
type Client struct {
	region    string
	endpoint  string // base URL, no trailing slash
	basePath  string // escaped path of the endpoint, e.g. "" or "/proxy"
	host      string
	scheme    string
	httpc     *http.Client
	auth      *auth
	signer    *v4.Signer
	retry     RetryPolicy
	limiter   *limiter
	userAgent string
	bearer    string   // "Bearer " + API key, API-key mode only
	uaHeader  []string // {userAgent}, shared by every request (see newRequest)

	paths  sync.Map // pathKey → *reqPath
	npaths atomic.Int64
}

// New resolves cfg (region, endpoint, credentials) once and returns a Client.
// It does not contact AWS: credentials are fetched on the first call and
// refreshed before they expire.
func New(ctx context.Context, cfg Config) (*Client, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	a, err := resolveAuth(ctx, &cfg)
	if err != nil {
		return nil, err
	}
	if a.apiKey == "" {
		again := cfg
		a.log = cfg.Logger
		a.reresolve = func(ctx context.Context) (aws.CredentialsProvider, error) {
			na, err := resolveAuth(ctx, &again)
			if err != nil {
				return nil, err
			}
			return na.creds, nil
		}
	}
	region, err := resolveRegion(cfg.Region, a.profileRegion)
	if err != nil {
		return nil, err
	}
	endpoint, err := resolveEndpoint(cfg.Endpoint, region)
	if err != nil {
		return nil, err
	}
	u, err := url.Parse(endpoint)
	if err != nil {
		return nil, &ConfigError{"Endpoint", err.Error()}
	}
	c := &Client{
		region:    region,
		endpoint:  endpoint,
		basePath:  strings.TrimRight(u.EscapedPath(), "/"),
		host:      u.Host,
		scheme:    u.Scheme,
		httpc:     cfg.HTTPClient,
		auth:      a,
		retry:     cfg.Retry.withDefaults(),
		limiter:   limiterOf(cfg.Limits, cfg.RequestsPerMinute, cfg.MaxConcurrent, cfg.Limiter),
		userAgent: "quarry-bedrock/" + Version,
	}
	if cfg.UserAgent != "" {
		c.userAgent += " " + cfg.UserAgent
	}
	c.uaHeader = []string{c.userAgent}
	if a.apiKey == "" {
		c.signer = v4.NewSigner()
	} else {
		c.bearer = "Bearer " + a.apiKey
	}
	if c.httpc == nil {
		conc := cfg.MaxConcurrent
		if conc <= 0 {
			conc = DefaultMaxConcurrent
		}
		t, err := NewTransportWith(TransportOptions{MaxConcurrent: conc, HTTP1Only: cfg.HTTP1Only})
		if err != nil {
			return nil, err
		}
		c.httpc = &http.Client{Transport: t, CheckRedirect: noRedirects}
	}
	return c, nil
}

// NewTransport returns an HTTP transport for Bedrock that negotiates HTTP/2
// over TLS and keeps up to maxIdle idle HTTP/1.1 connections to the
// endpoint. It is NewTransportWith(TransportOptions{MaxConcurrent: maxIdle}).
func NewTransport(maxIdle int) (*http.Transport, error) {
	return NewTransportWith(TransportOptions{MaxConcurrent: maxIdle})
}

// TransportOptions say how NewTransportWith builds a transport.
type TransportOptions struct {
	// MaxConcurrent is the number of calls expected at once (the sum of
	// the clients' MaxConcurrent when several share the transport): over
	// HTTP/1.1 each needs its own connection, so that many are kept idle
	// and a client running that many calls never re-dials. < 1:
	// DefaultMaxConcurrent.
	MaxConcurrent int
	// HTTP1Only turns HTTP/2 off: one TLS connection per call in flight,
	// as before HTTP/2 (for proxies that mishandle h2, or to compare).
	HTTP1Only bool
}

// NewTransportWith returns an HTTP transport for Bedrock. Over TLS it
// negotiates HTTP/2 by ALPN (Bedrock Runtime speaks it), so that concurrent
// calls and streams to one endpoint share a few connections; a plain
// http:// endpoint (the emulator, a local proxy) gets HTTP/1.1. A silent
// HTTP/2 connection is pinged after 30s and dropped if the ping goes
// unanswered for 15s, so that a dead connection cannot hang every stream on
// it. It has no overall timeout: streams may last minutes; cancel through
// the context. Like the AWS SDKs, it trusts the extra certificates in the
// PEM file named by AWS_CA_BUNDLE (TLS inspection proxies); a bundle that
// cannot be read is an error.
func NewTransportWith(o TransportOptions) (*http.Transport, error) {
	maxIdle := o.MaxConcurrent
	if maxIdle < 1 {
		maxIdle = DefaultMaxConcurrent
	}
	var protocols http.Protocols
	protocols.SetHTTP1(true)
	protocols.SetHTTP2(!o.HTTP1Only)
	d := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
	t := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           d.DialContext,
		Protocols:             &protocols,
		MaxIdleConns:          maxIdle * 2,
		MaxIdleConnsPerHost:   maxIdle,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
		HTTP2:                 &http.HTTP2Config{SendPingTimeout: 30 * time.Second, PingTimeout: 15 * time.Second},
	}
	if path := os.Getenv("AWS_CA_BUNDLE"); path != "" {
		pool, err := x509.SystemCertPool()
		if err != nil {
			pool = x509.NewCertPool()
		}
		pem, err := os.ReadFile(path)
		if err != nil {
			return nil, &ConfigError{"AWS_CA_BUNDLE", err.Error()}
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, &ConfigError{"AWS_CA_BUNDLE", path + " holds no PEM certificates"}
		}
		t.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	return t, nil
}

// Region is the AWS region the client signs for.
func (c *Client) Region() string { return c.region }

// Endpoint is the base URL the client sends to.
func (c *Client) Endpoint() string { return c.endpoint }

// call is one operation to send.
type call struct {
	opts callOptions
	op   string // operation name, for errors: "Converse"
	// The request path below the endpoint: modelPath(modelID, action) for a
	// model operation (modelID and action set, path empty), else path, an
	// escaped path such as a guardrail's. Either way it is computed once per
	// client (Client.requestPath).
	modelID, action string
	path            string
	body            []byte      // request body (re-sent as is on retries)
	stream          bool        // the response is a stream (see requestBody)
	header          http.Header // extra headers (content type, accept, Bedrock options)
}

// transportError marks a failure to get a response at all (dial, TLS,
// connection reset); such failures are retried.
type transportError struct{ err error }

func (e *transportError) Error() string { return e.err.Error() }
func (e *transportError) Unwrap() error { return e.err }

// Is makes every transport failure match ErrUnreachable.
func (e *transportError) Is(target error) bool { return target == ErrUnreachable }

// ErrUnreachable is matched (errors.Is) by a call that got no response at
// all: the endpoint could not be dialled, or the connection failed before a
// response arrived (after retries). A response cut short once it had started
// is a different failure and does not match.
var ErrUnreachable = errors.New("bedrock: the endpoint could not be reached")

// OpError wraps every error a call returns with the operation's name.
type OpError struct {
	Op  string
	Err error
}

func (e *OpError) Error() string {
	msg := e.Err.Error()
	return e.Op + ": " + strings.TrimPrefix(msg, "bedrock: ")
}
func (e *OpError) Unwrap() error { return e.Err }

// send performs the call with retries and returns a 2xx response whose body
// the caller must close. The concurrency slot taken here is held until the
// body is closed, so an open stream counts against MaxConcurrent.
func (c *Client) send(ctx context.Context, cl *call) (*http.Response, error) {
	resp, s, err := c.sendHeld(ctx, cl)
	if err != nil {
		return nil, err
	}
	resp.Body = &releasingBody{ReadCloser: resp.Body, slot: s}
	// net/http's HTTP/2 stream keeps the response while its body is open,
	// and the response kept the request we built (256 bytes an open
	// stream, its URL and headers being shared with net/http's own copy).
	// Nothing reads it after the call.
	resp.Request = nil
	return resp, nil
}

// sendHeld is send for a caller that is done with the response before it
// returns (doJSON): on success the concurrency slot is still held, and the
// caller closes the body and then calls the slot's release, once. It saves
// the body wrapper that an open stream needs.
func (c *Client) sendHeld(ctx context.Context, cl *call) (*http.Response, slot, error) {
	s, err := c.limiter.take(ctx, cl.opts.queueTimeout)
	if err != nil {
		return nil, slot{}, &OpError{cl.op, err}
	}
	payloadHash := c.payloadHash(cl.body) // once: retries re-send the same body
	refreshed := false
	for attempt := 1; ; attempt++ {
		gen := c.auth.gen.Load()
		// Only a call's first attempt uses a token Reserve took for it;
		// retries take ordinary ones, so as not to spend another call's.
		resp, err := c.attempt(ctx, cl, payloadHash, attempt == 1 && !refreshed)
		if err == nil {
			return resp, s, nil
		}
		if !refreshed && c.signer != nil && ctx.Err() == nil && credentialsRejected(err) &&
			c.auth.refresh(ctx, gen, err) {
			// Once per call, and not counted as a retry: the failure was
			// the credentials, not Bedrock.
			refreshed = true
			attempt--
			continue
		}
		if ferr := c.retryWait(ctx, cl, attempt, err); ferr != nil {
			s.release()
			return nil, slot{}, ferr
		}
	}
}

// retryWait waits before attempt+1 of cl after err, or returns the call's
// error when it is not to be retried. Apart from sendHeld to keep that
// frame, which the request's signing runs on, small (see sign).
func (c *Client) retryWait(ctx context.Context, cl *call, attempt int, err error) error {
	if ctx.Err() != nil || attempt >= c.retry.MaxAttempts || !retryable(err) {
		return &OpError{cl.op, err}
	}
	if serr := sleep(ctx, c.retry.backoff(attempt)); serr != nil {
		// Both stay matchable: errors.Is(err, context.Canceled) for the
		// caller's cancellation, errors.As(err, **Error) for the cause.
		return &OpError{cl.op, fmt.Errorf("%w (gave up retrying: %w)", err, serr)}
	}
	return nil
}

// attempt sends the request once.
func (c *Client) attempt(ctx context.Context, cl *call, payloadHash string, first bool) (*http.Response, error) {
	if err := c.waitRate(ctx, cl.opts.queueTimeout, first); err != nil {
		return nil, err
	}
	req, err := c.newRequest(ctx, cl, payloadHash)
	if err != nil {
		return nil, err
	}
	resp, err := c.httpc.Do(req)
	if b, ok := req.Body.(*requestBody); ok {
		b.sent()
	}
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, &transportError{err}
	}
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return resp, nil
	}
	body, rerr := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	if rerr != nil && ctx.Err() != nil {
		return nil, ctx.Err()
	}
	return nil, parseError(resp, body)
}

// waitRate takes the attempt's rate token: for a call's first attempt, one
// Reserve took ahead for the call's context, else the limiter's (waiting at
// most queueTimeout, if positive).
func (c *Client) waitRate(ctx context.Context, queueTimeout time.Duration, first bool) error {
	if p, ok := ctx.Value(prepaidKey{}).(*prepaid); ok && first {
		if took, err := p.take(ctx); took {
			return err
		}
	}
	return c.limiter.wait(ctx, queueTimeout)
}

// newRequest builds and authorizes the HTTP request for one attempt (a new
// X-Amz-Date each time, so retries are signed afresh).
//
// It once also handed the signer a pre-escaped canonical URI in URL.Opaque
// and let the signer write its headers into slots of one per-attempt
// allocation. Measured with go test -bench 'BenchmarkClient.*/quarry'
// -benchmem (allocs/op, stable on a busy machine), those saved about 4
// allocations per call, with no time difference above the noise: too
// little to rely on how the signer treats URL.Opaque and its own header
// slices, so they went. Sharing the never-changing header values
// (buildRequest) relies only on Header.Set replacing slices, and saves 2
// (162 → 160).
func (c *Client) newRequest(ctx context.Context, cl *call, payloadHash string) (*http.Request, error) {
	req, err := c.buildRequest(ctx, cl)
	if err != nil || c.signer == nil {
		return req, err
	}
	if err := c.sign(ctx, req, payloadHash); err != nil {
		return nil, err
	}
	return req, nil
}

// buildRequest is newRequest's unsigned request (with the bearer token
// when the client has one).
func (c *Client) buildRequest(ctx context.Context, cl *call) (*http.Request, error) {
	rp, err := c.requestPath(cl)
	if err != nil {
		return nil, err
	}
	// A stream's body is a requestBody, which lets go of the bytes once
	// sent; any other's, a bytes.Reader, as net/http's HTTP/1.1 client
	// likes it.
	var body io.Reader
	if !cl.stream && len(cl.body) > 0 {
		body = bytes.NewReader(cl.body)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "", body)
	if err != nil {
		return nil, err
	}
	if cl.stream && len(cl.body) > 0 {
		b := &requestBody{rest: cl.body, all: cl.body}
		req.Body, req.GetBody, req.ContentLength = b, b.reopen, int64(len(cl.body))
	}
	u := req.URL // parsed from "": fill it in rather than allocate another
	u.Scheme, u.Host, u.Path, u.RawPath = c.scheme, c.host, rp.path, rp.raw
	req.Host = c.host
	h := req.Header
	// Header values that never change (the call's, the user agent) are
	// shared, not copied: each slice has cap == len, so an append anywhere
	// downstream copies it, and net/http and the signer only replace these
	// keys' slices (Header.Set), never write into them. Two allocations a
	// call (BenchmarkClientConverse: 162 → 160).
	for k, v := range cl.header {
		h[k] = v[:len(v):len(v)]
	}
	h["User-Agent"] = c.uaHeader
	if c.signer == nil {
		h.Set("Authorization", c.bearer)
	}
	return req, nil
}

// requestBody is the body of one attempt at a streaming call. net/http
// keeps the request, and with it Body and GetBody, until the response's
// body is closed: for a stream, as long as the stream lasts. The bytes (a
// whole conversation: a coding agent's are hundreds of KB) are needed only
// until they are sent, so Read lets go of them at their end, and GetBody
// (net/http's own retry of a stream the server refused, say) once the
// attempt has its response. Other calls keep a bytes.Reader: for a body of
// a type it does not know, net/http's HTTP/1.1 client sends the headers in
// a packet of their own, which cost BenchmarkClientConverse 10%; a stream
// pays that packet once for its whole life.
type requestBody struct {
	rest []byte // what Read has yet to return; nil at the end
	all  []byte // for GetBody; nil once sent
}

func (b *requestBody) Read(p []byte) (int, error) {
	if len(b.rest) == 0 {
		b.rest = nil
		return 0, io.EOF
	}
	n := copy(p, b.rest)
	if b.rest = b.rest[n:]; len(b.rest) == 0 {
		b.rest = nil
	}
	return n, nil
}

// Close keeps the bytes: net/http may close a body on one goroutine while
// another reads it.
func (b *requestBody) Close() error { return nil }

// errBodyReleased is GetBody's error once the attempt has returned.
var errBodyReleased = errors.New("bedrock: the request body was released once the response arrived")

// reopen is the request's GetBody. net/http calls it only within Do, on
// the goroutine that called Do, as sent is.
func (b *requestBody) reopen() (io.ReadCloser, error) {
	if b.all == nil {
		return nil, errBodyReleased
	}
	return &requestBody{rest: b.all}, nil
}

// sent releases the bytes GetBody would re-send: the attempt has returned.
func (b *requestBody) sent() { b.all = nil }

// sign signs req with SigV4. It is apart from buildRequest so that the
// signer's deep calls sit on small frames: a gateway holding thousands
// of streams keeps each handler's goroutine stack at 8 KiB only while a
// request's deepest call stays under ~7 KiB.
func (c *Client) sign(ctx context.Context, req *http.Request, payloadHash string) error {
	creds, err := c.auth.retrieve(ctx)
	if err != nil {
		return err
	}
	if err := c.signer.SignHTTP(ctx, creds, req, payloadHash, "bedrock", c.region, time.Now()); err != nil {
		return fmt.Errorf("signing: %w", err)
	}
	return nil
}

// reqPath is the request path of one operation, as newRequest needs it.
// It depends only on the client's endpoint and the call, so it is computed
// once and cached (Client.paths); its fields are never written after.
type reqPath struct {
	raw, path string // the request's URL.RawPath and URL.Path
}

// pathKey identifies a cached reqPath: the call's modelID, action and path.
type pathKey struct{ modelID, action, path string }

// maxCachedPaths bounds a client's path cache, and maxCachedPathLen the
// length of a cached model ID or path: model IDs may come from the
// client's callers, and a full cache of long ones would hold megabytes.
// Model IDs, inference-profile and provisioned-model ARNs are well under
// 256 bytes; longer ones, and paths past the bound, are computed per call.
const (
	maxCachedPaths   = 1024
	maxCachedPathLen = 256
)

// requestPath returns the path of cl, from the cache when it can.
func (c *Client) requestPath(cl *call) (*reqPath, error) {
	k := pathKey{cl.modelID, cl.action, cl.path}
	if v, ok := c.paths.Load(k); ok {
		return v.(*reqPath), nil
	}
	rel := cl.path
	if cl.action != "" {
		rel = modelPath(cl.modelID, cl.action)
	}
	rp, err := newReqPath(c.basePath + rel)
	if err != nil {
		return nil, err
	}
	if len(cl.modelID)+len(cl.path) <= maxCachedPathLen && c.npaths.Load() < maxCachedPaths {
		if _, loaded := c.paths.LoadOrStore(k, rp); !loaded {
			c.npaths.Add(1)
		}
	}
	return rp, nil
}

func newReqPath(raw string) (*reqPath, error) {
	p, err := url.PathUnescape(raw)
	if err != nil {
		return nil, fmt.Errorf("bad request path %q: %w", raw, err)
	}
	return &reqPath{raw: raw, path: p}, nil
}

// noRedirects makes a 3xx an ordinary error response, as in the AWS SDKs:
// Bedrock never redirects, a redirected SigV4 request would fail anyway, and
// following one could hand an API key to whoever the Location names.
func noRedirects(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// payloadHash is the SigV4 payload hash of body, "" when the client sends
// an API key instead of signing.
func (c *Client) payloadHash(body []byte) string {
	if c.signer == nil {
		return ""
	}
	sum := sha256.Sum256(body)
	var buf [2 * sha256.Size]byte // hex on the stack: one allocation, the string
	hex.Encode(buf[:], sum[:])
	return string(buf[:])
}

// releasingBody gives the concurrency slot back when the body is closed.
type releasingBody struct {
	io.ReadCloser
	released atomic.Bool
	slot     slot
}

func (b *releasingBody) Close() error {
	err := b.ReadCloser.Close()
	if b.released.CompareAndSwap(false, true) {
		b.slot.release()
	}
	return err
}

// jsonHeader is the header set of JSON operations.
var jsonHeader = http.Header{"Content-Type": {"application/json"}}

// errNilRequest is returned for a nil request argument.
var errNilRequest = errors.New("bedrock: nil request")
