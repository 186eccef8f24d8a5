package bedrock

import (
	"context"
	"encoding/base64"
	"fmt"
)

// Image task types (taskType).
const (
	ImageTaskTextToImage       = "TEXT_IMAGE"
	ImageTaskColorGuided       = "COLOR_GUIDED_GENERATION"
	ImageTaskVariation         = "IMAGE_VARIATION"
	ImageTaskInpainting        = "INPAINTING"
	ImageTaskOutpainting       = "OUTPAINTING"
	ImageTaskBackgroundRemoval = "BACKGROUND_REMOVAL"
)

// ImageRequest is the body of Amazon Nova Canvas and Titan Image Generator
// v1/v2 (same envelope). Set TaskType and the matching params member.
// Images are base64 strings (no data: prefix).
type ImageRequest struct {
	TaskType                    string                   `json:"taskType"`
	TextToImageParams           *TextToImageParams       `json:"textToImageParams,omitempty"`
	ColorGuidedGenerationParams *ColorGuidedParams       `json:"colorGuidedGenerationParams,omitempty"`
	ImageVariationParams        *ImageVariationParams    `json:"imageVariationParams,omitempty"`
	InPaintingParams            *ImageEditParams         `json:"inPaintingParams,omitempty"`
	OutPaintingParams           *ImageEditParams         `json:"outPaintingParams,omitempty"`
	BackgroundRemovalParams     *BackgroundRemovalParams `json:"backgroundRemovalParams,omitempty"`
	// ImageGenerationConfig is not allowed with BACKGROUND_REMOVAL.
	ImageGenerationConfig *ImageGenerationConfig `json:"imageGenerationConfig,omitempty"`
}

// TextToImageParams: Text (1-1024 chars on Canvas, 512 on Titan), optional
// NegativeText; Canvas also Style and image conditioning.
type TextToImageParams struct {
	Text            string   `json:"text"`
	NegativeText    string   `json:"negativeText,omitempty"`
	Style           string   `json:"style,omitempty"` // Canvas, e.g. PHOTOREALISM
	ConditionImage  string   `json:"conditionImage,omitempty"`
	ControlMode     string   `json:"controlMode,omitempty"` // CANNY_EDGE, SEGMENTATION
	ControlStrength *float64 `json:"controlStrength,omitempty"`
}

// ColorGuidedParams: 1-10 hex colors ("#ff8080").
type ColorGuidedParams struct {
	Text           string   `json:"text"`
	NegativeText   string   `json:"negativeText,omitempty"`
	Colors         []string `json:"colors"`
	ReferenceImage string   `json:"referenceImage,omitempty"`
}

// ImageVariationParams: 1-5 images.
type ImageVariationParams struct {
	Text               string   `json:"text,omitempty"`
	NegativeText       string   `json:"negativeText,omitempty"`
	Images             []string `json:"images"`
	SimilarityStrength *float64 `json:"similarityStrength,omitempty"`
}

// ImageEditParams are the in/out-painting parameters: Image plus a mask
// (MaskPrompt or MaskImage).
type ImageEditParams struct {
	Image           string `json:"image"`
	Text            string `json:"text,omitempty"`
	NegativeText    string `json:"negativeText,omitempty"`
	MaskPrompt      string `json:"maskPrompt,omitempty"`
	MaskImage       string `json:"maskImage,omitempty"`
	OutPaintingMode string `json:"outPaintingMode,omitempty"` // DEFAULT, PRECISE
	ReturnMask      bool   `json:"returnMask,omitempty"`
}

// BackgroundRemovalParams: the image to cut out.
type BackgroundRemovalParams struct {
	Image string `json:"image"`
}

// ImageGenerationConfig; zero values are left out (the model defaults
// apply: 1024x1024, standard quality, one image).
type ImageGenerationConfig struct {
	Width          int      `json:"width,omitempty"`
	Height         int      `json:"height,omitempty"`
	Quality        string   `json:"quality,omitempty"` // standard, premium
	CfgScale       *float64 `json:"cfgScale,omitempty"`
	Seed           *int     `json:"seed,omitempty"`
	NumberOfImages int      `json:"numberOfImages,omitempty"`
}

// ImageResponse is the image-model response: base64 PNG images. When the
// output filter blocked some or all images, the call still succeeds and
// Error says so ("All of the generated images have been blocked by our
// content filters."); callers must check it.
type ImageResponse struct {
	Images []string `json:"images"`
	Error  string   `json:"error,omitempty"`
	// MaskImage is returned by in/out-painting with returnMask.
	MaskImage string `json:"maskImage,omitempty"`

	InvokeMetadata `json:"-"`
}

func (r *ImageResponse) setMetadata(m InvokeMetadata) { r.InvokeMetadata = m }

// Image decodes image i.
func (r *ImageResponse) Image(i int) ([]byte, error) {
	if i < 0 || i >= len(r.Images) {
		return nil, fmt.Errorf("image %d of %d", i, len(r.Images))
	}
	return base64.StdEncoding.DecodeString(r.Images[i])
}

// GenerateImage calls Nova Canvas or Titan Image Generator.
func (c *Client) GenerateImage(ctx context.Context, modelID string, req *ImageRequest, opts ...CallOption) (*ImageResponse, error) {
	return invokeJSON[ImageRequest, ImageResponse](ctx, c, modelID, req, opts...)
}
