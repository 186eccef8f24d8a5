package server_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/quarry-dev/quarry/internal/server"
)

// testPNG draws an opaque w×h PNG (a gradient, so that it is not blank).
func testPNG(t testing.TB, w, h int) []byte {
	t.Helper()
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			img.SetNRGBA(x, y, color.NRGBA{uint8(x), uint8(y), 128, 255})
		}
	}
	return encodePNG(t, img)
}

// openAIMask is an OpenAI-style mask: opaque, with a fully transparent
// square (the area to edit) in the middle.
func openAIMask(t testing.TB, w, h int) []byte {
	t.Helper()
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			a := uint8(255)
			if x >= w/4 && x < 3*w/4 && y >= h/4 && y < 3*h/4 {
				a = 0
			}
			img.SetNRGBA(x, y, color.NRGBA{255, 255, 255, a})
		}
	}
	return encodePNG(t, img)
}

func encodePNG(t testing.TB, img image.Image) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// summarizeImages replaces base64 images in a Bedrock body with a short,
// stable description, so that goldens stay readable: size, and for masks
// the count of black pixels.
func summarizeImages(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = summarizeImages(e)
		}
	case []any:
		for i, e := range x {
			x[i] = summarizeImages(e)
		}
	case string:
		if len(x) < 100 {
			return x
		}
		raw, err := base64.StdEncoding.DecodeString(x)
		if err != nil {
			return x
		}
		img, err := png.Decode(bytes.NewReader(raw))
		if err != nil {
			return x
		}
		b := img.Bounds()
		black := 0
		for y := b.Min.Y; y < b.Max.Y; y++ {
			for xx := b.Min.X; xx < b.Max.X; xx++ {
				if r, g, bl, _ := img.At(xx, y).RGBA(); r == 0 && g == 0 && bl == 0 {
					black++
				}
			}
		}
		sum := sha256.Sum256(raw)
		return fmt.Sprintf("<png %dx%d, %d black pixels, sha256 %x>", b.Dx(), b.Dy(), black, sum[:4])
	}
	return v
}

// checkServerGolden compares v with testdata/<name>.json
// (QUARRY_UPDATE_GOLDEN=1 rewrites it).
func checkServerGolden(t *testing.T, name string, v any) {
	t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // the image summaries read "<png …>"
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		t.Fatal(err)
	}
	got := buf.Bytes()
	path := filepath.Join("testdata", name+".json")
	if os.Getenv("QUARRY_UPDATE_GOLDEN") == "1" {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (QUARRY_UPDATE_GOLDEN=1 writes it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file:\n got: %s\nwant: %s", path, got, want)
	}
}

// bedrockBodies are the bodies of the recorded calls to modelID, images
// summarized.
func (r *recorder) bodies(t *testing.T, modelID string) []any {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []any
	for _, c := range r.calls {
		if !strings.HasPrefix(c.Path, "/model/"+modelID+"/") {
			continue
		}
		var body any
		if err := json.Unmarshal(c.Body, &body); err != nil {
			t.Fatalf("Bedrock body: %v", err)
		}
		out = append(out, summarizeImages(body))
	}
	return out
}

// TestImageTasksE2E drives every Nova Canvas task through the quick start
// with the official OpenAI Go SDK (edits, variations, generations), checks
// the images that come back, and checks the bodies that reached Bedrock
// against golden files.
func TestImageTasksE2E(t *testing.T) {
	rec := &recorder{}
	g := startChatGateway(t, quickstart, nil, server.Options{UpstreamTransport: rec})
	client := sdkClient(g)
	ctx := sdkContext(t)
	src := testPNG(t, 512, 320)
	file := func(b []byte) io.Reader { return openai.File(bytes.NewReader(b), "image.png", "image/png") }
	extra := func(kv ...any) map[string]any {
		m := map[string]any{}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i].(string)] = kv[i+1]
		}
		return m
	}
	edit := func(prompt string, mask []byte, fields map[string]any) openai.ImageEditParams {
		p := openai.ImageEditParams{
			Model: "nova-canvas", Prompt: prompt,
			Image:          openai.ImageEditParamsImageUnion{OfFile: file(src)},
			ResponseFormat: openai.ImageEditParamsResponseFormatB64JSON,
		}
		if mask != nil {
			p.Mask = file(mask)
		}
		if fields != nil {
			p.SetExtraFields(fields)
		}
		return p
	}
	for _, c := range []struct {
		name  string
		call  func() (*openai.ImagesResponse, error)
		n     int
		w, h  int
		calls int
	}{
		{"inpainting_mask", func() (*openai.ImagesResponse, error) {
			return client.Images.Edit(ctx, edit("a red door", openAIMask(t, 512, 320), nil))
		}, 1, 512, 320, 1},
		{"inpainting_mask_prompt", func() (*openai.ImagesResponse, error) {
			p := edit("a red door", nil, extra("mask_prompt", "the door", "negative_text", "people", "seed", "7"))
			p.N = openai.Int(2)
			return client.Images.Edit(ctx, p)
		}, 2, 512, 320, 1},
		{"outpainting", func() (*openai.ImagesResponse, error) {
			return client.Images.Edit(ctx, edit("a beach at sunset", openAIMask(t, 512, 320), extra("outpainting_mode", "PRECISE")))
		}, 1, 512, 320, 1},
		{"background_removal", func() (*openai.ImagesResponse, error) {
			return client.Images.Edit(ctx, edit("ignored", nil, extra("task_type", "BACKGROUND_REMOVAL")))
		}, 1, 512, 320, 1},
		{"color_guided_edit", func() (*openai.ImagesResponse, error) {
			p := edit("a poster of a fox", nil, extra("colors", "#FF9800,#000000"))
			p.Size = "320x320"
			return client.Images.Edit(ctx, p)
		}, 1, 320, 320, 1},
		{"variation", func() (*openai.ImagesResponse, error) {
			p := openai.ImageNewVariationParams{Model: "nova-canvas", Image: file(src), N: openai.Int(3), Size: "512x512",
				ResponseFormat: openai.ImageNewVariationParamsResponseFormatB64JSON}
			p.SetExtraFields(extra("similarity_strength", "0.7", "prompt", "in watercolor"))
			//lint:ignore SA1019 OpenAI deprecated variations, but clients still call it: the issue asks for it
			return client.Images.NewVariation(ctx, p)
		}, 3, 512, 512, 1},
		{"color_guided_generation", func() (*openai.ImagesResponse, error) {
			return client.Images.Generate(ctx, openai.ImageGenerateParams{Model: "nova-canvas", Prompt: "a poster", Size: "320x320"},
				option.WithJSONSet("taskType", "COLOR_GUIDED_GENERATION"), option.WithJSONSet("colors", []string{"#112233"}))
		}, 1, 320, 320, 1},
		{"text_image_n7_split", func() (*openai.ImagesResponse, error) {
			return client.Images.Generate(ctx, openai.ImageGenerateParams{Model: "nova-canvas", Prompt: "a lighthouse", Size: "320x320", N: openai.Int(7)},
				option.WithJSONSet("seed", 40))
		}, 7, 320, 320, 2},
	} {
		t.Run(c.name, func(t *testing.T) {
			rec.reset()
			resp, err := c.call()
			if err != nil {
				t.Fatal(err)
			}
			if len(resp.Data) != c.n {
				t.Fatalf("%d images; want %d", len(resp.Data), c.n)
			}
			seen := map[string]bool{}
			for _, d := range resp.Data {
				raw, err := base64.StdEncoding.DecodeString(d.B64JSON)
				if err != nil {
					t.Fatal(err)
				}
				img, err := png.Decode(bytes.NewReader(raw))
				if err != nil {
					t.Fatalf("not a PNG: %v", err)
				}
				if b := img.Bounds(); b.Dx() != c.w || b.Dy() != c.h {
					t.Errorf("image %dx%d; want %dx%d", b.Dx(), b.Dy(), c.w, c.h)
				}
				seen[d.B64JSON] = true
			}
			if c.name == "text_image_n7_split" && len(seen) != 7 {
				t.Errorf("%d distinct images of 7: the split calls repeated images", len(seen))
			}
			bodies := rec.bodies(t, "amazon.nova-canvas-v1:0")
			if len(bodies) != c.calls {
				t.Fatalf("%d Bedrock calls; want %d", len(bodies), c.calls)
			}
			checkServerGolden(t, "images/"+c.name, bodies)
		})
	}
}
