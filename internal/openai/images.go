package openai

import "net/http"

func (h *Handler) imageGenerations(w http.ResponseWriter, r *http.Request) {
	writeError(w, r, http.StatusNotImplemented, "api_error", "", "", "image generation is not implemented yet")
}
