package emulator

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"strings"
	"testing"
)

// imgTestPNG is a base64 PNG of the given size, half red and half blue.
func imgTestPNG(t testing.TB, w, h int) string {
	t.Helper()
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			if x < w/2 {
				img.Set(x, y, color.NRGBA{255, 0, 0, 255})
			} else {
				img.Set(x, y, color.NRGBA{0, 0, 255, 255})
			}
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(buf.Bytes())
}

// imgTestMask is a base64 PNG mask: black (the area to edit) in the left half.
func imgTestMask(t testing.TB, w, h int) string {
	t.Helper()
	img := image.NewGray(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			if x >= w/2 {
				img.SetGray(x, y, color.Gray{255})
			}
		}
	}
	var buf bytes.Buffer
	png.Encode(&buf, img)
	return base64.StdEncoding.EncodeToString(buf.Bytes())
}

// imgTestTransparent is a 320x320 PNG whose pixels are half transparent.
func imgTestTransparent(t testing.TB) string {
	t.Helper()
	img := image.NewNRGBA(image.Rect(0, 0, 320, 320))
	for i := 3; i < len(img.Pix); i += 4 {
		img.Pix[i] = 128
	}
	var buf bytes.Buffer
	png.Encode(&buf, img)
	return base64.StdEncoding.EncodeToString(buf.Bytes())
}

func imgTestJPEG(t testing.TB, w, h int) string {
	t.Helper()
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, image.NewRGBA(image.Rect(0, 0, w, h)), nil); err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(buf.Bytes())
}

type imgTestResponse struct {
	Images []string `json:"images"`
	Error  *string  `json:"error"`
}

func imgTestDecode(t *testing.T, resp []byte) (imgTestResponse, []image.Image) {
	t.Helper()
	var r imgTestResponse
	if err := json.Unmarshal(resp, &r); err != nil {
		t.Fatalf("response is not JSON: %v", err)
	}
	var out []image.Image
	for i, s := range r.Images {
		data, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			t.Fatalf("image %d is not base64: %v", i, err)
		}
		img, err := png.Decode(bytes.NewReader(data))
		if err != nil {
			t.Fatalf("image %d is not a PNG: %v", i, err)
		}
		out = append(out, img)
	}
	return r, out
}

func TestInvokeImageTasks(t *testing.T) {
	src := imgTestPNG(t, 512, 384)
	tests := []struct {
		name, model, body string
		count             int
		w, h              int
		transparent       bool
	}{
		{"nova text default size", "amazon.nova-canvas-v1:0",
			`{"taskType":"TEXT_IMAGE","textToImageParams":{"text":"a lighthouse at dusk","negativeText":"people","style":"PHOTOREALISM"}}`,
			1, 1024, 1024, false},
		{"nova text config", "us.amazon.nova-canvas-v1:0",
			`{"taskType":"TEXT_IMAGE","textToImageParams":{"text":"a lighthouse"},"imageGenerationConfig":{"width":1280,"height":720,"quality":"premium","cfgScale":6.5,"seed":12,"numberOfImages":2}}`,
			2, 1280, 720, false},
		{"nova condition image", "amazon.nova-canvas-v1:0",
			`{"taskType":"TEXT_IMAGE","textToImageParams":{"text":"a house","conditionImage":"` + src + `","controlMode":"SEGMENTATION","controlStrength":0.7},"imageGenerationConfig":{"width":512,"height":512}}`,
			1, 512, 512, false},
		{"nova color guided", "amazon.nova-canvas-v1:0",
			`{"taskType":"COLOR_GUIDED_GENERATION","colorGuidedGenerationParams":{"colors":["#FF0000","#00ff00","#0000FF"],"text":"abstract"},"imageGenerationConfig":{"width":512,"height":512,"numberOfImages":2}}`,
			2, 512, 512, false},
		{"nova variation", "amazon.nova-canvas-v1:0",
			`{"taskType":"IMAGE_VARIATION","imageVariationParams":{"images":["` + src + `"],"similarityStrength":0.7,"text":"more blue"}}`,
			1, 512, 384, false},
		{"nova inpainting mask prompt", "amazon.nova-canvas-v1:0",
			`{"taskType":"INPAINTING","inPaintingParams":{"image":"` + src + `","maskPrompt":"the left half","text":"a cat"}}`,
			1, 512, 384, false},
		{"nova inpainting mask image", "amazon.nova-canvas-v1:0",
			`{"taskType":"INPAINTING","inPaintingParams":{"image":"` + src + `","maskImage":"` + imgTestMask(t, 512, 384) + `"}}`,
			1, 512, 384, false},
		{"nova outpainting", "amazon.nova-canvas-v1:0",
			`{"taskType":"OUTPAINTING","outPaintingParams":{"image":"` + src + `","maskPrompt":"the sky","text":"mountains","outPaintingMode":"PRECISE"}}`,
			1, 512, 384, false},
		{"nova background removal", "amazon.nova-canvas-v1:0",
			`{"taskType":"BACKGROUND_REMOVAL","backgroundRemovalParams":{"image":"` + src + `"}}`,
			1, 512, 384, true},
		{"nova jpeg input", "amazon.nova-canvas-v1:0",
			`{"taskType":"BACKGROUND_REMOVAL","backgroundRemovalParams":{"image":"` + imgTestJPEG(t, 400, 320) + `"}}`,
			1, 400, 320, true},
		{"titan v1 text", "amazon.titan-image-generator-v1",
			`{"taskType":"TEXT_IMAGE","textToImageParams":{"text":"a red bicycle"},"imageGenerationConfig":{"numberOfImages":1,"quality":"standard","cfgScale":8.0,"height":512,"width":512,"seed":2147483646}}`,
			1, 512, 512, false},
		{"titan v2 color guided", "amazon.titan-image-generator-v2:0",
			`{"taskType":"COLOR_GUIDED_GENERATION","colorGuidedGenerationParams":{"colors":["#123456"],"text":"waves","referenceImage":"` + src + `"},"imageGenerationConfig":{"width":768,"height":768}}`,
			1, 768, 768, false},
		{"titan v2 background removal", "amazon.titan-image-generator-v2:0",
			`{"taskType":"BACKGROUND_REMOVAL","backgroundRemovalParams":{"image":"` + src + `"}}`,
			1, 512, 384, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			resp, err := invokeImage(tc.model, []byte(tc.body))
			if err != nil {
				t.Fatalf("invokeImage: %v", err)
			}
			r, imgs := imgTestDecode(t, resp)
			if r.Error != nil {
				t.Fatalf("error = %q", *r.Error)
			}
			var keys map[string]any
			json.Unmarshal(resp, &keys)
			if len(keys) != 1 {
				t.Errorf("response members = %v, want only images", keys)
			}
			if len(imgs) != tc.count {
				t.Fatalf("%d images, want %d", len(imgs), tc.count)
			}
			for _, img := range imgs {
				if b := img.Bounds(); b.Dx() != tc.w || b.Dy() != tc.h {
					t.Errorf("size %dx%d, want %dx%d", b.Dx(), b.Dy(), tc.w, tc.h)
				}
				_, _, _, a := img.At(0, 0).RGBA()
				if tc.transparent != (a == 0) {
					t.Errorf("corner alpha = %d, transparent background wanted: %v", a, tc.transparent)
				}
			}
			if len(r.Images) > 1 && r.Images[0] == r.Images[1] {
				t.Error("the images of one request are identical")
			}
			again, _ := invokeImage(tc.model, []byte(tc.body))
			if !bytes.Equal(resp, again) {
				t.Error("the same request gave different images")
			}
		})
	}
}

func TestImageColorGuidedUsesColors(t *testing.T) {
	resp, err := invokeImage("amazon.nova-canvas-v1:0", []byte(`{"taskType":"COLOR_GUIDED_GENERATION","colorGuidedGenerationParams":{"colors":["#FF0000","#0000FF"],"text":"x"},"imageGenerationConfig":{"width":320,"height":320}}`))
	if err != nil {
		t.Fatal(err)
	}
	_, imgs := imgTestDecode(t, resp)
	if got := color.NRGBAModel.Convert(imgs[0].At(0, 0)).(color.NRGBA); got != (color.NRGBA{255, 0, 0, 255}) {
		// Discs may cover the corner; the gradient's first row starts with colour 0.
		found := false
		for x := 0; x < 320 && !found; x++ {
			found = color.NRGBAModel.Convert(imgs[0].At(x, 0)).(color.NRGBA) == color.NRGBA{255, 0, 0, 255}
		}
		if !found {
			t.Errorf("top row has no #FF0000 pixel; corner is %v", got)
		}
	}
}

func TestImageSeedAndPromptChangeImage(t *testing.T) {
	body := func(text string, seed int) []byte {
		return []byte(fmt.Sprintf(`{"taskType":"TEXT_IMAGE","textToImageParams":{"text":%q},"imageGenerationConfig":{"width":320,"height":320,"seed":%d}}`, text, seed))
	}
	a, _ := invokeImage("amazon.nova-canvas-v1:0", body("a", 1))
	b, _ := invokeImage("amazon.nova-canvas-v1:0", body("a", 2))
	c, _ := invokeImage("amazon.nova-canvas-v1:0", body("b", 1))
	if bytes.Equal(a, b) || bytes.Equal(a, c) {
		t.Fatal("seed or prompt did not change the image")
	}
}

func TestImageModeration(t *testing.T) {
	tests := []struct {
		name, text string
		n, kept    int
		errMsg     string
	}{
		{"all blocked", "a cat " + imgMarkerBlocked, 2, 0, imgErrAllBlocked},
		{"some blocked", imgMarkerBlockedSome + " a cat", 4, 2, imgErrSomeBlocked},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			body := fmt.Sprintf(`{"taskType":"TEXT_IMAGE","textToImageParams":{"text":%q},"imageGenerationConfig":{"width":320,"height":320,"numberOfImages":%d}}`, tc.text, tc.n)
			resp, err := invokeImage("amazon.nova-canvas-v1:0", []byte(body))
			if err != nil {
				t.Fatal(err)
			}
			r, imgs := imgTestDecode(t, resp)
			if r.Error == nil || *r.Error != tc.errMsg || len(imgs) != tc.kept || r.Images == nil {
				t.Fatalf("got %s", resp)
			}
		})
	}
	_, err := invokeImage("amazon.nova-canvas-v1:0", []byte(`{"taskType":"TEXT_IMAGE","textToImageParams":{"text":"`+imgMarkerBlockedPrompt+`"}}`))
	if err == nil || err.Status != 400 || err.Message != imgErrPromptBlocked {
		t.Fatalf("input moderation: %v", err)
	}
}

// BenchmarkImage1024 measures one 1024x1024 Nova Canvas image, PNG encoding
// included (target: well under 100ms, so image tests and gateway clients
// are not slowed by the emulator). Results: docs/benchmarks.md.
func BenchmarkImage1024(b *testing.B) {
	body := []byte(`{"taskType":"TEXT_IMAGE","textToImageParams":{"text":"speed"},"imageGenerationConfig":{"width":1024,"height":1024}}`)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := invokeImage("amazon.nova-canvas-v1:0", body); err != nil {
			b.Fatal(err)
		}
	}
}

func TestImageValidation(t *testing.T) {
	src := imgTestPNG(t, 512, 384)
	small := imgTestPNG(t, 100, 100)
	mask := imgTestMask(t, 320, 320)
	text := func(cfg string) string {
		return `{"taskType":"TEXT_IMAGE","textToImageParams":{"text":"x"},"imageGenerationConfig":` + cfg + `}`
	}
	long := strings.Repeat("a", 1025)
	tests := []struct {
		name, model, body, msg string
	}{
		{"unknown model", "amazon.nova-reel-v1:0", `{}`, "The provided model identifier is invalid."},
		{"not JSON", "amazon.nova-canvas-v1:0", `{"taskType":`,
			"Malformed input request: Unterminated JSON text at 12 [character 13 line 1], please reformat your input and try again."},
		{"missing task", "amazon.nova-canvas-v1:0", `{"textToImageParams":{"text":"x"}}`,
			"Malformed input request: #: required key [taskType] not found, please reformat your input and try again."},
		{"bad task", "amazon.nova-canvas-v1:0", `{"taskType":"VIDEO"}`,
			"Malformed input request: #/taskType: VIDEO is not a valid enum value, please reformat your input and try again."},
		{"titan v1 has no color guidance", "amazon.titan-image-generator-v1", `{"taskType":"COLOR_GUIDED_GENERATION"}`,
			"Malformed input request: #/taskType: COLOR_GUIDED_GENERATION is not a valid enum value, please reformat your input and try again."},
		{"missing params", "amazon.nova-canvas-v1:0", `{"taskType":"TEXT_IMAGE"}`,
			"Malformed input request: #: required key [textToImageParams] not found, please reformat your input and try again."},
		{"other task's params", "amazon.nova-canvas-v1:0", `{"taskType":"TEXT_IMAGE","textToImageParams":{"text":"x"},"imageVariationParams":{"images":["` + src + `"]}}`,
			"Malformed input request: #: extraneous key [imageVariationParams] is not permitted, please reformat your input and try again."},
		{"empty text", "amazon.nova-canvas-v1:0", `{"taskType":"TEXT_IMAGE","textToImageParams":{"text":""}}`,
			"Malformed input request: #/textToImageParams/text: expected minLength: 1, actual: 0, please reformat your input and try again."},
		{"nova text too long", "amazon.nova-canvas-v1:0", `{"taskType":"TEXT_IMAGE","textToImageParams":{"text":"` + long + `"}}`,
			"Malformed input request: #/textToImageParams/text: expected maxLength: 1024, actual: 1025, please reformat your input and try again."},
		{"titan text too long", "amazon.titan-image-generator-v2:0", `{"taskType":"TEXT_IMAGE","textToImageParams":{"text":"` + long[:513] + `"}}`,
			"Malformed input request: #/textToImageParams/text: expected maxLength: 512, actual: 513, please reformat your input and try again."},
		{"titan has no style", "amazon.titan-image-generator-v2:0", `{"taskType":"TEXT_IMAGE","textToImageParams":{"text":"x","style":"PHOTOREALISM"}}`,
			"Malformed input request: #/textToImageParams: extraneous key [style] is not permitted, please reformat your input and try again."},
		{"bad style", "amazon.nova-canvas-v1:0", `{"taskType":"TEXT_IMAGE","textToImageParams":{"text":"x","style":"CUBISM"}}`,
			"Malformed input request: #/textToImageParams/style: CUBISM is not a valid enum value, please reformat your input and try again."},
		{"width too small", "amazon.nova-canvas-v1:0", text(`{"width":256,"height":512}`),
			"Malformed input request: #/imageGenerationConfig/width: 256 is not greater or equal to 320, please reformat your input and try again."},
		{"height too large", "amazon.nova-canvas-v1:0", text(`{"width":512,"height":4112}`),
			"Malformed input request: #/imageGenerationConfig/height: 4112 is not less or equal to 4096, please reformat your input and try again."},
		{"not a multiple of 16", "amazon.nova-canvas-v1:0", text(`{"width":1000,"height":1024}`),
			"Malformed input request: #/imageGenerationConfig: width and height must each be a multiple of 16 (got 1000x1024), please reformat your input and try again."},
		{"aspect ratio", "amazon.nova-canvas-v1:0", text(`{"width":2048,"height":496}`),
			"Malformed input request: #/imageGenerationConfig: the aspect ratio must be between 1:4 and 4:1 (got 2048x496), please reformat your input and try again."},
		{"too many pixels", "amazon.nova-canvas-v1:0", text(`{"width":2048,"height":2048}`),
			"Malformed input request: #/imageGenerationConfig: the total pixel count must be less than 4194304 (got 2048x2048 = 4194304), please reformat your input and try again."},
		{"width type", "amazon.nova-canvas-v1:0", text(`{"width":"512"}`),
			"Malformed input request: #/imageGenerationConfig/width: expected type: Integer, found: String, please reformat your input and try again."},
		{"cfgScale low", "amazon.nova-canvas-v1:0", text(`{"cfgScale":1}`),
			"Malformed input request: #/imageGenerationConfig/cfgScale: 1 is not greater or equal to 1.1, please reformat your input and try again."},
		{"cfgScale high", "amazon.nova-canvas-v1:0", text(`{"cfgScale":10.5}`),
			"Malformed input request: #/imageGenerationConfig/cfgScale: 10.5 is not less or equal to 10, please reformat your input and try again."},
		{"too many images", "amazon.nova-canvas-v1:0", text(`{"numberOfImages":6}`),
			"Malformed input request: #/imageGenerationConfig/numberOfImages: 6 is not less or equal to 5, please reformat your input and try again."},
		{"bad quality", "amazon.nova-canvas-v1:0", text(`{"quality":"ultra"}`),
			"Malformed input request: #/imageGenerationConfig/quality: ultra is not a valid enum value, please reformat your input and try again."},
		{"nova seed", "amazon.nova-canvas-v1:0", text(`{"seed":858993460}`),
			"Malformed input request: #/imageGenerationConfig/seed: 858993460 is not less or equal to 858993459, please reformat your input and try again."},
		{"titan seed", "amazon.titan-image-generator-v1", text(`{"seed":2147483647}`),
			"Malformed input request: #/imageGenerationConfig/seed: 2147483647 is not less or equal to 2147483646, please reformat your input and try again."},
		{"negative seed", "amazon.titan-image-generator-v1", text(`{"seed":-1}`),
			"Malformed input request: #/imageGenerationConfig/seed: -1 is not greater or equal to 0, please reformat your input and try again."},
		{"unknown config key", "amazon.nova-canvas-v1:0", text(`{"steps":30}`),
			"Malformed input request: #/imageGenerationConfig: extraneous key [steps] is not permitted, please reformat your input and try again."},
		{"no colors", "amazon.nova-canvas-v1:0", `{"taskType":"COLOR_GUIDED_GENERATION","colorGuidedGenerationParams":{"colors":[],"text":"x"}}`,
			"Malformed input request: #/colorGuidedGenerationParams/colors: expected minimum item count: 1, found: 0, please reformat your input and try again."},
		{"eleven colors", "amazon.nova-canvas-v1:0", `{"taskType":"COLOR_GUIDED_GENERATION","colorGuidedGenerationParams":{"colors":["#000000","#000000","#000000","#000000","#000000","#000000","#000000","#000000","#000000","#000000","#000000"],"text":"x"}}`,
			"Malformed input request: #/colorGuidedGenerationParams/colors: expected maximum item count: 10, found: 11, please reformat your input and try again."},
		{"bad color", "amazon.nova-canvas-v1:0", `{"taskType":"COLOR_GUIDED_GENERATION","colorGuidedGenerationParams":{"colors":["red"],"text":"x"}}`,
			"Malformed input request: #/colorGuidedGenerationParams/colors/0: string [red] does not match pattern ^#[0-9A-Fa-f]{6}$, please reformat your input and try again."},
		{"no variation images", "amazon.nova-canvas-v1:0", `{"taskType":"IMAGE_VARIATION","imageVariationParams":{"images":[]}}`,
			"Malformed input request: #/imageVariationParams/images: expected minimum item count: 1, found: 0, please reformat your input and try again."},
		{"six variation images", "amazon.nova-canvas-v1:0", `{"taskType":"IMAGE_VARIATION","imageVariationParams":{"images":["a","a","a","a","a","a"]}}`,
			"Malformed input request: #/imageVariationParams/images: expected maximum item count: 5, found: 6, please reformat your input and try again."},
		{"similarity low", "amazon.nova-canvas-v1:0", `{"taskType":"IMAGE_VARIATION","imageVariationParams":{"images":["` + src + `"],"similarityStrength":0.1}}`,
			"Malformed input request: #/imageVariationParams/similarityStrength: 0.1 is not greater or equal to 0.2, please reformat your input and try again."},
		{"image not base64", "amazon.nova-canvas-v1:0", `{"taskType":"IMAGE_VARIATION","imageVariationParams":{"images":["%%%"]}}`,
			"Malformed input request: #/imageVariationParams/images/0: the image must be a base64-encoded PNG or JPEG, please reformat your input and try again."},
		{"image not PNG", "amazon.nova-canvas-v1:0", `{"taskType":"BACKGROUND_REMOVAL","backgroundRemovalParams":{"image":"aGVsbG8="}}`,
			"Malformed input request: #/backgroundRemovalParams/image: the image must be a base64-encoded PNG or JPEG, please reformat your input and try again."},
		{"input image too small", "amazon.nova-canvas-v1:0", `{"taskType":"BACKGROUND_REMOVAL","backgroundRemovalParams":{"image":"` + small + `"}}`,
			"Malformed input request: #/backgroundRemovalParams/image: the image is 100x100; each side must be between 320 and 4096 pixels and the total fewer than 4194304 pixels, please reformat your input and try again."},
		{"background removal takes no config", "amazon.nova-canvas-v1:0", `{"taskType":"BACKGROUND_REMOVAL","backgroundRemovalParams":{"image":"` + src + `"},"imageGenerationConfig":{"width":512,"height":512}}`,
			"Malformed input request: #: extraneous key [imageGenerationConfig] is not permitted, please reformat your input and try again."},
		{"inpainting needs a mask", "amazon.nova-canvas-v1:0", `{"taskType":"INPAINTING","inPaintingParams":{"image":"` + src + `","text":"x"}}`,
			"Malformed input request: #/inPaintingParams: exactly one of maskPrompt or maskImage must be provided, please reformat your input and try again."},
		{"inpainting two masks", "amazon.nova-canvas-v1:0", `{"taskType":"INPAINTING","inPaintingParams":{"image":"` + src + `","maskPrompt":"x","maskImage":"` + src + `"}}`,
			"Malformed input request: #/inPaintingParams: exactly one of maskPrompt or maskImage must be provided, please reformat your input and try again."},
		{"mask size", "amazon.nova-canvas-v1:0", `{"taskType":"OUTPAINTING","outPaintingParams":{"image":"` + src + `","maskImage":"` + mask + `"}}`,
			"The mask image must have the same dimensions as the input image (512x384), got 320x320."},
		{"outpainting mode", "amazon.nova-canvas-v1:0", `{"taskType":"OUTPAINTING","outPaintingParams":{"image":"` + src + `","maskPrompt":"x","outPaintingMode":"FAST"}}`,
			"Malformed input request: #/outPaintingParams/outPaintingMode: FAST is not a valid enum value, please reformat your input and try again."},
		{"mask not black and white", "amazon.nova-canvas-v1:0", `{"taskType":"INPAINTING","inPaintingParams":{"image":"` + src + `","maskImage":"` + src + `"}}`,
			"Malformed input request: #/inPaintingParams/maskImage: the mask image must contain only pure black and pure white pixels, please reformat your input and try again."},
		{"transparent input", "amazon.nova-canvas-v1:0", `{"taskType":"BACKGROUND_REMOVAL","backgroundRemovalParams":{"image":"` + imgTestTransparent(t) + `"}}`,
			"Malformed input request: #/backgroundRemovalParams/image: the image has transparent or semi-transparent pixels, please reformat your input and try again."},
		{"control strength", "amazon.nova-canvas-v1:0", `{"taskType":"TEXT_IMAGE","textToImageParams":{"text":"x","controlStrength":1.5}}`,
			"Malformed input request: #/textToImageParams/controlStrength: 1.5 is not less or equal to 1, please reformat your input and try again."},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := invokeImage(tc.model, []byte(tc.body))
			if err == nil {
				t.Fatal("no error")
			}
			if err.Status != 400 || err.Code != "ValidationException" || err.Message != tc.msg {
				t.Fatalf("got %d %s %q\nwant 400 ValidationException %q", err.Status, err.Code, err.Message, tc.msg)
			}
		})
	}
}
