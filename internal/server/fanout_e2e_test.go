package server_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/quarry-dev/quarry/internal/config"
)

func titanInputs(n int) openai.EmbeddingNewParams {
	in := make([]string, n)
	for i := range in {
		in[i] = "text number " + strings.Repeat("x", i%7)
	}
	return openai.EmbeddingNewParams{Model: "titan-embed", Input: openai.EmbeddingNewParamsInputUnion{OfArrayOfStrings: in}}
}

// TestEmbeddingsFanOutBounds, with the official OpenAI client: more inputs
// than server.max_embedding_inputs is a 400 naming the limit; a request
// the model's requests_per_min_limit cannot serve before the deadline is a
// 429 before any Bedrock call; Bedrock throttling one of the calls does not
// throw away the others' results.
func TestEmbeddingsFanOutBounds(t *testing.T) {
	titan := func(c *config.Config) *config.Model {
		for i := range c.Embeddings {
			if c.Embeddings[i].Name == "titan-embed" {
				return &c.Embeddings[i]
			}
		}
		t.Fatal("no titan-embed in the quick start")
		return nil
	}
	t.Run("over the input limit", func(t *testing.T) {
		g := startGateway(t, quickstart, func(c *config.Config) { c.Server.MaxEmbeddingInputs = 5 })
		_, err := sdk(g).Embeddings.New(sdkContext(t), titanInputs(6))
		wantAPIError(t, err, 400, "input")
		if apiErr, ok := err.(*openai.Error); ok && !strings.Contains(apiErr.Message, "limit is 5") {
			t.Errorf("the 400 does not name the limit: %v", err)
		}
		if n := g.Server.Emulator().Stats().Requests["InvokeModel"]; n != 0 {
			t.Errorf("%d Bedrock calls for a refused request", n)
		}
	})
	t.Run("quota cannot serve it in time: 429 before any call", func(t *testing.T) {
		g := startGateway(t, quickstart, func(c *config.Config) {
			titan(c).AWS.RequestsPerMinute = 60 // one a second
			c.Server.UpstreamTimeout = 3 * time.Second
		})
		_, err := sdk(g).Embeddings.New(sdkContext(t), titanInputs(10))
		wantAPIError(t, err, 429, "")
		if n := g.Server.Emulator().Stats().Requests["InvokeModel"]; n != 0 {
			t.Errorf("%d Bedrock calls made before the 429", n)
		}
	})
	t.Run("a throttled call is retried, not the request discarded", func(t *testing.T) {
		dir := t.TempDir()
		emuCfg := filepath.Join(dir, "emulator.yaml")
		os.WriteFile(emuCfg, []byte("faults:\n  rules:\n    - {model: amazon.titan-embed-text-v2:0, fault: throttle, rate: 0.6}\n"), 0o600)
		g := startGateway(t, quickstart, func(c *config.Config) { c.Emulator.ConfigFile = emuCfg; c.Emulator.Seed = 7 })
		resp, err := sdk(g).Embeddings.New(sdkContext(t), titanInputs(12))
		if err != nil {
			t.Fatalf("throttling lost the request: %v", err)
		}
		if len(resp.Data) != 12 {
			t.Fatalf("%d vectors, want 12", len(resp.Data))
		}
		st := g.Server.Emulator().Stats()
		if st.Requests["InvokeModel"] <= 12 || st.Errors == 0 {
			t.Errorf("no throttling happened (%+v): the test proves nothing", st)
		}
	})
}

func sdk(g *gateway) *openai.Client {
	c := sdkClient(g)
	return &c
}
