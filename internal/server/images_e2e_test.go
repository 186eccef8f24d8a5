package server_test

import (
	"bytes"
	"encoding/base64"
	"errors"
	"image/png"
	"net/http"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
)

func TestImagesE2E(t *testing.T) {
	t.Parallel()
	g := startGateway(t, quickstart, nil)
	client := sdkClient(g)
	ctx := sdkContext(t)

	decode := func(t *testing.T, b64 string, w, h int) {
		t.Helper()
		raw, err := base64.StdEncoding.DecodeString(b64)
		if err != nil {
			t.Fatalf("b64_json: %v", err)
		}
		img, err := png.Decode(bytes.NewReader(raw))
		if err != nil {
			t.Fatalf("not a PNG: %v", err)
		}
		if b := img.Bounds(); b.Dx() != w || b.Dy() != h {
			t.Errorf("image is %dx%d; want %dx%d", b.Dx(), b.Dy(), w, h)
		}
	}

	t.Run("size and n", func(t *testing.T) {
		resp, err := client.Images.Generate(ctx, openai.ImageGenerateParams{
			Model:          "nova-canvas",
			Prompt:         "a lighthouse on a cliff at dusk",
			Size:           "512x320",
			N:              openai.Int(2),
			ResponseFormat: openai.ImageGenerateParamsResponseFormatB64JSON,
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(resp.Data) != 2 || resp.Created == 0 {
			t.Fatalf("%d images, created %d; want 2", len(resp.Data), resp.Created)
		}
		for _, d := range resp.Data {
			decode(t, d.B64JSON, 512, 320)
		}
	})

	t.Run("defaults, hd quality, Nova Canvas options", func(t *testing.T) {
		resp, err := client.Images.Generate(ctx, openai.ImageGenerateParams{
			Model:  "nova-canvas",
			Prompt: "a red bicycle",
			// DALL·E 3's value: deprecated in the SDK, still sent by older clients.
			Quality: "hd",
			Style:   openai.ImageGenerateParamsStyleVivid, // ignored
		}, option.WithJSONSet("negative_text", "people"), option.WithJSONSet("cfg_scale", 7.5), option.WithJSONSet("seed", 42))
		if err != nil {
			t.Fatal(err)
		}
		if len(resp.Data) != 1 {
			t.Fatalf("%d images; want 1", len(resp.Data))
		}
		decode(t, resp.Data[0].B64JSON, 1024, 1024)
	})

	t.Run("a Nova Canvas style preset", func(t *testing.T) {
		resp, err := client.Images.Generate(ctx, openai.ImageGenerateParams{Model: "nova-canvas", Prompt: "a fox", Size: "320x320"},
			option.WithJSONSet("style", "PHOTOREALISM"))
		if err != nil {
			t.Fatal(err)
		}
		decode(t, resp.Data[0].B64JSON, 320, 320)
	})

	t.Run("content filter", func(t *testing.T) {
		// The emulator acts out Bedrock's output moderation on this marker:
		// a 200 whose "error" says every image was blocked.
		_, err := client.Images.Generate(ctx, openai.ImageGenerateParams{Model: "nova-canvas", Prompt: "[[quarry:blocked-image]] a cat", Size: "320x320"})
		wantAPIError(t, err, http.StatusBadRequest, "")
		var apiErr *openai.Error
		if errors.As(err, &apiErr) && apiErr.Code != "content_policy_violation" {
			t.Errorf("code = %q; want content_policy_violation", apiErr.Code)
		}
		// Some blocked: the survivors come back.
		resp, err := client.Images.Generate(ctx, openai.ImageGenerateParams{Model: "nova-canvas", Prompt: "[[quarry:blocked-some-images]] a cat",
			Size: "320x320", N: openai.Int(3)})
		if err != nil {
			t.Fatal(err)
		}
		if len(resp.Data) == 0 || len(resp.Data) >= 3 {
			t.Errorf("%d images; want the unblocked ones of 3", len(resp.Data))
		}
	})

	t.Run("errors", func(t *testing.T) {
		for _, c := range []struct {
			name   string
			params openai.ImageGenerateParams
			opts   []option.RequestOption
			status int
			param  string
		}{
			{"unknown model", openai.ImageGenerateParams{Model: "dall-e-3", Prompt: "x"}, nil, http.StatusNotFound, "model"},
			{"embedding model", openai.ImageGenerateParams{Model: "titan-embed", Prompt: "x"}, nil, http.StatusBadRequest, "model"},
			{"chat model", openai.ImageGenerateParams{Model: "claude-sonnet", Prompt: "x"}, nil, http.StatusBadRequest, "model"},
			{"bad size", openai.ImageGenerateParams{Model: "nova-canvas", Prompt: "x", Size: "1000x1000"}, nil, http.StatusBadRequest, "size"},
			{"size not WxH", openai.ImageGenerateParams{Model: "nova-canvas", Prompt: "x", Size: "large"}, nil, http.StatusBadRequest, "size"},
			{"url format", openai.ImageGenerateParams{Model: "nova-canvas", Prompt: "x", ResponseFormat: openai.ImageGenerateParamsResponseFormatURL}, nil, http.StatusBadRequest, "response_format"},
			{"n too large", openai.ImageGenerateParams{Model: "nova-canvas", Prompt: "x", N: openai.Int(11)}, nil, http.StatusBadRequest, "n"},
			{"empty prompt", openai.ImageGenerateParams{Model: "nova-canvas", Prompt: ""}, nil, http.StatusBadRequest, "prompt"},
			{"bad style", openai.ImageGenerateParams{Model: "nova-canvas", Prompt: "x"}, []option.RequestOption{option.WithJSONSet("style", "CUBISM")}, http.StatusBadRequest, "style"},
			{"bad cfg_scale", openai.ImageGenerateParams{Model: "nova-canvas", Prompt: "x"}, []option.RequestOption{option.WithJSONSet("cfg_scale", 20)}, http.StatusBadRequest, "cfg_scale"},
		} {
			t.Run(c.name, func(t *testing.T) {
				_, err := client.Images.Generate(ctx, c.params, c.opts...)
				wantAPIError(t, err, c.status, c.param)
			})
		}
	})
}
