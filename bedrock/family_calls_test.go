package bedrock

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// invFamilyServer answers with the golden file named by the request path's
// model and records the request.
type invFamilyServer struct {
	path, body string
	respFile   string
	header     map[string]string
}

func (s *invFamilyServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	s.path, s.body = r.URL.EscapedPath(), string(b)
	for k, v := range s.header {
		w.Header().Set(k, v)
	}
	data, err := os.ReadFile(filepath.Join("testdata/invoke_bodies", s.respFile))
	if err != nil {
		http.Error(w, err.Error(), 500)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(data)
}

func TestTypedInvokeCalls(t *testing.T) {
	ctx := context.Background()
	hdr := map[string]string{"X-Amzn-Bedrock-Input-Token-Count": "7", "X-Amzn-Bedrock-Invocation-Latency": "55", "X-Amzn-RequestId": "rid-typed"}
	tests := []struct {
		name     string
		respFile string
		call     func(c *Client) (InvokeMetadata, error)
		wantPath string
		wantBody string
	}{
		{"EmbedTitan", "titan_embed_v2_response.json", func(c *Client) (InvokeMetadata, error) {
			norm := true
			r, err := c.EmbedTitan(ctx, "amazon.titan-embed-text-v2:0", &TitanEmbedRequest{InputText: "hi", Dimensions: 256, Normalize: &norm})
			if err == nil && (len(r.Embedding) != 3 || r.InputTextTokenCount != 8 || r.EmbeddingsByType.Binary[2] != 1) {
				t.Errorf("titan = %+v", r)
			}
			return metaOf(r, err, func() InvokeMetadata { return r.InvokeMetadata })
		}, "/model/amazon.titan-embed-text-v2%3A0/invoke", `{"inputText":"hi","dimensions":256,"normalize":true}`},
		{"EmbedCohere", "cohere_embed_v3_response_floats.json", func(c *Client) (InvokeMetadata, error) {
			r, err := c.EmbedCohere(ctx, "cohere.embed-english-v3", &CohereEmbedRequest{Texts: []string{"a", "b"}, InputType: CohereSearchDocument})
			if err == nil && (len(r.Embeddings.Float) != 2 || r.ResponseType != "embeddings_floats") {
				t.Errorf("cohere = %+v", r)
			}
			return metaOf(r, err, func() InvokeMetadata { return r.InvokeMetadata })
		}, "/model/cohere.embed-english-v3/invoke", `{"texts":["a","b"],"input_type":"search_document"}`},
		{"EmbedNova", "nova_embed_response.json", func(c *Client) (InvokeMetadata, error) {
			r, err := c.EmbedNova(ctx, "amazon.nova-2-multimodal-embeddings-v1:0", NovaTextEmbedRequest("hi", "GENERIC_INDEX", 1024))
			if err == nil && (len(r.Embeddings) != 1 || r.Embeddings[0].EmbeddingType != "TEXT" || *r.Embeddings[0].TruncatedCharLength != 34) {
				t.Errorf("nova = %+v", r)
			}
			return metaOf(r, err, func() InvokeMetadata { return r.InvokeMetadata })
		}, "/model/amazon.nova-2-multimodal-embeddings-v1%3A0/invoke",
			`{"schemaVersion":"nova-multimodal-embed-v1","taskType":"SINGLE_EMBEDDING","singleEmbeddingParams":{"embeddingPurpose":"GENERIC_INDEX","embeddingDimension":1024,"text":{"truncationMode":"END","value":"hi"}}}`},
		{"GenerateImage", "image_response.json", func(c *Client) (InvokeMetadata, error) {
			seed := 0
			r, err := c.GenerateImage(ctx, "amazon.nova-canvas-v1:0", &ImageRequest{
				TaskType:              ImageTaskTextToImage,
				TextToImageParams:     &TextToImageParams{Text: "a cat"},
				ImageGenerationConfig: &ImageGenerationConfig{NumberOfImages: 2, Seed: &seed},
			})
			if err == nil && (len(r.Images) != 2 || r.Error != "") {
				t.Errorf("image = %+v", r)
			}
			return metaOf(r, err, func() InvokeMetadata { return r.InvokeMetadata })
		}, "/model/amazon.nova-canvas-v1%3A0/invoke",
			`{"taskType":"TEXT_IMAGE","textToImageParams":{"text":"a cat"},"imageGenerationConfig":{"seed":0,"numberOfImages":2}}`},
		{"InvokeAnthropic fills the version", "anthropic_thinking_response.json", func(c *Client) (InvokeMetadata, error) {
			req := &AnthropicRequest{MaxTokens: 50, Messages: []AnthropicMessage{{Role: "user", Content: AnthropicText("2+2?")}}}
			r, err := c.InvokeAnthropic(ctx, "us.anthropic.claude-sonnet-4-5-20250929-v1:0", req)
			if req.AnthropicVersion != "" {
				t.Error("InvokeAnthropic changed the caller's request")
			}
			if err == nil && (r.Text() != "4" || r.Content[0].Thinking != "Simple arithmetic." || r.Usage.CacheReadInputTokens != 1024) {
				t.Errorf("anthropic = %+v", r)
			}
			return metaOf(r, err, func() InvokeMetadata { return r.InvokeMetadata })
		}, "/model/us.anthropic.claude-sonnet-4-5-20250929-v1%3A0/invoke",
			`{"anthropic_version":"bedrock-2023-05-31","messages":[{"role":"user","content":"2+2?"}],"max_tokens":50}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &invFamilyServer{respFile: tt.respFile, header: hdr}
			srv := httptest.NewServer(s)
			defer srv.Close()
			md, err := tt.call(newInvClient(t, srv))
			if err != nil {
				t.Fatal(err)
			}
			if s.path != tt.wantPath {
				t.Errorf("path = %q, want %q", s.path, tt.wantPath)
			}
			if !invJSONEqual(t, []byte(s.body), []byte(tt.wantBody)) {
				t.Errorf("body = %s\nwant %s", s.body, tt.wantBody)
			}
			if md.InputTokenCount != 7 || md.InvocationLatency != 55*time.Millisecond || md.RequestID != "rid-typed" {
				t.Errorf("metadata = %+v", md)
			}
		})
	}
}

// metaOf returns the response's metadata unless the call failed.
func metaOf[T any](r *T, err error, md func() InvokeMetadata) (InvokeMetadata, error) {
	if err != nil || r == nil {
		return InvokeMetadata{}, err
	}
	return md(), nil
}

func TestTypedInvokeErrors(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/model/bad-json/invoke" {
			io.WriteString(w, `{"images":`)
			return
		}
		w.Header().Set("X-Amzn-ErrorType", "ValidationException")
		w.WriteHeader(400)
		io.WriteString(w, `{"message":"This request has been blocked by our content filters."}`)
	}))
	defer srv.Close()
	c := newInvClient(t, srv)
	ctx := context.Background()
	_, err := c.GenerateImage(ctx, "amazon.nova-canvas-v1:0", &ImageRequest{TaskType: ImageTaskTextToImage})
	if !errors.Is(err, ErrValidation) {
		t.Errorf("GenerateImage err = %v", err)
	}
	_, err = c.GenerateImage(ctx, "bad-json", &ImageRequest{TaskType: ImageTaskTextToImage})
	var op *OpError
	if !errors.As(err, &op) || op.Op != "InvokeModel" || errors.As(err, new(*Error)) {
		t.Errorf("bad JSON err = %v", err)
	}
	if _, err := c.EmbedTitan(ctx, "m", nil); err == nil {
		t.Error("nil request accepted")
	}
	if _, err := c.InvokeNova(ctx, "m", nil); err == nil {
		t.Error("nil request accepted")
	}
}

func TestAccumulatorsReasoning(t *testing.T) {
	// Claude extended thinking, as Anthropic streams it.
	chunks := []string{
		`{"type":"message_start","message":{"id":"m","type":"message","role":"assistant","model":"claude","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":12,"output_tokens":1}}}`,
		`{"type":"content_block_start","index":0,"content_block":{"type":"thinking","thinking":""}}`,
		`{"type":"content_block_delta","index":0,"delta":{"type":"thinking_delta","thinking":"Two plus "}}`,
		`{"type":"content_block_delta","index":0,"delta":{"type":"thinking_delta","thinking":"two."}}`,
		`{"type":"content_block_delta","index":0,"delta":{"type":"signature_delta","signature":"EqQB"}}`,
		`{"type":"content_block_stop","index":0}`,
		`{"type":"content_block_start","index":1,"content_block":{"type":"text","text":""}}`,
		`{"type":"content_block_delta","index":1,"delta":{"type":"text_delta","text":"4"}}`,
		`{"type":"content_block_stop","index":1}`,
		`{"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":9}}`,
		`{"type":"message_stop","amazon-bedrock-invocationMetrics":{"inputTokenCount":12,"outputTokenCount":9,"invocationLatency":900,"firstByteLatency":300}}`,
	}
	var a AnthropicAccumulator
	for _, ch := range chunks {
		ev, err := DecodeAnthropicStreamEvent([]byte(ch))
		if err != nil {
			t.Fatal(err)
		}
		if err := a.Add(ev); err != nil {
			t.Fatal(err)
		}
	}
	r := a.Response()
	if r.Content[0].Thinking != "Two plus two." || r.Content[0].Signature != "EqQB" || r.Text() != "4" ||
		r.StopReason != "end_turn" || r.Usage.InputTokens != 12 || r.Usage.OutputTokens != 9 || a.Metrics.FirstByteLatency != 300*time.Millisecond {
		t.Errorf("anthropic = %+v, metrics %+v", r, a.Metrics)
	}
	// Errors: a malformed tool input and an error event.
	var bad AnthropicAccumulator
	for _, ch := range []string{
		`{"type":"message_start","message":{"content":[]}}`,
		`{"type":"content_block_start","index":0,"content_block":{"type":"tool_use","id":"t","name":"f","input":{}}}`,
		`{"type":"content_block_delta","index":0,"delta":{"type":"input_json_delta","partial_json":"{\"a\":"}}`,
	} {
		ev, _ := DecodeAnthropicStreamEvent([]byte(ch))
		if err := bad.Add(ev); err != nil {
			t.Fatal(err)
		}
	}
	ev, _ := DecodeAnthropicStreamEvent([]byte(`{"type":"content_block_stop","index":0}`))
	if err := bad.Add(ev); err == nil {
		t.Error("truncated tool input accepted")
	}
	ev, _ = DecodeAnthropicStreamEvent([]byte(`{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}`))
	if err := bad.Add(ev); err == nil {
		t.Error("error event accepted")
	}

	// Nova reasoning deltas.
	var n NovaAccumulator
	for _, ch := range []string{
		`{"messageStart":{"role":"assistant"}}`,
		`{"contentBlockDelta":{"delta":{"reasoningContent":{"text":"Think"}},"contentBlockIndex":0}}`,
		`{"contentBlockDelta":{"delta":{"reasoningContent":{"text":"ing."}},"contentBlockIndex":0}}`,
		`{"contentBlockStop":{"contentBlockIndex":0}}`,
		`{"contentBlockDelta":{"delta":{"text":"Answer"},"contentBlockIndex":1}}`,
		`{"messageStop":{"stopReason":"end_turn"}}`,
		`{"metadata":{"usage":{"inputTokens":3,"outputTokens":4},"metrics":{},"trace":{}},"amazon-bedrock-invocationMetrics":{"inputTokenCount":3,"outputTokenCount":4,"invocationLatency":10,"firstByteLatency":5}}`,
		`{"someFutureEvent":{}}`,
	} {
		ev, err := DecodeNovaStreamEvent([]byte(ch))
		if err != nil {
			t.Fatal(err)
		}
		if err := n.Add(ev); err != nil {
			t.Fatal(err)
		}
	}
	nr := n.Response()
	if nr.Output.Message.Content[0].ReasoningContent.ReasoningText.Text != "Thinking." || nr.Text() != "Answer" ||
		nr.Usage.TotalTokens != 7 || nr.StopReason != "end_turn" || n.Metrics.InputTokenCount != 3 {
		t.Errorf("nova = %+v", nr)
	}
}

// TestAnthropicAccumulatorBlockIndexOutOfRange: a corrupt block index is an
// error, neither a panic (negative) nor an unbounded allocation (huge), as
// in StreamAccumulator.
func TestAnthropicAccumulatorBlockIndexOutOfRange(t *testing.T) {
	for _, index := range []int{-1, maxContentBlocks, 1 << 40} {
		var a AnthropicAccumulator
		ev := &AnthropicStreamEvent{Type: "content_block_start", Index: index, ContentBlock: &AnthropicBlock{Type: "text"}}
		if err := a.Add(ev); err == nil {
			t.Errorf("index %d: no error", index)
		}
		if n := len(a.Response().Content); n != 0 {
			t.Errorf("index %d: %d blocks allocated", index, n)
		}
	}
}
