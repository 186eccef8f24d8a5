package openai

import "net/http"

func (h *Handler) chatCompletions(w http.ResponseWriter, r *http.Request) {
	writeError(w, r, http.StatusNotImplemented, "api_error", "", "", "chat completions are not implemented yet")
}
