package server_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/quarry-dev/quarry/emulator"
	"github.com/quarry-dev/quarry/internal/config"
)

// faultProxy stands between the gateway and the emulator to inject what
// the emulator cannot: a proxy's HTML 503, a reset before any header, and
// credentials rejected once (markers "[[proxy:…]]" in the request body).
// Everything else is passed on, streamed. It counts the requests it sees.
type faultProxy struct {
	*httptest.Server
	calls    atomic.Int64
	mu       sync.Mutex
	rejected map[[32]byte]bool
}

func newFaultProxy(t *testing.T, emulatorURL string) *faultProxy {
	target, _ := url.Parse(emulatorURL)
	rp := httputil.NewSingleHostReverseProxy(target)
	rp.FlushInterval = -1
	p := &faultProxy{rejected: map[[32]byte]bool{}}
	p.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.calls.Add(1)
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		switch {
		case bytes.Contains(body, []byte("[[proxy:html503]]")):
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(503)
			io.WriteString(w, "<html><body><h1>503 Service Temporarily Unavailable</h1><p>nginx AKIA-PROXY-SECRET</p></body></html>")
		case bytes.Contains(body, []byte("[[proxy:reset]]")):
			if c, _, err := http.NewResponseController(w).Hijack(); err == nil {
				c.(*net.TCPConn).SetLinger(0)
				c.Close()
			}
		case bytes.Contains(body, []byte("[[proxy:expired-once]]")):
			key := sha256.Sum256(append([]byte(r.URL.Path), body...))
			p.mu.Lock()
			first := !p.rejected[key]
			p.rejected[key] = true
			p.mu.Unlock()
			if first {
				w.Header().Set("X-Amzn-ErrorType", "ExpiredTokenException:http://internal.amazon.com/coral/com.amazon.coral.service/")
				w.WriteHeader(403)
				io.WriteString(w, `{"message":"The security token included in the request is expired"}`)
				return
			}
			rp.ServeHTTP(w, r)
		default:
			rp.ServeHTTP(w, r)
		}
	}))
	t.Cleanup(p.Close)
	return p
}

// outcome is what a client of a surface saw.
type outcome struct {
	status    int
	errType   string // the error's type (JSON error or stream error event)
	streamErr bool   // the error came as a stream event after a 200
	done      bool   // a stream ended normally ([DONE] or its equivalent)
	body      string
}

// surface sends one request carrying text (a fault marker) through an API
// surface. A new surface is one more entry here and its rows below.
type surface struct {
	name string
	send func(ctx context.Context, base, text string) (outcome, error)
}

func post(ctx context.Context, url, body string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	return http.DefaultClient.Do(req)
}

// readOutcome reads a JSON answer or an SSE stream. errPath finds the
// error's type in a decoded error body.
func readOutcome(resp *http.Response, errType func(map[string]any) string) (outcome, error) {
	defer resp.Body.Close()
	o := outcome{status: resp.StatusCode}
	if !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		b, err := io.ReadAll(resp.Body)
		o.body = string(b)
		var v map[string]any
		if json.Unmarshal(b, &v) == nil && resp.StatusCode >= 400 {
			o.errType = errType(v)
		}
		return o, err
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	var all strings.Builder
	for sc.Scan() {
		line := sc.Text()
		all.WriteString(line + "\n")
		data, ok := strings.CutPrefix(line, "data: ")
		if !ok {
			continue
		}
		if data == "[DONE]" {
			o.done = true
			continue
		}
		var v map[string]any
		if json.Unmarshal([]byte(data), &v) == nil && v["error"] != nil {
			o.streamErr, o.errType = true, errType(v)
		}
	}
	o.body = all.String()
	return o, sc.Err()
}

func openAIErrType(v map[string]any) string {
	e, _ := v["error"].(map[string]any)
	s, _ := e["type"].(string)
	return s
}

func elasticErrType(v map[string]any) string {
	e, _ := v["error"].(map[string]any)
	s, _ := e["type"].(string)
	return s
}

var faultSurfaces = []surface{
	{"chat", func(ctx context.Context, base, text string) (outcome, error) {
		resp, err := post(ctx, base+"/v1/chat/completions", `{"model":"nova-lite","max_tokens":30,"messages":[{"role":"user","content":"`+text+`"}]}`)
		if err != nil {
			return outcome{}, err
		}
		return readOutcome(resp, openAIErrType)
	}},
	{"chat-stream", func(ctx context.Context, base, text string) (outcome, error) {
		resp, err := post(ctx, base+"/v1/chat/completions", `{"model":"nova-lite","stream":true,"max_tokens":30,"messages":[{"role":"user","content":"`+text+`"}]}`)
		if err != nil {
			return outcome{}, err
		}
		return readOutcome(resp, openAIErrType)
	}},
	{"embeddings", func(ctx context.Context, base, text string) (outcome, error) {
		resp, err := post(ctx, base+"/v1/embeddings", `{"model":"titan-embed","input":["`+text+`"]}`)
		if err != nil {
			return outcome{}, err
		}
		return readOutcome(resp, openAIErrType)
	}},
	{"inference", func(ctx context.Context, base, text string) (outcome, error) {
		resp, err := post(ctx, base+"/_inference/completion/fm-chat", `{"input":"`+text+`"}`)
		if err != nil {
			return outcome{}, err
		}
		return readOutcome(resp, elasticErrType)
	}},
	{"messages", func(ctx context.Context, base, text string) (outcome, error) {
		// The system prompt keeps the Converse body apart from the chat
		// surface's, which the proxy's reject-once marker keys on.
		resp, err := post(ctx, base+"/v1/messages", `{"model":"nova-lite","system":"messages","max_tokens":30,"messages":[{"role":"user","content":"`+text+`"}]}`)
		if err != nil {
			return outcome{}, err
		}
		return readOutcome(resp, openAIErrType) // Anthropic's error object has the same path
	}},
	{"messages-stream", func(ctx context.Context, base, text string) (outcome, error) {
		resp, err := post(ctx, base+"/v1/messages", `{"model":"claude-sonnet","stream":true,"max_tokens":30,"messages":[{"role":"user","content":"`+text+`"}]}`)
		if err != nil {
			return outcome{}, err
		}
		return readOutcome(resp, openAIErrType)
	}},
	{"responses", func(ctx context.Context, base, text string) (outcome, error) {
		resp, err := post(ctx, base+"/v1/responses", `{"model":"nova-lite","store":false,"max_output_tokens":30,"input":"`+text+`"}`)
		if err != nil {
			return outcome{}, err
		}
		return readOutcome(resp, openAIErrType)
	}},
	{"responses-stream", func(ctx context.Context, base, text string) (outcome, error) {
		resp, err := post(ctx, base+"/v1/responses", `{"model":"nova-lite","store":false,"stream":true,"max_output_tokens":30,"input":"`+text+`"}`)
		if err != nil {
			return outcome{}, err
		}
		o, err := readOutcome(resp, openAIErrType)
		// A Responses stream fails with a response.failed event, whose
		// response carries the error; a stream that completes has done.
		o.streamErr = strings.Contains(o.body, "event: response.failed")
		o.done = strings.Contains(o.body, "event: response.completed")
		if o.streamErr {
			if _, after, ok := strings.Cut(o.body, `"error":{"code":"`); ok {
				o.errType, _, _ = strings.Cut(after, `"`)
			}
		}
		return o, err
	}},
	{"inference-stream", func(ctx context.Context, base, text string) (outcome, error) {
		resp, err := post(ctx, base+"/_inference/completion/fm-chat/_stream", `{"input":"`+text+`"}`)
		if err != nil {
			return outcome{}, err
		}
		return readOutcome(resp, elasticErrType)
	}},
}

// faultRow is one fault through one surface and what the client must see.
type faultRow struct {
	surface, fault, marker string
	status                 int    // HTTP status the client gets
	errType                string // its error type; "" for success
	streamErr              bool   // the error arrives as a stream event after 200
	calls                  [2]int // upstream requests made, min and max (retries)
}

// faultRows: the fault matrix. Anthropic answers an unavailable upstream
// with 529 overloaded_error, as its own API does. OpenAI types: rate_limit_error,
// service_unavailable_error, api_error, timeout_error; Elasticsearch:
// status_exception. Retries: 3 attempts for throttling, 5xx and resets;
// none for errors the model made or streams already started.
var faultRows = []faultRow{
	// chat
	{"chat", "429", "[[quarry:throttle]]", 429, "rate_limit_error", false, [2]int{3, 3}},
	{"chat", "503", "[[quarry:unavailable]]", 503, "service_unavailable_error", false, [2]int{3, 3}},
	{"chat", "500", "[[quarry:internal-error]]", 502, "api_error", false, [2]int{3, 3}},
	{"chat", "424", "[[quarry:model-error]]", 502, "api_error", false, [2]int{1, 1}},
	{"chat", "408", "[[quarry:model-timeout]]", 504, "timeout_error", false, [2]int{1, 1}},
	{"chat", "HTML 503", "[[proxy:html503]]", 503, "service_unavailable_error", false, [2]int{3, 3}},
	{"chat", "reset before headers", "[[proxy:reset]]", 503, "service_unavailable_error", false, [2]int{3, 3}},
	{"chat", "truncated body", "[[quarry:truncate]]", 0, "", false, [2]int{1, 3}}, // see checkRow: 502 or 503
	{"chat", "slower than the deadline", "[[quarry:stall]]", 504, "timeout_error", false, [2]int{1, 1}},
	{"chat", "credentials rejected", "[[proxy:expired-once]]", 200, "", false, [2]int{2, 2}},
	// streaming chat
	{"chat-stream", "429", "[[quarry:throttle]]", 429, "rate_limit_error", false, [2]int{3, 3}},
	{"chat-stream", "503", "[[quarry:unavailable]]", 503, "service_unavailable_error", false, [2]int{3, 3}},
	{"chat-stream", "HTML 503", "[[proxy:html503]]", 503, "service_unavailable_error", false, [2]int{3, 3}},
	{"chat-stream", "reset before headers", "[[proxy:reset]]", 503, "service_unavailable_error", false, [2]int{3, 3}},
	{"chat-stream", "reset mid-stream", "[[quarry:reset]]", 200, "api_error", true, [2]int{1, 1}},
	{"chat-stream", "truncated frame", "[[quarry:truncate]]", 200, "api_error", true, [2]int{1, 1}},
	{"chat-stream", "bad CRC", "[[quarry:bad-crc]]", 200, "api_error", true, [2]int{1, 1}},
	{"chat-stream", "in-stream throttling", "[[quarry:throttle-stream]]", 200, "rate_limit_error", true, [2]int{1, 1}},
	{"chat-stream", "model stream error", "[[quarry:model-stream-error]]", 200, "api_error", true, [2]int{1, 1}},
	{"chat-stream", "stall after the first event", "[[quarry:stall]]", 200, "timeout_error", true, [2]int{1, 1}},
	{"chat-stream", "credentials rejected", "[[proxy:expired-once]]", 200, "", false, [2]int{2, 2}},
	// embeddings
	{"embeddings", "503", "[[quarry:unavailable]]", 503, "service_unavailable_error", false, [2]int{3, 3}},
	{"embeddings", "500", "[[quarry:internal-error]]", 502, "api_error", false, [2]int{3, 3}},
	{"embeddings", "424", "[[quarry:model-error]]", 502, "api_error", false, [2]int{1, 1}},
	{"embeddings", "HTML 503", "[[proxy:html503]]", 503, "service_unavailable_error", false, [2]int{3, 3}},
	{"embeddings", "reset before headers", "[[proxy:reset]]", 503, "service_unavailable_error", false, [2]int{3, 3}},
	{"embeddings", "slower than the deadline", "[[quarry:stall]]", 504, "timeout_error", false, [2]int{1, 1}},
	{"embeddings", "credentials rejected", "[[proxy:expired-once]]", 200, "", false, [2]int{2, 2}},
	// _inference
	{"inference", "429", "[[quarry:throttle]]", 429, "status_exception", false, [2]int{3, 3}},
	{"inference", "503", "[[quarry:unavailable]]", 503, "status_exception", false, [2]int{3, 3}},
	{"inference", "HTML 503", "[[proxy:html503]]", 503, "status_exception", false, [2]int{3, 3}},
	{"inference", "credentials rejected", "[[proxy:expired-once]]", 200, "", false, [2]int{2, 2}},
	{"messages", "429", "[[quarry:throttle]]", 429, "rate_limit_error", false, [2]int{3, 3}},
	{"messages", "503", "[[quarry:unavailable]]", 529, "overloaded_error", false, [2]int{3, 3}},
	{"messages", "HTML 503", "[[proxy:html503]]", 529, "overloaded_error", false, [2]int{3, 3}},
	{"messages", "reset before headers", "[[proxy:reset]]", 529, "overloaded_error", false, [2]int{3, 3}},
	{"messages", "slower than the deadline", "[[quarry:stall]]", 504, "timeout_error", false, [2]int{1, 1}},
	{"messages", "credentials rejected", "[[proxy:expired-once]]", 200, "", false, [2]int{2, 2}},
	{"messages-stream", "429", "[[quarry:throttle]]", 429, "rate_limit_error", false, [2]int{3, 3}},
	{"messages-stream", "reset mid-stream", "[[quarry:reset]]", 200, "", true, [2]int{1, 1}},
	{"messages-stream", "bad CRC", "[[quarry:bad-crc]]", 200, "", true, [2]int{1, 1}},
	{"messages-stream", "in-stream throttling", "[[quarry:throttle-stream]]", 200, "rate_limit_error", true, [2]int{1, 1}},
	{"messages-stream", "stall after the first event", "[[quarry:stall]]", 200, "", true, [2]int{1, 1}},
	{"responses", "429", "[[quarry:throttle]]", 429, "rate_limit_error", false, [2]int{3, 3}},
	{"responses", "503", "[[quarry:unavailable]]", 503, "service_unavailable_error", false, [2]int{3, 3}},
	{"responses", "HTML 503", "[[proxy:html503]]", 503, "service_unavailable_error", false, [2]int{3, 3}},
	{"responses", "slower than the deadline", "[[quarry:stall]]", 504, "timeout_error", false, [2]int{1, 1}},
	{"responses-stream", "429", "[[quarry:throttle]]", 429, "rate_limit_error", false, [2]int{3, 3}},
	{"responses-stream", "reset mid-stream", "[[quarry:reset]]", 200, "", true, [2]int{1, 1}},
	{"responses-stream", "in-stream throttling", "[[quarry:throttle-stream]]", 200, "", true, [2]int{1, 1}},
	{"responses-stream", "stall after the first event", "[[quarry:stall]]", 200, "", true, [2]int{1, 1}},
	{"inference-stream", "reset mid-stream", "[[quarry:reset]]", 200, "", true, [2]int{1, 1}},
	{"inference-stream", "stall after the first event", "[[quarry:stall]]", 200, "", true, [2]int{1, 1}},
}

// TestFaultMatrix sends every row's fault through its surface against the
// quick start (the emulator behind faultProxy) and checks the client's
// status or stream error, the upstream requests made, and that goroutines
// return to their baseline.
func TestFaultMatrix(t *testing.T) {
	if testing.Short() {
		t.Skip("the fault matrix takes a few seconds")
	}
	// The quick start with its models behind the proxy, in front of an
	// emulator of the test's own.
	t.Setenv("AWS_ACCESS_KEY_ID", "test")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
	emu, err := emulator.NewServer(emulator.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer emu.Close()
	proxy := newFaultProxy(t, emu.URL)
	g := startGateway(t, quickstart, func(c *config.Config) {
		c.Emulator.Enabled = false
		for _, list := range [][]config.Model{c.Models, c.Embeddings, c.Images} {
			for i := range list {
				list[i].AWS.EndpointURL = proxy.URL
			}
		}
		c.Server.BedrockEndpointURL = proxy.URL
		c.Server.UpstreamTimeout = 2 * time.Second
		c.Server.StreamIdleTimeout = 500 * time.Millisecond
	})
	st, b := doJSON(t, "PUT", g.URL+"/_inference/completion/fm-chat", `{"service":"amazonbedrock","service_settings":{"access_key":"test","secret_key":"test",`+
		`"region":"us-east-1","provider":"amazontitan","model":"amazon.titan-text-express-v1"}}`)
	if st != 200 {
		t.Fatalf("creating the _inference endpoint: %d %s", st, b)
	}
	surfaces := map[string]surface{}
	for _, s := range faultSurfaces {
		surfaces[s.name] = s
	}
	settle := func() int {
		http.DefaultClient.CloseIdleConnections()
		return runtime.NumGoroutine()
	}
	baseline := settle()
	for _, row := range faultRows {
		t.Run(row.surface+"/"+row.fault, func(t *testing.T) {
			s, ok := surfaces[row.surface]
			if !ok {
				t.Fatalf("no surface %q", row.surface)
			}
			before := proxy.calls.Load()
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			o, err := s.send(ctx, g.URL, row.marker+" hello")
			if err != nil {
				t.Fatalf("the client failed: %v", err)
			}
			checkRow(t, row, o)
			if calls := int(proxy.calls.Load() - before); calls < row.calls[0] || calls > row.calls[1] {
				t.Errorf("%d upstream requests, want %d to %d", calls, row.calls[0], row.calls[1])
			}
			if strings.Contains(o.body, "AKIA-PROXY-SECRET") || strings.Contains(o.body, "<html") {
				t.Errorf("the upstream's HTML reached the client: %s", o.body)
			}
			// Goroutines back to the baseline: nothing left waiting on a
			// cancelled or broken upstream call. (Idle pooled connections
			// may stay; a few at most.)
			deadline := time.Now().Add(3 * time.Second)
			n := settle()
			for n > baseline+12 && time.Now().Before(deadline) {
				time.Sleep(50 * time.Millisecond)
				n = settle()
			}
			if n > baseline+12 {
				t.Errorf("%d goroutines after the request, baseline %d", n, baseline)
			}
		})
	}
	t.Run("client disconnect cancels upstream", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		resp, err := post(ctx, g.URL+"/v1/chat/completions", `{"model":"nova-lite","stream":true,"max_tokens":200,"messages":[{"role":"user","content":"[[quarry:slow]] a long story"}]}`)
		if err != nil {
			t.Fatal(err)
		}
		br := bufio.NewReader(resp.Body)
		if _, err := br.ReadString('\n'); err != nil {
			t.Fatal(err)
		}
		before := emu.Stats().Disconnects
		cancel()
		resp.Body.Close()
		deadline := time.Now().Add(5 * time.Second)
		for emu.Stats().Disconnects == before && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		if emu.Stats().Disconnects == before {
			t.Error("the upstream stream was not cancelled when the client went away")
		}
	})
	if n := settle(); n > baseline+12 {
		time.Sleep(time.Second)
		if n = settle(); n > baseline+12 {
			t.Errorf("%d goroutines after the matrix, baseline %d", n, baseline)
		}
	}
}

func checkRow(t *testing.T, row faultRow, o outcome) {
	t.Helper()
	if row.status == 0 { // a truncated non-streaming body: a 5xx, never a 200 or a 4xx
		if o.status < 500 || o.status == 500 {
			t.Errorf("status %d (%s), want 502 or 503", o.status, o.body)
		}
		return
	}
	if o.status != row.status {
		t.Fatalf("status %d, want %d: %s", o.status, row.status, o.body)
	}
	if row.streamErr != o.streamErr {
		t.Errorf("stream error %v, want %v: %s", o.streamErr, row.streamErr, o.body)
	}
	if row.errType != "" && o.errType != row.errType {
		t.Errorf("error type %q, want %q: %s", o.errType, row.errType, o.body)
	}
	if row.streamErr && o.done {
		t.Errorf("a failed stream ended with [DONE]: %s", o.body)
	}
	if row.status == 200 && !row.streamErr && strings.Contains(o.body, `"error"`) {
		t.Errorf("an error in a successful answer: %s", o.body)
	}
}

func doJSON(t *testing.T, method, url, body string) (int, string) {
	t.Helper()
	resp, b := doJSONResponse(t, method, url, body)
	return resp.StatusCode, b
}

// doJSONResponse is doJSON with the response's status and headers.
func doJSONResponse(t *testing.T, method, url, body string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}
