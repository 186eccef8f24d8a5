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
	ctx, cancel := context.WithTimeout(r.Context(), h.opts.UpstreamTimeout)
	defer cancel()
	resp, err := m.Client.GenerateImage(ctx, m.ModelID, breq, bedrock.WithQueueTimeout(h.opts.QueueTimeout))
	if err != nil {
		writeFailure(w, r, err)
		return
	}
	log := accesslog.From(r.Context())
	log.SetUpstreamRequestID(resp.RequestID)
	log.AddTokens(resp.InputTokenCount, resp.OutputTokenCount, 0)
	out, aerr := imagesResponseOf(resp, breq, time.Now().Unix())
	if aerr != nil {
		writeAPIError(w, r, aerr)
		return
	}
	writeJSONBody(w, http.StatusOK, out)
}
