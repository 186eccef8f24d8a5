package openai

import (
	"context"
	"encoding/json"
	"net/http"
	"sort"
	"strconv"
	"strings"

	"github.com/quarry-dev/quarry/bedrock"
	"github.com/quarry-dev/quarry/internal/accesslog"
	"github.com/quarry-dev/quarry/internal/config"
	"github.com/quarry-dev/quarry/internal/upstream"
)

// rerankMaxDocuments is Bedrock's limit for one rerank call.
const rerankMaxDocuments = 1000

// rerankRequest is the body of POST /v1/rerank in the form Cohere and Jina
// clients send: documents as strings or objects ({"text": …}, or any
// object, ranked by its JSON text).
type rerankRequest struct {
	Model           string            `json:"model"`
	Query           *string           `json:"query"`
	Documents       []json.RawMessage `json:"documents"`
	TopN            *int              `json:"top_n"`
	ReturnDocuments *bool             `json:"return_documents"`
}

// rerankDoc is a document as the client sent it and as Bedrock gets it.
type rerankDoc struct {
	text string          // what Bedrock ranks
	echo json.RawMessage // what return_documents gives back: {"text": …} or the object
}

type rerankResponse struct {
	ID      string         `json:"id"`
	Model   string         `json:"model"`
	Results []rerankResult `json:"results"`
	Usage   rerankUsage    `json:"usage"`
}

type rerankResult struct {
	Index          int             `json:"index"`
	RelevanceScore float64         `json:"relevance_score"`
	Document       json.RawMessage `json:"document,omitempty"`
}

type rerankUsage struct {
	// SearchUnits: Bedrock bills rerank per query of up to 100 documents.
	SearchUnits int `json:"search_units"`
}

// rerankRequestOf checks a rerank request and builds Bedrock's body.
func rerankRequestOf(m *upstream.Model, req *rerankRequest) (*bedrock.RerankRequest, []rerankDoc, *apiError) {
	if m.Kind != config.KindRerank {
		return nil, nil, invalid("model", "The model '%s' is a %s model, not a rerank model; use one of the gateway's rerank models with /v1/rerank (GET /v1/models lists them).", m.Name, m.Kind)
	}
	if req.Query == nil || strings.TrimSpace(*req.Query) == "" {
		return nil, nil, invalid("query", "'query' is required: the text to rank the documents against.")
	}
	switch n := len(req.Documents); {
	case req.Documents == nil:
		return nil, nil, invalid("documents", "'documents' is required: a list of strings or {\"text\": …} objects.")
	case n == 0:
		return nil, nil, invalid("documents", "'documents' must list at least one document.")
	case n > rerankMaxDocuments:
		return nil, nil, invalid("documents", "'documents' lists %d documents; Bedrock ranks at most %d in one request.", n, rerankMaxDocuments)
	}
	docs := make([]rerankDoc, len(req.Documents))
	texts := make([]string, len(req.Documents))
	for i, raw := range req.Documents {
		d, aerr := rerankDocOf(raw, i)
		if aerr != nil {
			return nil, nil, aerr
		}
		docs[i], texts[i] = d, d.text
	}
	out := &bedrock.RerankRequest{Query: *req.Query, Documents: texts}
	if req.TopN != nil {
		if *req.TopN < 1 {
			return nil, nil, invalid("top_n", "'top_n' must be at least 1 (got %d).", *req.TopN)
		}
		// More than there are documents means all of them, as on Cohere.
		out.TopN = min(*req.TopN, len(texts))
	}
	return out, docs, nil
}

func rerankDocOf(raw json.RawMessage, i int) (rerankDoc, *apiError) {
	param := "documents[" + strconv.Itoa(i) + "]"
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		if strings.TrimSpace(s) == "" {
			return rerankDoc{}, invalid(param, "'%s' is empty; every document needs text.", param)
		}
		echo, _ := json.Marshal(map[string]string{"text": s})
		return rerankDoc{text: s, echo: echo}, nil
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil || obj == nil {
		return rerankDoc{}, invalid(param, "'%s' must be a string or an object (got %s).", param, jsonKind(raw))
	}
	if len(obj) == 0 {
		return rerankDoc{}, invalid(param, "'%s' is an empty object; give it a \"text\" member.", param)
	}
	if t, ok := obj["text"]; ok {
		if err := json.Unmarshal(t, &s); err != nil {
			return rerankDoc{}, invalid(param+".text", "'%s.text' must be a string.", param)
		}
		if strings.TrimSpace(s) == "" {
			return rerankDoc{}, invalid(param+".text", "'%s.text' is empty; every document needs text.", param)
		}
		if len(obj) == 1 {
			return rerankDoc{text: s, echo: raw}, nil
		}
	}
	// Other members count too: the object is ranked as its JSON text.
	compact, _ := json.Marshal(obj)
	return rerankDoc{text: string(compact), echo: raw}, nil
}

func jsonKind(raw json.RawMessage) string {
	switch t := strings.TrimSpace(string(raw)); {
	case t == "null":
		return "null"
	case strings.HasPrefix(t, "["):
		return "an array"
	case t == "true" || t == "false":
		return "a boolean"
	default:
		return "a number"
	}
}

// rerankResponseOf orders Bedrock's results by relevance (ties by index),
// keeps the original indexes, and echoes documents when asked.
func rerankResponseOf(m *upstream.Model, resp *bedrock.RerankResponse, breq *bedrock.RerankRequest, docs []rerankDoc, returnDocs bool) (*rerankResponse, *apiError) {
	results := make([]rerankResult, 0, len(resp.Results))
	for _, r := range resp.Results {
		if r.Index < 0 || r.Index >= len(docs) {
			return nil, &apiError{Status: http.StatusBadGateway, Type: "api_error",
				Msg: "Bedrock returned a result for document " + strconv.Itoa(r.Index) + " of " + strconv.Itoa(len(docs)) + "."}
		}
		res := rerankResult{Index: r.Index, RelevanceScore: r.RelevanceScore}
		if returnDocs {
			res.Document = docs[r.Index].echo
		}
		results = append(results, res)
	}
	sort.SliceStable(results, func(i, j int) bool {
		if results[i].RelevanceScore != results[j].RelevanceScore {
			return results[i].RelevanceScore > results[j].RelevanceScore
		}
		return results[i].Index < results[j].Index
	})
	if breq.TopN > 0 && len(results) > breq.TopN {
		results = results[:breq.TopN]
	}
	id := resp.ID
	if id == "" {
		id = resp.Metadata.RequestID
	}
	return &rerankResponse{ID: id, Model: m.Name, Results: results,
		Usage: rerankUsage{SearchUnits: (len(docs) + 99) / 100}}, nil
}

// rerank serves POST /v1/rerank.
func (h *Handler) rerank(w http.ResponseWriter, r *http.Request) {
	var req rerankRequest
	if aerr := decodeBody(r, &req); aerr != nil {
		writeAPIError(w, r, aerr)
		return
	}
	m, aerr := h.servedModel(r, req.Model)
	if aerr != nil {
		writeAPIError(w, r, aerr)
		return
	}
	breq, docs, aerr := rerankRequestOf(m, &req)
	if aerr != nil {
		writeAPIError(w, r, aerr)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), h.opts.UpstreamTimeout)
	defer cancel()
	resp, err := m.Rerank(ctx, breq, h.queue)
	if err != nil {
		writeFailure(w, r, err)
		return
	}
	entry := accesslog.From(r.Context())
	entry.SetUpstreamRequestID(resp.Metadata.RequestID)
	out, aerr := rerankResponseOf(m, resp, breq, docs, req.ReturnDocuments != nil && *req.ReturnDocuments)
	if aerr != nil {
		writeAPIError(w, r, aerr)
		return
	}
	md := &resp.Metadata
	entry.AddUsage(accesslog.Usage{Input: md.InputTokenCount, Output: md.OutputTokenCount, SearchUnits: out.Usage.SearchUnits})
	writeJSONBody(w, http.StatusOK, out)
}
