package openai

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"regexp"
	"strings"

	"github.com/quarry-dev/quarry/bedrock"
	"github.com/quarry-dev/quarry/internal/upstream"
)

// Nova Canvas's input image rules (Amazon Nova user guide, "Input images
// for image generation" and "Supported image resolutions"); Titan Image
// Generator v2 shares them.
const (
	imageMinSide   = 320
	imageMaxSide   = 4096
	imageMaxPixels = 4194304 // exclusive
)

// maxImagesOf is how many images one request may ask for: above five the
// gateway splits the request into several Bedrock calls.
func maxImagesOf(m *upstream.Model) int {
	if m.Image.MaxImages > 0 {
		return m.Image.MaxImages
	}
	return 10
}

// generationTaskOf is the task a generations body asks for: Bedrock's
// taskType (either spelling), or COLOR_GUIDED_GENERATION when it sends
// colors. The editing tasks have their own routes.
func generationTaskOf(req *imageRequest) (string, *apiError) {
	task, param := strings.ToUpper(req.TaskType), "taskType"
	if req.TaskTypeSnake != "" {
		if task != "" && task != strings.ToUpper(req.TaskTypeSnake) {
			return "", invalid("task_type", "'taskType' (%s) and 'task_type' (%s) disagree; send one.", req.TaskType, req.TaskTypeSnake)
		}
		task, param = strings.ToUpper(req.TaskTypeSnake), "task_type"
	}
	switch task {
	case "":
		if len(req.Colors) > 0 {
			return bedrock.ImageTaskColorGuided, nil
		}
		return bedrock.ImageTaskTextToImage, nil
	case bedrock.ImageTaskTextToImage:
		if len(req.Colors) > 0 {
			return "", invalid("colors", "'colors' goes with COLOR_GUIDED_GENERATION, not TEXT_IMAGE.")
		}
		return task, nil
	case bedrock.ImageTaskColorGuided:
		return task, nil
	case bedrock.ImageTaskInpainting, bedrock.ImageTaskOutpainting, bedrock.ImageTaskBackgroundRemoval:
		return "", invalid(param, "'%s' %s edits an image: send it to POST /v1/images/edits with the image.", param, task)
	case bedrock.ImageTaskVariation:
		return "", invalid(param, "'%s' IMAGE_VARIATION needs input images: send it to POST /v1/images/variations.", param)
	default:
		return "", invalid(param, "'%s' must be TEXT_IMAGE or COLOR_GUIDED_GENERATION here (INPAINTING, OUTPAINTING and BACKGROUND_REMOVAL go to /v1/images/edits, IMAGE_VARIATION to /v1/images/variations); got %q.", param, req.TaskType+req.TaskTypeSnake)
	}
}

var hexColor = regexp.MustCompile(`^#[0-9A-Fa-f]{6}$`)

// colorGuidedRequest builds COLOR_GUIDED_GENERATION: 1-10 hex colors, a
// prompt, and an optional reference image (base64 or a data: URL in JSON;
// raw bytes from a form, already encoded by the caller).
func colorGuidedRequest(m *upstream.Model, p *imagePlan, colors []string, reference, refParam string) (*bedrock.ImageRequest, *apiError) {
	if !supportsTask(m, bedrock.ImageTaskColorGuided) {
		return nil, invalid("colors", "%s has no COLOR_GUIDED_GENERATION task; use Nova Canvas or Titan Image Generator v2.", p.lim.name)
	}
	if strings.TrimSpace(p.text) == "" {
		return nil, invalid("prompt", "'prompt' is required for COLOR_GUIDED_GENERATION.")
	}
	if len(colors) < 1 || len(colors) > 10 {
		return nil, invalid("colors", "'colors' must list 1 to 10 colors for COLOR_GUIDED_GENERATION (got %d).", len(colors))
	}
	for i, c := range colors {
		if !hexColor.MatchString(c) {
			return nil, invalid("colors", "'colors[%d]' %q must be a hex color like #FF9800.", i, c)
		}
	}
	if reference != "" {
		raw, aerr := decodeImageField(reference, refParam)
		if aerr != nil {
			return nil, aerr
		}
		if _, aerr := checkInputImage(raw, refParam); aerr != nil {
			return nil, aerr
		}
		reference = base64.StdEncoding.EncodeToString(raw)
	}
	return &bedrock.ImageRequest{
		TaskType: bedrock.ImageTaskColorGuided,
		ColorGuidedGenerationParams: &bedrock.ColorGuidedParams{
			Text: p.text, NegativeText: p.negative, Colors: colors, ReferenceImage: reference,
		},
		ImageGenerationConfig: p.config,
	}, nil
}

// supportsTask: Titan Image Generator v1 lacks color guidance and
// background removal.
func supportsTask(m *upstream.Model, task string) bool {
	if strings.Contains(m.ModelID, "titan-image-generator-v1") {
		return task != bedrock.ImageTaskColorGuided && task != bedrock.ImageTaskBackgroundRemoval
	}
	return true
}

// decodeImageField reads an image sent in JSON: base64, or a data: URL.
func decodeImageField(s, param string) ([]byte, *apiError) {
	if rest, ok := strings.CutPrefix(s, "data:"); ok {
		_, b64, found := strings.Cut(rest, ";base64,")
		if !found {
			return nil, invalid(param, "'%s' must be a base64 image or a data:image/...;base64, URL.", param)
		}
		s = b64
	}
	raw, err := base64.StdEncoding.DecodeString(s)
	if err != nil || len(raw) == 0 {
		return nil, invalid(param, "'%s' must be a base64-encoded PNG or JPEG image.", param)
	}
	return raw, nil
}

// checkInputImage decodes an input image and checks Nova Canvas's rules:
// PNG or JPEG, each side 320-4096 pixels, fewer than 4,194,304 pixels, an
// aspect ratio between 1:4 and 4:1, and no transparent pixels.
func checkInputImage(raw []byte, param string) (image.Image, *apiError) {
	img, aerr := decodeImage(raw, param)
	if aerr != nil {
		return nil, aerr
	}
	w, h := img.Bounds().Dx(), img.Bounds().Dy()
	switch {
	case w < imageMinSide || h < imageMinSide || w > imageMaxSide || h > imageMaxSide:
		return nil, invalid(param, "'%s' is %dx%d: each side must be between %d and %d pixels.", param, w, h, imageMinSide, imageMaxSide)
	case w*h >= imageMaxPixels:
		return nil, invalid(param, "'%s' is %dx%d = %d pixels: it must have fewer than %d.", param, w, h, w*h, imageMaxPixels)
	case w > 4*h || h > 4*w:
		return nil, invalid(param, "'%s' is %dx%d: the aspect ratio must be between 1:4 and 4:1.", param, w, h)
	}
	if transparent(img) {
		return nil, invalid(param, "'%s' has transparent pixels; Bedrock takes opaque images only (mark the area to edit with 'mask' or 'mask_prompt').", param)
	}
	return img, nil
}

func decodeImage(raw []byte, param string) (image.Image, *apiError) {
	var img image.Image
	var err error
	switch {
	case bytes.HasPrefix(raw, []byte("\x89PNG\r\n\x1a\n")):
		img, err = png.Decode(bytes.NewReader(raw))
	case bytes.HasPrefix(raw, []byte{0xff, 0xd8}):
		img, err = jpeg.Decode(bytes.NewReader(raw))
	default:
		return nil, invalid(param, "'%s' must be a PNG or JPEG image.", param)
	}
	if err != nil {
		return nil, invalid(param, "'%s' could not be decoded as an image: %v.", param, err)
	}
	return img, nil
}

// alphaOf is a pixel's alpha: 0 transparent, 0xffff opaque, or
// in between.
func alphaOf(c color.Color) uint32 {
	_, _, _, a := c.RGBA()
	return a
}

func transparent(img image.Image) bool {
	if o, ok := img.(interface{ Opaque() bool }); ok && o.Opaque() {
		return false
	}
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			if alphaOf(img.At(x, y)) != 0xffff {
				return true
			}
		}
	}
	return false
}

// novaMask turns a client's mask into Bedrock's: pure black and white, the
// size of the image. OpenAI masks mark the area to edit with transparent
// pixels; those become the area Bedrock changes (black for inpainting,
// white for outpainting). A mask with no transparency must already be
// pure black and white, in Bedrock's sense.
func novaMask(raw []byte, img image.Image, task string) (string, *apiError) {
	mask, aerr := decodeImage(raw, "mask")
	if aerr != nil {
		return "", aerr
	}
	if mask.Bounds().Size() != img.Bounds().Size() {
		return "", invalid("mask", "'mask' is %dx%d but 'image' is %dx%d: the mask must have the same dimensions as the image.",
			mask.Bounds().Dx(), mask.Bounds().Dy(), img.Bounds().Dx(), img.Bounds().Dy())
	}
	b := mask.Bounds()
	out := image.NewGray(image.Rect(0, 0, b.Dx(), b.Dy()))
	edit, keep := color.Gray{0}, color.Gray{255} // inpainting: black changes
	if task == bedrock.ImageTaskOutpainting {
		edit, keep = keep, edit
	}
	if transparent(mask) {
		for y := 0; y < b.Dy(); y++ {
			for x := 0; x < b.Dx(); x++ {
				switch alphaOf(mask.At(b.Min.X+x, b.Min.Y+y)) {
				case 0:
					out.SetGray(x, y, edit)
				case 0xffff:
					out.SetGray(x, y, keep)
				default:
					return "", invalid("mask", "'mask' has a semi-transparent pixel at (%d,%d): pixels must be fully transparent (edit) or opaque (keep).", x, y)
				}
			}
		}
	} else {
		for y := 0; y < b.Dy(); y++ {
			for x := 0; x < b.Dx(); x++ {
				r, g, bl, _ := mask.At(b.Min.X+x, b.Min.Y+y).RGBA()
				switch {
				case r == 0 && g == 0 && bl == 0:
					out.SetGray(x, y, color.Gray{0})
				case r == 0xffff && g == 0xffff && bl == 0xffff:
					out.SetGray(x, y, color.Gray{255})
				default:
					return "", invalid("mask", "'mask' has a pixel at (%d,%d) that is neither pure black nor pure white: a mask without transparency must be black and white only.", x, y)
				}
			}
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, out); err != nil {
		return "", &apiError{Status: 500, Type: "api_error", Msg: fmt.Sprintf("encoding the mask failed: %v", err)}
	}
	return base64.StdEncoding.EncodeToString(buf.Bytes()), nil
}
