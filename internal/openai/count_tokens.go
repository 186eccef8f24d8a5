package openai

import (
	"context"
	"errors"
	"net/http"

	"github.com/quarry-dev/quarry/bedrock"
	"github.com/quarry-dev/quarry/internal/accesslog"
)

// countTokens serves POST /v1/count_tokens: a chat completions body in,
// {"input_tokens": N} out, from Bedrock CountTokens on exactly the
// conversation the chat route would send (system prompt, shaping, tools).
func (h *Handler) countTokens(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	body, aerr := readBody(r)
	if aerr != nil {
		writeAPIError(w, r, aerr)
		return
	}
	req, served, aerr := h.decodeChat(ctx, body)
	if served != nil {
		accesslog.From(ctx).SetModel(served.model.Name)
	}
	if aerr != nil {
		writeAPIError(w, r, aerr)
		return
	}
	m := served.model
	creq, _, aerr := convertChatRequest(ctx, req, &served.chat, h.fetch)
	if aerr != nil {
		writeAPIError(w, r, aerr)
		return
	}
	cctx, cancel := context.WithTimeout(ctx, h.opts.UpstreamTimeout)
	defer cancel()
	resp, err := m.CountTokens(cctx, bedrock.ConverseTokens(creq), h.queue)
	if err != nil {
		var be *bedrock.Error
		if errors.Is(err, bedrock.ErrValidation) && errors.As(err, &be) {
			// Most often a model CountTokens does not cover; Bedrock's
			// message says which.
			writeAPIError(w, r, invalid("model", "Bedrock CountTokens refused the model '%s' (%s): %s", m.Name, m.ModelID, be.Message))
			return
		}
		writeFailure(w, r, err)
		return
	}
	accesslog.From(ctx).SetUpstreamRequestID(resp.RequestID)
	writeJSONBody(w, http.StatusOK, struct {
		InputTokens int `json:"input_tokens"`
	}{resp.InputTokens})
}
