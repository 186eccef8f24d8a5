package openai

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/quarry-dev/quarry/bedrock"
	"github.com/quarry-dev/quarry/internal/config"
	"github.com/quarry-dev/quarry/internal/upstream"
)

// imageOptions are the members that image generations, edits and
// variations share: OpenAI's fields plus the Nova Canvas / Titan Image
// options (negative_text, cfg_scale, seed), which have no OpenAI equivalent.
type imageOptions struct {
	Prompt         *string `json:"prompt"`
	N              *int    `json:"n"`
	Size           string  `json:"size"`
	Quality        string  `json:"quality"`
	ResponseFormat string  `json:"response_format"`
	OutputFormat   string  `json:"output_format"`
	Style          string  `json:"style"`
	User           string  `json:"user"`

	NegativeText *string  `json:"negative_text"`
	CfgScale     *float64 `json:"cfg_scale"`
	Seed         *int64   `json:"seed"`
}

// imageRequest is the body of POST /v1/images/generations. Besides
// TEXT_IMAGE it reaches COLOR_GUIDED_GENERATION, through taskType (Bedrock's
// own name, also task_type) or by sending colors.
type imageRequest struct {
	Model string `json:"model"`
	imageOptions

	TaskType       string   `json:"taskType"`
	TaskTypeSnake  string   `json:"task_type"`
	Colors         []string `json:"colors"`
	ReferenceImage string   `json:"reference_image"`
}

// imageLimits are the per-model-line bounds Bedrock enforces; checking them
// here names the OpenAI field in the 400 instead of relaying Bedrock's
// wording about textToImageParams.
type imageLimits struct {
	name      string
	promptMax int
	seedMax   int64
	styles    bool // Nova Canvas takes a style preset
}

func imageLimitsOf(m *upstream.Model) imageLimits {
	if m.Family == bedrock.FamilyNovaCanvas {
		return imageLimits{"Nova Canvas", 1024, 858993459, true}
	}
	return imageLimits{"Titan Image Generator", 512, 2147483646, false}
}

// novaCanvasStyles are Nova Canvas's style presets.
var novaCanvasStyles = []string{"3D_ANIMATED_FAMILY_FILM", "DESIGN_SKETCH", "FLAT_VECTOR_ILLUSTRATION",
	"GRAPHIC_NOVEL_ILLUSTRATION", "MAXIMALISM", "MIDCENTURY_RETRO", "PHOTOREALISM", "SOFT_DIGITAL_PAINTING"}

// imagePlan is what imageOptions become once checked against a model: the
// prompt texts and the generation config every task but background removal
// sends.
type imagePlan struct {
	lim      imageLimits
	text     string
	negative string
	style    string
	config   *bedrock.ImageGenerationConfig
}

// imageRequestOf checks an image generation request against the model and
// builds the TEXT_IMAGE or COLOR_GUIDED_GENERATION body. Request values win
// over the model's params.
func imageRequestOf(m *upstream.Model, req *imageRequest) (*bedrock.ImageRequest, *apiError) {
	if !m.Family.IsImage() {
		return nil, invalid("model", "The model '%s' %s, not an image generation model; use one of the gateway's image models with /v1/images/generations (GET /v1/models lists them).", m.Name, isWhat(m))
	}
	task, aerr := generationTaskOf(req)
	if aerr != nil {
		return nil, aerr
	}
	p, aerr := imagePlanOf(m, &req.imageOptions, true)
	if aerr != nil {
		return nil, aerr
	}
	if task == bedrock.ImageTaskColorGuided {
		return colorGuidedRequest(m, p, req.Colors, req.ReferenceImage, "reference_image")
	}
	if req.ReferenceImage != "" {
		return nil, invalid("reference_image", "'reference_image' goes with COLOR_GUIDED_GENERATION: send 'colors' too.")
	}
	return &bedrock.ImageRequest{
		TaskType: bedrock.ImageTaskTextToImage,
		TextToImageParams: &bedrock.TextToImageParams{
			Text: p.text, NegativeText: p.negative, Style: p.style,
		},
		ImageGenerationConfig: p.config,
	}, nil
}

// imagePlanOf checks the shared image options. promptRequired is false for
// the tasks where Bedrock's text is optional (edits, variations).
func imagePlanOf(m *upstream.Model, o *imageOptions, promptRequired bool) (*imagePlan, *apiError) {
	lim := imageLimitsOf(m)
	req := o
	var prompt string
	if req.Prompt != nil {
		prompt = *req.Prompt
	}
	if promptRequired && strings.TrimSpace(prompt) == "" {
		return nil, invalid("prompt", "'prompt' is required: a text description of the image.")
	}
	if n := utf8.RuneCountInString(prompt); n > lim.promptMax {
		return nil, invalid("prompt", "'prompt' is %d characters; %s takes at most %d.", n, lim.name, lim.promptMax)
	}
	switch req.ResponseFormat {
	case "", "b64_json":
	case "url":
		return nil, invalid("response_format", "'response_format' url is not supported: the gateway does not host images. Use 'b64_json'.")
	default:
		return nil, invalid("response_format", "'response_format' must be 'b64_json' (got %q).", req.ResponseFormat)
	}
	switch req.OutputFormat {
	case "", "png":
	default:
		return nil, invalid("output_format", "'output_format' %q is not supported: %s returns PNG images.", req.OutputFormat, lim.name)
	}

	n := 1
	if req.N != nil {
		n = *req.N
		if max := maxImagesOf(m); n < 1 || n > max {
			return nil, invalid("n", "'n' must be between 1 and %d (got %d): one Bedrock call makes up to 5 images, and the gateway splits larger requests up to the model's max_images (%d).", max, n, max)
		}
	}

	width, height := m.Image.Width, m.Image.Height
	if width == 0 || height == 0 {
		width, height = 1024, 1024
	}
	if req.Size != "" && req.Size != "auto" {
		w, h, err := config.ParseImageSize(req.Size)
		if err != nil {
			return nil, invalid("size", "'size' %s.", err.Error())
		}
		width, height = w, h
	}

	quality := m.Image.Quality
	switch req.Quality {
	case "", "auto":
	case "standard", "low", "medium":
		quality = "standard"
	case "hd", "premium", "high":
		quality = "premium"
	default:
		return nil, invalid("quality", "'quality' must be standard, hd or premium (got %q).", req.Quality)
	}

	style := m.Image.Style
	switch req.Style {
	case "", "vivid", "natural":
		// OpenAI's DALL-E 3 styles have no Bedrock counterpart: ignored,
		// so clients that always send one keep working.
	default:
		s := strings.ToUpper(req.Style)
		if !lim.styles {
			return nil, invalid("style", "'style' %q is not supported: %s has no style presets.", req.Style, lim.name)
		}
		if !oneOf(s, novaCanvasStyles...) {
			return nil, invalid("style", "'style' %q is not a Nova Canvas style; use one of %s (or OpenAI's vivid/natural, which are ignored).", req.Style, strings.Join(novaCanvasStyles, ", "))
		}
		style = s
	}
	if !lim.styles {
		style = "" // a model default meant for Canvas must not break Titan
	}

	negative := m.Image.NegativeText
	if req.NegativeText != nil {
		negative = *req.NegativeText
	}
	if n := utf8.RuneCountInString(negative); n > lim.promptMax {
		return nil, invalid("negative_text", "'negative_text' is %d characters; %s takes at most %d.", n, lim.name, lim.promptMax)
	}

	cfg := m.Image.CfgScale
	if req.CfgScale != nil {
		if *req.CfgScale < 1.1 || *req.CfgScale > 10 {
			return nil, invalid("cfg_scale", "'cfg_scale' must be between 1.1 and 10 (got %v).", *req.CfgScale)
		}
		cfg = req.CfgScale
	}

	var seed *int
	if s := m.Image.Seed; s != nil {
		// Passed on even past this model's range, so that a misconfigured
		// default shows up as Bedrock's error instead of silently changing
		// the images.
		v := int(*s)
		seed = &v
	}
	if req.Seed != nil {
		if *req.Seed < 0 || *req.Seed > lim.seedMax {
			return nil, invalid("seed", "'seed' must be between 0 and %d for %s (got %d).", lim.seedMax, lim.name, *req.Seed)
		}
		v := int(*req.Seed)
		seed = &v
	}

	return &imagePlan{lim: lim, text: prompt, negative: negative, style: style,
		config: &bedrock.ImageGenerationConfig{
			Width: width, Height: height, Quality: quality, CfgScale: cfg, Seed: seed, NumberOfImages: n,
		}}, nil
}

// imagesResponse is OpenAI's image generation response.
type imagesResponse struct {
	Created      int64       `json:"created"`
	Data         []imageData `json:"data"`
	OutputFormat string      `json:"output_format"`
	Size         string      `json:"size"`
	Quality      string      `json:"quality,omitempty"`
	// Usage is what Bedrock reported (its token-count headers), in the
	// form of OpenAI's gpt-image answers; absent when it reported none.
	Usage *imagesUsage `json:"usage,omitempty"`
}

type imagesUsage struct {
	InputTokens  int `json:"input_tokens"`
	OutputTokens int `json:"output_tokens"`
	TotalTokens  int `json:"total_tokens"`
}

type imageData struct {
	B64JSON string `json:"b64_json"`
}

// imagesResponseOf turns Bedrock's answer into OpenAI's. Bedrock reports
// images withheld by its output filter in a 200 with "error": if none
// survived, that is OpenAI's content-policy 400; if some did, the client
// gets those (OpenAI has no partial-result form; n is a request, not a
// promise).
func imagesResponseOf(resp *bedrock.ImageResponse, req *bedrock.ImageRequest, created int64) (*imagesResponse, *apiError) {
	if len(resp.Images) == 0 {
		msg := resp.Error
		if msg == "" {
			msg = "Bedrock returned no images."
		}
		return nil, &apiError{Status: 400, Type: "invalid_request_error", Param: "prompt", Code: "content_policy_violation",
			Msg: "Your request was rejected as a result of the safety system: " + msg}
	}
	out := &imagesResponse{Created: created, OutputFormat: "png", Data: make([]imageData, len(resp.Images))}
	if in, o := resp.InputTokenCount, resp.OutputTokenCount; in+o > 0 {
		out.Usage = &imagesUsage{InputTokens: in, OutputTokens: o, TotalTokens: in + o}
	}
	if c := req.ImageGenerationConfig; c != nil {
		out.Size = fmt.Sprintf("%dx%d", c.Width, c.Height)
		out.Quality = c.Quality
	}
	for i, img := range resp.Images {
		out.Data[i] = imageData{B64JSON: img}
	}
	return out, nil
}
