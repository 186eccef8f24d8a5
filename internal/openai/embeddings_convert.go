package openai

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/quarry-dev/quarry/bedrock"
	"github.com/quarry-dev/quarry/internal/upstream"
)

// embeddingRequest is the body of POST /v1/embeddings. Besides OpenAI's
// fields it takes the seeds' embedding parameters, so that one request can
// override a model default (a Cohere search_query against a corpus indexed
// as search_document, say).
type embeddingRequest struct {
	Model          string          `json:"model"`
	Input          json.RawMessage `json:"input"`
	Dimensions     *int            `json:"dimensions"`
	EncodingFormat string          `json:"encoding_format"`
	User           string          `json:"user"`

	InputType        string `json:"input_type"`
	Truncate         string `json:"truncate"`
	Normalize        *bool  `json:"normalize"`
	EmbeddingPurpose string `json:"embedding_purpose"`
	TruncationMode   string `json:"truncation_mode"`
}

// cohereBatchSize is the most texts Cohere Embed takes in one call.
const cohereBatchSize = 96

// maxEmbeddingInputs is OpenAI's limit on inputs per request; it also
// bounds how much work one request can queue on a model.
const maxEmbeddingInputs = 2048

// embeddingInputs reads OpenAI's `input`: a string or a list of strings.
// OpenAI also takes token arrays (tiktoken IDs); Bedrock's models embed text
// with their own tokenizers, so those are refused rather than guessed at.
func embeddingInputs(raw json.RawMessage) ([]string, *apiError) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return nil, invalid("input", "'input' is required: a string or a list of strings.")
	}
	switch raw[0] {
	case '"':
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, invalid("input", "'input' is not a valid JSON string.")
		}
		if strings.TrimSpace(s) == "" {
			return nil, invalid("input", "'input' is empty; send text to embed.")
		}
		return []string{s}, nil
	case '[':
		var items []json.RawMessage
		if err := json.Unmarshal(raw, &items); err != nil {
			return nil, invalid("input", "'input' is not a valid JSON array.")
		}
		if len(items) == 0 {
			return nil, invalid("input", "'input' is an empty list; send at least one string.")
		}
		if len(items) > maxEmbeddingInputs {
			return nil, invalid("input", "'input' has %d items; at most %d per request.", len(items), maxEmbeddingInputs)
		}
		out := make([]string, len(items))
		for i, it := range items {
			it = bytes.TrimSpace(it)
			if len(it) == 0 || it[0] != '"' {
				if len(it) > 0 && (it[0] == '[' || (it[0] >= '0' && it[0] <= '9') || it[0] == '-') {
					return nil, invalid("input", "'input' holds token arrays; Bedrock embedding models take text, so send strings.")
				}
				return nil, invalid(fmt.Sprintf("input[%d]", i), "'input[%d]' must be a string.", i)
			}
			if err := json.Unmarshal(it, &out[i]); err != nil {
				return nil, invalid(fmt.Sprintf("input[%d]", i), "'input[%d]' is not a valid JSON string.", i)
			}
			if strings.TrimSpace(out[i]) == "" {
				return nil, invalid(fmt.Sprintf("input[%d]", i), "'input[%d]' is empty; every input must have text to embed.", i)
			}
		}
		return out, nil
	default:
		if (raw[0] >= '0' && raw[0] <= '9') || raw[0] == '-' {
			return nil, invalid("input", "'input' is a token array; Bedrock embedding models take text, so send a string or a list of strings.")
		}
		return nil, invalid("input", "'input' must be a string or a list of strings.")
	}
}

// embedVariant is the request shape and dimension rule of one embedding
// model line; several share a family's body type.
type embedVariant struct {
	name string
	dims []int // accepted `dimensions`; one value means fixed
	// sendDims: the model takes a dimension parameter (false: the value is
	// only checked, e.g. Titan v1 is always 1536).
	sendDims bool
}

// embedVariantOf tells the dimension rules of a model by its ID.
func embedVariantOf(m *upstream.Model) embedVariant {
	id := strings.ToLower(m.ModelID)
	switch m.Family {
	case bedrock.FamilyTitanEmbed:
		switch {
		case strings.Contains(id, "titan-embed-text-v2"):
			return embedVariant{"Titan Text Embeddings v2", []int{256, 512, 1024}, true}
		case strings.Contains(id, "titan-embed-image"):
			return embedVariant{"Titan Multimodal Embeddings", []int{256, 384, 1024}, true}
		default: // titan-embed-text-v1, titan-embed-g1-text
			return embedVariant{"Titan Text Embeddings v1", []int{1536}, false}
		}
	case bedrock.FamilyCohereEmbed:
		if strings.Contains(id, "embed-v4") {
			return embedVariant{"Cohere Embed v4", []int{256, 512, 1024, 1536}, true}
		}
		return embedVariant{"Cohere Embed v3", []int{1024}, false}
	case bedrock.FamilyNovaEmbed:
		return embedVariant{"Nova Multimodal Embeddings", []int{256, 384, 1024, 3072}, true}
	}
	return embedVariant{}
}

// embedCall is one Bedrock call of an embeddings request: exactly one of the
// bodies is set. First is the index of its first input, so results land in
// input order whatever order the calls finish in.
type embedCall struct {
	First  int
	Count  int
	Titan  *bedrock.TitanEmbedRequest  `json:",omitempty"`
	Cohere *bedrock.CohereEmbedRequest `json:",omitempty"`
	Nova   *bedrock.NovaEmbedRequest   `json:",omitempty"`
}

// embedPlan is what an embeddings request turns into.
type embedPlan struct {
	Base64 bool
	Calls  []embedCall
}

func oneOf(v string, allowed ...string) bool {
	for _, a := range allowed {
		if v == a {
			return true
		}
	}
	return false
}

// planEmbeddings checks an embeddings request against the model and turns
// it into Bedrock calls: Cohere in batches of 96 texts, Titan and Nova one
// call per input. Request values win over the model's params.
func planEmbeddings(m *upstream.Model, req *embeddingRequest) (*embedPlan, *apiError) {
	if !m.Family.IsEmbedding() {
		return nil, notEmbeddingModel(m)
	}
	inputs, aerr := embeddingInputs(req.Input)
	if aerr != nil {
		return nil, aerr
	}
	plan := &embedPlan{}
	switch req.EncodingFormat {
	case "", "float":
	case "base64":
		plan.Base64 = true
	default:
		return nil, invalid("encoding_format", "'encoding_format' must be 'float' or 'base64' (got %q).", req.EncodingFormat)
	}

	v := embedVariantOf(m)
	dims := m.Embedding.Dimensions
	if req.Dimensions != nil {
		dims = *req.Dimensions
		if !containsDim(v.dims, dims) {
			return nil, invalid("dimensions", "'dimensions' %d is not supported by %s (%s); it accepts %s.", dims, m.Name, v.name, dimList(v.dims))
		}
	}
	if !v.sendDims {
		dims = 0
	}

	p := m.Embedding
	if req.Normalize != nil {
		p.Normalize = req.Normalize
	}
	if req.InputType != "" {
		p.InputType = req.InputType
	}
	if req.Truncate != "" {
		p.Truncate = req.Truncate
	}
	if req.EmbeddingPurpose != "" {
		p.EmbeddingPurpose = req.EmbeddingPurpose
	}
	if req.TruncationMode != "" {
		p.TruncationMode = req.TruncationMode
	}

	switch m.Family {
	case bedrock.FamilyCohereEmbed:
		if req.Normalize != nil || req.EmbeddingPurpose != "" || req.TruncationMode != "" {
			return nil, invalid(firstSet(map[string]bool{"normalize": req.Normalize != nil, "embedding_purpose": req.EmbeddingPurpose != "",
				"truncation_mode": req.TruncationMode != ""}), "This parameter does not apply to Cohere embedding models.")
		}
		if p.InputType == "" {
			p.InputType = bedrock.CohereSearchDocument
		}
		if !oneOf(p.InputType, bedrock.CohereSearchDocument, bedrock.CohereSearchQuery, bedrock.CohereClassification, bedrock.CohereClustering) {
			return nil, invalid("input_type", "'input_type' must be search_document, search_query, classification or clustering (got %q).", p.InputType)
		}
		truncs := []string{"NONE", "START", "END"}
		if v.sendDims { // v4 names the ends differently
			truncs = []string{"NONE", "LEFT", "RIGHT"}
		}
		if p.Truncate != "" && !oneOf(p.Truncate, truncs...) {
			return nil, invalid("truncate", "'truncate' must be one of %s for %s (got %q).", strings.Join(truncs, ", "), v.name, p.Truncate)
		}
		for first := 0; first < len(inputs); first += cohereBatchSize {
			end := min(first+cohereBatchSize, len(inputs))
			plan.Calls = append(plan.Calls, embedCall{First: first, Count: end - first, Cohere: &bedrock.CohereEmbedRequest{
				Texts: inputs[first:end], InputType: p.InputType, Truncate: p.Truncate, OutputDimension: dims,
			}})
		}
	case bedrock.FamilyTitanEmbed:
		if req.InputType != "" || req.Truncate != "" || req.EmbeddingPurpose != "" || req.TruncationMode != "" {
			return nil, invalid(firstSet(map[string]bool{"input_type": req.InputType != "", "truncate": req.Truncate != "",
				"embedding_purpose": req.EmbeddingPurpose != "", "truncation_mode": req.TruncationMode != ""}),
				"This parameter does not apply to Titan embedding models.")
		}
		v2 := strings.Contains(strings.ToLower(m.ModelID), "titan-embed-text-v2")
		if req.Normalize != nil && !v2 {
			return nil, invalid("normalize", "'normalize' applies to Titan Text Embeddings v2 only.")
		}
		for i, text := range inputs {
			tr := &bedrock.TitanEmbedRequest{InputText: text}
			switch {
			case v2:
				tr.Dimensions, tr.Normalize = dims, p.Normalize
			case dims > 0: // multimodal: the length goes in embeddingConfig
				tr.EmbeddingConfig = &bedrock.TitanEmbeddingConfig{OutputEmbeddingLength: dims}
			}
			plan.Calls = append(plan.Calls, embedCall{First: i, Count: 1, Titan: tr})
		}
	case bedrock.FamilyNovaEmbed:
		if req.InputType != "" || req.Truncate != "" || req.Normalize != nil {
			return nil, invalid(firstSet(map[string]bool{"input_type": req.InputType != "", "truncate": req.Truncate != "",
				"normalize": req.Normalize != nil}), "This parameter does not apply to Nova embedding models.")
		}
		if p.EmbeddingPurpose == "" {
			p.EmbeddingPurpose = "GENERIC_INDEX"
		}
		if !oneOf(p.EmbeddingPurpose, "GENERIC_INDEX", "GENERIC_RETRIEVAL", "TEXT_RETRIEVAL", "IMAGE_RETRIEVAL",
			"VIDEO_RETRIEVAL", "DOCUMENT_RETRIEVAL", "AUDIO_RETRIEVAL", "CLASSIFICATION", "CLUSTERING") {
			return nil, invalid("embedding_purpose", "'embedding_purpose' %q is not a Nova embedding purpose (e.g. GENERIC_INDEX, GENERIC_RETRIEVAL, TEXT_RETRIEVAL, CLASSIFICATION, CLUSTERING).", p.EmbeddingPurpose)
		}
		if p.TruncationMode == "" {
			p.TruncationMode = "END"
		}
		if !oneOf(p.TruncationMode, "START", "END", "NONE") {
			return nil, invalid("truncation_mode", "'truncation_mode' must be START, END or NONE (got %q).", p.TruncationMode)
		}
		for i, text := range inputs {
			nr := bedrock.NovaTextEmbedRequest(text, p.EmbeddingPurpose, dims)
			nr.SingleEmbeddingParams.Text.TruncationMode = p.TruncationMode
			plan.Calls = append(plan.Calls, embedCall{First: i, Count: 1, Nova: nr})
		}
	}
	return plan, nil
}

// firstSet names the first set parameter, in a fixed order.
func firstSet(set map[string]bool) string {
	for _, k := range []string{"input_type", "truncate", "normalize", "embedding_purpose", "truncation_mode"} {
		if set[k] {
			return k
		}
	}
	return ""
}

func containsDim(l []int, v int) bool {
	for _, x := range l {
		if x == v {
			return true
		}
	}
	return false
}

func dimList(l []int) string {
	s := make([]string, len(l))
	for i, v := range l {
		s[i] = fmt.Sprint(v)
	}
	if len(s) == 1 {
		return "only " + s[0]
	}
	return strings.Join(s[:len(s)-1], ", ") + " or " + s[len(s)-1]
}

// notEmbeddingModel is the 400 for a chat or image model sent to
// /v1/embeddings.
func notEmbeddingModel(m *upstream.Model) *apiError {
	return invalid("model", "The model '%s' %s, not an embedding model; use one of the gateway's embedding models with /v1/embeddings (GET /v1/models lists them).", m.Name, isWhat(m))
}

// isWhat says what kind of model m is, for the wrong-endpoint messages:
// from its Bedrock family when known ("is a chat model"), which start-up
// has already checked against its configured kind, else from that kind.
func isWhat(m *upstream.Model) string {
	switch {
	case m.Family.IsEmbedding():
		return "is an embedding model"
	case m.Family.IsImage():
		return "is an image generation model"
	case m.Family != bedrock.FamilyUnknown:
		return "is a chat model"
	}
	return "(" + m.ModelID + ") is of a Bedrock model family the gateway does not know"
}

// embedResult is the outcome of one call: a vector per input and the input
// tokens it used.
type embedResult struct {
	Vectors   [][]float64
	Tokens    int
	RequestID string
}

// embedResultOf reads a call's response, checking that it holds one vector
// per input (a short answer would silently shift every later index).
func embedResultOf(call embedCall, titan *bedrock.TitanEmbedResponse, cohere *bedrock.CohereEmbedResponse, nova *bedrock.NovaEmbedResponse) (embedResult, error) {
	var r embedResult
	switch {
	case titan != nil:
		r.Vectors = [][]float64{titan.Embedding}
		r.Tokens, r.RequestID = titan.InputTextTokenCount, titan.RequestID
		if r.Tokens == 0 {
			r.Tokens = titan.InputTokenCount
		}
	case cohere != nil:
		r.Vectors = cohere.Embeddings.Float
		r.Tokens, r.RequestID = cohere.InputTokenCount, cohere.RequestID
	case nova != nil:
		for _, e := range nova.Embeddings {
			if e.EmbeddingType == "" || e.EmbeddingType == "TEXT" {
				r.Vectors = append(r.Vectors, e.Embedding)
				break
			}
		}
		r.RequestID = nova.RequestID
		if nova.InputTokenCount != nil {
			r.Tokens = *nova.InputTokenCount
		} else {
			r.Tokens = nova.InvokeMetadata.InputTokenCount
		}
	}
	if len(r.Vectors) != call.Count {
		//lint:ignore ST1005 the message reaches clients as is, and Bedrock is a name
		return r, fmt.Errorf("Bedrock returned %d embeddings for %d inputs", len(r.Vectors), call.Count)
	}
	for _, v := range r.Vectors {
		if len(v) == 0 {
			//lint:ignore ST1005 the message reaches clients as is, and Bedrock is a name
			return r, errors.New("Bedrock returned an empty embedding")
		}
	}
	return r, nil
}

// embeddingResponse is OpenAI's embeddings response.
type embeddingResponse struct {
	Object string          `json:"object"`
	Data   []embeddingData `json:"data"`
	Model  string          `json:"model"`
	Usage  embeddingUsage  `json:"usage"`
}

type embeddingData struct {
	Object string `json:"object"`
	Index  int    `json:"index"`
	// Embedding is []float32 (float) or a string (base64). Bedrock's models
	// compute float32 vectors, as OpenAI's do; float32 keeps the JSON short
	// and makes the float and base64 forms carry identical values.
	Embedding any `json:"embedding"`
}

type embeddingUsage struct {
	PromptTokens int `json:"prompt_tokens"`
	TotalTokens  int `json:"total_tokens"`
}

// embeddingResponseOf assembles the response from the vectors in input
// order.
func embeddingResponseOf(model string, vectors [][]float64, tokens int, b64 bool) *embeddingResponse {
	resp := &embeddingResponse{Object: "list", Model: model, Data: make([]embeddingData, len(vectors)),
		Usage: embeddingUsage{PromptTokens: tokens, TotalTokens: tokens}}
	for i, v := range vectors {
		d := embeddingData{Object: "embedding", Index: i}
		if b64 {
			d.Embedding = encodeEmbeddingBase64(v)
		} else {
			f := make([]float32, len(v))
			for j, x := range v {
				f[j] = float32(x)
			}
			d.Embedding = f
		}
		resp.Data[i] = d
	}
	return resp
}

// encodeEmbeddingBase64 is OpenAI's base64 form: the vector as little-endian
// float32 bytes, standard base64 (what the SDKs decode with
// Float32Array/numpy frombuffer).
func encodeEmbeddingBase64(v []float64) string {
	buf := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(buf[4*i:], math.Float32bits(float32(x)))
	}
	return base64.StdEncoding.EncodeToString(buf)
}
