package openai

import "net/http"

func (h *Handler) listModels(w http.ResponseWriter, r *http.Request) {
	writeError(w, r, http.StatusNotImplemented, "api_error", "", "", "not implemented yet")
}

func (h *Handler) getModel(w http.ResponseWriter, r *http.Request) {
	writeError(w, r, http.StatusNotImplemented, "api_error", "", "", "not implemented yet")
}
