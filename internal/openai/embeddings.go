package openai

import "net/http"

func (h *Handler) embeddings(w http.ResponseWriter, r *http.Request) {
	writeError(w, r, http.StatusNotImplemented, "api_error", "", "", "embeddings are not implemented yet")
}
