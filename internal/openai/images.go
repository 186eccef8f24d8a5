package openai

import (
	"context"
	"net/http"
	"time"

	"github.com/quarry-dev/quarry/bedrock"
	"github.com/quarry-dev/quarry/internal/accesslog"
)

// imageGenerations serves POST /v1/images/generations (TEXT_IMAGE with
// Nova Canvas or Titan Image Generator).
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
	// The request context: a client that goes away cancels the call.
	ctx, cancel := context.WithTimeout(bedrock.WithQueueTimeout(r.Context(), h.opts.QueueTimeout), h.opts.UpstreamTimeout)
	defer cancel()
	resp, err := m.Client.GenerateImage(ctx, m.ModelID, breq)
	if err != nil {
		writeFailure(w, r, err)
		return
	}
	log := accesslog.From(r.Context())
	log.SetUpstreamRequestID(resp.Metadata.RequestID)
	log.AddTokens(resp.Metadata.InputTokenCount, resp.Metadata.OutputTokenCount, 0)
	out, aerr := imagesResponseOf(resp, breq, time.Now().Unix())
	if aerr != nil {
		writeAPIError(w, r, aerr)
		return
	}
	writeJSONBody(w, http.StatusOK, out)
}
