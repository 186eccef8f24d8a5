package elastic

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/quarry-dev/quarry/emulator"
	"github.com/quarry-dev/quarry/internal/config"
	"github.com/quarry-dev/quarry/internal/store"
)

// bedrockRecorder keeps the body of every Bedrock call, by path.
type bedrockRecorder struct {
	mu    sync.Mutex
	calls []struct{ path, body string }
}

func (r *bedrockRecorder) RoundTrip(req *http.Request) (*http.Response, error) {
	b, _ := io.ReadAll(req.Body)
	req.Body.Close()
	req.Body = io.NopCloser(bytes.NewReader(b))
	p, _ := url.PathUnescape(req.URL.EscapedPath())
	r.mu.Lock()
	r.calls = append(r.calls, struct{ path, body string }{p, string(b)})
	r.mu.Unlock()
	return http.DefaultTransport.RoundTrip(req)
}

// last is the body of the latest call whose path ends with suffix.
func (r *bedrockRecorder) last(t *testing.T, suffix string) string {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := len(r.calls) - 1; i >= 0; i-- {
		if strings.HasSuffix(r.calls[i].path, suffix) {
			return r.calls[i].body
		}
	}
	t.Fatalf("no Bedrock call to …%s", suffix)
	return ""
}

// startHandler serves a Handler on a SQLite store, its Bedrock calls going
// to an emulator (any keys) through rec.
func startHandler(t *testing.T) (*Handler, *bedrockRecorder) {
	return startHandlerWith(t, emulator.Config{NoAuth: true})
}

func startHandlerWith(t *testing.T, ecfg emulator.Config) (*Handler, *bedrockRecorder) {
	t.Helper()
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	emu, err := emulator.NewServer(ecfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(emu.Close)
	st, err := store.Open(context.Background(), store.Config{Path: filepath.Join(t.TempDir(), "e.db")}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	rec := &bedrockRecorder{}
	h, err := New(context.Background(), st, Options{BedrockEndpoint: emu.URL, HTTPClient: &http.Client{Transport: rec}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)
	return h, rec
}

func call(h *Handler, method, target, body string) (int, string) {
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(method, target, strings.NewReader(body)))
	return w.Code, w.Body.String()
}

// TestDimensionsDetected: the dimensions come from the test call made at
// creation (Titan v1 answers 1536 numbers, v2 1024), never from the user.
func TestDimensionsDetected(t *testing.T) {
	h, rec := startHandler(t)
	for model, want := range map[string]float64{"amazon.titan-embed-text-v1": 1536, "amazon.titan-embed-text-v2:0": 1024} {
		id := strings.NewReplacer(".", "-", ":", "-").Replace(model)
		st, b := call(h, "PUT", "/_inference/text_embedding/"+id, createBody(taskTextEmbedding, map[string]any{"model": model}, nil, nil))
		var v struct {
			ServiceSettings map[string]any `json:"service_settings"`
		}
		if st != 200 || json.Unmarshal([]byte(b), &v) != nil || v.ServiceSettings["dimensions"] != want {
			t.Errorf("%s: %d %s; want dimensions %v", model, st, b, want)
		}
		if probe := rec.last(t, "/model/"+model+"/invoke"); probe != `{"inputText":"how big"}` {
			t.Errorf("%s: probe call %s", model, probe)
		}
	}
}

// TestTaskSettingsOverrideReachBedrock: per-request task settings replace
// the stored ones field by field in what Bedrock receives, on inference
// and on streams, and leave the stored ones alone.
func TestTaskSettingsOverrideReachBedrock(t *testing.T) {
	h, rec := startHandler(t)
	const model = "anthropic.claude-3-haiku-20240307-v1:0"
	if st, b := call(h, "PUT", "/_inference/completion/c", createBody(taskCompletion, nil,
		map[string]any{"temperature": 0.5, "max_new_tokens": 10}, nil)); st != 200 {
		t.Fatalf("create: %d %s", st, b)
	}
	if st, b := call(h, "POST", "/_inference/completion/c", `{"input":"hi","task_settings":{"temperature":0.9,"top_k":0.3}}`); st != 200 {
		t.Fatalf("infer: %d %s", st, b)
	}
	const want = `"inferenceConfig":{"maxTokens":10,"temperature":0.9},"additionalModelRequestFields":{"top_k":0.3}`
	if got := rec.last(t, "/model/"+model+"/converse"); !strings.Contains(got, want) {
		t.Errorf("Converse body %s\nwant it to contain %s", got, want)
	}
	if st, b := call(h, "POST", "/_inference/completion/c/_stream", `{"input":"hi","task_settings":{"max_new_tokens":7}}`); st != 200 {
		t.Fatalf("stream: %d %s", st, b)
	}
	if got := rec.last(t, "/model/"+model+"/converse-stream"); !strings.Contains(got, `"inferenceConfig":{"maxTokens":7,"temperature":0.5}`) {
		t.Errorf("ConverseStream body %s", got)
	}
	call(h, "POST", "/_inference/c", `{"input":"hi"}`)
	if got := rec.last(t, "/model/"+model+"/converse"); !strings.Contains(got, `"inferenceConfig":{"maxTokens":10,"temperature":0.5}}`) {
		t.Errorf("stored task settings changed by a request: %s", got)
	}
}

// TestTimeoutBoundsTheCall: ?timeout bounds the Bedrock call (here a slow
// model, 300ms to its first token, against 1ms), answered as Elasticsearch
// answers it (408), on inference and before a stream's first event.
func TestTimeoutBoundsTheCall(t *testing.T) {
	h, _ := startHandler(t)
	if st, b := call(h, "PUT", "/_inference/completion/slow", createBody(taskCompletion, nil, nil, nil)); st != 200 {
		t.Fatalf("create: %d %s", st, b)
	}
	for _, p := range []string{"/_inference/completion/slow?timeout=1ms", "/_inference/completion/slow/_stream?timeout=1ms"} {
		st, b := call(h, "POST", p, `{"input":"[[quarry:slow]] hello"}`)
		// A stream whose headers came back before the timeout ends with an
		// error event instead.
		if st == 200 && strings.Contains(p, "_stream") {
			st, b = http.StatusRequestTimeout, strings.TrimPrefix(b, "event: error\ndata: ")
		}
		// Elasticsearch's RequestTask answers an expired ?timeout so.
		if st != http.StatusRequestTimeout || !strings.Contains(b, `"type":"status_exception","reason":"Request timed out after [1ms]"`) ||
			!strings.HasSuffix(strings.TrimSpace(b), `"status":408}`) {
			t.Errorf("%s: %d %s", p, st, b)
		}
	}
	// The default (30s) lets the same slow call finish.
	if st, b := call(h, "POST", "/_inference/completion/slow", `{"input":"[[quarry:slow]] hello"}`); st != 200 {
		t.Errorf("without ?timeout: %d %s", st, b)
	}
}

// TestBedrockEndpointPrecedence: the config's server.bedrock_endpoint_url,
// then AWS_ENDPOINT_URL_BEDROCK_RUNTIME, then the built-in emulator.
func TestBedrockEndpointPrecedence(t *testing.T) {
	cfg := &config.Config{}
	t.Setenv("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", "")
	if got := BedrockEndpoint(cfg, "http://emu"); got != "http://emu" {
		t.Errorf("emulator only: %q", got)
	}
	if got := BedrockEndpoint(cfg, ""); got != "" {
		t.Errorf("nothing set: %q", got)
	}
	t.Setenv("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", "http://env")
	if got := BedrockEndpoint(cfg, "http://emu"); got != "http://env" {
		t.Errorf("env over emulator: %q", got)
	}
	cfg.Server.BedrockEndpointURL = "http://cfg"
	if got := BedrockEndpoint(cfg, "http://emu"); got != "http://cfg" {
		t.Errorf("config over env: %q", got)
	}
}

// TestEndpointOwnClientKeysAndLimiter: each endpoint signs with its own
// keys (the emulator verifies SigV4 and knows only AKIDEXAMPLE's), an
// _update of the keys takes effect, each has its own limiter from
// rate_limit.requests_per_minute, and its client is built once and reused.
func TestEndpointOwnClientKeysAndLimiter(t *testing.T) {
	h, _ := startHandlerWith(t, emulator.Config{Credentials: []emulator.Credential{{AccessKeyID: "AKIDEXAMPLE", SecretAccessKey: "wJalrXUtnFEMI"}}})
	put := func(id string, ss map[string]any) {
		t.Helper()
		if st, b := call(h, "PUT", "/_inference/completion/"+id, createBody(taskCompletion, ss, nil, nil)); st != 200 {
			t.Fatalf("create %s: %d %s", id, st, b)
		}
	}
	put("good", nil)
	put("wrong-keys", map[string]any{"secret_key": "not-the-secret"})
	put("one-rpm", map[string]any{"rate_limit": map[string]any{"requests_per_minute": 1}})
	infer := func(id string) (int, string) { return call(h, "POST", "/_inference/"+id, `{"input":"hi"}`) }

	// Bedrock's 403 is the gateway's problem, not the client's: 502.
	if st, b := infer("wrong-keys"); st != http.StatusBadGateway || !strings.Contains(b, "InvalidSignatureException") {
		t.Errorf("wrong keys: %d %s", st, b)
	}
	if st, b := call(h, "PUT", "/_inference/wrong-keys/_update", `{"service_settings":{"access_key":"AKIDEXAMPLE","secret_key":"wJalrXUtnFEMI"}}`); st != 200 {
		t.Fatalf("update keys: %d %s", st, b)
	}
	if st, b := infer("wrong-keys"); st != 200 {
		t.Errorf("after the keys' update: %d %s", st, b)
	}

	h.mu.RLock()
	client := h.live["good"].client
	h.mu.RUnlock()
	for range 3 {
		if st, b := infer("good"); st != 200 {
			t.Fatalf("good: %d %s", st, b)
		}
	}
	h.mu.RLock()
	reused := h.live["good"].client == client
	h.mu.RUnlock()
	if !reused {
		t.Error("the endpoint's client was rebuilt between requests")
	}

	// One request a minute: the second is refused at once (the next token
	// is a minute away, past the queue timeout); the other endpoints' own
	// limiters are untouched.
	if st, b := infer("one-rpm"); st != 200 {
		t.Fatalf("one-rpm first: %d %s", st, b)
	}
	if st, b := infer("one-rpm"); st != http.StatusTooManyRequests {
		t.Errorf("one-rpm second: %d %s", st, b)
	}
	// A stream refused by the limiter is a 429 too, not the ?timeout's
	// 408: it waited for no timeout.
	if st, b := call(h, "POST", "/_inference/one-rpm/_stream", `{"input":"hi"}`); st != http.StatusTooManyRequests || strings.Contains(b, "timed out") {
		t.Errorf("one-rpm stream: %d %s", st, b)
	}
	if st, b := infer("good"); st != 200 {
		t.Errorf("good after one-rpm's limit: %d %s", st, b)
	}
	// An update of the rate limit gives the endpoint a new limiter.
	if st, b := call(h, "PUT", "/_inference/one-rpm/_update", `{"service_settings":{"rate_limit":{"requests_per_minute":600}}}`); st != 200 {
		t.Fatalf("update rate limit: %d %s", st, b)
	}
	if st, b := infer("one-rpm"); st != 200 {
		t.Errorf("after raising the rate limit: %d %s", st, b)
	}
}
