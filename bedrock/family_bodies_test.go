package bedrock

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// TestFamilyBodiesGolden decodes each documented body under
// testdata/invoke_bodies into its type (unknown members rejected) and
// re-encodes it: equal JSON proves the member names, the unions and the
// pointers that keep explicit zeros.
func TestFamilyBodiesGolden(t *testing.T) {
	tests := []struct {
		file string
		v    func() any
	}{
		{"titan_embed_v1_request.json", func() any { return new(TitanEmbedRequest) }},
		{"titan_embed_v1_response.json", func() any { return new(TitanEmbedResponse) }},
		{"titan_embed_v2_request.json", func() any { return new(TitanEmbedRequest) }},
		{"titan_embed_v2_response.json", func() any { return new(TitanEmbedResponse) }},
		{"titan_embed_image_request.json", func() any { return new(TitanEmbedRequest) }},
		{"cohere_embed_v3_request.json", func() any { return new(CohereEmbedRequest) }},
		{"cohere_embed_v3_response_floats.json", func() any { return new(CohereEmbedResponse) }},
		{"cohere_embed_v3_request_types.json", func() any { return new(CohereEmbedRequest) }},
		{"cohere_embed_v3_response_by_type.json", func() any { return new(CohereEmbedResponse) }},
		{"cohere_embed_v4_request.json", func() any { return new(CohereEmbedRequest) }},
		{"nova_embed_request.json", func() any { return new(NovaEmbedRequest) }},
		{"nova_embed_image_request.json", func() any { return new(NovaEmbedRequest) }},
		{"nova_embed_response.json", func() any { return new(NovaEmbedResponse) }},
		{"nova_canvas_text_to_image_request.json", func() any { return new(ImageRequest) }},
		{"nova_canvas_condition_request.json", func() any { return new(ImageRequest) }},
		{"nova_canvas_color_guided_request.json", func() any { return new(ImageRequest) }},
		{"titan_image_variation_request.json", func() any { return new(ImageRequest) }},
		{"nova_canvas_inpainting_request.json", func() any { return new(ImageRequest) }},
		{"nova_canvas_outpainting_request.json", func() any { return new(ImageRequest) }},
		{"nova_canvas_background_removal_request.json", func() any { return new(ImageRequest) }},
		{"image_response.json", func() any { return new(ImageResponse) }},
		{"image_response_blocked.json", func() any { return new(ImageResponse) }},
		{"anthropic_full_request.json", func() any { return new(AnthropicRequest) }},
		{"anthropic_thinking_response.json", func() any { return new(AnthropicResponse) }},
		{"nova_full_request.json", func() any { return new(NovaRequest) }},
		{"cohere_command_r_full_request.json", func() any { return new(CohereCommandRRequest) }},
		{"cohere_command_r_tool_response.json", func() any { return new(CohereCommandRResponse) }},
		{"llama_vision_request.json", func() any { return new(LlamaRequest) }},
		{"mistral_full_request.json", func() any { return new(MistralRequest) }},
	}
	files, _ := filepath.Glob("testdata/invoke_bodies/*.json")
	if len(files) != len(tests) {
		t.Errorf("%d golden files, %d rows", len(files), len(tests))
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join("testdata/invoke_bodies", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			v := tt.v()
			dec := json.NewDecoder(bytes.NewReader(data))
			dec.DisallowUnknownFields()
			if err := dec.Decode(v); err != nil {
				t.Fatalf("decoding into %T: %v", v, err)
			}
			re, err := json.Marshal(v)
			if err != nil {
				t.Fatal(err)
			}
			if !invJSONEqual(t, data, re) {
				t.Errorf("%T re-encodes differently:\n got %s\nwant %s", v, re, data)
			}
		})
	}
}

func readInvBody(t *testing.T, name string, v any) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata/invoke_bodies", name))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		t.Fatal(err)
	}
}

func TestCohereEmbeddingsForms(t *testing.T) {
	var floats, byType CohereEmbedResponse
	readInvBody(t, "cohere_embed_v3_response_floats.json", &floats)
	readInvBody(t, "cohere_embed_v3_response_by_type.json", &byType)
	if floats.Embeddings.ByType || len(floats.Embeddings.Float) != 2 || floats.Embeddings.Float[1][2] != -0.06 {
		t.Errorf("floats form = %+v", floats.Embeddings)
	}
	e := byType.Embeddings
	if !e.ByType || byType.ResponseType != "embeddings_by_type" || len(e.Float) != 1 || e.Int8[0][1] != -3 || e.Ubinary[0][0] != 181 || e.Binary != nil {
		t.Errorf("by-type form = %+v", e)
	}
	var bad CohereEmbeddings
	if err := json.Unmarshal([]byte(`"x"`), &bad); err == nil {
		t.Error("a string decoded as embeddings")
	}
}

func TestAnthropicContentForms(t *testing.T) {
	tests := []struct {
		in   string
		text string
		str  bool
	}{
		{`"plain"`, "plain", true},
		{`[{"type":"text","text":"a"},{"type":"image","source":{"type":"base64","media_type":"image/png","data":"x"}},{"type":"text","text":"b"}]`, "ab", false},
		{`[]`, "", false},
	}
	for _, tt := range tests {
		var c AnthropicContent
		if err := json.Unmarshal([]byte(tt.in), &c); err != nil {
			t.Fatalf("%s: %v", tt.in, err)
		}
		if c.String() != tt.text || (c.Blocks == nil) != tt.str {
			t.Errorf("%s: text %q, blocks %v", tt.in, c.String(), c.Blocks)
		}
		re, _ := json.Marshal(c)
		if string(re) != tt.in && !invJSONEqual(t, re, []byte(tt.in)) {
			t.Errorf("%s re-encodes as %s", tt.in, re)
		}
	}
	var c AnthropicContent
	if err := json.Unmarshal([]byte(`{"type":"text"}`), &c); err == nil {
		t.Error("an object decoded as content")
	}
	// Constructors.
	if b, _ := json.Marshal(AnthropicText("hi")); string(b) != `"hi"` {
		t.Errorf("AnthropicText = %s", b)
	}
	if b, _ := json.Marshal(AnthropicBlocks()); string(b) != `[]` {
		t.Errorf("AnthropicBlocks() = %s", b)
	}
	// An absent system prompt is left out.
	b, _ := json.Marshal(AnthropicRequest{AnthropicVersion: AnthropicVersion, MaxTokens: 1, Messages: []AnthropicMessage{{Role: "user", Content: AnthropicText("x")}}})
	if want := `{"anthropic_version":"bedrock-2023-05-31","messages":[{"role":"user","content":"x"}],"max_tokens":1}`; string(b) != want {
		t.Errorf("minimal request = %s\nwant %s", b, want)
	}
}

func TestImageResponseDecode(t *testing.T) {
	var ok, blocked ImageResponse
	readInvBody(t, "image_response.json", &ok)
	readInvBody(t, "image_response_blocked.json", &blocked)
	png, err := ok.Image(1)
	if err != nil || !bytes.HasPrefix(png, []byte("\x89PNG\r\n\x1a\n")) {
		t.Errorf("Image(1) = %q, %v", png, err)
	}
	if _, err := ok.Image(2); err == nil {
		t.Error("Image(2) of 2 succeeded")
	}
	if len(blocked.Images) != 0 || blocked.Error == "" {
		t.Errorf("blocked = %+v", blocked)
	}
}
