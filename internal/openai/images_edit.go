package openai

import (
	"encoding/base64"
	"errors"
	"io"
	"mime/multipart"
	"net/http"
	"strconv"
	"strings"

	"github.com/quarry-dev/quarry/bedrock"
	"github.com/quarry-dev/quarry/internal/upstream"
)

// imageEditForm is the multipart body of POST /v1/images/edits and
// /v1/images/variations: OpenAI's fields, plus Bedrock's task options as
// extra fields (mask_prompt, outpainting_mode, similarity_strength, colors,
// task_type).
type imageEditForm struct {
	Model string
	imageOptions
	Images [][]byte // "image", or "image[]" (several)
	Mask   []byte

	MaskPrompt         string
	OutpaintingMode    string
	TaskType           string
	Colors             []string
	SimilarityStrength *float64
}

// maxFormMemory is what a form may hold in memory before Go spills file
// parts to disk; the body itself is bounded by server.max_request_bytes.
const maxFormMemory = 32 << 20

// parseImageForm reads an edit or variation form.
func parseImageForm(r *http.Request) (*imageEditForm, *apiError) {
	ct := r.Header.Get("Content-Type")
	if !strings.HasPrefix(ct, "multipart/form-data") {
		return nil, invalid("", "Send this request as multipart/form-data with the image as a file part (got Content-Type %q).", ct)
	}
	if err := r.ParseMultipartForm(maxFormMemory); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, &apiError{Status: http.StatusRequestEntityTooLarge, Type: "invalid_request_error",
				Msg: "The request body is larger than the gateway's limit of " + strconv.FormatInt(mbe.Limit, 10) + " bytes."}
		}
		return nil, invalid("", "The multipart form could not be read: %v.", err)
	}
	defer r.MultipartForm.RemoveAll()
	f := &imageEditForm{}
	v := r.MultipartForm.Value
	get := func(k string) string {
		if l := v[k]; len(l) > 0 {
			return l[0]
		}
		return ""
	}
	f.Model = get("model")
	if _, ok := v["prompt"]; ok {
		p := get("prompt")
		f.Prompt = &p
	}
	f.Size, f.Quality, f.ResponseFormat, f.OutputFormat = get("size"), get("quality"), get("response_format"), get("output_format")
	f.Style, f.User = get("style"), get("user")
	f.MaskPrompt, f.OutpaintingMode = get("mask_prompt"), get("outpainting_mode")
	f.TaskType = get("task_type")
	if t := get("taskType"); t != "" {
		f.TaskType = t
	}
	if _, ok := v["negative_text"]; ok {
		s := get("negative_text")
		f.NegativeText = &s
	}
	var aerr *apiError
	if f.N, aerr = formInt(get("n"), "n"); aerr != nil {
		return nil, aerr
	}
	if s, aerr := formInt(get("seed"), "seed"); aerr != nil {
		return nil, aerr
	} else if s != nil {
		x := int64(*s)
		f.Seed = &x
	}
	if f.CfgScale, aerr = formFloat(get("cfg_scale"), "cfg_scale"); aerr != nil {
		return nil, aerr
	}
	if f.SimilarityStrength, aerr = formFloat(get("similarity_strength"), "similarity_strength"); aerr != nil {
		return nil, aerr
	}
	// colors: repeated fields, colors[] (SDK arrays), or one comma list.
	for _, k := range []string{"colors", "colors[]"} {
		for _, c := range v[k] {
			for _, part := range strings.Split(c, ",") {
				if part = strings.TrimSpace(part); part != "" {
					f.Colors = append(f.Colors, part)
				}
			}
		}
	}
	for _, k := range []string{"image", "image[]"} {
		for _, fh := range r.MultipartForm.File[k] {
			b, aerr := readPart(fh, "image")
			if aerr != nil {
				return nil, aerr
			}
			f.Images = append(f.Images, b)
		}
		// A base64 image sent as a plain field.
		for _, s := range v[k] {
			b, aerr := decodeImageField(s, "image")
			if aerr != nil {
				return nil, aerr
			}
			f.Images = append(f.Images, b)
		}
	}
	if fhs := r.MultipartForm.File["mask"]; len(fhs) > 0 {
		if f.Mask, aerr = readPart(fhs[0], "mask"); aerr != nil {
			return nil, aerr
		}
	}
	return f, nil
}

func readPart(fh *multipart.FileHeader, param string) ([]byte, *apiError) {
	file, err := fh.Open()
	if err != nil {
		return nil, invalid(param, "'%s' could not be read: %v.", param, err)
	}
	defer file.Close()
	b, err := io.ReadAll(file)
	if err != nil {
		return nil, invalid(param, "'%s' could not be read: %v.", param, err)
	}
	return b, nil
}

func formInt(s, param string) (*int, *apiError) {
	if s == "" {
		return nil, nil
	}
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil {
		return nil, invalid(param, "'%s' must be an integer (got %q).", param, s)
	}
	return &n, nil
}

func formFloat(s, param string) (*float64, *apiError) {
	if s == "" {
		return nil, nil
	}
	x, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil {
		return nil, invalid(param, "'%s' must be a number (got %q).", param, s)
	}
	return &x, nil
}

// editTaskOf picks the Bedrock task of an edit: task_type when sent, else
// OUTPAINTING with outpainting_mode, COLOR_GUIDED_GENERATION with colors,
// INPAINTING otherwise.
func editTaskOf(f *imageEditForm) (string, *apiError) {
	switch t := strings.ToUpper(f.TaskType); t {
	case "":
		switch {
		case f.OutpaintingMode != "":
			return bedrock.ImageTaskOutpainting, nil
		case len(f.Colors) > 0:
			return bedrock.ImageTaskColorGuided, nil
		}
		return bedrock.ImageTaskInpainting, nil
	case bedrock.ImageTaskInpainting, bedrock.ImageTaskOutpainting, bedrock.ImageTaskBackgroundRemoval, bedrock.ImageTaskColorGuided:
		return t, nil
	case bedrock.ImageTaskVariation:
		return "", invalid("task_type", "'task_type' IMAGE_VARIATION goes to POST /v1/images/variations.")
	default:
		return "", invalid("task_type", "'task_type' must be INPAINTING, OUTPAINTING, BACKGROUND_REMOVAL or COLOR_GUIDED_GENERATION on /v1/images/edits (got %q).", f.TaskType)
	}
}

// imageEditRequestOf checks an edit form and builds the Bedrock body.
func imageEditRequestOf(m *upstream.Model, f *imageEditForm) (*bedrock.ImageRequest, *apiError) {
	if !m.Family.IsImage() {
		return nil, invalid("model", "The model '%s' is a %s model, not an image model; use one of the gateway's image models with /v1/images/edits (GET /v1/models lists them).", m.Name, m.Kind)
	}
	task, aerr := editTaskOf(f)
	if aerr != nil {
		return nil, aerr
	}
	if !supportsTask(m, task) {
		return nil, invalid("task_type", "%s has no %s task.", imageLimitsOf(m).name, task)
	}
	if len(f.Images) != 1 {
		return nil, invalid("image", "'image' must be exactly one image file for %s (got %d).", task, len(f.Images))
	}
	if task != bedrock.ImageTaskOutpainting && f.OutpaintingMode != "" {
		return nil, invalid("outpainting_mode", "'outpainting_mode' goes with OUTPAINTING, not %s.", task)
	}
	if task != bedrock.ImageTaskColorGuided && len(f.Colors) > 0 {
		return nil, invalid("colors", "'colors' goes with COLOR_GUIDED_GENERATION, not %s.", task)
	}
	if f.SimilarityStrength != nil {
		return nil, invalid("similarity_strength", "'similarity_strength' goes with IMAGE_VARIATION: send it to /v1/images/variations.")
	}
	editing := task == bedrock.ImageTaskInpainting || task == bedrock.ImageTaskOutpainting
	if !editing && (f.Mask != nil || f.MaskPrompt != "") {
		return nil, invalid("mask", "'mask' and 'mask_prompt' go with INPAINTING and OUTPAINTING, not %s.", task)
	}
	if task == bedrock.ImageTaskColorGuided {
		// The image is the reference whose style the colors guide.
		p, aerr := imagePlanOf(m, &f.imageOptions, true)
		if aerr != nil {
			return nil, aerr
		}
		return colorGuidedRequest(m, p, f.Colors, base64.StdEncoding.EncodeToString(f.Images[0]), "image")
	}
	img, aerr := checkInputImage(f.Images[0], "image")
	if aerr != nil {
		return nil, aerr
	}
	b64 := base64.StdEncoding.EncodeToString(f.Images[0])
	if task == bedrock.ImageTaskBackgroundRemoval {
		if f.N != nil && *f.N != 1 {
			return nil, invalid("n", "'n' must be 1 for BACKGROUND_REMOVAL, which returns one image (got %d).", *f.N)
		}
		if f.Size != "" && f.Size != "auto" {
			return nil, invalid("size", "'size' does not apply to BACKGROUND_REMOVAL: the result has the input image's size.")
		}
		// The prompt (which OpenAI's SDKs always send) has no use here.
		return &bedrock.ImageRequest{TaskType: task, BackgroundRemovalParams: &bedrock.BackgroundRemovalParams{Image: b64}}, nil
	}
	// In/out-painting keep the input's size: a different size is a mistake
	// worth naming rather than an image silently of another size.
	iw, ih := img.Bounds().Dx(), img.Bounds().Dy()
	opts := f.imageOptions
	if opts.Size != "" && opts.Size != "auto" {
		if opts.Size != strconv.Itoa(iw)+"x"+strconv.Itoa(ih) {
			return nil, invalid("size", "'size' %s differs from the image (%dx%d): %s keeps the input image's size.", opts.Size, iw, ih, task)
		}
	}
	opts.Size = ""
	p, aerr := imagePlanOf(m, &opts, false)
	if aerr != nil {
		return nil, aerr
	}
	if f.Style != "" && !oneOf(f.Style, "vivid", "natural") {
		return nil, invalid("style", "'style' applies to TEXT_IMAGE only, not %s.", task)
	}
	// Bedrock takes the input's size; width and height are left out.
	p.config.Width, p.config.Height = 0, 0
	params := &bedrock.ImageEditParams{Image: b64, Text: p.text, NegativeText: p.negative}
	switch {
	case f.Mask != nil && f.MaskPrompt != "":
		return nil, invalid("mask_prompt", "Send either 'mask' or 'mask_prompt', not both.")
	case f.Mask != nil:
		if params.MaskImage, aerr = novaMask(f.Mask, img, task); aerr != nil {
			return nil, aerr
		}
	case strings.TrimSpace(f.MaskPrompt) != "":
		if n := len([]rune(f.MaskPrompt)); n > p.lim.promptMax {
			return nil, invalid("mask_prompt", "'mask_prompt' is %d characters; %s takes at most %d.", n, p.lim.name, p.lim.promptMax)
		}
		params.MaskPrompt = f.MaskPrompt
	default:
		return nil, invalid("mask", "%s needs the area to change: send a 'mask' image or a 'mask_prompt' describing it.", task)
	}
	out := &bedrock.ImageRequest{TaskType: task, ImageGenerationConfig: p.config}
	if task == bedrock.ImageTaskInpainting {
		out.InPaintingParams = params
		return out, nil
	}
	switch mode := strings.ToUpper(f.OutpaintingMode); mode {
	case "", "DEFAULT", "PRECISE":
		params.OutPaintingMode = mode
	default:
		return nil, invalid("outpainting_mode", "'outpainting_mode' must be DEFAULT or PRECISE (got %q).", f.OutpaintingMode)
	}
	out.OutPaintingParams = params
	return out, nil
}

// imageVariationRequestOf checks a variation form and builds IMAGE_VARIATION:
// 1-5 images, an optional prompt, similarity_strength 0.2-1.0.
func imageVariationRequestOf(m *upstream.Model, f *imageEditForm) (*bedrock.ImageRequest, *apiError) {
	if !m.Family.IsImage() {
		return nil, invalid("model", "The model '%s' is a %s model, not an image model; use one of the gateway's image models with /v1/images/variations (GET /v1/models lists them).", m.Name, m.Kind)
	}
	if f.TaskType != "" && strings.ToUpper(f.TaskType) != bedrock.ImageTaskVariation {
		return nil, invalid("task_type", "'task_type' must be IMAGE_VARIATION on /v1/images/variations (got %q).", f.TaskType)
	}
	switch {
	case len(f.Images) < 1 || len(f.Images) > 5:
		return nil, invalid("image", "IMAGE_VARIATION takes 1 to 5 images (got %d).", len(f.Images))
	case f.Mask != nil || f.MaskPrompt != "":
		return nil, invalid("mask", "'mask' and 'mask_prompt' go with /v1/images/edits, not variations.")
	case f.OutpaintingMode != "":
		return nil, invalid("outpainting_mode", "'outpainting_mode' goes with OUTPAINTING on /v1/images/edits.")
	case len(f.Colors) > 0:
		return nil, invalid("colors", "'colors' goes with COLOR_GUIDED_GENERATION (generations or edits), not IMAGE_VARIATION.")
	}
	if s := f.SimilarityStrength; s != nil && (*s < 0.2 || *s > 1) {
		return nil, invalid("similarity_strength", "'similarity_strength' must be between 0.2 and 1.0 (got %v).", *s)
	}
	images := make([]string, len(f.Images))
	for i, raw := range f.Images {
		if _, aerr := checkInputImage(raw, "image"); aerr != nil {
			return nil, aerr
		}
		images[i] = base64.StdEncoding.EncodeToString(raw)
	}
	p, aerr := imagePlanOf(m, &f.imageOptions, false)
	if aerr != nil {
		return nil, aerr
	}
	if f.Style != "" && !oneOf(f.Style, "vivid", "natural") {
		return nil, invalid("style", "'style' applies to TEXT_IMAGE only, not IMAGE_VARIATION.")
	}
	return &bedrock.ImageRequest{
		TaskType: bedrock.ImageTaskVariation,
		ImageVariationParams: &bedrock.ImageVariationParams{
			Text: p.text, NegativeText: p.negative, Images: images, SimilarityStrength: f.SimilarityStrength,
		},
		ImageGenerationConfig: p.config,
	}, nil
}
