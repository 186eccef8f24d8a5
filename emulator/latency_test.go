package emulator

import (
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
)

// The [[quarry:slow]] marker and Config.Latency delay InvokeModel for
// embedding and image models too (time to first byte), not only the
// latency header. Lower bounds only: a loaded machine may be slower.
func TestLatencyEmbeddingsAndImages(t *testing.T) {
	cases := []struct {
		name, model, body string
		cfg               Config
		min               time.Duration
	}{
		{"embedding marker", "amazon.titan-embed-text-v2:0", `{"inputText":"[[quarry:slow]] the cat"}`, Config{}, slowLatency.FirstToken},
		{"cohere marker", "cohere.embed-english-v3", `{"texts":["[[quarry:slow]] the cat"],"input_type":"search_document"}`, Config{}, slowLatency.FirstToken},
		{"image marker", "amazon.nova-canvas-v1:0", `{"taskType":"TEXT_IMAGE","textToImageParams":{"text":"a cat [[quarry:slow]]"},"imageGenerationConfig":{"width":320,"height":320}}`, Config{}, slowLatency.FirstToken},
		{"embedding config", "amazon.titan-embed-text-v1", `{"inputText":"the cat"}`, Config{Latency: Latency{FirstToken: 250 * time.Millisecond}}, 250 * time.Millisecond},
		{"image config", "amazon.titan-image-generator-v1", `{"taskType":"TEXT_IMAGE","textToImageParams":{"text":"a cat"},"imageGenerationConfig":{"width":320,"height":320}}`, Config{Latency: Latency{FirstToken: 250 * time.Millisecond}}, 250 * time.Millisecond},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			client, _ := newSDK(t, tc.cfg)
			start := time.Now()
			out, err := client.InvokeModel(ctxT(t), &bedrockruntime.InvokeModelInput{
				ModelId: aws.String(tc.model), Body: []byte(tc.body), ContentType: aws.String("application/json"),
			})
			if err != nil {
				t.Fatal(err)
			}
			if d := time.Since(start); d < tc.min {
				t.Errorf("answered after %v, want at least %v", d, tc.min)
			}
			if len(out.Body) == 0 {
				t.Error("empty body")
			}
		})
	}
}

// [[quarry:truncate]] breaks embedding and image responses like text ones.
func TestTruncateEmbedding(t *testing.T) {
	client, _ := newSDK(t, Config{})
	_, err := client.InvokeModel(ctxT(t), &bedrockruntime.InvokeModelInput{
		ModelId: aws.String("amazon.titan-embed-text-v2:0"), Body: []byte(`{"inputText":"[[quarry:truncate]] the cat"}`),
	})
	if err == nil {
		t.Fatal("a truncated embedding response was read without error")
	}
}
