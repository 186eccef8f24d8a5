package emulator

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"regexp"
	"strings"
)

// Markers in a prompt (any text field of the request) that make the emulator
// act out Bedrock's content moderation of image models:
//
//   - imgMarkerBlocked: output moderation, every image withheld — a 200 whose
//     "error" says so (Nova Canvas's documented behaviour, not an exception).
//   - imgMarkerBlockedSome: output moderation, part of the images withheld
//     (when more than one was asked for).
//   - imgMarkerBlockedPrompt: input moderation, a 400 ValidationException.
const (
	imgMarkerBlocked       = "[[quarry:blocked-image]]"
	imgMarkerBlockedSome   = "[[quarry:blocked-some-images]]"
	imgMarkerBlockedPrompt = "[[quarry:blocked-prompt]]"
)

const (
	imgErrAllBlocked    = "All of the generated images have been blocked by our content filters."
	imgErrSomeBlocked   = "Some of the generated images have been blocked by our content filters."
	imgErrPromptBlocked = "This request has been blocked by our content filters. Please adjust your text prompt to submit a new request."
)

// invokeImage answers InvokeModel for an image model (Nova Canvas, Titan Image
// Generator v1/v2) with the native response body {"images":[...]}.
func invokeImage(modelID string, body []byte) (resp []byte, err *apiError) {
	base := famBaseModelID(modelID)
	var model imgModel
	switch {
	case strings.HasPrefix(base, "amazon.nova-canvas"):
		model = imgModel{name: "nova", promptMax: 1024, seedMax: 858993459, defaultSeed: 12,
			tasks: []string{"TEXT_IMAGE", "COLOR_GUIDED_GENERATION", "IMAGE_VARIATION", "INPAINTING", "OUTPAINTING", "BACKGROUND_REMOVAL"}}
	case strings.HasPrefix(base, "amazon.titan-image-generator-v2"):
		model = imgModel{name: "titan-v2", promptMax: 512, seedMax: 2147483646, defaultSeed: 42,
			tasks: []string{"TEXT_IMAGE", "COLOR_GUIDED_GENERATION", "IMAGE_VARIATION", "INPAINTING", "OUTPAINTING", "BACKGROUND_REMOVAL"}}
	case strings.HasPrefix(base, "amazon.titan-image-generator-v1"):
		model = imgModel{name: "titan-v1", promptMax: 512, seedMax: 2147483646, defaultSeed: 42,
			tasks: []string{"TEXT_IMAGE", "IMAGE_VARIATION", "INPAINTING", "OUTPAINTING"}}
	default:
		return nil, errInvalidModel()
	}
	return model.invoke(body)
}

type imgModel struct {
	name        string
	promptMax   int
	seedMax     float64
	defaultSeed int
	tasks       []string
}

// imgParamsKey is the parameter object that goes with each task type.
var imgParamsKey = map[string]string{
	"TEXT_IMAGE":              "textToImageParams",
	"COLOR_GUIDED_GENERATION": "colorGuidedGenerationParams",
	"IMAGE_VARIATION":         "imageVariationParams",
	"INPAINTING":              "inPaintingParams",
	"OUTPAINTING":             "outPaintingParams",
	"BACKGROUND_REMOVAL":      "backgroundRemovalParams",
}

func (m imgModel) spec() *famSpec {
	prompt := famStrLen(1, m.promptMax)
	text2img := famObj([]string{"text"}, map[string]*famSpec{
		"text":            prompt,
		"negativeText":    prompt,
		"conditionImage":  famStr(),
		"controlMode":     famEnum("CANNY_EDGE", "SEGMENTATION"),
		"controlStrength": famNum(0, 1),
	})
	if m.name == "nova" {
		text2img.props["style"] = famEnum("3D_ANIMATED_FAMILY_FILM", "DESIGN_SKETCH", "FLAT_VECTOR_ILLUSTRATION",
			"GRAPHIC_NOVEL_ILLUSTRATION", "MAXIMALISM", "MIDCENTURY_RETRO", "PHOTOREALISM", "SOFT_DIGITAL_PAINTING")
	}
	if m.name == "titan-v1" {
		delete(text2img.props, "conditionImage")
		delete(text2img.props, "controlMode")
		delete(text2img.props, "controlStrength")
	}
	props := map[string]*famSpec{
		"taskType":          famEnum(m.tasks...),
		"textToImageParams": text2img,
		"colorGuidedGenerationParams": famObj([]string{"colors", "text"}, map[string]*famSpec{
			"colors":         famList(famStr(), 1, 10),
			"referenceImage": famStr(),
			"text":           prompt,
			"negativeText":   prompt,
		}),
		"imageVariationParams": famObj([]string{"images"}, map[string]*famSpec{
			"images":             famList(famStr(), 1, 5),
			"similarityStrength": famNum(0.2, 1),
			"text":               prompt,
			"negativeText":       prompt,
		}),
		"inPaintingParams": famObj([]string{"image"}, map[string]*famSpec{
			"image":        famStr(),
			"text":         prompt,
			"negativeText": prompt,
			"maskPrompt":   prompt,
			"maskImage":    famStr(),
		}),
		"outPaintingParams": famObj([]string{"image"}, map[string]*famSpec{
			"image":           famStr(),
			"text":            prompt,
			"negativeText":    prompt,
			"maskPrompt":      prompt,
			"maskImage":       famStr(),
			"outPaintingMode": famEnum("DEFAULT", "PRECISE"),
		}),
		"backgroundRemovalParams": famObj([]string{"image"}, map[string]*famSpec{
			"image": famStr(),
		}),
		"imageGenerationConfig": famObj(nil, map[string]*famSpec{
			"width":          famInt(320, 4096),
			"height":         famInt(320, 4096),
			"quality":        famEnum("standard", "premium"),
			"cfgScale":       famNum(1.1, 10),
			"numberOfImages": famInt(1, 5),
			"seed":           famInt(0, m.seedMax),
		}),
	}
	for task, key := range imgParamsKey {
		if !imgContains(m.tasks, task) {
			delete(props, key)
		}
	}
	return famObj([]string{"taskType"}, props)
}

func imgContains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

var imgHexColor = regexp.MustCompile(`^#[0-9A-Fa-f]{6}$`)

func (m imgModel) invoke(body []byte) ([]byte, *apiError) {
	req, err := famDecode(body, m.spec())
	if err != nil {
		return nil, err
	}
	task := famGetString(req, "taskType")
	paramsKey := imgParamsKey[task]
	// Exactly the task's own parameter object, and no generation config for
	// background removal.
	var problems []string
	if _, ok := req[paramsKey]; !ok {
		problems = append(problems, fmt.Sprintf("#: required key [%s] not found", paramsKey))
	}
	for key := range req {
		other := key != paramsKey && key != "taskType" && key != "imageGenerationConfig"
		if other || (key == "imageGenerationConfig" && task == "BACKGROUND_REMOVAL") {
			problems = append(problems, fmt.Sprintf("#: extraneous key [%s] is not permitted", key))
		}
	}
	switch len(problems) {
	case 0:
	case 1:
		return nil, famMalformed(problems[0])
	default:
		return nil, famMalformed(fmt.Sprintf("%d schema violations found", len(problems)))
	}
	params := famGetObject(req, paramsKey)

	var prompts []string
	for _, k := range []string{"text", "negativeText", "maskPrompt"} {
		if s := famGetString(params, k); s != "" {
			prompts = append(prompts, s)
		}
	}
	allText := strings.Join(prompts, "\n")
	if strings.Contains(allText, imgMarkerBlockedPrompt) {
		return nil, validationError(imgErrPromptBlocked)
	}

	cfg := famGetObject(req, "imageGenerationConfig")
	width, height := famGetInt(cfg, "width", 1024), famGetInt(cfg, "height", 1024)
	if aerr := imgCheckSize(width, height, "#/imageGenerationConfig"); aerr != nil {
		return nil, aerr
	}
	count := famGetInt(cfg, "numberOfImages", 1)
	seed := famGetInt(cfg, "seed", m.defaultSeed)

	// Task-specific inputs and checks.
	var palette []color.NRGBA
	var input *image.NRGBA // the image the task edits, if any
	var mask *image.NRGBA
	switch task {
	case "TEXT_IMAGE":
		if s, ok := params["conditionImage"].(string); ok {
			if _, aerr := imgDecodeInput(s, "#/textToImageParams/conditionImage"); aerr != nil {
				return nil, aerr
			}
		}
	case "COLOR_GUIDED_GENERATION":
		for i, c := range famGetStrings(params, "colors") {
			if !imgHexColor.MatchString(c) {
				return nil, famMalformed(fmt.Sprintf("#/colorGuidedGenerationParams/colors/%d: string [%s] does not match pattern ^#[0-9A-Fa-f]{6}$", i, c))
			}
			palette = append(palette, imgParseHex(c))
		}
		if s, ok := params["referenceImage"].(string); ok {
			if _, aerr := imgDecodeInput(s, "#/colorGuidedGenerationParams/referenceImage"); aerr != nil {
				return nil, aerr
			}
		}
	case "IMAGE_VARIATION":
		for i, s := range famGetStrings(params, "images") {
			img, aerr := imgDecodeInput(s, fmt.Sprintf("#/imageVariationParams/images/%d", i))
			if aerr != nil {
				return nil, aerr
			}
			if i == 0 {
				input = img
			}
		}
	case "INPAINTING", "OUTPAINTING", "BACKGROUND_REMOVAL":
		img, aerr := imgDecodeInput(famGetString(params, "image"), "#/"+paramsKey+"/image")
		if aerr != nil {
			return nil, aerr
		}
		input = img
		if task != "BACKGROUND_REMOVAL" {
			_, hasPrompt := params["maskPrompt"]
			maskB64, hasMask := params["maskImage"].(string)
			if hasPrompt == hasMask {
				return nil, validationError("Malformed input request: #/%s: exactly one of maskPrompt or maskImage must be provided, please reformat your input and try again.", paramsKey)
			}
			if hasMask {
				mk, aerr := imgDecodeInput(maskB64, "#/"+paramsKey+"/maskImage")
				if aerr != nil {
					return nil, aerr
				}
				if mk.Bounds() != input.Bounds() {
					return nil, validationError("The mask image must have the same dimensions as the input image (%dx%d), got %dx%d.",
						input.Bounds().Dx(), input.Bounds().Dy(), mk.Bounds().Dx(), mk.Bounds().Dy())
				}
				if !imgBlackAndWhite(mk) {
					return nil, validationError("Malformed input request: #/%s/maskImage: the mask image must contain only pure black and pure white pixels, please reformat your input and try again.", paramsKey)
				}
				mask = mk
			}
		}
	}
	if task == "BACKGROUND_REMOVAL" {
		count = 1
	}

	kept := count
	errMsg := ""
	switch {
	case strings.Contains(allText, imgMarkerBlocked):
		kept, errMsg = 0, imgErrAllBlocked
	case strings.Contains(allText, imgMarkerBlockedSome) && count > 1:
		kept, errMsg = count/2, imgErrSomeBlocked
	}

	images := make([]string, 0, kept)
	for i := 0; i < kept; i++ {
		seedBytes := sha256.Sum256([]byte(fmt.Sprintf("%s\x00%s\x00%s\x00%d\x00%d", m.name, task, allText, seed, i)))
		rnd := imgRand(binary.BigEndian.Uint64(seedBytes[:8]))
		var out *image.NRGBA
		switch task {
		case "TEXT_IMAGE", "COLOR_GUIDED_GENERATION":
			out = image.NewNRGBA(image.Rect(0, 0, width, height))
			imgPaint(out, out.Bounds(), palette, &rnd)
		case "IMAGE_VARIATION":
			// The variation takes the requested size, the input's by default.
			out = imgVariation(input, famGetInt(cfg, "width", 0), famGetInt(cfg, "height", 0), &rnd)
		case "INPAINTING":
			out = imgInpaint(input, mask, &rnd, false)
		case "OUTPAINTING":
			out = imgInpaint(input, mask, &rnd, true)
		case "BACKGROUND_REMOVAL":
			out = imgRemoveBackground(input)
		}
		enc, eerr := imgEncodePNG(out)
		if eerr != nil {
			return nil, &apiError{Status: 500, Code: "InternalServerException", Message: "encoding the generated image failed"}
		}
		images = append(images, enc)
	}
	resp := map[string]any{"images": images}
	if errMsg != "" {
		resp["error"] = errMsg
	}
	return mustJSON(resp), nil
}

// imgCheckSize enforces the output resolution rules shared by Nova Canvas and
// Titan Image Generator (the per-side range is part of the schema).
func imgCheckSize(w, h int, path string) *apiError {
	switch {
	case w%16 != 0 || h%16 != 0:
		return validationError("Malformed input request: %s: width and height must each be a multiple of 16 (got %dx%d), please reformat your input and try again.", path, w, h)
	case w > 4*h || h > 4*w:
		return validationError("Malformed input request: %s: the aspect ratio must be between 1:4 and 4:1 (got %dx%d), please reformat your input and try again.", path, w, h)
	case w*h >= 4194304:
		return validationError("Malformed input request: %s: the total pixel count must be less than 4194304 (got %dx%d = %d), please reformat your input and try again.", path, w, h, w*h)
	}
	return nil
}

// imgDecodeConfig reads the size and format of a PNG or JPEG without
// decoding its pixels.
func imgDecodeConfig(data []byte) (image.Config, string, error) {
	if bytes.HasPrefix(data, []byte("\x89PNG\r\n\x1a\n")) {
		c, err := png.DecodeConfig(bytes.NewReader(data))
		return c, "png", err
	}
	if bytes.HasPrefix(data, []byte{0xff, 0xd8}) {
		c, err := jpeg.DecodeConfig(bytes.NewReader(data))
		return c, "jpeg", err
	}
	return image.Config{}, "", fmt.Errorf("not a PNG or JPEG image")
}

// imgDecodeInput decodes a base64 PNG or JPEG input image and checks the
// input size rules (each side 320–4096 px, fewer than 4,194,304 pixels).
func imgDecodeInput(b64, path string) (*image.NRGBA, *apiError) {
	bad := func(why string) *apiError {
		return validationError("Malformed input request: %s: %s, please reformat your input and try again.", path, why)
	}
	data, err := base64.StdEncoding.DecodeString(b64)
	if err != nil || len(data) == 0 {
		return nil, bad("the image must be a base64-encoded PNG or JPEG")
	}
	cfg, format, err := imgDecodeConfig(data)
	if err != nil {
		return nil, bad("the image must be a base64-encoded PNG or JPEG")
	}
	w, h := cfg.Width, cfg.Height
	if w < 320 || h < 320 || w > 4096 || h > 4096 || w*h >= 4194304 {
		return nil, bad(fmt.Sprintf("the image is %dx%d; each side must be between 320 and 4096 pixels and the total fewer than 4194304 pixels", w, h))
	}
	var img image.Image
	if format == "png" {
		img, err = png.Decode(bytes.NewReader(data))
	} else {
		img, err = jpeg.Decode(bytes.NewReader(data))
	}
	if err != nil {
		return nil, bad("the image data is corrupt")
	}
	// The Nova user guide: PNG alpha channels may not hold transparent or
	// semi-transparent pixels.
	if o, ok := img.(interface{ Opaque() bool }); ok && !o.Opaque() {
		return nil, bad("the image has transparent or semi-transparent pixels")
	}
	if n, ok := img.(*image.NRGBA); ok {
		return n, nil
	}
	out := image.NewNRGBA(image.Rect(0, 0, w, h))
	b := img.Bounds()
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			out.Set(x, y, img.At(b.Min.X+x, b.Min.Y+y))
		}
	}
	return out, nil
}

// imgBlackAndWhite reports whether every pixel is pure black or pure white.
func imgBlackAndWhite(img *image.NRGBA) bool {
	for i := 0; i+3 < len(img.Pix); i += 4 {
		r, g, b := img.Pix[i], img.Pix[i+1], img.Pix[i+2]
		if !(r == 0 && g == 0 && b == 0) && !(r == 255 && g == 255 && b == 255) {
			return false
		}
	}
	return true
}

func imgParseHex(s string) color.NRGBA {
	var r, g, b uint8
	fmt.Sscanf(s[1:], "%02x%02x%02x", &r, &g, &b)
	return color.NRGBA{r, g, b, 255}
}

// imgRand is a splitmix64 generator: deterministic pictures from a seed.
type imgRand uint64

func (r *imgRand) next() uint64 {
	*r += 0x9e3779b97f4a7c15
	z := uint64(*r)
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

func (r *imgRand) intn(n int) int { return int(r.next() % uint64(n)) }

func (r *imgRand) color() color.NRGBA {
	v := r.next()
	return color.NRGBA{uint8(v), uint8(v >> 8), uint8(v >> 16), 255}
}

// imgPaint fills rect of img with a vertical gradient and a few discs, in the
// palette's colours when one is given. Whole rows are filled by copying, so a
// 1024x1024 picture costs a few milliseconds.
func imgPaint(img *image.NRGBA, rect image.Rectangle, palette []color.NRGBA, rnd *imgRand) {
	pick := func(i int) color.NRGBA {
		if len(palette) > 0 {
			return palette[i%len(palette)]
		}
		return rnd.color()
	}
	top, bottom := pick(0), pick(1)
	w, h := rect.Dx(), rect.Dy()
	if w <= 0 || h <= 0 {
		return
	}
	row := make([]byte, 4*w)
	for y := 0; y < h; y++ {
		t := float64(y) / float64(max(h-1, 1))
		c := [4]byte{
			uint8(float64(top.R)*(1-t) + float64(bottom.R)*t),
			uint8(float64(top.G)*(1-t) + float64(bottom.G)*t),
			uint8(float64(top.B)*(1-t) + float64(bottom.B)*t),
			255,
		}
		copy(row[:4], c[:])
		for filled := 4; filled < len(row); filled *= 2 {
			copy(row[filled:], row[:filled])
		}
		off := img.PixOffset(rect.Min.X, rect.Min.Y+y)
		copy(img.Pix[off:off+4*w], row)
	}
	discs := 3
	if len(palette) > 2 {
		discs = len(palette) - 2
	}
	for i := 0; i < discs; i++ {
		c := pick(i + 2)
		r := min(w, h)/8 + rnd.intn(max(min(w, h)/5, 1))
		cx, cy := rect.Min.X+rnd.intn(w), rect.Min.Y+rnd.intn(h)
		for y := max(cy-r, rect.Min.Y); y < min(cy+r, rect.Max.Y); y++ {
			dy := y - cy
			half := 0
			for half*half+dy*dy <= r*r {
				half++
			}
			x0, x1 := max(cx-half, rect.Min.X), min(cx+half, rect.Max.X)
			for x := x0; x < x1; x++ {
				off := img.PixOffset(x, y)
				img.Pix[off], img.Pix[off+1], img.Pix[off+2], img.Pix[off+3] = c.R, c.G, c.B, 255
			}
		}
	}
}

// imgVariation keeps the input's layout and shifts its colours, at the
// requested size (w×h; zero keeps the input's).
func imgVariation(in *image.NRGBA, w, h int, rnd *imgRand) *image.NRGBA {
	b := in.Bounds()
	if w == 0 || h == 0 {
		w, h = b.Dx(), b.Dy()
	}
	out := image.NewNRGBA(image.Rect(0, 0, w, h))
	shift := rnd.color()
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			c := in.NRGBAAt(b.Min.X+x*b.Dx()/w, b.Min.Y+y*b.Dy()/h)
			out.SetNRGBA(x, y, color.NRGBA{c.R ^ shift.R>>2, c.G ^ shift.G>>2, c.B ^ shift.B>>2, 255})
		}
	}
	return out
}

// imgInpaint repaints the masked area of the input (black pixels of the mask
// image, or the central half when the mask came from a prompt); outpainting
// repaints everything else instead.
func imgInpaint(in, mask *image.NRGBA, rnd *imgRand, outside bool) *image.NRGBA {
	b := in.Bounds()
	fresh := image.NewNRGBA(b)
	imgPaint(fresh, b, nil, rnd)
	out := image.NewNRGBA(b)
	copy(out.Pix, in.Pix)
	center := image.Rect(b.Dx()/4, b.Dy()/4, b.Dx()*3/4, b.Dy()*3/4)
	for y := 0; y < b.Dy(); y++ {
		for x := 0; x < b.Dx(); x++ {
			var masked bool
			if mask != nil {
				o := mask.PixOffset(x, y)
				masked = int(mask.Pix[o])+int(mask.Pix[o+1])+int(mask.Pix[o+2]) < 3*128
			} else {
				masked = image.Pt(x, y).In(center)
			}
			if masked != outside {
				o := out.PixOffset(x, y)
				copy(out.Pix[o:o+4], fresh.Pix[o:o+4])
			}
			out.Pix[out.PixOffset(x, y)+3] = 255
		}
	}
	return out
}

// imgRemoveBackground keeps the central ellipse of the input as the
// "subject" and makes everything else transparent.
func imgRemoveBackground(in *image.NRGBA) *image.NRGBA {
	b := in.Bounds()
	out := image.NewNRGBA(b)
	copy(out.Pix, in.Pix)
	rx, ry := float64(b.Dx())/2.5, float64(b.Dy())/2.5
	cx, cy := float64(b.Dx())/2, float64(b.Dy())/2
	for y := 0; y < b.Dy(); y++ {
		for x := 0; x < b.Dx(); x++ {
			dx, dy := (float64(x)-cx)/rx, (float64(y)-cy)/ry
			o := out.PixOffset(x, y)
			if dx*dx+dy*dy > 1 {
				out.Pix[o], out.Pix[o+1], out.Pix[o+2], out.Pix[o+3] = 0, 0, 0, 0
			} else {
				out.Pix[o+3] = 255
			}
		}
	}
	return out
}

func imgEncodePNG(img image.Image) (string, error) {
	var buf bytes.Buffer
	enc := png.Encoder{CompressionLevel: png.BestSpeed}
	if err := enc.Encode(&buf, img); err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString(buf.Bytes()), nil
}
