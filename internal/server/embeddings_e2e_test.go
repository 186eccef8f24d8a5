package server_test

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/quarry-dev/quarry/internal/config"
)

// sdkClient is the official OpenAI Go client pointed at the gateway.
func sdkClient(g *gateway) openai.Client {
	return openai.NewClient(option.WithBaseURL(g.URL+"/v1/"), option.WithAPIKey("unused"), option.WithMaxRetries(0))
}

func sdkContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func cosine(a, b []float64) float64 {
	var dot, na, nb float64
	for i := range a {
		dot += a[i] * b[i]
		na += a[i] * a[i]
		nb += b[i] * b[i]
	}
	return dot / math.Sqrt(na*nb)
}

// wantAPIError checks that err is an OpenAI error with the status and, when
// given, the param.
func wantAPIError(t *testing.T, err error, status int, param string) {
	t.Helper()
	var apiErr *openai.Error
	if !errors.As(err, &apiErr) {
		t.Fatalf("err = %v; want an OpenAI API error %d", err, status)
	}
	if apiErr.StatusCode != status {
		t.Errorf("status = %d; want %d (%s)", apiErr.StatusCode, status, apiErr.Message)
	}
	if param != "" && apiErr.Param != param {
		t.Errorf("param = %q; want %q (%s)", apiErr.Param, param, apiErr.Message)
	}
	if apiErr.Message == "" {
		t.Error("error without a message")
	}
}

func TestEmbeddingsE2E(t *testing.T) {
	t.Parallel()
	g := startGateway(t, quickstart, nil)
	client := sdkClient(g)
	ctx := sdkContext(t)

	t.Run("titan single uses the model's dimensions", func(t *testing.T) {
		resp, err := client.Embeddings.New(ctx, openai.EmbeddingNewParams{
			Model: "titan-embed",
			Input: openai.EmbeddingNewParamsInputUnion{OfString: openai.String("The quick brown fox")},
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(resp.Data) != 1 || len(resp.Data[0].Embedding) != 512 {
			t.Fatalf("got %d vectors, first of length %d; want 1 of 512 (quick start dimensions)", len(resp.Data), len(resp.Data[0].Embedding))
		}
		if resp.Model != "titan-embed" || resp.Object != "list" || resp.Data[0].Object != "embedding" {
			t.Errorf("envelope: model %q object %q data object %q", resp.Model, resp.Object, resp.Data[0].Object)
		}
		if resp.Usage.PromptTokens <= 0 || resp.Usage.TotalTokens != resp.Usage.PromptTokens {
			t.Errorf("usage = %+v; want prompt tokens counted", resp.Usage)
		}
	})

	for _, model := range []string{"titan-embed", "cohere-embed"} {
		t.Run(model+" batch keeps order, similar texts are closer", func(t *testing.T) {
			texts := []string{
				"The cat sat on the mat.",
				"Quarterly revenue grew by ten percent.",
				"A cat was sitting on the mat.",
				"The cat sat on the mat.",
			}
			resp, err := client.Embeddings.New(ctx, openai.EmbeddingNewParams{
				Model: openai.EmbeddingModel(model),
				Input: openai.EmbeddingNewParamsInputUnion{OfArrayOfStrings: texts},
			})
			if err != nil {
				t.Fatal(err)
			}
			if len(resp.Data) != len(texts) {
				t.Fatalf("%d vectors for %d texts", len(resp.Data), len(texts))
			}
			for i, d := range resp.Data {
				if int(d.Index) != i {
					t.Errorf("data[%d].index = %d", i, d.Index)
				}
			}
			v := func(i int) []float64 { return resp.Data[i].Embedding }
			if c := cosine(v(0), v(3)); c < 0.9999 {
				t.Errorf("same text at positions 0 and 3: cosine %v; want identical vectors", c)
			}
			similar, unrelated := cosine(v(0), v(2)), cosine(v(0), v(1))
			if similar <= unrelated {
				t.Errorf("cosine(cat, cat paraphrase) = %v <= cosine(cat, revenue) = %v", similar, unrelated)
			}
			if resp.Usage.PromptTokens <= 0 {
				t.Errorf("usage = %+v; want tokens counted", resp.Usage)
			}
		})
	}

	t.Run("cohere batch over 96 texts", func(t *testing.T) {
		texts := make([]string, 200)
		for i := range texts {
			texts[i] = "document number " + strings.Repeat("x", i%7+1) + " " + string(rune('a'+i%26))
		}
		texts[150] = texts[3]
		before := g.Server.Emulator().Stats().Requests["InvokeModel"]
		resp, err := client.Embeddings.New(ctx, openai.EmbeddingNewParams{
			Model: "cohere-embed",
			Input: openai.EmbeddingNewParamsInputUnion{OfArrayOfStrings: texts},
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(resp.Data) != 200 || len(resp.Data[199].Embedding) != 1024 {
			t.Fatalf("%d vectors; want 200 of 1024", len(resp.Data))
		}
		if calls := g.Server.Emulator().Stats().Requests["InvokeModel"] - before; calls != 3 {
			t.Errorf("%d InvokeModel calls for 200 Cohere texts; want 3 (96+96+8)", calls)
		}
		if c := cosine(resp.Data[3].Embedding, resp.Data[150].Embedding); c < 0.9999 {
			t.Errorf("same text in the first and second batch: cosine %v", c)
		}
		if c := cosine(resp.Data[3].Embedding, resp.Data[4].Embedding); c > 0.9999 {
			t.Errorf("different texts got the same vector")
		}
	})

	t.Run("titan dimensions per request", func(t *testing.T) {
		for _, dims := range []int64{256, 1024} {
			resp, err := client.Embeddings.New(ctx, openai.EmbeddingNewParams{
				Model:      "titan-embed",
				Input:      openai.EmbeddingNewParamsInputUnion{OfArrayOfStrings: []string{"one", "two", "three"}},
				Dimensions: openai.Int(dims),
			})
			if err != nil {
				t.Fatal(err)
			}
			for _, d := range resp.Data {
				if len(d.Embedding) != int(dims) {
					t.Errorf("dimensions %d: vector of %d", dims, len(d.Embedding))
				}
			}
		}
	})

	t.Run("cohere v3 accepts its fixed 1024", func(t *testing.T) {
		resp, err := client.Embeddings.New(ctx, openai.EmbeddingNewParams{
			Model:      "cohere-embed",
			Input:      openai.EmbeddingNewParamsInputUnion{OfString: openai.String("hello")},
			Dimensions: openai.Int(1024),
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(resp.Data[0].Embedding) != 1024 {
			t.Errorf("vector of %d", len(resp.Data[0].Embedding))
		}
	})

	t.Run("base64 decodes to the float vector", func(t *testing.T) {
		params := openai.EmbeddingNewParams{
			Model:      "titan-embed",
			Input:      openai.EmbeddingNewParamsInputUnion{OfArrayOfStrings: []string{"alpha beta", "gamma delta"}},
			Dimensions: openai.Int(256),
		}
		floats, err := client.Embeddings.New(ctx, params)
		if err != nil {
			t.Fatal(err)
		}
		params.EncodingFormat = openai.EmbeddingNewParamsEncodingFormatBase64
		var raw struct {
			Data []struct {
				Index     int    `json:"index"`
				Embedding string `json:"embedding"`
			} `json:"data"`
		}
		if _, err := client.Embeddings.New(ctx, params, option.WithResponseBodyInto(&raw)); err != nil {
			t.Fatal(err)
		}
		if len(raw.Data) != 2 {
			t.Fatalf("%d base64 vectors", len(raw.Data))
		}
		for i, d := range raw.Data {
			b, err := base64.StdEncoding.DecodeString(d.Embedding)
			if err != nil || len(b) != 4*256 {
				t.Fatalf("data[%d]: %d bytes, %v; want 1024 bytes of float32", i, len(b), err)
			}
			for j := 0; j < 256; j++ {
				got := math.Float32frombits(binary.LittleEndian.Uint32(b[4*j:]))
				if want := float32(floats.Data[i].Embedding[j]); got != want {
					t.Fatalf("data[%d][%d] = %v in base64, %v as float", i, j, got, want)
				}
			}
		}
	})

	t.Run("errors", func(t *testing.T) {
		one := openai.EmbeddingNewParamsInputUnion{OfString: openai.String("hello")}
		for _, c := range []struct {
			name   string
			params openai.EmbeddingNewParams
			status int
			param  string
		}{
			{"unknown model", openai.EmbeddingNewParams{Model: "no-such-model", Input: one}, http.StatusNotFound, "model"},
			{"chat model", openai.EmbeddingNewParams{Model: "nova-lite", Input: one}, http.StatusBadRequest, "model"},
			{"image model", openai.EmbeddingNewParams{Model: "nova-canvas", Input: one}, http.StatusBadRequest, "model"},
			{"titan bad dimensions", openai.EmbeddingNewParams{Model: "titan-embed", Input: one, Dimensions: openai.Int(1536)}, http.StatusBadRequest, "dimensions"},
			{"cohere v3 bad dimensions", openai.EmbeddingNewParams{Model: "cohere-embed", Input: one, Dimensions: openai.Int(256)}, http.StatusBadRequest, "dimensions"},
			{"token arrays", openai.EmbeddingNewParams{Model: "titan-embed", Input: openai.EmbeddingNewParamsInputUnion{OfArrayOfTokens: []int64{1, 2, 3}}}, http.StatusBadRequest, "input"},
			{"empty string", openai.EmbeddingNewParams{Model: "titan-embed", Input: openai.EmbeddingNewParamsInputUnion{OfArrayOfStrings: []string{"a", ""}}}, http.StatusBadRequest, "input[1]"},
		} {
			t.Run(c.name, func(t *testing.T) {
				_, err := client.Embeddings.New(ctx, c.params)
				wantAPIError(t, err, c.status, c.param)
			})
		}
		var apiErr *openai.Error
		_, err := client.Embeddings.New(ctx, openai.EmbeddingNewParams{Model: "no-such-model", Input: one})
		if errors.As(err, &apiErr) && apiErr.Code != "model_not_found" {
			t.Errorf("unknown model code = %q; want model_not_found", apiErr.Code)
		}
	})
}

// Limits and cancellation: a model at max_concurrent_invocations answers 429
// once the queue timeout passes, Bedrock throttling is a 429 with
// Retry-After, and a client that goes away cancels the Bedrock calls.
// titan-embed is pointed at a loopback stand-in for Bedrock that holds each
// call until it is released or cancelled (the emulator answers embeddings at
// once, even with its slow marker).
func TestEmbeddingsLimitsE2E(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	var cancelled atomic.Int64
	var started atomic.Int64
	stub := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body) // with the body read, the server notices a closed connection
		started.Add(1)
		select {
		case <-release:
			w.Header().Set("Content-Type", "application/json")
			w.Write([]byte(`{"embedding":[0.6,0.8],"inputTextTokenCount":1}`))
		case <-r.Context().Done():
			cancelled.Add(1)
		}
	}))
	t.Cleanup(stub.Close)
	var closeOnce sync.Once
	releaseAll := func() { closeOnce.Do(func() { close(release) }) }
	t.Cleanup(releaseAll)

	g := startGateway(t, quickstart, func(c *config.Config) {
		c.Server.QueueTimeout = 100 * time.Millisecond
		for i := range c.Embeddings {
			if c.Embeddings[i].Name == "titan-embed" {
				c.Embeddings[i].AWS.MaxConcurrent = 1
				c.Embeddings[i].AWS.EndpointURL = stub.URL
				c.Embeddings[i].AWS.AccessKeyID, c.Embeddings[i].AWS.SecretAccessKey = "AKIDSTUB", "stub"
			}
		}
	})
	client := sdkClient(g)
	ctx := sdkContext(t)
	one := openai.EmbeddingNewParamsInputUnion{OfString: openai.String("x")}

	t.Run("client disconnect cancels the calls", func(t *testing.T) {
		cctx, cancel := context.WithCancel(ctx)
		errc := make(chan error, 1)
		go func() {
			_, err := client.Embeddings.New(cctx, openai.EmbeddingNewParams{Model: "titan-embed", Input: one})
			errc <- err
		}()
		waitFor(t, "the call to reach Bedrock", func() bool { return started.Load() == 1 })
		cancel()
		if err := <-errc; err == nil {
			t.Fatal("the request succeeded despite the client going away")
		}
		waitFor(t, "Bedrock to see the call cancelled", func() bool { return cancelled.Load() == 1 })
	})

	t.Run("queue timeout is a prompt 429", func(t *testing.T) {
		busy := make(chan error, 1)
		go func() {
			_, err := client.Embeddings.New(ctx, openai.EmbeddingNewParams{Model: "titan-embed", Input: one})
			busy <- err
		}()
		waitFor(t, "the first request to hold the only slot", func() bool { return started.Load() == 2 })
		// The slot is held until releaseAll below, so this answer cannot
		// come from waiting for it: it is the queue timeout's 429 (no wall
		// clock bound, which a loaded CI machine could break).
		var resp *http.Response
		_, err := client.Embeddings.New(ctx, openai.EmbeddingNewParams{Model: "titan-embed", Input: one}, option.WithResponseInto(&resp))
		wantAPIError(t, err, http.StatusTooManyRequests, "")
		if resp == nil || resp.Header.Get("Retry-After") == "" {
			t.Error("429 without Retry-After")
		}
		releaseAll()
		if err := <-busy; err != nil {
			t.Errorf("the request holding the slot: %v", err)
		}
	})

	t.Run("bedrock throttling is a 429 with Retry-After", func(t *testing.T) {
		var resp *http.Response
		_, err := client.Embeddings.New(ctx, openai.EmbeddingNewParams{Model: "cohere-embed",
			Input: openai.EmbeddingNewParamsInputUnion{OfString: openai.String("[[quarry:throttle]] x")}}, option.WithResponseInto(&resp))
		wantAPIError(t, err, http.StatusTooManyRequests, "")
		if resp == nil || resp.Header.Get("Retry-After") == "" {
			t.Error("429 without Retry-After")
		}
	})
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// server.upstream_timeout bounds embedding calls as it bounds every
// non-streaming Bedrock call: a slow model answers 504.
func TestEmbeddingsUpstreamTimeoutE2E(t *testing.T) {
	t.Parallel()
	g := startGateway(t, quickstart, func(c *config.Config) { c.Server.UpstreamTimeout = 50 * time.Millisecond })
	resp, err := http.Post(g.URL+"/v1/embeddings", "application/json",
		strings.NewReader(`{"model":"titan-embed","input":"[[quarry:slow]] a slow embedding"}`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusGatewayTimeout || !strings.Contains(string(body), "timeout_error") {
		t.Fatalf("status %d: %s; want 504 timeout_error", resp.StatusCode, body)
	}
}
