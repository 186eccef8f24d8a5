package openai

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	"github.com/quarry-dev/quarry/bedrock"
	"github.com/quarry-dev/quarry/internal/accesslog"
	"github.com/quarry-dev/quarry/internal/upstream"
)

// guardrailRequest is the body of POST /v1/guardrails/apply. The guardrail
// is named either by a configured chat model whose params set one
// (guardrail), or by id and version (guardrail_id, guardrail_version);
// model, when set, picks whose AWS credentials make the call.
type guardrailRequest struct {
	Guardrail        string          `json:"guardrail"`
	GuardrailID      string          `json:"guardrail_id"`
	GuardrailVersion string          `json:"guardrail_version"`
	Model            string          `json:"model"`
	Source           string          `json:"source"`
	Content          json.RawMessage `json:"content"`
	OutputScope      string          `json:"output_scope"`
}

type guardrailResponse struct {
	Action       string                    `json:"action"`
	ActionReason string                    `json:"action_reason,omitempty"`
	Output       string                    `json:"output"`
	Outputs      []bedrock.GuardrailOutput `json:"outputs"`
	Assessments  json.RawMessage           `json:"assessments"`
	Usage        bedrock.GuardrailUsage    `json:"usage"`
}

// guardrailCall is a checked request: which client, which guardrail.
type guardrailCall struct {
	model       *upstream.Model
	id, version string
	req         *bedrock.ApplyGuardrailRequest
}

func (h *Handler) guardrailCallOf(r *http.Request, req *guardrailRequest) (*guardrailCall, *apiError) {
	c := &guardrailCall{req: &bedrock.ApplyGuardrailRequest{}}
	switch {
	case req.Guardrail != "" && (req.GuardrailID != "" || req.GuardrailVersion != ""):
		return nil, invalid("guardrail", "Send either 'guardrail' (a configured model's guardrail) or 'guardrail_id' and 'guardrail_version', not both.")
	case req.Guardrail != "":
		m, aerr := h.servedModel(r, req.Guardrail)
		if aerr != nil {
			aerr.Param = "guardrail"
			return nil, aerr
		}
		if m.Guardrail == nil {
			return nil, invalid("guardrail", "The model '%s' has no guardrail configured (bedrock_guardrail_identifier in its params).", m.Name)
		}
		c.model, c.id, c.version = m, m.Guardrail.Identifier, m.Guardrail.Version
	case req.GuardrailID != "":
		if err := bedrock.ValidateGuardrail(req.GuardrailID, req.GuardrailVersion); err != nil {
			param := "guardrail_id"
			if strings.Contains(err.Error(), "version") {
				param = "guardrail_version"
			}
			return nil, invalid(param, "'%s': %s.", param, err.Error())
		}
		c.id, c.version = req.GuardrailID, req.GuardrailVersion
	default:
		return nil, invalid("guardrail", "'guardrail' (a configured model with a guardrail) or 'guardrail_id' and 'guardrail_version' is required.")
	}
	if req.Model != "" {
		m, aerr := h.servedModel(r, req.Model)
		if aerr != nil {
			return nil, aerr
		}
		c.model = m
	}
	if c.model == nil {
		models := h.reg.Models()
		if len(models) == 0 {
			return nil, invalid("model", "The gateway serves no models, so it has no AWS credentials to call ApplyGuardrail with.")
		}
		c.model = models[0]
	}
	switch s := strings.ToUpper(req.Source); s {
	case bedrock.GuardrailSourceInput, bedrock.GuardrailSourceOutput:
		c.req.Source = s
	case "":
		return nil, invalid("source", "'source' is required: INPUT (a user prompt) or OUTPUT (a model answer).")
	default:
		return nil, invalid("source", "'source' must be INPUT or OUTPUT (got %q).", req.Source)
	}
	switch s := strings.ToUpper(req.OutputScope); s {
	case "", bedrock.GuardrailScopeInterventions, bedrock.GuardrailScopeFull:
		c.req.OutputScope = s
	default:
		return nil, invalid("output_scope", "'output_scope' must be INTERVENTIONS or FULL (got %q).", req.OutputScope)
	}
	content, aerr := guardrailContentOf(req.Content)
	if aerr != nil {
		return nil, aerr
	}
	c.req.Content = content
	return c, nil
}

// guardrailContentOf reads content as a string, a list of strings, or a
// list of {"text", "qualifiers"} objects (Bedrock's text blocks).
func guardrailContentOf(raw json.RawMessage) ([]bedrock.GuardrailContent, *apiError) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, invalid("content", "'content' is required: the text to check, a list of texts, or a list of {\"text\", \"qualifiers\"} objects.")
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		if s == "" {
			return nil, invalid("content", "'content' is empty.")
		}
		return []bedrock.GuardrailContent{bedrock.GuardrailTextContent(s)}, nil
	}
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		return nil, invalid("content", "'content' must be a string or a list.")
	}
	if len(items) == 0 {
		return nil, invalid("content", "'content' must list at least one text.")
	}
	out := make([]bedrock.GuardrailContent, len(items))
	for i, it := range items {
		param := "content[" + strconv.Itoa(i) + "]"
		if json.Unmarshal(it, &s) == nil {
			out[i] = bedrock.GuardrailTextContent(s)
			continue
		}
		var block struct {
			Text       *string  `json:"text"`
			Qualifiers []string `json:"qualifiers"`
		}
		if err := json.Unmarshal(it, &block); err != nil || block.Text == nil {
			return nil, invalid(param, "'%s' must be a string or an object with a string 'text'.", param)
		}
		for _, q := range block.Qualifiers {
			if q != "grounding_source" && q != "query" && q != "guard_content" {
				return nil, invalid(param+".qualifiers", "'%s.qualifiers' may hold grounding_source, query and guard_content (got %q).", param, q)
			}
		}
		out[i] = bedrock.GuardrailTextContent(*block.Text, block.Qualifiers...)
	}
	return out, nil
}

// applyGuardrail serves POST /v1/guardrails/apply (Bedrock ApplyGuardrail).
func (h *Handler) applyGuardrail(w http.ResponseWriter, r *http.Request) {
	var req guardrailRequest
	if aerr := decodeBody(r, &req); aerr != nil {
		writeAPIError(w, r, aerr)
		return
	}
	c, aerr := h.guardrailCallOf(r, &req)
	if aerr != nil {
		writeAPIError(w, r, aerr)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), h.opts.UpstreamTimeout)
	defer cancel()
	resp, err := c.model.Client.ApplyGuardrail(ctx, c.id, c.version, c.req, h.queue)
	if err != nil {
		writeFailure(w, r, err)
		return
	}
	accesslog.From(r.Context()).SetUpstreamRequestID(resp.RequestID)
	out := &guardrailResponse{Action: resp.Action, ActionReason: resp.ActionReason, Outputs: resp.Outputs,
		Assessments: resp.Assessments, Usage: resp.Usage}
	if out.Outputs == nil {
		out.Outputs = []bedrock.GuardrailOutput{}
	}
	if len(out.Assessments) == 0 {
		out.Assessments = json.RawMessage("[]")
	}
	// output: the text a caller should use — the masked or blocked
	// output when the guardrail intervened, else the content unchanged.
	if resp.Intervened() && len(resp.Outputs) > 0 {
		parts := make([]string, len(resp.Outputs))
		for i, o := range resp.Outputs {
			parts[i] = o.Text
		}
		out.Output = strings.Join(parts, "\n")
	} else {
		var parts []string
		for _, ct := range c.req.Content {
			if ct.Text != nil {
				parts = append(parts, ct.Text.Text)
			}
		}
		out.Output = strings.Join(parts, "\n")
	}
	writeJSONBody(w, http.StatusOK, out)
}
