package openai

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/quarry-dev/quarry/bedrock"
	"github.com/quarry-dev/quarry/internal/accesslog"
	"github.com/quarry-dev/quarry/internal/upstream"
)

// imageGenerations serves POST /v1/images/generations (TEXT_IMAGE or
// COLOR_GUIDED_GENERATION with Nova Canvas or Titan Image Generator).
func (h *Handler) imageGenerations(w http.ResponseWriter, r *http.Request) {
	var req imageRequest
	if aerr := decodeBody(r, &req); aerr != nil {
		writeAPIError(w, r, aerr)
		return
	}
	m, aerr := h.servedModel(r, req.Model)
	if aerr != nil {
		writeAPIError(w, r, aerr)
		return
	}
	breq, aerr := imageRequestOf(m, &req)
	if aerr != nil {
		writeAPIError(w, r, aerr)
		return
	}
	h.serveImages(w, r, m, breq, "")
}

// imageEdits serves POST /v1/images/edits: INPAINTING, OUTPAINTING,
// BACKGROUND_REMOVAL and COLOR_GUIDED_GENERATION with a reference image.
func (h *Handler) imageEdits(w http.ResponseWriter, r *http.Request) {
	h.imageForm(w, r, imageEditRequestOf)
}

// imageVariations serves POST /v1/images/variations (IMAGE_VARIATION).
func (h *Handler) imageVariations(w http.ResponseWriter, r *http.Request) {
	h.imageForm(w, r, imageVariationRequestOf)
}

func (h *Handler) imageForm(w http.ResponseWriter, r *http.Request, convert func(*upstream.Model, *imageEditForm) (*bedrock.ImageRequest, *apiError)) {
	f, aerr := parseImageForm(r)
	if aerr != nil {
		writeAPIError(w, r, aerr)
		return
	}
	m, aerr := h.servedModel(r, f.Model)
	if aerr != nil {
		writeAPIError(w, r, aerr)
		return
	}
	breq, aerr := convert(m, f)
	if aerr != nil {
		writeAPIError(w, r, aerr)
		return
	}
	size := ""
	if breq.ImageGenerationConfig == nil || breq.ImageGenerationConfig.Width == 0 {
		// Edits keep the input's size.
		if img, err := decodeImage(f.Images[0], "image"); err == nil {
			size = fmt.Sprintf("%dx%d", img.Bounds().Dx(), img.Bounds().Dy())
		}
	}
	h.serveImages(w, r, m, breq, size)
}

// serveImages makes the Bedrock calls of an image request and writes
// OpenAI's answer; size, when set, is the size to report.
func (h *Handler) serveImages(w http.ResponseWriter, r *http.Request, m *upstream.Model, breq *bedrock.ImageRequest, size string) {
	// The request context: a client that goes away cancels the call.
	ctx, cancel := context.WithTimeout(r.Context(), h.opts.UpstreamTimeout)
	defer cancel()
	resp, err := m.GenerateImages(ctx, breq, h.queue)
	if err != nil {
		writeFailure(w, r, err)
		return
	}
	log := accesslog.From(r.Context())
	log.SetUpstreamRequestID(resp.RequestID)
	log.AddUsage(accesslog.Usage{Input: resp.InputTokenCount, Output: resp.OutputTokenCount, Images: len(resp.Images)})
	out, aerr := imagesResponseOf(resp, breq, time.Now().Unix())
	if aerr != nil {
		writeAPIError(w, r, aerr)
		return
	}
	if size != "" {
		out.Size = size
	}
	writeJSONBody(w, http.StatusOK, out)
}
