package openai

import (
	"encoding/json"
	"testing"

	"github.com/quarry-dev/quarry/bedrock"
	"github.com/quarry-dev/quarry/internal/config"
	"github.com/quarry-dev/quarry/internal/upstream"
)

func TestImageRequestGolden(t *testing.T) {
	seed := int64(7)
	cfg := 8.0
	canvasDefaults := testModel(config.KindImage, "canvas-defaults", "amazon.nova-canvas-v1:0", func(m *config.Model) {
		m.Image = config.ImageParams{Width: 1280, Height: 720, Quality: "premium", CfgScale: &cfg, Seed: &seed,
			Style: "PHOTOREALISM", NegativeText: "blur"}
	})
	titanImg := testModel(config.KindImage, "titan-image", "amazon.titan-image-generator-v2:0", nil)
	canvas20 := testModel(config.KindImage, "canvas-20", "amazon.nova-canvas-v1:0", func(m *config.Model) { m.Image.MaxImages = 20 })
	titanV1Img := testModel(config.KindImage, "titan-image-v1", "amazon.titan-image-generator-v1", nil)
	embed := testModel(config.KindEmbedding, "titan-embed", "amazon.titan-embed-text-v2:0", nil)
	long := func(n int) string {
		b := make([]byte, n)
		for i := range b {
			b[i] = 'a'
		}
		return string(b)
	}
	for _, c := range []struct {
		name  string
		model *upstream.Model
		body  string
	}{
		{"canvas_defaults", canvasModel, `{"prompt":"a red bicycle"}`},
		{"canvas_model_params", canvasDefaults, `{"prompt":"a red bicycle"}`},
		{"canvas_request_wins", canvasDefaults, `{"prompt":"a red bicycle","size":"512x512","n":3,"quality":"standard","style":"design_sketch",
			"negative_text":"","cfg_scale":2.5,"seed":858993459}`},
		{"canvas_hd_is_premium", canvasModel, `{"prompt":"x","quality":"hd","style":"vivid","response_format":"b64_json"}`},
		{"canvas_openai_style_ignored", canvasDefaults, `{"prompt":"x","style":"natural"}`},
		{"canvas_size_auto", canvasModel, `{"prompt":"x","size":"auto"}`},
		{"titan_options", titanImg, `{"prompt":"x","n":5,"seed":2147483646,"negative_text":"dark","quality":"premium"}`},
		{"titan_style_refused", titanImg, `{"prompt":"x","style":"PHOTOREALISM"}`},
		{"titan_prompt_too_long", titanImg, `{"prompt":"` + long(513) + `"}`},
		{"canvas_prompt_1024_ok_length", canvasModel, `{"prompt":"` + long(1024) + `","size":"320x320"}`},
		{"canvas_prompt_too_long", canvasModel, `{"prompt":"` + long(1025) + `"}`},
		{"missing_prompt", canvasModel, `{"model":"nova-canvas"}`},
		{"blank_prompt", canvasModel, `{"prompt":"   "}`},
		{"size_not_multiple_of_16", canvasModel, `{"prompt":"x","size":"1000x1000"}`},
		{"size_too_many_pixels", canvasModel, `{"prompt":"x","size":"4096x1024"}`},
		{"size_garbage", canvasModel, `{"prompt":"x","size":"big"}`},
		{"n_zero", canvasModel, `{"prompt":"x","n":0}`},
		{"n_six_split_later", canvasModel, `{"prompt":"x","n":6}`},
		{"n_above_max_images", canvasModel, `{"prompt":"x","n":11}`},
		{"n_within_configured_max_images", canvas20, `{"prompt":"x","n":15}`},
		{"n_above_configured_max_images", canvas20, `{"prompt":"x","n":21}`},
		{"color_guided", canvasModel, `{"prompt":"a poster","colors":["#FF9800","#000000"],"taskType":"COLOR_GUIDED_GENERATION"}`},
		{"color_guided_by_colors", canvasModel, `{"prompt":"a poster","colors":["#ff9800"]}`},
		{"task_type_inpainting_refused", canvasModel, `{"prompt":"x","task_type":"INPAINTING"}`},
		{"task_type_unknown", canvasModel, `{"prompt":"x","taskType":"VIRTUAL_TRY_ON"}`},
		{"colors_bad_hex", canvasModel, `{"prompt":"x","colors":["orange"]}`},
		{"colors_with_text_image", canvasModel, `{"prompt":"x","colors":["#000000"],"taskType":"TEXT_IMAGE"}`},
		{"titan_v1_color_guided_refused", titanV1Img, `{"prompt":"x","colors":["#000000"]}`},
		{"quality_unknown", canvasModel, `{"prompt":"x","quality":"ultra"}`},
		{"url_refused", canvasModel, `{"prompt":"x","response_format":"url"}`},
		{"webp_refused", canvasModel, `{"prompt":"x","output_format":"webp"}`},
		{"style_unknown", canvasModel, `{"prompt":"x","style":"CUBISM"}`},
		{"cfg_scale_low", canvasModel, `{"prompt":"x","cfg_scale":1.0}`},
		{"canvas_seed_too_large", canvasModel, `{"prompt":"x","seed":858993460}`},
		{"seed_negative", titanImg, `{"prompt":"x","seed":-1}`},
		{"embedding_model", embed, `{"prompt":"x"}`},
		{"chat_model", chatModelDef, `{"prompt":"x"}`},
	} {
		t.Run(c.name, func(t *testing.T) {
			var req imageRequest
			if err := json.Unmarshal([]byte(c.body), &req); err != nil {
				t.Fatal(err)
			}
			breq, aerr := imageRequestOf(c.model, &req)
			if aerr != nil && aerr.Status != 400 {
				t.Errorf("status %d; want 400", aerr.Status)
			}
			if c.name == "canvas_prompt_1024_ok_length" {
				if aerr != nil {
					t.Fatal(aerr)
				}
				return // the golden would only repeat the prompt
			}
			checkConvertGolden(t, "images", c.name, outcome(breq, aerr))
		})
	}
}

func TestImagesResponseOf(t *testing.T) {
	breq := &bedrock.ImageRequest{ImageGenerationConfig: &bedrock.ImageGenerationConfig{Width: 512, Height: 320, Quality: "premium", NumberOfImages: 3}}
	for _, c := range []struct {
		name string
		resp *bedrock.ImageResponse
	}{
		{"response_two_images", &bedrock.ImageResponse{Images: []string{"aW1nMQ==", "aW1nMg=="}}},
		{"response_some_blocked", &bedrock.ImageResponse{Images: []string{"aW1nMQ=="},
			Error: "Some of the generated images have been blocked by our content filters."}},
		{"response_all_blocked", &bedrock.ImageResponse{Error: "All of the generated images have been blocked by our content filters."}},
		{"response_empty", &bedrock.ImageResponse{}},
	} {
		t.Run(c.name, func(t *testing.T) {
			out, aerr := imagesResponseOf(c.resp, breq, 1700000000)
			if aerr != nil && (aerr.Status != 400 || aerr.Code != "content_policy_violation") {
				t.Errorf("error %+v; want a 400 content_policy_violation", aerr)
			}
			checkConvertGolden(t, "images", c.name, outcome(out, aerr))
		})
	}
}
