package openai

import (
	"encoding/json"
	"net/http"
	"strings"

	"github.com/quarry-dev/quarry/internal/accesslog"
	"github.com/quarry-dev/quarry/internal/upstream"
)

// modelObject is OpenAI's model object, plus what a gateway user wants to
// know about a served model: what it is for and which Bedrock model serves
// it. Never credentials, regions or endpoints.
type modelObject struct {
	ID             string `json:"id"`
	Object         string `json:"object"`
	Created        int64  `json:"created"`
	OwnedBy        string `json:"owned_by"`
	Kind           string `json:"kind"`
	Description    string `json:"description,omitempty"`
	BedrockModelID string `json:"bedrock_model_id"`
}

// geoPrefixes are cross-region inference-profile prefixes, which come
// before the provider in a profile ID (us.anthropic.claude-...).
var geoPrefixes = map[string]bool{"us": true, "eu": true, "apac": true, "global": true, "us-gov": true,
	"ca": true, "jp": true, "au": true, "sa": true}

// modelOwner is the provider part of a Bedrock model ID ("amazon",
// "anthropic", "cohere", ...), across profile prefixes and ARNs. Opaque
// ARNs (application profiles, provisioned or custom models) do not say who
// made the model: "bedrock".
func modelOwner(modelID string) string {
	id := strings.ToLower(strings.TrimSpace(modelID))
	if strings.HasPrefix(id, "arn:") {
		parts := strings.SplitN(id, ":", 6)
		if len(parts) != 6 {
			return "bedrock"
		}
		kind, rest, ok := strings.Cut(parts[5], "/")
		if !ok || (kind != "foundation-model" && kind != "inference-profile") {
			return "bedrock"
		}
		id = rest
	}
	first, rest, ok := strings.Cut(id, ".")
	if !ok || first == "" {
		return "bedrock"
	}
	if geoPrefixes[first] {
		if p, _, ok := strings.Cut(rest, "."); ok && p != "" {
			return p
		}
		return "bedrock"
	}
	return first
}

func (h *Handler) modelObjectOf(m *upstream.Model) modelObject {
	return modelObject{ID: m.Name, Object: "model", Created: h.started.Unix(), OwnedBy: modelOwner(m.ModelID),
		Kind: m.Kind.String(), Description: m.Description, BedrockModelID: m.ModelID}
}

// listModels lists every served model, chat, embedding and image (those
// the request's virtual key may use).
func (h *Handler) listModels(w http.ResponseWriter, r *http.Request) {
	models := h.reg.Models()
	data := make([]modelObject, 0, len(models))
	for _, m := range models {
		if upstream.Listed(r.Context(), m) {
			data = append(data, h.modelObjectOf(m))
		}
	}
	writeJSONBody(w, http.StatusOK, struct {
		Object string        `json:"object"`
		Data   []modelObject `json:"data"`
	}{"list", data})
}

func (h *Handler) getModel(w http.ResponseWriter, r *http.Request) {
	if r.PathValue("id") == "" { // GET /v1/models/
		h.listModels(w, r)
		return
	}
	m, aerr := h.lookupModel(r, r.PathValue("id"))
	if aerr == nil && !upstream.Listed(r.Context(), m) {
		aerr = allowed(r.Context(), m) // the model list's 403 (reading a model spends nothing)
	}
	if aerr != nil {
		aerr.Param = "" // the name is in the path, not a body field
		writeAPIError(w, r, aerr)
		return
	}
	writeJSONBody(w, http.StatusOK, h.modelObjectOf(m))
}

// servedModel finds a served model by name, recording it on the access
// log: 400 without a name, 404 model_not_found (OpenAI's answer) for a name
// the gateway does not serve, 403 or 429 for one the request's virtual key
// may not use now.
func (h *Handler) servedModel(r *http.Request, name string) (*upstream.Model, *apiError) {
	m, aerr := h.lookupModel(r, name)
	if aerr != nil {
		return nil, aerr
	}
	if kerr := allowed(r.Context(), m); kerr != nil {
		return nil, kerr
	}
	return m, nil
}

// lookupModel is servedModel without the request key's check.
func (h *Handler) lookupModel(r *http.Request, name string) (*upstream.Model, *apiError) {
	if strings.TrimSpace(name) == "" {
		return nil, invalid("model", "'model' is required: the name of one of the gateway's models (GET /v1/models lists them).")
	}
	m, ok := h.reg.Lookup(name)
	if !ok {
		return nil, &apiError{Status: http.StatusNotFound, Type: "invalid_request_error", Param: "model", Code: "model_not_found",
			Msg: "The model '" + name + "' does not exist on this gateway; GET /v1/models lists the models it serves."}
	}
	accesslog.From(r.Context()).SetModel(m.Name)
	return m, nil
}

// writeJSONBody writes a successful JSON response.
func writeJSONBody(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}
