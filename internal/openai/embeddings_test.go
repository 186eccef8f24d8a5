package openai

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/quarry-dev/quarry/internal/accesslog"
	"github.com/quarry-dev/quarry/internal/config"
	"github.com/quarry-dev/quarry/internal/upstream"
)

// fakeTitan answers Titan embedding calls in memory: the vector of input
// "t<i>" is [i], and later inputs answer sooner, so calls finish out of
// order. It records the most calls in flight and goroutines seen.
type fakeTitan struct {
	inFlight, maxInFlight, maxGoroutines atomic.Int64
	calls                                atomic.Int64
}

func (f *fakeTitan) RoundTrip(r *http.Request) (*http.Response, error) {
	f.calls.Add(1)
	n := f.inFlight.Add(1)
	defer f.inFlight.Add(-1)
	for {
		m := f.maxInFlight.Load()
		if n <= m || f.maxInFlight.CompareAndSwap(m, n) {
			break
		}
	}
	if g := int64(runtime.NumGoroutine()); g > f.maxGoroutines.Load() {
		f.maxGoroutines.Store(g)
	}
	var body struct {
		InputText string `json:"inputText"`
	}
	b, _ := io.ReadAll(r.Body)
	json.Unmarshal(b, &body)
	i, _ := strconv.Atoi(strings.TrimPrefix(body.InputText, "t"))
	select {
	case <-time.After(time.Duration(50-i%50) * 100 * time.Microsecond):
	case <-r.Context().Done():
		return nil, r.Context().Err()
	}
	out := fmt.Sprintf(`{"embedding":[%d],"inputTextTokenCount":2}`, i)
	return &http.Response{StatusCode: 200, Header: http.Header{"Content-Type": {"application/json"}, "X-Amzn-Requestid": {fmt.Sprintf("req-%d", i)}},
		Body: io.NopCloser(strings.NewReader(out)), Request: r}, nil
}

func TestEmbeddingsPoolBoundedAndOrdered(t *testing.T) {
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	const limit, inputs = 4, 300
	fake := &fakeTitan{}
	cfg := &config.Config{Embeddings: []config.Model{{Kind: config.KindEmbedding, Name: "titan", ModelID: "amazon.titan-embed-text-v2:0",
		AWS: config.AWS{Region: "us-east-1", MaxConcurrent: limit, RequestsPerMinute: 100000}}}}
	reg, err := upstream.New(context.Background(), cfg, upstream.Options{EmulatorURL: "http://bedrock.invalid", Transport: fake})
	if err != nil {
		t.Fatal(err)
	}
	h := NewHandler(reg, Options{})

	texts := make([]string, inputs)
	for i := range texts {
		texts[i] = "t" + strconv.Itoa(i)
	}
	body, _ := json.Marshal(map[string]any{"model": "titan", "input": texts})
	base := runtime.NumGoroutine()
	rec := httptest.NewRecorder()
	var logged accesslog.Snapshot
	logged.InputTokens = -1
	accesslog.Middleware(slog.New(slog.DiscardHandler), h, func(_ *http.Request, _ int, _ time.Duration, s accesslog.Snapshot) { logged = s }).
		ServeHTTP(rec, httptest.NewRequest("POST", "/v1/embeddings", strings.NewReader(string(body))))
	if rec.Code != 200 {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	var resp struct {
		Data []struct {
			Index     int       `json:"index"`
			Embedding []float64 `json:"embedding"`
		} `json:"data"`
		Usage struct {
			PromptTokens int `json:"prompt_tokens"`
		} `json:"usage"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &resp); err != nil {
		t.Fatal(err)
	}
	if len(resp.Data) != inputs || resp.Usage.PromptTokens != 2*inputs {
		t.Fatalf("%d vectors, %d tokens", len(resp.Data), resp.Usage.PromptTokens)
	}
	for i, d := range resp.Data {
		if d.Index != i || len(d.Embedding) != 1 || d.Embedding[0] != float64(i) {
			t.Fatalf("data[%d] = index %d vector %v; want the vector of input %d", i, d.Index, d.Embedding, i)
		}
	}
	if logged.Model != "titan" || logged.InputTokens != 2*inputs || !strings.HasPrefix(logged.UpstreamRequestID, "req-") ||
		!strings.HasSuffix(logged.UpstreamRequestID, fmt.Sprintf("+%d more", inputs-8)) {
		t.Errorf("access log entry %+v; want the model, the tokens and the upstream request IDs", logged)
	}
	if got := fake.calls.Load(); got != inputs {
		t.Errorf("%d Titan calls for %d inputs", got, inputs)
	}
	if m := fake.maxInFlight.Load(); m > limit || m < 2 {
		t.Errorf("at most %d calls in flight; want parallel calls up to max_concurrent_invocations %d", m, limit)
	}
	// One goroutine per input would add ~300; the pool adds `limit`, plus
	// the HTTP client's own per-connection goroutines.
	if g := fake.maxGoroutines.Load() - int64(base); g > 40 {
		t.Errorf("goroutines grew by %d for %d inputs with a pool of %d", g, inputs, limit)
	}
}

// A failing call cancels the others and the request answers with the
// failure's status.
func TestEmbeddingsFirstFailureStops(t *testing.T) {
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	var calls atomic.Int64
	var once sync.Once
	rt := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		calls.Add(1)
		var fail bool
		once.Do(func() { fail = true })
		if fail {
			return &http.Response{StatusCode: 400, Header: http.Header{"Content-Type": {"application/json"}, "X-Amzn-Errortype": {"ValidationException"}},
				Body: io.NopCloser(strings.NewReader(`{"message":"Malformed input request"}`)), Request: r}, nil
		}
		<-r.Context().Done()
		return nil, r.Context().Err()
	})
	cfg := &config.Config{Embeddings: []config.Model{{Kind: config.KindEmbedding, Name: "titan", ModelID: "amazon.titan-embed-text-v2:0",
		AWS: config.AWS{Region: "us-east-1", MaxConcurrent: 3}}}}
	reg, err := upstream.New(context.Background(), cfg, upstream.Options{EmulatorURL: "http://bedrock.invalid", Transport: rt})
	if err != nil {
		t.Fatal(err)
	}
	h := NewHandler(reg, Options{})
	rec := httptest.NewRecorder()
	done := make(chan struct{})
	go func() {
		defer close(done)
		h.ServeHTTP(rec, httptest.NewRequest("POST", "/v1/embeddings", strings.NewReader(`{"model":"titan","input":["a","b","c","d","e","f","g","h"]}`)))
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the request did not end after a call failed")
	}
	if rec.Code != 400 {
		t.Errorf("status %d: %s", rec.Code, rec.Body)
	}
	if c := calls.Load(); c > 4 {
		t.Errorf("%d calls made after the first failed; the rest should be cancelled", c)
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
